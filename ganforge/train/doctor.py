"""The doctor: watches the signals GAN lectures name while a run trains, and says in plain words what is wrong.

Every logging window the loop hands it the logged values (losses, monitors, gradient norms) and after an
evaluation the eval metrics. Detectors are pure functions of a short `History` and the `doctor` config section;
each returns a `Finding` (a sentence with the numbers that show it, and the evidence) or None. A diagnosis is
issued once when its finding appears and again only after it has cleared (its detector silent for
`doctor.patience` checks): printed above the progress bar, appended to RUN/diagnoses.jsonl, logged as
`doctor/<code>` = 1 (0 when it clears) in metrics.jsonl. Which monitors hold D's probabilities on real and fake
data the family declares (`Family.signals`, e.g. D(x) and D(G(z))); signals a family does not have (a WGAN critic has
no probabilities, a VAE no D) are skipped without a word, or D is judged by its loss instead. NaN/Inf in any logged value stops the run with an error naming the network,
the loss and the step; the last checkpoint written before it stays.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from ..config import DoctorConfig, RunConfig
from ..data import load_configured
from ..data.base import Dataset
from ..data.shards import ShardDataset
from ..errors import GanforgeError
from ..families import Batch, Family as FamilyBase
from ..nets import net_accepts
from .checkpoint import latest_checkpoint, newest_finite
from .logger import read_jsonl, read_metrics

if TYPE_CHECKING:
    from ..families import Family

DIAGNOSES = "diagnoses.jsonl"
DIVERSITY_SAMPLES = 64  # fixed latents (and real examples) whose mean pairwise distance is `doctor/diversity`
# the shares of fixed training / held-out real images that D calls real (`overfitting_probe`)
OVERFIT_TRAIN, OVERFIT_HELD = "doctor/d_real_train", "doctor/d_real_heldout"
D_LOSS = "D's loss"  # a derived series: the sum of the loss terms that train the discriminator(s)
KEEP_WINDOWS = 256  # recent windows the detectors may look at
EARLY = 20  # first values of each key kept for "relative to the start of the run"


@dataclass
class Finding:
    message: str  # what is wrong, with the numbers that show it
    evidence: dict


@dataclass
class History:
    """What detectors see: recent logging windows and all evaluations (oldest first), and who trains what."""

    windows: list[dict] = field(default_factory=list)  # {"step": s, "loss/d_bce": …, "D(x)": …, "grad_norm/G": …}
    evals: list[dict] = field(default_factory=list)  # {"step": s, "eval/fid": …}
    early: dict[str, list[float]] = field(default_factory=dict)  # each key's first EARLY values
    counts: dict[str, int] = field(default_factory=dict)  # windows that logged each key
    roles: dict[str, str] = field(default_factory=lambda: {"G": "generator", "D": "discriminator"})
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)  # loss term → the networks it trains
    generator: str = "G"
    # the monitors of D's probabilities on real data and on fakes, as the family declares them (`Family.signals`);
    # None: the family logs no probabilities and D is judged by its loss
    p_real: str | None = None
    p_fake: str | None = None
    from_z: bool = True  # the generator maps z (False: it maps data fields, e.g. a translator's input images)

    def add_window(self, values: dict) -> None:
        self.windows.append(values)
        del self.windows[:-KEEP_WINDOWS]
        for k, v in values.items():
            self.counts[k] = self.counts.get(k, 0) + 1
            if len(first := self.early.setdefault(k, [])) < EARLY:
                first.append(v)

    def _value(self, window: dict, key: str) -> float | None:
        if key != D_LOSS:
            return window.get(key)
        terms = [f"loss/{t}" for t, nets in self.owners.items()
                 if any(self.roles.get(n) == "discriminator" for n in nets)]
        return sum(window[k] for k in terms) if terms and all(k in window for k in terms) else None

    def early_d_loss_size(self, n: int) -> float:
        """Median |D's loss| over the first n windows that logged all of its terms (0 if there are none)."""
        terms = [self.early.get(f"loss/{t}", []) for t, nets in self.owners.items()
                 if any(self.roles.get(m) == "discriminator" for m in nets)]
        sums = [abs(sum(vals)) for vals in zip(*terms)][:n] if terms else []
        return statistics.median(sums) if sums else 0.0

    def ever_negative(self, key: str) -> bool:
        """A loss that has been below 0 (a Wasserstein critic's, an f-GAN bound) has no floor or scale to judge by."""
        return any(v < 0 for v in self.series(key, KEEP_WINDOWS)[1])

    def series(self, key: str, last: int, since: int = 0) -> tuple[list[int], list[float]]:
        """Steps and values of `key` in the last `last` windows that logged it, at or after step `since`."""
        rows = [(w["step"], v) for w in self.windows if w["step"] >= since and (v := self._value(w, key)) is not None]
        rows = rows[-last:]
        return [s for s, _ in rows], [v for _, v in rows]


def _p(p: float) -> str:
    """A probability without rounding 0.99997 to 1."""
    return f"1 − {1 - p:.2g}" if p > 0.999 else f"{p:.3g}"


def _steps(steps: list[int]) -> str:
    return f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}–{steps[-1]}"


# ---- detectors: (History, DoctorConfig) → Finding | None ----------------------------------------------------------
def discriminator_wins(h: History, c: DoctorConfig) -> Finding | None:
    n = c.patience
    steps, fake = h.series(h.p_fake, n) if h.p_fake else ([], [])
    _, real = h.series(h.p_real, n) if h.p_real else ([], [])
    if len(fake) == n and len(real) == n:
        if max(fake) < c.d_wins_fake and min(real) > c.d_wins_real:
            return Finding(f"the discriminator wins: {h.p_fake} ≤ {_p(max(fake))} and {h.p_real} ≥ {_p(min(real))} "
                           f"over the last {n} windows ({_steps(steps)}); it rejects every fake, so the generator's "
                           f"gradient vanishes (under the minimax and maximum-likelihood costs; the non-saturating one "
                           f"keeps it)",
                           {"steps": steps, h.p_fake: fake, h.p_real: real})
        return None
    steps, loss = h.series(D_LOSS, n)
    if len(loss) == n and all(v < c.d_loss_floor for v in loss) and not h.ever_negative(D_LOSS):
        return Finding(f"the discriminator wins: its loss is ≤ {max(loss):.3g} over the last {n} windows "
                       f"({_steps(steps)}); it separates real from fake perfectly, so the generator's gradient "
                       f"vanishes",
                       {"steps": steps, "d_loss": loss})
    return None


def _converged(h: History, c: DoctorConfig) -> bool:
    """A generator gradient near 0 is no starvation when the game sits at its equilibrium: D cannot tell fakes
    from reals (D(G(z)) in (0.3, 0.7)), or a critic's loss (one that takes both signs) has settled at 0
    (e.g. R1 on the Dirac GAN). Losses with a floor and no probabilities (hinge, least squares) are not judged."""
    verdicts = h.series(h.p_fake, c.patience)[1] if h.p_fake else []
    if verdicts:
        return all(0.3 < v < 0.7 for v in verdicts)
    if h.ever_negative(D_LOSS):
        size = h.early_d_loss_size(c.grad_baseline)
        return size > 0 and all(abs(v) < c.grad_fraction * size for v in h.series(D_LOSS, c.patience)[1])
    return False


def vanishing_generator_gradient(h: History, c: DoctorConfig) -> Finding | None:
    key = f"grad_norm/{h.generator}"
    if h.counts.get(key, 0) < c.grad_baseline + c.patience:
        return None
    # the largest early value, not the median: a gradient that collapses within the first windows must not set
    # its own, collapsed reference
    base = max(h.early[key][:c.grad_baseline])
    steps, recent = h.series(key, c.patience)
    if base > 0 and all(v < c.grad_fraction * base for v in recent):
        if _converged(h, c):
            return None
        return Finding(f"the generator's gradient vanished: {key} ≤ {max(recent):.3g} over the last {c.patience} "
                       f"windows ({_steps(steps)}), below {c.grad_fraction:g} × its largest value {base:.3g} in the first "
                       f"{c.grad_baseline} windows; G has all but stopped learning",
                       {"steps": steps, key: recent, "early_max": base})
    return None


def mode_collapse(h: History, c: DoctorConfig) -> Finding | None:
    signs, evidence = [], {}
    steps, div = h.series("doctor/diversity", c.patience, since=c.warmup_steps)
    if len(div) == c.patience and max(div) < c.min_diversity:
        what = (f"the samples of {DIVERSITY_SAMPLES} fixed z" if h.from_z else
                f"the generator's outputs for {DIVERSITY_SAMPLES} fixed real inputs")
        many = "many z give the same output" if h.from_z else "it makes much the same output whatever its input"
        signs.append(f"{what} are only {max(div):.2g}× as spread out as real examples (mean pairwise distance, below "
                     f"{c.min_diversity:g} over {_steps(steps)}): {many}")
        evidence |= {"steps": steps, "diversity": div}
    evals = [e for e in h.evals if e["step"] >= c.warmup_steps]
    last = evals[-1] if evals else {}
    for key, what in (("eval/classes_covered", "classes covered"), ("eval/modes", "modes covered")):
        rows = [(e["step"], e[key]) for e in evals if key in e]
        if len(rows) >= 2 and key in last:
            best_step, best = max(rows, key=lambda r: r[1])
            if last[key] <= best - c.mode_drop:
                of = f" of {last['eval/num_modes']:g}" if "eval/num_modes" in last else ""
                signs.append(f"{what} fell from {best:g} (step {best_step}) to {last[key]:g}{of} (step {last['step']})")
                evidence |= {key: [v for _, v in rows], "eval_steps": [s for s, _ in rows]}
    rows = [(e["step"], e["eval/class_kl"]) for e in evals if "eval/class_kl" in e]
    if len(rows) >= 2 and "eval/class_kl" in last:
        best_step, best = min(rows, key=lambda r: r[1])
        if last["eval/class_kl"] >= best + c.kl_rise:
            signs.append(f"the class histogram's KL to uniform rose from {best:.3g} (step {best_step}) to "
                         f"{last['eval/class_kl']:.3g} (step {last['step']}): a few classes take over")
            evidence |= {"eval/class_kl": [v for _, v in rows], "eval_steps": [s for s, _ in rows]}
    return Finding("mode collapse: " + "; ".join(signs), evidence) if signs else None


def _detrend(v: list[float]) -> tuple[float, list[float]]:
    """Least-squares line through v: its rise over the window and the residuals around it."""
    n = len(v)
    xm, ym = (n - 1) / 2, sum(v) / n
    slope = sum((i - xm) * (y - ym) for i, y in enumerate(v)) / sum((i - xm) ** 2 for i in range(n))
    return slope * (n - 1), [y - (ym + slope * (i - xm)) for i, y in enumerate(v)]


def oscillation(h: History, c: DoctorConfig) -> Finding | None:
    signs, evidence = [], {}
    w = c.oscillation_windows
    steps, v = h.series(h.p_fake, w) if h.p_fake else ([], [])
    key, limit = h.p_fake, c.oscillation_amplitude
    if not v:  # no probabilities: D's loss, against a scale of its own
        steps, v = h.series(D_LOSS, w)
        # a loss with a floor (hinge, least squares) is judged against its mean; one that takes both signs (a
        # Wasserstein critic's) against its typical size early in the run, so a converged loss near 0 is calm
        scale = h.early_d_loss_size(c.grad_baseline) if h.ever_negative(D_LOSS) else (statistics.fmean(v) if v else 0.0)
        key, limit = "D's loss", c.oscillation_relative * scale
    if len(v) == w and limit > 0:
        rise, resid = _detrend(v)
        swing = statistics.pstdev(resid)
        crossings = sum(1 for a, b in zip(resid, resid[1:]) if a * b < 0)
        if swing >= limit and crossings >= c.oscillation_crossings * (w - 1) and abs(rise) < swing:
            signs.append(f"{key} swings between {min(v):.3g} and {max(v):.3g} over the last {w} windows "
                         f"({_steps(steps)}): {crossings} crossings of a flat trend (rise {rise:+.3g}), spread "
                         f"{swing:.3g} around it")
            evidence |= {"steps": steps, key: v, "spread": swing, "crossings": crossings}
    fids = [(e["step"], e["eval/fid"]) for e in h.evals if "eval/fid" in e]
    k = c.fid_evals
    if len(fids) > k:
        best_step, best = min(fids[:-k], key=lambda r: r[1])
        recent = [f for _, f in fids[-k - 1:]]
        d = [b - a for a, b in zip(recent, recent[1:])]
        if all(a * b < 0 for a, b in zip(d, d[1:])) and min(recent[1:]) > best:
            signs.append(f"FID went {' → '.join(f'{f:.3g}' for f in recent)} over the last {k} evaluations, up and "
                         f"down without beating its best {best:.3g} (step {best_step})")
            evidence |= {"eval/fid": recent, "eval_steps": [s for s, _ in fids[-k - 1:]], "best_fid": best}
    return Finding("training oscillates without progress: " + "; ".join(signs), evidence) if signs else None


def discriminator_overfits(h: History, c: DoctorConfig) -> Finding | None:
    """Karras et al. 2020 (Fig. 1): an overfitting D grows ever surer of the training images while its verdicts on
    held-out real images sink towards those on fakes."""
    steps, train = h.series(OVERFIT_TRAIN, c.patience, since=c.warmup_steps)
    _, held = h.series(OVERFIT_HELD, c.patience, since=c.warmup_steps)
    if len(train) < c.patience or len(held) < c.patience:
        return None
    gaps = [t - v for t, v in zip(train, held)]
    if min(gaps) < c.overfit_gap:
        return None
    return Finding(f"the discriminator is overfitting the training images: it calls {train[-1]:.0%} of fixed "
                   f"training images real but only {held[-1]:.0%} of held-out real images (a gap of at least {min(gaps):.0%} over {_steps(steps)}); it is memorising the "
                   f"training set instead of learning what real images look like, and its gradient stops teaching G",
                   {"steps": steps, OVERFIT_TRAIN: train, OVERFIT_HELD: held})


DETECTORS: dict[str, Callable[[History, DoctorConfig], Finding | None]] = {
    "discriminator_wins": discriminator_wins,
    "vanishing_generator_gradient": vanishing_generator_gradient,
    "mode_collapse": mode_collapse,
    "oscillation": oscillation,
    "discriminator_overfits": discriminator_overfits,
}


# ---- remedies: what the lectures suggest, as this run's settings -------------------------------------------------
def remedies(code: str, cfg: RunConfig, opts: dict, g: str = "G", d: str = "D") -> str:
    """The remedies for a diagnosis, each named by its config key; those of objective options that the family
    does not have (`opts`: its validated `objective:`) are left out."""
    lr_g, lr_d = cfg.optim_for(g).lr, cfg.optim_for(d).lr
    bce = opts.get("loss", "bce") == "bce" and "generator_cost" in opts
    saturating_game = opts.get("loss") in ("bce", "fgan")  # a game whose generator cost can saturate
    saturating = bce and opts["generator_cost"] != "non_saturating"
    advice = {  # (applies to this run, advice)
        "slow_d": (True, f"a lower learning rate for D (optim.{d}.lr, now {lr_d:g}; G's is {lr_g:g})"),
        "d_steps": (opts.get("d_steps", 1) > 1,
                    f"fewer D steps per G step (objective.d_steps, now {opts.get('d_steps')})"),
        "g_steps": ("g_steps" in opts, "more G steps per training step (objective.g_steps=2)"),
        "non_sat": (saturating, "the non-saturating generator cost (objective.generator_cost=non_saturating; "
                                f"this run: {opts.get('generator_cost')})"),
        "smooth": (bce and opts.get("real_target") == 1.0, "one-sided label smoothing (objective.real_target=0.9)"),
        "noise": ("instance_noise" in opts, "instance noise on D's inputs (objective.instance_noise=0.1)"),
        "unsaturating": (saturating_game, "a loss whose gradient does not saturate (objective.loss=least_squares, or "
                                          "wasserstein with objective.gradient_penalty=10)"),
        "pack": ("pack" in opts, "PacGAN packing (objective.pack=2)"),
        "minibatch": (net_accepts(cfg.nets[d].arch, "minibatch_features") if d in cfg.nets else False,
                      f"minibatch discrimination (nets.{d}.args.minibatch_features=32)"),
        "content": (opts.get("cycle") == 0 or opts.get("l1") == 0,
                    "a loss that ties each output to its input: " + ("the cycle-consistency loss (objective.cycle=10)"
                                                                     if "cycle" in opts else "the L1 term (objective.l1=100)")),
        "unrolled": ("unrolled_steps" in opts, "an unrolled D (objective.unrolled_steps=5)"),
        "features": ("feature_matching" in opts, "feature matching (objective.feature_matching=true)"),
        "ttur": (True, f"lower learning rates, or two time scales (optim.{g}.lr=1e-4 optim.{d}.lr=4e-4; now {lr_g:g} "
                       f"and {lr_d:g})"),
        "beta1": (True, f"Adam β1 0.5 → 0 (optim.{g}.betas=[0, 0.9] and the same for {d}; now "
                        f"{list(cfg.optim_for(g).betas)})"),
        "r1": ("r1" in opts, "a gradient penalty on D (objective.r1=10, or objective.gradient_penalty=10; D without "
                             "batch norm)"),
        "ema": (not cfg.train.ema, "an EMA of G's weights (train.ema=0.999)"),
        "sn": (True, f"spectral normalisation of D (nets.{d}.args.spectral_norm=true)"),
        "bf16": (cfg.train.bf16 is not False, "fp32 instead of bf16 (train.bf16=false)"),
        "augment": (not cfg.augment.enabled, "differentiable augmentation of what D sees (augment.policy="
                                             "translation,cutout,colour augment.ada=true)"),
        "ada_target": (cfg.augment.ada, f"a lower ADA target, so augmentation starts sooner (augment.ada_target, "
                                        f"now {cfg.augment.ada_target:g})"),
        "more_data": (cfg.data.num_samples is not None, f"more training images (data.num_samples, now "
                                                        f"{cfg.data.num_samples})"),
        "data": (True, "checking the data for NaN/Inf"),
        "earlier": (True, "going back to an earlier checkpoint"),
    }
    plan = {
        "discriminator_wins": ["slow_d", "d_steps", "g_steps", "non_sat", "smooth", "noise"],
        "vanishing_generator_gradient": ["non_sat", "slow_d", "noise", "smooth", "unsaturating"],
        "mode_collapse": ["content", "pack", "minibatch", "unrolled", "features", "r1", "unsaturating", "earlier"],
        "oscillation": ["ttur", "beta1", "r1", "ema", "sn"],
        "nan": ["slow_d", "r1", "sn", "bf16", "data"],
        "discriminator_overfits": ["augment", "ada_target", "more_data", "r1", "slow_d"],
    }[code]
    return "; ".join(text for applies, text in (advice[k] for k in plan) if applies)


def _plain(value):
    """JSON without NaN/Inf (they become strings), for RUN/diagnoses.jsonl."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def spread(x: torch.Tensor) -> float:
    """Mean pairwise L2 distance among the rows of x (flattened), over pairs of distinct rows."""
    x = x.detach().flatten(1).double().cpu()
    n = len(x)
    return float(torch.cdist(x, x).sum() / (n * (n - 1))) if n > 1 else 0.0


def read_diagnoses(run_dir: str | Path) -> list[dict]:
    return read_jsonl(Path(run_dir) / DIAGNOSES)


class Doctor:
    """The loop's side of it: `window(step, values, owners)` each logging window, `evaluation(step, values)` after
    each evaluation; both return the `doctor/*` values to log with them."""

    def __init__(self, cfg: RunConfig, run_dir: Path, family: Family, real: Dataset | ShardDataset | torch.Tensor,
                 samples: Callable[[], torch.Tensor], say: Callable[[str], None], log: Callable[[int, dict], None],
                 start_step: int = 0, judge: Callable[[], dict[str, float]] | None = None):
        c = cfg.doctor
        if cfg.train.ema:  # the averaged G still holds its first ~1/(1-decay) steps
            c = c.model_copy(update={"warmup_steps": max(c.warmup_steps, math.ceil(2 / (1 - cfg.train.ema)))})
        self.cfg, self.c, self.run_dir = cfg, c, Path(run_dir)
        self.samples, self.say, self.log, self.judge = samples, say, log, judge
        self.next_probe = 0  # the step from which the next overfitting probe runs
        roles, self.g = dict(family.networks), family.generator
        self.d = next((n for n, r in roles.items() if r == "discriminator"), "D")
        self.opts = family.opts.model_dump() if hasattr(family, "opts") else {}
        signals = family.signals()
        # a G that does not learn from D's verdict (feature matching) is starved by nothing a winning D does (the
        # semi-supervised GAN wants a D that rejects every fake)
        self.detectors = {k: f for k, f in DETECTORS.items()
                          if not (k == "discriminator_wins" and not signals.g_learns_from_d)}
        self.history = History(roles=roles, generator=self.g, p_real=signals.p_real, p_fake=signals.p_fake,
                               from_z=family.generator_inputs() == ("z",))
        self.silent: dict[str, int] = {}  # active diagnoses → checks since their detector last fired
        self.real_spread = 0.0
        if c.enabled:
            pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(cfg.train.seed + 30_011))
            index = pick[:DIVERSITY_SAMPLES]
            self.real_spread = spread(real[index] if isinstance(real, torch.Tensor) else real.examples(index))
        if start_step:
            self._resume(start_step)

    # -- what the loop calls ------------------------------------------------------------------------------------
    def window(self, step: int, values: dict[str, float], owners: dict[str, tuple[str, ...]]) -> dict[str, float]:
        self.history.owners.update(owners)
        self._stop_if_not_finite(step, values)
        extra = {}
        if self.c.enabled and self.real_spread > 0 and len(x := self.samples()) > 1:
            extra["doctor/diversity"] = spread(x) / self.real_spread
        if self.c.enabled and self.judge is not None and self.c.overfit_every and step >= self.next_probe:
            extra |= self.judge()
            self.next_probe = step + self.c.overfit_every
        self.history.add_window({"step": step, **values, **extra})
        return (extra | self._check(step)) if self.c.enabled else extra

    def evaluation(self, step: int, values: dict[str, float]) -> dict[str, float]:
        self.history.evals.append({"step": step, **values})
        return self._check(step) if self.c.enabled else {}

    # -- diagnoses ----------------------------------------------------------------------------------------------
    def _check(self, step: int) -> dict[str, float]:
        flags = {}
        for code, detect in self.detectors.items():
            finding = detect(self.history, self.c)
            if finding is not None:
                if code not in self.silent:
                    self._issue(step, code, finding)
                    flags[f"doctor/{code}"] = 1.0
                self.silent[code] = 0
            elif code in self.silent:
                self.silent[code] += 1
                if self.silent[code] >= self.c.patience:
                    del self.silent[code]
                    flags[f"doctor/{code}"] = 0.0
                    self.say(f"doctor: step {step}: {code} has cleared")
        return flags

    def _issue(self, step: int, code: str, finding: Finding) -> str:
        message = f"step {step}: {finding.message}. Remedies: {remedies(code, self.cfg, self.opts, self.g, self.d)}."
        record = {"step": step, "code": code, "message": message, "evidence": _plain(finding.evidence)}
        with open(self.run_dir / DIAGNOSES, "a") as f:
            f.write(json.dumps(record) + "\n")
        if code != "nan":
            self.say(f"doctor: {message}")
        return message

    def _whose(self, nets: tuple[str, ...]) -> str:
        """'the discriminator's (D)', for the networks a loss trains."""
        if len(nets) == 1:
            return f"the {self.history.roles.get(nets[0], 'network')}'s ({nets[0]})"
        return f"the networks {', '.join(nets)}'" if nets else "the"

    def _stop_if_not_finite(self, step: int, values: dict[str, float]) -> None:
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if not bad:
            return
        key = next((k for k in bad if k.startswith("loss/")), bad[0])  # a loss says best which network went bad
        kind, _, name = key.partition("/")
        nets = {"loss": self.history.owners.get(name, ()), "grad_norm": (name,)}.get(kind, ())
        subject = {"loss": f"{self._whose(nets)} loss {name}", "grad_norm": f"{self._whose(nets)} gradient norm"}
        text = f"{subject.get(kind, key)} became {'NaN' if math.isnan(values[key]) else f'{values[key]:+}'}"
        before = self.history.windows[-1] if self.history.windows else {}
        was = [f"{k} was {before[k]:.3g}" for n in nets if (k := f"grad_norm/{n}") in before]
        if was:
            text += f" ({', '.join(was)} the window before, at step {before['step']})"
        if len(bad) > 1:
            text += f"; also non-finite: {', '.join(b for b in bad if b != key)}"
        text += f". Training stopped; {self._checkpoint_note()}"
        self.log(step, {"doctor/nan": 1.0})
        finding = Finding(text, {"non_finite": {k: values[k] for k in bad}, "window_before": before})
        raise GanforgeError(self._issue(step, "nan", finding))

    def _checkpoint_note(self) -> str:
        good = newest_finite(self.run_dir)  # read back, every tensor checked, not assumed from the logs
        if good is None:
            return "no checkpoint with finite values was written before this, so there is nothing to resume from"
        note = f"the newest checkpoint with finite values is {good}"
        if good != latest_checkpoint(self.run_dir):
            return note + f" (`ganforge train --resume {self.run_dir} --use-intact-checkpoint key=value …` continues from it)"
        return note + f" (`ganforge train --resume {self.run_dir} key=value …` continues from it with changed settings)"

    def _resume(self, start_step: int) -> None:
        """Rebuild the history and the active diagnoses from RUN/metrics.jsonl up to the resumed step."""
        for row in read_metrics(self.run_dir):
            if row.get("step", 0) > start_step:
                continue
            if any(k.startswith("eval/") for k in row):
                self.history.evals.append({k: v for k, v in row.items() if not k.startswith("doctor/")})
            elif any(k.startswith(("loss/", "grad_norm/")) for k in row):
                self.history.add_window({k: v for k, v in row.items() if k not in ("img_per_s", "elapsed_s")})
                if OVERFIT_TRAIN in row:
                    self.next_probe = row["step"] + self.c.overfit_every
            for code in DETECTORS:
                if row.get(f"doctor/{code}") == 1.0:
                    self.silent[code] = 0
                elif row.get(f"doctor/{code}") == 0.0:
                    self.silent.pop(code, None)


def overfitting_probe(cfg: RunConfig, family: Family, data: Dataset | ShardDataset,
                      device: torch.device) -> Callable[[], dict[str, float]] | None:
    """D's verdicts on fixed training images and on fixed held-out ones (the test split): the shares of each that
    it calls real, in eval mode and without augmentation, so measuring changes nothing in training. None where it
    cannot be measured: no discriminator that judges images alone, a game without an undecided score, no test split
    (a user's folder), or streamed shards."""
    game = getattr(family, "game", None)
    if (type(family).judge is FamilyBase.judge or not cfg.doctor.enabled or data.kind != "image" or isinstance(data, ShardDataset) or game is None
            or game.boundary is None):
        return None
    try:
        held = load_configured(cfg.data, "test", seed=cfg.train.seed, subset=False)
    except GanforgeError:
        return None
    n = cfg.doctor.overfit_examples
    g = torch.Generator().manual_seed(cfg.train.seed + 40_009)

    def fixed(ds: Dataset) -> Batch:
        index = torch.randperm(len(ds), generator=g)[:n]
        return Batch(len(index), {k: v.to(device) for k, v in ds.batch(index).items() if k in family.needs})

    train_batch, held_batch = fixed(data), fixed(held)

    def judge() -> dict[str, float]:
        # as D judges real batches in training (batch statistics), with its batch-norm statistics and the RNG put
        # back afterwards: measuring leaves the run's course unchanged
        buffers = [(b, b.clone()) for b in family.buffers()]
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            scores = [family.judge(b) for b in (train_batch, held_batch)]
            for b, saved in buffers:
                b.copy_(saved)
        if any(s is None for s in scores):  # this run's options leave D untrained (e.g. L1 alone)
            return {}
        (train_s, held_s), b = scores, game.boundary
        return {OVERFIT_TRAIN: float((train_s > b).float().mean()), OVERFIT_HELD: float((held_s > b).float().mean()),
                "doctor/d_score_train": float(train_s.mean()), "doctor/d_score_heldout": float(held_s.mean())}

    return judge
