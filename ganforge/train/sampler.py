"""Minibatches drawn from an in-memory dataset (converted a batch at a time): a seeded permutation per epoch, resumable
exactly; or from streamed shards (`StreamSampler`), with the same interface."""
from __future__ import annotations

import torch

from ..data.base import Dataset
from ..data.shards import ShardDataset
from ..errors import GanforgeError


def check_batch_size(batch_size: int, examples: int, what: str) -> None:
    """A batch is drawn whole from one epoch: the data must hold at least one."""
    if batch_size <= 0:
        raise GanforgeError(f"train.batch_size must be positive, got {batch_size}")
    if examples < batch_size:
        raise GanforgeError(f"{what} {examples} examples, fewer than train.batch_size={batch_size}; use "
                            f"train.batch_size={examples} or fewer")


class BatchSampler:
    def __init__(self, data: Dataset, batch_size: int, seed: int, device: torch.device):
        check_batch_size(batch_size, len(data), f"dataset '{data.name}' has")
        self.data, self.batch_size, self.device = data, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(data), generator=self.generator)
        self.position = 0
        # the stored (compact, uint8 for 8-bit images) set goes to the accelerator when there is one: 47 MB for
        # Fashion-MNIST; each batch is converted to float where it is used
        self.on_device = data.to(device)

    def next(self) -> dict[str, torch.Tensor]:
        """The next batch's fields, converted: "x", "label" for labelled data, and any extra fields."""
        if self.position + self.batch_size > len(self.order):  # drop the ragged tail, start a new epoch
            self.order = torch.randperm(len(self.data), generator=self.generator)
            self.position = 0
        idx = self.order[self.position:self.position + self.batch_size].to(self.device)
        self.position += self.batch_size
        return self.on_device.batch(idx)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"]
        self.position = int(state["position"])


class StreamSampler:
    """BatchSampler's interface over streamed shards: `next()` → {"x": converted, "label": int64 when labelled},
    `batch_size`, `state_dict()` / `load_state_dict()` (the stream's (epoch, batch): a few numbers, exact resume).
    The order is the stream's (seeded by `seed`), the same whatever `num_workers` is."""

    def __init__(self, data: ShardDataset, batch_size: int, seed: int, device: torch.device, num_workers: int = 0):
        check_batch_size(batch_size, len(data), f"{data.root}:")
        self.data, self.batch_size, self.device = data, batch_size, device
        self.stream = data.stream(batch_size, seed=seed, num_workers=num_workers)

    def next(self) -> dict[str, torch.Tensor]:
        batch = next(self.stream)
        fields = {"x": self.data.convert(batch["x"].to(self.device))}
        if "label" in batch:
            fields["label"] = batch["label"].to(self.device)
        return fields

    def state_dict(self) -> dict:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.stream.load_state_dict(state)

    def close(self) -> None:
        """Stop the stream's worker processes now rather than when garbage-collected."""
        self.stream.close()
