"""A one-seed screen of variants of ganforge's config under quality_at_budget.py's protocol (each trained --seconds
on one thread, two at a time, --num samples scored by the project's evaluator), without the plain loop: to pick
which variant deserves the full 3-seed run beside the plain loop. One seed scatters by ±1 FID; a screen ranks, it
does not decide.

    python bench/quality_screen.py --seed 1 --set objective.generators=4 \\
        --variant "betas0=optim.G.betas=[0.0,0.99];optim.D.betas=[0.0,0.99]" --variant "bf16=train.bf16=auto"
"""
import argparse
import json
import sys
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from quality_at_budget import GANFORGE, machine_record, one_run  # noqa: E402


def _variant(text: str) -> tuple[str, list[str]]:
    name, sep, overrides = text.partition("=")
    if not sep or not name or not overrides:
        raise argparse.ArgumentTypeError(f"--variant {text!r}: expected NAME=KEY=VALUE[;KEY=VALUE…]")
    return name, [o for o in overrides.split(";") if o]


def _job(args: tuple) -> dict:
    name, seconds, seed, num, overrides = args
    return {"variant": name, "overrides": overrides, **one_run(GANFORGE, seconds, seed, None, num, overrides)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an override of every variant")
    p.add_argument("--variant", action="append", type=_variant, required=True, metavar="NAME=KEY=VALUE[;…]")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    jobs = [(name, args.seconds, args.seed, args.num, [*args.set, *over]) for name, over in args.variant]
    with get_context("spawn").Pool(args.jobs) as pool:
        rows = pool.map(_job, jobs, chunksize=1)
    rows.sort(key=lambda r: r["fid"])
    for r in rows:
        print(f"{r['variant']:24s} {r['steps']:6d} steps  FID {r['fid']:7.2f}  precision {r['precision']:.3f}  "
              f"recall {r['recall']:.3f}")
    result = {"benchmark": "quality_screen", "command": "python bench/quality_screen.py " + " ".join(
                  sys.argv[1:] if argv is None else argv),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_record(),
              "seconds": args.seconds, "seed": args.seed, "num_samples": args.num, "threads": 1, "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
