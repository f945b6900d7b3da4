"""Reliability: bad settings are refused before any work, a resumed run follows the config it records, and no
checkpoint a user may resume from holds NaN or a half-written file."""
import json
import pickle
from pathlib import Path

import pytest
import torch
import yaml

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.train import checkpoint, train
from ganforge.train import loop
from ganforge.rundir import read_metrics

from conftest import ROOT

DIGITS = str(ROOT / "configs" / "dcgan-digits.yaml")
QUIET = ["log.progress=false", "log.tensorboard=false", "eval.final=false", "train.threads=1"]


def optimiser_group(run_dir: Path, net: str) -> dict:
    return checkpoint.load_state(checkpoint.latest_checkpoint(run_dir))["optimizers"][net]["param_groups"][0]


# -- a resumed run follows the config it records --------------------------------------------------------------
def test_resume_applies_changed_learning_rate_and_says_so(tmp_path, tiny, capsys):
    train(tiny(train__steps=4), out=tmp_path / "run")
    assert optimiser_group(tmp_path / "run", "D")["lr"] == pytest.approx(2e-4)
    train(tiny(train__steps=6, optim={"D": {"lr": 0.05, "betas": [0.0, 0.9]}}), resume=tmp_path / "run")
    group = optimiser_group(tmp_path / "run", "D")
    assert group["lr"] == 0.05 and tuple(group["betas"]) == (0.0, 0.9)
    assert optimiser_group(tmp_path / "run", "G")["lr"] == pytest.approx(2e-4)  # G's unchanged
    err = capsys.readouterr().err
    assert "optim.D.lr 0.0002 → 0.05" in err and "optim.D.betas (0.5, 0.999) → (0.0, 0.9)" in err
    assert "optim.G" not in err


def test_resume_with_unchanged_optimiser_says_nothing(tmp_path, tiny, capsys):
    train(tiny(train__steps=3), out=tmp_path / "run")
    train(tiny(train__steps=6), resume=tmp_path / "run")
    assert "optimiser settings" not in capsys.readouterr().err


def test_resume_refuses_another_optimiser_type(tmp_path, tiny):
    train(tiny(train__steps=3), out=tmp_path / "run")
    with pytest.raises(GanforgeError, match="optim.D.name: the checkpoint's optimiser is adam, the config asks for sgd"):
        train(tiny(train__steps=6, optim={"D": {"name": "sgd"}}), resume=tmp_path / "run")


def test_changed_learning_rate_cures_a_nan_on_resume_via_the_cli(tmp_path):
    """The NaN message advises lowering optim.D.lr and resuming: following that advice must change the lr used."""
    run = tmp_path / "run"
    assert main(["train", DIGITS, "--out", str(run), "--steps", "6", *QUIET, "checkpoint.every=3"]) == 0
    assert main(["train", "--resume", str(run), "--steps", "9", *QUIET, "optim.D.lr=1e-5"]) == 0
    assert optimiser_group(run, "D")["lr"] == 1e-5
    assert yaml.safe_load((run / "config.yaml").read_text())["optim"]["D"]["lr"] == 1e-5


# -- no checkpoint holds a non-finite tensor ----------------------------------------------------------------
def test_exploding_batch_norm_statistics_never_reach_a_checkpoint(tmp_path, tiny):
    cfg = tiny(train__steps=200, checkpoint__every=5, log__every=5,
               optim={"D": {"name": "sgd", "lr": 100.0}, "G": {"name": "sgd", "lr": 100.0}})
    with pytest.raises(GanforgeError) as e:
        train(cfg, out=tmp_path / "run")
    msg = str(e.value)
    assert "non-finite" in msg or "NaN" in msg
    kept = sorted((tmp_path / "run" / "checkpoints").glob("step_*"))
    for ckpt in kept:  # weights, batch-norm statistics and optimiser moments: all finite
        assert checkpoint.problem(ckpt) is None, ckpt
    if kept:
        assert str(kept[-1]) in msg  # the message names the newest finite checkpoint, which exists
    else:
        assert "no finite checkpoint" in msg or "no checkpoint with finite values" in msg


def test_non_finite_running_var_is_refused_at_save(tmp_path, tiny):
    """The buffer case by itself: parameters finite, a batch-norm running variance NaN."""
    cfg = tiny(train__steps=3, checkpoint__every=100)
    run = train(cfg, out=tmp_path / "run")  # writes step 3
    bn = next(m for m in run.family.nets["D"].modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_var.fill_(float("nan"))
    name = next(f"D/{k}" for k, v in run.family.nets["D"].state_dict().items() if v.data_ptr() == bn.running_var.data_ptr())
    bad = checkpoint.non_finite(checkpoint.flatten_state(dict(run.family.nets.items())))
    assert bad == {name: bn.running_var.numel()}
    checkpoint.save_checkpoint(run.dir, 4, dict(run.family.nets.items()), {"step": 4}, keep=0)  # as old ganforge did
    assert "non-finite values in " + name in checkpoint.problem(run.dir / "checkpoints" / "step_00000004")
    assert checkpoint.newest_finite(run.dir).name == "step_00000003"


# -- resume after a crash ---------------------------------------------------------------------------------------
def test_resume_cuts_the_log_back_and_removes_stale_temporaries(tmp_path, tiny):
    run = train(tiny(train__steps=6, checkpoint__every=3, log__every=1), out=tmp_path / "run")
    # what a kill after the step-6 checkpoint's log lines but during the step-9 save leaves: steps 7–8 logged,
    # a half-written line, a temporary checkpoint folder and pointer
    with open(run.dir / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 7, "loss/d_bce": 1.0}) + "\n" + json.dumps({"step": 8, "loss/d_bce": 1.0}) + "\n")
        f.write('{"step": 9, "loss/d_b')
    (run.dir / "checkpoints" / ".tmp_step_00000009").mkdir()
    (run.dir / "checkpoints" / ".tmp_step_00000009" / "weights.safetensors").write_bytes(b"\0" * 10)
    (run.dir / "checkpoints" / "latest.tmp").write_text("step_00000009\n")
    train(tiny(train__steps=9, checkpoint__every=3, log__every=1), resume=run.dir)
    steps = [r["step"] for r in read_metrics(run.dir)]
    assert steps == list(range(1, 10))  # each step once, in order, the fake 7 and 8 replaced
    assert not list((run.dir / "checkpoints").glob(".tmp*")) and not (run.dir / "checkpoints" / "latest.tmp").exists()


def test_resume_from_a_truncated_checkpoint_offers_the_intact_one(tmp_path, tiny):
    run = train(tiny(train__steps=6, checkpoint__every=2, checkpoint__keep=3), out=tmp_path / "run")
    newest = checkpoint.latest_checkpoint(run.dir)
    (newest / checkpoint.WEIGHTS).write_bytes((newest / checkpoint.WEIGHTS).read_bytes()[:500])
    with pytest.raises(GanforgeError) as e:
        train(tiny(train__steps=8, checkpoint__every=2), resume=run.dir)
    assert "step_00000006 is unusable" in str(e.value) and "step_00000004" in str(e.value)
    assert "--use-intact-checkpoint" in str(e.value)
    resumed = train(tiny(train__steps=8, checkpoint__every=2), resume=run.dir, use_intact_checkpoint=True)
    assert resumed.step == 8
    assert (run.dir / "checkpoints" / "broken_step_00000006").is_dir()  # kept for inspection, never read
    assert checkpoint.problem(checkpoint.latest_checkpoint(run.dir)) is None
    # and the continued run equals one resumed from step 4 of an intact copy: the fallback loses nothing else
    straight = train(tiny(train__steps=8, checkpoint__every=2), out=tmp_path / "straight")
    a = checkpoint.flatten_state(dict(resumed.family.nets.items()))
    b = checkpoint.flatten_state(dict(straight.family.nets.items()))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_without_any_intact_checkpoint_says_so(tmp_path, tiny):
    run = train(tiny(train__steps=3, checkpoint__every=100), out=tmp_path / "run")
    only = checkpoint.latest_checkpoint(run.dir)
    (only / checkpoint.STATE).write_bytes(b"")
    with pytest.raises(GanforgeError, match="no older intact checkpoint"):
        train(tiny(train__steps=6), resume=run.dir, use_intact_checkpoint=True)


class Payload:  # an object only unpickling could rebuild
    def __reduce__(self):
        return (print, ("this ran at load time",))


def test_a_pickled_object_is_refused_in_our_words(tmp_path, tiny):
    run = train(tiny(train__steps=3), out=tmp_path / "run")
    state = checkpoint.latest_checkpoint(run.dir) / checkpoint.STATE
    torch.save({"step": 3, "evil": Payload()}, state)
    with pytest.raises(GanforgeError) as e:
        checkpoint.load_state(state.parent)
    msg = str(e.value)
    assert "never unpickles" in msg and "weights_only" not in msg and "\n" not in msg
    with pytest.raises(pickle.UnpicklingError):  # torch would have needed weights_only=False: we never pass it
        torch.load(state, weights_only=True)


# -- settings are refused before any work (each key's bounds: tests/test_config.py) --------------------
def test_bad_objective_option_fails_before_data_or_run_folder(tmp_path, monkeypatch, capsys):
    def no_data(*a, **k):
        raise AssertionError("data was loaded before the config was judged")

    monkeypatch.setattr(loop, "load_configured", no_data)
    assert main(["train", DIGITS, "--out", str(tmp_path / "run"), *QUIET, "objective.lose=hinge"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'objective.lose'; did you mean 'loss'?" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
    assert main(["train", DIGITS, "--out", str(tmp_path / "run"), *QUIET, "objective.loss=hinge",
                 "objective.real_target=0.9"]) == 2
    assert "real_target applies to loss 'bce' only" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# -- a new run writes only into a new or empty folder -------------------------------------------------------------
def test_out_must_be_a_new_or_empty_folder(tmp_path, tiny):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(GanforgeError, match="is a file"):
        train(tiny(), out=tmp_path / "file")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"mine")
    with pytest.raises(GanforgeError, match="not empty and is not a ganforge run"):
        train(tiny(), out=tmp_path / "photos")
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["holiday.jpg"]
    (tmp_path / "empty").mkdir()
    assert train(tiny(train__steps=2), out=tmp_path / "empty").step == 2
    with pytest.raises(GanforgeError, match="already holds a run"):
        train(tiny(train__steps=2), out=tmp_path / "empty")
