"""The Python API: `ganforge.train(config) -> Run`, `ganforge.load(run_dir) -> Generator`, `load_family` and
`evaluate_run`. The layer above training: it reads what a run wrote (config, run.json, checkpoints)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .config import RunConfig, config_from_dict, load_config
from .data import load_configured
from .data.base import FieldSpec, to_unit
from .data.folder import list_images  # noqa: F401  (public here: the image files under a folder)
from .data.folder import read_images
from .data.kinds import detect_kind  # noqa: F401  (public here: what a --data path holds)
from .data.kinds import settle_data as _settle_data, settled_note
from .data.shards import pack_folder as pack_shards  # noqa: F401  (`ganforge data pack`)
from .data.shards import verify_shards  # noqa: F401  (`ganforge data verify`)
from .errors import GanforgeError
from .fileio import check_writable
from .evaluator_training import infer_dataset, load_evaluator_data, recipe_for, train_evaluator  # noqa: F401
from .evaluator_training import summary_line as evaluator_summary  # noqa: F401
from .families import available_families  # noqa: F401
from .metrics.inception_net import resolve_inception_weights  # noqa: F401
from .metrics.memorisation import nearest_neighbours
from .nets import available_nets  # noqa: F401
from .scoring import (check_sample_count, describe_evaluator, evaluate_samples_file,  # noqa: F401
                      read_samples_file)
from .train.doctor.check_d import check_discriminators  # noqa: F401  (`ganforge doctor check-d`)
from .scoring import (DEFAULT_METRICS, check_metrics_fit, evaluate_images, evaluate_points, evaluate_translations,
                      evaluation_captions, test_pairs, write_report)
from . import images as image_io
from .families import draw_latents, get_family
from .metrics.frozen_evaluator import resolve_evaluator
from .nets.conditional import balanced_labels
from .nets.mixture import MixtureGenerator
from .report import write_comparison, write_run_report
from .rundir import EVAL_JSON, EVAL_MD, RunDir, read_best_record, read_diagnoses, read_metrics
from .rundir import read_run, read_run_config, read_run_info  # noqa: F401  (public here too: ganforge.api.read_run)
from .sampling import generate_batches  # public here too: ganforge.api.generate_batches
from .train import checkpoint
from .train import train as run_training
from .train.loop import held_out_metrics
from .text import check_captions, encode as encode_captions, resolve_encoder


def train(config: RunConfig | dict | str | Path | None = None, out: str | Path | None = None,
          resume: str | Path | None = None, use_intact_checkpoint: bool = False):
    """Train from a RunConfig, a dict, a YAML path, or (None) the default DCGAN on Fashion-MNIST."""
    if not isinstance(config, RunConfig):
        config = config_from_dict(config) if isinstance(config, dict) else load_config(config)
    return run_training(config, out=out, resume=resume, use_intact_checkpoint=use_intact_checkpoint)


def settle_data(cfg: RunConfig, fixed=()) -> RunConfig:
    """`cfg` with the dataset its data.path holds, the data deciding what the user left open: `fixed` names the
    data keys set on the command line ("name", "task"), never overridden (`ganforge.data.kinds.settle_data`).
    A setting of the config that the data overrules is said in one line on stderr."""
    data = _settle_data(cfg.data, fixed)
    note = settled_note(cfg.data, data)
    if note:
        print(note, file=sys.stderr)
    return cfg if data is cfg.data else cfg.model_copy(update={"data": data})


def data_keys_given(overrides) -> set[str]:
    """The keys of the `data:` section that key=value overrides set ("data.name=folder" → "name")."""
    return {item.partition("=")[0].strip().removeprefix("data.") for item in overrides
            if item.strip().startswith("data.")}


def _check_count(n: int) -> None:
    if n < 0:
        raise GanforgeError(f"number of samples must be ≥ 0, got {n}")


class Generator:
    """A trained generator rebuilt from its run directory (the EMA weights when the run kept them).

    `inputs` is what it is called with: ("z",) for G(z) and for a class-conditional G(z | y) (whose class is a
    `label`), or z and/or fields of the data it maps or is conditioned on: ("x",) for a translator, ("z",
    "embedding") for a text-conditioned G. Those fields are its `conditions`; `sample` needs one per sample."""

    def __init__(self, net: torch.nn.Module, cfg: RunConfig, info: dict, step: int,
                 inputs: tuple[str, ...] = ("z",)):
        self.net, self.cfg, self.info, self.step = net.eval(), cfg, info, step
        self.kind: str = info["kind"]
        self.shape: tuple[int, ...] = tuple(info["shape"])
        self.inputs = tuple(inputs)

    @property
    def num_classes(self) -> int:
        """Classes a conditional generator can be asked for; 0 for an unconditional one."""
        return int(getattr(self.net, "num_classes", 0))

    @property
    def num_generators(self) -> int:
        """k for a mixture of generators (`objective.generators`, MGAN): sample i comes from generator i mod k."""
        return self.net.k if isinstance(self.net, MixtureGenerator) else 1

    def field_shape(self, field: str) -> tuple[int, ...]:
        """The shape of one example of a data field the generator takes, as the run trained on it."""
        fields = self.info.get("fields") or {}
        if field not in fields:
            raise GanforgeError(f"this run's run.json does not describe the data field '{field}' (runs before "
                                "ganforge recorded fields cannot say)")
        return tuple(fields[field]["shape"])

    @property
    def conditions(self) -> tuple[str, ...]:
        """The data fields the generator takes beside z (("x",), ("embedding",), …); () when it takes z alone."""
        return tuple(f for f in self.inputs if f != "z")

    def latents(self, n: int, seed: int | None = None) -> torch.Tensor:
        """n draws of z from the run's prior (the same draws `sample(n, seed)` uses)."""
        _check_count(n)
        return draw_latents(self.cfg, n, torch.Generator().manual_seed(seed) if seed is not None else None)

    def labels(self, n: int, label: int | None = None) -> torch.Tensor:
        """The class labels `sample` uses: all `label`, or class-balanced (0, 1, …, K−1, 0, …) when None."""
        k = self.num_classes
        if not k:
            raise GanforgeError(f"this run's generator ({self.cfg.family}) is not conditional: it takes no class")
        if label is None:
            return balanced_labels(n, k)
        if not 0 <= label < k:
            raise GanforgeError(f"class {label} out of range: this generator has classes 0–{k - 1}")
        return torch.full((n,), label, dtype=torch.long)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 1000,
                 generators: torch.Tensor | None = None,
                 condition: torch.Tensor | dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """G(z) (or G(z | labels)) for given latents, in batches, on the CPU as float32. A mixture of k generators
        makes row i with generator `generators[i]` (default i mod k, counted over all of z, not per batch). A
        generator with `conditions` (text-to-image) takes `condition` as `sample` does, one row per z."""
        self._check_latents(z)
        if self.conditions and "z" in self.inputs:
            given = self._condition_fields(len(z), condition)
            return self._run(tuple(z if f == "z" else given[f] for f in self.inputs), len(z), batch_size)
        if labels is not None and len(labels) != len(z):
            raise GanforgeError(f"{len(labels)} labels for {len(z)} latents")
        k = self.num_generators
        if k == 1:
            if generators is not None:
                raise GanforgeError("generators= picks among a mixture's generators; this run has one generator")
            return self._run((z, labels), len(z), batch_size)
        if generators is None:
            generators = torch.arange(len(z)) % k
        generators = torch.as_tensor(generators, dtype=torch.long)
        if generators.shape != (len(z),) or (len(z) and not 0 <= int(generators.min()) <= int(generators.max()) < k):
            raise GanforgeError(f"generators must be {len(z)} indices in 0–{k - 1}, got shape "
                                f"{tuple(generators.shape)}")
        return self._run((z, generators), len(z), batch_size)  # a mixture is unconditional: `which` is its 2nd input

    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000, label: int | None = None,
               condition: int | torch.Tensor | dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """n samples: images (n, C, H, W) in [-1, 1] or vectors (n, D).

        A class-conditional generator makes class `label` (or `condition` = an int, or (n,) int64 class labels),
        or every class equally often (`labels(n)`) when neither is given. A generator with `conditions` needs
        `condition`: the tensor of its one condition field with n rows (an image batch (n, C, H, W) in [-1, 1] for
        a translator, an embedding (n, E)), or {field: tensor} when it has several."""
        _check_count(n)
        if self.conditions:
            if label is not None:
                raise GanforgeError(f"this run's generator ({self.cfg.family}) takes {', '.join(self.conditions)}, "
                                    "not a class: pass condition=")
            given = self._condition_fields(n, condition)
            z = self.latents(n, seed) if "z" in self.inputs else None
            return self._run(tuple(z if f == "z" else given[f] for f in self.inputs), n, batch_size)
        if condition is not None:
            if label is not None:
                raise GanforgeError("give the class as label= or condition=, not both")
            if isinstance(condition, int) and not isinstance(condition, bool):
                label = condition
            else:
                return self.generate(self.latents(n, seed), self._class_tensor(n, condition), batch_size)
        labels = self.labels(n, label) if self.num_classes or label is not None else None
        return self.generate(self.latents(n, seed), labels, batch_size)

    # -- checks ------------------------------------------------------------------------------------------------
    def _run(self, inputs: tuple, n: int, batch_size: int) -> torch.Tensor:
        return generate_batches(self.net, *inputs, batch_size=batch_size) if n else torch.empty(0, *self.shape)

    def _check_latents(self, z: torch.Tensor) -> None:
        if z.ndim != 2 or z.shape[1] != self.cfg.latent_dim:
            raise GanforgeError(f"z must have shape (N, {self.cfg.latent_dim}), got {tuple(z.shape)}")

    def _class_tensor(self, n: int, labels) -> torch.Tensor:
        k = self.num_classes
        if not k:
            raise GanforgeError(f"this run's generator ({self.cfg.family}) takes no condition (it maps z alone)")
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long or labels.shape != (n,):
            got = (f"a tensor of shape {tuple(labels.shape)} and dtype {labels.dtype}"
                   if isinstance(labels, torch.Tensor) else type(labels).__name__)
            raise GanforgeError(f"condition of a class-conditional generator: an int class or ({n},) int64 labels; "
                                f"got {got}")
        if len(labels) and not (0 <= int(labels.min()) and int(labels.max()) < k):
            raise GanforgeError(f"condition: classes must lie in 0–{k - 1}; got {int(labels.min())}–{int(labels.max())}")
        return labels

    def _condition_fields(self, n: int, condition) -> dict[str, torch.Tensor]:
        wanted = self.conditions
        if condition is None:
            raise GanforgeError(f"this run's generator ({self.cfg.family}) is conditioned on "
                                f"{', '.join(wanted)}: sample(n, condition=…) needs one row per sample")
        given = condition if isinstance(condition, dict) else {wanted[0]: condition} if len(wanted) == 1 else None
        if given is None or set(given) != set(wanted):
            raise GanforgeError(f"condition must give {', '.join(wanted)} (as {{field: tensor}}); "
                                f"got {sorted(condition) if isinstance(condition, dict) else type(condition).__name__}")
        for field, t in given.items():
            if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim < 2 or len(t) != n:
                what = f"shape {tuple(t.shape)}, {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
                raise GanforgeError(f"condition '{field}': a float tensor with {n} rows (one per sample) expected; "
                                    f"got {what}")
            if not torch.isfinite(t).all():
                raise GanforgeError(f"condition '{field}' holds NaN or Inf")
        return {f: t.float() for f, t in given.items()}


def run_fields(info: dict) -> dict[str, FieldSpec]:
    """The data fields a run trained on, from run.json (runs before fields were recorded: x and label only)."""
    fields = info.get("fields") or {}
    return {f: FieldSpec(d["kind"], tuple(d["shape"]), d.get("classes", 0)) for f, d in fields.items()}


def _family(run_dir: str | Path):
    """(config, run info, the run's family with freshly initialised networks)."""
    cfg, info = read_run(run_dir)
    return cfg, info, get_family(cfg.family)(cfg, tuple(info["shape"]), info["num_classes"],
                                             fields=run_fields(info))


def _checkpoint(run_dir: str | Path, which: str | int) -> Path:
    if which == "best":
        run = RunDir(run_dir)
        if run.read_best() is None:
            raise GanforgeError(f"{run_dir}: no best checkpoint (it is kept when the run evaluates FID: eval.every)")
        return run.best
    if which == "latest":
        return checkpoint.latest_checkpoint(run_dir)
    if isinstance(which, int) and not isinstance(which, bool):
        return checkpoint.step_checkpoint(run_dir, which)
    raise GanforgeError(f"which must be 'latest', 'best' or a step number, got {which!r}")


def _step(ckpt: Path) -> int:
    best = read_best_record(ckpt)
    return int(best["step"] if best is not None else checkpoint.load_state(ckpt)["step"])


def load(run_dir: str | Path, device: str = "cpu", which: str | int = "latest",
         direction: str | None = None) -> Generator:
    """which: "latest"; "best" for the checkpoint with the lowest FID seen by `eval.every`; or a step number
    whose checkpoint is still kept (checkpoint.keep). direction: an image-to-image run's "AtoB" or "BtoA" (default:
    the family's sampling generator)."""
    cfg, info, family = _family(run_dir)
    name = family.generator
    if direction is not None:
        if direction not in family.directions:
            learnt = ", ".join(family.directions) or "none: it is not an image-to-image family"
            raise GanforgeError(f"{run_dir}: family '{cfg.family}' has no direction {direction!r} (it learns: {learnt})")
        name = family.directions[direction]
    ckpt = _checkpoint(run_dir, which)
    modules = dict(family.nets.items())
    gen = modules[name]
    if cfg.train.ema:  # the averaged weights go straight into the generators
        modules |= {f"{n}_ema": modules.pop(n) for n in family.generators()}
    checkpoint.load_weights(ckpt, modules)
    return Generator(gen.to(device), cfg, info, _step(ckpt), family.generator_inputs(name))


def load_family(run_dir: str | Path, device: str = "cpu", which: str | int = "latest"):
    """The run's whole family (every network with its trained weights, G without EMA) in eval mode, for what
    needs more than the generator: a VAE's encoder and ELBO, a BiGAN's encoder, a discriminator's features.
    Returns (family, step)."""
    _, _, family = _family(run_dir)
    ckpt = _checkpoint(run_dir, which)
    checkpoint.load_weights(ckpt, dict(family.nets.items()))
    return family.to(device).eval(), _step(ckpt)


def translator(run_dir: str | Path, direction: str | None = None, which: str | int = "latest") -> Generator:
    """The generator of an image-to-image run (pix2pix, CycleGAN, super-resolution) for `direction`, with the one
    image field it maps (`gen.conditions[0]`); a GanforgeError for runs that generate from z."""
    gen = load(run_dir, which=which, direction=direction)
    if len(gen.conditions) != 1 or "z" in gen.inputs:
        raise GanforgeError(f"{run_dir}: family '{gen.cfg.family}' does not translate images (its generator takes "
                            f"{', '.join(gen.inputs)}); use `ganforge sample`")
    return gen


def translate_test(run_dir: str | Path, direction: str | None = None, num: int | None = None,
                   batch_size: int = 500) -> dict:
    """The first `num` (default: all) test images of the run's own task, translated: {"inputs", "outputs",
    "targets": uint8 (N, H, W, C) (not for unpaired data, which has none), "labels": int64 (N,) when the data has
    classes}."""
    gen = translator(run_dir, direction)
    field = gen.conditions[0]
    given, targets, labels = test_pairs(gen.cfg.data, (field,), num)
    outputs = gen.sample(len(given[field]), condition=given, batch_size=batch_size)
    out = {"inputs": image_io.to_uint8(given[field]), "outputs": image_io.to_uint8(outputs)}
    if targets is not None:  # unpaired data has none
        out["targets"] = image_io.to_uint8(targets)
    if labels is not None:
        out["labels"] = labels.numpy()
    return out


def evaluate_run(run_dir: str | Path, metrics=DEFAULT_METRICS, num: int = 10_000, seed: int = 0, **options) -> dict:
    """Evaluate a run's generator (and the family's own test metrics, if it has them) on `num` samples; the
    result is also written to RUN/eval.json, RUN/eval.md and, for some metrics, PNGs."""
    run_dir = Path(run_dir)
    gen = load(run_dir)
    check_writable(run_dir / EVAL_JSON, "run report")
    captioned = gen.inputs == ("z", "embedding")  # text-to-image: the test split's captions, as training's eval
    if "z" in gen.inputs and gen.conditions and not captioned:
        raise GanforgeError(f"{run_dir}: evaluating a generator that takes z and {', '.join(gen.conditions)} is not "
                            "available yet (sample it with ganforge.load(run).sample(n, condition=…))")
    if gen.kind == "image":  # the run's own evaluator file and data, unless the caller names others
        options.setdefault("evaluator", None if options.get("inception_weights") else gen.cfg.eval.evaluator)
        options.setdefault("data_path", gen.cfg.data.path)
        # no evaluator for this data, or one without the classes a metric reads: say so before drawing samples
        scorer = resolve_evaluator(gen.info["dataset"], options["evaluator"], options.get("inception_weights"))
        check_metrics_fit(metrics, scorer, labels=None if not gen.num_classes else True)
    if captioned:  # G(z, caption) for the captions of a seeded pick of test images; their classes for agreement
        embeddings, labels, conditions = evaluation_captions(gen.cfg.data, num, seed)
        x = gen.generate(gen.latents(num, seed), condition=embeddings)
        result = evaluate_images(x, gen.info["dataset"], metrics, labels=labels, out_dir=run_dir, seed=seed, **options)
        result["provenance"]["conditions"] = conditions
    elif gen.conditions:  # a translator: the test split's inputs, scored against their own targets
        given, targets, labels = test_pairs(gen.cfg.data, gen.conditions, num)
        outputs = gen.sample(len(given[gen.conditions[0]]), condition=given)
        result = evaluate_translations(outputs, targets, gen.info["dataset"], metrics, labels=labels, out_dir=run_dir,
                                       seed=seed, inputs=given[gen.conditions[0]], **options)
    elif gen.kind == "vector":
        result = evaluate_points(gen.sample(num, seed=seed), gen.info["dataset"])
    else:
        x = gen.sample(num, seed=seed)  # a conditional G: every class equally often, gen.labels(num)
        labels = gen.labels(num) if gen.num_classes else None
        result = evaluate_images(x, gen.info["dataset"], metrics, labels=labels, out_dir=run_dir, seed=seed, **options)
    if get_family(gen.cfg.family).has_test_metrics():  # a family's own test metrics (classifier error, ELBO)
        family, _ = load_family(run_dir)
        result |= held_out_metrics(family.cfg, family)
    result["provenance"]["run"] = {"dir": str(run_dir), "step": gen.step, "family": gen.cfg.family}
    write_report(result, run_dir)
    return result


def report_paths(result: dict, samples: str | Path | None = None) -> tuple[Path, Path]:
    """Where `evaluate_run` / `evaluate_samples` wrote the report of `result`: (eval.json, eval.md)."""
    folder = Path(samples).parent if samples is not None else Path(result["provenance"]["run"]["dir"])
    return folder / EVAL_JSON, folder / EVAL_MD


# -- What the `ganforge` command does, public for scripts too ------------------------------------------------------
# The CLI (ganforge/cli/) parses, checks its output paths and prints; everything else it does is one of these.


def run_summary(run_dir: str | Path) -> dict:
    """What a run trained, on what, how far, with which results (`ganforge info`): family, networks, the
    objective's options, dataset, examples, shape, step of steps, training seconds, newest checkpoint, the last
    metrics logged and the doctor's diagnoses. Every value is plain JSON."""
    cfg, info = read_run(run_dir)
    ckpt = checkpoint.latest_checkpoint(run_dir)
    state = checkpoint.load_state(ckpt)
    metrics = read_metrics(Path(run_dir))
    return {
        "family": cfg.family,
        "networks": {n: c.arch for n, c in cfg.nets.items()},
        "objective": get_family(cfg.family).Options.model_validate(cfg.objective).model_dump(),
        "dataset": info["dataset"] + (f" (task {cfg.data.task})" if cfg.data.task else ""),
        "examples": info["num_examples"], "shape": info["shape"],
        "step": int(state["step"]), "of_steps": cfg.train.steps, "train_seconds": round(float(state["elapsed"]), 1),
        "checkpoint": str(ckpt),
        "last_metrics": metrics[-1] if metrics else None,
        "diagnoses": [{k: d[k] for k in ("step", "code", "message")} for d in read_diagnoses(run_dir)],
        "ganforge": info.get("ganforge"), "torch": info.get("torch"),
    } | ({"encoder": info.get("encoder") or {"name": cfg.data.encoder}} if cfg.data.captions else {})


def report(runs: str | Path | list[str | Path], out: str | Path | None = None) -> Path:
    """`ganforge report`: rebuild one run's page (default RUN/report.html), or with several runs write a page that
    compares them on the same axes (default comparison.html beside the first run's folder). Returns where it wrote.
    Each run is checked first: a folder that is no run, or a run with no metrics logged yet, is a one-line error."""
    runs = [runs] if isinstance(runs, (str, Path)) else list(runs)
    if not runs:
        raise GanforgeError("give one run folder or more")
    for run in runs:
        read_run_config(run)  # no such folder, a file, no config.yaml: the run folder's own message
        if not read_metrics(run):
            raise GanforgeError(f"{run}: no metrics logged yet ({RunDir(run).metrics.name} is empty or missing); "
                                "the report has nothing to draw")
    return write_run_report(runs[0], out) if len(runs) == 1 else write_comparison(runs, out)


def sample_arrays(gen: Generator, x: torch.Tensor, label: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of a samples file (`ganforge sample`) for samples `x` of `gen`: 'images' uint8 (N, H, W, C) or
    'points' float32 (N, D), and for a conditional generator the 'labels' they were drawn with (`label`, or
    class-balanced when None). `evaluate_samples` reads such a file back."""
    arrays = {"images": image_io.to_uint8(x)} if gen.kind == "image" else {"points": x.numpy().astype(np.float32)}
    if gen.num_classes:  # the classes the samples were asked for, beside them
        arrays["labels"] = gen.labels(len(x), label).numpy()
    return arrays


def save_image_grid(x: torch.Tensor, path: str | Path, cols: int, scale: int | None = None) -> None:
    """Images (N, C, H, W) in [-1, 1] as one PNG grid, row-major with `cols` columns (index = row·cols + col),
    written atomically; small images are upscaled (default: to about 96 pixels a tile)."""
    scale = max(1, 96 // x.shape[-1]) if scale is None else scale
    image_io.save_png(image_io.grid(image_io.to_uint8(x), cols=cols), path, scale=scale)


def save_image(image: np.ndarray, path: str | Path) -> None:
    """One uint8 (H, W, C) image as a PNG, written atomically."""
    image_io.save_png(image, path)


def evaluate_samples(path: str | Path, dataset: str, metrics=DEFAULT_METRICS, *, what: str | None = None,
                     **options) -> dict:
    """Evaluate a samples file (.npz with 'images' or 'points', as `ganforge sample` writes it) against the real
    data of `dataset`, and write eval.json and eval.md beside it. `options` are `evaluate_images`'s (num_reference,
    evaluator, inception_weights, data_path for a user's own data); messages name the file as `what`."""
    check_writable(Path(path).parent / EVAL_JSON, "--samples report")
    result = evaluate_samples_file(path, dataset, metrics, what=what, **options)
    write_report(result, Path(path).parent)
    return result


def _encoder_family(run_dir: str | Path):
    family, step = load_family(run_dir)
    if not family.has_encoder():
        raise GanforgeError(f"{run_dir}: '{family.cfg.family}' has no encoder; encode/reconstruct need a bigan or vae run")
    return family, step


def _real_examples(data_cfg, split: str, num: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first `num` (default all) examples of a split of the configured data, in [-1, 1], with their labels."""
    data = load_configured(data_cfg, split)
    n = len(data) if num is None else min(num, len(data))
    return data.x[:n], (data.labels[:n] if data.labels is not None else None)


class Encoding(NamedTuple):
    """E(x) of real examples: z float32 (N, latent_dim), their labels int64 (N,) or None, the checkpoint's step and
    the dataset's name."""
    z: np.ndarray
    labels: np.ndarray | None
    step: int
    dataset: str


def encode_data(run_dir: str | Path, split: str = "test", num: int | None = None) -> Encoding:
    """Encode the first `num` (default all) examples of the run's own data split with its encoder (a bigan or vae
    run; a GanforgeError for others)."""
    family, step = _encoder_family(run_dir)
    x, labels = _real_examples(family.cfg.data, split, num)
    with torch.no_grad():
        z = torch.cat([family.encode(c) for c in x.split(500)]).numpy().astype(np.float32)
    return Encoding(z, labels.numpy() if labels is not None else None, step, family.cfg.data.name)


@dataclass
class Reconstruction:
    """Real images x (N, C, H, W) in [-1, 1], their reconstructions G(E(x)), and the checkpoint's step."""
    x: torch.Tensor
    rec: torch.Tensor
    step: int

    @property
    def error(self) -> float:
        """Mean ‖x − G(E(x))‖ over the images (pixels in [-1, 1])."""
        return (self.x - self.rec).flatten(1).norm(dim=1).mean().item()

    def pairs(self, cols: int) -> torch.Tensor:
        """Rows that alternate: `cols` originals, then their reconstructions (a partial last row is dropped)."""
        x, rec, n = self.x, self.rec, len(self.x) // cols * cols
        return torch.stack([x[:n].view(-1, cols, *x.shape[1:]), rec[:n].view(-1, cols, *x.shape[1:])],
                           dim=1).flatten(0, 2)


def reconstruct(run_dir: str | Path, split: str = "test", num: int | None = 32) -> Reconstruction:
    """G(E(x)) of the first `num` images of the run's own data split (a bigan or vae run on images)."""
    family, step = _encoder_family(run_dir)
    if len(family.data_shape) != 3:
        raise GanforgeError("reconstruct draws images; for vector data use `ganforge encode` and G yourself")
    x, _ = _real_examples(family.cfg.data, split, num)
    with torch.no_grad():
        rec = family.nets[family.generator](family.encode(x)).float()
    return Reconstruction(x, rec, step)


def translator_inputs(gen: Generator, files: list[Path]) -> torch.Tensor:
    """Image files as a translator's inputs: read at the size and channels the run trained on (centre-cropped,
    resized), in [-1, 1], (N, C, H, W)."""
    c, side, _ = gen.field_shape(gen.conditions[0])
    return to_unit(read_images(files, side, c))


def translate_files(gen: Generator, files: list[Path]) -> np.ndarray:
    """Translate image files with a translator (`translator(run_dir)`), each read by `translator_inputs`; returns
    the outputs as uint8 (N, H, W, C)."""
    return image_io.to_uint8(gen.sample(len(files), condition=translator_inputs(gen, files)))


# -- What the explorer (`ganforge serve`) asks of a run -----------------------------------------------------------


@torch.no_grad()
def latent_directions(gen: Generator, principal: int = 4, random: int = 2, probes: int = 8, seed: int = 0,
                      label: int | None = None,
                      condition: torch.Tensor | None = None) -> tuple[torch.Tensor, list[str]]:
    """Unit directions in z to walk along: (principal + random, latent_dim) and a name for each.

    The principal ones are the top eigenvectors of G's pull-back metric E[JᵀJ] (J: the Jacobian of G's output with
    respect to z, by central differences at `probes` draws of the prior): the directions in which the output
    changes most. They need no knowledge of the architecture (any G, conditional or a mixture), unlike a PCA of a
    first layer's weights. The random ones are seeded Gaussian directions made orthogonal to those. A conditioned
    G (text-to-image) is probed at one `condition` row (1, E), e.g. a caption's embedding, held fixed."""
    d = gen.cfg.latent_dim
    principal = min(principal, d)
    random = max(0, min(random, d - principal))
    z = gen.latents(probes, seed)
    h = 1e-2
    steps = torch.eye(d) * h
    around = torch.cat([z[:, None] + steps, z[:, None] - steps]).reshape(-1, d)  # (2·probes·d, d)
    labels = gen.labels(len(around), label) if gen.num_classes else None
    held = condition.expand(len(around), -1) if condition is not None else None
    out = gen.generate(around, labels, condition=held).reshape(2, probes, d, -1)
    jac = (out[0] - out[1]) / (2 * h)  # (probes, d, outputs): row i is ∂G/∂z_i
    metric = torch.einsum("pio,pjo->ij", jac.double(), jac.double()) / probes
    _, vectors = torch.linalg.eigh(metric)  # ascending eigenvalues
    top = vectors[:, -principal:].flip(1).T.float() if principal else torch.empty(0, d)
    extra = torch.randn(random, d, generator=torch.Generator().manual_seed(seed + 1))
    basis, _ = torch.linalg.qr(torch.cat([top, extra]).T)  # keeps the principal ones, orthogonalises the rest
    dirs = torch.cat([top, basis.T[principal:principal + random]])
    return dirs, [f"PC{i + 1}" for i in range(principal)] + [f"random {i + 1}" for i in range(random)]


def training_examples(gen: Generator, num: int = 2000) -> torch.Tensor:
    """The first `num` examples of the run's own training data, as G makes them (images in [-1, 1], vectors)."""
    data = load_configured(gen.cfg.data, "train", seed=gen.cfg.train.seed)
    return data.examples(torch.arange(min(num, len(data))))  # converted per pick: never the whole set as float


def nearest_examples(x: torch.Tensor, reference: torch.Tensor, k: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of `x`, the indices (N, k) and Euclidean distances (N, k) of its k nearest rows of
    `reference` (compared as flat vectors: pixels for images); shapes must agree."""
    if x.shape[1:] != reference.shape[1:]:
        raise GanforgeError(f"samples of shape {tuple(x.shape[1:])} against references of shape "
                            f"{tuple(reference.shape[1:])}")
    index, dist = nearest_neighbours(x, reference, min(k, len(reference)))  # the memorisation metric's search
    return torch.from_numpy(index), torch.from_numpy(dist)


def translation_directions(run_dir: str | Path) -> list[str]:
    """The directions an image-to-image run learnt ("AtoB", "BtoA"); [] for a run that generates from z."""
    cfg, _ = read_run(run_dir)
    return list(get_family(cfg.family).directions)


# -- Text-to-image: captions in, images out (`ganforge generate`, `ganforge interpolate --text`) --------------------
TEXT_FIELD = "embedding"


def caption_embeddings(gen: Generator, captions, cache: bool = True) -> torch.Tensor:
    """The sentence embeddings (N, D) of `captions` by the encoder the run trained with (its name in the config,
    its hash in run.json): a GanforgeError for a run that takes no captions, for an empty caption, and for an
    encoder whose files differ from the run's. `cache` False writes no cache file (a server's passing captions)."""
    if TEXT_FIELD not in gen.conditions:
        raise GanforgeError(f"this run's generator ({gen.cfg.family}) takes {', '.join(gen.inputs)}, not a caption; "
                            "captions need a text-to-image run (family text2image)")
    captions = check_captions(captions)
    encoder = resolve_encoder(gen.cfg.data.encoder)
    trained = (gen.info.get("encoder") or {}).get("hash")
    if trained and trained != encoder.hash:
        raise GanforgeError(f"the text encoder {gen.cfg.data.encoder} here (hash {encoder.hash[:12]}) is not the one "
                            f"this run trained with (hash {trained[:12]}): its embeddings would mean nothing to G")
    return encode_captions(captions, encoder, cache=cache)


def text_generator(run_dir: str | Path) -> Generator:
    """The generator of a text-to-image run (a GanforgeError naming the run for any other)."""
    gen = load(run_dir)
    if TEXT_FIELD not in gen.conditions:
        raise GanforgeError(f"{run_dir}: family '{gen.cfg.family}' does not take captions (its generator takes "
                            f"{', '.join(gen.inputs)}); generate needs a text-to-image run (family text2image)")
    return gen


def generate(run_dir: str | Path, caption: str, num: int = 16, seed: int = 0) -> torch.Tensor:
    """`num` images (num, C, H, W) in [-1, 1] of one caption, from a text-to-image run: G(z, e(caption)) for `num`
    draws of z (`seed`)."""
    gen = text_generator(run_dir)
    e = caption_embeddings(gen, [caption])
    return gen.sample(num, seed=seed, condition=e.expand(num, -1).contiguous())


def interpolate_captions(run_dir: str | Path, first: str, second: str, rows: int = 6, steps: int = 9,
                         seed: int = 0) -> torch.Tensor:
    """A walk from one caption to another: (rows·steps, C, H, W), row r keeping one z and stepping the embedding
    linearly from `first`'s (column 0) to `second`'s (the last column), as GAN-INT trains on such mixtures."""
    return caption_walk(text_generator(run_dir), first, second, rows, steps, seed)


def caption_walk(gen: Generator, first: str, second: str, rows: int = 6, steps: int = 9, seed: int = 0,
                 cache: bool = True) -> torch.Tensor:
    """`interpolate_captions` with a text-to-image generator already loaded (the explorer's; `cache` as in
    `caption_embeddings`)."""
    _check_count(rows)
    if steps < 2:
        raise GanforgeError(f"steps must be ≥ 2 (both ends are drawn), got {steps}")
    a, b = caption_embeddings(gen, [first, second], cache=cache)
    t = torch.linspace(0, 1, steps)[:, None]
    walk = (1 - t) * a + t * b  # (steps, D)
    z = gen.latents(rows, seed).repeat_interleave(steps, 0)
    return generate_batches(gen.net, z, walk.repeat(rows, 1))


def text_arrays(x: torch.Tensor, captions: list[str]) -> dict[str, np.ndarray]:
    """The arrays of a text-to-image samples file: 'images' uint8 (N, H, W, C) and 'captions', one per image."""
    return {"images": image_io.to_uint8(x), "captions": np.array(captions)}

