"""The training progress bar: steps out of `train.steps`, or, with a time budget, seconds out of the budget.

A run under `--time-budget` stops when the budget is spent, long before `train.steps` (whose default is only a
ceiling), so its bar counts the budget's seconds of training, with the step beside them; a bar of steps would show
"7156/20000" and an ETA for steps the run never takes.
"""
from __future__ import annotations

import sys

from tqdm.auto import tqdm

from ..config import RunConfig

# whole seconds: the default format would print every digit of a float count
BUDGET_FORMAT = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"


class Progress:
    """`advance(step, seconds)` after each step, `show(values)` at each logging window, `write(text)` for a line
    above the bar, `close()` at the end. `file`: where the bar goes (standard error by default). `enabled` False (a
    rank other than 0 of several processes): no bar and no lines."""

    def __init__(self, cfg: RunConfig, step: int, file=None, enabled: bool = True):
        self.budget = cfg.train.time_budget
        self.values: dict[str, str] = {}
        stream = file if file is not None else sys.stderr
        self.enabled = enabled
        common = dict(disable=not (cfg.log.progress and enabled), dynamic_ncols=True, desc=cfg.family, file=file,
                      mininterval=0.5 if stream.isatty() else 10.0)
        if self.budget is None:
            self.bar = tqdm(total=cfg.train.steps, initial=step, **common)
        else:  # the budget counts this invocation's training, so a resumed run's bar starts at 0 s too
            self.bar = tqdm(total=self.budget, initial=0, unit="s", bar_format=BUDGET_FORMAT, **common)

    def show(self, values: dict[str, float]) -> None:
        """The latest logged values beside the bar (a metric's last name part: loss/G → G)."""
        self.values = {k.split("/")[-1]: f"{v:.3g}" for k, v in values.items() if k != "elapsed_s"}
        self.bar.set_postfix(self.values, refresh=False)

    def advance(self, step: int, seconds: float) -> None:
        """One step done (`step` steps in all), which took `seconds` of training."""
        if self.budget is None:
            self.bar.update(1)
            return
        self.bar.set_postfix({"step": step} | self.values, refresh=False)
        # the last step overruns the budget a little; the bar stops full, not past it
        self.bar.update(min(seconds, max(0.0, self.budget - self.bar.n)))

    def write(self, text: str) -> None:
        if self.enabled:
            self.bar.write(text)

    def close(self) -> None:
        self.bar.close()
