"""What every family shares: building its networks from the config, latent sampling, phases, monitors."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from torch import nn

from ..augment import Augment
from ..config import RunConfig
from ..data.base import Dataset, FieldSpec
from ..errors import GanforgeError
from ..nets import build_net

_FAMILIES: dict[str, type["Family"]] = {}


def register_family(name: str):
    def add(cls):
        if "phases" not in vars(cls) and not any("phases" in vars(b) for b in cls.__mro__[1:-1] if b is not Family):
            raise TypeError(f"family {cls.__name__} must define phases()")
        cls.name = name
        _FAMILIES[name] = cls
        return cls

    return add


def draw_latents(cfg: RunConfig, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """n draws of z from the run's prior (`latent`: N(0, I) or uniform on [-1, 1]^d); `generator` None draws from
    the global RNG (training), a seeded one gives draws that never disturb it (grids, evaluation, sampling)."""
    if cfg.latent == "uniform":
        return torch.rand(n, cfg.latent_dim, generator=generator, device=device) * 2 - 1
    return torch.randn(n, cfg.latent_dim, generator=generator, device=device)


def get_family(name: str) -> type["Family"]:
    if name not in _FAMILIES:
        close = difflib.get_close_matches(name, list(_FAMILIES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise GanforgeError(f"unknown family '{name}'{hint} (known: {', '.join(sorted(_FAMILIES))})")
    return _FAMILIES[name]


def available_families() -> dict[str, str]:
    return {name: (cls.__doc__ or "").strip().splitlines()[0] for name, cls in sorted(_FAMILIES.items())}


@dataclass(frozen=True)
class Phase:
    """One optimisation step of some networks: `repeat` times per training step, each with a fresh batch."""

    name: str  # the Family method that returns this phase's losses
    updates: tuple[str, ...]  # networks whose optimisers step after it
    repeat: int = 1
    data: bool = True  # whether it needs a real batch (a generator step does not)
    # reuse the batch of the phase before instead of drawing one (CycleGAN's D step judges the real images whose
    # translations its G step just made, and which the family kept)
    same_batch: bool = False


class Batch:
    """The data of one phase: named fields (`batch.x`, `batch.label`, …; each with the batch first) and its size.
    A batch carries only the fields its family `needs`; `streams` holds the batches of the family's extra streams
    (`batch.labelled`, the semi-supervised few). A phase that needs no data gets a batch of no fields."""

    def __init__(self, size: int, fields: dict[str, torch.Tensor] | None = None,
                 streams: dict[str, "Batch"] | None = None):
        self.size, self.fields, self.streams = size, dict(fields or {}), dict(streams or {})

    def __getattr__(self, name: str):
        # called only for names that are not ordinary attributes: the fields and streams
        if name in ("fields", "streams"):
            raise AttributeError(name)
        if name in self.fields:
            return self.fields[name]
        if name in self.streams:
            return self.streams[name]
        raise AttributeError(f"this batch has no field or stream '{name}' (it has: "
                             f"{', '.join([*self.fields, *self.streams]) or 'nothing'})")

    def __contains__(self, name: str) -> bool:
        return name in self.fields or name in self.streams


@dataclass(frozen=True)
class Signals:
    """Which of a family's monitors tell the doctor what its discriminator believes (see `Family.signals`)."""

    p_real: str | None = None  # the monitor of D's mean probability that real data is real (e.g. "D(x)")
    p_fake: str | None = None  # ... that the generator's samples are real (e.g. "D(G(z))")
    # False when G learns from something other than D's verdict (feature matching): a D that rejects every fake
    # then starves nothing
    g_learns_from_d: bool = True


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Family(nn.Module):
    """Base class. Subclasses set `networks` ({name: "generator" | "discriminator" | ...}), an `Options` model
    for `config.objective`, and `phases()`; each phase method takes a Batch and returns {loss name: scalar}."""

    name: ClassVar[str] = ""
    networks: ClassVar[dict[str, str]] = {}
    generator: ClassVar[str] = "G"  # the network that `sample`, sample grids and evaluation use
    # what a generator is called with, when not z alone: {network: ("z" or a data field, …)}; a translator maps
    # images of a field (("x",)), a text-conditioned G takes (z, an embedding field). Sample grids call the
    # generator with fixed z and fixed real examples of those fields.
    inputs: ClassVar[dict[str, tuple[str, ...]]] = {}
    # image-to-image families: the generator of each direction ({"AtoB": "G"}; CycleGAN has "BtoA" too)
    directions: ClassVar[dict[str, str]] = {}
    Options: ClassVar[type[Options]] = Options
    # the fields of the data its phases read: a batch carries these and no others (so labels a family must not
    # see stay hidden); the loop checks the data has them
    needs: ClassVar[tuple[str, ...]] = ("x",)
    # True: the family learns from a few labelled examples beside unlabelled data (`data.labels_per_class`)
    semi_supervised: ClassVar[bool] = False
    # True: its discriminators judge images, so `augment:` applies; every image a D sees goes through `d_sees`, in
    # D's steps and in G's, and D's cost reports its real-image scores to `observe_real` (the ADA controller)
    augmentable: ClassVar[bool] = False

    def __init__(self, cfg: RunConfig, data_shape: tuple[int, ...], num_classes: int = 0,
                 fields: dict[str, FieldSpec] | None = None):
        super().__init__()
        self.cfg = cfg
        self.data_shape = tuple(data_shape)
        self.num_classes = num_classes
        # what each field of the data holds (`Dataset.spec`; run.json keeps it): the shapes of a translator's input
        # or of a condition, which data_shape (the generated x) does not give
        self.fields = dict(fields or {})
        self.opts = self.check_config(cfg)
        self.nets = nn.ModuleDict({n: self.build(n, role) for n, role in self.networks.items()})
        self._monitors: dict[str, torch.Tensor] = {}
        self.step = 0  # training steps completed before the current one; set by the loop
        self.augment = Augment(cfg.augment, cfg.train.batch_size) if cfg.augment.enabled else None

    # -- construction -----------------------------------------------------------------------------------------
    @classmethod
    def check_config(cls, cfg: RunConfig) -> Options:
        """Everything about `cfg` this family can judge without data: its objective options (with close matches
        for unknown keys), its networks, the data options it accepts. Runs before a run touches disk or data."""
        if cfg.data.labels_per_class is not None and not cls.semi_supervised:
            semi = sorted(n for n, f in _FAMILIES.items() if f.semi_supervised)
            raise GanforgeError(f"data.labels_per_class applies to semi-supervised families ({', '.join(semi)}); "
                                f"family '{cls.name}' is not one")
        try:
            opts = cls.Options.model_validate(cfg.objective)
        except ValidationError as e:
            raise GanforgeError(f"family '{cls.name}': " + "; ".join(map(cls._describe_option, e.errors()))) from None
        if cfg.augment.enabled and not cls.augmentable:
            can = sorted(n for n, f in _FAMILIES.items() if f.augmentable)
            raise GanforgeError(f"augment.policy: family '{cls.name}' has no discriminator that judges images alone, so "
                                f"there is nothing to augment (families that take it: {', '.join(can)})")
        missing = set(cls.networks) - set(cfg.nets)
        if missing:
            raise GanforgeError(f"family '{cls.name}' needs networks {sorted(cls.networks)}; "
                                f"config 'nets' lacks {sorted(missing)}")
        extra = set(cfg.nets) - set(cls.networks)
        if extra:
            raise GanforgeError(f"family '{cls.name}' has no network(s) {sorted(extra)} (it uses {sorted(cls.networks)})")
        return opts

    @classmethod
    def _describe_option(cls, error: dict) -> str:
        key = ".".join(map(str, error["loc"]))
        if error["type"] != "extra_forbidden":
            msg = error["msg"].removeprefix("Value error, ")
            return f"objective.{key}: {msg} (got {error['input']!r})" if key else f"objective: {msg}"
        known = list(cls.Options.model_fields)
        close = difflib.get_close_matches(key, known, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known: {', '.join(known)}"
        return f"unknown key 'objective.{key}'; {hint}"

    def build(self, name: str, role: str) -> nn.Module:
        """Networks get the shapes they need from the data; everything else comes from `nets.<name>.args`."""
        net_cfg = self.cfg.nets[name]
        shape_args = {
            "generator": {"latent_dim": self.cfg.latent_dim, "out_shape": self.data_shape},
            "discriminator": {"in_shape": self.in_shape(name)},
        }[role]
        return build_net(net_cfg.arch, **shape_args, **net_cfg.args)

    def build_trunk(self, name: str, purpose: str, in_shape: tuple[int, ...] | None = None) -> nn.Module:
        """`nets.<name>` built as a discriminator architecture whose `features()` another head will read
        (projection and class heads, encoders, joint discriminators); `purpose` names that head in the error."""
        net_cfg = self.cfg.nets[name]
        trunk = build_net(net_cfg.arch, in_shape=in_shape or self.data_shape, **net_cfg.args)
        if not hasattr(trunk, "features"):
            raise GanforgeError(f"{purpose} needs nets.{name} with features() (a discriminator architecture); "
                                f"'{net_cfg.arch}' has none")
        return trunk

    @classmethod
    def require_classes(cls, cfg: RunConfig, num_classes: int) -> None:
        """For families that learn from class labels: a clear error when the data has fewer than two classes."""
        if num_classes < 2:
            raise GanforgeError(f"family '{cls.name}' needs a labelled dataset with ≥ 2 classes; data "
                                f"'{cfg.data.name}' has {num_classes or 'no'} labels")

    def field_shape(self, field: str) -> tuple[int, ...]:
        """The shape of one example of data field `field` (the generated x: data_shape)."""
        if field == "x":
            return self.data_shape
        if field not in self.fields:
            raise GanforgeError(f"family '{self.name}' needs the data field '{field}'; the data has "
                                f"{', '.join(self.fields) or 'no field description'}")
        return tuple(self.fields[field].shape)

    def in_shape(self, name: str) -> tuple[int, ...]:
        """The input shape of discriminator `name`: the data's, unless a family packs or pairs its inputs."""
        return self.data_shape

    # -- what the loop calls ----------------------------------------------------------------------------------
    def streams(self, data: Dataset) -> dict[str, tuple[Dataset, int]]:
        """Batch streams beside the main one, as {name: (data, batch size)}: each is drawn every time a phase
        draws a batch, and reaches the phase as `batch.<name>`. None by default."""
        return {}

    def generator_inputs(self, name: str | None = None) -> tuple[str, ...]:
        return self.inputs.get(name or self.generator, ("z",))

    def generators(self) -> list[str]:
        """The networks that generate: generators and translators (every one gets an EMA copy with train.ema)."""
        return [n for n, role in self.networks.items() if role in ("generator", "translator")]

    def training_state(self) -> dict:
        """What the family keeps between steps beyond network weights and buffers (an image pool, a schedule's
        counters): tensors, numbers, lists and dicts of them. Saved in every checkpoint and handed back to
        `load_training_state` on resume, so a resumed run continues bit for bit. Nothing by default."""
        return {}

    def judge(self, batch: Batch) -> torch.Tensor | None:
        """The discriminator's raw scores of the real examples in `batch`, as its cost sees them but without
        augmentation (the doctor compares training images with held-out ones); None where no discriminator judges
        examples alone."""
        return None

    def load_training_state(self, state: dict) -> None:
        """Restore what `training_state` returned."""

    @classmethod
    def has_encoder(cls) -> bool:
        return cls.encode is not Family.encode

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The latent code the family infers for examples x (families with an encoder: BiGAN, VAE)."""
        raise GanforgeError(f"family '{self.name}' has no encoder; encode/reconstruct need one (bigan, vae)")

    def after_update(self, phase: Phase) -> None:
        """Hook after a phase's optimiser step (e.g. weight clipping)."""

    @classmethod
    def has_test_metrics(cls) -> bool:
        return cls.test_metrics is not Family.test_metrics

    def test_metrics(self, test: Dataset) -> dict[str, float]:
        """Metrics of the trained networks on the test split beyond sample quality (a classifier's error, a
        likelihood bound), added to the final evaluation. Called in eval mode without gradients; {} by default."""
        return {}

    # set by the training loop on several processes: n ↦ this rank's share of the global batch's z (the same draw
    # on every rank, sliced), so the ranks together see the z one process would
    draw_z: Callable[[int], torch.Tensor] | None = None

    def z(self, n: int) -> torch.Tensor:
        if self.draw_z is not None:
            return self.draw_z(n)
        return draw_latents(self.cfg, n, device=next(self.parameters()).device)

    # -- differentiable augmentation (ganforge.augment) -----------------------------------------------------------
    def d_sees(self, x: torch.Tensor) -> torch.Tensor:
        """An image batch as a discriminator sees it: augmented when `augment:` is on, else unchanged."""
        return x if self.augment is None else self.augment(x)

    def observe_real(self, real_scores: torch.Tensor) -> None:
        """D's raw scores of the real training images of a D step, for ADA's overfitting heuristic."""
        if self.augment is not None and self.augment.cfg.ada:
            self.augment.observe(real_scores - self.game.boundary)

    # -- monitors: detached values shown in the progress bar and metrics.jsonl --------------------------------
    def monitor(self, **values: torch.Tensor) -> None:
        for k, v in values.items():
            self._monitors[k] = v.detach()

    def signals(self) -> Signals:
        """The monitors the doctor reads D's verdicts from. None by default: the doctor then judges the
        discriminator by its loss alone."""
        return Signals()

    @classmethod
    def remedies(cls, opts: dict) -> dict[str, str]:
        """The doctor's remedies that are options of this family's `objective:`, for a run whose validated options
        are `opts` (`Options.model_dump()`): {remedy: advice naming the config key}, only those that apply to the
        run. The doctor offers them where its plan for a diagnosis names them (ganforge.train.doctor.remedies.PLAN:
        fewer_d_steps, more_g_steps, non_saturating_cost, label_smoothing, instance_noise, unsaturating_loss,
        packing, content_loss, unrolled_d, feature_matching, gradient_penalty) beside the settings every run has.
        By default: those of the options that mean the same in every family that has them, `loss` (the game,
        objectives.GAMES) and `d_steps`."""
        offered = {}
        if opts.get("d_steps", 1) > 1:
            offered["fewer_d_steps"] = f"fewer D steps per G step (objective.d_steps, now {opts['d_steps']})"
        if opts.get("loss") in ("bce", "fgan"):  # a game whose generator cost can saturate
            # the critic's game needs a penalty on D: offered only to families that have the option
            critic = (", or wasserstein with objective.gradient_penalty=10"
                      if "gradient_penalty" in cls.Options.model_fields else "")
            offered["unsaturating_loss"] = f"a loss whose gradient does not saturate (objective.loss=least_squares{critic})"
        return offered

    def pop_monitors(self) -> dict[str, torch.Tensor]:
        out, self._monitors = self._monitors, {}
        return out
