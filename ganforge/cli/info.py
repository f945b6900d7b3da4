"""`ganforge info` (what a run is) and `ganforge list` (what exists to train)."""
from __future__ import annotations

import json

from .. import api
from ..config import available_configs


def register_info(sub) -> None:
    """Add `info` to the subcommands."""
    i = sub.add_parser("info", help="what a run trained, on what, how far, with which results")
    i.add_argument("run_dir")
    i.add_argument("--json", action="store_true")
    i.set_defaults(run=info)


def register_list(sub) -> None:
    """Add `list` to the subcommands."""
    ls = sub.add_parser("list", help="families, networks and configs that exist")
    ls.set_defaults(run=list_all)


def info(args) -> None:
    """The run's summary, a line a field (or one JSON object with --json)."""
    summary = api.run_summary(args.run_dir)
    if args.json:
        print(json.dumps(summary))
        return
    for k, v in summary.items():
        if k == "last_metrics" and v:
            v = ", ".join(f"{mk}={mv:.4g}" if isinstance(mv, float) else f"{mk}={mv}" for mk, mv in v.items())
        if k == "encoder":  # a text-to-image run's sentence encoder
            v = v["name"] + (f" (files' sha256 {v['hash'][:12]}…)" if v.get("hash") else "")
        if k == "diagnoses":  # the doctor's, one a line
            v = "".join(f"\n  [{d['code']}] {d['message']}" for d in v) if v else "none"
        print(f"{k:>14}: {v}")


def list_all(args) -> None:
    """Families with their one-line descriptions, network names and the configs the package ships (each can be
    given to `ganforge train` by its bare name)."""
    print("families:")
    for name, doc in api.available_families().items():
        print(f"  {name:<12} {doc}")
    print("networks:  " + ", ".join(api.available_nets()))
    print("configs:   " + ", ".join(available_configs()))
