"""Evaluators for the user's own data (issue 16), measured: what `ganforge evaluator train` makes in 5 CPU-minutes,
and whether a self-supervised evaluator (labels hidden) judges generated images as the labelled one does.

1. Evaluators, each with the command's default 5-minute budget (digits: the 200-epoch cap comes first):
   - a 5,000-image labelled subset of Fashion-MNIST written as a folder of PNGs in class sub-folders (a user's
     folder), labelled and self-supervised (--ignore-labels);
   - the 8×8 digits, labelled and self-supervised;
   - Fashion-MNIST's 60,000 training images with labels hidden (self-supervised, scored on the test split).
2. Sample sets ranked by every evaluator: 2,000 real training images (none of the folder's), the default DCGAN
   at the end of a 4,000-step run, the same run at step 250 (weak), uniform noise.
3. The run's checkpoints every 250 steps: FID of 2,000 samples under the built-in labelled evaluator and under the
   self-supervised Fashion-MNIST evaluator; Spearman's rank correlation between the two curves (all checkpoints,
   and the second half alone, where the differences are small).

    python experiments/user_evaluators.py [--minutes 5] [--steps 4000]

Evaluator weights go to ~/.cache/ganforge/experiments/user_evaluators (not committed); their records, the
rankings and the curves go to experiments/results/user_evaluators.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import torch
from PIL import Image
from scipy.stats import spearmanr

import ganforge
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.scoring import evaluate_images
from ganforge.evaluator_training import load_evaluator_data, train_evaluator
from ganforge.train import train

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(os.environ.get("GANFORGE_CACHE", Path.home() / ".cache" / "ganforge")) / "experiments" / "user_evaluators"
FOLDER_IMAGES = 5000
SAMPLES = 2000


def write_folder(root: Path, n: int = FOLDER_IMAGES) -> tuple[Path, torch.Tensor]:
    """n random Fashion-MNIST training images (seed 0) as PNGs in class sub-folders; returns the folder and the
    indices used."""
    train_set = load_dataset("fashion-mnist", split="train")
    idx = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))[:n]
    folder = root / f"fashion-{n}"
    if not folder.is_dir():
        tmp = root / f".fashion-{n}.tmp"
        for i in idx.tolist():
            d = tmp / f"class{int(train_set.labels[i])}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(train_set.stored[i, 0].numpy()).save(d / f"{i:05d}.png")
        os.replace(tmp, folder)
    return folder, idx


def evaluators(minutes: float, folder: Path) -> dict[str, dict]:
    plan = {  # name: (dataset, path, image size, channels, use labels, flip)
        "folder-5k-labelled": ("folder", folder, 28, 1, True, True),
        "folder-5k-ssl": ("folder", folder, 28, 1, False, True),
        "digits-labelled": ("digits", None, None, None, True, False),
        "digits-ssl": ("digits", None, None, None, False, False),
        "fashion-60k-ssl": ("fashion-mnist", None, None, None, False, True),
    }
    records = {}
    for name, (dataset, path, size, channels, labels, flip) in plan.items():
        out = WORK / f"{name}.safetensors"
        if out.is_file() and out.with_suffix(".json").is_file():
            records[name] = json.loads(out.with_suffix(".json").read_text())
            continue
        data = load_evaluator_data(dataset, path, image_size=size, channels=channels)
        print(f"== {name}: {len(data.train)} + {len(data.held_out)} images", flush=True)
        records[name] = train_evaluator(data, out, minutes=minutes, use_labels=labels, flip=flip,
                                        log=lambda line: print("  " + line, flush=True))
    return records


def run_with_checkpoints(steps: int) -> Path:
    run = WORK / f"dcgan-{steps}"
    if (run / "run.json").is_file() and ganforge.load(run).step == steps:
        return run
    cfg = load_config(None, [f"train.steps={steps}", "checkpoint.every=250", "checkpoint.keep=0",
                             "log.progress=false", "log.tensorboard=false", "eval.final=false"])
    shutil.rmtree(run, ignore_errors=True)
    return train(cfg, out=run).dir


def fid(samples: torch.Tensor, evaluator: str | None, folder: Path) -> float:
    """FID against the evaluator's own real data: the Fashion-MNIST test split, or the folder."""
    if evaluator is not None and "folder" in evaluator:
        return evaluate_images(samples, "folder", ("fid",), evaluator=evaluator, data_path=folder)["fid"]
    return evaluate_images(samples, "fashion-mnist", ("fid",), evaluator=evaluator)["fid"]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=4000)
    args = p.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    WORK.mkdir(parents=True, exist_ok=True)
    folder, folder_idx = write_folder(WORK)
    records = evaluators(args.minutes, folder)

    t0 = time.time()
    run = run_with_checkpoints(args.steps)
    print(f"== DCGAN run {run} ({time.time() - t0:.0f} s)", flush=True)
    checkpoints = sorted(int(c.name.split("_")[-1]) for c in (run / "checkpoints").glob("step_*"))
    samples = {step: ganforge.load(run, which=step).sample(SAMPLES, seed=0) for step in checkpoints}
    train_set = load_dataset("fashion-mnist", split="train")
    others = torch.ones(len(train_set), dtype=torch.bool)
    others[folder_idx] = False
    pool = others.nonzero().squeeze(1)
    real = train_set.x[pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(1))[:SAMPLES]]]
    sets = {"real": real, "trained DCGAN": samples[checkpoints[-1]], "weak DCGAN": samples[checkpoints[0]],
            "noise": torch.rand(SAMPLES, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1}
    fashion_evaluators = {"built-in labelled (60k)": None,
                          **{n: str(WORK / f"{n}.safetensors") for n in records if not n.startswith("digits")}}
    ranking = {name: {s: fid(x, ev, folder) for s, x in sets.items()} for name, ev in fashion_evaluators.items()}

    ssl = str(WORK / "fashion-60k-ssl.safetensors")
    curve = [{"step": s, "fid_labelled": fid(samples[s], None, folder), "fid_ssl": fid(samples[s], ssl, folder)}
             for s in checkpoints]
    half = curve[len(curve) // 2:]
    rho = lambda rows: float(spearmanr([r["fid_labelled"] for r in rows], [r["fid_ssl"] for r in rows])[0])  # noqa: E731
    result = {"records": records, "ranking": ranking, "curve": curve, "spearman_all": rho(curve),
              "spearman_second_half": rho(half), "run": str(run), "steps": args.steps, "minutes": args.minutes,
              "cpu": _cpu()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "user_evaluators.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "user_evaluators.md").write_text(report(result) + "\n")
    print(report(result))
    return result


def report(r: dict) -> str:
    lines = ["| evaluator | data (train + held-out) | kind | epochs | seconds | held-out accuracy | FID floor |",
             "|---|---|---|---:|---:|---:|---:|"]
    for name, rec in r["records"].items():
        d = rec["data"]
        acc = (f"{rec['test_accuracy']:.4f}" if rec["kind"] == "classifier"
               else f"{rec['knn_accuracy']:.4f} (k-NN, labels unused)")
        lines.append(f"| {name} | {d['dataset']} {d['train_images']:,} + {d['held_out_images']:,} | {rec['kind']} | "
                     f"{rec['epochs']} | {rec['train_seconds_with_floor']:.0f} | {acc} | "
                     f"{rec['fid_floor_train_vs_test']:.3f} |")
    sets = list(next(iter(r["ranking"].values())))
    lines += ["", "| evaluator | " + " | ".join(f"FID {s}" for s in sets) + " | ranks as real < trained < weak < noise |",
              "|---|" + "---:|" * len(sets) + "---|"]
    for name, row in r["ranking"].items():
        values = [row[s] for s in sets]
        ordered = all(a < b for a, b in zip(values, values[1:]))
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {'yes' if ordered else 'NO'} |")
    lines += ["", f"Spearman ρ between the labelled and the self-supervised FID over {len(r['curve'])} checkpoints: "
                  f"**{r['spearman_all']:.3f}** (second half alone: {r['spearman_second_half']:.3f}).", "",
              "| step | FID, labelled evaluator | FID, self-supervised evaluator |", "|---:|---:|---:|"]
    lines += [f"| {c['step']} | {c['fid_labelled']:.2f} | {c['fid_ssl']:.2f} |" for c in r["curve"]]
    return "\n".join(lines)


def _cpu() -> str:
    from ganforge.train.precision import cpu_flags

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown")
    return f"{model}, {os.cpu_count()} cores, {'avx512' if any('avx512' in f for f in cpu_flags()) else 'avx2'}"


if __name__ == "__main__":
    main()
