"""`ganforge doctor check-d`: debug the discriminator alone before training a GAN with it (CS109B's advice: "train
it on a vanilla classification task").

Each discriminator of the configured family that judges images alone is built from its configured architecture
(nets.<name>: arch and args, spectral norm included) and trained for a short budget as a classifier: a linear head on its features() learns the dataset's labels, or,
without labels, its own score learns to tell real images from the same images with their pixels shuffled (same
pixel values, no structure: only a D that sees shapes can tell them apart). It is compared with a linear
classifier on raw pixels trained on the same batches, and its gradients are checked on the first step. The verdict
says in plain words whether it learns, how fast, and what looks broken: layers that get no gradient (detached,
frozen or unused), a loss that turns NaN, features that ignore the input, or accuracy no better than chance.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ...config import RunConfig
from ...errors import GanforgeError
from ...evaluator_training import load_evaluator_data
from ...families import get_family
from ...nets import build_net
from ..loop import make_optimizer

HELD_OUT = 2000  # held-out images each accuracy is measured on
CHECKS = 10  # accuracy measurements over the budget


@dataclass
class Verdict:
    name: str  # the discriminator's name in the config (nets.<name>)
    task: str
    learns: bool
    accuracy: float
    baseline: float  # a linear classifier on raw pixels, same batches
    chance: float
    steps: int
    seconds: float
    curve: list[tuple[float, float]] = field(default_factory=list)  # (seconds, held-out accuracy)
    problems: list[str] = field(default_factory=list)

    def words(self) -> str:
        head = (f"nets.{self.name} as a classifier ({self.task}): held-out accuracy {self.accuracy:.1%} after "
                f"{self.steps} steps ({self.seconds:.0f} s); chance {self.chance:.1%}, a linear classifier on raw "
                f"pixels {self.baseline:.1%}.")
        halfway = self.chance + (self.accuracy - self.chance) / 2
        reached = next((t for t, a in self.curve if a >= halfway), None)
        if not self.learns:
            verdict = ("It does NOT learn as it should: fix what follows before training a GAN with it." if self.problems
                       else "It does NOT learn: fix it before training a GAN with it.")
        elif self.accuracy < self.baseline:
            verdict = ("It learns, but more slowly than a linear classifier on the raw pixels: a discriminator this "
                       "weak may give its generator little to learn from (check its width, normalisation, learning "
                       "rate).")
        else:
            verdict = (f"It learns (half of its final gain over chance within {reached:.0f} s)." if reached is not None
                       else "It learns.")
        return " ".join([head, verdict, *self.problems])


def _shuffled(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Each image with its pixel positions permuted (its own permutation): the same values, no shapes."""
    n = len(x)
    flat = x.flatten(2)
    order = torch.argsort(torch.rand(n, flat.shape[-1], generator=g), dim=1)
    return flat.gather(2, order.unsqueeze(1).expand_as(flat)).view_as(x)


def _real_or_shuffled(x: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The images (target 1) and their pixel-shuffled copies (target 0)."""
    return torch.cat([x, _shuffled(x, g)]), torch.cat([torch.ones(len(x)), torch.zeros(len(x))])


class _Probe(nn.Module):
    """D with what the tasks read: its own score (real vs shuffled, every layer of D on the path), and with labels a
    linear head on its features()."""

    def __init__(self, d: nn.Module, in_shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.d, self.num_classes = d, num_classes
        if num_classes:
            if not hasattr(d, "features"):
                raise GanforgeError("check-d with labels reads the discriminator's features(); this architecture has "
                                    "none (the discriminator contract asks for it)")
            with torch.no_grad():
                width = d.features(torch.zeros(2, *in_shape)).flatten(1).shape[1]
            self.head = nn.Linear(width, num_classes)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        out = self.d(x)
        return out.flatten(1).mean(1) if out.ndim > 1 else out  # a logits map (PatchGAN) judged as a whole

    def classes(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.d.features(x).flatten(1))


def _no_gradient(d: nn.Module) -> tuple[list[str], list[str]]:
    frozen = [n for n, p in d.named_parameters() if not p.requires_grad]
    silent = [n for n, p in d.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
    return frozen, silent


def _few(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


@torch.no_grad()
def _accuracy(predict, x: torch.Tensor, y: torch.Tensor, module: nn.Module) -> float:
    """Share of x whose prediction (class index, or score > 0 for binary targets) matches y."""
    was = module.training
    module.eval()
    hits = 0
    for i in range(0, len(x), 500):
        out = predict(x[i:i + 500])
        guess = out.argmax(1) if out.ndim == 2 else (out > 0).float()
        hits += int((guess == y[i:i + 500]).sum())
    module.train(was)
    return hits / max(1, len(x))


def check_discriminators(cfg: RunConfig, seconds: float = 60.0, log=print) -> list[Verdict]:
    """Train each discriminator of `cfg` that judges images alone as a classifier for `seconds` (shared between
    them) and say whether it learns."""
    if not 1 <= seconds <= 3600:
        raise GanforgeError(f"--seconds must be in [1, 3600], got {seconds:g}")
    d = cfg.data
    data = load_evaluator_data(d.name, d.path, image_size=d.image_size, channels=d.channels, seed=cfg.train.seed,
                               task=d.task)
    family = get_family(cfg.family)(cfg, data.shape, data.train.num_classes, fields=data.train.spec)
    names = [n for n, role in family.networks.items() if role == "discriminator"
             and tuple(family.in_shape(n)) == tuple(data.shape)]
    if not names:
        raise GanforgeError(f"family '{cfg.family}' has no discriminator that judges images alone "
                            f"({', '.join(family.networks)}); check-d has nothing to check")
    nets = {n: build_net(cfg.nets[n].arch, in_shape=data.shape, **cfg.nets[n].args) for n in names}
    return [_check(cfg, name, nets[name], data, seconds / len(names), log) for name in names]


def _check(cfg: RunConfig, name: str, d: nn.Module, data, seconds: float, log) -> Verdict:
    torch.manual_seed(cfg.train.seed)
    g = torch.Generator().manual_seed(cfg.train.seed)
    labels = data.train.labels if data.train.labels is not None and data.held_out.labels is not None else None
    k = data.train.num_classes if labels is not None else 0
    task = f"its {k} classes" if k else "real images against the same images with shuffled pixels"
    probe = _Probe(d, data.shape, k).train()
    flat = lambda x: x.flatten(1)  # noqa: E731
    pixels = nn.Linear(flat(data.held_out.x[:1]).shape[1], k or 1)  # the baseline: raw pixels, linear
    opt = make_optimizer(probe.parameters(), cfg.optim_for(name))
    opt_pixels = torch.optim.Adam(pixels.parameters(), lr=1e-3)
    held = data.held_out.x[:HELD_OUT]
    held_fake_x, held_fake_y = _real_or_shuffled(held, g)
    if k:  # the verdict reads the class accuracy; the real-vs-shuffled score is checked beside it
        primary = lambda: (_accuracy(probe.classes, held, data.held_out.labels[:HELD_OUT], probe))  # noqa: E731
        held_y = data.held_out.labels[:HELD_OUT]
    else:
        primary = lambda: _accuracy(probe.score, held_fake_x, held_fake_y, probe)  # noqa: E731
        held_y = held_fake_y
    batch = min(cfg.train.batch_size, len(data.train))
    problems: list[str] = []
    curve: list[tuple[float, float]] = []
    step, t0, next_check = 0, time.perf_counter(), 0.0
    log(f"check-d: nets.{name} ({cfg.nets[name].arch}) on {cfg.data.name}, {task}, {seconds:.0f} s")
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= next_check:
            curve.append((elapsed, primary()))
            log(f"  {elapsed:5.0f} s, step {step}: held-out accuracy {curve[-1][1]:.1%}")
            next_check += seconds / CHECKS
        if elapsed >= seconds:
            break
        idx = torch.randint(len(data.train), (batch,), generator=g)
        x = data.train.examples(idx)
        both, real = _real_or_shuffled(x, g)
        loss = F.binary_cross_entropy_with_logits(probe.score(both), real)
        if k:
            loss = loss + F.cross_entropy(probe.classes(x), labels[idx])
        if not torch.isfinite(loss):
            problems.append(f"Its loss became {loss.item()} at step {step}: look for a division, log or "
                            "normalisation that breaks, or lower the learning rate.")
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if step == 0:
            frozen, silent = _no_gradient(probe.d)
            if frozen:
                problems.append(f"Parameters {_few(frozen)} are frozen (requires_grad=False): they never learn.")
            if silent:
                problems.append(f"Parameters {_few(silent)} get no gradient: something cuts them off (a detach(), "
                                ".data, torch.no_grad) or the forward pass never uses them.")
        opt.step()
        out = pixels(flat(x if k else both))
        loss_pixels = (F.cross_entropy(out, labels[idx]) if k else
                       F.binary_cross_entropy_with_logits(out.squeeze(1), real))
        opt_pixels.zero_grad(set_to_none=True)
        loss_pixels.backward()
        opt_pixels.step()
        step += 1
    accuracy = curve[-1][1]
    pixel_predict = (lambda x: pixels(flat(x))) if k else (lambda x: pixels(flat(x)).squeeze(1))  # noqa: E731
    baseline = _accuracy(pixel_predict, held if k else held_fake_x, held_y, pixels)
    chance = float(torch.bincount(held_y.long()).max()) / len(held_y)  # always guessing the commonest class
    if k:
        shuffled = _accuracy(probe.score, held_fake_x, held_fake_y, probe)
        if shuffled < 0.6:
            problems.append(f"Its own score tells real images from pixel-shuffled ones only {shuffled:.0%} of the "
                            "time (chance 50 %): the layers after its features, or its output, do not learn.")
    with torch.no_grad():
        probe.eval()
        spread = (probe.classes if k else probe.score)(held[:256]).std(0).max().item()
    if spread < 1e-6:
        problems.append("Its output is the same for every image: the features do not depend on the input.")
    # a frozen or cut-off layer is a fault even when the head on top still learns from its random features
    learns = accuracy >= chance + max(0.05, 0.2 * (1 - chance)) and not problems
    return Verdict(name, task, learns, accuracy, baseline, chance, step, time.perf_counter() - t0, curve, problems)
