"""Typed run configuration: YAML file + dotted `key=value` overrides, validated by pydantic.

Unknown keys and wrongly typed values are errors that name the key and suggest close matches,
never silent corrections.
"""
from __future__ import annotations

import difflib
import os
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import GanforgeError

# The configs ship inside the package (a checkout's `configs/` is a link to this folder), so that an installed
# ganforge trains its default model and knows every config by name wherever it is run from.
PACKAGED_CONFIGS = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG_NAME = "dcgan-fashion"
DEFAULT_CONFIG = PACKAGED_CONFIGS / f"{DEFAULT_CONFIG_NAME}.yaml"


class Strict(BaseModel):
    # NaN and ±inf are never a sensible setting: refuse them in every float field
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# the metrics ganforge.scoring computes; named here so a config with a misspelt one fails when it loads
MetricName = Literal["fid", "kid", "is", "pr", "dc", "modes", "parzen", "tstr", "nn"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


def _device_name(name: str) -> str:
    """"auto", "cpu", "cuda", "cuda:1", "mps": checked for form here, for existence when the run starts."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", name):
        raise ValueError("expected auto, cpu, cuda, cuda:N or mps")
    return name


Device = Annotated[str, AfterValidator(_device_name)]


class DataConfig(Strict):
    name: str = "fashion-mnist"
    path: str | None = None  # explicit data file/folder; otherwise the lookup order of ganforge.data
    image_size: int | None = Field(None, ge=4, le=4096)  # resize images to this; None keeps the dataset's own size
    channels: Literal[1, 3] | None = None  # grey or RGB; None keeps the dataset's own
    # size of synthetic (2-D mixture) datasets; a seeded random subset of the others
    num_samples: int | None = Field(None, ge=1)
    # semi-supervised training: keep the labels of this many training examples per class (a balanced subset drawn
    # with train.seed); every example still serves as unlabelled data. Only semi-supervised families accept it.
    labels_per_class: int | None = Field(None, ge=1)
    # DataLoader worker processes that read and decode streamed shards (data.name=shards) beside training; 0 reads
    # them in the training process. The batches are the same for any number; in-memory datasets ignore it.
    workers: int = Field(0, ge=0, le=256)
    # an image-to-image task derived from the dataset (ganforge.data.paired): the batch field "source" holds
    # edges / a 2× or 4× downscaled copy / the inverted image / the image with a hole, and x the image itself
    task: Literal["edges", "downscale2", "downscale4", "invert", "inpaint", "inpaint_random"] | None = None
    # data.name=pairs (a user's paired images): which side is the input; BtoA swaps pix2pix's A and B
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    # text-to-image: each example's captions (Fashion-MNIST's made from its class and measured attributes, a folder's
    # caption files, or on shards those packed into them) and their sentence embeddings, the field "embedding" (one
    # caption drawn per visit); see ganforge.data.captions
    captions: Literal["attributes", "files"] | None = None
    encoder: str = "all-MiniLM-L6-v2"  # the sentence encoder: the bundled model, or a local sentence-transformers folder


class NetConfig(Strict):
    """One network: an architecture name from ganforge.nets and its keyword arguments."""

    arch: str
    args: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(Strict):
    name: Literal["adam", "rmsprop", "sgd"] = "adam"
    lr: float = Field(2e-4, gt=0.0)
    betas: tuple[Annotated[float, Field(ge=0.0, lt=1.0)], Annotated[float, Field(ge=0.0, lt=1.0)]] = (0.5, 0.999)
    momentum: float = Field(0.0, ge=0.0, lt=1.0)  # sgd / rmsprop only
    weight_decay: float = Field(0.0, ge=0.0)


class TrainConfig(Strict):
    steps: int = Field(5000, ge=1)  # generator steps (one "step" = one pass over all phases)
    batch_size: int = Field(64, ge=1)
    seed: int = Field(0, ge=0, lt=2**63)
    time_budget: float | None = Field(None, gt=0.0)  # seconds of training (this invocation) before a clean stop
    # what `time_budget` (and lr_decay_over=time_budget) counts: wall seconds of the training steps, or the CPU
    # seconds this process spent in them (time.process_time: a fair equal budget on a shared machine)
    budget_clock: Literal["wall", "cpu"] = "wall"
    # autocast the forward passes to bfloat16 (CPU and CUDA); "auto": only where the hardware computes bf16
    # natively (a CPU with AVX512-BF16 or AMX, a CUDA GPU that supports it), never where it is emulated
    bf16: bool | Literal["auto"] = False
    # decay of an exponential moving average of G's weights, e.g. 0.999; null = no EMA (0 is refused, not "off")
    ema: float | None = Field(None, gt=0.0, lt=1.0)
    device: Device = "auto"
    threads: int | None = Field(None, ge=1, le=1024)  # torch CPU threads; None keeps torch's default
    # learning-rate schedule of every network: constant, or held until `lr_decay_start` × steps and then linearly
    # to zero at `steps` (pix2pix/CycleGAN's schedule; on the 2-D mixtures it tightens the modes)
    lr_decay: Literal["none", "linear"] = "none"
    lr_decay_start: float = Field(0.5, ge=0.0, lt=1.0)
    # what the schedule's progress counts: steps (a function of the step alone: resumes bit-for-bit), or the
    # seconds of `time_budget` spent in this invocation (for "train for 5 minutes": the rates reach zero as the
    # budget ends; the schedule then follows the clock, so two runs differ unless their steps take the same time)
    lr_decay_over: Literal["steps", "time_budget"] = "steps"
    # on several processes (torchrun): batch norm statistics over the global batch (SyncBatchNorm; CUDA only in
    # torch) rather than over each rank's share; one process ignores it
    sync_bn: bool = False

    @model_validator(mode="after")
    def _decay_clock(self):
        if self.lr_decay_over == "time_budget" and self.time_budget is None:
            raise ValueError("train.lr_decay_over=time_budget needs train.time_budget (the seconds the schedule spans)")
        if self.lr_decay_over == "time_budget" and self.lr_decay == "none":
            raise ValueError("train.lr_decay_over=time_budget says how a decay counts its way; set train.lr_decay=linear")
        return self


OPERATIONS = ("translation", "cutout", "colour")


class AugmentConfig(Strict):
    """Differentiable augmentation of real and fake images as D sees them (ganforge.augment): DiffAugment with a
    fixed probability `p` per operation and image, or ADA's controller steering p towards `ada_target`."""

    policy: list[Literal["translation", "cutout", "colour"]] = Field(default_factory=list)  # empty: off
    p: float = Field(1.0, gt=0.0, le=1.0)  # without ada: each operation's probability per image (DiffAugment: 1)
    ada: bool = False  # p starts at 0 and follows D's overfitting heuristic r_t
    ada_target: float = Field(0.6, gt=0.0, lt=1.0)  # r_t = E[sign(D(x_real) - boundary)] that p steers to
    ada_images: int = Field(50_000, ge=1)  # images shown to D for p to move from 0 to 1 (Karras et al.: 500k)
    ada_interval: int = Field(4, ge=1)  # D steps between adjustments of p

    @field_validator("policy", mode="before")
    @classmethod
    def _split(cls, value):
        # "translation,cutout,color" on the command line; DiffAugment's spelling "color" is accepted
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return ["colour" if v == "color" else v for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _consistent(self):
        if self.ada and not self.policy:
            raise ValueError(f"augment.ada needs operations in augment.policy (from {', '.join(OPERATIONS)})")
        if len(set(self.policy)) != len(self.policy):
            raise ValueError(f"augment.policy names an operation twice: {self.policy}")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.policy)


class LogConfig(Strict):
    every: int = Field(50, ge=1)  # steps between metrics lines / progress-bar updates
    sample_every: int = Field(500, ge=1)  # steps between fixed-z sample grids
    grid: int = Field(64, ge=1, le=1024)  # images in a grid
    tensorboard: bool = True
    progress: bool = True


class CheckpointConfig(Strict):
    every: int = Field(1000, ge=1)  # steps between checkpoints (one is always written when training stops)
    keep: int = Field(3, ge=0)  # newest checkpoints kept; 0 keeps every one


class EvalConfig(Strict):
    every: int = Field(0, ge=0)  # steps between evaluations during training; 0 = never
    num: int = Field(2000, ge=2)  # generated samples per evaluation (FID's covariance needs two)
    metrics: list[MetricName] = Field(default_factory=lambda: ["fid", "kid"])
    final: bool = False  # evaluate `final_num` samples when training ends and write RUN/eval.md + eval.json
    final_num: int = Field(10_000, ge=2)
    final_metrics: list[MetricName] = Field(default_factory=lambda: ["fid", "kid", "is", "pr", "dc", "modes"])
    # the feature network's file (`ganforge evaluator train --out FILE`); None: the dataset's built-in evaluator
    evaluator: str | None = None


class DoctorConfig(Strict):
    """The doctor (ganforge.train.doctor): what it watches and when a sign counts. NaN/Inf always stops a run."""

    enabled: bool = True  # diagnoses and doctor/diversity; off: only the NaN/Inf stop remains
    patience: int = Field(3, ge=1)  # consecutive windows a sign must hold (and be gone, to clear)
    warmup_steps: int = Field(500, ge=0)  # no mode-collapse verdicts before this step (with train.ema: ≥ 2/(1-ema))
    d_wins_fake: Fraction = 0.05  # discriminator_wins: D(G(z)) below this ...
    d_wins_real: Fraction = 0.95  # ... and D(x) above this; or, without D(x), D's loss in [0, d_loss_floor)
    d_loss_floor: float = Field(0.01, ge=0.0)
    grad_fraction: Fraction = 0.01  # vanishing_generator_gradient: grad_norm/G below this × its early median
    grad_baseline: int = Field(5, ge=1, le=20)  # the first windows whose largest grad_norm/G is the reference
    min_diversity: float = Field(0.3, ge=0.0)  # mode_collapse: fixed-z samples' mean pairwise distance / real data's
    mode_drop: int = Field(2, ge=1)  # mode_collapse: eval classes_covered / modes this far below their best
    kl_rise: float = Field(0.5, gt=0.0)  # mode_collapse: eval class_kl this far above its best
    oscillation_windows: int = Field(12, ge=4, le=10_000)  # oscillation: windows looked at
    oscillation_amplitude: float = Field(0.18, gt=0.0)  # std of D(G(z)) around its linear trend over those windows
    oscillation_relative: float = Field(0.5, gt=0.0)  # without D(G(z)): std of D's loss around its trend / its mean
    oscillation_crossings: Fraction = 0.4  # fraction of window-to-window steps that cross the trend
    fid_evals: int = Field(4, ge=2)  # oscillation: evaluations of FID alternating up/down with no new best
    # discriminator_overfits: D calls this much larger a share of fixed training images real than of held-out ones
    overfit_gap: float = Field(0.3, gt=0.0, le=1.0)
    overfit_examples: int = Field(256, ge=16, le=10_000)  # training and held-out images it compares (each)
    overfit_every: int = Field(250, ge=0)  # steps between those comparisons (at logging windows); 0: never


class RunConfig(Strict):
    family: str = "gan"
    latent_dim: int = Field(100, ge=1, le=65_536)
    latent: Literal["normal", "uniform"] = "normal"
    data: DataConfig = Field(default_factory=DataConfig)
    nets: dict[str, NetConfig]
    optim: dict[str, OptimConfig] = Field(default_factory=dict)  # per network; missing → OptimConfig()
    objective: dict[str, Any] = Field(default_factory=dict)  # family-specific options, validated by the family
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    doctor: DoctorConfig = Field(default_factory=DoctorConfig)

    def optim_for(self, net: str) -> OptimConfig:
        return self.optim.get(net, OptimConfig())


def _describe(err: ValidationError, source: str) -> str:
    """One line for one problem; a line each under a heading for several."""
    problems = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}'" + _suggest(e["loc"]))
        else:
            problems.append(f"{key}: {e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})")
    if len(problems) == 1:
        return f"invalid config ({source}): {problems[0]}"
    return "\n  ".join([f"invalid config ({source}):"] + problems)


def _suggest(loc: tuple) -> str:
    """Close matches for an unknown key, looked up among the fields of the model that holds it."""
    model: Any = RunConfig
    parts = list(loc[:-1])
    while parts:
        field = getattr(model, "model_fields", {}).get(parts.pop(0))
        if field is None:
            return ""
        ann = field.annotation
        if typing.get_origin(ann) is dict:  # e.g. optim: dict[str, OptimConfig]: skip the network name
            ann = typing.get_args(ann)[1]
            if parts:
                parts.pop(0)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return ""
        model = ann
    names = list(getattr(model, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=3)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; known keys: {', '.join(names)}"


def parse_value(text: str) -> Any:
    """A command-line value, read as YAML so `1e-4`, `true`, `[0.5, 0.9]` and `null` mean what they look like."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    for item in overrides:
        if "=" not in item:
            raise GanforgeError(f"override '{item}' is not of the form key=value")
        key, _, value = item.partition("=")
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise GanforgeError(f"override '{key}': '{part}' is a value, not a section")
            node = child
        node[parts[-1]] = parse_value(value)
    return raw


def available_configs() -> dict[str, Path]:
    """The configs that ship with ganforge: bare name (file name without `.yaml`) → file, sorted by name."""
    return dict(sorted((p.stem, p) for p in PACKAGED_CONFIGS.glob("*.yaml")))


def resolve_config(name_or_path: str | Path) -> Path:
    """The YAML file a config argument names: a path, or the bare name of a packaged config.

    A name that holds a path separator, or that exists on disk, is a path and is returned as it is (a missing file
    is reported when it is read, never swapped for a packaged config of a similar name). Anything else is a bare
    name, with or without `.yaml`: `pix2pix-edges-fashion` and `pix2pix-edges-fashion.yaml` both name
    `ganforge/configs/pix2pix-edges-fashion.yaml`. An unknown name raises a GanforgeError listing the known ones.
    """
    text = str(name_or_path)
    separators = [s for s in (os.sep, os.altsep, "/") if s]
    if any(s in text for s in separators) or Path(text).exists():
        return Path(name_or_path)
    name = text.removesuffix(".yaml").removesuffix(".yml")
    configs = available_configs()
    if name in configs:
        return configs[name]
    close = difflib.get_close_matches(name, list(configs), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    known = f"packaged configs: {', '.join(configs) or 'none'}"
    if text != name:  # a file name (NAME.yaml): say first that the file is not there
        raise GanforgeError(f"config file not found: {text} (and no packaged config is named '{name}'; {hint}{known})")
    raise GanforgeError(f"config '{text}': no such file and no packaged config of that name; {hint}{known}")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """A validated RunConfig from a YAML path or packaged config name (None: the default), plus key=value overrides."""
    path = resolve_config(path) if path is not None else DEFAULT_CONFIG
    if path.is_dir():
        raise GanforgeError(f"config {path}: is a folder, not a YAML file")
    if not path.is_file():
        # a checkout's `configs/NAME.yaml` used outside the checkout: point to the packaged config, never load it
        name = path.name.removesuffix(".yaml")
        hint = f" (ganforge ships a config named '{name}': give it bare)" if name in available_configs() else ""
        raise GanforgeError(f"config file not found: {path}{hint}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise GanforgeError(f"config {path}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise GanforgeError(f"config {path}: not a text file (byte {e.start} is not UTF-8)") from None
    except yaml.YAMLError as e:
        raise GanforgeError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(raw, dict):
        raise GanforgeError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return config_from_dict(apply_overrides(raw, overrides or []), source=str(path))


def config_from_dict(raw: dict, source: str = "dict") -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as e:
        raise GanforgeError(_describe(e, source)) from None
