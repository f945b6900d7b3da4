"""Minibatches drawn from an in-memory dataset (converted a batch at a time): a seeded permutation per epoch, resumable
exactly; or from streamed shards (`StreamSampler`), with the same interface."""
from __future__ import annotations

import torch

from .. import seeds
from ..data.base import Dataset
from ..data.shards import ShardDataset
from ..errors import GanforgeError

MAIN = "main"  # the batch stream every data phase draws from


def check_batch_size(batch_size: int, examples: int, what: str) -> None:
    """A batch is drawn whole from one epoch: the data must hold at least one."""
    if batch_size <= 0:
        raise GanforgeError(f"train.batch_size must be positive, got {batch_size}")
    if examples < batch_size:
        raise GanforgeError(f"{what} {examples} examples, fewer than train.batch_size={batch_size}; use "
                            f"train.batch_size={examples} or fewer")


def share_of(batch_size: int, rank: int, world_size: int, what: str = "train.batch_size") -> slice:
    """This rank's slice of a global batch split across `world_size` processes (refused unless it divides)."""
    if batch_size % world_size:
        raise GanforgeError(f"{what}={batch_size} is the global batch, split across {world_size} processes: it must "
                            f"divide by {world_size} (e.g. {batch_size - batch_size % world_size or world_size})")
    local = batch_size // world_size
    return slice(rank * local, (rank + 1) * local)


class BatchSampler:
    """Batches of `batch_size` (the global batch) in a seeded order; on one of several ranks, this rank's slice of
    each: every rank draws the same permutation, so the ranks' slices together are the one-process batch."""

    def __init__(self, data: Dataset, batch_size: int, seed: int, device: torch.device, rank: int = 0,
                 world_size: int = 1, what: str = "train.batch_size"):
        check_batch_size(batch_size, len(data), f"dataset '{data.name}' has")
        self.share = share_of(batch_size, rank, world_size, what)
        self.data, self.global_batch, self.device = data, batch_size, device
        self.batch_size = self.share.stop - self.share.start  # what next() returns: this rank's share
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(data), generator=self.generator)
        self.position = 0
        self.epoch = 0  # which of an image's several captions a visit reads depends on it (`caption_field`)
        self.captions = getattr(data, "captions", None)
        self.caption_seed = seed + seeds.CAPTION_PICKS
        # the stored (compact, uint8 for 8-bit images) set goes to the accelerator when there is one: 47 MB for
        # Fashion-MNIST; each batch is converted to float where it is used
        self.on_device = data.to(device)

    def next(self) -> dict[str, torch.Tensor]:
        """The next batch's fields, converted: "x", "label" for labelled data, and any extra fields."""
        if self.position + self.global_batch > len(self.order):  # drop the ragged tail, start a new epoch
            self.order = torch.randperm(len(self.data), generator=self.generator)
            self.position = 0
            self.epoch += 1
        idx = self.order[self.position:self.position + self.global_batch][self.share].to(self.device)
        self.position += self.global_batch
        batch = self.on_device.batch(idx)
        if self.captions is not None and self.captions.several:  # else "embedding" is already each one's only caption
            batch["embedding"] = self.captions.pick(idx, self.epoch, self.caption_seed)
        return batch

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order, "position": self.position,
                "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        if len(state["order"]) != len(self.data):  # other data, or captions counted as examples before
            raise GanforgeError(f"cannot resume: the checkpoint's batch order covers {len(state['order'])} examples, "
                                f"dataset '{self.data.name}' has {len(self.data)}: resume with the data it trained on")
        self.generator.set_state(state["generator"])
        self.order = state["order"]
        self.position = int(state["position"])
        self.epoch = int(state.get("epoch", 0))  # checkpoints before captions were drawn per epoch: only the order


class StreamSampler:
    """BatchSampler's interface over streamed shards: `next()` → {"x": converted, "label": int64 when labelled},
    `batch_size` (this rank's share of the global batch), `state_dict()` / `load_state_dict()` (the stream's
    (epoch, batch): a few numbers, exact resume, the same on every rank).
    The order is the stream's (seeded by `seed`), the same whatever `num_workers` is."""

    def __init__(self, data: ShardDataset, batch_size: int, seed: int, device: torch.device, num_workers: int = 0,
                 rank: int = 0, world_size: int = 1):
        check_batch_size(batch_size, len(data), f"{data.root}:")
        share = share_of(batch_size, rank, world_size)
        self.data, self.batch_size, self.device = data, share.stop - share.start, device
        self.stream = data.stream(batch_size, seed=seed, num_workers=num_workers, rank=rank, world_size=world_size)
        self.caption_seed = seed + seeds.CAPTION_PICKS

    def next(self) -> dict[str, torch.Tensor]:
        epoch = self.stream.position // self.stream.batches_per_epoch  # of the batch drawn now
        batch = next(self.stream)
        fields = {"x": self.data.convert(batch["x"].to(self.device))}
        if "label" in batch:
            fields["label"] = batch["label"].to(self.device)
        if self.data.captions is not None:  # the caption this epoch's visit of each image reads, as in memory
            fields["embedding"] = self.data.captions.pick(batch["index"], epoch, self.caption_seed).to(self.device)
        return fields

    def state_dict(self) -> dict:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.stream.load_state_dict(state)

    def close(self) -> None:
        """Stop the stream's worker processes now rather than when garbage-collected."""
        self.stream.close()


def _sampler_kind(state: dict) -> str:
    return "streamed shards" if "epoch" in state and "dataset" in state else "in-memory data"


def load_sampler_states(samplers: dict[str, BatchSampler | StreamSampler], state: dict) -> None:
    saved = state.get("samplers") or {MAIN: state["sampler"]} | (  # checkpoints before named streams
        {"labelled": state["labelled_sampler"]} if "labelled_sampler" in state else {})
    for name, sampler in samplers.items():
        if name not in saved:
            raise GanforgeError(f"the checkpoint has no state of the batch stream '{name}' (it has "
                                f"{', '.join(saved)}): was the run trained with other data options?")
        mine = "streamed shards" if isinstance(sampler, StreamSampler) else "in-memory data"
        if _sampler_kind(saved[name]) != mine:
            raise GanforgeError(f"the checkpoint's batch stream '{name}' was drawn from {_sampler_kind(saved[name])}, "
                                f"this run's from {mine}: resume with the data options the run was trained with")
        sampler.load_state_dict(saved[name])
