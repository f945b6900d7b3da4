"""Checkpoints: a crash mid-write never costs the last good one; a resumed run continues bit for bit."""
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import ganforge
from ganforge.errors import GanforgeError
from ganforge.train import checkpoint, train

from conftest import assert_same_state, tiny_config, weights


@pytest.mark.parametrize("variant", ["dcgan_batchnorm", "maxout_dropout_ema"])
def test_resume_is_bit_identical(tmp_path, tiny, variant):
    over = {}
    if variant == "maxout_dropout_ema":  # dropout draws from the global RNG; EMA is part of the state
        over = {"nets": {"G": {"arch": "mlp_generator", "args": {"hidden": [32]}},
                         "D": {"arch": "maxout_discriminator", "args": {"hidden": [16], "pieces": 3}}},
                "objective": {"d_steps": 2, "generator_cost": "minimax"}, "train__ema": 0.9}
    straight = tiny(train__steps=10, **over)
    train(straight, out=tmp_path / "straight")

    first = tiny(train__steps=4, **over)
    train(first, out=tmp_path / "split")
    resumed = tiny(train__steps=10, **over)
    train(resumed, resume=tmp_path / "split")
    assert_same_state(tmp_path / "straight", tmp_path / "split")
    # and the sample grid of the last step is the same picture
    last = "samples/step_00000010.png"
    assert (tmp_path / "straight" / last).read_bytes() == (tmp_path / "split" / last).read_bytes()


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, tiny, monkeypatch):
    run = train(tiny(train__steps=3), out=tmp_path / "run")
    good = checkpoint.latest_checkpoint(run.dir)
    before = weights(run.dir)

    def dies_half_way(obj, f, *a, **k):
        Path(f).write_bytes(b"\x00" * 10)  # a partial file, then the process "dies"
        raise OSError("disk pulled out")

    monkeypatch.setattr(checkpoint.torch, "save", dies_half_way)
    with pytest.raises(OSError):
        checkpoint.save_checkpoint(run.dir, 99, dict(run.family.nets.items()), {"step": 99}, keep=3)
    monkeypatch.undo()
    assert checkpoint.latest_checkpoint(run.dir) == good
    after = weights(run.dir)
    assert all(torch.equal(before[k], after[k]) for k in before)
    # and the run resumes from it
    resumed = train(tiny(train__steps=5), resume=run.dir)
    assert resumed.step == 5


@pytest.mark.slow
def test_sigkill_during_training_leaves_a_loadable_checkpoint(tmp_path):
    """A real crash: kill -9 a training process that checkpoints every step, at several moments."""
    cfg = tmp_path / "c.yaml"
    import yaml
    raw = tiny_config(train__steps=100000, checkpoint__every=1, checkpoint__keep=2, log__sample_every=1000)
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "ganforge.cli", "train", str(cfg), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not (out / "checkpoints" / "latest").exists() and time.time() < deadline:
            time.sleep(0.05)
        for delay in (0.013, 0.029, 0.041, 0.057, 0.071):
            time.sleep(delay)
            ckpt = checkpoint.latest_checkpoint(out)  # readable while the writer races on
            g = ganforge.load(out)
            assert g.sample(2).shape == (2, 1, 16, 16)
            assert ckpt.name.startswith("step_")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ckpt = checkpoint.latest_checkpoint(out)
    state = checkpoint.load_state(ckpt)
    assert state["step"] >= 1
    assert ganforge.load(out).sample(3).shape == (3, 1, 16, 16)


def test_corrupt_weights_file_is_named(tmp_path, tiny):
    run = train(tiny(train__steps=3), out=tmp_path / "run")
    f = checkpoint.latest_checkpoint(run.dir) / checkpoint.WEIGHTS
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(GanforgeError, match="weights.safetensors"):
        ganforge.load(run.dir)


def test_keep_last_k(tmp_path, tiny):
    run = train(tiny(train__steps=12, checkpoint__every=2, checkpoint__keep=2), out=tmp_path / "run")
    kept = sorted(p.name for p in (run.dir / "checkpoints").glob("step_*"))
    assert kept == ["step_00000010", "step_00000012"]
    assert not list((run.dir / "checkpoints").glob(".tmp*"))


def test_state_file_loads_without_unpickling_objects(tmp_path, tiny):
    run = train(tiny(train__steps=3), out=tmp_path / "run")
    # weights_only=True refuses arbitrary classes; our state must pass it
    torch.load(checkpoint.latest_checkpoint(run.dir) / checkpoint.STATE, weights_only=True)


def test_a_resumed_run_shows_each_step_once_in_tensorboard(tmp_path, tiny):
    """The steps after the checkpoint a crashed run resumes from are trained again; TensorBoard must not show the
    crashed session's points for them beside the new ones (purge_step), as metrics.jsonl drops them (cut_log)."""
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    run = train(tiny(train__steps=10, checkpoint__every=3, checkpoint__keep=10, log__tensorboard=True),
                out=tmp_path / "run")
    for late in ("step_00000009", "step_00000010"):  # the crash: the last checkpoints were never written
        shutil.rmtree(run.dir / "checkpoints" / late)
    (run.dir / "checkpoints" / checkpoint.LATEST).unlink()
    train(tiny(train__steps=10, checkpoint__every=3, checkpoint__keep=10, log__tensorboard=True), resume=run.dir)

    events = event_accumulator.EventAccumulator(str(run.dir / "tensorboard"))
    events.Reload()
    tag = next(t for t in events.Tags()["scalars"] if t.startswith("loss"))
    steps = [e.step for e in events.Scalars(tag)]
    assert steps == sorted(set(steps)) and steps[-1] == 10, f"{tag} logged at steps {steps}"
