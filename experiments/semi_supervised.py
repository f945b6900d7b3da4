"""Semi-supervised learning with a GAN (Salimans et al. 2016): Fashion-MNIST test error with 10 labels per class.

For each seed (the seed picks the 100 labelled images and initialises the networks), trains
configs/ssgan-fashion.yaml — a K+1-class discriminator that also learns from the 60,000 unlabelled images and from
G's samples — and, beside it, the same discriminator network trained on the same 100 labelled images alone, with
the same optimiser, learning-rate schedule and number of steps. Both classifiers are scored on the 10,000 test
images. The labels-only row also reports its best test error over training (checked every `--check-every` steps):
an early stop chosen with the test set, which flatters that baseline; the GAN row gets no such help.

    python experiments/semi_supervised.py                   # 3 seeds, ~30 minutes on one thread
    python experiments/semi_supervised.py --steps 200 --seeds 0   # a smoke run

Writes experiments/results/semi_supervised.{json,md} and docs/ssgan-fashion.png (the first seed's G); the last stdout
line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import ganforge
from ganforge import images
from ganforge.config import load_config
from ganforge.data import labelled_subset, load_dataset
from ganforge.families import get_family
from ganforge.train.loop import build_data, lr_factor, make_optimizer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
CONFIG = ROOT / "configs" / "ssgan-fashion.yaml"
HUGE = 10**9


def config(steps: int | None, seed: int, per_class: int):
    overrides = [f"train.seed={seed}", "train.threads=1", "train.time_budget=null", f"data.labels_per_class={per_class}",
                 "log.progress=false", "log.tensorboard=false", f"checkpoint.every={HUGE}", "eval.final=false"]
    if steps is not None:
        overrides.append(f"train.steps={steps}")
    return load_config(CONFIG, overrides)


def test_error(predict, test) -> float:
    return float((predict(test.x) != test.labels).float().mean())


def gan_row(cfg, test, grid: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="ganforge-ssl-") as tmp:
        t0 = time.perf_counter()
        run = ganforge.train(cfg, out=Path(tmp) / "run")
        seconds = time.perf_counter() - t0
        family = run.family.eval()
        if grid is not None:  # G's samples: feature matching makes a G for the classifier, not for the eye
            grid.parent.mkdir(parents=True, exist_ok=True)
            x = ganforge.load(run.dir).sample(64, seed=cfg.train.seed)
            images.save_png(images.grid(images.to_uint8(x), cols=8), grid, scale=2)
        return {"model": "ssgan", "steps": run.step, "seconds": round(seconds, 1),
                "test_error": test_error(family.predict, test)}


def labels_only_row(cfg, test, check_every: int) -> dict:
    """The GAN's discriminator network, trained by cross-entropy on the labelled images alone."""
    torch.manual_seed(cfg.train.seed)
    data = build_data(cfg)
    family = get_family(cfg.family)(cfg, data.shape, int(data.labels.max()) + 1)  # builds D exactly as the GAN does
    D = family.nets.D
    idx = labelled_subset(data, cfg.data.labels_per_class, cfg.train.seed)
    x, y = data.x[idx], data.labels[idx]
    optimizer = make_optimizer(D.parameters(), cfg.optim_for("D"))
    batch = min(cfg.train.batch_size, len(idx))
    g = torch.Generator().manual_seed(cfg.train.seed + 1)
    curve, t0 = [], time.perf_counter()
    for step in range(cfg.train.steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.optim_for("D").lr * lr_factor(step, cfg.train)
        pick = torch.randperm(len(idx), generator=g)[:batch]
        loss = F.cross_entropy(D.class_logits(x[pick]).float(), y[pick])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (step + 1) % check_every == 0 or step + 1 == cfg.train.steps:
            D.eval()
            curve.append((step + 1, test_error(family.predict, test)))
            D.train()
    best_step, best = min(curve, key=lambda c: c[1])
    return {"model": "labels_only", "steps": cfg.train.steps, "seconds": round(time.perf_counter() - t0, 1),
            "test_error": curve[-1][1], "best_test_error": best, "best_step": best_step, "curve": curve}


def markdown(rows: list[dict], per_class: int) -> str:
    by = {m: [r for r in rows if r["model"] == m] for m in ("ssgan", "labels_only")}
    lines = [f"Fashion-MNIST test error (10,000 images) with {per_class} labels per class ({10 * per_class} in all).",
             "", "| seed | steps | semi-supervised GAN | same D, labels only (final) | labels only, best on test |",
             "|---:|---:|---:|---:|---:|"]
    for gan, sup in zip(by["ssgan"], by["labels_only"]):
        lines.append(f"| {gan['seed']} | {gan['steps']:,} | {100 * gan['test_error']:.2f} % | "
                     f"{100 * sup['test_error']:.2f} % | {100 * sup['best_test_error']:.2f} % (step {sup['best_step']:,}) |")
    if len(by["ssgan"]) > 1:
        mean = lambda rs, k: 100 * statistics.mean(r[k] for r in rs)  # noqa: E731
        sd = lambda rs, k: 100 * statistics.stdev(r[k] for r in rs)  # noqa: E731
        lines.append(f"| mean ± sd | | {mean(by['ssgan'], 'test_error'):.2f} ± {sd(by['ssgan'], 'test_error'):.2f} % | "
                     f"{mean(by['labels_only'], 'test_error'):.2f} ± {sd(by['labels_only'], 'test_error'):.2f} % | "
                     f"{mean(by['labels_only'], 'best_test_error'):.2f} ± {sd(by['labels_only'], 'best_test_error'):.2f} % |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=None, help="training steps of both models (default: the config's)")
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--check-every", type=int, default=250, help="steps between the labels-only test checks")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the first seed's sample grid goes")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    test = load_dataset("fashion-mnist", split="test")
    rows = []
    for seed in args.seeds:
        cfg = config(args.steps, seed, args.labels_per_class)
        grid = args.docs / "ssgan-fashion.png" if args.docs is not None and seed == args.seeds[0] else None
        for row in (gan_row(cfg, test, grid), labels_only_row(cfg, test, args.check_every)):
            rows.append(row | {"seed": seed})
            print(f"seed {seed} {row['model']}: {row['steps']} steps in {row['seconds']} s, "
                  f"test error {100 * row['test_error']:.2f} %", file=sys.stderr, flush=True)
    result = {"rows": rows, "labels_per_class": args.labels_per_class, "config": str(CONFIG.relative_to(ROOT)),
              "torch": torch.__version__, "ganforge": ganforge.__version__, "threads": 1}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "semi_supervised.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "semi_supervised.md").write_text(markdown(rows, args.labels_per_class))
    summary = {m: [round(100 * r["test_error"], 2) for r in rows if r["model"] == m] for m in ("ssgan", "labels_only")}
    print(json.dumps({"json": str(args.out / "semi_supervised.json"), "test_error_percent": summary}))
    return result


if __name__ == "__main__":
    main()
