"""RUN/diagnoses.jsonl: the doctor's diagnoses, one JSON object a line ({"step", "code", "message", "evidence"}).
The file's name and its reader and writer are the run folder's (ganforge.rundir); this module words a record."""
from __future__ import annotations

import math
from pathlib import Path

from ...rundir import DIAGNOSES, RunDir, read_diagnoses  # noqa: F401  (DIAGNOSES, read_diagnoses: public here too)


def _plain(value):
    """JSON without NaN/Inf (they become strings), for RUN/diagnoses.jsonl."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def append_diagnosis(run_dir: str | Path, step: int, code: str, message: str, evidence: dict) -> None:
    """Add one diagnosis to RUN/diagnoses.jsonl (non-finite numbers in `evidence` written as strings)."""
    RunDir(run_dir).append_diagnosis({"step": step, "code": code, "message": message, "evidence": _plain(evidence)})
