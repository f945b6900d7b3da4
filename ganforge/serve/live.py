"""The live 2-D view's trainer: a worker thread that trains a 2-D config with `train.stepper.Stepper` and
publishes snapshots (data, generated points, G's mapping of a grid of z, D's scores over the plane) at a fixed
rate. Start, pause, step and restart-with-options reach it through a queue, so only the worker touches the nets."""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..config import RunConfig, config_from_dict
from ..errors import GanforgeError
from ..families import get_family
from ..train.stepper import Stepper

# The switches the page offers: config key → what it means. A restart applies the chosen values to the config.
SWITCHES = {
    "objective.loss": "objective (bce, least_squares, hinge, wasserstein)",
    "objective.generator_cost": "G's cost for bce (non_saturating, minimax)",
    "train.ema": "EMA decay of G (0: off)",
    "objective.unrolled_steps": "unrolled D steps (0: off)",
    "objective.generators": "number of generators (MGAN)",
    "objective.r1": "R1 penalty γ (0: off)",
    "objective.gradient_penalty": "gradient penalty λ (0: off)",
    "objective.pack": "PacGAN packing (1: off)",
    "train.batch_size": "batch size",
}
POINTS = 1000  # generated and real points a snapshot shows
Z_GRID = 15  # G's mapping is drawn on a Z_GRID × Z_GRID grid of z
SURFACE = 60  # D's scores on a SURFACE × SURFACE grid of the plane
ARROWS = 150  # G's points at which D's gradient is drawn
MAX_STEP_BATCH = 200  # a "step" command trains at most this many steps


@dataclass
class Snapshot:
    """What one frame shows; arrays are numpy, the plane's limits are fixed per live run."""
    version: int
    step: int
    running: bool
    finished: bool
    options: dict
    losses: dict = field(default_factory=dict)
    real: np.ndarray | None = None  # (POINTS, 2)
    fake: np.ndarray | None = None  # (POINTS, 2)
    z_grid: np.ndarray | None = None  # (Z_GRID, Z_GRID, 2): G of a grid of z
    surface: np.ndarray | None = None  # (SURFACE, SURFACE): D's score at each point of the plane
    boundary: float | None = None  # the score D gives when undecided (None: the game has none)
    limit: float = 1.0  # the plane shown is [−limit, limit]²
    trained: np.ndarray | None = None  # (POINTS, 2): the trained G's points, when `fake` are its EMA's
    which: np.ndarray | None = None  # (POINTS,): which generator of a mixture made each point
    arrows_at: np.ndarray | None = None  # (ARROWS, 2): points of G where D's gradient is drawn
    arrows: np.ndarray | None = None  # (ARROWS, 2): ∇ₓ D(x) there: the way G's step pushes them


def options_config(base: RunConfig, options: dict) -> RunConfig:
    """`base` with the switches' values, checked as `train` checks a config (the family's options included); an
    unknown switch or a value the config refuses is a GanforgeError. train.ema 0 (or empty) turns the EMA off."""
    unknown = sorted(set(options) - set(SWITCHES))
    if unknown:
        raise GanforgeError(f"unknown live option(s) {', '.join(unknown)}; the switches are {', '.join(SWITCHES)}")
    raw = base.model_dump(mode="json")
    for key, value in options.items():
        section, _, name = key.partition(".")
        if key == "train.ema" and value in (0, None, ""):
            value = None
        raw.setdefault(section, {})[name] = value
    cfg = config_from_dict(raw, source="live options")
    get_family(cfg.family).check_config(cfg)
    return cfg


def _run(net: torch.nn.Module, z: torch.Tensor, **kw) -> np.ndarray:
    """net(z) in eval mode, as float numpy."""
    was = net.training
    net.eval()
    out = net(z, **kw).float().cpu().numpy()
    net.train(was)
    return out


class LiveTrainer:
    """Trains `cfg` in a daemon thread; `command()` queues start / pause / step / restart, `snapshot` is the
    newest published state. Snapshots come every `period` seconds while running, and after every command."""

    def __init__(self, cfg: RunConfig, period: float = 0.25):
        self.base, self.period = cfg, period
        self.options: dict = {}
        self.stepper = Stepper(cfg)
        self._check_plane()
        self.commands: queue.Queue = queue.Queue()
        self.running = False
        self.error: str | None = None
        self._version = 0
        self._losses: dict = {}
        self._fixed()
        self.snapshot = self._publish()
        self._thread = threading.Thread(target=self._work, name="ganforge-live", daemon=True)
        self._thread.start()

    # -- the page's side ---------------------------------------------------------------------------------------
    def command(self, action: str, **args) -> None:
        """Queue 'start', 'pause', 'step' (n=steps), 'restart' (options={key: value}) or 'stop' (ends the thread).
        A restart's options are checked here, so a bad value is refused at once."""
        if action not in ("start", "pause", "step", "restart", "stop"):
            raise GanforgeError(f"unknown live action '{action}' (start, pause, step, restart)")
        if action == "step":
            n = args.get("n", 1)
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_STEP_BATCH:
                raise GanforgeError(f"step: n must be an integer in 1–{MAX_STEP_BATCH}, got {n!r}")
        if action == "restart":
            options = args.get("options") or {}
            if not isinstance(options, dict):
                raise GanforgeError("restart: options must be an object {key: value}")
            args["cfg"] = options_config(self.base, options)
        self.commands.put((action, args))

    def close(self, timeout: float = 5.0) -> None:
        """End the worker thread."""
        self.commands.put(("stop", {}))
        self._thread.join(timeout)

    # -- the worker's side -------------------------------------------------------------------------------------
    def _work(self) -> None:
        torch.set_num_threads(1)  # small MLPs; the server's requests need the other core
        while True:
            try:  # paused: wait for a command; running: take one if there is one
                action, args = self.commands.get_nowait() if self.running else self.commands.get()
            except queue.Empty:
                action, args = None, {}
            if action == "stop":
                return
            try:
                self._apply(action, args)
                if self.running:
                    self._train_for(self.period)
                if action is not None or self.running:
                    self.snapshot = self._publish()
            except Exception as e:  # noqa: BLE001  (a restart that fails to build, a step that fails: say so, pause)
                self.running, self.error = False, str(e) if isinstance(e, GanforgeError) else f"{type(e).__name__}: {e}"
                self.snapshot = replace(self.snapshot, running=False)  # the page must not read "training" on

    def _apply(self, action: str | None, args: dict) -> None:
        if action == "start":
            self.running, self.error = True, None
        elif action == "pause":
            self.running = False
        elif action == "step":
            self.running = False
            for _ in range(args.get("n", 1)):
                if self.stepper.finished:
                    break
                self._losses = self.stepper.step()
        elif action == "restart":
            self.running, self.error = False, None
            self.stepper = Stepper(args["cfg"])
            self.options = dict(args.get("options") or {})
            self._losses = {}
            self._fixed()

    def _train_for(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and self.commands.empty():
            if self.stepper.finished:
                self.running = False
                return
            self._losses = self.stepper.step()

    # -- what a frame shows ------------------------------------------------------------------------------------
    def _check_plane(self) -> None:
        s = self.stepper
        if s.data.shape != (2,):
            raise GanforgeError(f"--live: data.name={s.cfg.data.name} holds points of shape {s.data.shape}; the live "
                                "view draws 2-D points (configs toy-ring8, toy-grid25, gan-ring8)")
        if s.family.generator_inputs() != ("z",) or "discriminator" not in s.family.networks.values():
            raise GanforgeError(f"--live: family '{s.cfg.family}' is not a G(z) against a D; the live view draws "
                                "both (family gan, wgan, wgan_gp)")

    def _fixed(self) -> None:
        """The real points, z and grids every frame of this live run uses (so frames differ only by training)."""
        s = self.stepper
        g = torch.Generator().manual_seed(s.cfg.train.seed)
        self.real = s.data.examples(torch.randperm(len(s.data), generator=g)[:POINTS]).numpy()
        self.limit = float(np.abs(self.real).max()) * 1.25 + 1e-6
        d = s.cfg.latent_dim
        self.z = torch.randn(POINTS, d, generator=g)
        line = torch.linspace(-2, 2, Z_GRID)
        grid = torch.zeros(Z_GRID, Z_GRID, d)
        grid[..., 0], grid[..., min(1, d - 1)] = line[None, :], line[:, None]  # z's first two coordinates vary
        self.z_grid = grid.reshape(-1, d)
        axis = torch.linspace(-self.limit, self.limit, SURFACE)
        self.plane = torch.stack([axis[None, :].expand(SURFACE, -1), axis[:, None].expand(-1, SURFACE)],
                                 dim=-1).reshape(-1, 2)

    @torch.no_grad()
    def _publish(self) -> Snapshot:
        s = self.stepper
        family, device = s.family, s.device
        trained = family.nets[family.generator]
        fake = _run(s.sampling_net, self.z.to(device))
        first = {"which": torch.zeros(len(self.z_grid), dtype=torch.long, device=device)} if hasattr(
            trained, "generators") else {}  # a mixture's mapping: that of its first generator
        mapped = _run(s.sampling_net, self.z_grid.to(device), **first).reshape(Z_GRID, Z_GRID, -1)[..., :2]
        raw = _run(trained, self.z.to(device)) if s.emas else None  # with an EMA: the trained G's points too
        k = getattr(trained, "k", 1)
        which = np.arange(POINTS) % k if k > 1 else None  # a mixture draws point i with generator i mod k
        scores = self._d_scores(self.plane.to(device)).reshape(SURFACE, SURFACE)
        at = torch.from_numpy((raw if raw is not None else fake)[:ARROWS]).to(device)
        with torch.enable_grad():  # where D's gradient pushes G's samples (what G's step follows)
            at.requires_grad_(True)
            push = torch.autograd.grad(self._d_scores(at, keep_graph=True).sum(), at)[0].cpu().numpy()
        game = getattr(family, "game", None)
        self._version += 1
        return Snapshot(self._version, s.step_count, self.running, s.finished, dict(self.options), dict(self._losses),
                        self.real, fake, mapped, scores.cpu().numpy(), getattr(game, "boundary", None), self.limit,
                        raw, which, at.detach().cpu().numpy(), push)

    def _d_scores(self, x: torch.Tensor, keep_graph: bool = False) -> torch.Tensor:
        """D's score of each point (PacGAN's D judges m copies of the point at once), in eval mode."""
        family = self.stepper.family
        d = family.nets[next(n for n, role in family.networks.items() if role == "discriminator")]
        m = getattr(getattr(family, "opts", None), "pack", 1)
        if m > 1:
            x = x.repeat_interleave(m, 0).reshape(-1, 2 * m)
        was = d.training
        d.eval()
        out = d(x).float().reshape(-1)
        d.train(was)
        return out if keep_graph else out.detach()

    def state(self) -> dict:
        """The newest snapshot's plain facts (what the page polls): version, step, running, options, losses."""
        snap = self.snapshot
        return {"version": snap.version, "step": snap.step, "running": snap.running, "finished": snap.finished,
                "steps": self.stepper.cfg.train.steps, "options": snap.options, "losses": snap.losses,
                "error": self.error, "family": self.base.family, "data": self.base.data.name,
                "switches": SWITCHES, "config": {k: self._value(k) for k in SWITCHES}}

    def _value(self, key: str):
        """The value a switch has in the live run (the family's validated options: defaults included)."""
        section, _, name = key.partition(".")
        s = self.stepper
        return getattr(s.family.opts if section == "objective" else getattr(s.cfg, section), name, None)
