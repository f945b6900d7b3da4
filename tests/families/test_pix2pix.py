"""pix2pix: it learns the translation (beats the best constant guess), its options are the paper's ablation, and
its discriminator judges (input, output) pairs with a map of patch logits."""
import pytest
import torch

import ganforge
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.families import get_family
from ganforge.train import train

from conftest import TINY_CONFIGS

TINY = TINY_CONFIGS / "pix2pix.yaml"


def l1(u, v) -> float:
    return (u - v).abs().mean().item()


@pytest.mark.slow
def test_pix2pix_learns_edges_to_digits(tmp_path):
    """300 steps on the 16 px digits' edge maps: the translations are far closer to the digits than the mean digit
    (the best constant output under L1 is the median, and the mean is near it), the edge map itself or black."""
    cfg = load_config(TINY, ["train.steps=300", "nets.G.args.base=16", "nets.G.args.max_width=64",
                             "nets.D.args.base=16"])
    run = train(cfg, out=tmp_path / "run")
    data = load_dataset("digits", image_size=16, task="edges")
    index = torch.arange(0, len(data), 6)
    a, b = data.examples(index, "source"), data.examples(index)
    out = ganforge.load(run.dir).sample(len(index), condition=a)
    assert out.shape == b.shape
    baselines = {"mean digit": l1(b.mean(0, keepdim=True).expand_as(b), b), "edge map": l1(a, b),
                 "black": l1(-torch.ones_like(b), b)}
    assert l1(out, b) < 0.8 * min(baselines.values()), (l1(out, b), baselines)
    assert "l1" in run.last_metrics and "D(a,G(a))" in run.last_metrics  # the monitors the doctor and the user see


def family(*overrides):
    cfg = load_config(TINY, list(overrides))
    data = load_dataset("digits", image_size=16, task="edges")
    return get_family("pix2pix")(cfg, data.shape, fields=data.spec)


def test_the_papers_ablation_is_two_options():
    both = family()
    assert [p.name for p in both.phases()] == ["d_step", "g_step"] and both.phases()[1].same_batch
    assert [p.name for p in family("objective.adversarial=0").phases()] == ["g_step"]  # L1 alone trains no D
    with pytest.raises(GanforgeError, match="l1 and adversarial are both 0"):
        family("objective.adversarial=0", "objective.l1=0")
    with pytest.raises(GanforgeError, match="loss 'hinj' unknown"):
        family("objective.loss=hinj")


def test_the_discriminator_judges_input_output_pairs_patch_by_patch():
    f = family()
    assert f.in_shape("D") == (2, 16, 16)  # edge map beside the digit
    assert family("objective.conditional=false").in_shape("D") == (1, 16, 16)
    a, b = torch.zeros(3, 1, 16, 16), torch.ones(3, 1, 16, 16)
    logits = f.nets.D(f.pair(a, b))
    assert logits.dim() == 3 and logits.shape[0] == 3  # (N, H', W'): one logit per patch
    assert torch.equal(f.pair(a, b)[:, 0], a[:, 0]) and torch.equal(f.pair(a, b)[:, 1], b[:, 0])

