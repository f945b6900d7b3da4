"""What several processes compute is what one process computes: 2 ranks with global batch B train the weights one
process trains with batch B (a network without batch norm, up to float tolerance: the gradient mean is summed in
another order); and one process on this code trains bit-for-bit what it trained before distribution existed."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import ganforge
from ganforge.config import config_from_dict
from ganforge.data.digits import load_digits
from ganforge.data.shards import pack_array

from conftest import assert_same_state, tiny_config, weights
from launching import ROOT, check_ok, checkout, environment, state, torchrun, write_config

# the commit before ganforge learned to train on several processes: its one-process training is the reference.
# A later change that alters one-process training on purpose (new numerics of the tiny DCGAN) moves this to that
# change's own parent, with the reason in its commit message.
BEFORE_DISTRIBUTION = "294e60f"


def no_batch_norm(**over) -> dict:
    raw = tiny_config(train__threads=1, **over)
    raw["nets"]["G"]["args"]["norm"] = "none"
    raw["nets"]["D"]["args"]["batch_norm"] = False
    return raw


@pytest.mark.slow
def test_two_ranks_batch_b_equal_one_process_batch_b(tmp_path):
    raw = no_batch_norm()
    two = tmp_path / "two"
    check_ok(torchrun([str(write_config(tmp_path / "nobn.yaml", raw)), "--out", str(two)]))
    one = ganforge.train(config_from_dict(raw), out=tmp_path / "one").dir
    w1, w2 = weights(one), weights(two)
    assert w1.keys() == w2.keys()
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-4, atol=1e-5, msg=f"{k}: 2 ranks differ from 1 process")
    # and the comparison can tell: a run on another seed is far from both
    other = weights(ganforge.train(config_from_dict(no_batch_norm(train__seed=4)), out=tmp_path / "other").dir)
    assert max(float((other[k] - w1[k]).abs().max()) for k in w1) > 1e-2


@pytest.mark.slow
def test_two_ranks_on_shards_equal_one_process_on_shards(tmp_path):
    """Streamed shards (each rank decoding only its slice of every global batch, with a DataLoader worker) train
    what one process trains from them, across an epoch boundary."""
    x, y = load_digits()
    pack_array(((x[:200] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8), tmp_path / "shards",
               labels=y[:200].numpy(), shard_size=40)  # 12 batches of 16 an epoch: 16 steps cross into the next
    raw = no_batch_norm(data__name="shards", data__path=str(tmp_path / "shards"), data__workers=1, train__steps=16,
                        checkpoint__every=1000)
    two = tmp_path / "two"
    check_ok(torchrun([str(write_config(tmp_path / "shards.yaml", raw)), "--out", str(two)]))
    one = ganforge.train(config_from_dict(raw), out=tmp_path / "one").dir
    w1, w2 = weights(one), weights(two)
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-4, atol=1e-4, msg=f"{k}: 2 ranks differ from 1 process")
    assert state(one)["samplers"] == state(two)["samplers"]  # the same global position: (epoch, batch)


@pytest.mark.slow
def test_one_process_trains_what_it_trained_before_distribution(tmp_path):
    """The reference checkout (git archive of the commit before) and this one train the same run in one process:
    identical weights, optimiser state and RNG."""
    before = checkout(BEFORE_DISTRIBUTION, tmp_path / "before")
    if before is None:
        pytest.skip(f"no git history with commit {BEFORE_DISTRIBUTION} here")
    config = write_config(tmp_path / "tiny.yaml", tiny_config(train__threads=1))
    for code, out in ((before, tmp_path / "run_before"), (ROOT, tmp_path / "run_now")):
        env = environment(PYTHONPATH=str(code), PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run([sys.executable, "-m", "ganforge", "train", str(config), "--out", str(out)],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    assert_same_state(tmp_path / "run_before", tmp_path / "run_now")
