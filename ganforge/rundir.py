"""A run folder's layout and its readers and writers: the one module that knows which file a run keeps where.

    RUN/
      config.yaml                 the validated config the run follows (rewritten when it is resumed)
      run.json                    what it trained on (kind, shape, classes, fields) and with which versions
      metrics.jsonl               a JSON object per logging window or evaluation: {"step": 50, "loss/G": …}
      diagnoses.jsonl             the doctor's findings: {"step", "code", "message", "evidence"}
      samples/step_00000500.png   the sample grid of a step
      tensorboard/                TensorBoard events (log.tensorboard)
      checkpoints/step_00001000/  weights.safetensors and state.pt (ganforge.train.checkpoint writes and reads them)
      checkpoints/latest          names the newest checkpoint folder
      checkpoints/best/           weights.safetensors and best.json: the lowest FID that `eval.every` saw
      eval.json, eval.md          the last evaluation (ganforge.scoring.write_report)
      report.html                 the run's page, written when training ends (ganforge.report)
      .lock                       held (flock) by the training writing the folder; holds its pid

`RunDir(path)` gives each path and reads or writes each file; the module-level functions are the same readers
for callers that hold a folder name (`read_metrics(run_dir)`, `read_run(run_dir)`, …). Every file is written
atomically or appended a line at a time, so a run killed at any moment leaves files that read back.
"""
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import yaml

from .config import RunConfig, config_from_dict
from .errors import GanforgeError
from .fileio import atomic_write

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a run folder is then not guarded against a second writer
    fcntl = None

CONFIG = "config.yaml"
INFO = "run.json"
METRICS = "metrics.jsonl"
DIAGNOSES = "diagnoses.jsonl"
SAMPLES = "samples"
TENSORBOARD = "tensorboard"
CHECKPOINTS = "checkpoints"
LATEST = "latest"  # inside checkpoints/: the name of the newest checkpoint folder
BEST = "best"  # inside checkpoints/: the weights with the lowest FID
BEST_RECORD = "best.json"  # inside best/: {"step", "fid", "evaluator_sha256"}
WEIGHTS = "weights.safetensors"  # inside a checkpoint folder (and best/)
STATE = "state.pt"  # inside a checkpoint folder: optimisers, RNG, step, samplers
EVAL_JSON, EVAL_MD = "eval.json", "eval.md"
REPORT = "report.html"
STEP_PREFIX = "step_"
LOCK = ".lock"  # flock-ed by the one training that writes the folder

INFO_KEYS = ("kind", "shape", "num_classes", "dataset", "num_examples")  # what loading and `info` read


def step_name(step: int) -> str:
    """'step_00001000': the name of a step's checkpoint folder and (with .png) of its sample grid; zero-padded so
    that names sort by step."""
    return f"{STEP_PREFIX}{step:08d}"


class RunDir:
    """The files of the run in `path` (which need not exist yet: a new run's folder is laid out by its writers)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ---- paths ------------------------------------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def info(self) -> Path:
        return self.path / INFO

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def diagnoses(self) -> Path:
        return self.path / DIAGNOSES

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def latest(self) -> Path:
        """The pointer file naming the newest checkpoint folder."""
        return self.checkpoints / LATEST

    @property
    def best(self) -> Path:
        return self.checkpoints / BEST

    @property
    def eval_json(self) -> Path:
        return self.path / EVAL_JSON

    @property
    def eval_md(self) -> Path:
        return self.path / EVAL_MD

    @property
    def report(self) -> Path:
        return self.path / REPORT

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK

    def checkpoint(self, step: int) -> Path:
        """The checkpoint folder of `step` (whether or not it was written)."""
        return self.checkpoints / step_name(step)

    def sample_grid(self, step: int) -> Path:
        return self.samples / f"{step_name(step)}.png"

    def sample_grids(self) -> list[Path]:
        """The sample grids written so far, oldest first."""
        return sorted(self.samples.glob(f"{STEP_PREFIX}*.png"))

    def checkpoint_folders(self) -> list[Path]:
        """Every step_* folder under checkpoints/, complete or not, oldest first."""
        return sorted(p for p in self.checkpoints.glob(f"{STEP_PREFIX}*") if p.is_dir())

    # ---- readers ----------------------------------------------------------------------------------------------
    def read_config(self) -> RunConfig:
        """The validated config.yaml (all that --resume needs: training rewrites run.json)."""
        path, raw = self._read_mapping(CONFIG)
        return config_from_dict(raw, source=str(path))

    def read_info(self) -> dict:
        """run.json, checked for the keys loading needs: a truncated or hand-edited file is the user's to fix."""
        path, info = self._read_mapping(INFO)
        missing = [k for k in INFO_KEYS if k not in info]
        if missing:
            raise GanforgeError(f"{path}: missing {', '.join(missing)} (written by `ganforge train`)")
        shape, kind = info["shape"], info["kind"]
        dims = {"image": 3, "vector": 1}.get(kind)
        if dims is None:
            raise GanforgeError(f"{path}: kind must be 'image' or 'vector', got {kind!r}")
        if not (isinstance(shape, list) and len(shape) == dims and all(type(d) is int and d > 0 for d in shape)):
            raise GanforgeError(f"{path}: shape of a {kind} run must be {dims} positive integers, got {shape!r}")
        if type(info["num_classes"]) is not int or info["num_classes"] < 0:
            raise GanforgeError(f"{path}: num_classes must be a whole number ≥ 0, got {info['num_classes']!r}")
        return info

    def read_metrics(self) -> list[dict]:
        """The records of metrics.jsonl, oldest first ([] before the first logging window)."""
        return read_jsonl(self.metrics)

    def read_diagnoses(self) -> list[dict]:
        """The doctor's findings in diagnoses.jsonl, oldest first ([] when it found none)."""
        return read_jsonl(self.diagnoses)

    def read_best(self) -> dict | None:
        """best.json of the best checkpoint ({"step", "fid", "evaluator_sha256"}), or None when there is none."""
        return read_best_record(self.best)

    # ---- writers ----------------------------------------------------------------------------------------------
    def write_config(self, cfg: RunConfig) -> None:
        atomic_write(self.config, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))

    def write_info(self, info: dict) -> None:
        atomic_write(self.info, json.dumps(info, indent=1))

    def append_diagnosis(self, record: dict) -> None:
        """Add one finding to diagnoses.jsonl (a line at a time: a crash cuts at most the last one short)."""
        append_jsonl(self.diagnoses, record)

    def cut_logs(self, step: int) -> None:
        """Drop the records after `step` from metrics.jsonl and diagnoses.jsonl: a resumed run trains those steps
        again, and each step is logged once."""
        for log in (self.metrics, self.diagnoses):
            cut_log(log, step)

    def forget_logs(self) -> None:
        """Delete the logs of a run that died before its first checkpoint (it starts afresh in the same folder)."""
        for log in (self.metrics, self.diagnoses):
            log.unlink(missing_ok=True)

    # ---- one writer ---------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run folder for this process while the block runs: a second training of the same folder is
        refused with one line naming the holder's pid. The lock is the OS's (flock), so a process that dies, even by
        kill -9, releases it; the .lock file stays, holding the last holder's pid."""
        if fcntl is None:
            yield
            return
        try:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise GanforgeError(f"run folder {self.path}: cannot write there ({e.strerror or e})") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GanforgeError(f"run folder {self.path} is in use by another training ({self._holder(fd)}); "
                                    "wait for it to end or stop it, or give another --out") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    @staticmethod
    def _holder(fd: int) -> str:
        """'pid 1234' of the process holding the lock (as it wrote it), or 'pid unknown' in the instant before."""
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return f"pid {pid}" if pid.isdigit() else "pid unknown"

    # ---- checks -----------------------------------------------------------------------------------------------
    def _file(self, name: str) -> Path:
        """RUN/name, or a GanforgeError saying why RUN is not a run directory."""
        if not self.path.exists():
            raise GanforgeError(f"{self.path}: no such run directory")
        if not self.path.is_dir():
            raise GanforgeError(f"{self.path}: is a file, not a run directory")
        path = self.path / name
        if not path.is_file():
            raise GanforgeError(f"{self.path}: not a ganforge run directory (needs {CONFIG} and {INFO}; no {name})")
        return path

    def _read_mapping(self, name: str) -> tuple[Path, dict]:
        """RUN/name parsed (YAML or JSON by its suffix) and checked to be a mapping."""
        path = self._file(name)
        parse, what = (json.loads, "JSON") if name.endswith(".json") else (yaml.safe_load, "YAML")
        try:
            raw = parse(path.read_text())
        except (OSError, UnicodeDecodeError) as e:
            raise GanforgeError(f"{path}: cannot read ({e})") from None
        except (yaml.YAMLError, json.JSONDecodeError) as e:
            raise GanforgeError(f"{path}: not valid {what} ({str(e).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise GanforgeError(f"{path}: expected a {what} mapping, got {type(raw).__name__}")
        return path, raw


# ---- .jsonl logs --------------------------------------------------------------------------------------------------

def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a .jsonl log; a last line cut short by a crash is skipped, a bad line elsewhere is not."""
    path = Path(path)
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


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one record as a line of JSON."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def cut_log(path: str | os.PathLike, step: int) -> int:
    """Drop the records after `step` from a .jsonl log (a resumed run repeats those steps); atomic. Returns how
    many were dropped."""
    path = Path(path)
    rows = read_jsonl(path)
    kept = [r for r in rows if r.get("step", 0) <= step]
    if len(kept) != len(rows) or (path.is_file() and not path.read_text().endswith("\n")):
        atomic_write(path, "".join(json.dumps(r) + "\n" for r in kept))
    return len(rows) - len(kept)


def read_best_record(folder: str | os.PathLike) -> dict | None:
    """The best.json in a checkpoint folder (only checkpoints/best has one), or None."""
    record = Path(folder) / BEST_RECORD
    if not record.is_file():
        return None
    try:
        return json.loads(record.read_text())
    except (OSError, ValueError) as e:
        raise GanforgeError(f"{record}: cannot read the best checkpoint's record ({e})") from None


# ---- readers by folder name ---------------------------------------------------------------------------------------

def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """RUN/metrics.jsonl's records, oldest first."""
    return RunDir(run_dir).read_metrics()


def read_diagnoses(run_dir: str | os.PathLike) -> list[dict]:
    """RUN/diagnoses.jsonl's records, oldest first."""
    return RunDir(run_dir).read_diagnoses()


def read_run_config(run_dir: str | os.PathLike) -> RunConfig:
    """The validated config.yaml of a run."""
    return RunDir(run_dir).read_config()


def read_run_info(run_dir: str | os.PathLike) -> dict:
    """The checked run.json of a run."""
    return RunDir(run_dir).read_info()


def read_run(run_dir: str | os.PathLike) -> tuple[RunConfig, dict]:
    """(config, run info) of a run directory; every defect of either file is a GanforgeError naming it."""
    return read_run_config(run_dir), read_run_info(run_dir)
