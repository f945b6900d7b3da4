"""The unlabelled recipe: SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
Representations"). Two random views of each image pass through the evaluator's CNN trunk and an MLP projection
head; the NT-Xent loss pulls a view towards its partner and away from the other 2N − 2 views. The trunk's
features (before the head, as SimCLR recommends) are what the metrics read.

The views are crops, mirroring and brightness/contrast (saturation and greyscale for colour) changes, scaled for
small images. SimCLR's blur is left out on purpose, and no noise is added: a network trained to ignore blur and
noise could not see them in generated images, and FID must rise with both.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..nets import build_net
from .recipe import EpochTrainer

METHOD = "SimCLR (NT-Xent, temperature 0.5; views: crop 35-100 % area, mirror, brightness/contrast, saturation/grey)"
PROJECTION_DIM = 64
HIDDEN = 256
BATCH = 128  # images a step (2 × 128 views)
LR = 2e-3
WEIGHT_DECAY = 1e-5
TEMPERATURE = 0.5
KNN = 20


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


def views(x: torch.Tensor, g: torch.Generator, flip: bool = True) -> torch.Tensor:
    """One random view of each image in x ((N, C, H, W) in [-1, 1]), all parameters drawn from g."""
    n, c = x.shape[:2]
    area = _uniform(n, 0.35, 1.0, g)
    ratio = torch.exp(_uniform(n, math.log(3 / 4), math.log(4 / 3), g))
    sx, sy = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)  # crop sides, as fractions
    tx, ty = (1 - sx) * _uniform(n, -1, 1, g), (1 - sy) * _uniform(n, -1, 1, g)
    mirror = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx * mirror, tx, sy, ty
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    jitter = (torch.rand(n, generator=g) < 0.8).float().view(n, 1, 1, 1).to(x.device)  # colour jitter with p 0.8
    mean = v.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(n, 0.6, 1.4, g).view(n, 1, 1, 1).to(x.device)
    brightness = _uniform(n, -0.4, 0.4, g).view(n, 1, 1, 1).to(x.device)
    jittered = (v - mean) * contrast + mean + brightness
    if c == 3:
        grey = jittered.mean(1, keepdim=True)
        saturation = _uniform(n, 0.6, 1.4, g).view(n, 1, 1, 1).to(x.device)
        jittered = grey + (jittered - grey) * saturation
        to_grey = (torch.rand(n, generator=g) < 0.2).view(n, 1, 1, 1).to(x.device)
        jittered = torch.where(to_grey, jittered.mean(1, keepdim=True).expand_as(jittered), jittered)
    return (jitter * jittered + (1 - jitter) * v).clamp(-1, 1)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """SimCLR's loss: each of the 2N views must pick out its partner among the other 2N − 1 by cosine similarity."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    n = len(z1)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, partner)


@torch.no_grad()
def features(model, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model.features(x[i:i + batch]) for i in range(0, len(x), batch)])


@torch.no_grad()
def knn_accuracy(train_f, train_y, test_f, test_y, k: int = KNN) -> float:
    """k-nearest-neighbour vote by cosine similarity: how much of the class structure the features hold, with
    labels the training never saw."""
    a, b = F.normalize(train_f, dim=1), F.normalize(test_f, dim=1)
    hits = 0
    for i in range(0, len(b), 1000):
        nearest = (b[i:i + 1000] @ a.T).topk(min(k, len(a)), dim=1).indices
        votes = F.one_hot(train_y[nearest], int(train_y.max()) + 1).sum(1)
        hits += int((votes.argmax(1) == test_y[i:i + 1000]).sum())
    return hits / max(1, len(b))


class Trainer(EpochTrainer):
    lr, weight_decay = LR, WEIGHT_DECAY

    def __init__(self, data, *, seed: int, flip: bool, device: torch.device):
        self.flip, self.data = flip, data
        self.xt = data.held_out.x.to(device)
        self.arch_args = {"head_hidden": HIDDEN, "dropout": 0.0}
        model = build_net("cnn_classifier", in_shape=data.shape, num_classes=PROJECTION_DIM, **self.arch_args)
        super().__init__(model, data.train.x.to(device), BATCH, seed, device)

    def _loss(self, model, x, g) -> torch.Tensor:
        z = model(torch.cat([views(x, g, self.flip), views(x, g, self.flip)]))  # one pass: batch norm sees both
        return nt_xent(*z.chunk(2))

    def loss(self, model, idx, g) -> torch.Tensor:
        return self._loss(model, self.x[idx], g)

    def epoch_line(self, loss: float) -> str:
        return f"contrastive loss {loss:.3f}, held-out {self.held_out_loss():.3f}"

    @torch.no_grad()
    def held_out_loss(self) -> float:
        """The loss on up to 1,024 held-out images with fixed views (seed 1): comparable between epochs."""
        self.model.eval()
        g = torch.Generator().manual_seed(1)
        x = self.xt[:1024]
        losses = [self._loss(self.model, x[i:i + self.batch], g).item() for i in range(0, len(x), self.batch)
                  if len(x[i:i + self.batch]) > 1]
        return sum(losses) / max(1, len(losses))

    def report(self) -> dict:
        out = {"held_out_loss": self.held_out_loss(), "loss_at_chance": math.log(2 * self.batch - 1),
               "recipe": f"AdamW {LR:g}, one-cycle, batch {self.batch} (2 views each)"}
        train, held = self.data.train, self.data.held_out
        # a report only: training never read them; one class makes any k-NN "accurate", so it is left out
        if train.labels is not None and held.labels is not None and len(torch.unique(train.labels)) > 1:
            out["knn_accuracy"] = knn_accuracy(features(self.model, self.x[:20_000]), train.labels[:20_000],
                                               features(self.model, self.xt), held.labels)
        return out
