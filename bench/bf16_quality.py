"""Does bf16 autocast learn as much per step as fp32? The default config (configs/dcgan-fashion.yaml) trained for the
same number of steps with train.bf16=false and train.bf16=true, over seeds, one thread per run; 10k samples of each
scored by the project's evaluator. Also each run's steps per second, so the table gives bf16's speed-up and its
quality per step from the same runs.

    python bench/bf16_quality.py [--steps 3000] [--seeds 0,1,2] [--jobs 2]
    python bench/bf16_quality.py --steps 20 --seeds 0 --num 500 --out /tmp/x.json   # smoke run

Only meaningful where the CPU computes bf16 natively (AVX512-BF16 or AMX): elsewhere bf16 is emulated, ~15× slower,
and the bench refuses to run unless --force. Writes bench/results/bf16_quality.json (--out to change).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
HUGE = 10**9
METRICS = ("fid", "kid", "pr", "modes")


def one_run(bf16: bool, steps: int, seed: int, num: int) -> dict:
    torch.set_num_threads(1)
    import ganforge
    from ganforge.config import load_config
    from ganforge.scoring import evaluate_images

    cfg = load_config(ROOT / "configs" / "dcgan-fashion.yaml", [
        f"train.bf16={str(bf16).lower()}", f"train.steps={steps}", f"train.seed={seed}", "train.threads=1",
        "log.progress=false", "log.tensorboard=false", f"log.sample_every={HUGE}", f"checkpoint.every={HUGE}",
        "eval.final=false", "doctor.enabled=false"])
    with tempfile.TemporaryDirectory(prefix="ganforge-bf16-") as tmp:
        t0 = time.perf_counter()
        run = ganforge.train(cfg, out=Path(tmp) / "run")
        wall = time.perf_counter() - t0
        scores = evaluate_images(ganforge.load(run.dir).sample(num, seed=seed), "fashion-mnist", METRICS)
    row = {"bf16": bf16, "seed": seed, "steps": run.step, "train_s": run.last_metrics.get("elapsed_s"), "wall_s": wall,
           **{k: scores[k] for k in ("fid", "kid", "precision", "recall", "classes_covered")}}
    print(f"bf16={bf16!s:5s} seed {seed}: {row['steps']} steps in {row['train_s']:.0f} s, FID {row['fid']:.2f}",
          file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> dict:
    from ganforge.train.precision import cpu_has_native_bf16, cpu_model

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    p.add_argument("--force", action="store_true", help="run even where bf16 is emulated (slow)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bf16_quality.json")
    args = p.parse_args(argv)
    if not cpu_has_native_bf16() and not args.force:
        print("this CPU has no native bf16 (no AVX512-BF16/AMX): bf16 would be emulated and ~15x slower, so the "
              "comparison says nothing about bf16 hardware; --force runs it anyway", file=sys.stderr)
        return {}
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(bf16, args.steps, seed, args.num) for seed in seeds for bf16 in (False, True)]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(one_run, *zip(*jobs)))
    summary = {}
    for bf16 in (False, True):
        mine = [r for r in runs if r["bf16"] == bf16]
        summary["bf16" if bf16 else "fp32"] = {
            "fid_median": statistics.median(r["fid"] for r in mine), "fid_per_seed": [r["fid"] for r in mine],
            "steps_per_s_median": statistics.median(r["steps"] / r["train_s"] for r in mine)}
    pairs = [(a["fid"], b["fid"]) for a, b in zip(runs[0::2], runs[1::2])]
    result = {"benchmark": "bf16_quality", "config": "configs/dcgan-fashion.yaml", "steps": args.steps, "seeds": seeds,
              "num_samples": args.num, "threads": 1, "jobs": args.jobs,
              "command": "python bench/bf16_quality.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "cpu_model": cpu_model(),
              "native_bf16": cpu_has_native_bf16(), "torch": torch.__version__, "runs": runs, "summary": summary,
              "fid_bf16_minus_fp32_per_seed": [b - a for a, b in pairs],
              "speedup_bf16": summary["bf16"]["steps_per_s_median"] / summary["fp32"]["steps_per_s_median"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, s in summary.items():
        print(f"{name}: FID median {s['fid_median']:.2f} (per seed {', '.join(f'{v:.2f}' for v in s['fid_per_seed'])}), "
              f"{s['steps_per_s_median']:.1f} steps/s", file=sys.stderr)
    print(json.dumps({"json": str(args.out), "speedup_bf16": round(result["speedup_bf16"], 3),
                      "fid": {k: round(v["fid_median"], 2) for k, v in summary.items()}}))
    return result


if __name__ == "__main__":
    main()
