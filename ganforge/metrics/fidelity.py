"""Fidelity of translations to their ground truth: L1, PSNR and SSIM per image, averaged over the images.

Images come in [-1, 1] (what the models make) and are scored on the [0, 1] pixel scale, the scale papers report:
L1 is the mean absolute pixel error, PSNR = 10·log10(1 / MSE) in dB, SSIM the structural similarity of Wang et al.
2004 (Gaussian window σ = 1.5, 11×11 or the largest odd size that fits a small image, K1 = 0.01, K2 = 0.03) as
torchmetrics computes it.
"""
from __future__ import annotations

import torch

from ..errors import GanforgeError

MIN_MSE = 1e-10  # a perfect image scores 100 dB, not infinity (which JSON cannot hold)


def _ssim():
    """torchmetrics' SSIM, imported here: torchmetrics takes seconds to import, which every `ganforge` command would
    otherwise pay; and it is optional (the `translation` extra)."""
    try:
        from torchmetrics.functional.image import structural_similarity_index_measure
    except ImportError:
        raise GanforgeError("SSIM of translations needs torchmetrics: pip install 'ganforge[translation]'") from None
    return structural_similarity_index_measure


def require_ssim() -> None:
    """A GanforgeError saying how to install it when SSIM cannot be computed here: called before a translation run
    trains, so that its final evaluation cannot fail for want of it hours later."""
    _ssim()


def fidelity(outputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 1000) -> dict[str, float]:
    """{"l1", "psnr", "ssim"} of outputs against targets, both (N, C, H, W) in [-1, 1], N ≥ 1."""
    return mean_fidelity(fidelity_per_image(outputs, targets, batch_size))


def mean_fidelity(per_image: dict[str, torch.Tensor]) -> dict[str, float]:
    """{"l1", "psnr", "ssim"} averaged over the images (`fidelity_per_image`, or several shares of it joined)."""
    return {k: float(v.mean()) for k, v in per_image.items()}


def fidelity_per_image(outputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 1000) -> dict[str, torch.Tensor]:
    """{"l1", "psnr", "ssim"}: one value per image of outputs against targets, both (N, C, H, W) in [-1, 1], N ≥ 1."""
    if outputs.shape != targets.shape or outputs.ndim != 4 or not len(outputs):
        raise ValueError(f"outputs and targets must be non-empty image batches of one shape; got "
                         f"{tuple(outputs.shape)} and {tuple(targets.shape)}")
    structural_similarity_index_measure = _ssim()

    side = min(outputs.shape[-2:])
    kernel = min(11, side if side % 2 else side - 1)
    l1, psnr, ssim = [], [], []
    for o, t in zip(outputs.split(batch_size), targets.split(batch_size)):
        o, t = (o.float().cpu() + 1) / 2, (t.float().cpu() + 1) / 2
        l1.append((o - t).abs().flatten(1).mean(1))
        mse = (o - t).square().flatten(1).mean(1).clamp_min(MIN_MSE)
        psnr.append(-10 * torch.log10(mse))
        ssim.append(structural_similarity_index_measure(o, t, data_range=1.0, kernel_size=kernel, sigma=1.5,
                                                        reduction="none"))
    return {"l1": torch.cat(l1), "psnr": torch.cat(psnr), "ssim": torch.cat(ssim)}
