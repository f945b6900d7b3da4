"""train.budget_clock: what train.time_budget counts (wall seconds of the steps, or the process's CPU seconds)."""
import itertools
import time

import pytest

from ganforge.errors import GanforgeError
from ganforge.train import train


def test_a_cpu_budget_counts_the_processs_cpu_seconds_of_the_steps(tiny, tmp_path, monkeypatch):
    ticks = itertools.count()  # a CPU clock one second further at every reading: a step costs exactly 1 s
    monkeypatch.setattr(time, "process_time", lambda: float(next(ticks)))
    cpu = train(tiny(train__steps=50, train__time_budget=3.0, train__budget_clock="cpu"), out=tmp_path / "cpu")
    assert cpu.stopped_by == "time_budget" and cpu.step == 3
    wall = train(tiny(train__steps=50, train__time_budget=3.0), out=tmp_path / "wall")  # the default: wall seconds
    assert wall.stopped_by == "steps" and wall.step == 50


def test_an_unknown_budget_clock_is_a_one_line_error_naming_the_key(tiny):
    with pytest.raises(GanforgeError, match="train.budget_clock") as e:
        tiny(train__budget_clock="gpu")
    assert "\n" not in str(e.value)
