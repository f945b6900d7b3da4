"""Wall time of ganforge.metrics on benchmark-sized inputs.

Part 1: FID, KID (100 subsets of 1,000) and precision/recall (k=3) on two 10,000 x 128 sets of
random float32 features (target: all three together <= 20 s on a 2-core machine).
Part 2: Parzen log-likelihood with 10,000 window samples and 10,000 test points of dimension 784
(one sigma), and a 10-sigma selection on 1,000 validation points (target: < 60 s).

Every metric is timed once with time.perf_counter() after a small untimed warm-up call (first-call
BLAS/oneDNN set-up); inputs are generated before timing. torch uses os.cpu_count() threads.

Usage: python bench/metrics_speed.py [--n 10000] [--dim 128] [--parzen-dim 784] [--skip-parzen]
The last stdout line is one JSON object; the same results go to bench/results/metrics_speed.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ganforge import metrics as M


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "loadavg_at_start": list(os.getloadavg())}


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--parzen-dim", type=int, default=784)
    ap.add_argument("--parzen-valid", type=int, default=1_000)
    ap.add_argument("--skip-parzen", action="store_true")
    ap.add_argument("--out", default="bench/results/metrics_speed.json")
    args = ap.parse_args()

    torch.set_num_threads(os.cpu_count() or 1)
    info = {"command": " ".join([sys.executable.split("/")[-1]] + sys.argv),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(), "sizes": vars(args).copy(), "seconds": {}, "values": {}}
    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    b = (rng.standard_normal((args.n, args.dim), dtype=np.float32) * 1.1 + 0.05).astype(np.float32)

    # warm-up on small slices so one-time library set-up is not charged to the first metric
    M.frechet_distance(a[:500], b[:500]); M.kid(a[:500], b[:500], subsets=2, subset_size=200)
    M.precision_recall(a[:500], b[:500])

    runs = {
        "fid": lambda: M.frechet_distance(a, b),
        "kid": lambda: M.kid(a, b, subsets=100, subset_size=1000),
        "precision_recall": lambda: M.precision_recall(a, b, k=3),
    }
    for name, fn in runs.items():
        sec, val = timed(fn)
        info["seconds"][name] = round(sec, 3)
        info["values"][name] = val
        print(f"{name:18s} {sec:8.2f} s   {val}", flush=True)
    info["seconds"]["fid+kid+pr"] = round(sum(info["seconds"][k] for k in runs), 3)
    print(f"{'fid+kid+pr':18s} {info['seconds']['fid+kid+pr']:8.2f} s   (target <= 20 s)", flush=True)

    if not args.skip_parzen:
        del a, b
        s = rng.uniform(0, 1, (args.n, args.parzen_dim)).astype(np.float32)
        x = rng.uniform(0, 1, (args.n, args.parzen_dim)).astype(np.float32)
        v = x[: args.parzen_valid]
        M.parzen_log_likelihood(s[:200], x[:200], 0.2)
        sec, val = timed(lambda: M.parzen_log_likelihood(s, x, 0.2))
        info["seconds"]["parzen"] = round(sec, 3)
        info["values"]["parzen"] = val
        print(f"{'parzen':18s} {sec:8.2f} s   {val}   (target < 60 s)", flush=True)
        sec, val = timed(lambda: M.parzen_select_sigma(s, v))
        info["seconds"]["parzen_select_sigma"] = round(sec, 3)
        info["values"]["parzen_select_sigma"] = val
        print(f"{'parzen_select_sig':18s} {sec:8.2f} s   {val}  ({args.parzen_valid} validation points, 10 sigmas)",
              flush=True)

    info["machine"]["loadavg_at_end"] = list(os.getloadavg())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))


if __name__ == "__main__":
    main()
