"""What a run's report shows, read from its folder through `RunDir` alone: the curves grouped into charts, the
sample grids of the slider, the doctor's diagnoses, the evaluation, the provenance and the resolved config.

Nothing here draws or writes: `RunContents.read(path)` is plain data, so what a page will hold can be tested
without a browser, and a comparison reads several runs the same way."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import GanforgeError
from ..families import get_family
from ..metrics.frozen_evaluator import EVALUATOR_DIR, record_path
from ..rundir import STEP_PREFIX, RunDir
from ..scoring import describe_evaluator

MAX_GRIDS = 60  # grids in the slider at most, picked evenly through training (the last always among them)
GRID_BYTES = 12 * 2**20  # and at most this many bytes of PNG in all, so a long run's page stays a few MB
MAX_POINTS = 500  # points of a curve at most, picked evenly (the last always among them)

# Keys of metrics.jsonl that are bookkeeping, not curves.
NOT_CURVES = ("step", "elapsed_s")


@dataclass
class Chart:
    """One chart: `series` maps a curve's name to its (steps, values); `marks` are steps to draw as vertical lines
    (the doctor's diagnoses); `floors` are horizontal reference lines {label: value} (an evaluator's floor)."""

    key: str  # a stable name for tests and the page's anchors ("losses", "monitors", …)
    title: str
    ylabel: str
    series: dict[str, tuple[list[int], list[float]]]
    log_y: bool = False  # a log axis where the values span decades (charts.py decides)
    marks: list[int] = field(default_factory=list)
    floors: dict[str, float] = field(default_factory=dict)


@dataclass
class Grid:
    step: int
    path: Path


@dataclass
class RunContents:
    """Everything the report of one run shows."""

    path: Path
    name: str
    config: dict  # config.yaml as written (the resolved config of the run)
    config_text: str
    info: dict  # run.json
    metrics: list[dict]
    diagnoses: list[dict]
    grids: list[Grid]  # those the slider shows, in step order
    grids_total: int  # how many the run wrote
    grid_caption: str
    evaluation: dict | None  # eval.json
    evaluator: dict | None  # the record of the network that scored the run (its name, hash, floors)
    checkpoints: list[str]
    last_step: int  # the furthest step of its logs, grids and checkpoints

    @classmethod
    def read(cls, path: str | Path) -> RunContents:
        """The contents of the run folder `path`; GanforgeError (one line) when it is no run folder."""
        run = RunDir(path)
        config = run.read_config().model_dump(mode="json")  # names the folder or file when it is no run folder
        config_text = run.config.read_text()
        info = _read_json(run.info) or {}
        metrics = run.read_metrics()
        grids = [Grid(_step_of(p), p) for p in run.sample_grids()]
        evaluation = _read_json(run.eval_json)
        return cls(
            path=run.path, name=run.path.resolve().name, config=config, config_text=config_text, info=info,
            metrics=metrics, diagnoses=run.read_diagnoses(), grids=pick_grids(grids), grids_total=len(grids),
            grid_caption=grid_caption(config, info), evaluation=evaluation,
            evaluator=evaluator_record(config, info, evaluation, metrics),
            checkpoints=[p.name for p in run.checkpoint_folders()] + (["best"] if run.best.is_dir() else []),
            # the step the run reached: its last checkpoint or grid can come after its last logging window
            last_step=max([int(r.get("step", 0)) for r in metrics] + [g.step for g in grids]
                          + [_step_of(p) for p in run.checkpoint_folders()], default=0))

    # ---- the curves -----------------------------------------------------------------------------------------
    def curve(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric over training, finite values only, at most MAX_POINTS of them."""
        rows = [(int(r["step"]), float(r[key])) for r in self.metrics
                if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        rows = evenly(rows, MAX_POINTS)
        return [s for s, _ in rows], [v for _, v in rows]

    def keys(self) -> list[str]:
        """Every metric logged, in the order first seen."""
        seen: dict[str, None] = {}
        for r in self.metrics:
            seen.update(dict.fromkeys(k for k, v in r.items() if k not in NOT_CURVES and isinstance(v, (int, float))))
        return list(seen)

    def charts(self) -> list[Chart]:
        """The charts of the page, in reading order; a group with no metric logged is left out."""
        keys = self.keys()
        marks = sorted({int(d.get("step", 0)) for d in self.diagnoses})

        def group(prefix: str) -> list[str]:
            return [k for k in keys if k.startswith(prefix)]

        # doctor/<code> of a diagnosis is a flag (1 raised, 0 cleared), drawn as the diagnosis's mark, not a curve
        flags = {f"doctor/{d.get('code')}" for d in self.diagnoses}
        # the family's monitors: D's verdicts (D(x), D(G(z)), …, those Family.signals() names) and the like
        monitors = [k for k in keys if "/" not in k and k != "img_per_s"]
        specs = [
            ("losses", "Losses", "loss", group("loss/"), False, marks),
            ("monitors", "Monitors: what the family logs besides its losses", "value", monitors, False, marks),
            ("grad_norms", "Gradient norms", "L2 norm of the gradient", group("grad_norm/"), True, []),
            ("throughput", "Training speed", "images / s", [k for k in keys if k == "img_per_s"], False, []),
            ("doctor", "The doctor's measurements", "value", [k for k in group("doctor/") if k not in flags],
             False, marks),
            ("augment", "Augmentation", "value", group("augment/"), False, []),
        ]
        charts = [Chart(key, title, ylabel, {k: self.curve(k) for k in names}, log_y, list(m))
                  for key, title, ylabel, names, log_y, m in specs if names]
        charts += [Chart(f"eval_{k[5:]}", f"Evaluation: {k[5:]}", k[5:], {k: self.curve(k)},
                         floors=self._floors(k[5:])) for k in group("eval/")]
        return [c for c in charts if any(xs for xs, _ in c.series.values())]

    def _floors(self, metric: str) -> dict[str, float]:
        floor = (self.evaluator or {}).get(f"{metric}_floor_train_vs_test")
        return {"evaluator's train-vs-held-out floor": float(floor)} if isinstance(floor, (int, float)) else {}

    def evaluator_line(self) -> str | None:
        """One line naming the network that scored the run, its accuracy and its floor (as eval.md says it)."""
        if not self.evaluator:
            return None
        try:
            return describe_evaluator(self.evaluator)
        except (KeyError, TypeError, ValueError):  # a record of another version: its name at least
            return f"evaluator {self.evaluator.get('name', 'unnamed')}"

    # ---- the numbers of the last window ---------------------------------------------------------------------
    def final_numbers(self) -> dict[str, float]:
        """The last value of every curve, and the final evaluation's numbers (eval.json) beside them."""
        out = {}
        for k in self.keys():
            steps, values = self.curve(k)
            if values:
                out[k] = values[-1]
        for k, v in (self.evaluation or {}).items():
            if k != "provenance" and isinstance(v, (int, float)) and not isinstance(v, bool):
                out[f"final {k}"] = float(v)
        return out

    def provenance(self) -> dict[str, str]:
        """Who made the run with what: versions, machine, device, seed, data and its hash, as recorded."""
        train = self.config.get("train", {}) or {}
        data = self.config.get("data", {}) or {}
        shape = self.info.get("shape")
        rows = {
            "ganforge": self.info.get("ganforge"), "torch": self.info.get("torch"),
            "python": self.info.get("python"), "platform": self.info.get("platform"),
            "device": self.info.get("device"), "bf16": self.info.get("bf16"), "seed": train.get("seed"),
            "family": self.config.get("family"),
            "dataset": self.info.get("dataset") or data.get("name"), "data path": data.get("path"),
            "examples": self.info.get("num_examples"),
            "shape": "×".join(map(str, shape)) if isinstance(shape, list) else None,
            "data sha256": self.info.get("data_sha256"),
            "steps": f"{self.last_step} of {train.get('steps')}",
        }
        return {k: str(v) for k, v in rows.items() if v is not None}


def evenly(items: list, limit: int) -> list:
    """At most `limit` of `items`, evenly spaced, the first and the last kept."""
    if len(items) <= limit:
        return list(items)
    if limit == 1:
        return [items[-1]]
    picks = sorted({round(i * (len(items) - 1) / (limit - 1)) for i in range(limit)})
    return [items[i] for i in picks]


def pick_grids(grids: list[Grid], limit: int = MAX_GRIDS, budget: int = GRID_BYTES) -> list[Grid]:
    """The grids of the slider: evenly through training, at most `limit` and at most `budget` bytes."""
    chosen = evenly(grids, limit)
    while len(chosen) > 1 and sum(g.path.stat().st_size for g in chosen) > budget:
        chosen = evenly(grids, len(chosen) * 3 // 4)
    return chosen


def _step_of(path: Path) -> int:
    return int(path.stem[len(STEP_PREFIX):])


def _read_json(path: Path) -> dict | None:
    """A JSON mapping from the run folder, or None when absent; a damaged one is named in one line."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise GanforgeError(f"{path}: cannot read ({e})") from None
    if not isinstance(value, dict):
        raise GanforgeError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _family_class(name):
    try:
        return get_family(name) if isinstance(name, str) else None
    except GanforgeError:  # a family of a newer or older ganforge: the page shows what the logs hold
        return None


def grid_caption(config: dict, info: dict) -> str:
    """What the run's sample grids hold, as the training loop draws them (ganforge.train.loop.write_grid)."""
    if info.get("kind") == "vector":
        return ("2,000 samples (dark) over 2,000 training points (grey), the same latent codes at every step, "
                "the first two coordinates")
    family = _family_class(config.get("family"))
    inputs = getattr(family, "inputs", {}).get(getattr(family, "generator", "G"), ("z",)) if family else ("z",)
    log = config.get("log", {}) or {}
    n = log.get("grid", 64)
    layout = info.get("grid") or {}  # run.json's record of the layout; runs from before it drew the older grids
    objective = config.get("objective", {}) or {}
    k = objective.get("generators", 1) if isinstance(objective, dict) else 1
    if layout.get("columns"):
        return translation_caption(layout["columns"], inputs, n)
    if tuple(inputs) != ("z",) and "z" not in inputs:
        fields = ", ".join(inputs)
        return (f"the translator's outputs for the same {n} real inputs ({fields}) at every step, outputs only "
                "(the grid shows neither the inputs nor the targets)")
    if layout.get("rows") == "generators":
        k = layout.get("generators", k)
        return (f"one row per generator ({k} rows: generator 1 at the top to generator {k} at the bottom) and "
                f"{max(1, n // k)} columns: each column gives every generator the same latent code, the same codes "
                "at every step")
    text = f"{n} samples from the same latent codes at every step"
    if isinstance(k, int) and k > 1:
        text += (f"; {k} generators take the cells in turn (cell i is generator i mod {k}, reading along the "
                 "rows)")
    if info.get("num_classes") and config.get("family") in ("cgan", "acgan"):
        text += "; classes in turn (cell i is class i mod the number of classes)"
    if len(inputs) > 1:  # z beside a data field (a text-conditioned G): fixed real examples of it too
        text += f"; each with the same real {', '.join(f for f in inputs if f != 'z')} at every step"
    return text


def translation_caption(columns: list[str], inputs, n: int) -> str:
    """The caption of a translator's grid: its columns (grids.translation_columns) for the same n real inputs."""
    what = {"input": "the input", "output": "the translator's output",
            "target": "the paired target", "reconstruction": "the output mapped back by the reverse direction"}
    text = (f"{n} fixed real inputs ({', '.join(f for f in inputs if f != 'z')}), each as "
            f"{' | '.join(columns)} ({', '.join(what.get(c, c) for c in columns)}), a few examples to a row, the same "
            "inputs at every step; a smaller input is shown upscaled (nearest), a grey one beside colour in every "
            "channel")
    if "reconstruction" in columns:
        text += "; the data is unpaired, so there is no target and the third image is the cycle's reconstruction"
    return text


def evaluator_record(config: dict, info: dict, evaluation: dict | None, metrics: list[dict]) -> dict | None:
    """The record of the network that scored the run: from eval.json when there is one, else (an evaluation during
    training only) the record beside the evaluator the config names or the dataset's built-in one; None when the
    run was not evaluated. Only the record is read, never the weights."""
    record = (evaluation or {}).get("provenance", {}).get("evaluator")
    if record or not any(k.startswith("eval/") for r in metrics for k in r):
        return record or None
    named = (config.get("eval", {}) or {}).get("evaluator")
    weights = Path(named) if named else EVALUATOR_DIR / f"{info.get('dataset')}-cnn.safetensors"
    return _read_json(record_path(weights)) or {"name": weights.name}
