"""`ShardStream`: endless batches of a packed shard folder, in a seeded order, resumable exactly.

Order of an epoch (the randomness you get). Epoch e with seed s:
  1. the shards are permuted (numpy PCG64 seeded by (s, e));
  2. consecutive runs of `window` shards of that order form windows, and all the examples of a window are
     permuted together (PCG64 seeded by (s, e, window number));
  3. the windows' sequences, concatenated, are the epoch; batch i is its items [i·B, (i+1)·B); the ragged tail
     is dropped, as `BatchSampler` drops it.
So every example is visited exactly once per epoch, a batch mixes examples of up to `window` shards (a few
at window joins), and the order depends on (seed, epoch, manifest, batch size, window) only — not on the
number of DataLoader workers, nor on timing. Shards are read front to back (sequential I/O, the point of tar
shards); a worker holds only the encoded bytes it needs from the current window, so memory is bounded by
about window × shard bytes / workers, whatever the dataset's size.

Workers: batch g (counted over all epochs) is built by worker (g − g0) mod W, g0 the batch the stream
started or resumed at; `DataLoader` takes batches from its workers round robin, so the stream it returns is
batch g0, g0 + 1, … exactly, with any W ≥ 0. Every worker
reads the tar headers of every shard it needs but decodes only the PNGs of its own batches.

Several processes (rank r of R): every rank walks the same global batches and keeps its slice of each, items
[r·B/R, (r+1)·B/R) of the batch, decoding only those; so every rank yields the same number of batches per epoch
(unequal counts would hang the next collective) and the ranks' slices together are the one-process batch.

Resume: the state is (epoch, batch) plus a fingerprint of the arguments; the stream restarted from it yields
exactly the batches that would have come next (nothing hidden: no RNG state is carried, each window's
permutation is recomputed from its seed).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ganforge.data.shards.reading import _decode, _Shard, _whole, check_label, read_manifest
from ganforge.errors import GanforgeError

DEFAULT_WINDOW = 8


@dataclass(frozen=True)
class _Window:
    start: int  # position of its first item in the epoch
    shards: tuple[int, ...]  # manifest indices, in the order read
    offsets: np.ndarray  # first window-local index of each of those shards (plus the total at the end)


def _plan(counts: np.ndarray, window: int, seed: int, epoch: int) -> list[_Window]:
    order = np.random.default_rng([seed, epoch]).permutation(len(counts))
    windows, start = [], 0
    for i in range(0, len(order), window):
        shards = tuple(int(s) for s in order[i:i + window])
        offsets = np.concatenate([[0], np.cumsum(counts[list(shards)])])
        windows.append(_Window(start, shards, offsets))
        start += int(offsets[-1])
    return windows


def _window_order(seed: int, epoch: int, number: int, size: int) -> np.ndarray:
    """Item t of the window is the window-local example order[t]."""
    return np.random.default_rng([seed, epoch, number]).permutation(size)


class _BatchSource(torch.utils.data.IterableDataset):
    """Batches first, first + step, first + 2·step, … (global batch numbers), as plan() orders them.

    One instance runs in each DataLoader worker; worker w of W starts at first + w and steps by W."""

    def __init__(self, root: Path, manifest: dict, batch_size: int, seed: int, window: int, first: int,
                 rank: int = 0, world_size: int = 1):
        super().__init__()
        self.root, self.batch_size, self.seed, self.window, self.first = root, batch_size, seed, window, first
        self.share = batch_size // world_size  # this rank's items of each batch: [lo, lo + share)
        self.lo = rank * self.share
        self.counts = np.array([s["count"] for s in manifest["shards"]], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)])  # each shard's first example, in pack order
        self.names = [s["name"] for s in manifest["shards"]]
        self.shape = tuple(manifest["shape"])
        self.labelled = manifest["classes"] is not None
        self.num_classes = len(manifest["classes"]) if self.labelled else 0
        self.per_epoch = int(self.counts.sum()) // batch_size
        self.peak_pending_bytes = 0  # most encoded bytes held at once: what bounds memory (checked by the tests)

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        try:
            yield from self._batches(self.first + worker, workers)
        except GanforgeError as e:
            # raised in a worker, DataLoader would wrap it in a traceback: pass the one line on instead
            yield {"error": str(e)}

    def _batches(self, g: int, step: int) -> Iterator[dict]:
        while True:
            epoch, i = divmod(g, self.per_epoch)
            yield from self._epoch(epoch, i, step)
            g += -(-(self.per_epoch - i) // step) * step  # the first batch of ours in a later epoch

    def _epoch(self, epoch: int, first: int, step: int) -> Iterator[dict]:
        B, end = self.batch_size, self.per_epoch * self.batch_size
        batch = None
        for number, w in enumerate(_plan(self.counts, self.window, self.seed, epoch)):
            t = np.arange(int(w.offsets[-1]))
            b = (w.start + t) // B
            slot = (w.start + t) % B
            t = t[(w.start + t < end) & (b >= first) & ((b - first) % step == 0)
                  & (slot >= self.lo) & (slot < self.lo + self.share)]
            if len(t) == 0:
                continue  # no item of this window lands in one of our batches: do not even read it
            order = _window_order(self.seed, epoch, number, int(w.offsets[-1]))
            examples = self._read(w, set(order[t].tolist()))
            for pos, member in zip((w.start + t).tolist(), order[t].tolist()):
                slot = pos % B - self.lo
                if slot == 0:
                    batch = self._new_batch()
                self._put(batch, slot, *examples.pop(member))
                if slot == self.share - 1:
                    yield {k: torch.from_numpy(v) for k, v in batch.items()}

    def _read(self, w: _Window, members: set[int]) -> dict[int, tuple]:
        """Window-local index → (png, label, where, position in pack order) for the chosen members of its shards."""
        out: dict[int, tuple] = {}
        for j, s in enumerate(w.shards):
            lo, hi = int(w.offsets[j]), int(w.offsets[j + 1])
            wanted = {m - lo for m in members if lo <= m < hi}
            if not wanted:
                continue
            path = self.root / self.names[s]
            for i, (png, label, key) in _Shard(path, int(self.counts[s]), self.labelled).read(wanted).items():
                out[lo + i] = (png, label, f"{path} member {key}.png", int(self.starts[s]) + i)
        self.peak_pending_bytes = max(self.peak_pending_bytes, sum(len(e[0]) for e in out.values()))
        return out

    def _new_batch(self) -> dict:
        # "index": each example's position in pack order (what picks its caption: data.caption_sets)
        batch = {"x": np.empty((self.share, *self.shape), dtype=np.uint8), "index": np.empty(self.share, np.int64)}
        if self.labelled:
            batch["label"] = np.empty(self.share, dtype=np.int64)
        return batch

    def _put(self, batch: dict, slot: int, png: bytes, label: int | None, where: str, index: int) -> None:
        batch["x"][slot] = self._decode(png, where)
        batch["index"][slot] = index
        if self.labelled:
            batch["label"][slot] = check_label(label, self.num_classes, where)

    def _decode(self, png: bytes, where: str) -> np.ndarray:
        return _decode(png, where, self.shape)


class ShardStream:
    """Endless batches of a packed shard folder: {"x": uint8 (B, C, H, W), "label": int64 (B,) when labelled,
    "index": int64 (B,), each example's position in pack order}.

    Deterministic given (seed, batch_size, window) — see the module docstring for the order — and the same
    whatever num_workers is. `state_dict()` / `load_state_dict()` resume exactly. Use: `batch = next(stream)`.
    `rank` of `world_size` processes: each batch is this rank's slice of the global batch of `batch_size`.
    """

    def __init__(self, root: str | os.PathLike, batch_size: int, *, seed: int = 0, num_workers: int = 0,
                 window: int = DEFAULT_WINDOW, prefetch_factor: int = 2, rank: int = 0, world_size: int = 1):
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        n = self.manifest["num_examples"]
        if not _whole(batch_size, 1):
            raise GanforgeError(f"batch_size must be a positive whole number, got {batch_size}")
        if batch_size > n:
            raise GanforgeError(f"{self.root}: batch_size {batch_size} is larger than the dataset ({n} examples); "
                                f"use {n} or fewer")
        if not _whole(window, 1) or not _whole(num_workers, 0):
            raise GanforgeError(f"window must be ≥ 1 and num_workers ≥ 0, got {window} and {num_workers}")
        if not (_whole(world_size, 1) and _whole(rank, 0) and rank < world_size and batch_size % world_size == 0):
            raise GanforgeError(f"rank {rank} of {world_size} processes: the batch of {batch_size} must divide by "
                                f"{world_size} and the rank be below it")
        self.rank, self.world_size = rank, world_size
        self.batch_size, self.seed, self.window = batch_size, seed, window
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor
        self.batches_per_epoch = n // batch_size
        self.position = 0  # global number of the next batch next() returns
        self._loader_iter = None
        self._fingerprint = hashlib.sha256(json.dumps(
            [self.manifest["shards"], self.manifest["shape"], self.manifest["classes"]]).encode()).hexdigest()[:16]

    # what the training loop needs to build its networks
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.manifest["shape"])

    @property
    def classes(self) -> list[str] | None:
        return self.manifest["classes"]

    def __len__(self) -> int:
        return self.manifest["num_examples"]

    def __iter__(self) -> ShardStream:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        if self._loader_iter is None:
            self._loader_iter = iter(self._loader())
        batch = next(self._loader_iter)
        if "error" in batch:
            self.close()
            raise GanforgeError(batch["error"])
        self.position += 1
        return batch

    def _loader(self) -> torch.utils.data.DataLoader:
        source = _BatchSource(self.root, self.manifest, self.batch_size, self.seed, self.window, self.position,
                              self.rank, self.world_size)
        extra = {"prefetch_factor": self.prefetch_factor} if self.num_workers else {}
        # batch_size=None: the source yields whole batches; DataLoader only moves them from the workers, in order.
        # Its own generator: DataLoader draws a base seed when an iterator starts, and from torch's global RNG
        # that draw would shift a training run's random numbers by when (and whether, after a resume) it starts.
        return torch.utils.data.DataLoader(source, batch_size=None, num_workers=self.num_workers,
                                           generator=torch.Generator(), **extra)

    def state_dict(self) -> dict:
        epoch, batch = divmod(self.position, self.batches_per_epoch)
        return {"epoch": epoch, "batch": batch, "seed": self.seed, "batch_size": self.batch_size,
                "window": self.window, "dataset": self._fingerprint}

    def load_state_dict(self, state: dict) -> None:
        mine = self.state_dict()
        for k in ("seed", "batch_size", "window", "dataset"):
            if state.get(k) != mine[k]:
                raise GanforgeError(f"{self.root}: cannot resume: the saved stream had {k}={state.get(k)!r}, "
                                    f"this one has {mine[k]!r}")
        if not (_whole(state.get("epoch"), 0) and _whole(state.get("batch"), 0)
                and state["batch"] < self.batches_per_epoch):
            raise GanforgeError(f"{self.root}: cannot resume: bad position {state.get('epoch')!r}/{state.get('batch')!r}")
        self.close()
        self.position = state["epoch"] * self.batches_per_epoch + state["batch"]

    def close(self) -> None:
        """Stop the workers (also done when the stream is garbage-collected)."""
        self._loader_iter = None


