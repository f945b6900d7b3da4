"""Metrics to RUN/metrics.jsonl (one JSON object a line) and, when available, TensorBoard."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from ..errors import GanforgeError


class MetricsLog:
    def __init__(self, run_dir: Path, tensorboard: bool, resumed_at: int | None = None):
        """`resumed_at`: the checkpoint's step a resumed run continues from. The crashed session may have logged
        steps after it; TensorBoard is told to hide those (purge_step), as cut_log drops them from the .jsonl."""
        self.path = Path(run_dir) / "metrics.jsonl"
        self.file = open(self.path, "a", buffering=1)
        self.tb = None
        if tensorboard:
            try:  # imported lazily: tensorboard is slow to import and optional, so only runs that log to it pay
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(Path(run_dir) / "tensorboard"),
                                        purge_step=None if resumed_at is None else resumed_at + 1)
            except ImportError as e:  # the tensorboard package is optional at run time
                warnings.warn(f"TensorBoard logging disabled: {e}")

    def write(self, step: int, values: dict[str, float]) -> None:
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


def read_jsonl(path: Path) -> list[dict]:
    """The records of a .jsonl log; a last line cut short by a crash is skipped, a bad line elsewhere is not."""
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i < len(lines) - 1:
                raise GanforgeError(f"{path}: line {i + 1} is not JSON ({e})") from None
    return rows


def read_metrics(run_dir: Path) -> list[dict]:
    return read_jsonl(Path(run_dir) / "metrics.jsonl")


def cut_log(path: Path, step: int) -> int:
    """Drop the records after `step` from a .jsonl log (a resumed run repeats those steps); atomic. Returns how
    many were dropped."""
    rows = read_jsonl(path)
    kept = [r for r in rows if r.get("step", 0) <= step]
    if len(kept) != len(rows) or (path.is_file() and not path.read_text().endswith("\n")):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(tmp, path)
    return len(rows) - len(kept)
