"""What both evaluator recipes share: AdamW under a one-cycle schedule, over whole epochs of seeded shuffles.
A recipe says only its network, its loss on a batch of indices and its line per epoch."""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import torch


class EpochTrainer(ABC):
    lr: float
    weight_decay: float

    def __init__(self, model: torch.nn.Module, x: torch.Tensor, batch: int, seed: int, device: torch.device):
        self.model, self.x, self.device = model.to(device), x, device
        self.batch = min(batch, len(x))
        self.steps_per_epoch = max(1, len(x) // self.batch)
        self.g = torch.Generator().manual_seed(seed)  # shuffles and augmentations: the run's own stream

    @abstractmethod
    def loss(self, model: torch.nn.Module, idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """The recipe's loss on the training examples at `idx`, its random draws from `g`."""

    @abstractmethod
    def epoch_line(self, loss: float) -> str:
        """What the log says after an epoch whose last batch had `loss`."""

    def _optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def _step(self, model, opt, idx, g) -> torch.Tensor:
        loss = self.loss(model, idx, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def throwaway_step(self) -> None:
        """One step on copies (model, optimizer, generator): what a step costs, changing nothing."""
        model = copy.deepcopy(self.model).train()
        self._step(model, self._optimizer(model), torch.arange(self.batch), torch.Generator().manual_seed(0))

    def fit(self, epochs: int, log) -> None:
        opt = self._optimizer(self.model)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=epochs * self.steps_per_epoch)
        for epoch in range(epochs):
            self.model.train()
            order = torch.randperm(len(self.x), generator=self.g).to(self.device)
            for i in range(self.steps_per_epoch):
                loss = self._step(self.model, opt, order[i * self.batch:(i + 1) * self.batch], self.g)
                sched.step()
            log(f"epoch {epoch + 1}/{epochs}: {self.epoch_line(loss.item())}")
