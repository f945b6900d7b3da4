"""Likelihood and sample quality disagree: a VAE and a GAN on Fashion-MNIST, side by side.

Trains configs/vae-fashion.yaml and configs/dcgan-fashion-paper.yaml (the default when it was measured) for the same seconds on one thread, then
reports for each: the VAE's test ELBO (a lower bound on its log-likelihood), the Parzen-window log-likelihood of the
test set under 10,000 samples (Goodfellow et al. 2014's estimate, σ chosen on 1,000 training images), and FID,
KID, precision and recall of the samples by the project's evaluator. Every log-likelihood is given in nats per
image of pixels in [0, 1] (the Parzen table's units): the VAE's density on [-1, 1] converts with + 784 log 2.

    python experiments/likelihood_vs_samples.py                 # ~25 minutes: 600 s per model + evaluation
    python experiments/likelihood_vs_samples.py --seconds 20    # a smoke run

Writes experiments/results/likelihood_vs_samples.{json,md} and docs/vae-fashion-<S>s.png; the last stdout line is
one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import torch

import ganforge
from ganforge import images
from ganforge.api import load_family
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.scoring import evaluate_images

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
MODELS = {"vae": "vae-fashion.yaml", "gan": "dcgan-fashion-paper.yaml"}
HUGE = 10**9


@torch.no_grad()
def test_elbo(run_dir: Path, test_x: torch.Tensor, seed: int) -> dict:
    """Mean test ELBO of a VAE run: nats per image on [-1, 1] and on [0, 1], and bits per 8-bit pixel."""
    family, _ = load_family(run_dir)
    torch.manual_seed(seed)  # dequantisation noise and the reparameterised z
    elbo = torch.cat([family.elbo(x)[0] for x in test_x.split(500)])
    d = test_x[0].numel()
    return {"test_elbo_nats": float(elbo.mean()), "test_elbo_nats_01": float(elbo.mean()) + d * math.log(2.0),
            "test_elbo_stderr": float(elbo.std() / math.sqrt(len(elbo))),
            "bits_per_dim": float(family.bits_per_dim(elbo.mean()))}


def run_model(name: str, seconds: float, seed: int, num: int, test_x: torch.Tensor, docs: Path | None) -> dict:
    torch.set_num_threads(1)
    cfg = load_config(ROOT / "configs" / MODELS[name], [
        f"train.time_budget={seconds}", f"train.steps={HUGE}", f"train.seed={seed}", "train.threads=1",
        "log.progress=false", "log.tensorboard=false", f"log.sample_every={HUGE}", f"checkpoint.every={HUGE}",
        "eval.final=false"])
    with tempfile.TemporaryDirectory(prefix="ganforge-lvs-") as tmp:
        run = ganforge.train(cfg, out=Path(tmp) / "run")
        x = ganforge.load(run.dir).sample(num, seed=seed)
        row = {"model": name, "config": f"configs/{MODELS[name]}", "seconds": seconds, "steps": run.step, "seed": seed}
        if name == "vae":
            row |= test_elbo(run.dir, test_x, seed)
            if docs is not None:
                docs.mkdir(parents=True, exist_ok=True)
                images.save_png(images.grid(images.to_uint8(x[:64]), cols=8), docs / f"vae-fashion-{int(seconds)}s.png", scale=2)
    scores = evaluate_images(x, "fashion-mnist", ["fid", "kid", "pr", "parzen", "modes"], seed=seed)
    return row | {k: v for k, v in scores.items() if k not in ("provenance", "class_histogram")}


def markdown(rows: list[dict]) -> str:
    lines = ["| model | steps | test ELBO (nats, [0,1] pixels) | bits / pixel | Parzen log-lik. (nats) | FID ↓ | KID ↓ | precision | recall | classes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        elbo = f"{r['test_elbo_nats_01']:.1f} ± {r['test_elbo_stderr']:.1f}" if "test_elbo_nats_01" in r else "—"
        bpd = f"{r['bits_per_dim']:.3f}" if "bits_per_dim" in r else "—"
        lines.append(f"| {r['model']} | {r['steps']:,} | {elbo} | {bpd} | {r['parzen']:.1f} ± {r['parzen_stderr']:.1f} "
                     f"(σ {r['parzen_sigma']:.3g}) | {r['fid']:.2f} | {r['kid']:.4f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['classes_covered']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600.0, help="training seconds per model (default 600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num", type=int, default=10_000, help="samples scored per model")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the VAE's sample grid goes")
    args = p.parse_args(argv)
    test_x = load_dataset("fashion-mnist", split="test").x
    rows = []
    for name in MODELS:
        row = run_model(name, args.seconds, args.seed, args.num, test_x, args.docs)
        print(f"{name}: {row['steps']} steps, FID {row['fid']:.2f}, Parzen {row['parzen']:.1f}"
              + (f", test ELBO {row['test_elbo_nats_01']:.1f} nats" if "test_elbo_nats_01" in row else ""),
              file=sys.stderr, flush=True)
        rows.append(row)
    result = {"rows": rows, "torch": torch.__version__, "ganforge": ganforge.__version__, "threads": 1,
              "units": "log-likelihoods in nats per image of 784 pixels scaled to [0, 1]"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "likelihood_vs_samples.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "likelihood_vs_samples.md").write_text(markdown(rows))
    print(json.dumps({"json": str(args.out / "likelihood_vs_samples.json"),
                      "rows": {r["model"]: {"steps": r["steps"], "fid": round(r["fid"], 2), "parzen": round(r["parzen"], 1),
                                            "elbo": round(r.get("test_elbo_nats_01", float("nan")), 1)} for r in rows}}))
    return result


if __name__ == "__main__":
    main()
