"""Mode collapse on the PacGAN 2-D mixtures: objectives × stabilisers at one short, fixed step budget.

Every row trains the same game on ring-8 (8 Gaussians on the unit circle, σ 0.01) and grid-25 (a 5×5 grid, σ 0.05)
for the same number of generator steps and 3 seeds, then scores 2,500 samples with the PacGAN protocol
(`ganforge.scoring.evaluate_points`: modes with ≥ 20 high-quality samples; a sample is high quality within 3σ of
its nearest mode; reverse KL of the high-quality samples' mode histogram to uniform). Rows differ from the
vanilla GAN of configs/gan-ring8.yaml (MLP G and D 128×3, Adam 1e-3, β = (0.5, 0.999), z ∈ ℝ²) at batch 64 by
the overrides shown, except the recipe rows, which run the recommended recipe (configs/toy-<data>.yaml) as it stands
(its own batch and step budget, about 2 CPU-minutes), and with 5 generators (MGAN). A figure shows samples at a few fractions of training for
the vanilla GAN and the recipe.

    python experiments/mode_collapse_2d.py            # the table and figure: about 40 minutes on 1 thread
    python experiments/mode_collapse_2d.py --quick    # smoke run: every row, 1 seed, a few steps (seconds)

Writes experiments/results/mode_collapse_2d.{json,md,png} (or --out DIR); the last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import ganforge
from ganforge import images
from ganforge.config import apply_overrides, config_from_dict
from ganforge.data.mixtures import sample_mixture
from ganforge.errors import GanforgeError
from ganforge.scoring import evaluate_points

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
BASE = ROOT / "configs" / "gan-ring8.yaml"
RECIPES = {"ring8": ROOT / "configs" / "toy-ring8.yaml", "grid25": ROOT / "configs" / "toy-grid25.yaml"}
DATASETS = ("ring8", "grid25")
TITLES = {"ring8": "ring-8", "grid25": "grid-25"}
STEPS = 1600
# the rows' common game is configs/gan-ring8.yaml at batch 64 instead of 256: on one thread the costly rows (unrolled,
# WGAN-GP, minibatch discrimination) then cost ~4× less per step, so 3 seeds of every row fit in ~25 minutes
BASE_OVERRIDES = ("train.batch_size=64",)
SEEDS = (0, 1, 2)
NUM_SAMPLES = 2500  # the PacGAN protocol's
FIGURE_AT = (0.1, 0.25, 0.5, 1.0)  # fractions of each run's budget shown in the figure
FIGURE_ROWS = ("vanilla", "recipe")
HUGE = 10**9
# runs stay quiet and cheap: no progress bar, grids, intermediate checkpoints or doctor (whose per-window sampling
# costs time and does not change the trajectory)
QUIET = ["log.progress=false", "log.tensorboard=false", f"log.sample_every={HUGE}", f"checkpoint.every={HUGE}",
         "checkpoint.keep=1", "eval.final=false", "doctor.enabled=false", "train.threads=1"]


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    overrides: tuple[str, ...] = ()  # on the vanilla config; the recipe row uses its own config instead
    per_data: dict = field(default_factory=dict)  # dataset → extra overrides (scale-dependent settings)


ROWS = (
    Row("vanilla", "bce, non-saturating G cost (Goodfellow et al.)"),
    Row("minimax", "bce, minimax G cost (the zero-sum game)", ("objective.generator_cost=minimax",)),
    Row("least_squares", "least squares (LSGAN)", ("objective.loss=least_squares",)),
    Row("hinge", "hinge", ("objective.loss=hinge",)),
    # WGAN rows: the papers' critic settings (n_critic 5; c 0.01 / λ 10) with the table's shared optimiser, so the
    # row changes the objective only; their D takes 5 steps per G step and so costs ~3× per step
    Row("wgan_clip", "WGAN, weight clipping 0.01, 5 critic steps", ("family=wgan",)),
    Row("wgan_gp", "WGAN-GP, λ 10, 5 critic steps", ("family=wgan_gp",)),
    Row("pack2", "bce + PacGAN2", ("objective.pack=2",)),
    Row("pack4", "bce + PacGAN4", ("objective.pack=4",)),
    Row("unrolled5", "bce + unrolled D (5 steps)", ("objective.unrolled_steps=5",)),
    # 16 kernels: its cost grows with kernels × batch², and at 32 it alone would take a quarter of the budget
    Row("minibatch", "bce + minibatch discrimination (16 kernels)", ("nets.D.args.minibatch_features=16",)),
    Row("feature_matching", "feature matching (G)", ("objective.feature_matching=true",)),
    Row("spectral_norm", "bce + spectral norm on D", ("nets.D.args.spectral_norm=true",)),
    Row("r1", "bce + R1 penalty γ 1", ("objective.r1=1.0",)),
    # the noise must be comparable with the gaps between modes to blur them: 0.1 of the ring's radius 1,
    # 0.2 on the grid whose modes are 2 apart
    Row("instance_noise", "bce + instance noise (annealed to 0)", (),
        {"ring8": ("objective.instance_noise=0.1",), "grid25": ("objective.instance_noise=0.2",)}),
    Row("ema99", "bce + EMA of G, decay 0.99", ("train.ema=0.99",)),
    # MGAN (Hoang et al. 2018): k generators, D's second head names which made a sample, β = 0.01 (MGAN's code)
    Row("mgan4", "bce + 4 generators (MGAN, β 0.01)", ("objective.generators=4",)),
    Row("recipe", "recommended recipe (configs/toy-*.yaml), its own budget"),
    Row("recipe_mgan5", "recommended recipe + 5 generators (MGAN, β 0.01), its own budget", ("objective.generators=5",)),
)


def run_config(row: Row, dataset: str, steps: int, seed: int, extra: list[str] = ()):
    """The config of one run of `steps` steps (the shared budget, or the recipe's own)."""
    if row.key.startswith("recipe"):
        raw = yaml.safe_load(RECIPES[dataset].read_text())
    else:
        raw = yaml.safe_load(BASE.read_text())
        raw["data"]["name"] = dataset
        raw = apply_overrides(raw, list(BASE_OVERRIDES))
    over = [*row.overrides, *row.per_data.get(dataset, ()), *QUIET, f"train.steps={steps}", f"train.seed={seed}", *extra]
    return config_from_dict(apply_overrides(raw, over), source=f"{row.key} on {dataset}")


def score(run_dir: Path, dataset: str) -> dict:
    r = evaluate_points(ganforge.load(run_dir).sample(NUM_SAMPLES, seed=0), dataset)
    kl = r["reverse_kl"]
    return {"modes": r["modes"], "hq": r["high_quality"], "rkl": kl if math.isfinite(kl) else None}


def row_steps(row: Row, dataset: str, steps: int, quick: bool) -> int:
    """The table's shared budget, except for the recipe, which runs its own (cut to `steps` in a smoke run)."""
    if row.key.startswith("recipe") and not quick:
        return int(yaml.safe_load(RECIPES[dataset].read_text())["train"]["steps"])
    return steps


def train_one(row: Row, dataset: str, steps: int, seed: int, tmp: Path, snapshots: bool = False) -> dict:
    """One run; with `snapshots`, checkpoints are kept at every fraction of FIGURE_AT of its budget and sampled."""
    run_dir = tmp / f"{row.key}-{dataset}-{seed}"
    at = {max(1, round(f * steps)): f for f in FIGURE_AT} if snapshots else {}
    extra = [f"checkpoint.every={math.gcd(*at)}", f"checkpoint.keep={HUGE}"] if at else []
    t0 = time.perf_counter()
    try:
        run = ganforge.train(run_config(row, dataset, steps, seed, extra), out=run_dir)
        shots = {f: ganforge.load(run_dir, which=s).sample(1000, seed=1).numpy() for s, f in at.items()}
        out = score(run_dir, dataset) | {"train_s": run.last_metrics.get("elapsed_s"), "error": None}
    except GanforgeError as e:  # e.g. a loss became NaN: the row failed for this seed, the table goes on
        out = {"modes": 0, "hq": 0.0, "rkl": None, "train_s": None, "error": str(e).splitlines()[0]}
        shots = {}
    out["wall_s"] = time.perf_counter() - t0
    return out | ({"snapshots": shots} if snapshots else {})


def summary(values: list) -> dict:
    """Mean ± sample std over the seeds where the value exists (reverse KL is undefined with no HQ sample)."""
    v = [x for x in values if x is not None]
    return {"mean": statistics.fmean(v) if v else None, "std": statistics.stdev(v) if len(v) > 1 else 0.0 if v else None,
            "n": len(v)}


def fmt(s: dict, scale: float = 1.0, digits: int = 1, of: int = 0) -> str:
    if s["mean"] is None:
        return "—"
    text = f"{s['mean'] * scale:.{digits}f} ± {s['std'] * scale:.{digits}f}"
    return text + (f" ({s['n']}/{of})" if of and s["n"] < of else "")


def markdown(result: dict) -> str:
    n = len(result["seeds"])
    head = "| row | " + " | ".join(f"{TITLES[d]} modes | {TITLES[d]} HQ % | {TITLES[d]} rev. KL" for d in DATASETS)
    lines = [head + " | s / run |", "|---" * (2 + 3 * len(DATASETS)) + "|"]
    for r in result["rows"]:
        cells = []
        for d in DATASETS:
            s = r[d]["summary"]
            cells += [fmt(s["modes"]), fmt(s["hq"], 100), fmt(s["rkl"], digits=3, of=n)]
        secs = [x for d in DATASETS for x in r[d]["train_s"] if x is not None]
        cells.append(f"{statistics.fmean(secs):.0f}" if secs else "—")
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    num_modes = {"ring8": 8, "grid25": 25}
    recipe = next((r for r in result["rows"] if r["key"] == "recipe"), None)
    own = ("; the recipe row runs its own config ("
           + ", ".join(f"{TITLES[d]} {recipe[d + '_steps']:,} steps" for d in DATASETS) + ")" if recipe else "")
    lines += ["", f"{result['steps']} generator steps per run at batch 64{own}, seeds {', '.join(map(str, result['seeds']))}; "
              f"mean ± sample std over seeds. PacGAN protocol on {NUM_SAMPLES:,} samples: modes (of "
              f"{num_modes['ring8']} / {num_modes['grid25']}) with ≥ 20 samples within 3σ; HQ = share of samples "
              "within 3σ of their nearest mode; rev. KL = KL(q ‖ uniform) of the HQ samples' mode histogram "
              "((k/n): defined for k of n seeds, none when no sample is HQ). s / run: training seconds on 1 thread "
              "(shared machine: ±15 %)."]
    failed = [(r["label"], d, e) for r in result["rows"] for d in DATASETS for e in r[d]["errors"] if e]
    lines += [f"Failed: {label} on {TITLES[d]}: {e}" for label, d, e in failed]
    return "\n".join(lines) + "\n"


def figure(shots: dict, budgets: dict, path: Path, panel: int = 190) -> None:
    """Rows: (dataset, row) pairs; columns: fractions of each run's budget (`budgets[(dataset, row)]` steps).
    Drawn with ganforge's own scatter (no matplotlib here)."""
    fractions = FIGURE_AT
    font = ImageFont.load_default(size=13)
    left, top = 150, 22
    keys = [(d, k) for d in DATASETS for k in FIGURE_ROWS]
    canvas = Image.new("RGB", (left + panel * len(fractions), top + panel * len(keys)), "white")
    draw = ImageDraw.Draw(canvas)
    lims = {"ring8": 1.4, "grid25": 5.2}  # fixed per dataset so panels compare; far-off samples pile at the edge
    for j, f in enumerate(fractions):
        draw.text((left + j * panel + panel // 2 - 50, 4), f"{f:.0%} of training", fill="black", font=font)
    for i, (d, k) in enumerate(keys):
        reference = sample_mixture(d, 1000, torch.Generator().manual_seed(0))[0].numpy()
        name = "vanilla GAN" if k == "vanilla" else "recipe"
        draw.text((6, top + i * panel + panel // 2 - 20), f"{TITLES[d]}\n{name}\n{budgets[(d, k)]:,} steps",
                  fill="black", font=font)
        for j, f in enumerate(fractions):
            pts = np.clip(shots[(d, k)][f], -lims[d], lims[d])
            img = Image.fromarray(images.scatter(pts, reference, size=panel - 6, lim=lims[d]))
            img = img.filter(ImageFilter.MinFilter(3))  # 1-pixel dots → 3×3: the darker (sample) colour wins
            canvas.paste(img, (left + j * panel + 3, top + i * panel + 3))
            draw.rectangle([left + j * panel + 2, top + i * panel + 2, left + (j + 1) * panel - 3,
                            top + (i + 1) * panel - 3], outline=(160, 160, 160))
    path.parent.mkdir(parents=True, exist_ok=True)
    images.save_png(np.asarray(canvas), path)


def shown(path: Path) -> str:
    """A path as the results record it: relative to the repository when inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help=f"generator steps per run (default {STEPS}; --quick 20)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2; --quick 0")
    p.add_argument("--rows", nargs="+", default=None, choices=[r.key for r in ROWS],
                   help="a subset of the rows; they replace their own in the results file, the other rows stay")
    p.add_argument("--quick", action="store_true", help="smoke run: every row, one seed, 20 steps")
    p.add_argument("--out", type=Path, default=RESULTS, help="where the json/md/png go (default experiments/results)")
    args = p.parse_args(argv)
    steps = args.steps or (20 if args.quick else STEPS)
    seeds = tuple(args.seeds or ((0,) if args.quick else SEEDS))
    rows = [r for r in ROWS if args.rows is None or r.key in args.rows]
    torch.set_num_threads(1)

    t_start = time.perf_counter()
    result = {"steps": steps, "seeds": list(seeds), "num_samples": NUM_SAMPLES, "base_config": str(BASE.relative_to(ROOT)),
              "recipes": {d: str(p.relative_to(ROOT)) for d, p in RECIPES.items()}, "torch": torch.__version__,
              "ganforge": ganforge.__version__, "threads": 1, "rows": []}
    shots, budgets = {}, {}
    with tempfile.TemporaryDirectory(prefix="ganforge-modes-") as tmp:
        for row in rows:
            entry = {"key": row.key, "label": row.label, "overrides": list(row.overrides),
                     "per_data": {d: list(v) for d, v in row.per_data.items()}}
            for d in DATASETS:
                runs = []
                n_steps = row_steps(row, d, steps, args.quick)
                entry[f"{d}_steps"] = budgets[(d, row.key)] = n_steps
                for seed in seeds:
                    snap = row.key in FIGURE_ROWS and seed == seeds[0]
                    r = train_one(row, d, n_steps, seed, Path(tmp), snap)
                    if snap:
                        shots[(d, row.key)] = r.pop("snapshots")
                    runs.append(r)
                    print(f"{row.key:>16} {TITLES[d]:>8} seed {seed}: modes {r['modes']:2d}  HQ {100 * r['hq']:5.1f} %  "
                          f"rev. KL {r['rkl'] if r['rkl'] is None else round(r['rkl'], 3)}  {r['wall_s']:.1f} s"
                          + (f"  FAILED: {r['error']}" if r["error"] else ""), file=sys.stderr, flush=True)
                entry[d] = {k: [r[k] for r in runs] for k in ("modes", "hq", "rkl", "train_s", "wall_s")}
                entry[d]["errors"] = [r["error"] for r in runs]
                entry[d]["summary"] = {k: summary(entry[d][k]) for k in ("modes", "hq", "rkl")}
            result["rows"].append(entry)
    result["total_s"] = round(time.perf_counter() - t_start, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    paths = {ext: args.out / f"mode_collapse_2d.{ext}" for ext in ("json", "md", "png")}
    if args.rows is not None and paths["json"].is_file():
        # a subset measured again: the other rows are kept as they were measured (with their settings)
        old = json.loads(paths["json"].read_text())
        if (old["steps"], old["seeds"]) != (steps, list(seeds)):
            raise SystemExit(f"{paths['json']} holds {old['steps']} steps, seeds {old['seeds']}: rerun every row "
                             f"to change them (or --out elsewhere)")
        done = {r["key"] for r in result["rows"]}
        order = [r.key for r in ROWS]
        result["rows"] = sorted([r for r in old["rows"] if r["key"] not in done] + result["rows"],
                                key=lambda r: order.index(r["key"]) if r["key"] in order else len(order))
        if "figure" in old and not all((d, k) in shots for d in DATASETS for k in FIGURE_ROWS):
            result["figure"] = old["figure"]
    if all((d, k) in shots for d in DATASETS for k in FIGURE_ROWS):
        figure(shots, budgets, paths["png"])
        result["figure"] = shown(paths["png"])
    result["markdown"] = shown(paths["md"])
    paths["json"].write_text(json.dumps(result, indent=1) + "\n")
    paths["md"].write_text(markdown(result))
    # one line for scripts: per row and dataset, mean modes and HQ
    brief = {"json": str(paths["json"]), "steps": steps, "seeds": list(seeds), "total_s": result["total_s"],
             "rows": {r["key"]: {d: [round(r[d]["summary"]["modes"]["mean"], 2), round(100 * r[d]["summary"]["hq"]["mean"], 1)]
                                 for d in DATASETS} for r in result["rows"]}}
    print(json.dumps(brief))
    return result


if __name__ == "__main__":
    main()
