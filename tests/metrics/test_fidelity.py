"""L1, PSNR and SSIM of translations against their ground truth, checked against closed-form values."""
import math

import pytest
import torch

from ganforge.metrics import fidelity


def on_unit_scale(v: float, shape=(3, 1, 28, 28)) -> torch.Tensor:
    """A constant image of value v on the [0, 1] scale, as the models' [-1, 1]."""
    return torch.full(shape, 2 * v - 1)


def test_identical_images_are_perfect():
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert fidelity(x, x) == pytest.approx({"l1": 0.0, "psnr": 100.0, "ssim": 1.0}, abs=1e-5)


def test_constant_images_give_the_closed_form_values():
    """Two flat images a and b: L1 = |a − b|, PSNR = 10 log10(1 / (a − b)²), and SSIM's structure and contrast
    terms are 1, leaving its luminance term (2ab + C1) / (a² + b² + C1) with C1 = (0.01 · 1)²."""
    a, b = 0.3, 0.6
    got = fidelity(on_unit_scale(a), on_unit_scale(b))
    c1 = 0.01 ** 2
    assert got["l1"] == pytest.approx(0.3, abs=1e-6)
    assert got["psnr"] == pytest.approx(10 * math.log10(1 / 0.09), abs=1e-4)
    assert got["ssim"] == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-3)


def test_small_images_use_a_window_that_fits():
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    y = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1)
    got = fidelity(x, y)
    assert 0 < got["ssim"] < 1 and got["psnr"] > 15


def test_shapes_must_match():
    with pytest.raises(ValueError, match="non-empty image batches of one shape"):
        fidelity(torch.zeros(2, 1, 8, 8), torch.zeros(3, 1, 8, 8))
