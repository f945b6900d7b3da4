"""Each rank's share of the data, without launching processes: the ranks' slices of a batch, put together, are the
one-process batch (in memory and streamed from shards, with workers and across a resume), every rank gets the same
number of batches, and what cannot be split is refused in one line."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.config import config_from_dict
from ganforge.data.shards import ShardStream, pack_array
from ganforge.errors import GanforgeError
from ganforge.train.distributed import Group, flat_digest, weights_digest
from ganforge.train.loop import build_data
from ganforge.train.ranks import check_processes
from ganforge.train.sampler import BatchSampler

from conftest import tiny_config

B, STEPS = 12, 40  # past an epoch of the 300-image shards (25 batches)


def _joined(parts: list[list[dict]], key: str) -> list[torch.Tensor]:
    return [torch.cat([p[i][key] for p in parts]) for i in range(len(parts[0]))]


def test_in_memory_ranks_slices_make_the_one_process_batch():
    data = build_data(config_from_dict(tiny_config()))
    one = BatchSampler(data, B, seed=5, device=torch.device("cpu"))
    ranks = [BatchSampler(data, B, seed=5, device=torch.device("cpu"), rank=r, world_size=3) for r in range(3)]
    whole = [one.next() for _ in range(STEPS * 4)]  # several epochs: the new permutations agree too
    parts = [[s.next() for _ in range(STEPS * 4)] for s in ranks]
    assert all(len(p["x"]) == B // 3 for part in parts for p in part)
    for key in ("x", "label"):
        assert all(torch.equal(a, b[key]) for a, b in zip(_joined(parts, key), whole))
    assert all(torch.equal(s.state_dict()["order"], one.state_dict()["order"]) for s in ranks)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("sets") / "shards"
    pack_array(rng.integers(0, 256, (300, 1, 4, 4), dtype=np.uint8), out, labels=rng.integers(0, 3, 300),
               class_names=list("abc"), shard_size=32)
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_shard_ranks_slices_make_the_one_process_batch_across_a_resume(packed, workers):
    stream = ShardStream(packed, B, seed=2)
    whole = [next(stream) for _ in range(STEPS)]
    parts = []
    for r in range(2):
        s = ShardStream(packed, B, seed=2, rank=r, world_size=2, num_workers=workers)
        first = [next(s) for _ in range(STEPS // 2)]
        again = ShardStream(packed, B, seed=2, rank=r, world_size=2)  # resumed from the state, on its own
        again.load_state_dict(s.state_dict())
        parts.append(first + [next(again) for _ in range(STEPS - STEPS // 2)])
    for key in ("x", "label"):
        assert all(torch.equal(a, b[key]) for a, b in zip(_joined(parts, key), whole))
    # the position is the global batch's: the same on every rank, and what one process resumes from
    assert parts and ShardStream(packed, B, seed=2, rank=1, world_size=2).state_dict() == ShardStream(
        packed, B, seed=2).state_dict()


def test_what_cannot_be_split_is_refused_in_one_line(packed):
    with pytest.raises(GanforgeError, match="batch of 12 must divide by 5") as e:
        ShardStream(packed, B, rank=0, world_size=5)
    assert "\n" not in str(e.value)
    with pytest.raises(GanforgeError, match=r"train.batch_size=16 is the global batch, split across 3 processes"):
        check_processes(config_from_dict(tiny_config()), torch.device("cpu"), Group(0, 3))
    with pytest.raises(GanforgeError, match="train.sync_bn=true: torch synchronises batch norm on CUDA only"):
        check_processes(config_from_dict(tiny_config(train__sync_bn=True)), torch.device("cpu"), Group(1, 2))
    check_processes(config_from_dict(tiny_config(train__sync_bn=True)), torch.device("cpu"), Group())  # one: fine


def test_one_process_group_changes_nothing():
    g = Group()
    assert g.is_writer and not g.several
    grads = torch.nn.Linear(3, 2)
    grads(torch.ones(1, 3)).sum().backward()
    before = grads.weight.grad.clone()
    g.average_gradients([grads])
    assert torch.equal(grads.weight.grad, before)
    assert g.agree_stop(None, 1.5) == (None, 1.5) and g.mean_values({"a": 1.0}) == {"a": 1.0}
    assert g.share(lambda: 7) == 7 and g.gather("x") == ["x"]


def test_digest_of_the_networks_is_that_of_their_checkpoint_weights():
    nets = {"G": torch.nn.Linear(3, 2), "D": torch.nn.BatchNorm1d(2)}
    flat = {f"{n}/{k}": v.clone() for n, m in nets.items() for k, v in m.state_dict().items()}
    assert weights_digest(nets) == flat_digest(dict(reversed(flat.items())))
    with torch.no_grad():
        nets["G"].weight[0, 0] += 1e-7
    assert weights_digest(nets) != flat_digest(flat)
