"""Training through the streaming path (data.name=shards) vs the in-memory path, on the same 100k 64×64 RGB set.

Data: the set bench/streaming.py derives and packs (100 000 Fashion-MNIST train images upscaled to 64×64 RGB
with a per-image colour, 10 classes), under --work (default /tmp/ganforge-stream-bench; never in the repo);
built on first use, reused after.

Model: configs/dcgan-fashion-paper.yaml (DCGAN G and D, base width 64, batch 64, Adam 2e-4) at data.image_size=64,
data.channels=3 (the DCGAN nets start from 4×4 and double four times to 64 px), evaluation and tensorboard off.

Measured, each in a fresh process so one variant's memory cannot inflate another's:
  * stream-wN: `ganforge.train.train` with data.name=shards data.workers=N (N = 0, 2);
  * memory: the same train() on the same images held as one in-memory uint8 `Dataset` (built in the process by
    bench/streaming.py's derive(), then handed to the loop in place of build_data), as any in-memory dataset.
img/s = batch × steps after the first logging window (a third of the steps) / the loop's own seconds for them (elapsed_s of the
metrics log: batches, forward, backward and updates; not start-up, grids or checkpoints). Peak RSS = VmHWM of
the main process at the end and of each DataLoader worker, polled every 0.2 s while it lives.

Usage: python bench/streaming_train.py [--steps 24] [--workers 0,2] [--threads 2] [--work DIR]
Writes bench/results/streaming_train.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from streaming import build, children, derive, vm_hwm_mb, write_report  # noqa: E402  (the data bench's helpers)

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "dcgan-fashion-paper.yaml"


def overrides(steps: int, threads: int) -> list[str]:
    return [f"train.steps={steps}", f"train.threads={threads}", "data.image_size=64", "data.channels=3",
            "eval.final=false", "eval.every=0", "log.progress=false", "log.tensorboard=false",
            f"log.every={max(1, steps // 3)}", f"log.sample_every={steps}", f"checkpoint.every={steps}", "checkpoint.keep=1"]


class WorkerPeaks:
    """Polls the VmHWM of this process's children (the DataLoader workers) while they live: the high-water
    mark is lost when a worker exits, so the last reading before that is its peak."""

    def __init__(self, every: float = 0.2):
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(every,), daemon=True)
        self._thread.start()

    def _poll(self, every: float) -> None:
        while not self._stop.wait(every):
            for pid in children(os.getpid()):
                try:
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), vm_hwm_mb(pid))
                except (OSError, ValueError):  # exited between listing and reading
                    pass

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join()
        return [round(v) for v in self.peaks.values()]


def throughput(run_dir: Path, batch: int) -> dict:
    """img/s over the logging windows after the first (start-up, first batches and worker start excluded)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "elapsed_s" in r]
    first, last = rows[0], rows[-1]
    steps, seconds = last["step"] - first["step"], last["elapsed_s"] - first["elapsed_s"]
    return {"img_per_s": round(steps * batch / seconds, 1), "timed_steps": steps, "seconds": round(seconds, 1)}


def measure(variant: str, root: str, num: int, steps: int, threads: int) -> dict:
    from ganforge.config import load_config
    from ganforge.data.base import Dataset
    from ganforge.train import loop, train

    extra = overrides(steps, threads)
    if variant == "memory":
        import torch

        x, y = derive(num)  # the very images the shards hold, as one uint8 tensor
        data = Dataset("fmnist-rgb64", torch.from_numpy(x), torch.from_numpy(y), "image", 64, 3)
        del x, y
        loop.build_data = lambda cfg: data  # the in-memory path: the loop draws from it with BatchSampler
        cfg = load_config(CONFIG, extra + ["data.name=npz"])
    else:
        workers = int(variant.removeprefix("stream-w"))
        cfg = load_config(CONFIG, extra + ["data.name=shards", f"data.path={root}", f"data.workers={workers}"])
    peaks = WorkerPeaks()
    with tempfile.TemporaryDirectory(prefix="ganforge-bench-run-") as out:
        t = time.perf_counter()
        run = train(cfg, out=Path(out) / "run")
        wall = time.perf_counter() - t
        result = throughput(run.dir, cfg.train.batch_size)
    result |= {"wall_s_with_startup": round(wall, 1), "peak_rss_mb_main": round(vm_hwm_mb()),
               "peak_rss_mb_workers": peaks.stop()}
    return result


def in_child(*args: str) -> dict:
    """One measurement in a fresh interpreter; its last stdout line is the JSON result."""
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default="/tmp/ganforge-stream-bench")
    p.add_argument("--num", type=int, default=100_000)
    p.add_argument("--steps", type=int, default=24, help="steps a run; the first third is warm-up")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the training process")
    p.add_argument("--workers", default="0,2")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "streaming_train.json"))
    p.add_argument("--measure", help=argparse.SUPPRESS)  # internal: run one measurement in this process
    p.add_argument("--root", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure, a.root, a.num, a.steps, a.threads)))
        return
    work = Path(a.work).resolve()
    if work.is_relative_to(REPO):
        sys.exit(f"--work {work}: inside the repository; choose a folder elsewhere (default /tmp/ganforge-stream-bench)")
    import torch

    data = build(work, a.num)
    print(f"data: {data}", flush=True)
    common = ["--num", str(a.num), "--steps", str(a.steps), "--threads", str(a.threads), "--root", data["root"]]
    results = {}
    for variant in [f"stream-w{int(w)}" for w in a.workers.split(",")] + ["memory"]:
        results[variant] = in_child("--measure", variant, *common)
        print(f"{variant}: {results[variant]}", flush=True)
    write_report(a.out, "streaming_train", __file__, config=str(CONFIG.relative_to(REPO)),
                 overrides=overrides(a.steps, a.threads), data=data, results=results)


if __name__ == "__main__":
    main()
