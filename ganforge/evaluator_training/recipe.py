"""What both evaluator recipes share: AdamW under a one-cycle schedule, over whole epochs of seeded shuffles.
A recipe says only its network, its loss on a batch of indices and its line per epoch."""
from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod

import torch
from tqdm.auto import tqdm


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

    @torch.no_grad()
    def forward_seconds_per_image(self, n: int = 256) -> float:
        """Seconds a forward pass (features and head) takes per training image: what the held-out checks, the
        report and the floor cost per image they read. The model is left as it was."""
        was_training = self.model.training
        self.model.eval()
        x = self.x[:n]
        self.model(x[:2])  # warm-up
        t0 = time.perf_counter()
        self.model(x)
        self.model.train(was_training)
        return (time.perf_counter() - t0) / max(1, len(x))

    def fit(self, epochs: int, log, deadline: float | None = None) -> int:
        """Train `epochs` epochs (the one-cycle schedule spans them all), a progress bar within each epoch (on a
        terminal) and a log line after it; stop after the step that passes `deadline` (time.perf_counter()).
        Returns the steps trained."""
        opt = self._optimizer(self.model)
        total = epochs * self.steps_per_epoch
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=total)
        done = 0
        for epoch in range(epochs):
            self.model.train()
            order = torch.randperm(len(self.x), generator=self.g).to(self.device)
            bar = tqdm(range(self.steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}", unit="step", leave=False,
                       disable=None)
            for i in bar:
                loss = self._step(self.model, opt, order[i * self.batch:(i + 1) * self.batch], self.g)
                sched.step()
                done += 1
                if deadline is not None and time.perf_counter() > deadline and done < total:
                    bar.close()
                    log(f"epoch {epoch + 1}/{epochs}: time budget reached after {done} of {total} steps; "
                        f"{self.epoch_line(loss.item())}")
                    return done
            bar.close()
            log(f"epoch {epoch + 1}/{epochs}: {self.epoch_line(loss.item())}")
        return done
