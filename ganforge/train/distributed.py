"""Training on several processes (launched by torchrun): who this process is, and the few collectives the loop needs.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK in each process's environment; without them the run is one process
and every method here is a no-op that returns its input unchanged, so one-process training is exactly what it was.

The loop calls this module at a handful of places; families, networks and data never import it:
- after each phase's backward, `average_gradients` of the networks that phase updates (one flattened all-reduce,
  as StyleGAN2-ADA does; DistributedDataParallel's reducer would trip over phases that freeze a network);
- `broadcast_modules` once, so every rank starts from rank 0's weights;
- `agree_stop` each step: a signal on any rank, or the time budget on any clock, stops every rank at the same step;
- `mean_values` at logging windows; `gather` of per-rank state for checkpoints; `share` of rank 0's decisions;
- `gather_to_writer` of each rank's share of an evaluation (its samples embedded) for rank 0 to score;
- `is_writer`: only rank 0 touches the run folder.

A rank that dies makes the others' next collective fail (at once when its sockets close, or after the process
group's timeout, GANFORGE_DIST_TIMEOUT seconds, default 60): they stop with `PeerLost`, one line.
"""
from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from typing import Callable, Iterable, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from ..errors import GanforgeError, OwnRankError

TIMEOUT_ENV = "GANFORGE_DIST_TIMEOUT"  # seconds a collective waits for the other ranks before giving up
DEFAULT_TIMEOUT_S = 60.0
# rank 0 scores an evaluation (and writes grids) while the others wait at a barrier of their own, for this long at most
WRITER_WAIT_ENV = "GANFORGE_DIST_WRITER_WAIT"
DEFAULT_WRITER_WAIT_S = 3600.0

T = TypeVar("T")


class PeerLost(OwnRankError):
    """Another process of the run stopped answering (it died, or the network went): this one stops too."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise GanforgeError(f"environment variable {name}={value!r}: not a whole number (torchrun sets it)") from None


def _env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise GanforgeError(f"environment variable {name}={value!r}: give a positive number of seconds")
    return seconds


class Group:
    """The processes of one run. `Group()` alone is one process (rank 0 of 1); `join()` makes the real one."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0, backend: str | None = None):
        self.rank, self.world_size, self.local_rank, self.backend = rank, world_size, local_rank, backend
        self.writer_wait = None  # the long-timeout group rank 0's evaluations are waited for on
        self.owns = False  # whether `join` started the process group (and `close` ends it)
        self.run_dir = None  # the run folder, once rank 0 has chosen it (named when a peer is lost)

    @property
    def is_writer(self) -> bool:
        """Whether this process writes the run folder, logs and prints progress (rank 0)."""
        return self.rank == 0

    @property
    def several(self) -> bool:
        """Whether the run has more than one process (every collective below is a no-op when not)."""
        return self.world_size > 1

    # -- set-up and teardown ------------------------------------------------------------------------------------
    def device(self, device: torch.device) -> torch.device:
        """The device this rank trains on: its own GPU (LOCAL_RANK) when the run asks for CUDA."""
        if self.several and device.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def close(self) -> None:
        """Leave the process group (what `join` started)."""
        if self.owns and dist.is_initialized():
            dist.destroy_process_group()

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _collective(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (RuntimeError, ConnectionError) as e:  # gloo and nccl report a lost peer as RuntimeError/DistError
            first = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0]
            run = self.run_dir or "RUN"
            raise PeerLost(f"rank {self.rank} of {self.world_size}: another process of this run stopped answering "
                           f"during {what} ({type(e).__name__}: {first[:200]}); this one stops too. The run folder keeps its last "
                           f"checkpoint: `torchrun … -m ganforge train --resume {run}` continues from it") from None

    # -- what the loop calls ------------------------------------------------------------------------------------
    def average_gradients(self, nets: Iterable[nn.Module]) -> None:
        """Replace the gradients of `nets` by their mean over the ranks: one all-reduce of them flattened."""
        if not self.several:
            return
        params = {id(p): p for net in nets for p in net.parameters() if p.grad is not None}  # shared ones once
        grads = [p.grad for p in params.values()]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        self._collective("the gradient all-reduce", lambda: dist.all_reduce(flat))
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def average_buffers(self, modules: Iterable[nn.Module]) -> None:
        """Floating-point buffers (batch-norm running statistics, which each rank gathers from its own share) set
        to their mean over the ranks: one all-reduce. Called before each checkpoint, so every rank holds, and the
        checkpoint keeps, the same statistics."""
        if not self.several:
            return
        buffers = {id(b): b for m in modules for b in m.buffers() if b.is_floating_point()}
        if not buffers:
            return
        flat = torch.cat([b.reshape(-1) for b in buffers.values()])
        self._collective("the averaging of batch-norm statistics", lambda: dist.all_reduce(flat))
        flat /= self.world_size
        offset = 0
        for b in buffers.values():
            b.copy_(flat[offset:offset + b.numel()].view_as(b))
            offset += b.numel()

    def broadcast_modules(self, modules: Iterable[nn.Module]) -> None:
        """Every rank gets rank 0's parameters and buffers (weights, batch-norm statistics)."""
        if not self.several:
            return
        for m in modules:
            for t in list(m.parameters()) + list(m.buffers()):
                self._collective("the broadcast of rank 0's weights", lambda t=t: dist.broadcast(t.data, src=0))

    def agree_stop(self, signum: int | None, seconds: float) -> tuple[int | None, float]:
        """(the signal that stops the run, if any rank caught one; the longest of the ranks' training clocks):
        every rank then takes the same stop decision and the same time-budget learning rate at the same step."""
        if not self.several:
            return signum, seconds
        flags = torch.tensor([float(signum or 0), seconds], dtype=torch.float64)
        self._collective("the agreement on stopping", lambda: dist.all_reduce(flags, op=dist.ReduceOp.MAX))
        return (int(flags[0]) or None), float(flags[1])

    def mean_values(self, values: dict[str, float]) -> dict[str, float]:
        """Logged values averaged over the ranks (every rank logs the same keys, in the same order)."""
        if not self.several:
            return values
        keys = list(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
        self._collective("the averaging of logged values", lambda: dist.all_reduce(t))
        return dict(zip(keys, (t / self.world_size).tolist()))

    def gather(self, obj):
        """Every rank's `obj` (picklable), in rank order, on every rank."""
        if not self.several:
            return [obj]
        out = [None] * self.world_size
        self._collective("a gather of the ranks' state", lambda: dist.all_gather_object(out, obj))
        return out

    def gather_to_writer(self, obj):
        """Every rank's `obj` (picklable), in rank order, on rank 0; None on the others."""
        if not self.several:
            return [obj]
        out = [None] * self.world_size if self.is_writer else None
        self._collective("the gathering of the ranks' evaluation shares",
                         lambda: dist.gather_object(obj, out, dst=0))
        return out

    def share(self, make: Callable[[], T]) -> T:
        """Rank 0 runs `make()` and every rank gets its result; an error rank 0 meets is raised on every rank
        (its own message on rank 0, one line naming rank 0 on the others), so none waits for a rank that quit."""
        if not self.several:
            return make()
        box: list = [None]
        error = None
        if self.is_writer:
            try:
                box[0] = ("ok", make())
            except BaseException as e:  # told to the others, then raised here
                error = e
                box[0] = ("error", str(e) if isinstance(e, GanforgeError) else f"{type(e).__name__}: {e}")
        self._collective("rank 0's set-up", lambda: dist.broadcast_object_list(box, src=0))
        if error is not None:
            raise error
        kind, value = box[0]
        if kind == "error":
            raise GanforgeError(f"rank 0 stopped: {value}")
        return value

    def wait_for_writer(self) -> None:
        """A barrier that waits long (GANFORGE_DIST_WRITER_WAIT s) while rank 0 alone evaluates or writes."""
        if self.several:
            self._collective("the wait for rank 0's evaluation",
                             lambda: dist.barrier(group=self.writer_wait))

    def check_same_weights(self, modules: dict[str, nn.Module], step: int) -> list[str]:
        """Every rank's digest of its weights; raises when they differ (the ranks trained apart)."""
        digests = self.gather(weights_digest(modules))
        if len(set(digests)) > 1:
            raise GanforgeError(f"step {step}: the ranks hold different weights (digests "
                                f"{', '.join(d[:12] for d in digests)}); no checkpoint written")
        return digests


def weights_digest(modules: dict[str, nn.Module]) -> str:
    """sha256 of every parameter and buffer (the checkpoint's weights): equal digests, equal weights."""
    return flat_digest({f"{name}/{k}": t for name, m in modules.items() for k, t in m.state_dict().items()})


def flat_digest(flat: dict[str, torch.Tensor]) -> str:
    """sha256 of flat weights ("G/net.0.weight" → tensor) in key order: that of a checkpoint's weights file equals
    `weights_digest` of the networks it was written from."""
    h = hashlib.sha256()
    for key in sorted(flat):
        h.update(key.encode())
        h.update(flat[key].detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def join(device: torch.device) -> Group:
    """This process's Group: from torchrun's WORLD_SIZE/RANK/LOCAL_RANK, with the process group started (gloo on
    CPU, nccl on CUDA); one process when WORLD_SIZE is unset or 1."""
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return Group()
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise GanforgeError(f"environment: RANK={rank} is outside 0..{world_size - 1} (WORLD_SIZE={world_size})")
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = timedelta(seconds=_env_seconds(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    group = Group(rank, world_size, local_rank, backend)
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():  # a caller that started the group itself keeps it across runs
        group.owns = True
        try:
            dist.init_process_group(backend, timeout=timeout)
        except (RuntimeError, ValueError, ConnectionError) as e:
            raise OwnRankError(f"rank {rank} of {world_size}: cannot join the other processes ({e}); launch "
                                "with torchrun (e.g. torchrun --standalone --nproc-per-node 2 -m ganforge train …)"
                                ) from None
    wait = timedelta(seconds=_env_seconds(WRITER_WAIT_ENV, DEFAULT_WRITER_WAIT_S))
    group.writer_wait = dist.new_group(backend="gloo", timeout=wait)
    return group
