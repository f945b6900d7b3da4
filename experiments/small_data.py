"""Learning more from each image: differentiable augmentation on small training sets, at a fixed CPU budget.

The default config trained for --seconds on the full Fashion-MNIST training set and on random subsets of it
(data.num_samples), plain, with DiffAugment (translation, cutout, colour on every image D sees, p = 1; Zhao et al.
2020) and with ADA's controller steering p (target r_t = 0.6; Karras et al. 2020). Every row is scored by the
project's evaluator on 10k samples against the 10k test images, so a row trained on 1,000 images is judged against
the whole test distribution. Each row also records the doctor's last overfitting probe (the shares of fixed
training and held-out images D calls real), its diagnoses and the final augmentation probability.

    python experiments/small_data.py [--seconds 300] [--jobs 2] [--only full:default,5000:ada]

Rows are cached in experiments/results/budget_runs.json (see budget.py). Writes
experiments/results/small_data.{md,json}.
"""
from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from budget import run_at_budget

RESULTS = Path(__file__).resolve().parent / "results"
CONFIG = "dcgan-fashion.yaml"
AUGMENT = "augment.policy=translation,cutout,colour"
RECIPES = {
    "default": ([], "the default config"),
    "diffaugment": ([AUGMENT], "+ DiffAugment (translation, cutout, colour; p = 1)"),
    "ada": ([AUGMENT, "augment.ada=true"], "+ ADA (the same operations, p steered to r_t = 0.6)"),
}
# (training images, recipes): on the full set only whether ADA harms; on subsets all three
PLAN = [("full", ["default", "ada"]), ("5000", ["default", "diffaugment", "ada"]),
        ("1000", ["default", "diffaugment", "ada"])]


def row_job(data: str, recipe: str, seconds: float, seed: int) -> tuple[str, str, dict]:
    overrides = RECIPES[recipe][0] + ([] if data == "full" else [f"data.num_samples={data}"])
    return data, recipe, run_at_budget(CONFIG, overrides, seconds, seed)


def table(rows: list[tuple[str, str, dict]]) -> str:
    lines = ["| training images | recipe | steps | FID ↓ | KID ↓ | precision | recall | coverage | classes | D calls real: "
             "train / held-out | final p | diagnoses |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for data, recipe, r in rows:
        shares = (f"{r['doctor/d_real_train']:.0%} / {r['doctor/d_real_heldout']:.0%}"
                  if "doctor/d_real_train" in r else "–")
        p = f"{r['augment/p']:.2f}" if "augment/p" in r else "–"
        lines.append(f"| {'60,000' if data == 'full' else f'{int(data):,}'} | {recipe}: {RECIPES[recipe][1]} | "
                     f"{r['steps']} | {r['fid']:.2f} | {r['kid']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['coverage']:.3f} | {r['classes_covered']} | {shares} | {p} | "
                     f"{'; '.join(r.get('diagnoses', [])) or '–'} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="rows trained at once, one thread each")
    p.add_argument("--only", help="comma-separated data:recipe pairs (e.g. 5000:ada); default: the whole plan")
    args = p.parse_args(argv)
    plan = [(d, r) for d, recipes in PLAN for r in recipes]
    if args.only:
        wanted = [tuple(x.split(":")) for x in args.only.split(",")]
        unknown = [w for w in wanted if w not in plan]
        if unknown:
            p.error(f"unknown rows {unknown}; the plan has {[f'{d}:{r}' for d, r in plan]}")
        plan = wanted
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(row_job, *zip(*[(d, r, args.seconds, args.seed) for d, r in plan])))
    first = rows[0][2]
    header = (f"{args.seconds:.0f} s of training per row on one thread ({args.jobs} rows at a time on this machine), "
              f"seed {args.seed}, 10,000 samples vs the 10k Fashion-MNIST test images; evaluator {first['evaluator']} "
              f"(sha256 {first['evaluator_sha256'][:12]}…), train-vs-test FID floor {first['fid_floor']:.3f}. "
              "One seed per row: differences of a few FID points are within run-to-run noise.")
    result = {"experiment": "small_data", "seconds": args.seconds, "seed": args.seed, "config": CONFIG,
              "rows": [{"data": d, "recipe": r, **row} for d, r, row in rows]}
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.seconds == 300 else f"-{args.seconds:g}s"
    (RESULTS / f"small_data{suffix}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"small_data{suffix}.md").write_text(header + "\n\n" + table(rows) + "\n")
    print(header)
    print(table(rows))
    return result


if __name__ == "__main__":
    main()
