"""Does the critic's loss track sample quality? (CS109B; Arjovsky et al. 2017, Figs. 3-4: "the Wasserstein estimate
correlates with sample quality", unlike the JS-based GAN's discriminator loss.)

WGAN (clipping), WGAN-GP and the default bce DCGAN each train for --seconds on Fashion-MNIST (one thread, seeds
0-2), evaluating FID on 2,000 samples about 12 times (`eval.every`, set from a short pilot's step rate). At every
evaluation the loss signal is averaged over the logging windows since the previous one:
- the critic's Wasserstein estimate E[D(x)] − E[D(G(z))] for WGAN and WGAN-GP (what the paper plots);
- D's loss for the bce DCGAN.
Spearman's ρ between that signal and FID over a run's evaluations says how well the loss tracks quality: ρ near +1
means the loss falls as FID falls. A second ρ counts only the evaluations from the signal's peak on: a critic that
is still learning to measure makes its estimate rise at first, and the paper trains its critic near optimality
before reading it (an analysis chosen after seeing the curves, reported as such). The figure shows both curves of
seed 0 on one step axis.

    python experiments/wasserstein_vs_fid.py [--seconds 300] [--seeds 0,1,2] [--jobs 2]
    python experiments/wasserstein_vs_fid.py --from-json     # table and figure again from the saved runs

Writes experiments/results/wasserstein_vs_fid.{json,md} and docs/wasserstein-vs-fid.png.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
FIGURE = ROOT / "docs" / "wasserstein-vs-fid.png"
HUGE = 10**9
EVALUATIONS = 12
# name: (config, the loss signal in metrics.jsonl, what it is)
RUNS = {
    "WGAN (clipping)": ("wgan-fashion.yaml", "wasserstein_estimate", "Wasserstein estimate"),
    "WGAN-GP": ("wgan-gp-fashion.yaml", "wasserstein_estimate", "Wasserstein estimate"),
    "DCGAN (bce)": ("dcgan-fashion.yaml", "loss/d_bce", "D's loss"),
}


def _overrides(seconds: float, seed: int, every: int) -> list[str]:
    # about four logging windows between evaluations: the signal at an evaluation is their mean
    return ["train.threads=1", f"train.time_budget={seconds}", f"train.steps={HUGE}", f"train.seed={seed}",
            "log.progress=false", "log.tensorboard=false", f"log.every={max(1, every // 4)}", f"log.sample_every={HUGE}",
            f"checkpoint.every={HUGE}", "eval.final=false", f"eval.every={every}", "eval.num=2000",
            "eval.metrics=[fid]"]


def run(name: str, seed: int, seconds: float, evaluations: int = EVALUATIONS) -> dict:
    import torch

    import ganforge
    from ganforge.config import load_config
    from ganforge.rundir import read_metrics

    torch.set_num_threads(1)
    config, signal, _ = RUNS[name]
    with tempfile.TemporaryDirectory(prefix="ganforge-wfid-") as tmp:
        # pilot: the step rate, so every run gets about EVALUATIONS evaluations whatever its speed
        pilot_s = min(8.0, seconds)
        pilot = ganforge.train(load_config(ROOT / "configs" / config, _overrides(pilot_s, seed, HUGE)),
                               out=Path(tmp) / "p")
        every = max(1, round(pilot.step * seconds / pilot_s / evaluations))
        t0 = time.time()
        r = ganforge.train(load_config(ROOT / "configs" / config, _overrides(seconds, seed, every)),
                           out=Path(tmp) / "run")
        rows = read_metrics(r.dir)
    evals = [m for m in rows if "eval/fid" in m]
    points, last = [], 0
    for e in evals:  # the signal averaged over the windows since the previous evaluation
        window = [m[signal] for m in rows if last < m["step"] <= e["step"] and signal in m]
        if window:
            points.append({"step": e["step"], "fid": e["eval/fid"], "signal": float(np.mean(window))})
        last = e["step"]
    return {"name": name, "seed": seed, "config": config, "signal": signal, "steps": r.step, "eval_every": every,
            "seconds": round(time.time() - t0), "points": points, "spearman": _rho(points)}


def _rho(points: list[dict]) -> float | None:
    return float(spearmanr([p["signal"] for p in points], [p["fid"] for p in points])[0]) if len(points) > 2 else None


def after_peak(points: list[dict]) -> float | None:
    """ρ over the evaluations from the signal's largest value on (None for fewer than 3)."""
    peak = max(range(len(points)), key=lambda i: points[i]["signal"])
    return _rho(points[peak:])


def _shown(values: list[float | None]) -> tuple[str, str]:
    valid = [v for v in values if v is not None]  # None: fewer than 3 evaluations
    return (", ".join("–" if v is None else f"{v:+.2f}" for v in values),
            f"{np.mean(valid):+.2f}" if valid else "–")


def report(results: list[dict]) -> str:
    lines = ["| run | loss signal | seeds | steps (seed 0) | ρ(signal, FID), whole run, per seed | mean | ρ from the "
             "signal's peak on (post hoc) | mean | FID at the end (seed 0) |",
             "|---|---|---:|---:|---|---:|---|---:|---:|"]
    for name, (_, _, what) in RUNS.items():
        rs = sorted((r for r in results if r["name"] == name), key=lambda r: r["seed"])
        if not rs:
            continue
        whole, whole_mean = _shown([r["spearman"] for r in rs])
        peak, peak_mean = _shown([after_peak(r["points"]) for r in rs])
        lines.append(f"| {name} | {what} | {len(rs)} | {rs[0]['steps']} | {whole} | {whole_mean} | {peak} | "
                     f"{peak_mean} | {rs[0]['points'][-1]['fid']:.1f} |")
    return "\n".join(lines)


def figure(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(RUNS), figsize=(4.2 * len(RUNS), 3.4))
    for ax, (name, (_, _, what)) in zip(axes, RUNS.items()):
        r = next((r for r in results if r["name"] == name and r["seed"] == 0), None)
        if r is None:
            continue
        steps = [p["step"] for p in r["points"]]
        ax.plot(steps, [p["signal"] for p in r["points"]], "o-", color="tab:blue")
        ax.set_xlabel("training step")
        ax.set_ylabel(what, color="tab:blue")
        twin = ax.twinx()
        twin.plot(steps, [p["fid"] for p in r["points"]], "s--", color="tab:red")
        twin.set_ylabel("FID (2,000 samples)", color="tab:red")
        rho = "n/a" if r["spearman"] is None else f"{r['spearman']:+.2f}"
        ax.set_title(f"{name}: ρ = {rho}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", help="comma-separated run names (default: all)")
    p.add_argument("--evaluations", type=int, default=EVALUATIONS, help="FID evaluations a run (default 12)")
    p.add_argument("--out", help="folder for the results and the figure (default: experiments/results and docs)")
    p.add_argument("--from-json", action="store_true", help="rewrite the table and figure from the saved runs")
    args = p.parse_args(argv)
    results_dir = Path(args.out) if args.out else RESULTS
    if args.from_json:
        results = json.loads((results_dir / "wasserstein_vs_fid.json").read_text())["runs"]
        (results_dir / "wasserstein_vs_fid.md").write_text(report(results) + "\n")
        figure(results, results_dir / FIGURE.name if args.out else FIGURE)
        print(report(results))
        return results
    names = [n for n in RUNS if not args.only or n in args.only.split(",")]
    jobs = [(n, int(s), args.seconds, args.evaluations) for n in names for s in args.seeds.split(",")]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, *zip(*jobs)))
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "wasserstein_vs_fid.json").write_text(json.dumps({"seconds": args.seconds, "runs": results},
                                                                    indent=1) + "\n")
    (results_dir / "wasserstein_vs_fid.md").write_text(report(results) + "\n")
    figure(results, results_dir / FIGURE.name if args.out else FIGURE)
    print(report(results))
    return results


if __name__ == "__main__":
    main()
