"""A run's final evaluation on 1 process against 2 (torchrun, gloo): seconds, and how many samples each rank embedded.

What runs is the loop's own evaluation (`RunEvaluator.evaluate` on rank 0, `gather_embedded` on the others) of the
default config's G (freshly initialised: the time of generating and embedding a sample does not depend on its
weights), `--samples` samples (default 10k), the default final metrics (FID, KID, IS, precision/recall,
density/coverage, modes) with the built-in Fashion-MNIST evaluator. Variants, interleaved in rounds:
  * 1 process on every core (train.threads = cores), 1 process on one core;
  * 2 processes on one core each: each generates and embeds half the samples, rank 0 scores the gathered features.
Also the 2-D mixtures' whole evaluation of as many points on one thread, which stays rank 0's alone.
The real images' features are computed once before the rounds (they are cached, as in a run). Timings: seconds
of the whole evaluation on rank 0 (generation, embedding, gathering, scoring), and on 2 processes each rank's seconds
generating and embedding its share; medians over --repeats rounds.

Usage: python bench/sharded_eval.py [--samples 10000] [--repeats 3] [--note contended] [--out FILE]
Writes bench/results/sharded_eval.json; docs/gen_results.py puts it on docs/scaling.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = "configs/dcgan-fashion.yaml"


def worker(num: int, threads: int, out: Path) -> None:
    """Inside each rank: one final evaluation as the loop runs it; this rank's timings to out/rank<r>.json."""
    import torch

    from ganforge.config import load_config
    from ganforge.families import get_family
    from ganforge.train import distributed, periodic_eval

    torch.set_num_threads(threads)
    cfg = load_config(CONFIG)
    torch.manual_seed(cfg.train.seed)  # the same G on every rank and in every variant
    generator = get_family(cfg.family)(cfg, (1, 28, 28), 0).nets["G"]
    share_s = []

    def timed(fn):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            result = fn(*args, **kwargs)
            share_s.append(time.perf_counter() - t0)
            return result
        return run

    # this rank's generation and embedding of its share (the sharded path; one process scores inside evaluate)
    periodic_eval.generate_batches = timed(periodic_eval.generate_batches)
    periodic_eval.embed_samples = timed(periodic_eval.embed_samples)
    with distributed.join(torch.device("cpu")) as procs:
        metrics = cfg.eval.final_metrics
        t0 = time.perf_counter()
        if procs.is_writer:
            evaluator = periodic_eval.RunEvaluator(cfg, out / "run", "fashion-mnist", "image", shape=(1, 28, 28),
                                                   procs=procs)
            t0 = time.perf_counter()
            result = evaluator.evaluate(generator, num, metrics)
        else:
            periodic_eval.gather_embedded(cfg, "fashion-mnist", generator, num, metrics, procs)
            result = None
        seconds = time.perf_counter() - t0
        mine = {"rank": procs.rank, "seconds": seconds, "share_s": sum(share_s) if procs.several else None}
        if result is not None:
            mine |= {"fid": result["fid"], "processes": result["provenance"].get("processes"),
                     "num_samples": result["provenance"]["num_samples"]}
        (out / f"rank{procs.rank}.json").write_text(json.dumps(mine))


def mixture_seconds(num: int, repeats: int) -> dict[str, float]:
    """The 2-D mixtures' whole evaluation in one process on one thread (their G generating `num` points, the points
    scored), median seconds: what rank 0 does alone on several processes."""
    import torch

    from ganforge.config import load_config
    from ganforge.families import get_family
    from ganforge.train.periodic_eval import RunEvaluator

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("ring8", "grid25"):
                cfg = load_config(f"configs/toy-{name}.yaml")
                generator = get_family(cfg.family)(cfg, (2,), 0).nets["G"]
                evaluator = RunEvaluator(cfg, Path(tmp) / name, name, "vector", shape=(2,))
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    evaluator.evaluate(generator, num, [])
                    times.append(time.perf_counter() - t0)
                out[name] = statistics.median(times)
    finally:
        torch.set_num_threads(threads)
    return out


def launch(nproc: int, threads: int, num: int, folder: Path) -> list[dict]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           str(Path(__file__).resolve()), "--worker", "--samples", str(num), "--threads", str(threads), "--dir",
           str(folder)]
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"bench/sharded_eval.py: {nproc} process(es) failed:\n{done.stderr[-3000:]}")
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(nproc)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--note", default="", help="what the machine was doing (e.g. 'contended: shared by 4 jobs')")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "sharded_eval.json"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.samples, args.threads, Path(args.dir))

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scaling import cpu_model

    cores = os.cpu_count() or 1
    variants = {f"1x{cores}": (1, cores), "1x1": (1, 1), "2x1": (2, 1)}
    runs: dict[str, list[list[dict]]] = {k: [] for k in variants}
    started = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        launch(1, cores, 200, Path(tmp))  # the real images' features, computed once and cached, as in a run
        for round_ in range(args.repeats):
            for key, (nproc, threads) in variants.items():
                folder = Path(tmp) / f"{key}-{round_}"
                folder.mkdir()
                runs[key].append(launch(nproc, threads, args.samples, folder))
                print(f"round {round_}: {key}: {runs[key][-1][0]['seconds']:.1f} s", flush=True)
    summary = {}
    for key, rounds in runs.items():
        nproc, threads = variants[key]
        shares = [[r["share_s"] for r in ranks] for ranks in rounds]
        summary[key] = {"processes": nproc, "threads_per_process": threads,
                        "median_s": statistics.median(ranks[0]["seconds"] for ranks in rounds),
                        "seconds": [ranks[0]["seconds"] for ranks in rounds],
                        "median_share_s_per_rank": [statistics.median(s[r] for s in shares) if shares[0][r] else None
                                                    for r in range(nproc)],
                        "embedded_per_rank": (rounds[0][0]["processes"] or {}).get("embedded", [args.samples]),
                        "fid": rounds[0][0]["fid"]}
    one, two = summary[f"1x{cores}"], summary["2x1"]
    result = {"bench": "sharded_eval", "command": "python bench/sharded_eval.py " + " ".join(sys.argv[1:]),
              "config": CONFIG, "num_samples": args.samples, "metrics": "the default final metrics",
              "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats,
              "machine": {"cpu_model": cpu_model(), "cores": cores, "loadavg_at_start": started,
                          "loadavg_at_end": os.getloadavg()},
              "note": args.note, "variants": summary,
              # 2 processes on one core each against 1 process on both: the evaluation's speed-up
              "speedup_2_vs_1_all_cores": one["median_s"] / two["median_s"],
              "speedup_2_vs_1_one_core": summary["1x1"]["median_s"] / two["median_s"],
              # the same samples scored: the FIDs agree up to float rounding (tests/distributed/test_sharded_eval.py)
              "fid_relative_difference": abs(one["fid"] - two["fid"]) / abs(one["fid"]),
              # rank 0 evaluates the 2-D mixtures alone: their whole evaluation of as many points, one thread
              "mixture_eval_s": mixture_seconds(args.samples, args.repeats)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"2 processes: {result['speedup_2_vs_1_all_cores']:.2f}× the speed of 1 process on all cores; "
          f"wrote {args.out}")


if __name__ == "__main__":
    main()
