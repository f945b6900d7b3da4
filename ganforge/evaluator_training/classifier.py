"""The labelled recipe: the CNN classifier of the built-in Fashion-MNIST evaluator, trained with AdamW and a
one-cycle schedule on shifted (and, where the data allows, mirrored) images. For Fashion-MNIST with the built-in
command's seed and epochs it reproduces the committed weights' training exactly (same draws, same order)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets import build_net
from .recipe import EpochTrainer

BATCH = 128
LR = 3e-3
WEIGHT_DECAY = 5e-4
LABEL_SMOOTHING = 0.05


def shift_and_flip(x: torch.Tensor, g: torch.Generator, flip: bool = True) -> torch.Tensor:
    """One random shift of up to side/14 px per batch (2 px at 28 px: pad + crop, a single slice) and per-image
    horizontal mirroring."""
    n, _, h, w = x.shape
    pad = max(1, round(h / 14))
    padded = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=g).tolist()
    x = padded[:, :, dy:dy + h, dx:dx + w]
    if not flip:
        return x
    mirrored = torch.rand(n, generator=g) < 0.5
    return torch.where(mirrored.view(n, 1, 1, 1).to(x.device), x.flip(-1), x)


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item() for i in range(0, len(x), batch))
    return correct / max(1, len(x))


class Trainer(EpochTrainer):
    lr, weight_decay = LR, WEIGHT_DECAY

    def __init__(self, data, *, seed: int, flip: bool, device: torch.device):
        self.flip, self.arch_args = flip, {}
        self.y = data.train.labels.to(device)
        self.xt, self.yt = data.held_out.x.to(device), data.held_out.labels.to(device)
        model = build_net("cnn_classifier", in_shape=data.shape, num_classes=data.train.num_classes, **self.arch_args)
        super().__init__(model, data.train.x.to(device), BATCH, seed, device)

    def loss(self, model, idx, g) -> torch.Tensor:
        return F.cross_entropy(model(shift_and_flip(self.x[idx], g, self.flip)), self.y[idx],
                               label_smoothing=LABEL_SMOOTHING)

    def epoch_line(self, loss: float) -> str:
        return f"loss {loss:.3f}, held-out accuracy {accuracy(self.model, self.xt, self.yt):.4f}"

    def report(self) -> dict:
        return {"test_accuracy": accuracy(self.model, self.xt, self.yt),
                "train_accuracy": accuracy(self.model, self.x, self.y), "recipe": "AdamW 3e-3, one-cycle, batch 128, "
                "label smoothing 0.05, random shifts" + (" and mirroring" if self.flip else "")}
