"""2 processes under torchrun (gloo, this CPU): every rank holds the same weights, only rank 0 writes, a seed trains
the same weights again, and a resume continues bit-exactly (same number of processes) or says it is not exact."""
from __future__ import annotations

import shutil

import pytest
import torch

import ganforge
from ganforge.api import read_run_config
from ganforge.rundir import LATEST, RunDir

from conftest import assert_same_state, tiny_config, weights
from launching import check_ok, file_digest, rank_rngs, state, torchrun, write_config


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """A 6-step run of the tiny DCGAN (batch norm, per-rank statistics) on 2 processes; checkpoints at 3 and 6."""
    root = tmp_path_factory.mktemp("two_ranks")
    config = write_config(root / "tiny.yaml", tiny_config(train__threads=1))
    out = root / "run"
    result = check_ok(torchrun([str(config), "--out", str(out)]))
    return config, out, result


def test_ranks_hold_the_checkpoints_weights_and_only_rank_0_writes(two_ranks):
    _, out, result = two_ranks
    for step in (3, 6):
        ranks = state(out, step)["ranks"]
        assert ranks["world_size"] == 2
        # each rank's digest of the weights it held when the checkpoint was written: both are the file's
        assert ranks["weights_sha256"] == [file_digest(out, step)] * 2
    assert result.stdout.count("trained gan on digits to step 6") == 1
    assert result.stdout.count("global batch 16 = 2 × 8 per process") == 1
    assert [row["step"] for row in RunDir(out).read_metrics()] == [2, 4, 6]  # one writer, each window once
    assert ganforge.load(out).sample(3).shape == (3, 1, 16, 16)  # the checkpoint is a one-process one
    rngs = rank_rngs(out)
    assert not torch.equal(rngs[0], rngs[1])  # dropout, noise, augmentation: each rank draws its own


@pytest.mark.slow
def test_same_seed_same_weights_on_a_second_run(two_ranks, tmp_path):
    config, out, _ = two_ranks
    again = tmp_path / "again"
    check_ok(torchrun([str(config), "--out", str(again)]))
    assert_same_state(out, again)
    for a, b in zip(rank_rngs(out), rank_rngs(again)):
        assert torch.equal(a, b)


def _rewound_to_step_3(out, where):
    """A copy of the run as if it had stopped after its checkpoint of step 3."""
    shutil.copytree(out, where)
    shutil.rmtree(RunDir(where).checkpoints / "step_00000006")
    (RunDir(where).checkpoints / LATEST).write_text("step_00000003\n")
    return where


@pytest.mark.slow
def test_resume_on_as_many_processes_is_bit_exact(two_ranks, tmp_path):
    _, out, _ = two_ranks
    resumed = _rewound_to_step_3(out, tmp_path / "resumed")
    result = check_ok(torchrun(["--resume", str(resumed)]))
    assert "not bit-exactly" not in result.stderr
    assert_same_state(out, resumed)
    for a, b in zip(rank_rngs(out), rank_rngs(resumed)):
        assert torch.equal(a, b)
    assert [row["step"] for row in RunDir(resumed).read_metrics()] == [2, 4, 6]


def test_resume_on_one_process_works_and_says_not_exact(two_ranks, tmp_path, capsys):
    _, out, _ = two_ranks
    resumed = _rewound_to_step_3(out, tmp_path / "one")
    run = ganforge.train(resume=resumed, config=read_run_config(resumed))
    assert run.step == 6 and run.stopped_by == "steps"
    err = capsys.readouterr().err
    assert "the checkpoint was written by 2 processes, this run has 1" in err and "not bit-exactly" in err
    assert "ranks" not in state(resumed)  # a one-process checkpoint again
    assert [row["step"] for row in RunDir(resumed).read_metrics()] == [2, 4, 6]  # steps 4–6 trained again
    w1, w2 = weights(resumed), weights(out)  # with batch norm over 16, not 2 × 8: other weights, same networks
    assert w1.keys() == w2.keys() and any(not torch.equal(w1[k], w2[k]) for k in w1)
