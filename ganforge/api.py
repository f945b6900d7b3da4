"""The Python API: `ganforge.train(config) -> Run` and `ganforge.load(run_dir) -> Generator`."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from .config import RunConfig, config_from_dict, load_config
from .errors import GanforgeError
from .families import get_family


def train(config: RunConfig | dict | str | Path | None = None, out: str | Path | None = None,
          resume: str | Path | None = None):
    """Train from a RunConfig, a dict, a YAML path, or (None) the default DCGAN on Fashion-MNIST."""
    from .train import train as run_training

    if not isinstance(config, RunConfig):
        config = config_from_dict(config) if isinstance(config, dict) else load_config(config)
    return run_training(config, out=out, resume=resume)


class Generator:
    """A trained generator rebuilt from its run directory (the EMA weights when the run kept them)."""

    def __init__(self, net: torch.nn.Module, cfg: RunConfig, info: dict, step: int):
        self.net, self.cfg, self.info, self.step = net.eval(), cfg, info, step
        self.kind: str = info["kind"]
        self.shape: tuple[int, ...] = tuple(info["shape"])

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000) -> torch.Tensor:
        """n samples: images (n, C, H, W) in [-1, 1] or vectors (n, D)."""
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        device = next(self.net.parameters()).device
        out = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = (torch.rand(m, self.cfg.latent_dim, generator=g) * 2 - 1 if self.cfg.latent == "uniform"
                 else torch.randn(m, self.cfg.latent_dim, generator=g))
            out.append(self.net(z.to(device)).float().cpu())
        return torch.cat(out) if out else torch.empty(0, *self.shape)


def read_run(run_dir: str | Path) -> tuple[RunConfig, dict]:
    run_dir = Path(run_dir)
    cfg_path, info_path = run_dir / "config.yaml", run_dir / "run.json"
    if not cfg_path.is_file() or not info_path.is_file():
        raise GanforgeError(f"{run_dir}: not a ganforge run directory (needs config.yaml and run.json)")
    return config_from_dict(yaml.safe_load(cfg_path.read_text()), source=str(cfg_path)), json.loads(info_path.read_text())


def load(run_dir: str | Path, device: str = "cpu", which: str = "latest") -> Generator:
    """which: "latest", or "best" for the checkpoint with the lowest FID seen by `eval.every`."""
    from .train import checkpoint

    cfg, info = read_run(run_dir)
    family = get_family(cfg.family)(cfg, tuple(info["shape"]), info["num_classes"])
    if which == "best":
        ckpt = Path(run_dir) / "checkpoints" / "best"
        if not (ckpt / "best.json").is_file():
            raise GanforgeError(f"{run_dir}: no best checkpoint (it is kept when the run evaluates FID: eval.every)")
    elif which == "latest":
        ckpt = checkpoint.latest_checkpoint(run_dir)
    else:
        raise GanforgeError(f"which must be 'latest' or 'best', got {which!r}")
    modules = dict(family.nets.items())
    gen = modules[family.generator]
    if cfg.train.ema:
        modules["G_ema"] = gen  # the averaged weights go straight into the generator we hand out
        del modules[family.generator]
    checkpoint.load_weights(ckpt, modules)
    step = int(json.loads((ckpt / "best.json").read_text())["step"] if which == "best" else checkpoint.load_state(ckpt)["step"])
    return Generator(gen.to(device), cfg, info, step)
