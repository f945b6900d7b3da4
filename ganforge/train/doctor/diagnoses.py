"""RUN/diagnoses.jsonl: the doctor's diagnoses, one JSON object a line ({"step", "code", "message", "evidence"})."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..logger import read_jsonl

DIAGNOSES = "diagnoses.jsonl"


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
    record = {"step": step, "code": code, "message": message, "evidence": _plain(evidence)}
    with open(Path(run_dir) / DIAGNOSES, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_diagnoses(run_dir: str | Path) -> list[dict]:
    """The diagnoses of the run in `run_dir`, oldest first ([] when it has none)."""
    return read_jsonl(Path(run_dir) / DIAGNOSES)
