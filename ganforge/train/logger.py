"""Metrics to RUN/metrics.jsonl (one JSON object a line) and, when available, TensorBoard."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..rundir import RunDir


class MetricsLog:
    def __init__(self, run_dir: Path, tensorboard: bool, resumed_at: int | None = None):
        """`resumed_at`: the checkpoint's step a resumed run continues from. The crashed session may have logged
        steps after it; TensorBoard is told to hide those (purge_step), as cut_log drops them from the .jsonl."""
        layout = RunDir(run_dir)
        self.path = layout.metrics
        self.file = open(self.path, "a", buffering=1)
        self.tb = None
        if tensorboard:
            try:  # imported lazily: tensorboard is slow to import and optional, so only runs that log to it pay
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(layout.tensorboard),
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
