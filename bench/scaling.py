"""1 process vs 2 processes (torchrun, gloo) on this CPU: img/s, time per phase, and the all-reduce's share of a step.

Model: the default config (configs/dcgan-fashion.yaml: DCGAN base 32, batch 32, Adam 5e-4) on Fashion-MNIST,
evaluation, grids and TensorBoard off. Both variants train the same global batch:
  * 1 process with train.threads = all cores (launched by torchrun with --nproc-per-node 1: WORLD_SIZE 1 is the
    one-process path), and 1 process with the threads each of N processes gets;
  * N processes (default 2) with train.threads = cores / N each, each its share of the batch, gradients averaged
    by one flattened all-reduce per phase.
img/s = global batch × steps after the first logging window / the loop's own seconds for them (elapsed_s of the
metrics log). Time per phase and the all-reduce's time are measured in each rank by wrapping (in this script, not
in ganforge) the family's phase methods and `distributed.Group.average_gradients`: a phase's time runs from its
forward to the end of its all-reduce (the optimiser step is outside). The all-reduce's share = its seconds / the
loop's seconds, mean over ranks; it includes waiting for the slower rank (on a busy machine, most of it).

Then the all-reduce alone, at the default config's gradient sizes (G's and D's parameters, float32), on 2 and 4
processes (more processes than cores: a simulation of the communication pattern, not of a cluster's speed), median
of --repeats calls: what docs/scaling.md extrapolates from.

Each variant trains --rounds times (3), the variants interleaved round by round; a variant is reported by its
median round (by img/s), every round's img/s beside it, and the efficiency is the ratio of the medians.

Usage: python bench/scaling.py [--steps 300] [--rounds 3] [--procs 2] [--config configs/dcgan-fashion.yaml]
       [--note contended]
Writes bench/results/scaling-<cpu>.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = "configs/dcgan-fashion.yaml"


def overrides(steps: int, threads: int) -> list[str]:
    window = max(1, steps // 5)
    return [f"train.steps={steps}", f"train.threads={threads}", "eval.final=false", "eval.every=0",
            "log.progress=false", "log.tensorboard=false", f"log.every={window}", f"log.sample_every={10 * steps}",
            f"checkpoint.every={10 * steps}", "checkpoint.keep=1", "doctor.enabled=false"]


# ---------------------------------------------------------------- inside each rank (launched by torchrun)

def train_worker(config: str, sets: list[str], out: Path) -> None:
    """Train with the phase methods and the gradient all-reduce timed; write this rank's timings to out/."""
    import torch  # noqa: F401  (loaded before ganforge, as the CLI does)

    import ganforge
    from ganforge.config import load_config
    from ganforge.families import get_family
    from ganforge.train import distributed

    seconds: dict[str, float] = {}
    allreduce: dict[str, float] = {}
    started = {"phase": None, "at": 0.0}
    cfg = load_config(config, sets)
    family_cls = get_family(cfg.family)
    phases = [p.name for p in family_cls(cfg, (1, 28, 28)).phases()]

    def timed_phase(name):
        method = getattr(family_cls, name)

        def run(self, batch):
            started.update(phase=name, at=time.perf_counter())
            return method(self, batch)
        return run

    for name in phases:
        setattr(family_cls, name, timed_phase(name))
    original = distributed.Group.average_gradients

    def average_gradients(self, nets):
        t0 = time.perf_counter()
        original(self, nets)
        t1 = time.perf_counter()
        name = started["phase"]
        allreduce[name] = allreduce.get(name, 0.0) + (t1 - t0)
        seconds[name] = seconds.get(name, 0.0) + (t1 - started["at"])

    distributed.Group.average_gradients = average_gradients
    run_dir = out / "run"
    run = ganforge.train(cfg, out=run_dir)
    rank = int(os.environ.get("RANK", "0"))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()] if rank == 0 else []
    (out / f"rank{rank}.json").write_text(json.dumps({"steps": run.step, "phase_s": seconds, "allreduce_s": allreduce,
                                                      "metrics": rows}))


def allreduce_worker(sizes: list[int], repeats: int, out: Path) -> None:
    """Median seconds of one all-reduce of `size` float32 values, for each size."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    result = {}
    for size in sizes:
        t = torch.ones(size)
        dist.all_reduce(t)  # warm-up: connections, buffers
        times = []
        for _ in range(repeats):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        result[str(size)] = statistics.median(times)
    if dist.get_rank() == 0:
        (out / f"allreduce-{dist.get_world_size()}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


# ---------------------------------------------------------------- the driver

def torchrun(nproc: int, args: list[str], threads: int) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           str(Path(__file__).resolve()), *args]
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"bench/scaling.py: {nproc} process(es) failed:\n{done.stderr[-3000:]}")


def summarise(folder: Path, nproc: int, batch: int) -> dict:
    ranks = [json.loads((folder / f"rank{r}.json").read_text()) for r in range(nproc)]
    rows = [r for r in ranks[0]["metrics"] if "elapsed_s" in r]
    first, last = rows[0], rows[-1]
    loop_s = last["elapsed_s"] - first["elapsed_s"]
    img_per_s = batch * (last["step"] - first["step"]) / loop_s
    steps = ranks[0]["steps"]
    total_loop = last["elapsed_s"]  # the phase timings cover every step: compare with the loop's whole time
    phase_ms = {p: 1000 * statistics.mean(r["phase_s"][p] for r in ranks) / steps for p in ranks[0]["phase_s"]}
    allreduce_ms = {p: 1000 * statistics.mean(r["allreduce_s"][p] for r in ranks) / steps
                    for p in ranks[0]["allreduce_s"]}
    return {"processes": nproc, "img_per_s": img_per_s, "step_ms": 1000 * total_loop / steps,
            "phase_ms": phase_ms, "allreduce_ms": allreduce_ms,
            "allreduce_share_of_step": sum(allreduce_ms.values()) / (1000 * total_loop / steps)}


def median_round(runs: list[dict]) -> dict:
    """A variant's median round by img/s (of an even number, the lower middle one), with every round's img/s in
    the order they ran."""
    ranked = sorted(runs, key=lambda v: v["img_per_s"])
    return ranked[(len(ranked) - 1) // 2] | {"img_per_s_rounds": [v["img_per_s"] for v in runs]}


def gradient_sizes(config: str) -> dict[str, int]:
    from ganforge.config import load_config
    from ganforge.families import get_family

    cfg = load_config(config)
    family = get_family(cfg.family)(cfg, (1, 28, 28))
    return {n: sum(p.numel() for p in family.nets[n].parameters()) for n in family.nets}


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        return re.search(r"model name\s*:\s*(.+)", text).group(1).strip()
    except (OSError, AttributeError):
        return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--config", default=CONFIG)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3,
                    help="each variant trained this many times, interleaved; the median round is reported")
    ap.add_argument("--note", default="", help="what the machine was doing (e.g. 'contended: shared by 4 jobs')")
    ap.add_argument("--out", help="results file (default bench/results/scaling-<cpu>.json)")
    ap.add_argument("--worker", choices=["train", "allreduce"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--set", action="append", default=[], help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "train":
        return train_worker(args.config, args.set, Path(args.dir))
    if args.worker == "allreduce":
        return allreduce_worker([int(s) for s in args.sizes.split(",")], args.repeats, Path(args.dir))

    from ganforge.config import load_config

    cores = os.cpu_count() or 1
    batch = load_config(args.config).train.batch_size
    # 1 process on every core, 1 process on one core (what each of N processes has), N processes
    plan = list(dict.fromkeys((nproc, threads) for nproc, threads in (
        (1, cores), (1, max(1, cores // args.procs)), (args.procs, max(1, cores // args.procs)))))
    rounds: dict[str, list[dict]] = {f"{n}x{t}": [] for n, t in plan}
    with tempfile.TemporaryDirectory() as tmp:
        # interleaved rounds: a slow spell of a shared machine hits every variant, not one
        for r in range(args.rounds):
            for nproc, threads in plan:
                key = f"{nproc}x{threads}"
                folder = Path(tmp) / f"{key}-{r}"
                folder.mkdir()
                sets = [f"--set={o}" for o in overrides(args.steps, threads)]
                torchrun(nproc, ["--worker", "train", "--config", args.config, "--dir", str(folder), *sets], threads)
                rounds[key].append(summarise(folder, nproc, batch) | {"threads_per_process": threads})
                print(f"round {r + 1}: {nproc} process(es) × {threads} thread(s): "
                      f"{rounds[key][-1]['img_per_s']:.0f} img/s, all-reduce "
                      f"{100 * rounds[key][-1]['allreduce_share_of_step']:.1f} % of a step", flush=True)
        variants = {key: median_round(runs) for key, runs in rounds.items()}
        sizes = gradient_sizes(args.config)
        collective = {}
        for world in (2, 4):
            torchrun(world, ["--worker", "allreduce", "--dir", tmp, "--repeats", str(args.repeats),
                             "--sizes", ",".join(str(v) for v in sizes.values())], 1)
            times = json.loads((Path(tmp) / f"allreduce-{world}.json").read_text())
            collective[str(world)] = {n: 1000 * times[str(v)] for n, v in sizes.items()}
    per = max(1, cores // args.procs)
    one, single, many = variants[f"1x{cores}"], variants[f"1x{per}"], variants[f"{args.procs}x{per}"]
    result = {
        "bench": "scaling", "config": args.config, "steps": args.steps, "global_batch": batch,
        "date": time.strftime("%Y-%m-%d"), "machine": {"cpu_model": cpu_model(), "cores": cores,
                                                        "platform": platform.platform()},
        "note": args.note, "variants": variants,
        # the goal: N processes against 1 process using the same cores (≥ 0.8)
        "efficiency": many["img_per_s"] / one["img_per_s"],
        "rounds": args.rounds,
        # the same ratio within each round (interleaved, so each pair shared the machine's state)
        "efficiency_rounds": [m / o for m, o in zip(many["img_per_s_rounds"], one["img_per_s_rounds"])],
        # N processes against N times one process on its share of the cores: the cost of the ranks' collectives
        "efficiency_per_core": many["img_per_s"] / (args.procs * single["img_per_s"]),
        "gradient_params": sizes, "allreduce_ms_by_world_size": collective,
        "method": "img/s from the loop's elapsed_s after the first window; phase and all-reduce times from wrappers "
                  "in each rank, per step, mean over ranks; all-reduce alone: median of repeats, gloo, float32",
    }
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")[:40]
    out = Path(args.out) if args.out else REPO / "bench" / "results" / f"scaling-{slug}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"efficiency {args.procs} processes / 1 on all cores (medians of {args.rounds} rounds): "
          f"{result['efficiency']:.2f} (rounds: {', '.join(f'{e:.2f}' for e in result['efficiency_rounds'])}); per core: "
          f"{result['efficiency_per_core']:.2f}; wrote {out}")


if __name__ == "__main__":
    main()
