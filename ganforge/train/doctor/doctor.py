"""The stateful doctor: the loop hands it each logging window and each evaluation; it runs the detectors on the
history, issues a diagnosis once when its finding appears and again only after it has cleared (its detector
silent for `doctor.patience` checks), and stops the run on NaN/Inf.

A diagnosis is printed above the progress bar, appended to RUN/diagnoses.jsonl and logged as `doctor/<code>` = 1
(0 when it clears) in metrics.jsonl. Which monitors hold D's probabilities on real and fake data the family declares
(`Family.signals`, e.g. D(x) and D(G(z))); signals a family does not have (a WGAN critic has no probabilities, a VAE
no D) are skipped without a word, or D is judged by its loss instead. NaN/Inf in any logged value stops the run with
an error naming the network, the loss and the step; the last checkpoint written before it stays.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch

from ...config import RunConfig
from ...data.base import Dataset
from ...data.shards import ShardDataset
from ... import seeds
from ...errors import GanforgeError
from ...families import Family
from ..checkpoint import latest_checkpoint, newest_finite
from ...rundir import read_metrics
from .detectors import DETECTORS
from .diagnoses import append_diagnosis
from .history import DIVERSITY_SAMPLES, OVERFIT_TRAIN, Finding, History
from .remedies import remedies


def spread(x: torch.Tensor) -> float:
    """Mean pairwise L2 distance among the rows of x (flattened), over pairs of distinct rows."""
    x = x.detach().flatten(1).double().cpu()
    n = len(x)
    return float(torch.cdist(x, x).sum() / (n * (n - 1))) if n > 1 else 0.0


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
        roles, self.g, self.family = dict(family.networks), family.generator, type(family)
        self.d = next((n for n, r in roles.items() if r == "discriminator"), "D")
        self.opts = family.opts.model_dump() if hasattr(family, "opts") else {}
        signals = family.signals()
        # a G that does not learn from D's verdict (feature matching) is starved by nothing a winning D does (the
        # semi-supervised GAN wants a D that rejects every fake)
        self.detectors = {k: f for k, f in DETECTORS.items()
                          if not (k == "discriminator_wins" and not signals.g_learns_from_d)}
        self.history = History(roles=roles, generator=self.g, p_real=signals.p_real, p_fake=signals.p_fake,
                               from_z=family.generator_inputs()[0] == "z",
                               captioned="embedding" in family.generator_inputs())
        self.silent: dict[str, int] = {}  # active diagnoses → checks since their detector last fired
        self.real_spread = 0.0
        if c.enabled:
            pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(cfg.train.seed + seeds.DOCTOR_SPREAD))
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
        advice = remedies(code, self.cfg, self.opts, self.g, self.d, family=self.family)
        message = f"step {step}: {finding.message}. Remedies: {advice}."
        append_diagnosis(self.run_dir, step, code, message, finding.evidence)
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
