"""How much of the class an image-to-image task's input still carries: the ceiling of class agreement.

Class agreement (experiments/translation.py) asks the evaluator for the class of a translation G(x) of the input x;
evaluator∘G is then itself a classifier of the inputs, so it can be right no more often than the class can be read
from the inputs at all. This script estimates that ceiling: the evaluator's own recipe (ganforge/weights/
classifier.py: the same CNN, AdamW one-cycle, shifts and mirroring) trained on each task's training inputs and
scored on its test inputs, beside the same short recipe trained on the garments themselves (what the evaluator
reaches on real images with this recipe; the committed evaluator, trained 10 epochs, is right on 93.25 %).

    python experiments/translation_ceiling.py [--epochs 3] [--jobs 2] [--tasks garments,edges,downscale4,...]

Writes experiments/results/translation_ceiling.{json,md}. The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import torch

from ganforge.data import Dataset, load_dataset
from ganforge.data.paired import derive
from ganforge.evaluator_training import classifier
from ganforge.evaluator_training.train import EvaluatorData
from ganforge.train.precision import cpu_label

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
TASKS = ("garments", "edges", "downscale4", "downscale2", "inpaint", "inpaint_random")


def inputs(task: str, split: str, first: int | None = None) -> Dataset:
    """The split's inputs of `task` (its `first` images, default all) as a labelled image dataset (the garments
    themselves for 'garments')."""
    ds = load_dataset("fashion-mnist", split=split)
    ds = Dataset(ds.name, ds.stored[:first], ds.labels[:first], "image")
    x = ds.stored if task == "garments" else torch.cat(
        [derive(task, part, i * 10_000) for i, part in enumerate(ds.stored.split(10_000))])
    return Dataset("fashion-mnist", x, ds.labels, "image")


def train_one(job: tuple[str, int, int, int | None]) -> dict:
    task, epochs, seed, train_images = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    train, test = inputs(task, "train", train_images), inputs(task, "test")
    data = EvaluatorData("fashion-mnist", None, train, test, "the test split", "")
    t0 = time.perf_counter()
    trainer = classifier.Trainer(data, seed=seed, flip=True, device=torch.device("cpu"))
    trainer.fit(epochs, lambda line: print(f"[{task}] {line}", flush=True))
    report = trainer.report()
    return {"task": task, "epochs": epochs, "seed": seed, "train_images": len(train), "test_accuracy": report["test_accuracy"],
            "train_accuracy": report["train_accuracy"], "train_seconds": round(time.perf_counter() - t0, 1)}


def markdown(rows: list[dict]) -> str:
    lines = ["| inputs | epochs | test accuracy of a classifier trained on them | train accuracy | seconds |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['task']} | {r['epochs']} | {r['test_accuracy']:.1%} | {r['train_accuracy']:.1%} | "
              f"{r['train_seconds']:.0f} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="classifiers trained at once, one thread each")
    p.add_argument("--train-images", type=int, help="train on the first N training images (default: all 60,000)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    tasks = args.tasks.split(",")
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        p.error(f"unknown tasks {unknown} (known: {', '.join(TASKS)})")
    if args.train_images is not None and not 1 <= args.train_images <= 60_000:
        p.error(f"--train-images must be in [1, 60000], got {args.train_images}")
    jobs = [(t, args.epochs, args.seed, args.train_images) for t in tasks]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        rows = pool.map(train_one, jobs, chunksize=1)
    old = args.out / "translation_ceiling.json"
    key = lambda r: (r["task"], r["epochs"], r["seed"], r.get("train_images", 60_000))  # noqa: E731
    done = {key(r) for r in rows}  # earlier rows of other tasks or schedules stay
    kept = [r for r in json.loads(old.read_text())["rows"] if key(r) not in done] if old.is_file() else []
    rows = sorted(kept + rows, key=lambda r: (r["epochs"], TASKS.index(r["task"])))
    result = {"experiment": "translation_ceiling",
              "command": " ".join(["python experiments/translation_ceiling.py",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "date": time.strftime("%Y-%m-%d"), "rows": rows,
              "cpu": f"{cpu_label()} (one thread per classifier)"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "translation_ceiling.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "translation_ceiling.md").write_text(markdown(rows))
    print(markdown(rows))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
