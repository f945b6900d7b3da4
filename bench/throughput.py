"""Training throughput of the default DCGAN: ganforge's loop vs a hand-written PyTorch loop, fp32 and bf16.

The model is configs/dcgan-fashion-paper.yaml (the DCGAN recipe the plain loop trains; the default until 2026-12-02): DCGAN G/D (base width from the config, or --base) on Fashion-MNIST 28×28, batch 64,
Adam(2e-4, β 0.5/0.999) for both, non-saturating generator cost, one D step per G step.

Variants (interleaved in rounds, the order rotating each round so slow drift hits all of them alike):
  plain-fp32     hand-written loop, the networks built with ganforge.nets.build_net, same data tensor
  ganforge-fp32  ganforge.train.train(cfg) on the same config
  plain-bf16     the plain loop with forwards + losses under torch.autocast("cpu", dtype=torch.bfloat16)
  ganforge-bf16  ganforge with train.bf16=true (autocast around the same region)
  plain-lean-fp32  (only with --with-lean) the plain loop doing what ganforge's loop does: the fake batch
                 of the D step made under no_grad instead of .detach(), and D frozen (requires_grad_(False))
                 during the G step, so no D weight gradients are computed there. Separates "less work"
                 from "loop overhead" when reading the ganforge/plain ratio.

Timing (images/s = timed steps × batch / wall seconds of those steps):
  * Every measurement starts from freshly built networks and optimisers (ganforge's train() does that
    anyway), runs `warmup` untimed steps (first-call oneDNN primitive creation, allocator growth), then
    `steps` timed steps.
  * plain: time.perf_counter() around the timed steps only.
  * ganforge: train() also loads the dataset, builds the family, writes run.json/config.yaml and, at the
    end, a checkpoint and a sample grid; none of that may be timed. So the run is configured with
    train.steps = warmup + steps and log.every = warmup: the loop then writes a metrics.jsonl record at step
    `warmup` and every `warmup` steps after, the last one at the final step. Each record's img_per_s is
    window_steps × batch / wall seconds since the previous record, measured with perf_counter inside the
    loop, so summing window_steps × batch / img_per_s over all records after the first gives the wall time
    of exactly the timed steps, including the loop's own per-step bookkeeping (requires_grad toggles,
    progress-bar call, the metrics records themselves). The loop's `elapsed_s` (the sum of per-step times,
    excluding bookkeeping between steps) is recorded as well, as a cross-check.
    Grids and checkpoints are pushed out with log.sample_every / checkpoint.every = 10^9, TensorBoard and
    the progress bar are off.
  * The dataset is loaded once for the plain loop (ganforge.data.load_dataset("fashion-mnist")); ganforge
    loads it itself inside train(), outside the timed window. Both see the same [-1, 1] float tensor.
  * torch.set_num_threads(os.cpu_count()) for the whole process, and train.threads set to the same.

Interference: for every measurement the CPU time the rest of the machine used during it (from /proc/stat,
minus this process's own CPU time) is recorded as `foreign_cpu_frac` (0 = machine to ourselves, 1 = another
fully busy machine's worth of cores).

Usage: python bench/throughput.py [--repeats 3] [--steps 60] [--bf16-steps 2] [--quick] [--with-lean]
Defaults take ~5–6 minutes on an otherwise idle 2-core AVX2 machine (fp32 ≈ 0.4 s/step, bf16 ≈ 9 s/step there).
The last stdout line is one JSON object; the same results go to bench/results/throughput.json.
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
from pathlib import Path

import torch

import ganforge
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.rundir import read_metrics
from ganforge.train.loop import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plain_dcgan import BATCH, BETAS, LATENT, LR, SHAPE, PlainDCGAN  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "dcgan-fashion-paper.yaml"  # the plain loop's recipe (bench/plain_dcgan.py)
RESULTS = ROOT / "bench" / "results" / "throughput.json"
HUGE = 10**9

# the plain loop's settings (bench/plain_dcgan.py); the script checks the default config still matches them
BASE: int | None = None  # network width: the config's unless --base is given (set in main)


# ---- interference ---------------------------------------------------------------------------------------------
def _machine_busy_s() -> float | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...; busy = all but idle and iowait
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class Interference:
    def __enter__(self):
        self.m0, self.o0, self.t0 = _machine_busy_s(), _own_cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        m1 = _machine_busy_s()
        if self.m0 is None or m1 is None:
            self.foreign_frac = None
        else:
            foreign = max(0.0, (m1 - self.m0) - (_own_cpu_s() - self.o0))
            self.foreign_frac = foreign / max(wall * (os.cpu_count() or 1), 1e-9)
        return False


# ---- the plain PyTorch loop -----------------------------------------------------------------------------------
def plain_measure(x_all: torch.Tensor, warmup: int, steps: int, bf16: bool, lean: bool, seed: int) -> dict:
    loop = PlainDCGAN(x_all, BASE, bf16=bf16, lean=lean, seed=seed)
    step = loop.step

    for _ in range(warmup):
        step()
    with Interference() as intf:
        t0 = time.perf_counter()
        for _ in range(steps):
            loss_d, loss_g = step()
        wall = time.perf_counter() - t0
    losses = (loss_d.item(), loss_g.item())  # outside the timed window
    if not all(v == v for v in losses):
        raise RuntimeError(f"plain loop produced NaN losses {losses}")
    return {"img_per_s": steps * BATCH / wall, "wall_s": wall, "foreign_cpu_frac": intf.foreign_frac}


# ---- ganforge ---------------------------------------------------------------------------------------------------
def ganforge_config(warmup: int, steps: int, bf16: bool, threads: int):
    width = [f"nets.G.args.base={BASE}", f"nets.D.args.base={BASE}"] if BASE else []
    return load_config(CONFIG, width + [
        f"train.steps={warmup + steps}", f"train.bf16={'true' if bf16 else 'false'}", f"train.threads={threads}",
        "train.device=cpu", f"log.every={warmup}", "log.progress=false", "log.tensorboard=false",
        f"log.sample_every={HUGE}", f"checkpoint.every={HUGE}", "checkpoint.keep=1",
    ])


def ganforge_measure(warmup: int, steps: int, bf16: bool, threads: int) -> dict:
    cfg = ganforge_config(warmup, steps, bf16, threads)
    with tempfile.TemporaryDirectory(prefix="ganforge-bench-") as tmp, Interference() as intf:
        train(cfg, out=Path(tmp) / "run")
        records = read_metrics(Path(tmp) / "run")
    # records at steps warmup, 2·warmup, ..., warmup+steps; the first closes the untimed warm-up window
    if not records or records[0]["step"] != warmup or records[-1]["step"] != warmup + steps:
        raise RuntimeError(f"unexpected metrics.jsonl steps: {[r['step'] for r in records]}")
    wall, prev = 0.0, warmup
    for r in records[1:]:
        wall += (r["step"] - prev) * cfg.train.batch_size / r["img_per_s"]
        prev = r["step"]
    elapsed = records[-1]["elapsed_s"] - records[0]["elapsed_s"]
    return {"img_per_s": steps * cfg.train.batch_size / wall, "wall_s": wall,
            "img_per_s_from_elapsed": steps * cfg.train.batch_size / elapsed,
            # whole train() call, incl. data load, set-up, final checkpoint and grid: so the timed window
            # is a measurement share, not the whole interference sample
            "foreign_cpu_frac": intf.foreign_frac}


# ---- the hardware's limit -------------------------------------------------------------------------------------------
def gemm_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 3) -> float:
    """The machine's matrix-multiply rate in `dtype` (median of `repeats` n×n×n products after one warm-up): the
    ceiling a training step made of GEMMs and convolutions can approach."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def flops_per_image(cfg) -> float:
    """FLOPs of one training step of `cfg`'s family per image of the batch: every phase's forward and backward as
    the loop runs them (networks a phase does not train get no weight gradients), counted by
    torch.utils.flop_counter (matrix products and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    from ganforge.families import Batch, get_family

    family = get_family(cfg.family)(cfg, SHAPE, 0)
    batch = Batch(BATCH, {"x": torch.rand(BATCH, *SHAPE) * 2 - 1})
    with FlopCounterMode(display=False) as counter:
        for phase in family.phases():
            for name, net in family.nets.items():
                net.requires_grad_(name in phase.updates)
            for _ in range(phase.repeat):
                sum(getattr(family, phase.name)(batch).values()).backward()
    return counter.get_total_flops() / BATCH


def hardware(threads: int) -> dict:
    from ganforge.train.precision import cpu_flags, cpu_has_native_bf16

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    native = cpu_has_native_bf16()
    return {"cpu_model": model, "native_bf16": native, "threads": threads,
            "isa": sorted(f for f in cpu_flags() if f.startswith(("avx512", "amx")) or f in ("avx2", "fma")),
            "gemm_gflops_fp32": gemm_gflops(torch.float32),
            # emulated bf16 is ~15x slower: a smaller product says the same in a fraction of the time
            "gemm_gflops_bf16": gemm_gflops(torch.bfloat16, n=2048 if native else 1024)}


# ---- protocol -----------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="measurements per variant (rounds)")
    p.add_argument("--steps", type=int, default=60, help="timed steps per fp32 measurement")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before each fp32 measurement")
    p.add_argument("--bf16-steps", type=int, default=2, help="timed steps per bf16 measurement")
    p.add_argument("--bf16-warmup", type=int, default=1, help="untimed steps before each bf16 measurement")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16 variants")
    p.add_argument("--with-lean", action="store_true", help="add the plain-lean-fp32 variant (see docstring)")
    p.add_argument("--quick", action="store_true", help="smoke test: 1 repeat, 2 steps, 1 warm-up")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--base", type=int, help="network width of G and D (default: the config's)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    global BASE
    BASE = args.base or load_config(CONFIG).nets["G"].args["base"]
    if args.quick:
        args.repeats, args.steps, args.warmup, args.bf16_steps, args.bf16_warmup = 1, 2, 1, 1, 1
    if min(args.repeats, args.steps, args.warmup, args.bf16_steps, args.bf16_warmup) < 1:
        p.error("--repeats, --steps, --warmup, --bf16-steps and --bf16-warmup must be ≥ 1")

    torch.set_num_threads(args.threads)
    cfg = ganforge_config(1, 1, False, args.threads)
    want = (cfg.train.batch_size, cfg.latent_dim, cfg.nets["G"].args.get("base"), cfg.nets["D"].args.get("base"),
            cfg.optim["G"].lr, tuple(cfg.optim["G"].betas), cfg.optim["D"].lr, tuple(cfg.optim["D"].betas),
            cfg.objective.get("generator_cost"), cfg.objective.get("d_steps"), cfg.family)
    have = (BATCH, LATENT, BASE, BASE, LR, BETAS, LR, BETAS, "non_saturating", 1, "gan")
    if want != have:
        sys.exit(f"{CONFIG} no longer matches the plain loop's settings: config {want} vs plain {have}")

    t_load = time.perf_counter()
    data = load_dataset("fashion-mnist")
    load_s = time.perf_counter() - t_load
    if tuple(data.shape) != SHAPE:
        sys.exit(f"fashion-mnist has shape {data.shape}, expected {SHAPE}")
    x_all = data.x

    limit = hardware(args.threads)
    per_image = flops_per_image(cfg)
    print(f"{limit['cpu_model'] or 'CPU'} ({', '.join(limit['isa'])}; native bf16: {limit['native_bf16']}), "
          f"{args.threads} thread(s): GEMM {limit['gemm_gflops_fp32']:.0f} GFLOP/s fp32, "
          f"{limit['gemm_gflops_bf16']:.0f} GFLOP/s bf16; the step costs {per_image / 1e6:.0f} MFLOP per image", flush=True)

    variants: dict[str, callable] = {}
    fp32 = (args.warmup, args.steps)
    bf = (args.bf16_warmup, args.bf16_steps)
    variants["plain-fp32"] = lambda i: plain_measure(x_all, *fp32, bf16=False, lean=False, seed=i)
    variants["ganforge-fp32"] = lambda i: ganforge_measure(*fp32, bf16=False, threads=args.threads)
    if args.with_lean:
        variants["plain-lean-fp32"] = lambda i: plain_measure(x_all, *fp32, bf16=False, lean=True, seed=i)
    if not args.no_bf16:
        variants["plain-bf16"] = lambda i: plain_measure(x_all, *bf, bf16=True, lean=False, seed=i)
        variants["ganforge-bf16"] = lambda i: ganforge_measure(*bf, bf16=True, threads=args.threads)

    names = list(variants)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    for r in range(args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            m = variants[n](r)
            m["round"] = r
            runs[n].append(m)
            ff = m["foreign_cpu_frac"]
            print(f"  round {r + 1}/{args.repeats} {n:16s} {m['img_per_s']:8.2f} img/s  "
                  f"({m['wall_s']:.1f} s timed, foreign cpu {'n/a' if ff is None else f'{ff:.0%}'})", flush=True)
    total_s = time.perf_counter() - t_start

    med = {n: statistics.median(m["img_per_s"] for m in runs[n]) for n in names}
    ratios = {"ganforge/plain fp32": med["ganforge-fp32"] / med["plain-fp32"]}
    if "plain-lean-fp32" in med:
        ratios["ganforge/plain-lean fp32"] = med["ganforge-fp32"] / med["plain-lean-fp32"]
    if "plain-bf16" in med:
        ratios["ganforge/plain bf16"] = med["ganforge-bf16"] / med["plain-bf16"]
        ratios["plain bf16/fp32"] = med["plain-bf16"] / med["plain-fp32"]
        ratios["ganforge bf16/fp32"] = med["ganforge-bf16"] / med["ganforge-fp32"]
    foreign = [m["foreign_cpu_frac"] for ms in runs.values() for m in ms if m["foreign_cpu_frac"] is not None]

    print()
    print(f"{'variant':16s} {'median img/s':>12s} {'min':>8s} {'max':>8s}  n  timed steps")
    for n in names:
        v = [m["img_per_s"] for m in runs[n]]
        st = args.bf16_steps if "bf16" in n else args.steps
        print(f"{n:16s} {med[n]:12.2f} {min(v):8.2f} {max(v):8.2f} {len(v):2d}  {st}")
    print()
    for k, v in ratios.items():
        extra = f"   (target ≥ 0.95: {'met' if v >= 0.95 else 'NOT met'})" if k == "ganforge/plain fp32" else ""
        print(f"{k:26s} {v:6.3f}×{extra}")
    if foreign:
        print(f"\nother processes' CPU use during measurements: median {statistics.median(foreign):.0%}, "
              f"max {max(foreign):.0%} of the machine (load average at start {load_start[0]:.2f})")
        busy = sum(f > 0.1 for f in foreign)
        if busy:
            print(f"WARNING: {busy} of {len(foreign)} measurements ran while other processes used > 10% of the CPU; "
                  "2-thread CPU training slows down sharply when it shares cores, so treat those as unreliable")
    achieved = {n: med[n] * per_image / 1e9 for n in names}
    print()
    for n in names:
        peak = limit["gemm_gflops_bf16" if "bf16" in n else "gemm_gflops_fp32"]
        print(f"{n:16s} {achieved[n]:7.1f} GFLOP/s achieved = {achieved[n] / peak:5.1%} of the "
              f"{'bf16' if 'bf16' in n else 'fp32'} GEMM peak ({peak:.0f})")
    print(f"total benchmark time {total_s:.0f} s")

    result = {
        "benchmark": "throughput",
        "command": " ".join([Path(sys.executable).name, *sys.argv]) if argv is None else " ".join(argv),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "processor": platform.processor(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
                    "loadavg_at_start": load_start},
        "ganforge": ganforge.__version__,
        "model": {"config": str(CONFIG.relative_to(ROOT)), "batch": BATCH, "latent_dim": LATENT, "base": BASE,
                  "image": list(SHAPE)},
        "protocol": {"repeats": args.repeats, "fp32": {"warmup": args.warmup, "steps": args.steps},
                     "bf16": None if args.no_bf16 else {"warmup": args.bf16_warmup, "steps": args.bf16_steps},
                     "order": "interleaved rounds, start rotating each round", "quick": args.quick},
        "dataset_load_s": load_s,
        "hardware": limit,
        "mflop_per_image": per_image / 1e6,
        "achieved_gflops": achieved,
        "fraction_of_gemm_peak": {n: achieved[n] / limit["gemm_gflops_bf16" if "bf16" in n else "gemm_gflops_fp32"]
                                  for n in names},
        "variants": {n: {"median_img_per_s": med[n], "measurements": runs[n]} for n in names},
        "ratios": ratios,
        "foreign_cpu_frac": {"median": statistics.median(foreign), "max": max(foreign)} if foreign else None,
        "total_s": total_s,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
