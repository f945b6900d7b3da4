"""What a run on several processes keeps per rank, beside what the ranks share: the checks before any work, each rank's
RNG, data position and family state in a checkpoint (and back on a resume), and the one z generator every rank
draws its slice from. The loop calls these; the collectives themselves are in `distributed`."""
from __future__ import annotations

import sys

import torch
from torch import nn

from .. import seeds
from ..config import RunConfig
from ..errors import GanforgeError
from ..families import Family, draw_latents
from . import distributed
from .sampler import BatchSampler, StreamSampler, load_sampler_states


def check_processes(cfg: RunConfig, device: torch.device, procs: distributed.Group) -> None:
    """What several processes refuse before any work: a global batch that does not split evenly, SyncBatchNorm
    where torch has none (it syncs CUDA tensors only)."""
    if not procs.several:
        return
    if cfg.train.batch_size % procs.world_size:
        raise GanforgeError(f"train.batch_size={cfg.train.batch_size} is the global batch, split across "
                            f"{procs.world_size} processes: give one that divides by {procs.world_size}")
    if cfg.train.sync_bn and device.type != "cuda":
        raise GanforgeError(f"train.sync_bn=true: torch synchronises batch norm on CUDA only, and this run trains on "
                            f"{device.type}; use train.sync_bn=false (per-rank statistics) or GPUs")


def restore_rank_state(state: dict, procs: distributed.Group, family: Family,
                        samplers: dict[str, BatchSampler | StreamSampler]) -> dict | None:
    """On a resume: this rank's own RNG, data position and family state when the checkpoint was written by as many
    processes as this run has (bit-exact); otherwise rank 0's, with one line saying it is not exact. Returns the
    checkpoint's per-rank record (None when it has none: written by one process)."""
    saved = state.get("ranks")
    if saved is not None and saved["world_size"] == procs.world_size:
        mine = saved["each"][procs.rank]
        torch.set_rng_state(mine["rng"])
        load_sampler_states(samplers, mine)
        family.load_training_state(mine.get("family", {}))
        if family.augment is not None and "augment" in mine:
            family.augment.load_state_dict(mine["augment"])
        return saved
    if (saved is not None or procs.several) and procs.is_writer:
        was = saved["world_size"] if saved is not None else 1
        print(f"resume: the checkpoint was written by {was} process{'es' if was > 1 else ''}, this run has "
              f"{procs.world_size}: it continues (same global batch, data position and weights) but not bit-exactly "
              "as an uninterrupted run would", file=sys.stderr)
    return saved


def rank_states(procs: distributed.Group, family: Family, samplers: dict, modules: dict[str, nn.Module],
                 latent_rng: torch.Generator, at: int) -> dict:
    """What a checkpoint of several processes holds beside rank 0's state: every rank's RNG, data position and
    family state, the shared z generator, and the digest of every rank's weights (checked equal first)."""
    procs.average_buffers(modules.values())  # per-rank batch-norm statistics: the checkpoint keeps their mean
    digests = procs.check_same_weights(modules, at)
    mine = {"rng": torch.get_rng_state(), "samplers": {n: s.state_dict() for n, s in samplers.items()},
            "family": family.training_state()}
    if family.augment is not None:
        mine["augment"] = family.augment.state_dict()
    return {"world_size": procs.world_size, "each": procs.gather(mine), "latent_rng": latent_rng.get_state(),
            "weights_sha256": digests}


def split_rng(cfg: RunConfig, procs: distributed.Group, family: Family, device: torch.device,
               saved: dict | None) -> torch.Generator:
    """On several processes: the z of every step comes from one generator every rank holds alike (each takes its
    slice of the global batch's z, so the ranks together draw what one process would); every other random draw
    (dropout, noise, augmentation) from the rank's own RNG, rank r > 0 seeded seed + seeds.RANKS + r."""
    latent_rng = torch.Generator()
    exact = saved is not None and saved["world_size"] == procs.world_size
    if exact:
        latent_rng.set_state(saved["latent_rng"])
    else:
        latent_rng.set_state(procs.share(lambda: saved["latent_rng"] if saved is not None else torch.get_rng_state()))
        if procs.rank:
            torch.manual_seed(cfg.train.seed + seeds.RANKS + procs.rank)
    rank, world = procs.rank, procs.world_size

    def draw_z(n: int) -> torch.Tensor:
        return draw_latents(cfg, n * world, latent_rng)[rank * n:(rank + 1) * n].to(device)

    family.draw_z = draw_z
    return latent_rng
