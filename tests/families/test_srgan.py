"""SRGAN: a super-resolution generator that beats bicubic upscaling, and options that say what it trains on."""
import pytest
import torch

import ganforge
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.metrics import fidelity
from ganforge.train import train

from conftest import TINY_CONFIGS


def test_srgan_upscales_digits_better_than_bicubic(tmp_path):
    """SRGAN (pixel content + 10⁻³ GAN) on 8 → 16 px digits: 150 steps beat bicubic upscaling in PSNR."""
    cfg = load_config(TINY_CONFIGS / "srgan.yaml", ["train.steps=150", "nets.G.args.base=16", "optim.G.lr=1e-3"])
    run = train(cfg, out=tmp_path / "run")
    data = load_dataset("digits", image_size=16, task="downscale2")
    index = torch.arange(0, len(data), 6)
    low, high = data.examples(index, "source"), data.examples(index)
    assert low.shape[-1] == 8
    bicubic = torch.nn.functional.interpolate(low, size=(16, 16), mode="bicubic", align_corners=False).clamp(-1, 1)
    learnt, baseline = fidelity(ganforge.load(run.dir).sample(len(index), condition=low), high), fidelity(bicubic, high)
    assert learnt["psnr"] > baseline["psnr"] + 1.0, (learnt, baseline)


def test_feature_content_needs_a_discriminator_to_train():
    from ganforge.families import get_family
    cfg = load_config(TINY_CONFIGS / "srgan.yaml", ["objective.content=features", "objective.adversarial=0"])
    with pytest.raises(GanforgeError, match="content 'features' reads the discriminator's features"):
        get_family("srgan").check_config(cfg)


def _fake_vgg19(path, fmt: str) -> None:
    """A VGG-19 state dict in torchvision's key layout with random weights (the real file cannot be had here)."""
    from ganforge.nets.vgg import _PLAN
    state, i, channels = {}, 0, 3
    for width in _PLAN:
        if width == "M":
            i += 1
            continue
        state[f"features.{i}.weight"] = torch.randn(width, channels, 3, 3) * 0.05
        state[f"features.{i}.bias"] = torch.zeros(width)
        channels, i = width, i + 2
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the rest of the file is ignored
    if fmt == "safetensors":
        from safetensors.torch import save_file
        save_file(state, str(path))
    else:
        torch.save(state, path)


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_vgg_content_reads_torchvision_weights_from_a_local_file(tmp_path, fmt):
    from ganforge.nets.vgg import VGG19Features
    weights = tmp_path / f"vgg19.{fmt}"
    _fake_vgg19(weights, fmt)
    vgg = VGG19Features(weights, "relu2_2")
    assert vgg(torch.zeros(2, 1, 28, 28)).shape == (2, 128, 14, 14)
    assert not any(p.requires_grad for p in vgg.parameters()) and not vgg.train().training
    cfg = load_config(TINY_CONFIGS / "srgan.yaml", ["train.steps=2", "objective.content=vgg",
                                                    f"objective.vgg_weights={weights}", "objective.vgg_layer=relu2_2"])
    run = train(cfg, out=tmp_path / "run")
    assert "loss/g_content_vgg" in run.last_metrics


def test_vgg_content_needs_its_file(tmp_path):
    from ganforge.families import get_family
    from ganforge.nets.vgg import VGG19Features
    for overrides, message in ((["objective.content=vgg"], "content 'vgg' and vgg_weights go together"),
                               (["objective.content=vgg", f"objective.vgg_weights={tmp_path}/none.pth"], "no such file")):
        with pytest.raises(GanforgeError, match=message):
            get_family("srgan").check_config(load_config(TINY_CONFIGS / "srgan.yaml", overrides))
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(GanforgeError, match="not torchvision's vgg19 weights"):
        VGG19Features(tmp_path / "wrong.pth")
