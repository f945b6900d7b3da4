"""Quality at a fixed CPU budget: ganforge's default config trained for --seconds, beside the hand-written plain
PyTorch DCGAN loop (bench/plain_dcgan.py: the DCGAN recipe, G and D of width 64, Adam 2e-4, batch 64) trained for
the same seconds, over several seeds, on the full Fashion-MNIST training set or a random subset of it
(--subset N: what a user with a few thousand images of their own has). Both are scored by the project's frozen
evaluator on --num samples against the 10k test images; the table gives the median over seeds.

    python bench/quality_at_budget.py [--seconds 300] [--seeds 0,1,2] [--subset 5000] [--jobs 2] [--config FILE]

--jobs runs that many trainings at once, one thread each (2 on a 2-core machine: every run gets one core, as the
bench's earlier one-thread protocol). Writes bench/results/quality_at_budget[-subsetN][-Ts].json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
METRICS = ("fid", "kid", "pr", "dc", "modes")
HUGE = 10**9
PLAIN_BASE = 64  # the plain loop's width: the DCGAN recipe as a user writes it, whatever ganforge's default is
GANFORGE, PLAIN = "ganforge (configs/dcgan-fashion.yaml)", f"plain PyTorch DCGAN loop (width {PLAIN_BASE})"


def _config(seconds: float, seed: int, subset: int | None, overrides: list[str], config: str | None = None):
    from ganforge.config import load_config

    return load_config(config, [f"train.time_budget={seconds}", f"train.steps={HUGE}", f"train.seed={seed}",
                              "train.threads=1", "log.progress=false", "log.tensorboard=false",
                              f"log.sample_every={HUGE}", f"checkpoint.every={HUGE}", "eval.final=false",
                              *([f"data.num_samples={subset}"] if subset else []), *overrides])


def machine_record() -> dict:
    """Which CPU a number came from: the protocol's results differ by machine (AVX2 vs AVX-512, native bf16)."""
    from ganforge.train.precision import cpu_has_native_bf16, cpu_model

    return {"cores": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
            "cpu_model": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": cpu_has_native_bf16()}


def _busy() -> tuple[float, float]:
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def one_run(loop: str, seconds: float, seed: int, subset: int | None, num: int, overrides: list[str],
            config: str | None = None) -> dict:
    """Train one loop for `seconds` of its own training time on one thread, then score `num` samples. Any loop but
    PLAIN is ganforge, with `config` (None: the default config) and `overrides`."""
    torch.set_num_threads(1)
    import ganforge
    from ganforge.data import load_configured
    from ganforge.scoring import evaluate_images
    from plain_dcgan import LATENT, PlainDCGAN

    cfg = _config(seconds, seed, subset, overrides, config)
    busy0, total0, own0 = *_busy(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="ganforge-quality-") as tmp:
        if loop != PLAIN:
            run = ganforge.train(cfg, out=Path(tmp) / "run")
            samples, steps = ganforge.load(run.dir).sample(num, seed=seed), run.step
        else:  # the same training images (the same seeded subset) as ganforge's run of this seed
            plain = PlainDCGAN(load_configured(cfg.data, "train", seed=seed).x, PLAIN_BASE, seed=seed)
            steps, spent = 0, 0.0
            while spent < seconds:
                t0 = time.perf_counter()
                plain.step()
                spent += time.perf_counter() - t0
                steps += 1
            plain.G.eval()  # as ganforge samples: batch-norm running statistics
            g = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                samples = torch.cat([plain.G(torch.randn(min(1000, num - i), LATENT, generator=g))
                                     for i in range(0, num, 1000)])
    busy1, total1, own1 = *_busy(), time.process_time()
    scores = evaluate_images(samples, "fashion-mnist", METRICS)
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0) * os.sysconf("SC_CLK_TCK")) / max(total1 - total0, 1.0)
    keep = ("fid", "kid", "precision", "recall", "density", "coverage", "classes_covered", "class_kl")
    return {"loop": loop, "seed": seed, "steps": steps, "foreign_cpu_frac": round(foreign, 3),
            **{k: scores[k] for k in keep}}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--subset", type=int, help="train on a random subset of this many images (data.num_samples)")
    p.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    p.add_argument("--config", help="ganforge's config (default: configs/dcgan-fashion.yaml, the default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an override of ganforge's config (repeatable), to measure a variant of the default")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    from ganforge.metrics.frozen_evaluator import get_evaluator

    evaluator = get_evaluator("fashion-mnist")
    label = GANFORGE if args.config is None else f"ganforge ({args.config})"
    jobs = [(loop, args.seconds, seed, args.subset, args.num, args.set, args.config)
            for seed in seeds for loop in (label, PLAIN)]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(one_run, *zip(*jobs)))

    rows = {}
    for loop in (label, PLAIN):
        mine = [r for r in runs if r["loop"] == loop]
        rows[loop] = {"median": {k: statistics.median(r[k] for r in mine) for k in
                                 ("steps", "fid", "kid", "precision", "recall", "coverage", "classes_covered")},
                      "runs": mine}
    ours, theirs = rows[label]["median"]["fid"], rows[PLAIN]["median"]["fid"]
    per_seed = [a["fid"] / b["fid"] for a, b in zip(rows[label]["runs"], rows[PLAIN]["runs"])]
    data = f"a random {args.subset}-image subset of Fashion-MNIST" if args.subset else "the full Fashion-MNIST (60k)"
    print(f"{args.seconds:.0f} s of training each, one thread, {len(seeds)} seeds, on {data}; {args.num} samples vs "
          f"the 10k test images; evaluator {evaluator.name} (sha256 {evaluator.sha256[:12]}…)")
    print(f"{'':44s} {'steps':>6} {'FID':>8} {'KID':>8} {'prec':>6} {'recall':>6} {'cover':>6} {'classes':>7}")
    for name, r in rows.items():
        m = r["median"]
        print(f"{name:44s} {m['steps']:6.0f} {m['fid']:8.2f} {m['kid']:8.4f} {m['precision']:6.3f} {m['recall']:6.3f} "
              f"{m['coverage']:6.3f} {m['classes_covered']:7.0f}")
    print(f"FID ratio ganforge / plain (medians): {ours / theirs:.3f} (goal ≤ 0.5); per seed: "
          f"{', '.join(f'{v:.2f}' for v in per_seed)}")
    result = {
        "benchmark": "quality_at_budget",
        "command": "python bench/quality_at_budget.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_record(),
        "seconds": args.seconds, "seeds": seeds, "subset": args.subset, "num_samples": args.num, "threads": 1,
        "config": args.config, "overrides": args.set, "evaluator": evaluator.describe(), "rows": rows,
        "fid_ratio_ganforge_over_plain": ours / theirs, "fid_ratio_per_seed": per_seed,
    }
    out = args.out or ROOT / "bench" / "results" / (
        "quality_at_budget" + (f"-subset{args.subset}" if args.subset else "") +
        ("" if args.seconds == 300 else f"-{args.seconds:.0f}s") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
