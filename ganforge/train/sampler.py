"""Minibatches drawn from an in-memory dataset (converted a batch at a time): a seeded permutation per epoch, resumable exactly."""
from __future__ import annotations

import torch

from ..data.base import Dataset
from ..errors import GanforgeError


class BatchSampler:
    def __init__(self, data: Dataset, batch_size: int, seed: int, device: torch.device):
        if batch_size <= 0:
            raise GanforgeError(f"train.batch_size must be positive, got {batch_size}")
        if len(data) < batch_size:
            raise GanforgeError(f"dataset '{data.name}' has {len(data)} examples, fewer than train.batch_size="
                                f"{batch_size}; use train.batch_size={len(data)} or fewer")
        self.data, self.batch_size, self.device = data, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(data), generator=self.generator)
        self.position = 0
        # the stored (compact, uint8 for 8-bit images) set goes to the accelerator when there is one: 47 MB for
        # Fashion-MNIST; each batch is converted to float where it is used
        self.stored = data.stored.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None

    def next(self) -> dict[str, torch.Tensor]:
        """The next batch's fields: "x" (converted) and, for labelled data, "label"."""
        if self.position + self.batch_size > len(self.order):  # drop the ragged tail, start a new epoch
            self.order = torch.randperm(len(self.data), generator=self.generator)
            self.position = 0
        idx = self.order[self.position:self.position + self.batch_size].to(self.device)
        self.position += self.batch_size
        fields = {"x": self.data.convert(self.stored[idx])}
        if self.labels is not None:
            fields["label"] = self.labels[idx]
        return fields

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"]
        self.position = int(state["position"])
