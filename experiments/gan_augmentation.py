"""A GAN as a tool for another model (the lectures: "GAN is only used as a tool enhancing the training process of
another model"): does a classifier trained on N real labelled Fashion-MNIST images per class gain from adding a
class-conditional GAN's samples, where the cGAN was trained on the same N per class?

For N in 10, 50, 200 images per class and 3 seeds (each seed draws its own labelled images):
  1. the cGAN (configs/cgan-fashion.yaml with the default DCGAN's widths, batch and learning rate) trains on those
     10·N images for --gan-seconds on one thread and makes 500 samples per class; the project's evaluator scores
     them (FID against the test images; class agreement: how often it reads the requested class);
  2. the same small CNN (ganforge.nets.cnn_classifier, the TSTR metric's) trains for a fixed number of steps on
       real           the 10·N real images only;
       real + flips   the real images with random horizontal flips and ±2-pixel shifts (classic augmentation: what
                      the GAN must beat to be worth its CPU time);
       real + cGAN    every batch half real images, half cGAN samples (with their requested classes);
       cGAN only      the cGAN samples alone (train on synthetic, test on real);
     and is tested on the 10,000 real test images.

The cgan family needs a label for every training image, so "also on all unlabelled images" is not measured here:
the semi-supervised GAN (experiments/semi_supervised.py) is what uses unlabelled images with a few labels.

    python experiments/gan_augmentation.py                      # 9 cGANs × 150 s + 36 classifiers, two at a time: ~20 min
    python experiments/gan_augmentation.py --per-class 10 --seeds 0 --gan-seconds 5 --steps 20 --out /tmp/x   # smoke

Writes experiments/results/gan_augmentation.{json,md} (or --out DIR). Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import ganforge
from ganforge.config import load_config
from ganforge.data import labelled_subset, load_dataset
from ganforge.scoring import evaluate_images
from ganforge.metrics.tstr import accuracy
from ganforge.nets import build_net
from ganforge.train.precision import cpu_model

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
HUGE = 10**9
# the cGAN: configs/cgan-fashion.yaml at the default DCGAN's size (configs/dcgan-fashion.yaml), which learns
# fastest per CPU-second here
GAN_OVERRIDES = ["nets.G.args.base=32", "nets.D.args.base=32", "train.batch_size=32", "optim.G.lr=5e-4",
                 "optim.D.lr=5e-4", "train.threads=1", "log.progress=false", "log.tensorboard=false",
                 f"log.sample_every={HUGE}", f"checkpoint.every={HUGE}", "eval.final=false", "doctor.enabled=false"]
VARIANTS = ("real", "real + flips", "real + cGAN", "cGAN only")
SYNTHETIC_PER_CLASS = 500


def classic_augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to 2 pixels (zero padding), per image."""
    flip = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dy, dx = torch.randint(0, 5, (2, len(x)), generator=g)
    h, w = x.shape[-2:]
    return torch.stack([padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(len(x))])


def train_classifier(variant: str, real: tuple, fake: tuple, steps: int, seed: int, batch: int = 64) -> torch.nn.Module:
    """The same CNN and schedule for every variant: `steps` Adam steps on batches drawn with replacement."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = build_net("cnn_classifier", in_shape=tuple(real[0].shape[1:]), num_classes=10, width=16, features=64,
                        dropout=0.1)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    net.train()

    def draw(data, n):
        i = torch.randint(len(data[0]), (n,), generator=g)
        return data[0][i], data[1][i]

    for _ in range(steps):
        if variant == "cGAN only":
            x, y = draw(fake, batch)
        elif variant == "real + cGAN":
            (xr, yr), (xf, yf) = draw(real, batch // 2), draw(fake, batch - batch // 2)
            x, y = torch.cat([xr, xf]), torch.cat([yr, yf])
        else:
            x, y = draw(real, batch)
            if variant == "real + flips":
                x = classic_augment(x, g)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def run_cell(job: tuple) -> dict:
    """One (N per class, seed): the cGAN on the labelled images, its samples scored, then every classifier."""
    per_class, seed, gan_seconds, steps = job
    torch.set_num_threads(1)
    train = load_dataset("fashion-mnist")
    test = load_dataset("fashion-mnist", split="test")
    idx = labelled_subset(train, per_class, seed)
    real = (train.x[idx], train.labels[idx])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganforge-aug-") as tmp:
        npz = Path(tmp) / "labelled.npz"
        np.savez(npz, x=train.stored[idx].numpy(), labels=train.labels[idx].numpy())
        cfg = load_config(ROOT / "configs" / "cgan-fashion.yaml",
                          [*GAN_OVERRIDES, "data.name=npz", f"data.path={npz}", f"train.time_budget={gan_seconds}",
                           f"train.steps={HUGE}", f"train.seed={seed}"])
        run = ganforge.train(cfg, out=Path(tmp) / "run")
        gen = ganforge.load(run.dir)
        n = 10 * SYNTHETIC_PER_CLASS
        fake_y = gen.labels(n)
        fake = (gen.sample(n, seed=seed), fake_y)
    gan_s = time.perf_counter() - t0
    scores = evaluate_images(fake[0], "fashion-mnist", ["fid"], labels=fake_y)
    cell = {"per_class": per_class, "seed": seed, "gan_steps": run.step, "gan_s": round(gan_s, 1),
            "samples_fid": scores["fid"], "samples_class_agreement": scores["class_agreement"], "accuracy": {}}
    for v in VARIANTS:
        t0 = time.perf_counter()
        net = train_classifier(v, real, fake, steps, seed)
        cell["accuracy"][v] = accuracy(net, test.x, test.labels)
        cell.setdefault("classifier_s", {})[v] = round(time.perf_counter() - t0, 1)
    print(f"N={per_class:3d} seed {seed}: cGAN {run.step} steps, FID {scores['fid']:.1f}, class agreement "
          f"{scores['class_agreement']:.1%}; " + ", ".join(f"{v} {a:.1%}" for v, a in cell["accuracy"].items()),
          file=sys.stderr, flush=True)
    return cell


def markdown(result: dict) -> str:
    lines = ["| real images per class | " + " | ".join(VARIANTS) + " | cGAN samples: FID / class agreement | cGAN steps |",
             "|---:|" + "---:|" * (len(VARIANTS) + 2)]
    for n in result["per_class"]:
        cells = [c for c in result["cells"] if c["per_class"] == n]
        acc = {v: [c["accuracy"][v] for c in cells] for v in VARIANTS}
        base = acc["real"]

        def cell(v):
            vals = acc[v]
            text = f"{statistics.fmean(vals):.1%} ± {statistics.stdev(vals) if len(vals) > 1 else 0:.1%}"
            if v != "real":  # the paired difference to real-only, seed by seed
                diffs = [a - b for a, b in zip(vals, base)]
                text += f" ({statistics.fmean(diffs):+.1%})"
            return text
        lines.append(f"| {n} | " + " | ".join(cell(v) for v in VARIANTS)
                     + f" | {statistics.fmean(c['samples_fid'] for c in cells):.1f} / "
                       f"{statistics.fmean(c['samples_class_agreement'] for c in cells):.1%} | "
                       f"{statistics.fmean(c['gan_steps'] for c in cells):,.0f} |")
    lines += ["", f"Test accuracy on the 10,000 Fashion-MNIST test images, mean ± std over seeds "
              f"{', '.join(map(str, result['seeds']))} (each seed its own labelled images); in brackets the mean "
              f"paired change against real only. Each classifier: the same CNN, {result['steps']:,} Adam steps of batch 64. "
              f"The cGAN: {result['gan_seconds']:.0f} s on 1 thread ({result['cpu']}) on the same labelled images, "
              f"{SYNTHETIC_PER_CLASS} samples per class; its FID and class agreement by the project's evaluator."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, nargs="+", default=[10, 50, 200])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--gan-seconds", type=float, default=150.0, help="cGAN training per cell, one thread")
    p.add_argument("--steps", type=int, default=1000, help="classifier training steps")
    p.add_argument("--jobs", type=int, default=2, help="cells at once, one thread each")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    jobs = [(n, s, args.gan_seconds, args.steps) for n in args.per_class for s in args.seeds]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        cells = pool.map(run_cell, jobs, chunksize=1)
    cpu = cpu_model() or "unknown CPU"
    result = {"experiment": "gan_augmentation", "per_class": args.per_class, "seeds": args.seeds,
              "gan_seconds": args.gan_seconds, "steps": args.steps, "cpu": cpu, "torch": torch.__version__,
              "gan_overrides": GAN_OVERRIDES, "cells": cells,
              "command": "python experiments/gan_augmentation.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gan_augmentation.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "gan_augmentation.md").write_text(markdown(result))
    print(markdown(result), file=sys.stderr)
    means = {n: {v: round(statistics.fmean(c["accuracy"][v] for c in cells if c["per_class"] == n), 4) for v in VARIANTS}
             for n in args.per_class}
    print(json.dumps({"json": str(args.out / "gan_augmentation.json"), "accuracy": means}))
    return result


if __name__ == "__main__":
    main()
