"""The one training loop. Every family runs through it: it knows phases, networks and optimisers, not losses.

Reads top to bottom: set up → (resume) → for each step: run the family's phases, update EMA, log,
write grids and checkpoints → final checkpoint.
"""
from __future__ import annotations

import hashlib
import math
import platform
import shutil
import signal
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .. import images, seeds
from .._version import __version__
from ..config import OptimConfig, RunConfig, TrainConfig
from ..data import load_configured
from ..data.base import Dataset
from ..data.kinds import start_line
from ..errors import GanforgeError
from ..fileio import check_writable
from ..report import report_after_training
from ..rundir import RunDir
from ..scoring import write_report
from ..text import resolve_encoder
from ..families import Batch, Family, Phase, draw_latents, get_family
from . import checkpoint, distributed, grids
from .doctor import DIVERSITY_SAMPLES, Doctor, overfitting_probe
from .ema import EMA
from .periodic_eval import RunEvaluator, evaluate_share
from .logger import MetricsLog
from .precision import use_bf16
from .progress import Progress
from ..data.shards import ShardDataset
from .sampler import MAIN, BatchSampler, StreamSampler, load_sampler_states
from .ranks import check_processes, rank_states, restore_rank_state, split_rng



@dataclass
class Run:
    dir: Path
    step: int
    family: Family
    ema: EMA | None  # the EMA of the generator that samples (train.ema), else None
    stopped_by: str  # "steps", "time_budget" or "interrupted" (a SIGINT or SIGTERM: see `signal`)
    last_metrics: dict
    evaluation: dict | None = None  # the final evaluation, when eval.final is on
    emas: dict[str, EMA] | None = None  # the EMA of every generator, by network name
    signal: int | None = None  # the signal that stopped an interrupted run (its checkpoint is at `step`)
    rank: int = 0  # this process's rank on several processes (only rank 0 wrote the run and says so)


class StopRequests:
    """SIGINT (Ctrl-C) and SIGTERM while training: the first asks the loop to finish its step and stop (it then
    writes a checkpoint there); a second stops at once (KeyboardInterrupt), losing only the steps since the last
    checkpoint. Handlers are installed only in the main thread (the only one Python delivers signals to) and the
    previous ones come back when the block ends."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._request) for s in self.SIGNALS}
        return self

    def _request(self, signum: int, frame) -> None:
        if self.signum is not None:
            self.restore()
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}

    def __exit__(self, *exc) -> None:
        self.restore()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not (torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()):
        raise GanforgeError(f"train.device={name}: no such CUDA device here ({torch.cuda.device_count()} visible); "
                            "use train.device=cpu or auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GanforgeError(f"train.device={name}: MPS is not available here; use train.device=cpu or auto")
    return device


def run_directory(cfg: RunConfig, out: str | Path | None) -> tuple[Path, bool]:
    """The folder a new run writes to, made if need be, and whether this call made it. Never a file, and never a
    folder of the user's other files: a new run gets an empty (or new) folder, or that of a run that stopped
    before its first checkpoint. (One that holds checkpoints is refused by `claim_new_run_directory`, under the
    folder's lock.)"""
    run_dir = Path(out) if out is not None else Path("runs") / f"{cfg.family}-{cfg.data.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if run_dir.exists() and not run_dir.is_dir():
        raise GanforgeError(f"--out {run_dir}: is a file, not a folder")
    layout = RunDir(run_dir)
    others = [p for p in run_dir.iterdir() if p != layout.lock_file] if run_dir.is_dir() else []
    if others and not layout.config.is_file():
        raise GanforgeError(f"--out {run_dir}: the folder is not empty and is not a ganforge run; give a new or "
                            "empty folder")
    made = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GanforgeError(f"--out {run_dir}: cannot create the folder ({e.strerror or e})") from None
    check_writable(run_dir, "--out")
    return run_dir, made


def claim_new_run_directory(run_dir: Path) -> None:
    """With the folder's lock held: refuse a folder that holds a run with checkpoints; clear what a run that died
    before its first checkpoint left (its logs, perhaps a half-written save) so the new run starts afresh."""
    layout = RunDir(run_dir)
    if layout.checkpoint_folders():
        raise GanforgeError(f"{run_dir} already holds a run; use --resume {run_dir} or another --out")
    layout.forget_logs()
    checkpoint.remove_stale_temporaries(run_dir)


def remove_if_unstarted(run_dir: Path) -> None:
    """A new run that failed before its first checkpoint and logged nothing leaves no folder behind (this run made
    it). One that logged something keeps it, so the logs can be read; `--resume` explains that it cannot go on."""
    layout = RunDir(run_dir)
    try:
        started = bool(layout.checkpoint_folders() or layout.read_metrics() or layout.read_diagnoses())
    except GanforgeError:
        started = True
    if not started:
        shutil.rmtree(run_dir, ignore_errors=True)


def apply_optimiser_settings(optimizers: dict[str, torch.optim.Optimizer], cfg: RunConfig, saved: dict) -> list[str]:
    """After restoring optimiser state, put the config's hyper-parameters (lr, betas, momentum, weight decay) back
    over the restored ones: a resumed run follows the config it records. Returns 'optim.D.lr 0.0002 → 0.05' for
    each setting that differs from the checkpoint's (`saved`: {net: OptimConfig dump} written with it)."""
    changes = []
    for n, opt in optimizers.items():
        want = cfg.optim_for(n)
        before = saved.get(n)
        if before is not None and (before.get("name") or want.name) != want.name:  # None: not recorded
            raise GanforgeError(f"optim.{n}.name: the checkpoint's optimiser is {before['name']}, the config asks for "
                                f"{want.name}; a resumed run keeps its optimiser (start a new run to change it)")
        for group in opt.param_groups:
            for key in ("lr", "betas", "momentum", "weight_decay"):
                if key in group:
                    group[key] = tuple(want.betas) if key == "betas" else getattr(want, key)
        for key in ("lr", "betas", "momentum", "weight_decay"):
            old, new = (tuple(before[key]) if key == "betas" else before[key]) if before else None, getattr(want, key)
            if before is not None and old != (tuple(new) if key == "betas" else new):
                changes.append(f"optim.{n}.{key} {old} → {new}")
    return changes


def make_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_data(cfg: RunConfig) -> Dataset | ShardDataset:
    d = cfg.data
    return load_configured(d, "train", seed=cfg.train.seed)


def build_samplers(cfg: RunConfig, data: Dataset | ShardDataset, family: Family, device: torch.device,
                   procs: distributed.Group | None = None) -> dict[str, BatchSampler | StreamSampler]:
    """The main stream of batches and the family's extra streams (the i-th, in declaration order, seeded
    seed + seeds.EXTRA_STREAMS + i); the data must hold every field the family needs. Streamed shards give the main
    stream only. On several processes each gives this rank's share of every batch."""
    share = {"rank": procs.rank, "world_size": procs.world_size} if procs is not None else {}
    unpaired = [f for f in family.needs if f in getattr(data, "domains", {})]
    if unpaired:
        raise GanforgeError(f"family '{cfg.family}' learns from pairs, and the field(s) {', '.join(unpaired)} of "
                            f"dataset '{data.name}' are an unpaired domain (no example of x has its own); use paired "
                            "data (data.name=pairs, or a data.task) or an unpaired family (cyclegan)")
    missing = [f for f in family.needs if f not in data.spec]
    if missing:
        raise GanforgeError(f"family '{cfg.family}' needs the data fields {', '.join(missing)}; dataset "
                            f"'{data.name}' has {', '.join(data.spec)}")
    if isinstance(data, ShardDataset):
        _refuse_extra_streams(cfg, data, family)
        return {MAIN: StreamSampler(data, cfg.train.batch_size, cfg.train.seed, device, cfg.data.workers, **share)}
    samplers = {MAIN: BatchSampler(data, cfg.train.batch_size, cfg.train.seed, device, **share)}
    for i, (name, (stream, batch_size)) in enumerate(family.streams(data).items()):
        samplers[name] = BatchSampler(stream, batch_size, cfg.train.seed + seeds.EXTRA_STREAMS + i, device, **share,
                                      what=f"the batch of family '{cfg.family}''s stream '{name}'")
    return samplers


def _refuse_extra_streams(cfg: RunConfig, data: ShardDataset, family: Family) -> None:
    """Extra streams are subsets picked from labels held in memory (ssgan's labelled few); a stream has none."""
    try:
        names = ", ".join(family.streams(data))
    except GanforgeError:  # picking them asked the shards for every label at once
        names = "a labelled subset"
    if names:
        option = f" (data.labels_per_class={cfg.data.labels_per_class})" if cfg.data.labels_per_class else ""
        raise GanforgeError(f"family '{cfg.family}' draws an extra batch stream{option} — {names} — picked from data "
                            f"held in memory; data.name=shards streams {data.root} instead: drop that option or train "
                            "on an in-memory copy (an npz or an image folder)")


def held_out_metrics(cfg: RunConfig, family: Family) -> dict[str, float]:
    """The family's own metrics on the dataset's test split (a classifier's error, a likelihood bound), if any."""
    if not family.has_test_metrics():
        return {}
    d = cfg.data
    test = load_configured(d, "test", seed=cfg.train.seed + seeds.TEST_SPLIT)
    was_training = family.training
    family.eval()
    with torch.no_grad():
        metrics = family.test_metrics(test)
    family.train(was_training)
    return metrics


def fixed_latents(cfg: RunConfig, n: int) -> torch.Tensor:
    """The z of every sample grid, from its own generator so grids never disturb the training RNG."""
    return draw_latents(cfg, n, torch.Generator().manual_seed(cfg.train.seed + seeds.GRIDS))


def fixed_inputs(cfg: RunConfig, family: Family, data: Dataset, n: int) -> tuple[torch.Tensor, ...]:
    """What the sampling generator is called with in every grid: fixed z, and fixed real examples of any data
    field it maps or is conditioned on (a seeded pick), so grids never disturb the training RNG."""
    return tuple(fixed_latents(cfg, n) if field == "z" else data.examples(grids.fixed_index(cfg, data, field, n), field)
                 for field in family.generator_inputs())


def lr_factor(step: int, cfg: TrainConfig, seconds: float = 0.0) -> float:
    """Multiplier of the base learning rates for the update at `step` (0-based), held until `lr_decay_start` of
    the way and then linearly to zero. The way is counted in steps (a function of the step alone, so a resumed run
    follows the same schedule) or, with `lr_decay_over=time_budget`, in the `seconds` of the budget spent."""
    if cfg.lr_decay == "none":
        return 1.0
    progress = seconds / cfg.time_budget if cfg.lr_decay_over == "time_budget" else step / cfg.steps
    return 1.0 if progress < cfg.lr_decay_start else max(0.0, (1.0 - progress) / (1.0 - cfg.lr_decay_start))


def data_sha256(data: Dataset | ShardDataset) -> str:
    """sha256 of what the run trains on, for its provenance (run.json): of the stored examples and fields of data held
    in memory (as loaded, before resizing), or of the shards' own sha256s for streamed shards."""
    digest = hashlib.sha256()
    if isinstance(data, ShardDataset):
        digest.update(repr([s.get("sha256") for s in data.manifest["shards"]]).encode())
        return digest.hexdigest()
    for part in (data, *data.domains.values()):
        for t in (part.stored, part.labels, *part.extra.values()):
            if t is not None:
                digest.update(t.contiguous().numpy())
    return digest.hexdigest()


def set_learning_rates(optimizers: dict[str, torch.optim.Optimizer], cfg: RunConfig, step: int,
                       seconds: float = 0.0) -> None:
    """Each optimiser's learning rate for the update at `step`: its config's, times `lr_factor` (under a decay)."""
    if cfg.train.lr_decay == "none":
        return
    factor = lr_factor(step, cfg.train, seconds)
    for n, opt in optimizers.items():
        for group in opt.param_groups:
            group["lr"] = cfg.optim_for(n).lr * factor


def train_step(family: Family, phases: list[Phase], optimizers: dict[str, torch.optim.Optimizer],
               emas: dict[str, EMA], next_batch: Callable[[Phase], Batch], *, autocast=nullcontext(),
               average: Callable | None = None, measure_grads: bool = False
               ) -> tuple[dict[str, torch.Tensor], dict[str, tuple[str, ...]], dict[str, float]]:
    """One training step: the family's phases in order, each `repeat` times — only the networks a phase updates
    get weight gradients; its loss terms are summed and back-propagated, the gradients averaged over the processes
    (`average`, under torchrun), its optimisers stepped, then the family's `after_update` — and then the EMA of
    every generator. `next_batch(phase)` gives a phase that does not reuse the batch before it its own.
    Returns the loss terms (of each phase's last repeat), the networks each term's phase trains, and the gradient
    norms of the updated networks when `measure_grads`."""
    losses: dict[str, torch.Tensor] = {}
    owners: dict[str, tuple[str, ...]] = {}
    grad_norms: dict[str, float] = {}
    batch = None
    for phase in phases:
        for net_name, net in family.nets.items():  # no weight gradients for networks this phase leaves alone
            net.requires_grad_(net_name in phase.updates)
        for _ in range(phase.repeat):
            if not phase.same_batch:
                batch = next_batch(phase)
            with autocast:
                terms = getattr(family, phase.name)(batch)
            total = sum(terms.values())
            for n in phase.updates:
                optimizers[n].zero_grad(set_to_none=True)
            total.backward()
            if average is not None:
                average(family.nets[n] for n in phase.updates)
            if measure_grads:
                grad_norms.update({f"grad_norm/{n}": _grad_norm(family.nets[n]) for n in phase.updates})
            for n in phase.updates:
                optimizers[n].step()
            family.after_update(phase)
        losses.update(terms)
        owners.update(dict.fromkeys(terms, phase.updates))
    for n, e in emas.items():
        e.update(family.nets[n])
    return losses, owners, grad_norms


def _check_augment(cfg: RunConfig, family: Family, data: Dataset | ShardDataset) -> None:
    if not cfg.augment.enabled:
        return
    if data.kind != "image":
        raise GanforgeError(f"augment.policy: the operations transform images; data '{data.name}' holds vectors")
    if cfg.augment.ada and family.game.boundary is None:
        raise GanforgeError(f"augment.ada: the '{family.game.name}' game's scores have no undecided value to count "
                            "real scores above (ADA's r_t); use fixed augmentation (augment.ada=false, augment.p) or a "
                            "bce, hinge or least-squares game")


def stop_if_not_finite(step: int, values: dict[str, float]) -> None:
    """A rank other than 0 stops on the same non-finite logged values as rank 0's doctor (which says why)."""
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise GanforgeError(f"step {step}: non-finite {', '.join(bad[:3])}; training stopped (rank 0 reports the "
                            "diagnosis)")


def _grad_norm(net: nn.Module) -> float:
    norms = [p.grad.detach().float().norm() for p in net.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def _saved_optimiser_settings(state: dict) -> dict[str, dict]:
    """The optimiser settings a checkpoint was trained with (checkpoints before they were recorded: read from the
    optimiser state's first parameter group)."""
    if "optim" in state:
        return state["optim"]
    return {n: {k: g[k] for k in ("lr", "betas", "momentum", "weight_decay") if k in g} | {"name": None}
            for n, o in state["optimizers"].items() for g in o["param_groups"][:1]}


def train(cfg: RunConfig, out: str | Path | None = None, resume: str | Path | None = None,
          use_intact_checkpoint: bool = False) -> Run:
    """Train `cfg` into a new run folder `out`, or continue the run in `resume` (to cfg.train.steps).
    `use_intact_checkpoint`: when the newest checkpoint of `resume` is unusable, continue from the newest intact one.

    The run folder is locked for the whole training: a second training of it is refused, naming this one's pid.
    A SIGINT or SIGTERM finishes the step and writes a checkpoint there; the Run returned says
    stopped_by="interrupted" and which `signal` (a second signal stops at once with KeyboardInterrupt)."""
    # ---- set-up: everything that can be judged without data is judged before anything is written --------------
    get_family(cfg.family).check_config(cfg)
    device = pick_device(cfg.train.device)
    # under torchrun: one of several processes, each training its share of every batch; only rank 0 writes
    with distributed.join(device) as procs:
        device = procs.device(device)
        check_processes(cfg, device, procs)
        run_dir, made = procs.share(lambda: _run_folder(cfg, out, resume))
        procs.run_dir = run_dir
        if not procs.is_writer:
            return _train(cfg, run_dir, device, resume is not None, use_intact_checkpoint, procs)
        peer_lost = False
        with RunDir(run_dir).lock():
            try:
                return _train(cfg, run_dir, device, resume is not None, use_intact_checkpoint, procs)
            except distributed.PeerLost:
                # said at once: torchrun ends this process within a moment of another's death, and the page (which
                # `ganforge report` can rebuild) would hold the message back by a second of drawing
                peer_lost = True
                if made:
                    remove_if_unstarted(run_dir)
                raise
            except BaseException:
                if made:
                    remove_if_unstarted(run_dir)
                raise
            finally:  # RUN/report.html however the run ended (its failures print a line, never replace the run's)
                if RunDir(run_dir).config.is_file() and not peer_lost:
                    report_after_training(run_dir)


def _run_folder(cfg: RunConfig, out: str | Path | None, resume: str | Path | None) -> tuple[Path, bool]:
    """The run folder to train in (a resumed one, checked, or `run_directory`) and whether this call made it."""
    if resume is not None:
        run_dir = Path(resume)
        if not RunDir(run_dir).config.is_file():
            raise GanforgeError(f"--resume {run_dir}: not a run directory (no config.yaml)")
        check_writable(run_dir, "--resume")
        return run_dir, False
    return run_directory(cfg, out)


def _read_resume_point(run_dir: Path, use_intact_checkpoint: bool) -> tuple[str, dict, dict]:
    """Rank 0's reading of the checkpoint a resume starts from: (where, its weights, its state)."""
    removed = checkpoint.remove_stale_temporaries(run_dir)
    if removed:
        print(f"resume: removed what an interrupted save left behind: {', '.join(removed)}", file=sys.stderr)
    ckpt, note = checkpoint.checkpoint_for_resume(run_dir, use_intact_checkpoint)
    if note:
        print(f"resume: {note}", file=sys.stderr)
    return str(ckpt / checkpoint.WEIGHTS), checkpoint.read_weights(ckpt), checkpoint.load_state(ckpt)


def _train(cfg: RunConfig, run_dir: Path, device: torch.device, resuming: bool, use_intact_checkpoint: bool,
           procs: distributed.Group) -> Run:
    """`train` in a run folder this process holds (rank 0), or trains beside (another rank)."""
    resume_from = None
    if resuming:
        resume_from = procs.share(lambda: _read_resume_point(run_dir, use_intact_checkpoint))
    else:
        procs.share(lambda: claim_new_run_directory(run_dir))
    layout = RunDir(run_dir)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)

    data = build_data(cfg)
    if procs.is_writer:
        print(start_line(cfg, data), flush=True)
    if procs.several and procs.is_writer:
        print(f"processes: {procs.world_size} ({procs.backend}); global batch {cfg.train.batch_size} = "
              f"{procs.world_size} × {cfg.train.batch_size // procs.world_size} per process", flush=True)
    num_classes = data.num_classes
    family = get_family(cfg.family)(cfg, data.shape, num_classes, fields=data.spec).to(device)
    if procs.several and cfg.train.sync_bn:
        family = nn.SyncBatchNorm.convert_sync_batchnorm(family)
    _check_augment(cfg, family, data)
    if procs.several and family.augment is not None:  # ADA's p moved by the heuristic of the global batch
        family.augment.agree = lambda r_t: procs.mean_values({"augment/r_t": r_t})["augment/r_t"]
    bf16 = use_bf16(cfg.train.bf16, device)
    evaluator, sharded = None, False  # rank 0's evaluator; whether every rank embeds a share of each evaluation
    if cfg.eval.every or cfg.eval.final:
        def make_evaluator() -> bool:
            nonlocal evaluator
            evaluator = RunEvaluator(cfg, run_dir, data.name, data.kind, family.generator_inputs(), shape=data.shape,
                                     procs=procs)
            return evaluator.sharded
        sharded = procs.share(make_evaluator)
    phases = family.phases()
    if phases[0].same_batch:
        raise GanforgeError(f"family '{cfg.family}': its first phase cannot reuse the batch of a phase before it")
    trained = sorted({n for p in phases for n in p.updates})
    optimizers = {n: make_optimizer(family.nets[n].parameters(), cfg.optim_for(n)) for n in trained}
    # an exponential moving average of every generator; its copy is the one that samples (grids, evaluation)
    emas = {n: EMA(family.nets[n], cfg.train.ema).to(device) for n in family.generators()} if cfg.train.ema else {}
    samplers = build_samplers(cfg, data, family, device, procs)
    modules = dict(family.nets.items()) | {f"{n}_ema": e.net for n, e in emas.items()}
    sampling_net = emas[family.generator].net if family.generator in emas else family.nets[family.generator]

    step, elapsed = 0, 0.0
    saved_ranks = None
    if resume_from is not None:
        where, flat, state = resume_from
        checkpoint.apply_weights(flat, modules, where)
        for n, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][n])
        changes = apply_optimiser_settings(optimizers, cfg, _saved_optimiser_settings(state))
        if changes:
            print(f"resume: the config's optimiser settings replace the checkpoint's: {'; '.join(changes)}",
                  file=sys.stderr)
        load_sampler_states(samplers, state)
        family.load_training_state(state.get("family", {}))
        if family.augment is not None and "augment" in state:
            family.augment.load_state_dict(state["augment"])
        torch.set_rng_state(state["rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        saved_ranks = restore_rank_state(state, procs, family, samplers)
        # the steps after the checkpoint are trained again: their log lines go, so each step is logged once
        if procs.is_writer:
            layout.cut_logs(step)
    latent_rng = split_rng(cfg, procs, family, device, saved_ranks) if procs.several else None
    procs.broadcast_modules(modules.values())  # every rank starts from rank 0's weights
    if procs.is_writer:
        layout.samples.mkdir(exist_ok=True)  # only now: a run refused above leaves its folder empty
        layout.write_config(cfg)
        layout.write_info({
            "family": cfg.family, "dataset": data.name, "kind": data.kind, "shape": list(data.shape),
            "num_classes": num_classes, "num_examples": len(data), "ganforge": __version__,
            "torch": torch.__version__, "device": str(device), "bf16": bf16, "python": platform.python_version(),
            "platform": platform.platform(), "data_sha256": data_sha256(data),
            "fields": {f: {"kind": s.kind, "shape": list(s.shape), "classes": s.classes} for f, s in data.spec.items()},
            "grid": grids.describe(family, data),  # the layout of the sample grids (the report's caption)
            # the sentence encoder of a captioned run: `generate` embeds new captions with the very same one
            **({"encoder": resolve_encoder(cfg.data.encoder).record()} if cfg.data.captions else {}),
        } | ({"processes": procs.world_size} if procs.several else {}))

    # image runs show a grid of `log.grid` samples (what it holds: grids.py); 2-D runs a scatter of 2,000 over the data
    fixed = tuple(t.to(device) for t in fixed_inputs(cfg, family, data, cfg.log.grid if data.kind == "image" else 2000))
    targets = grids.fixed_targets(cfg, family, data, cfg.log.grid) if data.kind == "image" else None
    reference = data.examples(torch.arange(min(2000, len(data)))).numpy() if data.kind == "vector" else None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    log = MetricsLog(run_dir, cfg.log.tensorboard, resumed_at=step if resume_from is not None else None,
                     enabled=procs.is_writer)
    bar = Progress(cfg, step, enabled=procs.is_writer)

    def generate(inputs: tuple[torch.Tensor, ...], name: str | None = None) -> torch.Tensor:
        """Samples of the generator that `sample` uses (or of network `name`; EMA when kept), in eval mode,
        without gradients."""
        net = sampling_net if name is None else emas[name].net if name in emas else family.nets[name]
        was_training = net.training
        net.eval()
        with torch.no_grad():
            x = net(*inputs).float().cpu()
        net.train(was_training)
        return x

    def write_grid(at: int) -> None:
        path = layout.sample_grid(at)
        if data.kind == "image":
            images.save_png(grids.grid_image(family, data, generate, fixed, targets), path,
                            scale=max(1, 96 // data.shape[-1]))
        else:
            images.save_png(images.scatter(generate(fixed).numpy(), reference), path)

    def real_batch() -> Batch:
        # only the fields the family needs: a semi-supervised family's unlabelled batch keeps its labels hidden
        fields = {k: v for k, v in samplers[MAIN].next().items() if k in family.needs}
        streams = {n: Batch(s.batch_size, s.next()) for n, s in samplers.items() if n != MAIN}
        return Batch(len(fields["x"]), fields, streams)

    # the doctor reads and writes the run folder: rank 0's; the others see the same averaged values and stop with it
    doctor = Doctor(cfg, run_dir, family, data, samples=lambda: generate(tuple(t[:DIVERSITY_SAMPLES] for t in fixed)),
                    say=bar.write, log=log.write, start_step=step, judge=overfitting_probe(cfg, family, data, device)
                    ) if procs.is_writer else None
    local_batch = cfg.train.batch_size // procs.world_size  # what a phase without data generates on this rank

    def save(at: int) -> None:
        state = {"step": at, "elapsed": elapsed, "rng": torch.get_rng_state(),
                 "samplers": {n: s.state_dict() for n, s in samplers.items()}, "family": family.training_state(),
                 "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
                 "optim": {n: cfg.optim_for(n).model_dump(mode="json") for n in optimizers}}
        if family.augment is not None:
            state["augment"] = family.augment.state_dict()
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        if procs.several:
            state["ranks"] = rank_states(procs, family, samplers, modules, latent_rng, at)
        if not procs.is_writer:
            return
        # NaN is caught at logging windows; between them a checkpoint must still never hold a non-finite tensor
        # (weights, batch-norm statistics, optimiser moments): the newest checkpoint is always one to resume from
        bad = checkpoint.non_finite(checkpoint.flatten_state(modules)) | checkpoint.non_finite(
            checkpoint.state_tensors(state))
        if bad:
            good = checkpoint.newest_finite(run_dir)
            then = (f"the newest finite checkpoint is {good}: lower the learning rates (optim.<net>.lr) and "
                    f"`--resume {run_dir}`" if good else "no finite checkpoint was written before this: lower the "
                    "learning rates (optim.<net>.lr) and start again")
            raise GanforgeError(f"step {at}: non-finite values in {checkpoint.describe_non_finite(bad)}; no checkpoint "
                                f"written; {then}")
        checkpoint.save_checkpoint(run_dir, at, modules, state, cfg.checkpoint.keep)

    # ---- the loop ---------------------------------------------------------------------------------------------
    stopped_by, last = "steps", {}
    owners: dict[str, tuple[str, ...]] = {}  # loss term → the networks its phase trains (for the doctor)
    this_session = 0.0  # the time budget counts this invocation's training, so `--resume --time-budget` adds time
    budget_clock = time.process_time if cfg.train.budget_clock == "cpu" else time.perf_counter
    window_start, window_steps = time.perf_counter(), 0
    budget = cfg.train.time_budget
    signum = None
    with StopRequests() as stop:  # a first SIGINT/SIGTERM ends the loop after its step, and the save still runs
        try:
            while step < cfg.train.steps:
                # on several processes every rank takes the stop (a signal on any, its budget on the slowest clock)
                signum, this_session = procs.agree_stop(stop.signum, this_session)
                if signum is not None:
                    stopped_by = "interrupted"
                    break
                if budget is not None and this_session >= budget:
                    stopped_by = "time_budget"
                    break
                t0, b0 = time.perf_counter(), budget_clock()
                logging_now = (step + 1) % cfg.log.every == 0 or step + 1 == cfg.train.steps
                family.step = step  # for schedules inside a family (e.g. annealed instance noise)
                set_learning_rates(optimizers, cfg, step, this_session)
                losses, step_owners, grad_norms = train_step(
                    family, phases, optimizers, emas,
                    next_batch=lambda phase: real_batch() if phase.data else Batch(local_batch),
                    autocast=autocast, average=procs.average_gradients, measure_grads=logging_now)
                owners.update(step_owners)
                step += 1
                window_steps += 1
                step_s = time.perf_counter() - t0
                elapsed += step_s
                spent = budget_clock() - b0  # of the budget: step_s, or this step's CPU seconds
                this_session += spent

                if logging_now:
                    values = {f"loss/{k}": float(v.detach()) for k, v in losses.items()}
                    values |= {k: float(v) for k, v in family.pop_monitors().items()} | grad_norms
                    if family.augment is not None:
                        values |= family.augment.monitors()
                    values = procs.mean_values(values)
                    if doctor is not None:
                        values |= doctor.window(step, values, owners)  # stops the run on NaN/Inf; diagnoses, diversity
                    else:
                        stop_if_not_finite(step, values)
                    now = time.perf_counter()
                    values["img_per_s"] = window_steps * cfg.train.batch_size / max(now - window_start, 1e-9)
                    window_start, window_steps = now, 0
                    values["elapsed_s"] = elapsed
                    log.write(step, values)
                    last = values
                    bar.show(values)
                bar.advance(step, spent)
                if step % cfg.log.sample_every == 0 and procs.is_writer:
                    write_grid(step)
                if step % cfg.checkpoint.every == 0:
                    save(step)
                if cfg.eval.every and step % cfg.eval.every == 0:
                    if procs.is_writer and evaluator.available:  # rank 0 scores (the others embed shares)
                        values = evaluator(step, sampling_net, modules)
                        bar.write(f"step {step}: " + ", ".join(f"{k[5:]}={v:.4g}" for k, v in values.items()))
                        log.write(step, values | doctor.evaluation(step, values))
                    elif sharded:
                        evaluate_share(cfg, data.name, sampling_net, family.generator_inputs(), cfg.eval.num,
                                       cfg.eval.metrics, procs)
                    procs.wait_for_writer()
        finally:
            bar.close()
            log.close()
        # ---- finish: the last state is always on disk -------------------------------------------------------------
        save(step)
    if not procs.is_writer:
        if sharded and cfg.eval.final and stopped_by != "interrupted":  # this rank's share of the final evaluation
            evaluate_share(cfg, data.name, sampling_net, family.generator_inputs(), cfg.eval.final_num,
                           cfg.eval.final_metrics, procs)
        return Run(run_dir, step, family, emas.get(family.generator), stopped_by, last, None, emas, signum,
                   rank=procs.rank)
    write_grid(step)
    evaluation = None
    if stopped_by == "interrupted":
        return Run(run_dir, step, family, emas.get(family.generator), stopped_by, last, None, emas, signum)
    if cfg.eval.final:
        generator = sampling_net
        evaluation = evaluator.evaluate(generator, cfg.eval.final_num, cfg.eval.final_metrics, out_dir=run_dir)
        evaluation |= held_out_metrics(cfg, family)
        evaluation["provenance"]["run"] = {"dir": str(run_dir), "step": step, "family": cfg.family}
        write_report(evaluation, run_dir)
    return Run(run_dir, step, family, emas.get(family.generator), stopped_by, last, evaluation, emas)
