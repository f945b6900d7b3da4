"""Which CPU speed-ups help the default DCGAN step: channels_last memory format, fused Adam, torch.compile.

Each variant trains the default config's networks (ganforge.nets, at the config's width and batch) with the same
step as bench/plain_dcgan.py, from fresh networks, for --warmup untimed and --steps timed steps; variants run
interleaved in rounds and the median img/s per variant is reported with its ratio to the baseline of the same run.
A variant that fails (no C++ compiler for torch.compile's CPU backend) is reported as failed, not dropped.

    python bench/speed_variants.py [--repeats 3] [--steps 40] [--threads 2]

Writes bench/results/speed_variants.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.nets import build_net

ROOT = Path(__file__).resolve().parent.parent
SHAPE = (1, 28, 28)


def make_step(x_all: torch.Tensor, cfg, variant: str, seed: int):
    torch.manual_seed(seed)
    batch, latent = cfg.train.batch_size, cfg.latent_dim
    G = build_net(cfg.nets["G"].arch, latent_dim=latent, out_shape=SHAPE, **cfg.nets["G"].args)
    D = build_net(cfg.nets["D"].arch, in_shape=SHAPE, **cfg.nets["D"].args)
    fused = variant == "fused_adam"
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.optim_for("G").lr, betas=cfg.optim_for("G").betas, fused=fused or None)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.optim_for("D").lr, betas=cfg.optim_for("D").betas, fused=fused or None)
    memory = torch.channels_last if variant == "channels_last" else torch.contiguous_format
    G, D = G.to(memory_format=memory), D.to(memory_format=memory)
    g_run, d_run = (torch.compile(G), torch.compile(D)) if variant == "compile" else (G, D)
    ones, zeros = torch.ones(batch), torch.zeros(batch)

    def step():
        real = x_all[torch.randint(len(x_all), (batch,))].contiguous(memory_format=memory)
        D.requires_grad_(True)
        G.requires_grad_(False)
        with torch.no_grad():
            fake = g_run(torch.randn(batch, latent))
        loss_d = (F.binary_cross_entropy_with_logits(d_run(real).float(), ones)
                  + F.binary_cross_entropy_with_logits(d_run(fake).float(), zeros))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)
        G.requires_grad_(True)
        loss_g = F.binary_cross_entropy_with_logits(d_run(g_run(torch.randn(batch, latent))).float(), ones)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        return loss_d.item()

    return step


def measure(x_all, cfg, variant: str, warmup: int, steps: int, seed: int) -> dict:
    try:
        step = make_step(x_all, cfg, variant, seed)
        t0 = time.perf_counter()
        for _ in range(warmup):
            step()
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 — a variant that cannot run here is a result, reported as such
        return {"failed": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}
    return {"img_per_s": steps * cfg.train.batch_size / wall, "warmup_s": warm_s}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--variants", default="baseline,channels_last,fused_adam,compile")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override of the default config")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speed_variants.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(None, args.set)
    x_all = load_dataset("fashion-mnist").x
    names = args.variants.split(",")
    runs = {n: [] for n in names}
    for r in range(args.repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            m = measure(x_all, cfg, n, args.warmup, args.steps, seed=r)
            runs[n].append(m)
            print(f"round {r + 1} {n:14s} " + (f"{m['img_per_s']:8.1f} img/s (warm-up {m['warmup_s']:.1f} s)"
                                               if "img_per_s" in m else m["failed"]), flush=True)
    med = {n: statistics.median(m["img_per_s"] for m in ms) if all("img_per_s" in m for m in ms) else None
           for n, ms in runs.items()}
    base = med.get("baseline")
    ratios = {n: (v / base if v and base else None) for n, v in med.items()}
    for n in names:
        print(f"{n:14s} " + (f"{med[n]:8.1f} img/s  {ratios[n]:.3f}× baseline" if med[n] else "failed"))
    result = {"benchmark": "speed_variants", "command": "python bench/speed_variants.py " + " ".join(argv or sys.argv[1:]),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                          "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": args.threads},
              "config": {"overrides": args.set, "batch": cfg.train.batch_size, "base": cfg.nets["G"].args.get("base")},
              "protocol": {"repeats": args.repeats, "steps": args.steps, "warmup": args.warmup},
              "median_img_per_s": med, "ratio_to_baseline": ratios, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
