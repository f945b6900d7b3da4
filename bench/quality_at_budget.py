"""Quality at a fixed CPU budget: the default config trained for --seconds, beside the hand-written plain PyTorch
loop of the same networks trained for the same seconds, both scored by the same frozen evaluator on --num samples
against the Fashion-MNIST test split. The evaluator's train-vs-test floor is printed beside.

    python bench/quality_at_budget.py [--seconds 300] [--num 10000]

Writes bench/results/quality_at_budget.json. Takes about 2 × seconds + a minute of evaluation.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

import ganforge
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.evaluate import evaluate_images
from ganforge.metrics.evaluator import get_evaluator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plain_dcgan import LATENT, PlainDCGAN  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("fid", "kid", "pr", "dc", "modes")
HUGE = 10**9


def train_ganforge(seconds: float, seed: int, tmp: Path) -> tuple[torch.nn.Module, int]:
    cfg = load_config(None, [f"train.time_budget={seconds}", f"train.steps={HUGE}", f"train.seed={seed}",
                             "log.progress=false", "log.tensorboard=false", f"log.sample_every={HUGE}",
                             f"checkpoint.every={HUGE}", "eval.final=false"])
    run = ganforge.train(cfg, out=tmp / "ganforge")
    return ganforge.load(run.dir), run.step


def train_plain(seconds: float, seed: int, base: int) -> tuple[PlainDCGAN, int]:
    x = load_dataset("fashion-mnist").x
    loop, steps, spent = PlainDCGAN(x, base, seed=seed), 0, 0.0
    while spent < seconds:
        t0 = time.perf_counter()
        loop.step()
        spent += time.perf_counter() - t0
        steps += 1
    return loop, steps


@torch.no_grad()
def plain_samples(G: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    G.eval()  # as ganforge samples: batch-norm running statistics, so a sample does not depend on its batch
    g = torch.Generator().manual_seed(seed)
    return torch.cat([G(torch.randn(min(1000, n - i), LATENT, generator=g)) for i in range(0, n, 1000)])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch threads for both loops (default: all cores). Use 1 when another job shares the machine: "
                        "two threads on a core another process also wants can stall either loop several-fold")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quality_at_budget.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = load_config(None).nets["G"].args["base"]
    evaluator = get_evaluator("fashion-mnist")

    rows = {}
    with tempfile.TemporaryDirectory(prefix="ganforge-quality-") as tmp:
        gen, steps = train_ganforge(args.seconds, args.seed, Path(tmp))
        rows["ganforge (configs/dcgan-fashion.yaml)"] = {"steps": steps, **evaluate_images(gen.sample(args.num, seed=args.seed), "fashion-mnist", METRICS)}
    plain, steps = train_plain(args.seconds, args.seed, base)
    rows["plain PyTorch loop, same networks"] = {"steps": steps, **evaluate_images(plain_samples(plain.G, args.num, args.seed), "fashion-mnist", METRICS)}

    floor = evaluator.record["fid_floor_train_vs_test"]
    print(f"{args.seconds:.0f} s of training each on {args.threads} thread(s), {args.num} samples vs the 10k test images; evaluator "
          f"{evaluator.name} (sha256 {evaluator.sha256[:12]}…), train-vs-test FID floor {floor:.3f}")
    print(f"{'':40s} {'steps':>6} {'FID':>8} {'KID':>8} {'prec':>6} {'recall':>6} {'cover':>6} {'classes':>7}")
    for name, r in rows.items():
        print(f"{name:40s} {r['steps']:6d} {r['fid']:8.3f} {r['kid']:8.4f} {r['precision']:6.3f} {r['recall']:6.3f} "
              f"{r['coverage']:6.3f} {r['classes_covered']:7d}")
    ours, theirs = rows["ganforge (configs/dcgan-fashion.yaml)"]["fid"], rows["plain PyTorch loop, same networks"]["fid"]
    result = {
        "benchmark": "quality_at_budget", "command": "python bench/quality_at_budget.py " + " ".join(argv or sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "seconds": args.seconds, "threads": args.threads, "num_samples": args.num, "evaluator": evaluator.describe(),
        "rows": {k: {kk: vv for kk, vv in v.items() if kk != "provenance"} for k, v in rows.items()},
        "fid_ratio_ganforge_over_plain": ours / theirs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"FID ratio ganforge / plain: {ours / theirs:.3f} (goal ≤ 0.5)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
