"""The progress bar counts what ends the run: steps, or with a time budget the budget's seconds (issue 26: a 180 s
run showed "7156/20000" and an ETA of five minutes)."""
import io

from ganforge.config import config_from_dict
from ganforge.train import train
from ganforge.train.progress import Progress

from conftest import tiny_config


def _bar_text(out: io.StringIO) -> str:
    return out.getvalue().replace("\r", "\n")


def test_a_time_budget_bar_counts_seconds_and_shows_the_step():
    cfg = config_from_dict(tiny_config(train__steps=20_000, train__time_budget=180, log__progress=True))
    out = io.StringIO()
    bar = Progress(cfg, step=0, file=out)
    assert bar.bar.total == 180 and bar.bar.unit == "s"
    for step in range(1, 7157):
        bar.advance(step, 0.02)
    bar.show({"loss/G": 0.7, "elapsed_s": 143.0})
    bar.advance(7157, 0.02)
    assert abs(bar.bar.n - 7157 * 0.02) < 1e-6  # seconds, not steps
    bar.close()
    last = _bar_text(out).strip().splitlines()[-1]
    assert "143/180 s" in last and "step=7157" in last and "G=0.7" in last, last
    assert "20000" not in last


def test_the_budget_bar_stops_full_when_the_last_step_overruns():
    cfg = config_from_dict(tiny_config(train__time_budget=1.0, log__progress=True))
    bar = Progress(cfg, step=0, file=io.StringIO())
    bar.advance(1, 0.75)
    bar.advance(2, 0.75)
    assert bar.bar.n == bar.bar.total == 1.0


def test_without_a_budget_the_bar_counts_steps_from_the_resumed_one():
    cfg = config_from_dict(tiny_config(train__steps=100, log__progress=True))
    out = io.StringIO()
    bar = Progress(cfg, step=40, file=out)
    bar.advance(41, 3.0)
    assert (bar.bar.n, bar.bar.total) == (41, 100)
    bar.close()
    assert "41/100" in _bar_text(out)


def test_training_under_a_budget_shows_seconds(tmp_path, capsys):
    """The loop's own bar: a run whose budget outlasts its steps ends with its step beside the seconds."""
    cfg = config_from_dict(tiny_config(train__steps=6, train__time_budget=600, log__progress=True))
    run = train(cfg, out=tmp_path / "run")
    assert run.step == 6 and run.stopped_by == "steps"
    last = _bar_text(io.StringIO(capsys.readouterr().err)).strip().splitlines()[-1]
    assert "/600 s" in last and "step=6" in last, last
    assert "/6 " not in last
