"""Real torchrun launches for the tests of several processes (gloo on this CPU): a tiny config written to YAML,
`python -m torch.distributed.run … -m ganforge train …` in a subprocess, and readers of what the ranks recorded."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from ganforge.train import checkpoint
from ganforge.train.distributed import flat_digest

ROOT = Path(__file__).resolve().parents[2]  # the repository


def checkout(commit: str, where: Path) -> Path | None:
    """This repository's files at `commit` (git archive, extracted into `where`); None without that history."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True)
    if archive.returncode != 0:
        return None
    where.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return where


# Config keys added since the commits the bit-identity tests compare against, with their defaults: a run of this
# checkout writes them into config.yaml, and that older code refuses keys it does not know.
KEYS_ADDED_SINCE = {"train": {"budget_clock": "wall"}}


def copy_for_older_code(run_dir: Path, where: Path) -> Path:
    """A copy of a run whose config.yaml the code of an older commit reads (and this code alike): without the keys
    added since, each checked to hold its default (else the older code would not do what this run did)."""
    shutil.copytree(run_dir, where)
    raw = yaml.safe_load((where / "config.yaml").read_text())
    for section, keys in KEYS_ADDED_SINCE.items():
        for key, default in keys.items():
            assert raw[section].pop(key, default) == default, (section, key)
    write_config(where / "config.yaml", raw)
    return where


def write_config(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def environment(**extra: str) -> dict[str, str]:
    """This checkout's ganforge on one thread per process (2 processes share the 2 cores of CI)."""
    return os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"} | extra


def torchrun_command(train_args: list[str], nproc: int = 2, launcher: tuple[str, ...] = ("--standalone",),
                     script: str | None = None) -> list[str]:
    target = [script] if script else ["-m", "ganforge", "train"]
    return [sys.executable, "-m", "torch.distributed.run", *launcher, "--nproc-per-node", str(nproc), *target,
            *train_args]


def torchrun(train_args: list[str], nproc: int = 2, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc-per-node N -m ganforge train ARGS`, finished; output captured."""
    return subprocess.run(torchrun_command(train_args, nproc, **kw), capture_output=True, text=True,
                          timeout=timeout, env=environment(), cwd=ROOT)


def check_ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def state(run_dir: Path, step: int | None = None) -> dict:
    ckpt = checkpoint.latest_checkpoint(run_dir) if step is None else checkpoint.step_checkpoint(run_dir, step)
    return checkpoint.load_state(ckpt)


def file_digest(run_dir: Path, step: int | None = None) -> str:
    """The digest of a checkpoint's weights file, as each rank computes it of the weights it holds."""
    ckpt = checkpoint.latest_checkpoint(run_dir) if step is None else checkpoint.step_checkpoint(run_dir, step)
    return flat_digest(checkpoint.read_weights(ckpt))


def rank_rngs(run_dir: Path) -> list[torch.Tensor]:
    return [each["rng"] for each in state(run_dir)["ranks"]["each"]]
