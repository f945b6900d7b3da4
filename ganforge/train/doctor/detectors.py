"""The detectors: pure functions of a short `History` and the `doctor` config section. Each returns a `Finding`
(a sentence with the numbers that show it, and the evidence) or None; `DETECTORS` names those the doctor runs."""
from __future__ import annotations

import statistics
from typing import Callable

from ...config import DoctorConfig
from .history import D_LOSS, DIVERSITY_SAMPLES, OVERFIT_HELD, OVERFIT_TRAIN, Finding, History


def _p(p: float) -> str:
    """A probability without rounding 0.99997 to 1."""
    return f"1 − {1 - p:.2g}" if p > 0.999 else f"{p:.3g}"


def _steps(steps: list[int]) -> str:
    return f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}–{steps[-1]}"


# ---- detectors: (History, DoctorConfig) → Finding | None ----------------------------------------------------------
def discriminator_wins(h: History, c: DoctorConfig) -> Finding | None:
    """D rejects every fake and accepts every real example (or, without probabilities, its loss sits near 0)
    for `patience` windows: G's gradient vanishes."""
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
    """G's gradient norm stays below `grad_fraction` of its largest early value, away from an equilibrium."""
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
    """After the warm-up: samples far less spread out than real data, or classes / modes covered (or the class
    histogram's KL to uniform) worse than their best in the evaluations."""
    signs, evidence = [], {}
    steps, div = h.series("doctor/diversity", c.patience, since=c.warmup_steps)
    if len(div) == c.patience and max(div) < c.min_diversity:
        what = (f"the samples of {DIVERSITY_SAMPLES} fixed z" if h.from_z else
                f"the generator's outputs for {DIVERSITY_SAMPLES} fixed real inputs")
        many = "many z give the same output" if h.from_z else "it makes much the same output whatever its input"
        if h.captioned:  # text-to-image: low diversity per caption, the failure the lectures warn of
            what, many = what + " with captions", "many z give the same image for one caption (low diversity per caption)"
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
    """D(G(z)) (or D's loss) swinging around a flat trend, or FID going up and down without a new best."""
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
