"""Train a config for a fixed number of CPU seconds, then score 10k samples with the project's evaluator.

Shared by the Fashion-MNIST experiments (fashion_ablation.py, generator_costs.py). Finished rows are cached in
experiments/results/budget_runs.json under a key naming config, overrides, seconds and seed, so a row both
experiments need (the default config) is trained once, and an interrupted experiment resumes where it stopped.
Delete the file (or pass --fresh to the experiments) to measure everything again.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import torch

import ganforge
from ganforge.config import load_config
from ganforge.scoring import evaluate_images
from ganforge.train.doctor import read_diagnoses
from ganforge.rundir import read_metrics

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "experiments" / "results" / "budget_runs.json"
METRICS = ("fid", "kid", "pr", "dc", "modes")
HUGE = 10**9


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, to tell how much other processes competed for the CPU."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_at_budget(config: str, overrides: list[str], seconds: float, seed: int = 0, num: int = 10_000,
                  threads: int = 1, fresh: bool = False, cache_file: Path | None = CACHE) -> dict:
    """One thread by default: two experiments then share a 2-core machine without slowing each other down,
    and every row of a table gets the same CPU however busy the machine is otherwise. `cache_file` None: no cache
    (smoke runs)."""
    key = json.dumps({"config": config, "overrides": overrides, "seconds": seconds, "seed": seed, "num": num,
                      "threads": threads})
    cache = json.loads(cache_file.read_text()) if cache_file is not None and cache_file.is_file() else {}
    # a row measured on another version of the config file is stale (rows from before this check carry no hash)
    sha = hashlib.sha256((ROOT / "configs" / config).read_bytes()).hexdigest()
    if key in cache and not fresh and cache[key].get("config_sha256", sha) == sha:
        return cache[key]
    torch.set_num_threads(threads)
    cfg = load_config(ROOT / "configs" / config, [f"train.threads={threads}",
        f"train.time_budget={seconds}", f"train.steps={HUGE}", f"train.seed={seed}", "log.progress=false",
        "log.tensorboard=false", f"log.sample_every={HUGE}", f"checkpoint.every={HUGE}", "eval.final=false",
        *overrides])
    busy0, total0, own0 = *_cpu_busy(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="ganforge-budget-") as tmp:
        run = ganforge.train(cfg, out=Path(tmp) / "run")
        generator = ganforge.load(run.dir)
        busy1, total1, own1 = *_cpu_busy(), time.process_time()
        diagnoses = [f"step {d['step']}: {d['code']}" for d in read_diagnoses(run.dir)]
        probes = [m for m in read_metrics(run.dir) if "doctor/d_real_train" in m]
        last = {k: v for k, v in (probes[-1] if probes else {}).items() if k.startswith("doctor/d_")}
        last |= {k: v for k, v in run.last_metrics.items() if k.startswith("augment/")}
        scores = evaluate_images(generator.sample(num, seed=seed), cfg.data.name, METRICS, out_dir=None)
    jiffy = os.sysconf("SC_CLK_TCK")
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0) * jiffy) / max(total1 - total0, 1.0)
    row = {"config": config, "config_sha256": sha, "overrides": overrides, "seconds": seconds, "seed": seed, "threads": threads, "steps": run.step,
           "stopped_by": run.stopped_by, "foreign_cpu_frac": round(foreign, 3), "diagnoses": diagnoses,
           # the last logged augmentation probability and the doctor's last overfitting probe, where the run has them
           **last,
           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           **{k: v for k, v in scores.items() if k != "provenance"},
           "evaluator": scores["provenance"]["evaluator"]["name"],
           "evaluator_sha256": scores["provenance"]["evaluator"]["sha256"],
           "fid_floor": scores["provenance"]["evaluator"].get("fid_floor_train_vs_test")}
    if cache_file is None:
        return row
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}  # re-read: another run may have written
    cache[key] = row
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = cache_file.with_suffix(f".{os.getpid()}.tmp")
    tmp_path.write_text(json.dumps(cache, indent=1) + "\n")
    os.replace(tmp_path, cache_file)
    return row


def markdown_table(rows: dict[str, dict]) -> str:
    lines = ["| recipe | steps | FID ↓ | KID ↓ | precision | recall | coverage | classes | class KL |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['steps']} | {r['fid']:.2f} | {r['kid']:.4f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['coverage']:.3f} | {r['classes_covered']} | {r['class_kl']:.3f} |")
    return "\n".join(lines)
