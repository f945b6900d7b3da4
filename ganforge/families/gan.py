"""The adversarial game of one generator G and one discriminator (or critic) D, with every objective and
stabiliser of the lectures as an option in `objective:` of the config.

Goodfellow et al. 2014 is `loss: bce` with the `mlp_generator` / `maxout_discriminator` networks; DCGAN is
the same with the `dcgan_*` networks. WGAN, WGAN-GP, LSGAN, hinge and f-GAN change `loss` (and the penalty or
clipping that keeps a critic Lipschitz); `wgan.py` only sets the papers' defaults. `generators: k` turns G into a
mixture of k generators and gives D a head that names which one made a sample (MGAN, Hoang et al. 2018).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn
from torch.func import functional_call

from .. import objectives
from ..errors import GanforgeError
from ..nets.conditional import AuxClassifierDiscriminator, balanced_labels, feature_dim
from ..nets.mixture import MixtureGenerator
from .base import Batch, Family, Options, Phase, Signals, register_family

class GANOptions(Options):
    # -- the objective ---------------------------------------------------------------------------------------
    loss: Literal["bce", "wasserstein", "least_squares", "hinge", "fgan"] = "bce"
    generator_cost: Literal["non_saturating", "minimax", "maximum_likelihood"] = "non_saturating"  # bce only
    divergence: str = "gan"  # fgan only: a key of objectives.DIVERGENCES
    fgan_heuristic: bool = True  # fgan only: G maximises E g_f(V(G(z))) (the paper's non-saturating variant)
    # -- update schedule (TTUR: per-network learning rates live in optim.<net>.lr) -----------------------------
    d_steps: int = Field(1, ge=1)  # k of Algorithm 1: discriminator steps per generator step
    g_steps: int = Field(1, ge=1)  # generator steps per training step
    # -- stabilisers -------------------------------------------------------------------------------------------
    real_target: float = Field(1.0, gt=0, le=1)  # bce only; < 1 is one-sided label smoothing (Salimans: 0.9)
    gradient_penalty: float = Field(0.0, ge=0)  # λ of WGAN-GP on real-fake interpolates (Gulrajani: 10)
    r1: float = Field(0.0, ge=0)  # γ of the R1 penalty on real data (Mescheder et al. 2018)
    clip: float | None = Field(None, gt=0)  # WGAN weight clipping to [−c, c] after every D step (Arjovsky: 0.01)
    instance_noise: float = Field(0.0, ge=0)  # σ of Gaussian noise added to D's inputs, annealed linearly to 0
    instance_noise_steps: int | None = Field(None, ge=1)  # steps to anneal over; None = train.steps
    feature_matching: bool = False  # G matches the mean of D.features() on real data (Salimans et al. 2016)
    unrolled_steps: int = Field(0, ge=0)  # G sees D after k differentiable SGD steps (Metz et al. 2017)
    unrolled_lr: float | None = Field(None, gt=0)  # SGD step of the unrolling; None = D's learning rate
    pack: int = Field(1, ge=1)  # PacGAN: D judges `pack` samples at once, concatenated along channels
    separate_batches: bool = True  # real and fake through D in separate calls (batch norm never mixes them)
    # -- several generators (MGAN, Hoang et al. 2018) -----------------------------------------------------------
    generators: int = Field(1, ge=1, le=64)  # k: a uniform mixture of k generators; D also names which made a sample
    diversity: float = Field(0.01, ge=0)  # β of MGAN: weight of that "which generator" cross-entropy (MGAN's code: 0.01)

    @model_validator(mode="after")
    def _consistent(self):
        # the options of one game (objectives.GAMES) keep their defaults under another
        for key, (owner, default) in objectives.all_game_options().items():
            if owner != self.loss and getattr(self, key) != default:
                raise ValueError(f"{key} applies to loss '{owner}' only (loss is '{self.loss}')")
        if self.loss == "fgan" and self.divergence not in objectives.DIVERGENCES:
            raise ValueError(f"divergence '{self.divergence}' unknown; choose from {sorted(objectives.DIVERGENCES)}")
        if self.generators == 1 and self.diversity != GANOptions.model_fields["diversity"].default:
            raise ValueError("diversity applies with generators > 1 only")
        if self.generators > 1:
            # each of these judges or packs examples without knowing which generator made them
            for key, value in (("pack", 1), ("feature_matching", False), ("unrolled_steps", 0),
                               ("separate_batches", True)):
                if getattr(self, key) != value:
                    raise ValueError(f"generators > 1 does not combine with {key}={getattr(self, key)!r} yet")
        return self

    def game(self) -> objectives.Game:
        """The objective these options choose, from the registry of games."""
        return objectives.game(self.loss, **{k: getattr(self, k) for k in objectives.game_options(self.loss)})


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, C, …) → (N/m, m·C, …): m consecutive examples become one input of m times the channels."""
    return x if m == 1 else x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


def _has_batch_norm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


@register_family("gan")
class GAN(Family):
    """Generator vs discriminator: bce (Goodfellow), wasserstein, least_squares, hinge or f-GAN, with stabilisers."""

    networks = {"G": "generator", "D": "discriminator"}
    Options = GANOptions
    augmentable = True

    def __init__(self, cfg, data_shape, num_classes=0, **kw):
        super().__init__(cfg, data_shape, num_classes, **kw)
        o = self.opts
        if cfg.train.batch_size % o.pack:
            raise GanforgeError(f"objective.pack={o.pack} must divide train.batch_size={cfg.train.batch_size}")
        if (o.gradient_penalty or o.r1) and _has_batch_norm(self.nets.D):
            # the penalty's per-example input gradient is wrong when batch norm couples the examples
            raise GanforgeError("objective.gradient_penalty / objective.r1 need a discriminator without batch norm "
                                "(e.g. nets.D.args.batch_norm=false)")
        if o.generators > 1 and cfg.train.batch_size < 2 * o.generators:
            raise GanforgeError(f"objective.generators={o.generators} needs train.batch_size ≥ {2 * o.generators} "
                                f"(two examples per generator per batch); got {cfg.train.batch_size}")
        if o.feature_matching and not hasattr(self.nets.D, "features"):
            raise GanforgeError(f"objective.feature_matching needs a discriminator with features(); "
                                f"'{cfg.nets['D'].arch}' has none")
        self.game = o.game()

    def build(self, name: str, role: str) -> nn.Module:
        """With `generators` k > 1 (MGAN): G is a mixture of k copies of the configured generator, and D gets a
        second head on its features that names which of them made a sample (MGAN's classifier C, which shares
        every layer with D but the last)."""
        k, build_one = self.opts.generators, super().build
        if k == 1:
            return build_one(name, role)
        if role == "generator":
            return MixtureGenerator([build_one(name, role) for _ in range(k)])
        trunk = self.build_trunk(name, "objective.generators > 1 (D also names the generator)", self.in_shape(name))
        return AuxClassifierDiscriminator(trunk, k, feature_dim(trunk, self.in_shape(name)))

    def signals(self) -> Signals:
        sees = not self.opts.feature_matching
        if self.game.probabilities:
            return Signals(p_real="D(x)", p_fake="D(G(z))", g_learns_from_d=sees)
        return Signals(g_learns_from_d=sees)

    @classmethod
    def remedies(cls, opts: dict) -> dict[str, str]:
        """Beside the game and D's steps: more G steps, the bce game's cost and targets, instance noise, PacGAN,
        an unrolled D, feature matching and a gradient penalty."""
        offered = {
            "more_g_steps": "more G steps per training step (objective.g_steps=2)",
            "instance_noise": "instance noise on D's inputs (objective.instance_noise=0.1)",
            "packing": "PacGAN packing (objective.pack=2)",
            "unrolled_d": "an unrolled D (objective.unrolled_steps=5)",
            "feature_matching": "feature matching (objective.feature_matching=true)",
            "gradient_penalty": "a gradient penalty on D (objective.r1=10, or objective.gradient_penalty=10; D "
                                "without batch norm)",
        }
        if opts.get("loss") == "bce":
            if opts.get("generator_cost") != "non_saturating":
                offered["non_saturating_cost"] = ("the non-saturating generator cost (objective.generator_cost="
                                                  f"non_saturating; this run: {opts.get('generator_cost')})")
            if opts.get("real_target") == 1.0:
                offered["label_smoothing"] = "one-sided label smoothing (objective.real_target=0.9)"
        return super().remedies(opts) | offered

    def in_shape(self, name: str) -> tuple[int, ...]:
        c, *rest = self.data_shape
        return (c * self.opts.pack, *rest)

    def phases(self) -> list[Phase]:
        # feature matching and unrolling compare against a real batch, so the G step then needs data too
        g_data = self.opts.feature_matching or self.opts.unrolled_steps > 0
        return [Phase("d_step", updates=("D",), repeat=self.opts.d_steps),
                Phase("g_step", updates=("G",), repeat=self.opts.g_steps, data=g_data)]

    # -- helpers -----------------------------------------------------------------------------------------------
    def noise_sigma(self) -> float:
        o = self.opts
        if not o.instance_noise:
            return 0.0
        horizon = o.instance_noise_steps or self.cfg.train.steps
        return o.instance_noise * max(0.0, 1.0 - self.step / horizon)

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees: augmentation (`augment:`), instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017),
        then packing."""
        x = self.d_sees(x)
        sigma = self.noise_sigma()
        if sigma:
            x = x + sigma * torch.randn_like(x)
        return pack(x, self.opts.pack)

    # -- conditioning hooks: a conditional family (cgan.py) overrides these three; here they ignore labels ---------
    def fake_labels(self, batch: Batch) -> torch.Tensor | None:
        """The classes G is asked for in this step (None: G is unconditional)."""
        return None

    def real_labels(self, batch: Batch) -> torch.Tensor | None:
        """The classes D is told for the real batch (None: D is unconditional)."""
        return None

    def generate(self, n: int, labels: torch.Tensor | None) -> torch.Tensor:
        z = self.z(n)
        return self.nets.G(z) if labels is None else self.nets.G(z, labels)

    @staticmethod
    def critic(D, labels: torch.Tensor | None):
        """D as a function of x alone, with the labels bound (what the penalties differentiate)."""
        return D if labels is None else (lambda x: D(x, labels))

    def scores(self, real: torch.Tensor, fake: torch.Tensor, real_y: torch.Tensor | None = None,
               fake_y: torch.Tensor | None = None, D=None) -> tuple[torch.Tensor, torch.Tensor]:
        D = D or self.nets.D
        real, fake = self.d_input(real), self.d_input(fake)
        if self.opts.separate_batches:
            return self.critic(D, real_y)(real).float(), self.critic(D, fake_y)(fake).float()
        both_y = None if real_y is None else torch.cat([real_y, fake_y])
        both = self.critic(D, both_y)(torch.cat([real, fake])).float()
        return both[: len(real)], both[len(real):]

    def judge(self, batch: Batch) -> torch.Tensor:
        return self.critic(self.nets.D, self.real_labels(batch))(pack(batch.x, self.opts.pack)).float()

    # -- phases --------------------------------------------------------------------------------------------------
    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        real_y, fake_y = self.real_labels(batch), self.fake_labels(batch)
        with torch.no_grad():
            fake = self.generate(batch.size, fake_y)
        if self.opts.generators > 1:
            real_s = self.nets.D(self.d_input(batch.x)).float()
            fake_s, which_logits = self.nets.D.classify(self.d_input(fake))
            terms = self.d_terms(batch.x, fake, real_s, fake_s.float())
            return terms | {"d_which_generator": self.which_generator_cost(which_logits, "D")}
        real_s, fake_s = self.scores(batch.x, fake, real_y, fake_y)
        return self.d_terms(batch.x, fake, real_s, fake_s, real_y)

    def which_generator_cost(self, logits: torch.Tensor, by: str) -> torch.Tensor:
        """β · cross-entropy of D's guess of which generator made each fake (they go round-robin): D's second head
        learns to tell the generators apart, and the generators minimise it too, which pushes them apart (MGAN)."""
        which = balanced_labels(len(logits), self.opts.generators, logits.device)
        self.monitor(**{f"which_generator_accuracy({by})": (logits.argmax(1) == which).float().mean()})
        return self.opts.diversity * F.cross_entropy(logits.float(), which)

    def d_terms(self, real: torch.Tensor, fake: torch.Tensor, real_s: torch.Tensor, fake_s: torch.Tensor,
                real_y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """D's adversarial cost of its scores, its monitors, and the penalties (which run D again)."""
        o = self.opts
        if self.game.probabilities:
            self.monitor(**{"D(x)": torch.sigmoid(real_s).mean(), "D(G(z))": torch.sigmoid(fake_s).mean()})
        else:
            self.monitor(**{"score(x)": real_s.mean(), "score(G(z))": fake_s.mean()})
        terms = {f"d_{self.game.name}": self.game.d_cost(real_s, fake_s)}
        self.observe_real(real_s)
        if o.loss == "wasserstein":
            self.monitor(wasserstein_estimate=real_s.mean() - fake_s.mean())
        if o.gradient_penalty:  # interpolates judged under the real batch's labels
            terms["d_gradient_penalty"] = objectives.gradient_penalty(
                self.critic(self.nets.D, real_y), self.d_input(real), self.d_input(fake), o.gradient_penalty)
        if o.r1:
            terms["d_r1"] = o.r1 * objectives.r1_penalty(self.critic(self.nets.D, real_y), self.d_input(real))
        return terms

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake_y = self.fake_labels(batch)
        fake = self.generate(batch.size, fake_y)
        if self.opts.feature_matching:
            # ‖E f(x) − E f(G(z))‖² on D's last hidden layer: G stops chasing D's current verdict
            real_f = self.nets.D.features(self.d_input(batch.x)).float().mean(0).detach()
            fake_f = self.nets.D.features(self.d_input(fake)).float().mean(0)
            return {"g_feature_matching": (real_f - fake_f).square().sum()}
        if self.opts.generators > 1:
            fake_s, which_logits = self.nets.D.classify(self.d_input(fake))
            return {"g_" + self.game.g_name: self.game.g_cost(fake_s.float()),
                    "g_which_generator": self.which_generator_cost(which_logits, "G")}
        if self.opts.unrolled_steps:
            fake_s = self._unrolled_scores(batch.x, fake, self.real_labels(batch), fake_y)
        else:
            fake_s = self.critic(self.nets.D, fake_y)(self.d_input(fake)).float()
        return {"g_" + self.game.g_name: self.game.g_cost(fake_s)}

    def after_update(self, phase: Phase) -> None:
        if phase.name == "d_step" and self.opts.clip:
            objectives.clip_weights_(self.nets.D, self.opts.clip)

    def _unrolled_scores(self, real: torch.Tensor, fake: torch.Tensor, real_y: torch.Tensor | None = None,
                         fake_y: torch.Tensor | None = None) -> torch.Tensor:
        """D's scores of `fake` after k SGD steps of D against it, differentiable through the steps (Metz et al.),
        so G is scored by where D is heading, not only where it is. D's own weights are left untouched."""
        D = self.nets.D
        lr = self.opts.unrolled_lr or self.cfg.optim_for("D").lr
        params = {n: p.detach().requires_grad_(True) for n, p in D.named_parameters()}
        buffers = {n: b.clone() for n, b in D.named_buffers()}  # unrolling must not move batch-norm statistics
        for _ in range(self.opts.unrolled_steps):
            state = params | buffers
            real_s, fake_s = self.scores(real, fake, real_y, fake_y, D=lambda *a: functional_call(D, state, a))
            grads = torch.autograd.grad(self.game.d_cost(real_s, fake_s), list(params.values()), create_graph=True)
            params = {n: p - lr * g for (n, p), g in zip(params.items(), grads)}
        final = lambda *a: functional_call(D, params | buffers, a)  # noqa: E731
        return self.critic(final, fake_y)(self.d_input(fake)).float()
