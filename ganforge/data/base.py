"""The one in-memory form every dataset takes, and what the loaders share."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.data.caption_sets import CaptionSets
from ganforge.errors import GanforgeError, one_line  # noqa: F401  (one_line: data's modules import it from here)

# Deflate (gzip, zip) expands at most ~1032-fold (one 258-byte match per 2-bit code): a bound on what a
# compressed file can honestly hold, checked before any header-sized buffer is allocated.
MAX_DEFLATE_RATIO = 1032


def check_file(path: str, what: str) -> None:
    """Refuse a missing path, a folder, and a FIFO or device (reading those can block forever)."""
    if not os.path.exists(path):
        raise GanforgeError(f"{path}: no such file (expected {what})")
    if not os.path.isfile(path):
        raise GanforgeError(f"{path}: not a regular file (expected {what})")


@dataclass(frozen=True)
class FieldSpec:
    """What one field of a batch holds for one example, as the model sees it (after conversion)."""

    kind: str  # "image" (C, H, W) in [-1, 1], "vector" (D,) in natural units, "label" () int64 class
    shape: tuple[int, ...]
    classes: int = 0  # label fields: the number of classes


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """8-bit images → float32 in [-1, 1], the range every model sees."""
    return x.float().div_(127.5).sub_(1.0)


class Dataset:
    """A dataset held in memory in its compact stored form, converted a batch at a time.

    `x` is stored as uint8 (N, C, H, W) for 8-bit images (4× smaller than float32), float32 otherwise (images in
    [-1, 1], or vectors (N, D) in their natural units); `labels` int64 (N,) or None; `kind` "image" or "vector".
    `image_size` / `channels` resize / convert images as batches are drawn, so the stored data stays as loaded.
    Batches carry named fields: "x", "label" for labelled data, and any `extra` per-example fields (a paired
    image "x_b" stored and converted like x, a float text "embedding"); `spec` says what each holds.
    """

    def __init__(self, name: str, x: torch.Tensor, labels: torch.Tensor | None, kind: str,
                 image_size: int | None = None, channels: int | None = None,
                 extra: dict[str, torch.Tensor] | None = None, domains: dict[str, "Dataset"] | None = None,
                 captions: CaptionSets | None = None):
        self.extra = dict(extra or {})
        # each example's captions and their embeddings (ganforge.data.caption_sets); "embedding" holds each one's
        # first, and a sampler draws one per visit (`CaptionSets.pick`); None without captions
        self.captions = captions
        # fields that are datasets of their own, not aligned with x (an unpaired second domain, of any size): in
        # `spec`, but never in a batch; a family draws them as a stream of their own (`view`)
        self.domains = dict(domains or {})
        for field, t in {"label": labels, **self.extra}.items():
            if t is not None and len(t) != len(x):
                raise ValueError(f"{name}: {len(x)} examples but {len(t)} values of '{field}'")
        for field, t in {"x": x, **self.extra}.items():
            if t.dtype not in (torch.uint8, torch.float32):
                raise ValueError(f"{name}: '{field}' is stored as uint8 or float32, got {t.dtype}")
        self.name, self.stored, self.labels, self.kind = name, x, labels, kind
        self.image_size, self.channels = image_size, channels
        self._converted: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.stored)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example as batches carry it."""
        if self.kind != "image":
            return tuple(self.stored.shape[1:])
        c, h, w = self.stored.shape[1:]
        size = self.image_size
        return (self.channels or c, size or h, size or w)

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels is not None and len(self.labels) else 0

    @property
    def spec(self) -> dict[str, FieldSpec]:
        fields = {"x": FieldSpec(self.kind, self.shape)}
        if self.labels is not None:
            fields["label"] = FieldSpec("label", (), self.num_classes)
        for field, t in self.extra.items():
            image = t.dim() == 4
            fields[field] = FieldSpec("image" if image else "embedding",
                                      tuple(self.convert(t[:1], image).shape[1:]))
        return fields | {field: domain.spec["x"] for field, domain in self.domains.items()}

    @property
    def batch_fields(self) -> tuple[str, ...]:
        """The fields a batch of this dataset carries (its unpaired domains are not among them)."""
        return ("x", *(["label"] if self.labels is not None else []), *self.extra)

    def convert(self, stored: torch.Tensor, image: bool | None = None) -> torch.Tensor:
        """Stored examples → what the model sees: float32, images in [-1, 1] at the requested size and channels.
        An image field of another size than x (a low-resolution input) is resized by the same factor as x."""
        x = to_unit(stored) if stored.dtype == torch.uint8 else stored
        if (self.kind == "image") if image is None else image:
            x = set_channels(resize(x, self._size_of(stored)), self.channels)
        return x

    def examples(self, index: torch.Tensor, field: str = "x") -> torch.Tensor:
        """The converted examples of `field` at `index` (a LongTensor); of an unpaired domain, its own examples."""
        if field in self.domains:
            return self.domains[field].examples(index)
        if field == "x":
            return self.convert(self.stored[index])
        return self.convert(self.extra[field][index], self.extra[field].dim() == 4)

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every field of the examples at `index`, converted."""
        fields = {"x": self.examples(index)}
        if self.labels is not None:
            fields["label"] = self.labels[index]
        return fields | {f: self.examples(index, f) for f in self.extra}

    def to(self, device: torch.device) -> "Dataset":
        """The same data with every stored tensor on `device`."""
        moved = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Dataset(self.name, moved(self.stored), moved(self.labels), self.kind, self.image_size, self.channels,
                       {f: moved(t) for f, t in self.extra.items()}, {f: d.to(device) for f, d in self.domains.items()},
                       self.captions)

    def subset(self, index: torch.Tensor, name: str | None = None) -> "Dataset":
        return Dataset(name or self.name, self.stored[index], None if self.labels is None else self.labels[index],
                       self.kind, self.image_size, self.channels, {f: t[index] for f, t in self.extra.items()},
                       self.domains, None if self.captions is None else self.captions.subset(index))

    def view(self, field: str, name: str | None = None) -> "Dataset":
        """The image field `field` as the x of a dataset of its own (labels kept, other fields dropped): one side
        of a paired dataset, drawn as a stream of its own by an unpaired family. An input of another size than x
        is resized by x's factor, as `convert` does."""
        if field in self.domains:
            return self.domains[field]
        t = self.extra[field]
        return Dataset(name or f"{self.name} ({field})", t, self.labels, "image", self._size_of(t), self.channels)

    def _size_of(self, images: torch.Tensor) -> int | None:
        """The side images of this field are resized to: image_size, scaled by the field's side relative to x's
        (a low-resolution input keeps its ratio to the target)."""
        size = self.image_size
        if size is not None and images.shape[-1] != self.stored.shape[-1]:
            size = max(1, round(images.shape[-1] * size / self.stored.shape[-1]))
        return size

    @property
    def x(self) -> torch.Tensor:
        """Every example converted (float32), made on first use and kept: for evaluation and analysis of data
        that fits in memory as float; the training path converts per batch instead."""
        if self._converted is None:
            self._converted = self.convert(self.stored).contiguous()
        return self._converted


def resize(x: torch.Tensor, image_size: int | None) -> torch.Tensor:
    if image_size is None or image_size == x.shape[-1] == x.shape[-2]:
        return x
    # antialias matters when shrinking; clamp because bilinear can overshoot [-1, 1] slightly.
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp_(-1.0, 1.0)


# ITU-R 601 luma, as PIL's "L" uses.
_LUMA = (0.299, 0.587, 0.114)


def set_channels(x: torch.Tensor, channels: int | None) -> torch.Tensor:
    c = x.shape[1]
    if channels is None or channels == c:
        return x
    if c == 1 and channels == 3:
        return x.repeat(1, 3, 1, 1)
    if c == 3 and channels == 1:
        return (x * torch.tensor(_LUMA, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
    raise GanforgeError(f"cannot convert {c}-channel images to channels={channels} (use 1 or 3)")
