"""Several generators against mode collapse on Fashion-MNIST (the lectures: "or use multiple GANs"): the default
DCGAN (configs/dcgan-fashion.yaml) with one generator vs a mixture of k generators whose shared discriminator
also names which generator made a sample (`objective.generators=k`, MGAN, Hoang et al. 2018), same budget.

Each row trains for --seconds on one thread per seed, then scores 10k samples with the project's evaluator (FID,
KID, precision/recall, density/coverage, classes covered and the class histogram's KL to uniform). The 2-D mixtures'
rows of the same option are in experiments/mode_collapse_2d.py.

    python experiments/several_generators.py                         # 2 rows × 3 seeds × 300 s, two at a time: ~25 min
    python experiments/several_generators.py --seconds 3 --num 200 --seeds 0 --out /tmp/x --no-cache   # smoke run

Writes experiments/results/several_generators.{json,md} (or --out DIR); finished runs are cached in
experiments/results/several_generators_runs.json (delete it to measure again). Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
from pathlib import Path

import torch

from budget import run_at_budget
from ganforge.train.precision import cpu_model

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = RESULTS / "several_generators_runs.json"
CONFIG = "dcgan-fashion.yaml"
ROWS = {
    "one": ([], "the default DCGAN: one generator"),
    "mgan4": (["objective.generators=4"], "4 generators (MGAN, β 0.01), D names which made a sample"),
}
KEYS = ("steps", "fid", "kid", "precision", "recall", "coverage", "classes_covered", "class_kl")


def _work(job: tuple) -> dict:
    row, seconds, seed, num, cache = job
    r = run_at_budget(CONFIG, ROWS[row][0], seconds, seed, num, threads=1, cache_file=cache)
    print(f"{row:6s} seed {seed}: steps {r['steps']:6d}  FID {r['fid']:7.2f}  P {r['precision']:.3f}  "
          f"R {r['recall']:.3f}  classes {r['classes_covered']}  class KL {r['class_kl']:.3f}", file=sys.stderr, flush=True)
    return {"row": row, "seed": seed} | {k: r[k] for k in KEYS} | {"cpu": r.get("foreign_cpu_frac")}


def markdown(result: dict) -> str:
    lines = ["| row | steps | FID ↓ (median) | FID per seed | KID ↓ | precision | recall | coverage | classes | class KL ↓ |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in result["summary"].items():
        lines.append(f"| {ROWS[name][1]} | {s['steps']:,.0f} | {s['fid']:.2f} | "
                     + ", ".join(f"{v:.2f}" for v in s["fid_per_seed"])
                     + f" | {s['kid']:.4f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['coverage']:.3f} | "
                     f"{s['classes_covered']:.0f} | {s['class_kl']:.3f} |")
    lines += ["", f"{result['seconds']:.0f} s of training per run on 1 thread ({result['cpu']}), seeds "
              f"{', '.join(map(str, result['seeds']))}, medians over seeds; {result['num']:,} samples scored by the "
              "project's Fashion-MNIST evaluator against the test images. configs/dcgan-fashion.yaml in both rows."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--no-cache", action="store_true", help="measure every run again and keep nothing")
    args = p.parse_args(argv)
    cache = None if args.no_cache else CACHE
    jobs = [(row, args.seconds, seed, args.num, cache) for seed in args.seeds for row in ROWS]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        runs = pool.map(_work, jobs, chunksize=1)
    summary = {}
    for name in ROWS:
        mine = [r for r in runs if r["row"] == name]
        summary[name] = {k: statistics.median(r[k] for r in mine) for k in KEYS}
        summary[name]["fid_per_seed"] = [r["fid"] for r in mine]
    result = {"experiment": "several_generators", "config": f"configs/{CONFIG}", "seconds": args.seconds,
              "num": args.num, "seeds": args.seeds, "cpu": cpu_model() or "unknown CPU", "threads": 1, "torch": torch.__version__,
              "rows": {n: {"overrides": o, "what": w} for n, (o, w) in ROWS.items()}, "runs": runs, "summary": summary,
              "command": "python experiments/several_generators.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "several_generators.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "several_generators.md").write_text(markdown(result))
    print(markdown(result), file=sys.stderr)
    print(json.dumps({"json": str(args.out / "several_generators.json"),
                      "fid": {n: round(s["fid"], 2) for n, s in summary.items()}}))
    return result


if __name__ == "__main__":
    main()
