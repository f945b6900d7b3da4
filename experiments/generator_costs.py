"""The lecture's "comparison of generator costs" (Goodfellow 2016, Fig. 16): each cost as a function of D(G(z)),
and what each does to training the default DCGAN on Fashion-MNIST at a fixed CPU budget.

    python experiments/generator_costs.py                  # figure + 3 runs of 300 s (about 18 minutes)
    python experiments/generator_costs.py --figure-only    # the figure and its gradient table, seconds

The figure is computed from ganforge.objectives themselves (not redrawn formulas), with the gradient of each cost
with respect to D's logit where D rejects the fakes (D(G(z)) = 0.001) and where it is fooled (0.999).
Writes experiments/results/generator_costs.{png,json,md}; the last stdout line is the JSON.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ganforge.objectives import GENERATOR_COSTS

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = {"minimax": "minimax  E log(1 − D(G(z)))", "non_saturating": "non-saturating  −E log D(G(z))",
          "maximum_likelihood": "maximum likelihood  −E exp(σ⁻¹(D(G(z))))"}


def cost_curves(n: int = 400) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    d = torch.linspace(1e-3, 1 - 1e-3, n, dtype=torch.float64)
    logits = torch.logit(d)
    # GENERATOR_COSTS average over the batch; per point, call them on one logit at a time
    return d, {name: torch.stack([cost(l.view(1)) for l in logits]) for name, cost in GENERATOR_COSTS.items()}


def logit_gradients(p: float) -> dict[str, float]:
    out = {}
    for name, cost in GENERATOR_COSTS.items():
        logit = torch.logit(torch.tensor([p], dtype=torch.float64)).requires_grad_(True)
        (g,) = torch.autograd.grad(cost(logit), logit)
        out[name] = float(g)
    return out


def figure(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d, curves = cost_curves()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, c in curves.items():
        ax.plot(d.numpy(), c.numpy(), label=LABELS[name])
    ax.set_xlabel("D(G(z))")
    ax.set_ylabel("J(G)")
    ax.set_ylim(-20, 5)
    ax.set_title("Generator costs as a function of the discriminator's verdict")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1; see budget.py)")
    p.add_argument("--figure-only", action="store_true")
    p.add_argument("--fresh", action="store_true", help="ignore cached training rows")
    args = p.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    figure(RESULTS / "generator_costs.png")
    grads = {f"D(G(z))={q}": logit_gradients(q) for q in (0.001, 0.5, 0.999)}
    lines = ["| cost | dJ/dlogit at D(G(z)) = 0.001 | at 0.5 | at 0.999 |", "|---|---:|---:|---:|"]
    for name in GENERATOR_COSTS:
        lines.append(f"| {name} | " + " | ".join(f"{grads[k][name]:+.4f}" for k in grads) + " |")
    result: dict = {"experiment": "generator_costs", "logit_gradients": grads}
    if not args.figure_only:
        from budget import markdown_table, run_at_budget

        rows = {name: run_at_budget("dcgan-fashion-paper.yaml", [f"objective.generator_cost={name}"] if name != "non_saturating" else [],
                                    args.seconds, args.seed, args.num, args.threads, args.fresh)
                for name in ("non_saturating", "minimax", "maximum_likelihood")}
        result |= {"seconds": args.seconds, "num_samples": args.num, "rows": rows}
        lines += ["", f"Default DCGAN, {args.seconds:.0f} s of training each, {args.num} samples:", "", markdown_table(rows)]
    (RESULTS / "generator_costs.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "generator_costs.json").write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(lines))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
