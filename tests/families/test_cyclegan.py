"""CycleGAN: with neither pairs nor labels it learns the mapping its hidden pairing records, its image pool behaves
as the paper's, and its test metrics report the cycle errors beside a random-pairing baseline."""
import pytest
import torch

import ganforge
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.families import get_family
from ganforge.families.cyclegan import query_pool
from ganforge.metrics import fidelity
from ganforge.train import train

from conftest import TINY_CONFIGS

TINY = TINY_CONFIGS / "cyclegan.yaml"
FAST = [f"optim.{n}.lr=2e-3" for n in ("G_AB", "G_BA", "D_A", "D_B")]


@pytest.mark.slow
def test_cyclegan_learns_inversion_from_unpaired_digits(tmp_path):
    """Digits (B) and inverted digits (A), each side shuffled on its own: after 150 steps G_AB(a) is close to the
    hidden partner of a, far closer than a random digit is (the baseline of a translation that ignores content)."""
    cfg = load_config(TINY, ["data.task=invert", "train.steps=150", "objective.identity=0", *FAST])
    run = train(cfg, out=tmp_path / "run")
    data = load_dataset("digits", image_size=16, task="invert")
    index = torch.arange(0, len(data), 6)
    a, b = data.examples(index, "source"), data.examples(index)
    translated = fidelity(ganforge.load(run.dir).sample(len(index), condition=a), b)
    shuffled = fidelity(b[torch.randperm(len(b), generator=torch.Generator().manual_seed(0))], b)
    assert translated["l1"] < 0.5 * shuffled["l1"] and translated["ssim"] > shuffled["ssim"] + 0.3, (translated,
                                                                                                   shuffled)
    metrics = run.family.eval().test_metrics(data)
    assert metrics["cycle_error_a"] < 0.1 and metrics["random_pair_l1"] == pytest.approx(shuffled["l1"], rel=0.2)
    g_ba = ganforge.load(run.dir, direction="BtoA")
    assert g_ba.inputs == ("x",) and g_ba.sample(3, condition=b[:3]).shape == (3, 1, 16, 16)


def test_the_pool_fills_then_swaps_half_of_the_fakes():
    torch.manual_seed(0)
    pool = torch.zeros(0, 1)
    first = torch.arange(5.0).view(5, 1)
    pool, judged = query_pool(pool, first, 8)
    assert torch.equal(judged, first) and torch.equal(pool, first)  # filling: every fake judged itself
    second = torch.arange(10.0, 20.0).view(10, 1)
    before = pool.clone()
    pool, judged = query_pool(pool, second, 8)
    assert len(pool) == 8 and torch.equal(judged[:3], second[:3])  # 3 filled the pool, 7 went through the coin
    swapped = int((judged[3:] != second[3:]).sum())
    assert 0 < swapped < 7  # with this seed some were swapped for stored fakes, some judged themselves
    # nothing lost, nothing doubled: what D judges and what the pool keeps are what it held and what came in (the
    # three that filled it are both kept and judged)
    kept_and_judged = torch.cat([pool, judged]).flatten().tolist()
    assert sorted(kept_and_judged) == sorted(torch.cat([before, second, second[:3]]).flatten().tolist())
    assert query_pool(pool, second, 0)[1] is second  # pool 0: the newest fakes only


def test_identity_needs_domains_of_one_shape():
    cfg = load_config(TINY, ["data.task=downscale2"])
    data = load_dataset("digits", image_size=16, task="downscale2")
    with pytest.raises(GanforgeError, match="identity needs domains of one shape"):
        get_family("cyclegan")(cfg, data.shape, fields=data.spec)
