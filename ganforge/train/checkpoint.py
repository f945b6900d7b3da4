"""Checkpoints: network weights in safetensors, optimiser/RNG/step state beside them in a weights-only torch file.

Layout (ganforge.rundir): RUN/checkpoints/step_00001000/{weights.safetensors, state.pt}; RUN/checkpoints/latest
names the newest. A checkpoint is written into a temporary folder and renamed into place, then `latest` is replaced
atomically, so a crash mid-write leaves the previous checkpoint and pointer as they were. Loading never unpickles
objects.
"""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import GanforgeError
from ..fileio import atomic_write
from ..rundir import LATEST, STATE, STEP_PREFIX, WEIGHTS, RunDir, step_name

TMP_PREFIX, BROKEN_PREFIX = ".tmp_", "broken_"
OLD_POINTER_TMP = LATEST + ".tmp"  # what an interrupted pointer update left before fileio.atomic_write named it


class CheckpointWriteError(GanforgeError, OSError):
    """A checkpoint that could not be written (full disk, read-only folder): a user error of one line naming the
    folder, and still the OSError it was to callers that catch those."""


def non_finite(tensors: dict[str, torch.Tensor]) -> dict[str, int]:
    """{name: count} of the floating-point tensors holding NaN or ±inf (parameters, buffers, optimiser moments)."""
    bad = {}
    for name, t in tensors.items():
        if torch.is_tensor(t) and t.is_floating_point():
            count = int((~torch.isfinite(t)).sum())
            if count:
                bad[name] = count
    return bad


def state_tensors(state: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor of a nested training state (optimiser moments, RNG states…), keyed by its path."""
    out = {}
    for k, v in state.items() if isinstance(state, dict) else enumerate(state):
        key = f"{prefix}{k}"
        if torch.is_tensor(v):
            out[key] = v
        elif isinstance(v, (dict, list, tuple)):
            out |= state_tensors(v, key + "/")
    return out


def describe_non_finite(bad: dict[str, int], limit: int = 3) -> str:
    shown = ", ".join(f"{k} ({n} values)" for k, n in list(bad.items())[:limit])
    return shown + (f" and {len(bad) - limit} more tensors" if len(bad) > limit else "")


def flatten_state(modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    # contiguous clones: safetensors refuses views and tensors that share storage
    return {f"{name}/{k}": v.detach().cpu().contiguous().clone()
            for name, m in modules.items() for k, v in m.state_dict().items()}


def save_checkpoint(run_dir: Path, step: int, modules: dict[str, torch.nn.Module], state: dict, keep: int) -> Path:
    """Write the checkpoint of `step` (weights and state) aside, then rename it into place and point `latest` at it.
    A write that fails (a full disk, a folder made read-only) is a GanforgeError naming the path; what was written
    aside goes, and the checkpoints before it, and `latest`, stay as they were."""
    ckpt_root = RunDir(run_dir).checkpoints
    final = ckpt_root / step_name(step)
    tmp = ckpt_root / f"{TMP_PREFIX}{step_name(step)}"
    try:
        _write_aside(tmp, modules, state, step)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _point_latest_to(final)
    except (OSError, SafetensorError, RuntimeError) as e:  # torch.save reports a failed write as a RuntimeError
        shutil.rmtree(tmp, ignore_errors=True)
        kept = _complete(ckpt_root)
        then = (f"the last good checkpoint {kept[-1]} is intact" if kept else "no checkpoint was written before it")
        raise CheckpointWriteError(f"cannot write the checkpoint of step {step} to {tmp.parent} "
                            f"({getattr(e, 'strerror', None) or _first_line(e)}); {then}: free space or fix the "
                            f"folder, then `ganforge train --resume {run_dir}`") from None
    _prune(ckpt_root, keep, final.name)
    return final


def _write_aside(tmp: Path, modules: dict[str, torch.nn.Module], state: dict, step: int) -> None:
    """The checkpoint's files in the temporary folder `tmp`, synced to disk (before the rename makes them visible)."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(flatten_state(modules), str(tmp / WEIGHTS), metadata={"step": str(step)})
    torch.save(state, tmp / STATE)
    for f in (WEIGHTS, STATE):
        with open(tmp / f, "rb") as fh:
            os.fsync(fh.fileno())


def _point_latest_to(ckpt: Path) -> None:
    atomic_write(ckpt.parent / LATEST, ckpt.name + "\n")


def _prune(ckpt_root: Path, keep: int, newest: str) -> None:
    done = sorted(p for p in ckpt_root.glob(STEP_PREFIX + "*") if p.is_dir())
    for old in done[:-keep] if keep > 0 else []:
        if old.name != newest:
            shutil.rmtree(old, ignore_errors=True)


def remove_stale_temporaries(run_dir: str | Path) -> list[str]:
    """Delete what a crash mid-save leaves behind (a half-written checkpoint folder, a pointer not yet renamed);
    they are never read, so removing them loses nothing. Returns their names."""
    ckpt_root = RunDir(run_dir).checkpoints
    pointers = [ckpt_root / OLD_POINTER_TMP] + sorted(ckpt_root.glob(f".{LATEST}.*.tmp"))  # fileio.atomic_path's name
    stale = sorted(ckpt_root.glob(TMP_PREFIX + STEP_PREFIX + "*")) + [p for p in pointers if p.exists()]
    for p in stale:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return [p.name for p in stale]


def _complete(ckpt_root: Path) -> list[Path]:
    return sorted(p for p in ckpt_root.glob(STEP_PREFIX + "*") if (p / WEIGHTS).is_file() and (p / STATE).is_file())


def problem(ckpt: Path) -> str | None:
    """Why checkpoint `ckpt` cannot be resumed from (unreadable, truncated, holds NaN/Inf), or None if it can."""
    try:
        bad = non_finite(_read_weights(ckpt)) | non_finite(state_tensors(load_state(ckpt)))
    except GanforgeError as e:
        return str(e)
    return f"it holds non-finite values in {describe_non_finite(bad)}" if bad else None


def checkpoint_for_resume(run_dir: str | Path, use_intact: bool = False) -> tuple[Path, str | None]:
    """The checkpoint a resume starts from, and a note when it is not the newest.

    The newest checkpoint is checked before anything else happens. If it cannot be used, the error names the newest
    one that can; with `use_intact` the run continues from that one instead, and the unusable folders are renamed
    `broken_step_*` (kept for inspection, never read again)."""
    layout = RunDir(run_dir)
    ckpt_root = layout.checkpoints
    if not _complete(ckpt_root):
        raise GanforgeError(f"cannot resume {run_dir}: it has no checkpoint yet (the run stopped before its first "
                            f"one); start it again: ganforge train {layout.config} --out {run_dir}")
    newest = latest_checkpoint(run_dir)
    why = problem(newest)
    if why is None:
        return newest, None
    older = [p for p in reversed(_complete(ckpt_root)) if p.name < newest.name]
    intact = next((p for p in older if problem(p) is None), None)
    if intact is None:
        raise GanforgeError(f"cannot resume {run_dir}: the newest checkpoint {newest.name} is unusable ({why}) and "
                            f"no older intact checkpoint is left; start a new run")
    if not use_intact:
        raise GanforgeError(f"cannot resume {run_dir}: the newest checkpoint {newest.name} is unusable ({why}); the "
                            f"newest intact one is {intact.name}: add --use-intact-checkpoint to continue from it")
    for p in _complete(ckpt_root):
        if p.name > intact.name:
            os.replace(p, p.with_name(BROKEN_PREFIX + p.name))
    _point_latest_to(intact)
    return intact, f"the newest checkpoint {newest.name} is unusable ({why}); continuing from {intact.name}"


def newest_finite(run_dir: str | Path) -> Path | None:
    """The newest checkpoint that reads back whole with every tensor finite; None when there is none."""
    return next((p for p in reversed(_complete(RunDir(run_dir).checkpoints)) if problem(p) is None), None)


def latest_checkpoint(run_dir: str | Path) -> Path:
    ckpt_root = RunDir(run_dir).checkpoints
    pointer = ckpt_root / LATEST
    if pointer.is_file():
        path = ckpt_root / pointer.read_text().strip()
        if (path / WEIGHTS).is_file() and (path / STATE).is_file():
            return path
    # pointer missing or stale: fall back to the newest complete folder
    done = _complete(ckpt_root)
    if not done:
        raise GanforgeError(f"no checkpoint found in {ckpt_root}")
    return done[-1]


def step_checkpoint(run_dir: str | Path, step: int) -> Path:
    """The complete checkpoint of `step`; the error lists the steps still kept."""
    ckpt_root = RunDir(run_dir).checkpoints
    path = ckpt_root / step_name(step)
    if (path / WEIGHTS).is_file() and (path / STATE).is_file():
        return path
    kept = sorted(int(p.name[len(STEP_PREFIX):]) for p in _complete(ckpt_root))
    raise GanforgeError(f"{ckpt_root}: no checkpoint of step {step}; kept: {', '.join(map(str, kept)) or 'none'} "
                        "(checkpoint.every and checkpoint.keep decide which are kept)")


def _read_weights(ckpt: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(ckpt / WEIGHTS))
    except Exception as e:  # safetensors raises its own error types for truncated or foreign files
        raise GanforgeError(f"{ckpt / WEIGHTS}: cannot read weights ({_first_line(e)})") from None


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def read_weights(ckpt: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's weights, flat ("G/net.0.weight" → tensor), as `apply_weights` takes them."""
    return _read_weights(ckpt)


def load_weights(ckpt: Path, modules: dict[str, torch.nn.Module]) -> None:
    apply_weights(_read_weights(ckpt), modules, str(ckpt / WEIGHTS))


def apply_weights(flat: dict[str, torch.Tensor], modules: dict[str, torch.nn.Module], where: str) -> None:
    """Load flat checkpoint weights (read from `where`, named in errors) into their networks."""
    for name, m in modules.items():
        prefix = name + "/"
        sd = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        if not sd:
            raise GanforgeError(f"{where}: no weights for network '{name}'")
        try:
            m.load_state_dict(sd)
        except RuntimeError as e:
            raise GanforgeError(f"{where}: weights of '{name}' do not fit its architecture: {e}") from None


def load_state(ckpt: Path) -> dict:
    state = safe_torch_load(ckpt / STATE, "training state")
    if not isinstance(state, dict) or "step" not in state:
        raise GanforgeError(f"{ckpt / STATE}: not a ganforge training state (no step recorded)")
    return state


def safe_torch_load(path: Path, what: str):
    """torch.load with weights_only=True; a file that would need unpickling is refused in our words, not torch's
    (whose advice to pass weights_only=False would run the file's code)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise GanforgeError(f"{path}: not a ganforge {what}: it holds Python objects that only unpickling could "
                            "read, and ganforge never unpickles files") from None
    except FileNotFoundError:
        raise GanforgeError(f"{path}: {what} file not found") from None
    except Exception as e:  # truncated zip, wrong format, …
        raise GanforgeError(f"{path}: cannot read {what} ({_first_line(e)})") from None
