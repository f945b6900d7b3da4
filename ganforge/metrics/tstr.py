"""Train on synthetic, test on real (Esteban et al. 2017): a classifier fitted to labelled generated samples is
scored on the real test split, beside the same classifier fitted to as many real training images."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets import build_net


def fit_classifier(x: torch.Tensor, y: torch.Tensor, num_classes: int, epochs: int = 3, batch_size: int = 128,
                   width: int = 16, seed: int = 0) -> torch.nn.Module:
    """A small CNN (ganforge.nets.cnn_classifier) trained with Adam; deterministic for a seed on CPU."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # leave the caller's RNG (a training run's) untouched
        torch.manual_seed(seed)
        net = build_net("cnn_classifier", in_shape=tuple(x.shape[1:]), num_classes=num_classes, width=width,
                        features=64, dropout=0.1)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=g)
            for i in range(0, len(x) - batch_size + 1, batch_size):
                idx = order[i:i + batch_size]
                loss = F.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    net.eval()
    hits = sum(int((net(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum()) for i in range(0, len(x), batch_size))
    return hits / max(len(x), 1)


def tstr(synthetic_x, synthetic_y, real_train_x, real_train_y, test_x, test_y, num_classes: int,
         epochs: int = 3, seed: int = 0) -> dict:
    on_synthetic = fit_classifier(synthetic_x, synthetic_y, num_classes, epochs=epochs, seed=seed)
    on_real = fit_classifier(real_train_x, real_train_y, num_classes, epochs=epochs, seed=seed)
    return {"tstr_accuracy": accuracy(on_synthetic, test_x, test_y), "trtr_accuracy": accuracy(on_real, test_x, test_y)}
