"""The Python API: `ganforge.train(config) -> Run`, `ganforge.load(run_dir) -> Generator`, `load_family` and
`evaluate_run`. The layer above training: it reads what a run wrote (config, run.json, checkpoints)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from .config import RunConfig, config_from_dict, load_config
from .errors import GanforgeError
from .evaluate import DEFAULT_METRICS, evaluate_images, evaluate_points, write_report
from .families import draw_latents, get_family
from .metrics.evaluator import get_evaluator
from .nets.conditional import balanced_labels
from .sampling import generate_batches  # public here too: ganforge.api.generate_batches
from .train import checkpoint
from .train import train as run_training
from .train.loop import held_out_metrics


def train(config: RunConfig | dict | str | Path | None = None, out: str | Path | None = None,
          resume: str | Path | None = None, use_intact_checkpoint: bool = False):
    """Train from a RunConfig, a dict, a YAML path, or (None) the default DCGAN on Fashion-MNIST."""
    if not isinstance(config, RunConfig):
        config = config_from_dict(config) if isinstance(config, dict) else load_config(config)
    return run_training(config, out=out, resume=resume, use_intact_checkpoint=use_intact_checkpoint)


def _check_count(n: int) -> None:
    if n < 0:
        raise GanforgeError(f"number of samples must be ≥ 0, got {n}")


class Generator:
    """A trained generator rebuilt from its run directory (the EMA weights when the run kept them)."""

    def __init__(self, net: torch.nn.Module, cfg: RunConfig, info: dict, step: int):
        self.net, self.cfg, self.info, self.step = net.eval(), cfg, info, step
        self.kind: str = info["kind"]
        self.shape: tuple[int, ...] = tuple(info["shape"])

    @property
    def num_classes(self) -> int:
        """Classes a conditional generator can be asked for; 0 for an unconditional one."""
        return int(getattr(self.net, "num_classes", 0))

    def latents(self, n: int, seed: int | None = None) -> torch.Tensor:
        """n draws of z from the run's prior (the same draws `sample(n, seed)` uses)."""
        _check_count(n)
        return draw_latents(self.cfg, n, torch.Generator().manual_seed(seed) if seed is not None else None)

    def labels(self, n: int, label: int | None = None) -> torch.Tensor:
        """The class labels `sample` uses: all `label`, or class-balanced (0, 1, …, K−1, 0, …) when None."""
        k = self.num_classes
        if not k:
            raise GanforgeError(f"this run's generator ({self.cfg.family}) is not conditional: it takes no class")
        if label is None:
            return balanced_labels(n, k)
        if not 0 <= label < k:
            raise GanforgeError(f"class {label} out of range: this generator has classes 0–{k - 1}")
        return torch.full((n,), label, dtype=torch.long)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
        """G(z) (or G(z | labels)) for given latents, in batches, on the CPU as float32."""
        if z.ndim != 2 or z.shape[1] != self.cfg.latent_dim:
            raise GanforgeError(f"z must have shape (N, {self.cfg.latent_dim}), got {tuple(z.shape)}")
        if labels is not None and len(labels) != len(z):
            raise GanforgeError(f"{len(labels)} labels for {len(z)} latents")
        return generate_batches(self.net, z, labels, batch_size) if len(z) else torch.empty(0, *self.shape)

    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000, label: int | None = None) -> torch.Tensor:
        """n samples: images (n, C, H, W) in [-1, 1] or vectors (n, D). A conditional generator makes class
        `label`, or every class equally often (`labels(n)`) when label is None."""
        _check_count(n)
        labels = self.labels(n, label) if self.num_classes or label is not None else None
        return self.generate(self.latents(n, seed), labels, batch_size)


RUN_INFO_KEYS = ("kind", "shape", "num_classes", "dataset", "num_examples")  # what loading and `info` read


def _run_file(run_dir: Path, name: str) -> Path:
    """RUN_DIR/name, or a GanforgeError saying why RUN_DIR is not a run directory."""
    if not run_dir.exists():
        raise GanforgeError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise GanforgeError(f"{run_dir}: is a file, not a run directory")
    path = run_dir / name
    if not path.is_file():
        raise GanforgeError(f"{run_dir}: not a ganforge run directory (needs config.yaml and run.json; no {name})")
    return path


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise GanforgeError(f"{path}: cannot read ({e})") from None


def _read_mapping(run_dir: str | Path, name: str) -> tuple[Path, dict]:
    """RUN_DIR/name parsed (YAML or JSON by its suffix) and checked to be a mapping."""
    path = _run_file(Path(run_dir), name)
    parse, what = (json.loads, "JSON") if name.endswith(".json") else (yaml.safe_load, "YAML")
    try:
        raw = parse(_read_text(path))
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise GanforgeError(f"{path}: not valid {what} ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise GanforgeError(f"{path}: expected a {what} mapping, got {type(raw).__name__}")
    return path, raw


def read_run_config(run_dir: str | Path) -> RunConfig:
    """The validated config.yaml of a run (all that --resume needs: training rewrites run.json)."""
    path, raw = _read_mapping(run_dir, "config.yaml")
    return config_from_dict(raw, source=str(path))


def read_run_info(run_dir: str | Path) -> dict:
    """run.json, checked for the keys loading needs: a truncated or hand-edited file is the user's to fix."""
    path, info = _read_mapping(run_dir, "run.json")
    missing = [k for k in RUN_INFO_KEYS if k not in info]
    if missing:
        raise GanforgeError(f"{path}: missing {', '.join(missing)} (written by `ganforge train`)")
    shape, kind = info["shape"], info["kind"]
    dims = {"image": 3, "vector": 1}.get(kind)
    if dims is None:
        raise GanforgeError(f"{path}: kind must be 'image' or 'vector', got {kind!r}")
    if not (isinstance(shape, list) and len(shape) == dims and all(type(d) is int and d > 0 for d in shape)):
        raise GanforgeError(f"{path}: shape of a {kind} run must be {dims} positive integers, got {shape!r}")
    if type(info["num_classes"]) is not int or info["num_classes"] < 0:
        raise GanforgeError(f"{path}: num_classes must be a whole number ≥ 0, got {info['num_classes']!r}")
    return info


def read_run(run_dir: str | Path) -> tuple[RunConfig, dict]:
    """(config, run info) of a run directory; every defect of either file is a GanforgeError naming it."""
    return read_run_config(run_dir), read_run_info(run_dir)


def _family(run_dir: str | Path):
    """(config, run info, the run's family with freshly initialised networks)."""
    cfg, info = read_run(run_dir)
    return cfg, info, get_family(cfg.family)(cfg, tuple(info["shape"]), info["num_classes"])


def _checkpoint(run_dir: str | Path, which: str | int) -> Path:
    if which == "best":
        ckpt = Path(run_dir) / "checkpoints" / "best"
        if not (ckpt / "best.json").is_file():
            raise GanforgeError(f"{run_dir}: no best checkpoint (it is kept when the run evaluates FID: eval.every)")
        return ckpt
    if which == "latest":
        return checkpoint.latest_checkpoint(run_dir)
    if isinstance(which, int) and not isinstance(which, bool):
        return checkpoint.step_checkpoint(run_dir, which)
    raise GanforgeError(f"which must be 'latest', 'best' or a step number, got {which!r}")


def _step(ckpt: Path) -> int:
    best = ckpt / "best.json"
    return int(json.loads(best.read_text())["step"] if best.is_file() else checkpoint.load_state(ckpt)["step"])


def load(run_dir: str | Path, device: str = "cpu", which: str | int = "latest") -> Generator:
    """which: "latest"; "best" for the checkpoint with the lowest FID seen by `eval.every`; or a step number
    whose checkpoint is still kept (checkpoint.keep)."""
    cfg, info, family = _family(run_dir)
    ckpt = _checkpoint(run_dir, which)
    modules = dict(family.nets.items())
    gen = modules[family.generator]
    if cfg.train.ema:  # the averaged weights go straight into the generators
        modules |= {f"{n}_ema": modules.pop(n) for n in family.generators()}
    checkpoint.load_weights(ckpt, modules)
    return Generator(gen.to(device), cfg, info, _step(ckpt))


def load_family(run_dir: str | Path, device: str = "cpu", which: str | int = "latest"):
    """The run's whole family (every network with its trained weights, G without EMA) in eval mode, for what
    needs more than the generator: a VAE's encoder and ELBO, a BiGAN's encoder, a discriminator's features.
    Returns (family, step)."""
    _, _, family = _family(run_dir)
    ckpt = _checkpoint(run_dir, which)
    checkpoint.load_weights(ckpt, dict(family.nets.items()))
    return family.to(device).eval(), _step(ckpt)


def evaluate_run(run_dir: str | Path, metrics=DEFAULT_METRICS, num: int = 10_000, seed: int = 0, **options) -> dict:
    """Evaluate a run's generator (and the family's own test metrics, if it has them) on `num` samples; the
    result is also written to RUN/eval.json, RUN/eval.md and, for some metrics, PNGs."""
    run_dir = Path(run_dir)
    gen = load(run_dir)
    if gen.kind == "image" and not options.get("inception_weights"):
        get_evaluator(gen.info["dataset"])  # no evaluator for this data: say so before drawing samples
    x = gen.sample(num, seed=seed)  # a conditional G: every class equally often, gen.labels(num)
    if gen.kind == "vector":
        result = evaluate_points(x, gen.info["dataset"])
    else:
        labels = gen.labels(num) if gen.num_classes else None
        result = evaluate_images(x, gen.info["dataset"], metrics, labels=labels, out_dir=run_dir, seed=seed, **options)
    if get_family(gen.cfg.family).has_test_metrics():  # a family's own test metrics (classifier error, ELBO)
        family, _ = load_family(run_dir)
        result |= held_out_metrics(family.cfg, family)
    result["provenance"]["run"] = {"dir": str(run_dir), "step": gen.step, "family": gen.cfg.family}
    write_report(result, run_dir)
    return result
