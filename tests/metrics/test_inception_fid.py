"""The FID Inception-v3 extractor on random weights: architecture, weight loading, preprocessing.

The real weights file cannot be fetched offline, so the checks are structural: the key set and shapes
the pytorch-fid file has, the FID-specific pools, and round-tripping a state dict through a file."""
import hashlib

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.metrics.inception_net import (
    FIDInceptionV3, inception_features, load_fid_inception, preprocess,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


@pytest.fixture(scope="module")
def weights_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("fid") / "pt_inception.pth"
    torch.save(model.state_dict(), path)
    return path


def grey_images(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1


# ---------------------------------------------------------------- architecture

def test_state_dict_matches_fid_weights_layout(model):
    sd = model.state_dict()
    expected_shapes = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_1a_3x3.bn.running_mean": (32,),
        "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
        "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
        "Mixed_7b.branch1x1.conv.weight": (320, 1280, 1, 1),
        "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert not any(k.startswith("AuxLogits") for k in sd)  # the FID file has no aux classifier
    # 94 conv+BN units (stem 5, 3 x A 7, B 4, 4 x C 10, D 6, 2 x E 9), each with conv.weight and
    # 5 BN tensors, plus fc weight and bias
    assert len(sd) == 94 * 6 + 2
    assert all(m.eps == 0.001 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    # torchvision's Inception-v3 has 27,161,264 parameters; minus its AuxLogits (3,326,696),
    # plus 8 more classes in fc (8 * 2049) -> the FID network
    assert sum(p.numel() for p in model.parameters()) == 27_161_264 - 3_326_696 + 8 * 2049


def test_fid_specific_pools(model):
    for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7b"):
        pool = getattr(model, name).pool
        assert isinstance(pool, nn.AvgPool2d), name
        assert (pool.kernel_size, pool.stride, pool.padding, pool.count_include_pad) == (3, 1, 1, False), name
    pool = model.Mixed_7c.pool
    assert isinstance(pool, nn.MaxPool2d)
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 1, 1)
    assert isinstance(model.avgpool, nn.AdaptiveAvgPool2d)


def test_count_include_pad_changes_the_border():
    # the setting matters: at a corner only 4 of the 9 window cells are real
    x = torch.ones(1, 1, 4, 4)
    pool = FIDInceptionV3().Mixed_5b.pool
    assert pool(x)[0, 0, 0, 0].item() == pytest.approx(1.0)
    assert nn.AvgPool2d(3, 1, 1)(x)[0, 0, 0, 0].item() == pytest.approx(4 / 9)


# ---------------------------------------------------------------- features

def test_features_shape_finite_non_negative(model):
    feats = inception_features(model, grey_images(2), batch_size=2)
    assert feats.shape == (2, 2048) and feats.dtype == np.float64
    assert np.isfinite(feats).all()
    assert (feats >= 0).all() and (feats > 0).any()
    logits = model.logits(preprocess(grey_images(1)))
    assert logits.shape == (1, 1008)


def test_batching_and_mode(model):
    images = grey_images(2, seed=1)
    model.train()
    whole = inception_features(model, images, batch_size=2)
    assert model.training  # the caller's mode is restored
    model.eval()
    single = inception_features(model, images, batch_size=1)
    np.testing.assert_allclose(single, whole, rtol=1e-4, atol=1e-6)


def test_load_round_trip(model, weights_file):
    loaded = load_fid_inception(weights_file)
    assert not loaded.training
    assert loaded.sha256 == hashlib.sha256(weights_file.read_bytes()).hexdigest()
    images = grey_images(2)
    np.testing.assert_array_equal(inception_features(loaded, images), inception_features(model, images))


def test_load_without_bn_counters(model, tmp_path):
    # weights files written by older PyTorch have no num_batches_tracked entries
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(sd, path)
    loaded = load_fid_inception(path)
    assert torch.equal(loaded.fc.weight, model.fc.weight)


# ---------------------------------------------------------------- bad files

def test_missing_file(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(GanforgeError, match="nope.pth"):
        load_fid_inception(path)


def test_missing_and_unexpected_keys(tmp_path):
    path = tmp_path / "partial.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3), "extra.weight": torch.zeros(1)}, path)
    with pytest.raises(GanforgeError, match="partial.pth") as err:
        load_fid_inception(path)
    msg = str(err.value)
    assert "missing keys" in msg and "Conv2d_1a_3x3.bn.weight" in msg
    assert "unexpected keys" in msg and "extra.weight" in msg


def test_wrong_shape(model, tmp_path):
    sd = dict(model.state_dict())
    sd["fc.weight"] = torch.zeros(1000, 2048)
    path = tmp_path / "shape.pth"
    torch.save(sd, path)
    with pytest.raises(GanforgeError, match="shape.pth") as err:
        load_fid_inception(path)
    assert "fc.weight" in str(err.value) and "(1000, 2048)" in str(err.value)


@pytest.mark.parametrize("obj", [torch.zeros(3), [torch.zeros(1)], {"a": 1}])
def test_not_a_state_dict(tmp_path, obj):
    path = tmp_path / "other.pth"
    torch.save(obj, path)
    with pytest.raises(GanforgeError, match="other.pth.*not a state dict"):
        load_fid_inception(path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a torch file")
    with pytest.raises(GanforgeError, match="garbage.pth"):
        load_fid_inception(path)


# ---------------------------------------------------------------- preprocess

def test_preprocess_grey_float():
    x = preprocess(grey_images(2))
    assert x.shape == (2, 3, 299, 299) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])


def test_preprocess_uint8_nhwc_matches_float():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(2, 16, 20, 3), dtype=np.uint8)
    as_float = torch.from_numpy(u8).permute(0, 3, 1, 2).float() / 127.5 - 1  # same images in [-1, 1]
    a, b = preprocess(u8), preprocess(as_float)
    assert a.shape == (2, 3, 299, 299)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    # the pixel range maps onto [-1, 1]: constant 0 and 255 images (up to float32 interpolation error)
    torch.testing.assert_close(preprocess(np.zeros((1, 8, 8, 1), np.uint8)), torch.full((1, 3, 299, 299), -1.0))
    torch.testing.assert_close(preprocess(np.full((1, 8, 8), 255, np.uint8)), torch.full((1, 3, 299, 299), 1.0))


def test_preprocess_quantize_and_bad_input():
    x = grey_images(1)
    q = preprocess(x, quantize=True)
    u8 = torch.round((x[:, 0] + 1) / 2 * 255).to(torch.uint8)  # (N, H, W) grey
    torch.testing.assert_close(q, preprocess(u8), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((2, 3, 16, 16), np.uint8))  # NCHW uint8 is not the convention
    with pytest.raises(ValueError, match="C in"):
        preprocess(torch.zeros(2, 4, 8, 8))
    with pytest.raises(ValueError, match="dtype"):
        preprocess(torch.zeros(2, 3, 8, 8, dtype=torch.int64))
