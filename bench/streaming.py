"""Streaming from tar shards (ganforge.data.shards) vs indexing an in-memory uint8 tensor.

Data: a 100 000-image 64×64 RGB set derived from Fashion-MNIST train (image i is train image i mod 60 000,
upscaled bilinearly to 64×64 and multiplied by a per-image colour drawn from PCG64 seeded 0, so repeats differ),
10 classes. It is built under --work (default /tmp/ganforge-stream-bench; never inside the repository),
packed once with pack_array (timed), then reused by later runs.

Measured, each in a fresh process so one measurement's memory cannot inflate another's:
  * stream-wN: ShardStream(batch 64, seed 0, num_workers N) for N = 0, 1, 2: `warmup` untimed batches, then
    `batches` timed ones (default: one epoch), each converted to float in [-1, 1] (to_unit). examples/s =
    timed batches × 64 / wall seconds. Peak RSS = VmHWM of the main process and of each DataLoader worker,
    read from /proc just before the stream is closed.
  * memory: the same uint8 set as one tensor, batches by a seeded permutation (as BatchSampler does), the
    same float conversion; its VmHWM includes the 1.2 GB tensor.

Usage: python bench/streaming.py [--work DIR] [--num 100000] [--batches N] [--workers 0,1,2]
Writes bench/results/streaming.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BATCH = 64


def vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def derive(num: int):
    """uint8 (num, 3, 64, 64) images and int64 labels, the same on every call."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from ganforge.data.idx import read_idx_pair
    from ganforge.data.lookup import find_files

    images, labels = read_idx_pair(*find_files("fashion-mnist", "train"))
    colour = torch.from_numpy(np.random.default_rng(0).uniform(0.25, 1.0, (num, 3, 1, 1)).astype(np.float32))
    x = np.empty((num, 3, 64, 64), dtype=np.uint8)
    for lo in range(0, num, 5000):
        hi = min(num, lo + 5000)
        grey = torch.from_numpy(images[np.arange(lo, hi) % len(images)].astype(np.float32)).unsqueeze(1)
        big = F.interpolate(grey, size=(64, 64), mode="bilinear", align_corners=False)
        x[lo:hi] = (big * colour[lo:hi]).round_().clamp_(0, 255).to(torch.uint8).numpy()
    return x, labels[np.arange(num) % len(labels)].astype(np.int64)


def build(work: Path, num: int) -> dict:
    from ganforge.data.shards import pack_array, read_manifest

    root = work / f"fmnist-rgb64-{num}"
    if (root / "manifest.json").exists():
        return {"root": str(root), "pack_seconds": None, "reused": True, **summary(read_manifest(root))}
    t = time.perf_counter()
    x, y = derive(num)
    derive_s = time.perf_counter() - t
    t = time.perf_counter()
    m = pack_array(x, root, labels=y, class_names=[str(i) for i in range(10)], source="bench/streaming.py derive()")
    return {"root": str(root), "derive_seconds": round(derive_s, 1), "pack_seconds": round(time.perf_counter() - t, 1),
            "reused": False, **summary(m)}


def summary(m: dict) -> dict:
    return {"examples": m["num_examples"], "shards": len(m["shards"]),
            "bytes": sum(s["bytes"] for s in m["shards"]), "shape": m["shape"]}


def measure_stream(root: str, workers: int, warmup: int, batches: int) -> dict:
    import torch

    from ganforge.data.shards import ShardStream, to_unit

    torch.set_num_threads(1)
    stream = ShardStream(root, BATCH, seed=0, num_workers=workers)
    for _ in range(warmup):
        to_unit(next(stream)["x"])
    t = time.perf_counter()
    for _ in range(batches):
        b = next(stream)
        to_unit(b["x"])
    seconds = time.perf_counter() - t
    result = {"examples_per_s": round(batches * BATCH / seconds), "seconds": round(seconds, 2),
              "peak_rss_mb_main": round(vm_hwm_mb()), "peak_rss_mb_workers": [round(vm_hwm_mb(c)) for c in children(os.getpid())]}
    stream.close()
    return result


def measure_memory(num: int, warmup: int, batches: int) -> dict:
    import torch

    torch.set_num_threads(1)
    x, y = derive(num)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(0)
    order, pos = torch.randperm(num, generator=g), 0

    def batch():
        nonlocal order, pos
        if pos + BATCH > num:
            order, pos = torch.randperm(num, generator=g), 0
        idx = order[pos:pos + BATCH]
        pos += BATCH
        return (x[idx].float().div_(127.5).sub_(1.0), y[idx])

    for _ in range(warmup):
        batch()
    t = time.perf_counter()
    for _ in range(batches):
        batch()
    seconds = time.perf_counter() - t
    return {"examples_per_s": round(batches * BATCH / seconds), "seconds": round(seconds, 2),
            "peak_rss_mb_main": round(vm_hwm_mb())}


def in_child(*args: str) -> dict:
    """Run one measurement in a fresh interpreter; its last stdout line is the JSON result."""
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_report(path: str, name: str, script: str, **fields) -> None:
    """bench/results/<name>.json: the command that made it, the date and the machine, then the results."""
    import torch

    report = {
        "benchmark": name,
        "command": "python " + " ".join([os.path.relpath(script, REPO), *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "loadavg_at_end": list(os.getloadavg())},
        **fields,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")


def cpu_model() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Model name")), "")
    except OSError:
        return platform.processor()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default="/tmp/ganforge-stream-bench")
    p.add_argument("--num", type=int, default=100_000)
    p.add_argument("--batches", type=int, help="timed batches (default: one epoch)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "streaming.json"))
    p.add_argument("--measure", help=argparse.SUPPRESS)  # internal: run one measurement in this process
    p.add_argument("--root", help=argparse.SUPPRESS)
    a = p.parse_args()
    batches = a.batches or a.num // BATCH
    if a.measure:
        r = measure_memory(a.num, a.warmup, batches) if a.measure == "memory" else \
            measure_stream(a.root, int(a.measure), a.warmup, batches)
        print(json.dumps(r))
        return
    work = Path(a.work).resolve()
    if work.is_relative_to(REPO):
        sys.exit(f"--work {work}: inside the repository; choose a folder elsewhere (default /tmp/ganforge-stream-bench)")
    import torch

    data = build(work, a.num)
    print(f"data: {data}", flush=True)
    results = {}
    common = ["--num", str(a.num), "--batches", str(batches), "--warmup", str(a.warmup)]
    for w in [int(s) for s in a.workers.split(",")]:
        results[f"stream-w{w}"] = in_child("--measure", str(w), "--root", data["root"], *common)
        print(f"stream-w{w}: {results[f'stream-w{w}']}", flush=True)
    results["memory"] = in_child("--measure", "memory", *common)
    print(f"memory: {results['memory']}", flush=True)
    write_report(a.out, "streaming", __file__, batch_size=BATCH, timed_batches=batches, warmup_batches=a.warmup,
                 data=data, results=results)


if __name__ == "__main__":
    main()
