"""Where time goes at 8 and 64 GPUs: the gloo all-reduce measured here, a ring model fitted to it, and the model
extrapolated with stated, cited link figures and a stated GPU step time.

Method (every figure not measured here is an assumption in ASSUMPTIONS, with its source, and goes into the results
file beside the numbers it produced):
1. Measured: the median time of one gloo all-reduce (float32) of the default config's G and D gradient sizes, of
   the wide config's, and of a sweep of sizes, on 2, 4 and 8 processes of this machine (one thread each). With more
   processes than cores the processes take turns on the cores: a simulation of the communication pattern (how the
   time grows with N), not of a cluster's speed.
2. Fitted: the ring all-reduce model t(N, S) = 2(N−1)·α + 2(N−1)/N · S/β (S bytes; 2(N−1) steps, each sending
   S/N bytes through every link at once) by least squares on every measured point; the fit's α, β and its
   worst relative error say how well the model's form describes the measured growth.
3. Extrapolated: the same form with NCCL's own latency model for a ring (src/graph/tuning.cc: a base latency plus
   a per-step latency for the NVLink steps and for the network steps; the Simple and LL protocols, the faster one
   taken, as NCCL picks) and the links' bandwidths: NVLink 4 within a node of 8 H100s, InfiniBand NDR across nodes.
   8 GPUs = one node; 64 GPUs = 8 nodes. The GPU step is FLOPs / (a stated share of the H100's bf16 dense peak),
   but never less than the step's kernel launches × a launch overhead (small networks are launch-bound).
4. Evaluation: one rank's generation + embedding time per sample measured here (one thread, the built-in
   Fashion-MNIST evaluator), its FLOPs counted, scaled to a GPU the same way and divided over N ranks; rank 0's
   scoring of 50k features (FID: their mean and covariance, a matrix square root; on the CPU, as ganforge scores)
   measured here and kept as is; one 50k FID every 200k training images (StyleGAN2-ADA's default: metrics every
   50 ticks of 4 kimg). Efficiency(N) = time of 200k training images on 1 GPU / (N × their time on N GPUs), with
   the evaluation and without, at a fixed per-GPU batch (weak scaling: the global batch grows with N).

Usage: python bench/allreduce.py [--worlds 2,4,8] [--repeats 30] [--note contended] [--out FILE]
Writes bench/results/scaling_extrapolation.json; docs/gen_results.py makes docs/scaling.md's tables from it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaling import REPO, cpu_model, gradient_sizes, torchrun  # noqa: E402  (bench/scaling.py's launcher)
from throughput import flops_per_image  # noqa: E402  (bench/throughput.py's FLOP count of a training step)

CONFIGS = {"default": "configs/dcgan-fashion.yaml", "wide": "configs/dcgan-fashion-wide.yaml"}
SWEEP = [1_000, 10_000, 100_000, 1_000_000, 4_000_000]  # float32 values, beside the configs' gradient sizes
GPUS = [1, 8, 64]
PER_GPU_BATCHES = [32, 1024]
GPUS_PER_NODE = 8
EVAL_SAMPLES = 50_000

# Every figure the extrapolation assumes, with where it comes from.
ASSUMPTIONS = {
    "gpu": {"name": "NVIDIA H100 SXM", "bf16_dense_tflops": 989.4,
            "source": "NVIDIA H100 datasheet: BF16 Tensor Core 1,979 TFLOPS with 2:4 sparsity, half without "
                      "(table of theoretical peaks: glennklockwood.com/garden/processors/h100)",
            "share_of_peak": 0.25,
            "share_source": "assumption: issue 27's own goal for the default config on a GPU, not yet measured",
            "launch_us": 5.0,
            "launch_source": "assumption: a CUDA kernel launch costs ~4–6 µs of CPU-side submission "
                             "(measured in susun-blog.com/blog/pegainfer-3-cuda-graph); one launch per aten "
                             "operation of the step, none hidden behind another (no CUDA graphs)"},
    "nvlink": {"gb_per_s": 450.0,
               "source": "H100 SXM NVLink 4: 900 GB/s per GPU in both directions together (NVIDIA datasheet), "
                         "450 GB/s each way; a ring sends one way on each link"},
    "infiniband": {"gb_per_s": 50.0,
                   "source": "InfiniBand NDR, 400 Gb/s per port (ConnectX-7, docs.nvidia.com networking pages), "
                             "one port per GPU as in a DGX H100: 50 GB/s each way"},
    "nccl_latency_us": {
        "simple": {"base": 8.4, "nvlink_step": 3.4, "net_step": 9.6, "bandwidth_factor": 1.0},
        "ll": {"base": 3.6, "nvlink_step": 0.47, "net_step": 2.7, "bandwidth_factor": 0.25},
        "source": "NCCL src/graph/tuning.cc (github.com/NVIDIA/nccl, commit 01afd20): baseLat and hwLat of the "
                  "Ring algorithm for the Simple and LL protocols, µs; LL moves a quarter of the link's "
                  "bandwidth (busBw × 1/4) and, across nodes, its NVLink step latency × 1.8",
    },
    "gpus_per_node": GPUS_PER_NODE,
    "evaluation": {"samples": EVAL_SAMPLES, "every_images": 200_000,
                   "source": "StyleGAN2-ADA's defaults: metrics every 50 ticks (--snap 50) of 4 kimg each"},
}


# ---------------------------------------------------------------- measured here

def measure_allreduce(worlds: list[int], sizes: list[int], repeats: int, tmp: Path) -> dict[str, dict[str, float]]:
    """{world size: {float32 values: median ms}}, each world launched by torchrun (bench/scaling.py's worker)."""
    out = {}
    for world in worlds:
        torchrun(world, ["--worker", "allreduce", "--dir", str(tmp), "--repeats", str(repeats),
                         "--sizes", ",".join(map(str, sizes))], 1)
        times = json.loads((tmp / f"allreduce-{world}.json").read_text())
        out[str(world)] = {size: 1000 * s for size, s in times.items()}
        print(f"gloo all-reduce on {world} processes: "
              + ", ".join(f"{int(k):,} floats {v:.2f} ms" for k, v in out[str(world)].items()), flush=True)
    return out


def fit_ring(measured: dict[str, dict[str, float]]) -> dict:
    """Least squares of t = 2(N−1)·α + 2(N−1)/N · bytes/β over every measured point, in relative error."""
    rows, t, points = [], [], []
    for world, by_size in measured.items():
        n = int(world)
        for size, ms in by_size.items():
            rows.append([2 * (n - 1), 2 * (n - 1) / n * 4 * int(size)])
            t.append(ms / 1000)
            points.append((n, int(size), ms))
    # relative errors weighed alike (rows divided by the measured time): small messages count as much as large
    weight = 1 / np.array(t)
    (alpha, inv_beta), *_ = np.linalg.lstsq(np.array(rows) * weight[:, None], np.ones(len(t)), rcond=None)
    model = lambda n, size: 1000 * (2 * (n - 1) * alpha + 2 * (n - 1) / n * 4 * size * inv_beta)  # noqa: E731
    table = [{"processes": n, "floats": size, "measured_ms": ms, "model_ms": model(n, size)} for n, size, ms in points]
    return {"model": "t = 2(N-1)·alpha + 2(N-1)/N · bytes/beta", "alpha_us": 1e6 * alpha,
            "beta_gb_per_s": (1 / inv_beta / 1e9) if inv_beta > 0 else None,
            "max_relative_error": max(abs(p["model_ms"] - p["measured_ms"]) / p["measured_ms"] for p in table),
            "points": table}


class OpCounter(TorchDispatchMode):
    """Counts the aten operations run inside it: about one GPU kernel launch each."""

    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def step_cost(config: str) -> dict:
    """A training step's FLOPs per image (bench/throughput.py's count) and its aten operations (launches)."""
    from ganforge.config import load_config

    with OpCounter() as counter:
        per_image = flops_per_image(load_config(config))
    return {"mflop_per_image": per_image / 1e6, "ops_per_step": counter.ops}


@torch.no_grad()
def evaluation_cost(config: str, num: int = 1000, repeats: int = 3) -> dict:
    """One rank's generation + embedding of `num` samples on one thread (median seconds of `repeats`), their FLOPs
    and launches, measured here."""
    from torch.utils.flop_counter import FlopCounterMode

    from ganforge.config import load_config
    from ganforge.families import draw_latents, get_family
    from ganforge.metrics.frozen_evaluator import get_evaluator
    from ganforge.sampling import generate_batches
    from ganforge.scoring import embed_samples

    cfg = load_config(config)
    generator = get_family(cfg.family)(cfg, (1, 28, 28), 0).nets["G"].eval()
    scorer = get_evaluator("fashion-mnist")
    z = draw_latents(cfg, num, torch.Generator().manual_seed(0))
    embed = lambda zs: embed_samples(generate_batches(generator, zs, batch_size=500), scorer, ["fid"])  # noqa: E731
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one rank's share of this machine's cores
    try:
        embed(z[:100])  # warm-up
        seconds = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            embedded = embed(z)
            seconds.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    with FlopCounterMode(display=False) as flops, OpCounter() as ops:
        embed(z[:500])  # one batch of 500
    per_sample = statistics.median(seconds) / num
    return {"cpu_s_per_sample_one_thread": per_sample, "cpu_s_50k_one_rank": per_sample * EVAL_SAMPLES,
            "mflop_per_sample": flops.get_total_flops() / 500 / 1e6, "ops_per_500": ops.ops,
            "feature_dim": embedded.features.shape[1],
            "classes": 0 if embedded.probs is None else embedded.probs.shape[1]}


def fid_scoring_seconds(dim: int, repeats: int = 5) -> float:
    """Rank 0's FID of 50k gathered features of `dim` (their mean and covariance, then the Fréchet distance to the
    reference statistics, which a run caches), median seconds, on this machine's CPU as ganforge scores."""
    from ganforge.metrics.frechet import feature_stats, frechet_distance_from_stats

    rng = np.random.default_rng(0)
    reference = feature_stats(rng.standard_normal((EVAL_SAMPLES, dim)).astype(np.float32))
    features = rng.standard_normal((EVAL_SAMPLES, dim)).astype(np.float32)
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        frechet_distance_from_stats(*feature_stats(features), *reference)
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds)


# ---------------------------------------------------------------- extrapolated

def nccl_ring_ms(gpus: int, nbytes: float) -> float:
    """NCCL's ring all-reduce time by its own model (faster of Simple and LL): a base latency, 2(N−1) steps, those
    between nodes at the network's latency, the rest at NVLink's; the bytes at the slowest link's bandwidth."""
    if gpus <= 1:
        return 0.0
    nodes = max(1, gpus // GPUS_PER_NODE)
    steps, inter = 2 * (gpus - 1), 2 * (nodes - 1)
    link = ASSUMPTIONS["infiniband"] if nodes > 1 else ASSUMPTIONS["nvlink"]
    best = float("inf")
    for name, lat in ASSUMPTIONS["nccl_latency_us"].items():
        if name == "source":
            continue
        nvlink_step = lat["nvlink_step"] * (1.8 if nodes > 1 and name == "ll" else 1.0)
        latency_us = lat["base"] + (steps - inter) * nvlink_step + inter * lat["net_step"]
        bandwidth = link["gb_per_s"] * 1e9 * lat["bandwidth_factor"]
        best = min(best, latency_us / 1e3 + 1e3 * steps / gpus * nbytes / bandwidth)
    return best


def gpu_seconds(flops: float, launches: float) -> float:
    """A GPU's time for `flops` at the assumed share of peak, never less than its launches take."""
    gpu = ASSUMPTIONS["gpu"]
    return max(flops / (gpu["share_of_peak"] * gpu["bf16_dense_tflops"] * 1e12), launches * gpu["launch_us"] / 1e6)


def extrapolate(sizes: dict[str, int], phases: dict[str, list[str]], step: dict, evaluation: dict,
                score_s: float) -> list[dict]:
    """The table: per GPU count and per-GPU batch, compute, the all-reduce of each phase, evaluation, efficiency."""
    every = ASSUMPTIONS["evaluation"]["every_images"]
    rows = []
    for batch in PER_GPU_BATCHES:
        compute_s = gpu_seconds(step["mflop_per_image"] * 1e6 * batch, step["ops_per_step"])
        per_200k = {}
        for gpus in GPUS:
            allreduce_ms = {phase: nccl_ring_ms(gpus, 4 * sum(sizes[n] for n in nets))
                            for phase, nets in phases.items()}
            step_s = compute_s + sum(allreduce_ms.values()) / 1e3
            share = -(-EVAL_SAMPLES // gpus)
            generate_s = gpu_seconds(evaluation["mflop_per_sample"] * 1e6 * share,
                                     evaluation["ops_per_500"] * -(-share // 500))
            gathered = EVAL_SAMPLES * (evaluation["feature_dim"] + evaluation["classes"]) * 4
            gather_s = 0.0 if gpus == 1 else nccl_ring_ms(gpus, gathered) / 1e3
            eval_s = generate_s + gather_s + score_s
            train_s = every / (batch * gpus) * step_s
            per_200k[gpus] = train_s + eval_s
            rows.append({"gpus": gpus, "nodes": max(1, gpus // GPUS_PER_NODE), "per_gpu_batch": batch,
                         "compute_ms": 1e3 * compute_s, "allreduce_ms": allreduce_ms,
                         "compute_bound": compute_s > step["ops_per_step"] * ASSUMPTIONS["gpu"]["launch_us"] / 1e6,
                         "eval_s": eval_s, "eval_generate_embed_s": generate_s, "eval_gather_s": gather_s,
                         "eval_score_s": score_s, "eval_share": eval_s / (train_s + eval_s),
                         "efficiency_training": compute_s / step_s,
                         "efficiency": per_200k[1] / (gpus * per_200k[gpus])})
    return rows


def config_phases(config: str) -> dict[str, list[str]]:
    """Each phase of the config's family and the networks it updates (one all-reduce of them per phase)."""
    from ganforge.config import load_config
    from ganforge.families import get_family

    cfg = load_config(config)
    return {p.name: sorted(p.updates) for p in get_family(cfg.family)(cfg, (1, 28, 28), 0).phases()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", default="2,4,8", help="process counts to measure the gloo all-reduce on")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--note", default="", help="what the machine was doing (e.g. 'contended: shared by 4 jobs')")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "scaling_extrapolation.json"))
    args = ap.parse_args()
    worlds = [int(w) for w in args.worlds.split(",")]
    started = os.getloadavg()
    grads = {name: gradient_sizes(path) for name, path in CONFIGS.items()}
    sizes = sorted({*SWEEP, *(v for g in grads.values() for v in g.values())})
    with tempfile.TemporaryDirectory() as tmp:
        measured = measure_allreduce(worlds, sizes, args.repeats, Path(tmp))
    fit = fit_ring(measured)
    print(f"ring fit: alpha {fit['alpha_us']:.1f} µs, beta {fit['beta_gb_per_s'] or float('nan'):.2f} GB/s, "
          f"worst relative error {fit['max_relative_error']:.0%}", flush=True)
    configs, score_s = {}, None
    for name, path in CONFIGS.items():
        step, evaluation = step_cost(path), evaluation_cost(path)
        score_s = score_s or fid_scoring_seconds(evaluation["feature_dim"])  # the same evaluator for both
        rows = extrapolate(grads[name], config_phases(path), step, evaluation, score_s)
        configs[name] = {"config": path, "gradient_params": grads[name], "step": step, "evaluation": evaluation,
                         "table": rows}
        for r in rows:
            print(f"{name}: {r['gpus']:>2} GPUs × batch {r['per_gpu_batch']}: compute {r['compute_ms']:.2f} ms, "
                  f"all-reduce {sum(r['allreduce_ms'].values()):.3f} ms, eval {r['eval_share']:.1%}, "
                  f"efficiency {r['efficiency']:.2f}", flush=True)
    result = {
        "bench": "scaling_extrapolation", "command": "python bench/allreduce.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu_model": cpu_model(), "cores": os.cpu_count(), "loadavg_at_start": started,
                    "loadavg_at_end": os.getloadavg()},
        "note": args.note, "repeats": args.repeats,
        "simulated": {str(w): w > (os.cpu_count() or 1) for w in worlds},  # more processes than cores
        "allreduce_ms_measured": measured, "fit": fit, "assumptions": ASSUMPTIONS,
        "fid_scoring_s_50k": score_s,
        "gpus": GPUS, "per_gpu_batches": PER_GPU_BATCHES, "configs": configs,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
