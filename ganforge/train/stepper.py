"""A training run held in memory and stepped from outside, one training step at a time: what the explorer's live
2-D view trains with (`ganforge serve --live`). It writes no run folder, keeps no checkpoints, logs nothing and has
no doctor; a step is the loop's own `train_step` (the family's phases in order, each `repeat` times, the optimisers
of the networks a phase updates, `after_update`, then the EMAs), set up with loop.py's own helpers."""
from __future__ import annotations

import torch
from torch import nn

from ..config import RunConfig
from ..families import Batch, Family, get_family
from .ema import EMA
from .loop import build_data, build_samplers, make_optimizer, pick_device, set_learning_rates, train_step
from .sampler import MAIN


class Stepper:
    """A family, its optimisers, EMAs and batch streams, set up from `cfg` as `train` would, and `step()` to train
    one more step. Not thread-safe: one thread steps it and reads its networks."""

    def __init__(self, cfg: RunConfig):
        get_family(cfg.family).check_config(cfg)
        self.cfg = cfg
        self.device = pick_device(cfg.train.device)
        torch.manual_seed(cfg.train.seed)
        self.data = build_data(cfg)
        self.family: Family = get_family(cfg.family)(cfg, self.data.shape, self.data.num_classes,
                                                     fields=self.data.spec).to(self.device)
        self.phases = self.family.phases()
        trained = sorted({n for p in self.phases for n in p.updates})
        self.optimizers = {n: make_optimizer(self.family.nets[n].parameters(), cfg.optim_for(n)) for n in trained}
        self.emas = ({n: EMA(self.family.nets[n], cfg.train.ema).to(self.device) for n in self.family.generators()}
                     if cfg.train.ema else {})
        self.samplers = build_samplers(cfg, self.data, self.family, self.device)
        self.step_count = 0

    @property
    def sampling_net(self) -> nn.Module:
        """The generator that samples: its EMA when train.ema is on, else the trained one."""
        name = self.family.generator
        return self.emas[name].net if name in self.emas else self.family.nets[name]

    @property
    def finished(self) -> bool:
        """Whether train.steps steps are done."""
        return self.step_count >= self.cfg.train.steps

    def _real_batch(self) -> Batch:
        fields = {k: v for k, v in self.samplers[MAIN].next().items() if k in self.family.needs}
        streams = {n: Batch(s.batch_size, s.next()) for n, s in self.samplers.items() if n != MAIN}
        return Batch(len(fields["x"]), fields, streams)

    def step(self) -> dict[str, float]:
        """Train one step; returns its loss terms."""
        cfg, family = self.cfg, self.family
        family.step = self.step_count
        set_learning_rates(self.optimizers, cfg, self.step_count)
        size = cfg.train.batch_size
        terms, _, _ = train_step(family, self.phases, self.optimizers, self.emas,
                                 next_batch=lambda phase: self._real_batch() if phase.data else Batch(size))
        losses = {k: float(v.detach()) for k, v in terms.items()}
        family.pop_monitors()  # nobody reads them here; keep them from piling up
        self.step_count += 1
        return losses
