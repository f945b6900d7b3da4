"""Every image's captions (one or several) and their sentence embeddings, and the one caption each visit reads.

An image with several captions stays one example: each time an epoch visits it, one of its captions is drawn,
by a function of (seed, epoch, the image's position) alone — `CaptionSets.rows`. In-memory data (a permutation
per epoch) and streamed shards (their window plan) visit the images in different orders, but both ask this one
function, so the same image reads the same caption in the same epoch on either path, on any rank and after a
resume (nothing is carried but the epoch). Reed et al. 2016 likewise draw one of an image's captions per visit;
making one example per caption instead would visit an image with ten captions ten times an epoch.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.text import encode


class CaptionSets:
    """`per_image[i]`: the captions of image i (each non-empty), and `embeddings` (sum of their counts, D), one row
    per caption in that order (flattened)."""

    def __init__(self, per_image: Sequence[Sequence[str]], embeddings: torch.Tensor):
        counts = np.array([len(c) for c in per_image], dtype=np.int64)
        if len(counts) and counts.min() < 1:
            raise GanforgeError(f"image {int(np.argmin(counts))} has no caption")
        self.captions = [c for caps in per_image for c in caps]
        if len(embeddings) != len(self.captions):
            raise ValueError(f"{len(embeddings)} embeddings for {len(self.captions)} captions")
        self.counts = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)])  # image i's captions: rows offsets[i]:offsets[i+1]
        self.embeddings = embeddings
        self._draws: tuple[tuple[int, int], np.ndarray] | None = None  # (seed, epoch) → one draw per image

    @classmethod
    def encode(cls, per_image: Sequence[Sequence[str]], encoder) -> CaptionSets:
        """The sets with every caption embedded by `encoder` (each distinct caption once, from the cache when this
        encoder has embedded this caption set before)."""
        return cls(per_image, encode([c for caps in per_image for c in caps], encoder))

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def several(self) -> bool:
        """Whether some image has more than one caption (else every visit reads the image's only one)."""
        return bool(len(self.counts)) and int(self.counts.max()) > 1

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def of(self, image: int) -> list[str]:
        """Image `image`'s captions."""
        return self.captions[self.offsets[image]:self.offsets[image + 1]]

    def first(self) -> torch.Tensor:
        """(N, D): each image's first caption's embedding, what a look-up outside training reads (grids, probes)."""
        return self.embeddings[torch.from_numpy(self.offsets[:-1])]

    def rows(self, index, epoch: int, seed: int) -> np.ndarray:
        """The caption row each image at `index` reads when epoch `epoch` of a run seeded `seed` visits it: row
        offsets[i] + draw(seed, epoch)[i] mod counts[i], the draws a PCG64 stream seeded by (seed, epoch)."""
        index = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=np.int64)
        start = self.offsets[index]
        if not self.several:
            return start
        if self._draws is None or self._draws[0] != (seed, epoch):
            self._draws = ((seed, epoch), np.random.default_rng([seed, epoch]).integers(0, 1 << 62, len(self)))
        return start + self._draws[1][index] % self.counts[index]

    def pick(self, index, epoch: int, seed: int) -> torch.Tensor:
        """(n, D) embeddings of the captions `rows` picks, on `index`'s device when it is a tensor."""
        out = self.embeddings[torch.from_numpy(self.rows(index, epoch, seed))]
        return out.to(index.device) if isinstance(index, torch.Tensor) else out

    def subset(self, index) -> CaptionSets:
        """The sets of the images at `index`, in that order."""
        index = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=np.int64).reshape(-1)
        c = self.counts[index]
        rows = np.repeat(self.offsets[index] - (np.cumsum(c) - c), c) + np.arange(int(c.sum()))
        return CaptionSets([self.of(int(i)) for i in index], self.embeddings[torch.from_numpy(rows)])
