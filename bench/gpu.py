"""Everything issue 27 asks to measure on a GPU, in one call that fits a short lease (about 8 minutes by default).

1. Throughput of the default networks (configs/dcgan-fashion.yaml: DCGAN G/D at width 32, 28×28 grey) in a plain
   training step (a D step, then a G step with the non-saturating cost) at several batch sizes, in fp32 (TF32
   matrix products allowed, as PyTorch's default on CUDA is not), bf16 autocast, fp16 autocast with a gradient
   scaler, bf16 with channels_last tensors and bf16 under torch.compile; each with its FLOPs per step
   (torch.utils.flop_counter) and the achieved TFLOP/s against the card's bf16 dense peak.
2. ganforge's own loop on the device at the default batch (img/s from its metrics), beside the plain step's.
3. The default config trained for `--seconds` (5 minutes) on the device, with its final FID (eval.final), beside
   the 2-core CPU's FID at the same budget from bench/results/quality_at_budget.json.
4. With two or more GPUs: two processes (torchrun, NCCL) train the default config for a few steps and the run's
   ranks are checked to hold the same weights.

Each part's results are written as soon as it ends (OUT/gpu-<card>.json), so a lease that runs out keeps what was
measured. `--device cpu --quick` runs every part tiny on the CPU (the test suite does, to keep the script working
until a GPU runs it).

On the lent accelerator machine (its image has PyTorch but not pydantic, and no datasets), prepare the kit here
once with `bash bench/gpu_kit.sh`, then run there, carrying `.gpu_kit`:

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu_kit/whl/*.whl && \\
    PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 python3 bench/gpu.py --data .gpu_kit/fashion-mnist --out $OUT
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganforge import fileio  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.nets import build_net  # noqa: E402

CONFIG = ROOT / "configs" / "dcgan-fashion.yaml"
CPU_REFERENCE = ROOT / "bench" / "results" / "quality_at_budget.json"
SHAPE = (1, 28, 28)
# dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from the vendors' datasheets; matched on the device's name
PEAK_BF16_TFLOPS = (("H200", 989.4), ("H100 80GB HBM3", 989.4), ("H100 SXM", 989.4), ("H100 NVL", 835.5),
                    ("H100 PCIe", 756.5), ("H100", 756.5), ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0),
                    ("A10G", 70.0), ("A10", 125.0), ("V100", 125.0), ("T4", 65.0))
VARIANTS = ("fp32", "bf16", "fp16-scaler", "bf16-channels-last", "bf16-compile")


def peak_bf16(name: str) -> float | None:
    return next((p for key, p in PEAK_BF16_TFLOPS if key.lower() in name.lower()), None)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PlainStep:
    """The default networks' training step, written plainly: a D step on a real and a fake batch, then a G step with
    the non-saturating cost (configs/dcgan-fashion.yaml's recipe) in `variant`'s precision and memory layout."""

    def __init__(self, variant: str, batch: int, device: torch.device, seed: int = 0):
        cfg = load_config(CONFIG)
        torch.manual_seed(seed)
        self.latent, self.batch, self.device = cfg.latent_dim, batch, device
        self.G = build_net(cfg.nets["G"].arch, latent_dim=cfg.latent_dim, out_shape=SHAPE, **cfg.nets["G"].args)
        self.D = build_net(cfg.nets["D"].arch, in_shape=SHAPE, **cfg.nets["D"].args)
        self.G.to(device), self.D.to(device)
        self.layout = torch.channels_last if "channels-last" in variant else torch.contiguous_format
        if self.layout is torch.channels_last:
            self.G.to(memory_format=torch.channels_last), self.D.to(memory_format=torch.channels_last)
        o = cfg.optim["G"]
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.lr, betas=tuple(o.betas))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.lr, betas=tuple(o.betas))
        dtype = torch.float16 if variant.startswith("fp16") else torch.bfloat16 if variant.startswith("bf16") else None
        self.amp = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
        self.scaler = torch.amp.GradScaler(device.type) if variant == "fp16-scaler" else None
        self.g, self.d = self.G, self.D
        if variant.endswith("compile"):
            self.g, self.d = torch.compile(self.G), torch.compile(self.D)
        self.real = (torch.rand(batch, *SHAPE, device=device) * 2 - 1).contiguous(memory_format=self.layout)
        self.ones, self.zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)

    def _backward_step(self, loss: torch.Tensor, opt) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            opt.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()

    def __call__(self) -> torch.Tensor:
        z = lambda: torch.randn(self.batch, self.latent, device=self.device)  # noqa: E731
        with self.amp():
            with torch.no_grad():
                fake = self.g(z())
            loss_d = (F.binary_cross_entropy_with_logits(self.d(self.real).float().flatten(), self.ones)
                      + F.binary_cross_entropy_with_logits(self.d(fake).float().flatten(), self.zeros))
        self._backward_step(loss_d, self.opt_d)
        self.D.requires_grad_(False)
        with self.amp():
            loss_g = F.binary_cross_entropy_with_logits(self.d(self.g(z())).float().flatten(), self.ones)
        self._backward_step(loss_g, self.opt_g)
        self.D.requires_grad_(True)
        return loss_g


def flops_per_step(step: PlainStep) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def time_step(step: PlainStep, warmup: int, min_steps: int, min_seconds: float) -> dict:
    """Seconds per step: `warmup` untimed steps (compilation, cuDNN autotuning), then at least `min_steps` and
    `min_seconds` of timed ones, the device synchronised around them."""
    for _ in range(warmup):
        step()
    sync(step.device)
    n, t0 = 0, time.perf_counter()
    while n < min_steps or time.perf_counter() - t0 < min_seconds:
        loss = step()
        n += 1
    sync(step.device)
    seconds = (time.perf_counter() - t0) / n
    if not torch.isfinite(loss).item():
        raise RuntimeError(f"non-finite loss after {n} steps")
    return {"steps": n, "ms_per_step": seconds * 1e3, "img_per_s": step.batch / seconds}


def throughput(device: torch.device, batches, variants, quick: bool, peak: float | None) -> list[dict]:
    rows = []
    for batch in batches:
        flops = flops_per_step(PlainStep("fp32", batch, device))
        for variant in variants:
            t0 = time.perf_counter()
            try:
                step = PlainStep(variant, batch, device)
                r = time_step(step, warmup=1 if quick else 10, min_steps=2 if quick else 20,
                              min_seconds=0.0 if quick else 2.0)
            except Exception as e:  # one variant failing (a compile error, say) must not cost the others
                rows.append({"batch": batch, "variant": variant, "error": f"{type(e).__name__}: {e}"[:500]})
                print(f"  batch {batch} {variant}: FAILED {rows[-1]['error']}", flush=True)
                continue
            tflops = flops / (r["ms_per_step"] / 1e3) / 1e12
            rows.append({"batch": batch, "variant": variant, **r, "flops_per_step": flops,
                         "achieved_tflops": tflops, "share_of_bf16_peak": tflops / peak if peak else None,
                         "seconds_with_warmup": time.perf_counter() - t0})
            print(f"  batch {batch:5d} {variant:20s} {r['img_per_s']:12,.0f} img/s  {r['ms_per_step']:8.3f} ms/step  "
                  f"{tflops:8.3f} TFLOP/s" + (f"  {tflops / peak:.2%} of peak" if peak else ""), flush=True)
    return rows


def ganforge_loop(device: torch.device, steps: int, data: str | None) -> dict:
    """ganforge's loop on the device, the default config: img/s of the steps after the first log window."""
    from ganforge.rundir import read_metrics
    from ganforge.train.loop import train

    every = max(steps // 4, 1)
    cfg = load_config(CONFIG, [f"train.steps={steps}", f"train.device={device.type}", f"log.every={every}",
                               "log.progress=false", "log.tensorboard=false", "log.sample_every=1000000000",
                               "checkpoint.every=1000000000", "eval.final=false"]
                      + ([f"data.path={data}"] if data else []))
    with tempfile.TemporaryDirectory(prefix="ganforge-gpu-") as tmp:
        train(cfg, out=Path(tmp) / "run")
        records = read_metrics(Path(tmp) / "run")
    timed = [r for r in records[1:] if "img_per_s" in r]
    wall = sum(every * cfg.train.batch_size / r["img_per_s"] for r in timed)
    return {"steps": steps, "batch": cfg.train.batch_size,
            "img_per_s": len(timed) * every * cfg.train.batch_size / wall if wall else None}


def timed_run(device: torch.device, seconds: float, data: str | None, out: Path, num_eval: int | None) -> dict:
    """`ganforge train dcgan-fashion` for `seconds` on the device, with its final evaluation."""
    run = out / "timed-run"
    shutil.rmtree(run, ignore_errors=True)
    cmd = [sys.executable, "-m", "ganforge", "train", str(CONFIG), "--out", str(run),
           f"train.device={device.type}", f"train.time_budget={seconds}", "log.progress=false",
           "log.tensorboard=false"] + ([f"data.path={data}"] if data else []) \
        + ([f"eval.final_num={num_eval}"] if num_eval else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    result = {"command": " ".join(cmd[1:]), "rc": proc.returncode, "wall_s": time.perf_counter() - t0}
    if proc.returncode != 0:
        return result | {"stderr": proc.stderr[-2000:]}
    ev = json.loads((run / "eval.json").read_text())
    result |= {"steps": ev.get("provenance", {}).get("run", {}).get("step"), "fid": ev.get("fid"), "kid": ev.get("kid"),
               "precision": ev.get("precision"), "recall": ev.get("recall"), "num_samples":
               ev.get("provenance", {}).get("num_samples")}
    if CPU_REFERENCE.is_file():
        ref = json.loads(CPU_REFERENCE.read_text())
        row = next((v["median"] for k, v in ref["rows"].items() if k.startswith("ganforge")), None)
        if row and ref.get("seconds") == seconds:
            result["cpu_reference"] = {"fid": row["fid"], "steps": row["steps"], "seconds": ref["seconds"],
                                       "machine": ref["machine"], "source": str(CPU_REFERENCE.relative_to(ROOT))}
    return result


def two_processes(data: str | None, out: Path, steps: int) -> dict:
    """torchrun, 2 processes on 2 GPUs (NCCL): train a few steps; the checkpoint's G must be the same on both
    ranks, which the run itself checks when it saves (ganforge.train.ranks)."""
    run = out / "two-gpu-run"
    shutil.rmtree(run, ignore_errors=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "ganforge",
           "train", str(CONFIG), "--out", str(run), "--steps", str(steps), "train.device=cuda", "log.progress=false",
           "eval.final=false"] + ([f"data.path={data}"] if data else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    return {"command": " ".join(cmd[1:]), "rc": proc.returncode, "stderr_tail": proc.stderr[-1500:]}


def describe(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "date": dt.datetime.now(dt.timezone.utc).isoformat()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info |= {"name": p.name, "multiprocessors": p.multi_processor_count,
                 "memory_gib": round(p.total_memory / 2**30, 1), "capability": f"{p.major}.{p.minor}",
                 "cuda": torch.version.cuda, "gpus": torch.cuda.device_count()}
    else:
        info["name"] = "cpu"
    return info


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (a smoke run)")
    p.add_argument("--data", default=None, help="the Fashion-MNIST folder (idx .gz files), if not where ganforge "
                                                "looks by default")
    p.add_argument("--seconds", type=float, default=300.0, help="the timed run's budget (the issue's: 5 minutes)")
    p.add_argument("--batches", default="32,256,2048", help="batch sizes of the throughput part")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--parts", default="throughput,loop,timed,two", help="which parts to run, in that order")
    p.add_argument("--quick", action="store_true", help="tiny everything (a smoke run on the CPU)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            p.error("no CUDA device here (use --device cpu for a smoke run)")
        torch.backends.cuda.matmul.allow_tf32 = True  # what fp32 training on a GPU should use; recorded below
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    info = describe(device)
    peak = peak_bf16(info["name"]) if device.type == "cuda" else None
    slug = re.sub(r"[^a-z0-9]+", "-", info["name"].lower()).strip("-")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gpu-{slug}.json"
    result = {"bench": "gpu", "command": "python bench/gpu.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": info, "bf16_peak_tflops": peak, "tf32": device.type == "cuda", "config": "configs/dcgan-fashion.yaml",
              "quick": args.quick}

    def save() -> None:
        fileio.atomic_write(path, json.dumps(result, indent=1) + "\n")

    parts = args.parts.split(",")
    print(json.dumps(info), flush=True)
    if "throughput" in parts:
        batches = [8] if args.quick else [int(b) for b in args.batches.split(",")]
        variants = [v for v in args.variants.split(",") if device.type == "cuda" or v != "bf16-compile" or not args.quick]
        result["throughput"] = throughput(device, batches, variants, args.quick, peak)
        save()
    if "loop" in parts:
        result["ganforge_loop"] = ganforge_loop(device, 8 if args.quick else 400, args.data)
        print(f"ganforge loop: {result['ganforge_loop']}", flush=True)
        save()
    if "timed" in parts:
        result["timed_run"] = timed_run(device, 5.0 if args.quick else args.seconds, args.data, args.out,
                                        500 if args.quick else None)
        print(f"timed run: {json.dumps({k: v for k, v in result['timed_run'].items() if k != 'stderr'})}", flush=True)
        save()
    if "two" in parts and device.type == "cuda" and torch.cuda.device_count() >= 2:
        result["two_gpus"] = two_processes(args.data, args.out, 50)
        save()
    print(json.dumps({"json": str(path), "parts": [k for k in ("throughput", "ganforge_loop", "timed_run", "two_gpus")
                                                   if k in result]}))
    return result


if __name__ == "__main__":
    main()
