"""What a sample grid of an image run holds (RUN/samples/step_*.png, drawn by the training loop):

- a generator of z: `log.grid` samples of the same fixed z at every step, read along the rows;
- a mixture of k generators (`objective.generators`): one row per generator, and in each column one fixed z that
  every generator is given, so a column compares the generators on the same code;
- a translator: each fixed real input beside its output and its target (paired data), or, where the data has no
  target (an unpaired domain), beside the output's reconstruction by the reverse direction (CycleGAN's cycle):
  input | output | target, or input | output | reconstruction, a few examples to a row.

Every input is fixed and drawn from seeded generators of its own, and the networks sample in eval mode without
gradients, so writing a grid never disturbs the training RNG or the weights.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .. import images, seeds
from ..config import RunConfig
from ..data.base import Dataset
from ..families.base import Family
from ..nets.mixture import MixtureGenerator

# generate(inputs, network name or None for the sampling generator) → images on the CPU
Generate = Callable[..., torch.Tensor]


def fixed_index(cfg: RunConfig, data: Dataset, field: str, n: int) -> torch.Tensor:
    """The seeded pick of `n` examples of data field `field` that every grid shows; an unpaired domain has a
    length of its own, and fields of one length get the same pick (a paired input and its target align). Data with
    fewer than `n` examples (40 captioned images, a grid of 64) shows them again, in the same order."""
    size = len(data.domains[field]) if field in getattr(data, "domains", {}) else len(data)
    order = torch.randperm(size, generator=torch.Generator().manual_seed(cfg.train.seed + seeds.GRIDS))
    return order.repeat(-(-n // size))[:n]


def is_translator(family: Family) -> bool:
    """True when the sampling generator maps images of a data field (one of the family's `directions`)."""
    return family.generator in family.directions.values()


def reverse_network(family: Family) -> str | None:
    """The translator of the other direction (CycleGAN's G_BA), which maps an output back; None for one way."""
    return next((n for n in family.directions.values() if n != family.generator), None)


def translation_columns(family: Family, data: Dataset) -> list[str]:
    """The columns of a translator's grid: ["input", "output", "target"] where the data pairs the input with a
    target, ["input", "output", "reconstruction"] where it does not and the family maps back, else two."""
    field = family.generator_inputs()[0]
    if field not in getattr(data, "domains", {}):
        return ["input", "output", "target"]
    return ["input", "output"] + (["reconstruction"] if reverse_network(family) else [])


def fixed_targets(cfg: RunConfig, family: Family, data: Dataset, n: int) -> torch.Tensor | None:
    """The targets of a translator's fixed inputs (the paired x at the same pick), None where there are none."""
    if not is_translator(family) or "target" not in translation_columns(family, data):
        return None
    return data.examples(fixed_index(cfg, data, "x", n), "x")


def mixture_size(family: Family) -> int:
    """k for a sampling generator that is a mixture of k generators, else 1."""
    net = family.nets[family.generator]
    return net.k if isinstance(net, MixtureGenerator) else 1


def grid_image(family: Family, data: Dataset, generate: Generate, fixed: tuple[torch.Tensor, ...],
               targets: torch.Tensor | None = None) -> np.ndarray:
    """The grid of an image run as one uint8 (H, W, C) array, from `fixed` (what the sampling generator is called
    with: `fixed_inputs` of the loop) and a translator's `targets` (`fixed_targets`)."""
    n = len(fixed[0])
    if is_translator(family):
        a = fixed[0]
        out = generate(fixed)
        columns = [a, out]
        if targets is not None:
            columns.append(targets)
        elif (back := reverse_network(family)) is not None:
            columns.append(generate((out.to(a.device),), back))
        per_row = max(1, round(math.sqrt(n / len(columns))))  # about as wide as tall, in tiles
        return images.example_rows(columns, per_row=per_row)
    k = mixture_size(family)
    if k > 1 and family.generator_inputs() == ("z",):
        cols = max(1, n // k)
        z = fixed[0][:cols]
        which = torch.arange(k, device=z.device).repeat_interleave(cols)  # row i: generator i
        x = generate((z.repeat(k, *[1] * (z.dim() - 1)), which))  # column j: z_j in every row
        return images.grid(images.to_uint8(x), cols=cols)
    return images.grid(images.to_uint8(generate(fixed)))


def describe(family: Family, data: Dataset) -> dict:
    """What run.json records of the grid's layout (the report's caption reads it): {"columns": […]} for a
    translator, {"rows": "generators", "generators": k} for a mixture, {} for a grid of samples read along rows."""
    if data.kind != "image":
        return {}
    if is_translator(family):
        return {"columns": translation_columns(family, data)}
    k = mixture_size(family)
    return {"rows": "generators", "generators": k} if k > 1 and family.generator_inputs() == ("z",) else {}
