"""Objectives and stabilisers on Fashion-MNIST at a fixed CPU budget: each recipe trained for --seconds on this
machine, then FID/KID/precision/recall/coverage/classes of 10k samples from the project's evaluator.

    python experiments/fashion_ablation.py                 # 300 s per recipe on 1 thread: about 6 minutes each
    python experiments/fashion_ablation.py --seconds 20 --num 2000 --only default,lsgan   # smoke run

Rows are cached in experiments/results/budget_runs.json (see budget.py); --fresh measures them again. Writes
experiments/results/fashion_ablation.{json,md}; the last stdout line is the JSON.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from budget import markdown_table, run_at_budget

RESULTS = Path(__file__).resolve().parent / "results"
# name → (config, overrides, what it is). All use the default DCGAN networks (base width 64) unless said.
RECIPES = {
    "default": ("dcgan-fashion-paper.yaml", [], "DCGAN, bce + non-saturating G cost (the default config)"),
    "wgan": ("wgan-fashion.yaml", [], "WGAN: weight clipping 0.01, 5 critic steps, RMSProp 5e-5"),
    "wgan_gp": ("wgan-gp-fashion.yaml", [], "WGAN-GP: λ 10, 5 critic steps, Adam(1e-4, (0, 0.9)), no BN in D"),
    "lsgan": ("lsgan-fashion.yaml", [], "LSGAN: least squares, Adam 2e-4"),
    "hinge_sn": ("hinge-fashion.yaml", [], "hinge loss, spectral norm in D, TTUR (D 4e-4, G 1e-4)"),
    "fgan_kl": ("fgan-fashion.yaml", [], "f-GAN, KL divergence"),
    "smoothing": ("dcgan-fashion-paper.yaml", ["objective.real_target=0.9"], "default + one-sided label smoothing 0.9"),
    "ema": ("dcgan-fashion-paper.yaml", ["train.ema=0.99"], "default + EMA of G (decay 0.99)"),
    "smoothing_ema": ("dcgan-fashion-paper.yaml", ["objective.real_target=0.9", "train.ema=0.99"],
                      "default + label smoothing 0.9 + EMA 0.99"),
}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1; see budget.py)")
    p.add_argument("--only", default=",".join(RECIPES), help="comma-separated recipe names")
    p.add_argument("--fresh", action="store_true", help="ignore cached rows")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        p.error(f"unknown recipe(s) {unknown}; choose from {list(RECIPES)}")
    rows = {}
    for name in names:
        config, overrides, what = RECIPES[name]
        rows[f"{name}: {what}"] = row = run_at_budget(config, overrides, args.seconds, args.seed, args.num, args.threads, args.fresh)
        print(f"{name:10s} steps {row['steps']:6d}  FID {row['fid']:7.2f}  KID {row['kid']:.4f}  "
              f"P {row['precision']:.3f}  R {row['recall']:.3f}  classes {row['classes_covered']}", flush=True)
    first = next(iter(rows.values()))
    header = (f"{args.seconds:.0f} s of training per recipe on {args.threads} thread(s) of this machine, {args.num} samples vs the 10k Fashion-MNIST "
              f"test images; evaluator {first['evaluator']} (sha256 {first['evaluator_sha256'][:12]}…), "
              f"train-vs-test FID floor {first['fid_floor']:.3f}.")
    result = {"experiment": "fashion_ablation", "seconds": args.seconds, "num_samples": args.num, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if (args.seconds, args.num) == (300, 10_000) else f"-{args.seconds:g}s-{args.num}"
    (RESULTS / f"fashion_ablation{suffix}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"fashion_ablation{suffix}.md").write_text(header + "\n\n" + markdown_table(rows) + "\n")
    print(header)
    print(markdown_table(rows))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
