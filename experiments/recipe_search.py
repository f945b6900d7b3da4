"""How the default recipe was found: the DCGAN recipe (configs/dcgan-fashion-paper.yaml: width 64, batch 64, Adam
2e-4) with one or two of width, batch and learning rate changed, each trained for 300 s on one thread and scored on
10k samples by the project's evaluator. The winner (width 32, batch 32, Adam 5e-4) became configs/dcgan-fashion.yaml;
bench/quality_at_budget.py then measured it over 3 seeds beside the plain loop.

    python experiments/recipe_search.py [--only base32_b32_lr5e-4,...] [--fresh]

Rows come from experiments/results/budget_runs.json when cached (see budget.py). They were measured two at a time on
the 2-core machine while other work ran now and then: `foreign_cpu_frac` above 0.5 means a third process took CPU
from the pair, and such a row got fewer steps than it would alone. One seed per row (two for the finalists).
Writes experiments/results/recipe_search.{md,json}.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from budget import run_at_budget

RESULTS = Path(__file__).resolve().parent / "results"
CONFIG = "dcgan-fashion-paper.yaml"
W32, W16 = ["nets.G.args.base=32", "nets.D.args.base=32"], ["nets.G.args.base=16", "nets.D.args.base=16"]


def lr(value: str) -> list[str]:
    return [f"optim.G.lr={value}", f"optim.D.lr={value}"]


# name → (overrides of the paper recipe, seed)
RECIPES = {
    "batch32": (["train.batch_size=32"], 0),
    "lr5e-4": (lr("5e-4"), 0),
    "lr1e-3": (lr("1e-3"), 0),
    "ema0.995": (["train.ema=0.995"], 0),
    "base32": (W32, 0),
    "base32_lr5e-4": (W32 + lr("5e-4"), 0),
    "base32_lr1e-3": (W32 + lr("1e-3"), 0),
    "base16_lr5e-4": (W16 + lr("5e-4"), 0),
    "base16_lr1e-3": (W16 + lr("1e-3"), 0),
    "base32_b16_lr5e-4": (W32 + lr("5e-4") + ["train.batch_size=16"], 0),
    "base32_b32_lr1e-3": (W32 + lr("1e-3") + ["train.batch_size=32"], 0),
    "base32_b32_lr1e-3_seed1": (W32 + lr("1e-3") + ["train.batch_size=32"], 1),
    "base32_b32_lr5e-4": (W32 + lr("5e-4") + ["train.batch_size=32"], 0),
    "base32_b32_lr5e-4_seed1": (W32 + lr("5e-4") + ["train.batch_size=32"], 1),
}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(RECIPES))
    p.add_argument("--fresh", action="store_true", help="train every row again instead of reading the cache")
    args = p.parse_args(argv)
    rows = {}
    for name in args.only.split(","):
        overrides, seed = RECIPES[name]
        rows[name] = run_at_budget(CONFIG, overrides, 300.0, seed=seed, fresh=args.fresh)
    lines = ["| recipe (changes to the paper recipe) | seed | steps | FID ↓ | recall | classes | foreign CPU |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in sorted(rows.items(), key=lambda kv: kv[1]["fid"]):
        lines.append(f"| {name}: {' '.join(r['overrides'])} | {r['seed']} | {r['steps']} | {r['fid']:.2f} | "
                     f"{r['recall']:.3f} | {r['classes_covered']} | {r['foreign_cpu_frac']:.2f} |")
    table = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recipe_search.json").write_text(json.dumps({"experiment": "recipe_search", "config": CONFIG,
                                                            "seconds": 300, "rows": rows}, indent=1) + "\n")
    (RESULTS / "recipe_search.md").write_text("300 s per row on one thread, 10k samples, evaluator fashion-mnist-cnn; "
                                             f"changes to configs/{CONFIG}.\n\n" + table + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
