"""Image-to-image translation on Fashion-MNIST, measured against ground truth: the papers' claims as table rows.

pix2pix on edges → garments (Isola et al. 2017, Table 1): L1 alone, the cGAN alone, and L1 + cGAN.
CycleGAN on unpaired edges ↔ garments (Zhu et al. 2017): with and without the cycle-consistency loss.
Super-resolution ×4, 7×7 → 28×28 (Ledig et al. 2017): bicubic upscaling, the content loss alone (SRResNet-MSE),
SRGAN (pixel content + 10⁻³ GAN) and SRGAN with content in the discriminator's features.
Inpainting with pix2pix (the central square, or one random rectangle per image, blacked out): L1 alone vs L1 + cGAN.

Every row trains its config for the same time on one thread (`--seconds`, default 600), then translates the 10,000 test edge maps and scores the outputs against their own
targets (for CycleGAN: the hidden pairing, never seen in training): L1, PSNR and SSIM; FID/KID/precision/recall of
the outputs against the real test garments; class agreement (the evaluator's class of the output = the true class
of the target: content kept). CycleGAN rows also give the cycle errors and a random pairing's scores.

    python experiments/translation.py                        # ~50 minutes: every row, two at a time
    python experiments/translation.py --rows pix2pix_l1 --seconds 20 --num 500    # a smoke run of one row

Writes experiments/results/translation.{json,md} and docs/translation-*.png (rows of input | outputs | target);
runs are kept in runs/experiments/translation/<row>. The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import ganforge
from ganforge import images
from ganforge.api import evaluate_run, translate_test
from ganforge.config import load_config
from ganforge.data.paired import SOURCE, derive
from ganforge.scoring import evaluate_translations, test_pairs
from ganforge.train.precision import cpu_label

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
RUNS = ROOT / "runs" / "experiments" / "translation"
# row → (config, overrides); None: no training (bicubic upscaling). CycleGAN's linear learning-rate decay needs a
# known number of steps, so under a time budget it is off (train.lr_decay=none) for both of its rows alike.
NO_DECAY = ["train.lr_decay=none"]
ROWS = {
    "pix2pix_l1": ("pix2pix-edges-fashion.yaml", ["objective.adversarial=0"]),
    "pix2pix_cgan": ("pix2pix-edges-fashion.yaml", ["objective.l1=0"]),
    "pix2pix_l1_cgan": ("pix2pix-edges-fashion.yaml", []),
    "cyclegan": ("cyclegan-edges-fashion.yaml", NO_DECAY),
    "cyclegan_no_cycle": ("cyclegan-edges-fashion.yaml", ["objective.cycle=0", *NO_DECAY]),
    "sr_bicubic": ("srgan-fashion-x4.yaml", None),
    "sr_content": ("srgan-fashion-x4.yaml", ["objective.adversarial=0"]),
    "srgan": ("srgan-fashion-x4.yaml", []),
    "srgan_features": ("srgan-fashion-x4.yaml", ["objective.content=features"]),
    # inpainting (the lectures' "conditional synthesis"): the central square, then one random rectangle per image
    "inpaint_l1": ("pix2pix-inpaint-fashion.yaml", ["objective.adversarial=0"]),
    "inpaint_l1_cgan": ("pix2pix-inpaint-fashion.yaml", []),
    "inpaint_random_l1": ("pix2pix-inpaint-fashion.yaml", ["data.task=inpaint_random", "objective.adversarial=0"]),
    "inpaint_random_l1_cgan": ("pix2pix-inpaint-fashion.yaml", ["data.task=inpaint_random"]),
}
HUGE = 10**9
METRICS = ("fid", "kid", "pr")


def bicubic_row(row: str, seed: int, num: int) -> dict:
    """What super-resolution must beat: the low-resolution test images upscaled bicubically, scored the same way."""
    cfg = load_config(ROOT / "configs" / ROWS[row][0])
    given, targets, labels = test_pairs(cfg.data, (SOURCE,), num)
    outputs = F.interpolate(given[SOURCE], size=targets.shape[-2:], mode="bicubic", align_corners=False).clamp(-1, 1)
    scores = evaluate_translations(outputs, targets, "fashion-mnist", METRICS, labels=labels, seed=seed)
    return {"row": row, "config": f"configs/{ROWS[row][0]}", "overrides": [], "steps": 0, "seed": seed,
            "train_s": 0.0, "eval_s": 0.0, "num": num, **{k: v for k, v in scores.items() if isinstance(v, (int, float))}}


def hole_scores(row: str, num: int) -> dict:
    """Inpainting rows: the error inside the blacked-out region only, where the output had to be invented (the whole
    image's scores are mostly the copied known pixels): L1 and PSNR (mean over images) in the hole, and how varied
    the invented pixels are — the std of the output's hole pixels over the target's (blur makes it < 1)."""
    config, overrides = ROWS[row]
    task = load_config(ROOT / "configs" / config, overrides).data.task
    a = translate_test(RUNS / row, num=num)
    out, tgt = (torch.from_numpy(a[k]).float().div(255).permute(0, 3, 1, 2) for k in ("outputs", "targets"))
    hole = derive(task, torch.full(tgt.shape, 255, dtype=torch.uint8)) == 0  # image i's mask is drawn from index i
    n = hole.flatten(1).sum(1)
    err = ((out - tgt).abs() * hole).flatten(1).sum(1) / n
    mse = ((out - tgt).square() * hole).flatten(1).sum(1) / n
    def std(x):
        mean = (x * hole).flatten(1).sum(1) / n
        return (((x - mean.view(-1, 1, 1, 1)).square() * hole).flatten(1).sum(1) / n).sqrt()
    return {"hole_l1": float(err.mean()), "hole_psnr": float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean()),
            "hole_std_ratio": float(std(out).mean() / std(tgt).mean())}


def run_row(row: str, seconds: float, seed: int, num: int) -> dict:
    torch.set_num_threads(1)
    config, overrides = ROWS[row]
    if overrides is None:
        return bicubic_row(row, seed, num)
    cfg = load_config(ROOT / "configs" / config, [*overrides, f"train.time_budget={seconds}", f"train.steps={HUGE}",
                                                  f"train.seed={seed}",
                                                  "train.threads=1", "log.progress=false", "log.tensorboard=false",
                                                  f"checkpoint.every={HUGE}", "eval.final=false"])
    out = RUNS / row
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run = ganforge.train(cfg, out=out)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = evaluate_run(out, metrics=METRICS, num=num, seed=seed)
    if row.startswith("inpaint"):
        scores |= hole_scores(row, num)
    return {"row": row, "config": f"configs/{config}", "overrides": overrides, "steps": run.step, "seed": seed,
            "seconds": seconds, "cpu": cpu_label(),
            "train_s": round(train_s, 1), "eval_s": round(time.perf_counter() - t0, 1), "num": num,
            **{k: v for k, v in scores.items() if isinstance(v, (int, float))}}


def figure(rows: list[str], path: Path, n: int = 8) -> None:
    """n test examples: input | the output of each row | target, one example a line."""
    arrays = {r: translate_test(RUNS / r, num=n) for r in rows if (RUNS / r / "run.json").is_file()}
    # a low-resolution input is shown at the output's size (nearest: its pixels stay visible)
    if not arrays:
        return
    first = next(iter(arrays.values()))
    inputs = first["inputs"]
    factor = first["targets"].shape[1] // inputs.shape[1]
    inputs = inputs.repeat(factor, axis=1).repeat(factor, axis=2)
    columns = [inputs, *(a["outputs"] for a in arrays.values()), first["targets"]]
    tiles = torch.stack([torch.from_numpy(c) for c in columns], 1).flatten(0, 1).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    images.save_png(images.grid(tiles, cols=len(columns)), path, scale=2)


def markdown(rows: list[dict]) -> str:
    lines = ["| row | CPU | steps | train s | L1 ↓ | PSNR ↑ | SSIM ↑ | FID ↓ | KID ↓ | precision | recall | class agreement ↑ |"
             " cycle error A / B | random pairing L1 / PSNR / SSIM | hole L1 / PSNR / std ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        cycle = f"{r['cycle_error_a']:.3f} / {r['cycle_error_b']:.3f}" if "cycle_error_a" in r else "—"
        rand = (f"{r['random_pair_l1']:.3f} / {r['random_pair_psnr']:.2f} / {r['random_pair_ssim']:.3f}"
                if "random_pair_l1" in r else "—")
        hole = (f"{r['hole_l1']:.4f} / {r['hole_psnr']:.2f} / {r['hole_std_ratio']:.2f}" if "hole_l1" in r else "—")
        lines.append(f"| {r['row']} | {r.get('cpu', 'not recorded')} | {r['steps']:,} | {r['train_s']:.0f} | {r['l1']:.4f} | {r['psnr']:.2f} | "
                     f"{r['ssim']:.3f} | {r['fid']:.2f} | {r['kid']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['class_agreement']:.1%} | {cycle} | {rand} | {hole} |")
    return "\n".join(lines) + "\n"


def _work(job: tuple) -> dict:
    row = run_row(*job)
    print(f"{row['row']}: {row['steps']} steps in {row['train_s']:.0f} s, L1 {row['l1']:.4f}, PSNR {row['psnr']:.2f}, "
          f"FID {row['fid']:.2f}, class agreement {row['class_agreement']:.3f}", file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS), help="rows to (re)run")
    p.add_argument("--seconds", type=float, default=600.0, help="training seconds per row, one thread (default 600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num", type=int, default=10_000, help="test images translated and scored per row")
    p.add_argument("--jobs", type=int, default=2, help="rows trained at once, one thread each")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--docs", type=Path, default=ROOT / "docs")
    p.add_argument("--rescore-holes", action="store_true",
                   help="train nothing: add the hole scores of the inpainting rows' kept runs to the results")
    args = p.parse_args(argv)
    old = args.out / "translation.json"
    if args.rescore_holes:
        rows = [r | hole_scores(r["row"], r["num"]) if r["row"].startswith("inpaint") and (RUNS / r["row"]).is_dir()
                else r for r in json.loads(old.read_text())["rows"]]
    else:
        jobs = [(row, args.seconds, args.seed, args.num) for row in args.rows]
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            rows = pool.map(_work, jobs, chunksize=1)
    done = {r["row"] for r in rows}  # rows not run this time stay as they were
    kept = [r for r in json.loads(old.read_text())["rows"] if r["row"] not in done] if old.is_file() else []
    rows = sorted(kept + rows, key=lambda r: list(ROWS).index(r["row"]) if r["row"] in ROWS else 99)
    result = {"rows": rows, "torch": torch.__version__, "ganforge": ganforge.__version__, "threads": 1,
              "evaluator_test_accuracy": 0.9325, "command": "python experiments/translation.py " + " ".join(argv or sys.argv[1:])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "translation.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "translation.md").write_text(markdown(rows))
    figure(["pix2pix_l1", "pix2pix_cgan", "pix2pix_l1_cgan"], args.docs / "translation-pix2pix-edges.png")
    figure(["cyclegan", "cyclegan_no_cycle"], args.docs / "translation-cyclegan-edges.png")
    figure(["sr_content", "srgan", "srgan_features"], args.docs / "translation-srgan-x4.png")
    figure(["inpaint_l1", "inpaint_l1_cgan"], args.docs / "translation-inpaint-centre.png")
    figure(["inpaint_random_l1", "inpaint_random_l1_cgan"], args.docs / "translation-inpaint-random.png")
    print(json.dumps({"json": str(args.out / "translation.json"),
                      "rows": {r["row"]: {k: round(r[k], 4) for k in ("l1", "psnr", "ssim", "fid", "class_agreement")}
                               for r in rows}}))
    return result


if __name__ == "__main__":
    main()
