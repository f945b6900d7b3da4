"""`ganforge train`: a config and its overrides → a trained run (or a run resumed)."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

from .. import api
from ..config import apply_overrides, config_from_dict, load_config
from ..errors import GanforgeError
from ..rundir import RunDir
from .output import check_run_out
from .types import count, real, seed

SHOWN_METRICS = ("fid", "kid", "precision", "recall", "classes_covered", "modes", "high_quality", "test_error")


def register(sub) -> None:
    """Add `train` to the subcommands."""
    t = sub.add_parser("train", help="train a model (default: DCGAN on Fashion-MNIST)")
    t.add_argument("items", nargs="*", metavar="CONFIG | key=value",
                   help="a YAML config by path or bare name (default dcgan-fashion) and key=value overrides with dotted "
                        "keys, e.g. optim.D.lr=1e-4")
    t.add_argument("--data", help="data file or folder (default: the dataset's lookup order)")
    t.add_argument("--out", help="run directory (default runs/<family>-<data>-<time>)")
    t.add_argument("--steps", type=count(1), help="total generator steps")
    t.add_argument("--time-budget", type=real(0, inclusive=False), help="stop cleanly after this many seconds of training")
    t.add_argument("--seed", type=seed)
    t.add_argument("--labels-per-class", type=count(1), metavar="N",
                   help="semi-supervised families: keep the labels of N training examples per class, hide the rest")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run to --steps")
    t.add_argument("--use-intact-checkpoint", action="store_true",
                   help="with --resume: if the newest checkpoint is unreadable or holds NaN, continue from the newest "
                        "intact one (the unusable ones are renamed broken_step_*)")
    t.set_defaults(run=train)


def _config(args):
    """The run's config: a resumed run's own, or CONFIG (default: DCGAN on Fashion-MNIST), with the overrides."""
    overrides = list(args.overrides)
    for flag, key in ((args.data, "data.path"), (args.steps, "train.steps"), (args.time_budget, "train.time_budget"),
                      (args.seed, "train.seed"), (args.labels_per_class, "data.labels_per_class")):
        if flag is not None:
            overrides.append(f"{key}={flag}")
    if args.resume:
        if args.config:
            raise GanforgeError("give either a CONFIG or --resume RUN_DIR, not both (a resumed run keeps its config)")
        if args.out:
            raise GanforgeError("give either --out or --resume RUN_DIR, not both (a resumed run stays in its folder)")
        cfg = api.read_run_config(args.resume)
        cfg = config_from_dict(apply_overrides(cfg.model_dump(mode="json"), overrides),
                               source=str(RunDir(args.resume).config))
        return api.settle_data(cfg, api.data_keys_given(args.overrides))
    if args.config is not None and Path(args.config).is_dir():
        raise GanforgeError(f"config {args.config}: is a folder, not a YAML file")
    cfg = api.settle_data(load_config(args.config, overrides), api.data_keys_given(args.overrides))
    check_run_out(args.out)
    return cfg


def interrupted(run) -> int:
    """Say where an interrupted run stopped and how to go on; the exit status is 128 + the signal's number (130
    for SIGINT, 143 for SIGTERM), as a shell reports a command the signal stopped."""
    name = signal.Signals(run.signal).name
    print(f"ganforge: {name}: stopped after step {run.step} and wrote its checkpoint; `ganforge train --resume "
          f"{run.dir}` continues from step {run.step}", file=sys.stderr)
    return 128 + run.signal


def train(args) -> int | None:
    """Train (or resume), then say where the run, its newest samples and its evaluation are."""
    cfg = _config(args)
    if args.use_intact_checkpoint and not args.resume:
        raise GanforgeError("--use-intact-checkpoint applies to --resume RUN_DIR only")
    run = api.train(cfg, out=args.out, resume=args.resume, use_intact_checkpoint=args.use_intact_checkpoint)
    if run.rank:  # one of several processes (torchrun): rank 0 says where the run is
        return 128 + run.signal if run.stopped_by == "interrupted" else None
    if run.stopped_by == "interrupted":
        return interrupted(run)
    latest = RunDir(run.dir).sample_grids()[-1]
    why = "time budget reached" if run.stopped_by == "time_budget" else "all steps done"
    print(f"trained {cfg.family} on {cfg.data.name} to step {run.step} ({why})")
    print(f"run directory: {run.dir}")
    print(f"samples:       {latest}")
    if RunDir(run.dir).report.is_file():  # not when writing it failed (training said why)
        print(f"page:          {RunDir(run.dir).report}")
    if run.evaluation is not None:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in run.evaluation.items() if k in SHOWN_METRICS) or "none"
        print(f"evaluation:    {shown} (report: {RunDir(run.dir).eval_md})")
