"""Metrics to RUN/metrics.jsonl (one JSON object a line) and, when available, TensorBoard."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..rundir import RunDir


class MetricsLog:
    def __init__(self, run_dir: Path, tensorboard: bool, resumed_at: int | None = None, enabled: bool = True):
        """`resumed_at`: the checkpoint's step a resumed run continues from. The crashed session may have logged
        steps after it; TensorBoard is told to hide those (purge_step), as cut_log drops them from the .jsonl.
        `enabled` False (a rank other than 0 of several processes): writes nothing anywhere."""
        layout = RunDir(run_dir)
        self.path = layout.metrics
        self.file = open(self.path, "a", buffering=1) if enabled else None
        self.tb = None
        if tensorboard and enabled:
            try:  # imported lazily: tensorboard is slow to import and optional, so only runs that log to it pay
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(layout.tensorboard),
                                        purge_step=None if resumed_at is None else resumed_at + 1)
            except ImportError as e:  # the tensorboard package is optional at run time
                warnings.warn(f"TensorBoard logging disabled: {e}")

    def write(self, step: int, values: dict[str, float]) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.tb is not None:
            self.tb.close()
