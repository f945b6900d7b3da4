"""`ShardDataset`: a packed shard folder as the training loop sees a dataset.

`ganforge train CONFIG data.name=shards --data DIR` builds one; its batches come from a `ShardStream`
(ganforge.train.sampler.StreamSampler draws them).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ganforge.data.base import Dataset, FieldSpec, resize, set_channels, to_unit
from ganforge.data.caption_sets import CaptionSets
from ganforge.data.shards.reading import _decode, _Shard, _whole, check_label, read_manifest
from ganforge.data.shards.stream import DEFAULT_WINDOW, ShardStream
from ganforge.errors import GanforgeError


class ShardDataset:
    """A packed shard folder as the training loop sees a dataset, without reading the shards up front.

    What an in-memory `Dataset` offers the loop — name, kind, shape, spec, num_classes, len, convert, examples —
    from the manifest alone; batches come from `stream()` (a `ShardStream`) and go through `convert` as the
    in-memory ones do: uint8 → [-1, 1], resized to `image_size` and converted to `channels` per batch.
    `examples(index)` reads just the examples asked for (the tar headers of their shards and their PNGs).
    What needs every example in memory (`x`, `labels`, `subset`) is refused in words; `load()` reads the
    whole set into an in-memory `Dataset` when that is what is wanted (a small test split).
    """

    kind = "image"
    streaming = True  # batches come from stream(), not from indexing stored examples

    def __init__(self, root: str | os.PathLike, *, image_size: int | None = None, channels: int | None = None,
                 name: str = "shards", encoder: str | None = None):
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        # with `encoder` (a run's data.encoder, when it sets data.captions): the packed captions, embedded once
        self.captions = None if encoder is None else CaptionSets.encode(self.read_captions(), encoder)
        if image_size is not None and not _whole(image_size, 1):
            raise GanforgeError(f"{self.root}: image_size must be a positive whole number, got {image_size}")
        if channels not in (None, 1, 3):
            raise GanforgeError(f"{self.root}: cannot convert images to channels={channels} (use 1 or 3)")
        self.name, self.image_size, self.channels = name, image_size, channels
        counts = [s["count"] for s in self.manifest["shards"]]
        self._starts = np.concatenate([[0], np.cumsum(counts)])  # first example of each shard, then the total

    def __len__(self) -> int:
        return self.manifest["num_examples"]

    def __repr__(self) -> str:
        return f"ShardDataset({str(self.root)!r}, {len(self)} examples, shape {self.shape})"

    @property
    def stored_shape(self) -> tuple[int, int, int]:
        """Shape of one example as packed (the manifest's)."""
        return tuple(self.manifest["shape"])

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one example as batches carry it."""
        c, h, w = self.stored_shape
        return (self.channels or c, self.image_size or h, self.image_size or w)

    @property
    def classes(self) -> list[str] | None:
        return self.manifest["classes"]

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0

    @property
    def spec(self) -> dict[str, FieldSpec]:
        fields = {"x": FieldSpec("image", self.shape)}
        if self.classes is not None:
            fields["label"] = FieldSpec("label", (), self.num_classes)
        if self.captions is not None:
            fields["embedding"] = FieldSpec("embedding", (self.captions.dim,))
        return fields

    def read_captions(self) -> list[list[str]]:
        """Every example's captions, in pack order, from the shards' `.txt` members (the PNGs are skipped); a
        GanforgeError for a set packed without captions."""
        if self.manifest["captions"] is None:
            raise GanforgeError(f"{self.root}: packed without captions (data.captions needs them); pack a captioned "
                                "folder (name.txt beside name.png, or captions.jsonl / captions.csv) with "
                                "`ganforge data pack`")
        return [caps for entry in self.manifest["shards"]
                for caps in _Shard(self.root / entry["name"], entry["count"], False, True).captions()]

    def convert(self, stored: torch.Tensor) -> torch.Tensor:
        """uint8 images (a batch of the stream) → float32 in [-1, 1] at the requested size and channels."""
        return set_channels(resize(to_unit(stored), self.image_size), self.channels)

    def stream(self, batch_size: int, *, seed: int = 0, num_workers: int = 0, window: int = DEFAULT_WINDOW,
               rank: int = 0, world_size: int = 1) -> ShardStream:
        """Endless uint8 batches in the seeded order `ganforge.data.shards.stream` describes (convert them
        with `convert`); on rank `rank` of `world_size` processes, this rank's slice of each."""
        return ShardStream(self.root, batch_size, seed=seed, num_workers=num_workers, window=window, rank=rank,
                           world_size=world_size)

    def read(self, index: Sequence[int] | torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """The stored examples at `index` (positions in pack order): uint8 (n, C, H, W) and labels (n,) or None.
        Reads only the shards that hold them, and of those only the asked-for PNGs."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        n = len(self)
        if len(index) and (index.min() < -n or index.max() >= n):
            raise GanforgeError(f"{self.root}: example index out of range for {n} examples")
        index = index % n  # negative positions count from the end, as tensor indexing does
        shard = np.searchsorted(self._starts, index, side="right") - 1
        x = np.empty((len(index), *self.stored_shape), dtype=np.uint8)
        labels = np.empty(len(index), dtype=np.int64) if self.classes is not None else None
        for s in np.unique(shard):
            entry, rows = self.manifest["shards"][s], np.nonzero(shard == s)[0]
            path, local = self.root / entry["name"], index[rows] - self._starts[s]
            got = _Shard(path, entry["count"], labels is not None).read(set(local.tolist()))
            for r, i in zip(rows.tolist(), local.tolist()):
                png, label, key = got[i]
                x[r] = _decode(png, f"{path} member {key}.png", self.stored_shape)
                if labels is not None:
                    labels[r] = check_label(label, self.num_classes, f"{path} member {key}.png")
        return x, labels

    def examples(self, index: torch.Tensor, field: str = "x") -> torch.Tensor:
        """The converted examples at `index` (a LongTensor), read from their shards alone; of "embedding", each
        one's first caption's (as in-memory data gives it)."""
        if field == "embedding" and self.captions is not None:
            return self.captions.first()[index]
        if field != "x":
            raise GanforgeError(f"{self.root}: shards hold the fields {', '.join(self.spec)}; no examples of '{field}'")
        return self.convert(torch.from_numpy(self.read(index)[0]))

    def load(self, limit: int | None = None, seed: int = 0) -> Dataset:
        """The set in memory as a `Dataset` (uint8, labels): whole, for a split small enough to hold (e.g. test),
        or at most `limit` examples of it, a seeded random pick read in storage order."""
        index = np.arange(len(self))
        if limit is not None and limit < len(self):
            index = np.sort(torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:limit].numpy())
        x, labels = self.read(index)
        captions = None if self.captions is None else self.captions.subset(index)
        return Dataset(self.name, torch.from_numpy(x), None if labels is None else torch.from_numpy(labels),
                       "image", self.image_size, self.channels,
                       extra=None if captions is None else {"embedding": captions.first()}, captions=captions)

    def _in_memory_only(self, what: str) -> GanforgeError:
        return GanforgeError(f"{self.root}: {what} needs the whole dataset in memory; data.name=shards streams it "
                             "(train on an in-memory copy — an npz or an image folder — for that)")

    @property
    def labels(self):
        raise self._in_memory_only("every label at once (e.g. data.labels_per_class)")

    @property
    def x(self):
        raise self._in_memory_only("every example converted at once")

    def subset(self, index: torch.Tensor, name: str | None = None):
        raise self._in_memory_only("a subset")
