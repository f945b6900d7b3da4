"""What the doctor's detectors see: a short history of the logged windows and evaluations, and the `doctor/*`
values the doctor itself logs beside them."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

DIVERSITY_SAMPLES = 64  # fixed latents (and real examples) whose mean pairwise distance is `doctor/diversity`
# the shares of fixed training / held-out real images that D calls real (`overfitting_probe`)
OVERFIT_TRAIN, OVERFIT_HELD = "doctor/d_real_train", "doctor/d_real_heldout"
D_LOSS = "D's loss"  # a derived series: the sum of the loss terms that train the discriminator(s)
KEEP_WINDOWS = 256  # recent windows the detectors may look at
EARLY = 20  # first values of each key kept for "relative to the start of the run"


@dataclass
class Finding:
    """What a detector found: a sentence with the numbers that show it, and the evidence (RUN/diagnoses.jsonl)."""

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
    captioned: bool = False  # it maps z with a caption (text-to-image): the doctor speaks of captions

    def add_window(self, values: dict) -> None:
        """Append one logging window ({"step": s, key: value, …}), keeping the last KEEP_WINDOWS."""
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
