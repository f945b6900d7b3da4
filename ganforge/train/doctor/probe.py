"""The overfitting probe: D's verdicts on fixed training images beside those on fixed held-out ones (Karras et al.
2020), measured without changing the run's course; `discriminator_overfits` reads what it logs."""
from __future__ import annotations

from typing import Callable

import torch

from ... import seeds
from ...config import RunConfig
from ...data import SPLITLESS, load_configured
from ...data.base import Dataset
from ...data.shards import ShardDataset
from ...errors import GanforgeError
from ...families import Batch, Family
from .history import OVERFIT_HELD, OVERFIT_TRAIN


def overfitting_probe(cfg: RunConfig, family: Family, data: Dataset | ShardDataset,
                      device: torch.device) -> Callable[[], dict[str, float]] | None:
    """D's verdicts on fixed training images and on fixed held-out ones (the test split): the shares of each that
    it calls real, in eval mode and without augmentation, so measuring changes nothing in training. None where it
    cannot be measured: no discriminator that judges images alone, a game without an undecided score, no test split
    (a user's folder or npz, the digits: their "test" split is the training data, so nothing is held out), or
    streamed shards."""
    game = getattr(family, "game", None)
    if (type(family).judge is Family.judge or not cfg.doctor.enabled or data.kind != "image"
            or isinstance(data, ShardDataset) or game is None or game.boundary is None or cfg.data.name in SPLITLESS):
        return None
    try:
        held = load_configured(cfg.data, "test", seed=cfg.train.seed, subset=False)
    except GanforgeError:
        return None
    n = cfg.doctor.overfit_examples
    g = torch.Generator().manual_seed(cfg.train.seed + seeds.DOCTOR_OVERFIT)

    def fixed(ds: Dataset) -> Batch:
        index = torch.randperm(len(ds), generator=g)[:n]
        return Batch(len(index), {k: v.to(device) for k, v in ds.batch(index).items() if k in family.needs})

    train_batch, held_batch = fixed(data), fixed(held)

    def judge() -> dict[str, float]:
        # as D judges real batches in training (batch statistics), with its batch-norm statistics and the RNG put
        # back afterwards: measuring leaves the run's course unchanged
        buffers = [(b, b.clone()) for b in family.buffers()]
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            scores = [family.judge(b) for b in (train_batch, held_batch)]
            for b, saved in buffers:
                b.copy_(saved)
        if any(s is None for s in scores):  # this run's options leave D untrained (e.g. L1 alone)
            return {}
        (train_s, held_s), b = scores, game.boundary
        return {OVERFIT_TRAIN: float((train_s > b).float().mean()), OVERFIT_HELD: float((held_s > b).float().mean()),
                "doctor/d_score_train": float(train_s.mean()), "doctor/d_score_heldout": float(held_s.mean())}

    return judge
