"""Text-to-image on Fashion-MNIST (Reed et al. 2016): does the image follow the caption, also in words it never saw?

Trains the paper's four variants at one equal budget, one thread each: the plain text-conditional GAN
(configs/text-cgan-fashion.yaml), GAN-CLS (gan-cls-fashion.yaml), GAN-INT (gan-int-fashion.yaml) and GAN-INT-CLS
(gan-int-cls-fashion.yaml, the recommended one). Then, with the project's frozen Fashion-MNIST evaluator and the
attributes the captions were made from (ganforge.data.captions.measure):

- class agreement (the evaluator's class of a sample = its caption's class) on training phrasings, on held-out
  templates and synonyms ("pants", "trainer", "a photo of …"), and on held-out class × attribute combinations
  ("a light coat", "a dark sneaker": each word trained, never together);
- attribute agreement over caption pairs with the same z: "dark X" darker than "light X" (in training words and in
  held-out ones, "charcoal" / "pale"), "long-sleeved" tops with longer sleeves than "short-sleeved", "wide" clothes
  wider than "narrow";
- diversity per caption (mean pairwise distance of 100 samples of one caption, beside that of 100 real images of
  its class, and the evaluator's class histogram of them: the low diversity the lectures warn of), and FID overall
  (2,000 samples for the captions of 2,000 training images, against the test set).

    python experiments/text2image.py                  # the issue's budget: 20 CPU-minutes a model (~85 minutes)
    python experiments/text2image.py --seconds 240    # a reduced budget (say so where its numbers are shown)

Writes experiments/results/text2image.{json,md} and docs/text2image-<variant>.png (rows: captions, held-out ones
marked *, columns: z); the last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import torch

import ganforge
from ganforge import api, images
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.data import captions as C
from ganforge.metrics.frozen_evaluator import get_evaluator
from ganforge.scoring import evaluate_images

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
VARIANTS = {"baseline": "text-cgan-fashion.yaml", "gan_cls": "gan-cls-fashion.yaml",
            "gan_int": "gan-int-fashion.yaml", "gan_int_cls": "gan-int-cls-fashion.yaml"}
HUGE = 10**9
Z_PER_CAPTION = 20  # class agreement: samples of each caption
PAIRS_Z = 50  # attribute agreement: z per caption pair
DIVERSITY_N = 100
FID_N = 2000
GRID_CAPTIONS = [("a dark ankle boot", False), ("a light sandal with thin straps", False),
                 ("a long-sleeved pullover", False), ("a short-sleeved t-shirt", False), ("wide trousers", False),
                 ("a photo of pale pants", True), ("here we see a trainer", True), ("a photo of a purse", True),
                 ("a light coat", True), ("a dark sneaker", True)]  # True: held-out words or combination


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def samples(gen, captions: list[str], per: int, seed: int) -> torch.Tensor:
    """`per` samples of each caption, the same z for every caption (so pairs differ only in their caption)."""
    e = api.caption_embeddings(gen, captions).repeat_interleave(per, 0)
    z = gen.latents(per, seed).repeat(len(captions), 1)
    return api.generate_batches(gen.net, z, e)


def class_agreement(gen, evaluator, phrasing: C.Phrasing, seed: int, attrs=({},)) -> dict:
    """Mean over classes of how often the evaluator names the caption's class, captions in `phrasing`."""
    caps, classes = agreement_captions(phrasing, attrs)
    per_class = []
    for k in range(10):
        _, probs = evaluator.run(samples(gen, [c for c, c_k in zip(caps, classes) if c_k == k], Z_PER_CAPTION, seed))
        per_class.append(float((probs.argmax(1) == k).mean()))
    return {"mean": float(np.mean(per_class)), "per_class": per_class}


def agreement_captions(phrasing: C.Phrasing, attrs=({}, {"brightness": "dark"})) -> tuple[list[str], np.ndarray]:
    """The captions class agreement asks for, per class (3 picks of `phrasing`'s words for each attribute set), and
    their classes."""
    caps = [(C.phrase(k, a, phrasing, pick), k) for k in range(10) for a in attrs for pick in range(3)]
    return [c for c, _ in caps], np.array([k for _, k in caps])


def encoder_ceiling(data, seed: int, fit: int = 20000) -> dict:
    """What the sentence encoder alone allows: a linear probe (logistic regression) and a 1-nearest-neighbour
    classifier (cosine), fitted on the embeddings of `fit` of the data's training captions and their images'
    classes, then asked the class of the captions `class_agreement` uses. A G that sees a caption only through its
    embedding follows a held-out word well only where the embedding itself places it among its class's captions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    from ganforge.text import encode

    sets = data.captions
    labels = np.repeat(data.labels.numpy(), sets.counts)  # one row per caption
    pick = np.random.default_rng(seed).permutation(len(labels))[:fit]
    x, y = sets.embeddings.numpy()[pick], labels[pick]
    probes = {"linear_probe": LogisticRegression(max_iter=3000).fit(x, y),
              "nearest_neighbour": KNeighborsClassifier(1, metric="cosine").fit(x, y)}
    out: dict = {"fitted_on": len(y)}
    for name, probe in probes.items():
        out[name] = {}
        for phrasing_name, phrasing in (("training_phrasings", C.TRAIN), ("held_out_phrasings", C.HELD_OUT)):
            caps, k = agreement_captions(phrasing)
            hit = probe.predict(encode(caps, "all-MiniLM-L6-v2").numpy()) == k
            per_class = [float(hit[k == c].mean()) for c in range(10)]
            out[name][phrasing_name] = {"mean": float(np.mean(per_class)), "per_class": per_class}
    return out


def combination_agreement(gen, evaluator, seed: int) -> dict:
    """Class agreement and brightness agreement on the held-out class × attribute combinations: "a light coat"
    must be a coat, and lighter than "a dark coat" (a combination training did name) with the same z."""
    rows = {}
    for k, attribute, value in C.HELD_OUT_COMBINATIONS:
        other = "dark" if value == "light" else "light"
        held = [C.phrase(k, {attribute: value}, C.TRAIN, pick) for pick in range(3)]
        seen = [C.phrase(k, {attribute: other}, C.TRAIN, pick) for pick in range(3)]
        x_held, x_seen = samples(gen, held, Z_PER_CAPTION, seed), samples(gen, seen, Z_PER_CAPTION, seed)
        _, probs = evaluator.run(x_held)
        b_held = C.measure(images_u8(x_held))["brightness"]
        b_seen = C.measure(images_u8(x_seen))["brightness"]
        lighter = b_held > b_seen if value == "light" else b_held < b_seen
        rows[f"{value} {C.TRAIN.nouns[k][0]}"] = {"class_agreement": float((probs.argmax(1) == k).mean()),
                                                  "attribute_agreement": float(lighter.mean())}
    return {"mean_class_agreement": float(np.mean([r["class_agreement"] for r in rows.values()])),
            "mean_attribute_agreement": float(np.mean([r["attribute_agreement"] for r in rows.values()])),
            "rows": rows}


def images_u8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images → uint8 (N, 1, H, W), as the captions' attributes are measured on the data."""
    return torch.from_numpy(images.to_uint8(x)).permute(0, 3, 1, 2)


def attribute_agreement(gen, seed: int) -> dict:
    """Over caption pairs with one z: the share where the measured attribute moves the way the words say."""
    tests = [("brightness", "dark", "light", range(10), "brightness", lambda lo, hi: lo < hi),
             ("width", "narrow", "wide", C.CLOTHES, "width", lambda lo, hi: lo < hi),
             ("sleeves", "short", "long", C.TOPS, "sleeve_ratio", lambda lo, hi: lo < hi)]
    out = {}
    for phrasing_name, phrasing in (("training_words", C.TRAIN), ("held_out_words", C.HELD_OUT)):
        for attribute, low, high, classes, measure, holds in tests:
            hits = []
            for k in classes:
                lo = samples(gen, [C.phrase(k, {attribute: low}, phrasing, 0)], PAIRS_Z, seed)
                hi = samples(gen, [C.phrase(k, {attribute: high}, phrasing, 0)], PAIRS_Z, seed)
                hits.append(holds(C.measure(images_u8(lo))[measure], C.measure(images_u8(hi))[measure]))
            out[f"{attribute}/{phrasing_name}"] = float(np.concatenate(hits).mean())
    return out


def pairwise(x: torch.Tensor) -> float:
    """Mean L2 distance between distinct samples, pixels in [-1, 1]."""
    d = torch.cdist(x.flatten(1), x.flatten(1))
    n = len(x)
    return float(d.sum() / (n * (n - 1)))


def diversity(gen, evaluator, real, seed: int) -> dict:
    """Per class: the mean pairwise distance of 100 samples of one caption ("a <noun>") over that of 100 real images
    of the class, and the evaluator's class histogram of the samples."""
    rows = []
    for k in range(10):
        x = samples(gen, [C.phrase(k, {}, C.TRAIN, 0)], DIVERSITY_N, seed)
        real_k = real.examples((real.labels == k).nonzero().squeeze(1)[:DIVERSITY_N])
        _, probs = evaluator.run(x)
        rows.append({"caption": C.phrase(k, {}, C.TRAIN, 0), "spread": pairwise(x), "real_spread": pairwise(real_k),
                     "class_histogram": np.bincount(probs.argmax(1), minlength=10).tolist()})
    return {"mean_relative_spread": float(np.mean([r["spread"] / r["real_spread"] for r in rows])), "rows": rows}


def fid(gen, data, seed: int) -> float:
    """FID of samples for the captions of FID_N training images (the data's own mix of captions) vs the test set."""
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:FID_N]
    e = data.extra["embedding"][pick]
    x = api.generate_batches(gen.net, gen.latents(FID_N, seed), e)
    return float(evaluate_images(x, "fashion-mnist", ["fid"], seed=seed)["fid"])


def grid(gen, path: Path, seed: int, cols: int = 8) -> None:
    x = samples(gen, [c for c, _ in GRID_CAPTIONS], cols, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    images.save_png(images.grid(images.to_uint8(x), cols=cols), path, scale=2)


def run_variant(name: str, seconds: float, seed: int, docs: Path | None, overrides: tuple[str, ...] = ()) -> dict:
    """Train one variant for `seconds` CPU-seconds of training steps (train.budget_clock=cpu, one thread) and
    measure it. Runs in a process of its own, so it loads the (cached) data and the evaluator itself."""
    torch.set_num_threads(1)
    data = load_dataset("fashion-mnist", captions="attributes", encoder="all-MiniLM-L6-v2", seed=seed)
    real, evaluator = load_dataset("fashion-mnist", split="test"), get_evaluator("fashion-mnist")
    config = VARIANTS[name]
    cfg = load_config(ROOT / "configs" / config, [
        f"train.time_budget={seconds}", "train.budget_clock=cpu", f"train.steps={HUGE}", f"train.seed={seed}",
        "train.threads=1", "log.progress=false", "log.tensorboard=false", f"log.sample_every={HUGE}",
        f"checkpoint.every={HUGE}", "eval.final=false", *overrides])  # its own FID below, on 2,000 samples
    with tempfile.TemporaryDirectory(prefix="ganforge-t2i-") as tmp:
        load_before = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        run = ganforge.train(cfg, out=Path(tmp) / "run")
        train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
        gen = ganforge.load(run.dir)
        t0 = time.perf_counter()
        row = {"variant": name, "config": f"configs/{config}", "overrides": list(overrides), "seconds": seconds,
               "budget_clock": "cpu", "steps": run.step, "cpu_s": round(train_cpu, 1), "wall_s": round(train_s, 1),
               "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], "seed": seed,
               "class_agreement": {"training_phrasings": class_agreement(gen, evaluator, C.TRAIN, seed,
                                                                         ({}, {"brightness": "dark"})),
                                   "held_out_phrasings": class_agreement(gen, evaluator, C.HELD_OUT, seed,
                                                                         ({}, {"brightness": "dark"}))},
               "held_out_combinations": combination_agreement(gen, evaluator, seed),
               "attribute_agreement": attribute_agreement(gen, seed),
               "diversity": diversity(gen, evaluator, real, seed),
               "fid": fid(gen, data, seed)}
        row["eval_s"] = round(time.perf_counter() - t0, 1)
        if docs is not None:
            grid(gen, docs / f"text2image-{name}.png", seed)
    return row


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [f"Budget: {result['seconds_per_model']:.0f} CPU-seconds of training steps per model "
             f"(train.budget_clock=cpu), one thread each, {result['jobs']} models at a time"
             + (" — **reduced** from the issue's 1,200 s" if result["reduced_budget"] else "")
             + (", on a shared machine (other jobs ran beside it: more wall time, about the same steps)"
                if result["contended"] else "") + f"; CPU: {result['cpu']}; {result['date']}."
             + (f" Options beyond the configs: `{' '.join(result['overrides'])}`." if result["overrides"] else ""), "",
             "| variant | steps | CPU s | wall s | class agr. (training phrasings) | class agr. (held-out phrasings) | "
             "class agr. (held-out combinations) | brightness pairs (training words) | brightness pairs (held-out "
             "words) | held-out combination brightness | sleeves pairs | width pairs | spread per caption / real | FID ↓ |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        a, c = r["attribute_agreement"], r["class_agreement"]
        lines.append(
            f"| {r['variant']} | {r['steps']:,} | {r['cpu_s']:,.0f} | {r['wall_s']:,.0f} | "
            f"{c['training_phrasings']['mean']:.1%} | "
            f"{c['held_out_phrasings']['mean']:.1%} | {r['held_out_combinations']['mean_class_agreement']:.1%} | "
            f"{a['brightness/training_words']:.1%} | {a['brightness/held_out_words']:.1%} | "
            f"{r['held_out_combinations']['mean_attribute_agreement']:.1%} | {a['sleeves/training_words']:.1%} | "
            f"{a['width/training_words']:.1%} | {r['diversity']['mean_relative_spread']:.2f} | {r['fid']:.2f} |")
    if "encoder_ceiling" in result:
        e = result["encoder_ceiling"]
        lp, nn_ = e["linear_probe"], e["nearest_neighbour"]
        lines += ["", f"The encoder's own ceiling: fitted on the embeddings of {e['fitted_on']:,} training captions "
                  f"and their images' classes, with no image at all, a linear probe names the class of the held-out "
                  f"phrasings above in {lp['held_out_phrasings']['mean']:.1%} of cases (training phrasings "
                  f"{lp['training_phrasings']['mean']:.1%}) and a 1-nearest-neighbour classifier in "
                  f"{nn_['held_out_phrasings']['mean']:.1%}: a G that sees captions only through this encoder cannot be "
                  "expected to do better. Per class, named by its held-out noun (the probes, then each variant's "
                  "class agreement):", "", "| | " + " | ".join(C.HELD_OUT.nouns[k][0] for k in range(10)) + " |",
                  "|---" * 11 + "|",
                  "| linear probe | " + " | ".join(f"{v:.0%}" for v in lp["held_out_phrasings"]["per_class"]) + " |",
                  "| 1-NN | " + " | ".join(f"{v:.0%}" for v in nn_["held_out_phrasings"]["per_class"]) + " |"]
        for r in rows:
            lines.append(f"| {r['variant']} | " + " | ".join(
                f"{v:.0%}" for v in r["class_agreement"]["held_out_phrasings"]["per_class"]) + " |")
    lines += ["", "Held-out class × attribute combinations (class agreement / the attribute obeyed against the trained "
              "opposite, same z):", "", "| variant | " + " | ".join(rows[0]["held_out_combinations"]["rows"]) + " |",
              "|---" * (len(rows[0]["held_out_combinations"]["rows"]) + 1) + "|"]
    for r in rows:
        cells = [f"{v['class_agreement']:.0%} / {v['attribute_agreement']:.0%}"
                 for v in r["held_out_combinations"]["rows"].values()]
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
    lines += ["", "Class histogram of 100 samples of one caption (evaluator's classes 0–9):", "",
              "| variant | " + " | ".join(d["caption"] for d in rows[0]["diversity"]["rows"]) + " |",
              "|---" * 11 + "|"]
    for r in rows:
        lines.append(f"| {r['variant']} | " + " | ".join(
            " ".join(str(v) for v in d["class_histogram"]) for d in r["diversity"]["rows"]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1200.0,
                   help="CPU-seconds of training per model (the issue's: 1200)")
    p.add_argument("--jobs", type=int, default=2, help="variants trained at once, one thread each (2: both cores)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides for every variant (an A/B of an option; the recommended configs need none)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--contended", action="store_true", help="record that the machine was shared during the runs")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the sample grids go")
    p.add_argument("--no-docs", dest="docs", action="store_const", const=None, help="write no sample grids")
    args = p.parse_args(argv)
    data = load_dataset("fashion-mnist", captions="attributes", encoder="all-MiniLM-L6-v2", seed=args.seed)  # embed once
    ceiling = encoder_ceiling(data, args.seed)
    # spawned workers: a forked child of a process that has run OpenMP threads can hang in its first parallel region
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_variant, name, args.seconds, args.seed, args.docs, tuple(args.set))
                   for name in args.variants]
        rows = []
        for future in futures:
            row = future.result()
            print(f"{row['variant']}: {row['steps']} steps in {row['cpu_s']} CPU-s / {row['wall_s']} wall-s, held-out "
                  f"phrasings {row['class_agreement']['held_out_phrasings']['mean']:.3f}, combinations "
                  f"{row['held_out_combinations']['mean_class_agreement']:.3f}, brightness "
                  f"{row['attribute_agreement']['brightness/training_words']:.3f}, FID {row['fid']:.2f}",
                  file=sys.stderr, flush=True)
            rows.append(row)
    result = {"rows": rows, "encoder_ceiling": ceiling, "seconds_per_model": args.seconds, "budget_clock": "cpu", "jobs": args.jobs,
              "overrides": list(args.set),
              "reduced_budget": args.seconds < 1200,
              "contended": args.contended, "threads": 1, "cpu": cpu_model(), "date": date.today().isoformat(),
              "torch": torch.__version__, "ganforge": ganforge.__version__, "encoder": "all-MiniLM-L6-v2",
              "goals": {"held_out_phrasings_class_agreement": 0.9, "brightness_pairs": 0.9,
                        "gan_int_cls_beats_baseline_on_held_out_combinations": True},
              "fid_samples": FID_N}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "text2image.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "text2image.md").write_text(markdown(result))
    print(json.dumps({"json": str(args.out / "text2image.json"),
                      "rows": {r["variant"]: {"steps": r["steps"],
                                              "held_out": round(r["class_agreement"]["held_out_phrasings"]["mean"], 3),
                                              "fid": round(r["fid"], 2)} for r in rows}}))
    return result


if __name__ == "__main__":
    main()
