"""An error every process of a run meets (a config value, a file) is printed once, by rank 0; another rank exits
with the same status after one short line pointing to it. An error a rank meets on its own (a lost peer) is
printed by that rank in full."""
from __future__ import annotations

import pytest

from ganforge import api
from ganforge.train.distributed import PeerLost

from conftest import run_cli, tiny_config
from launching import torchrun, write_config

FOLLOWER_LINE = "ganforge: rank 1: stopped: see rank 0's message"


@pytest.fixture
def bad_config(tmp_path):
    raw = tiny_config()
    raw["train"]["stepz"] = 5  # a misspelt key: refused when the config is read, by every rank alike
    return write_config(tmp_path / "bad.yaml", raw)


@pytest.mark.parametrize("rank", [0, 1])
def test_a_config_error_is_printed_by_rank_0_only(bad_config, rank, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", str(rank))
    status, err, _ = run_cli(["train", bad_config, "--out", bad_config.parent / "run"], capsys)
    assert status == 2  # the same exit status on every rank
    if rank == 0:
        assert err.startswith("ganforge: error: ") and "stepz" in err
    else:
        assert err.strip() == FOLLOWER_LINE


def test_a_lost_peer_is_told_by_the_rank_that_saw_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")

    def lose_peer(*args, **kwargs):
        raise PeerLost("rank 1 of 2: another process of this run stopped answering")

    monkeypatch.setattr(api, "train", lose_peer)
    good = write_config(tmp_path / "tiny.yaml", tiny_config())
    status, err, _ = run_cli(["train", good, "--out", tmp_path / "run"], capsys)
    assert status == 2 and FOLLOWER_LINE not in err
    assert err.strip() == "ganforge: error: rank 1 of 2: another process of this run stopped answering"


@pytest.mark.slow
def test_two_ranks_print_an_indivisible_batch_once(tmp_path):
    """Refused on every rank after they join (the global batch 15 does not split over 2): one message."""
    result = torchrun([str(write_config(tmp_path / "odd.yaml", tiny_config(train__batch_size=15))),
                       "--out", str(tmp_path / "run")])
    assert result.returncode != 0
    assert result.stderr.count("give one that divides by 2") == 1, result.stderr[-3000:]
