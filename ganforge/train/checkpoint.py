"""Checkpoints: network weights in safetensors, optimiser/RNG/step state beside them in a weights-only torch file.

Layout: RUN/checkpoints/step_00001000/{weights.safetensors, state.pt}; RUN/checkpoints/latest names the newest.
A checkpoint is written into a temporary folder and renamed into place, then `latest` is replaced atomically,
so a crash mid-write leaves the previous checkpoint and pointer as they were. Loading never unpickles objects.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import GanforgeError

WEIGHTS, STATE, LATEST = "weights.safetensors", "state.pt", "latest"


def flatten_state(modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    # contiguous clones: safetensors refuses views and tensors that share storage
    return {f"{name}/{k}": v.detach().cpu().contiguous().clone()
            for name, m in modules.items() for k, v in m.state_dict().items()}


def save_checkpoint(run_dir: Path, step: int, modules: dict[str, torch.nn.Module], state: dict, keep: int) -> Path:
    ckpt_root = Path(run_dir) / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"step_{step:08d}"
    tmp = ckpt_root / f".tmp_step_{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(flatten_state(modules), str(tmp / WEIGHTS), metadata={"step": str(step)})
    torch.save(state, tmp / STATE)
    for f in (WEIGHTS, STATE):  # data on disk before the rename makes it visible
        with open(tmp / f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer = ckpt_root / (LATEST + ".tmp")
    pointer.write_text(final.name + "\n")
    os.replace(pointer, ckpt_root / LATEST)
    _prune(ckpt_root, keep, final.name)
    return final


def _prune(ckpt_root: Path, keep: int, newest: str) -> None:
    done = sorted(p for p in ckpt_root.glob("step_*") if p.is_dir())
    for old in done[:-keep] if keep > 0 else []:
        if old.name != newest:
            shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(run_dir: str | Path) -> Path:
    ckpt_root = Path(run_dir) / "checkpoints"
    pointer = ckpt_root / LATEST
    if pointer.is_file():
        path = ckpt_root / pointer.read_text().strip()
        if (path / WEIGHTS).is_file() and (path / STATE).is_file():
            return path
    # pointer missing or stale: fall back to the newest complete folder
    done = sorted(p for p in ckpt_root.glob("step_*") if (p / WEIGHTS).is_file() and (p / STATE).is_file())
    if not done:
        raise GanforgeError(f"no checkpoint found in {ckpt_root}")
    return done[-1]


def step_checkpoint(run_dir: str | Path, step: int) -> Path:
    """The complete checkpoint of `step`; the error lists the steps still kept."""
    ckpt_root = Path(run_dir) / "checkpoints"
    path = ckpt_root / f"step_{step:08d}"
    if (path / WEIGHTS).is_file() and (path / STATE).is_file():
        return path
    kept = sorted(int(p.name[5:]) for p in ckpt_root.glob("step_*") if (p / WEIGHTS).is_file() and (p / STATE).is_file())
    raise GanforgeError(f"{ckpt_root}: no checkpoint of step {step}; kept: {', '.join(map(str, kept)) or 'none'} "
                        "(checkpoint.every and checkpoint.keep decide which are kept)")


def load_weights(ckpt: Path, modules: dict[str, torch.nn.Module]) -> None:
    try:
        flat = load_file(str(ckpt / WEIGHTS))
    except Exception as e:  # safetensors raises its own error types for truncated or foreign files
        raise GanforgeError(f"{ckpt / WEIGHTS}: cannot read weights ({e})") from None
    for name, m in modules.items():
        prefix = name + "/"
        sd = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        if not sd:
            raise GanforgeError(f"{ckpt / WEIGHTS}: no weights for network '{name}'")
        try:
            m.load_state_dict(sd)
        except RuntimeError as e:
            raise GanforgeError(f"{ckpt / WEIGHTS}: weights of '{name}' do not fit its architecture: {e}") from None


def load_state(ckpt: Path) -> dict:
    try:
        return torch.load(ckpt / STATE, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GanforgeError(f"{ckpt / STATE}: cannot read training state ({e})") from None
