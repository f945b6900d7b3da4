"""The live view's pieces without a browser: the stepper trains as the loop does, the trainer's thread obeys start,
pause, step and restart, its switches are checked before anything restarts, and `ganforge serve` explains itself."""
import sys
import time

import numpy as np
import pytest
import torch

import ganforge
from conftest import run_cli, tiny_config, weights
from ganforge.config import config_from_dict
from ganforge.errors import GanforgeError
from ganforge.serve import make_app
from ganforge.serve.live import LiveTrainer, options_config
from ganforge.train.stepper import Stepper
from serving import live_config

pytest.importorskip("flask")


def test_the_stepper_trains_exactly_as_the_loop(tmp_path):
    cfg = config_from_dict(tiny_config(**{"train__steps": 5, "checkpoint__every": 5, "log__every": 100,
                                          "log__sample_every": 100, "doctor__enabled": False}))
    ganforge.train(cfg, out=tmp_path / "run")
    stepper = Stepper(cfg)
    for _ in range(5):
        losses = stepper.step()
    assert stepper.finished and set(losses) == {"d_bce", "g_non_saturating"}
    saved = weights(tmp_path / "run")
    mine = {f"{n}/{k}": v for n, net in stepper.family.nets.items() for k, v in net.state_dict().items()}
    assert saved.keys() == mine.keys()
    for k, v in saved.items():
        assert torch.equal(v, mine[k]), k


def wait_for(condition, seconds=20.0):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.fixture
def live():
    trainer = LiveTrainer(live_config(), period=0.1)
    yield trainer
    trainer.close()


def test_start_pause_and_step_reach_the_training_thread(live):
    first = live.snapshot
    assert first.step == 0 and first.real.shape == (1000, 2) and first.surface.shape == (60, 60)
    # toy-ring8 keeps an EMA: its points are drawn beside the trained G's, where D's gradient arrows start
    assert first.trained.shape == (1000, 2) and np.array_equal(first.arrows_at, first.trained[:150])
    assert first.arrows.shape == (150, 2) and np.isfinite(first.arrows).all() and np.abs(first.arrows).sum() > 0
    live.command("step", n=7)
    wait_for(lambda: live.snapshot.step == 7)
    live.command("start")
    wait_for(lambda: live.snapshot.step > 50)
    moving = live.snapshot
    assert moving.running and not torch.equal(torch.from_numpy(moving.fake), torch.from_numpy(first.fake))
    live.command("pause")
    wait_for(lambda: not live.snapshot.running)
    paused = live.snapshot
    time.sleep(0.5)
    assert live.snapshot.version == paused.version and live.stepper.step_count == paused.step


def test_a_restart_applies_the_switches_and_bad_ones_are_refused_at_once(live):
    live.command("step", n=3)
    live.command("restart", options={"objective.unrolled_steps": 2, "train.ema": 0, "objective.loss": "hinge"})
    wait_for(lambda: live.snapshot.options.get("objective.unrolled_steps") == 2)
    state = live.state()
    assert state["step"] == 0 and state["config"]["objective.loss"] == "hinge" and state["config"]["train.ema"] is None
    assert live.snapshot.trained is None and live.snapshot.which is None  # no EMA now, one generator
    live.command("restart", options={"objective.generators": 3})
    wait_for(lambda: live.snapshot.options.get("objective.generators") == 3)
    assert sorted(set(live.snapshot.which)) == [0, 1, 2]
    with pytest.raises(GanforgeError, match="objective.loss: Input should be"):
        live.command("restart", options={"objective.loss": "nope"})
    with pytest.raises(GanforgeError, match="unknown live option"):
        live.command("restart", options={"data.path": "/etc"})
    with pytest.raises(GanforgeError, match="n must be an integer in 1–200"):
        live.command("step", n=10_000)


def test_the_live_routes_answer_json_and_refuse_bad_commands():
    app = make_app([], live_config())
    trainer = app.extensions["ganforge_live"]
    try:
        client = app.test_client()
        assert client.get("/").status_code == 302  # no runs: straight to the live view
        assert client.get("/live").status_code == 200
        frame = client.get("/api/live/frame.png")
        assert frame.mimetype == "image/png" and frame.headers["X-Frame-Version"] == "1"
        for body, words in (({"action": "fly"}, "unknown live action"), ({}, "expected"),
                            ({"action": "stop"}, "not a page's action"),
                            ({"action": "restart", "options": {"objective.pack": 0}}, "objective.pack")):
            answer = client.post("/api/live/command", json=body)
            assert answer.status_code == 400 and words in answer.json["error"], answer.json
        assert client.post("/api/live/command", data="x" * 5_000_000, content_type="application/json").status_code == 413
    finally:
        trainer.close()


def test_the_command_line_explains_what_it_needs(capsys, monkeypatch, tmp_path):
    rc, err, _ = run_cli(["serve"], capsys)
    assert rc == 2 and "give one or more RUN folders, or --live CONFIG" in err
    rc, err, _ = run_cli(["serve", "--live", "dcgan-digits"], capsys)
    assert rc == 2 and "the live view draws 2-D points" in err
    rc, err, _ = run_cli(["serve", str(tmp_path / "missing")], capsys)
    assert rc == 2 and "missing" in err and "Traceback" not in err
    monkeypatch.setitem(sys.modules, "flask", None)  # as if Flask were not installed
    rc, err, _ = run_cli(["serve", "--live", "toy-ring8"], capsys)
    assert rc == 2 and err.strip() == "ganforge: error: ganforge serve needs Flask: pip install 'ganforge[serve]'"


def test_the_server_binds_to_this_machine_unless_told_and_warns_when_told(capsys, monkeypatch):
    import werkzeug.serving

    bound = []
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda host, port, app, **kw: bound.append((host, port, kw)))
    monkeypatch.setattr("ganforge.serve.live.LiveTrainer.__init__", lambda self, cfg: None)  # no training here
    rc, err, out = run_cli(["serve", "--live", "toy-ring8", "--port", "8123"], capsys)
    assert rc == 0 and bound[-1][:2] == ("127.0.0.1", 8123) and "warning" not in err
    assert bound[-1][2]["use_debugger"] is False and "http://127.0.0.1:8123/" in out
    rc, err, out = run_cli(["serve", "--live", "toy-ring8", "--host", "0.0.0.0"], capsys)
    assert rc == 0 and bound[-1][0] == "0.0.0.0" and "reachable from other machines" in err


def test_a_restart_that_fails_to_build_pauses_and_says_why(live):
    live.command("start")
    wait_for(lambda: live.snapshot.running)
    # the options pass the config's checks, and the data then fails to build in the thread
    live.commands.put(("restart", {"cfg": options_config(live.base, {}).model_copy(
        update={"data": live.base.data.model_copy(update={"name": "npz", "path": "/nonexistent.npz"})})}))
    wait_for(lambda: live.error is not None)
    assert "nonexistent.npz" in live.error and not live.snapshot.running and not live.state()["running"]
