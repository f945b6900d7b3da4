"""`ganforge evaluate`: FID, KID, IS, precision/recall, … of a run or of a samples file."""
from __future__ import annotations

import json
from pathlib import Path

from .. import api
from ..errors import GanforgeError
from .types import count, seed


def register(sub) -> None:
    """Add `evaluate` to the subcommands."""
    e = sub.add_parser("evaluate", help="FID, KID, IS, precision/recall, … of a run or a samples file")
    e.add_argument("run_dir", nargs="?")
    e.add_argument("--samples", help="FILE.npz as written by `ganforge sample`")
    e.add_argument("--dataset", help="real dataset to compare --samples with, e.g. fashion-mnist")
    e.add_argument("--metrics", help="comma-separated: fid,kid,is,pr,dc,modes,parzen,tstr,nn "
                                     "(default fid,kid,is,pr,dc,modes)")
    e.add_argument("--num", type=count(2), default=10_000, help="samples to draw from the run")
    e.add_argument("--seed", type=seed, default=0)
    e.add_argument("--num-reference", type=count(2), help="real images to compare with (default: the whole test split)")
    e.add_argument("--data", metavar="PATH", help="with --samples: the real data's file or folder (a user's "
                                                     "folder, npz or shards; --dataset says which kind)")
    e.add_argument("--evaluator", metavar="FILE.safetensors",
                   help="the feature network to score with (made by `ganforge evaluator train`); default: the "
                        "dataset's built-in evaluator, or the run's eval.evaluator")
    inception = e.add_mutually_exclusive_group()
    inception.add_argument("--inception-weights", metavar="PATH|auto",
                           help="score with the standard FID Inception-v3 instead: pytorch-fid's "
                                "pt_inception-2015-12-05 weights file, or 'auto' to download it once (checked by "
                                "sha256) into the cache")
    inception.add_argument("--inception", dest="inception_weights", action="store_const", const="auto",
                           help="the same as --inception-weights auto")
    e.set_defaults(run=evaluate)


def evaluate(args) -> None:
    """Score a run (RUN_DIR) or a samples file (--samples --dataset); print the numbers, then the whole result."""
    metrics = args.metrics or ",".join(api.DEFAULT_METRICS)
    if args.num_reference is not None:
        api.check_sample_count(args.num_reference, metrics, "--num-reference")
    options = {"num_reference": args.num_reference}
    if args.inception_weights:  # a named file must exist; "auto" fetches pytorch-fid's weights once, checked
        options["inception_weights"] = api.resolve_inception_weights(args.inception_weights)
    if args.evaluator:
        options["evaluator"] = args.evaluator
    if args.samples:
        if args.run_dir:
            raise GanforgeError("give either RUN_DIR or --samples FILE.npz, not both")
        if not args.dataset:
            raise GanforgeError("--samples needs --dataset (the real data to compare with)")
        path = Path(args.samples)
        result = api.evaluate_samples(path, args.dataset, metrics, what=f"--samples {path}", data_path=args.data,
                                      **options)
    elif args.run_dir:
        api.check_sample_count(args.num, metrics, "--num")
        if args.data:
            raise GanforgeError("--data goes with --samples; a run is compared with its own data (data.path)")
        result = api.evaluate_run(args.run_dir, metrics, num=args.num, seed=args.seed, **options)
    else:
        raise GanforgeError("give a RUN_DIR or --samples FILE.npz --dataset NAME")
    shown = {k: v for k, v in result.items() if k != "provenance" and not isinstance(v, (list, str))}
    prov = result["provenance"]
    if "evaluator" in prov:
        reference = prov.get("reference") or f"{prov['reference_size']} {prov['reference_split']} images"
        print(f"{api.describe_evaluator(prov['evaluator'])}; {prov['num_samples']} samples vs {reference}")
    for k, v in shown.items():
        print(f"{k:>20}: {v:.4g}")
    eval_json, eval_md = api.report_paths(result, args.samples)
    print(f"wrote {eval_json} and {eval_md}")
    print(json.dumps(result))
