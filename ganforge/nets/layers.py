"""Network-level GAN stabilisers: minibatch discrimination, virtual batch normalisation and Gaussian noise layers
(Salimans et al. 2016), spectral normalisation (Miyato et al. 2018)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrizations


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, Sec. 3.2: lets D see how alike the examples of a batch are, so that a collapsed
    generator (every sample the same) is easy to tell from real data.

    With T ∈ R^{A×B×C} (A = in_features, B = num_kernels, C = kernel_dim): M_i = f(x_i)·T is a B×C matrix,
    c_b(x_i, x_j) = exp(−‖M_{i,b} − M_{j,b}‖_L1) and o(x_i)_b = Σ_{j≠i} c_b(x_i, x_j). The output is
    concat[f(x_i), o(x_i)], of width A + B.
    """

    def __init__(self, in_features: int, num_kernels: int, kernel_dim: int = 5):
        super().__init__()
        self.num_kernels, self.kernel_dim = num_kernels, kernel_dim
        # N(0, 0.05) as in the paper's released experiments: distances of order 1 at the start, so c_b neither
        # saturates at 1 nor vanishes
        self.kernels = nn.Parameter(torch.randn(in_features, num_kernels, kernel_dim) * 0.05)

    def closeness(self, f: torch.Tensor) -> torch.Tensor:
        """o(x_i) for every example: (N, A) features → (N, B)."""
        n = len(f)
        m = (f @ self.kernels.flatten(1)).view(n, self.num_kernels, self.kernel_dim)
        m = m.transpose(0, 1)  # (B, N, C): each kernel compares the rows of its own N×C matrix
        # cdist instead of broadcasting M_i − M_j: it never holds the (N, N, B, C) differences in memory
        c = torch.exp(-torch.cdist(m, m, p=1))  # (B, N, N)
        # j = i is left out: it would add exp(0) = 1 to every o_b and says nothing about the rest of the batch
        others = ~torch.eye(n, dtype=torch.bool, device=f.device)
        return (c * others).sum(dim=2).transpose(0, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return torch.cat([f, self.closeness(f)], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.kernels.shape[0]}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"


class GaussianNoise(nn.Module):
    """x + N(0, σ²) in training mode, x in eval mode: the noise Salimans et al. 2016 add before every layer of
    their semi-supervised discriminator (σ 0.3 on the input, 0.5 on the hidden layers), a regulariser like dropout."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training and self.sigma else x

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class VirtualBatchNorm2d(nn.Module):
    """Salimans et al. 2016, Sec. 3.4: batch norm whose statistics come from a fixed reference batch, so an
    example's output does not depend on the other examples of its minibatch.

    The first `reference_size` rows of the input are the reference batch. They are normalised with their own
    statistics; every other example x_i with the statistics of the reference batch together with x_i (per channel
    over N, H, W, as BatchNorm2d: mean_i = (R·μ_ref + μ(x_i)) / (R + 1), and the variance likewise). Gradients
    flow through the reference statistics, as in the paper. No running statistics: train and eval are the same.
    """

    def __init__(self, num_features: int, reference_size: int, eps: float = 1e-5):
        super().__init__()
        self.reference_size, self.eps = reference_size, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.reference_size
        if len(x) < r:
            raise ValueError(f"VirtualBatchNorm2d needs the {r} reference rows first, got a batch of {len(x)}")
        ref, rest = x[:r], x[r:]
        ref_mean = ref.mean(dim=(0, 2, 3))
        ref_var = ref.var(dim=(0, 2, 3), unbiased=False)  # biased, as batch norm normalises with
        own_mean = rest.mean(dim=(2, 3))  # (n, C)
        own_var = rest.var(dim=(2, 3), unbiased=False)
        w = 1.0 / (r + 1)  # weight of the example itself in its virtual batch
        mean = (1 - w) * ref_mean + w * own_mean
        # variance of the union of two groups; equal to E[x²] − mean² but without its cancellation
        var = (1 - w) * ref_var + w * own_var + (1 - w) * w * (own_mean - ref_mean) ** 2
        ref_out = (ref - ref_mean[:, None, None]) * torch.rsqrt(ref_var + self.eps)[:, None, None]
        rest_out = (rest - mean[:, :, None, None]) * torch.rsqrt(var + self.eps)[:, :, None, None]
        return torch.cat([ref_out, rest_out]) * self.weight[:, None, None] + self.bias[:, None, None]

    def extra_repr(self) -> str:
        return f"{len(self.weight)}, reference_size={self.reference_size}, eps={self.eps}"


SPECTRALLY_NORMALISED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Miyato et al. 2018: divide the weight of every linear and convolution layer by its largest singular value
    (one power iteration per training forward pass). Parameters become `<layer>.parametrizations.weight.original`,
    with the power iteration's vectors as buffers, so a state_dict round trip restores the exact normalised net."""
    for layer in [m for m in module.modules() if isinstance(m, SPECTRALLY_NORMALISED)]:
        parametrizations.spectral_norm(layer)  # picks dim=1 (the outputs) for transposed convolutions itself
    return module
