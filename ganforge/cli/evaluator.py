"""`ganforge evaluator train`: a feature network for FID/KID/PR on the user's own images."""
from __future__ import annotations

from pathlib import Path

from .. import api
from ..errors import GanforgeError
from ..fileio import check_writable
from .output import check_out
from .types import count, real, seed


def register(sub) -> None:
    """Add `evaluator` and its subcommands to the subcommands."""
    ev = sub.add_parser("evaluator", help="feature networks for FID/KID/PR on your own data")
    evsub = ev.add_subparsers(dest="evaluator_command", required=True)
    et = evsub.add_parser("train", help="train an evaluator on a labelled (classifier) or unlabelled "
                                        "(self-supervised SimCLR) image dataset")
    et.add_argument("--data", metavar="PATH", help="image folder (class sub-folders = labels), .npz (images, "
                                                   "optional labels), shards folder, or the idx files' folder")
    et.add_argument("--dataset", help="what --data is (folder, npz, shards, fashion-mnist, mnist, digits); "
                                      "inferred from --data when left out")
    et.add_argument("--out", required=True, metavar="FILE.safetensors", help="weights; the record goes beside it "
                                                                             "as FILE.json")
    budget = et.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=real(0, inclusive=False), default=5.0,
                        help="time budget that chooses the epochs (default 5)")
    budget.add_argument("--epochs", type=count(1), help="train exactly this many epochs (what the record's "
                                                        "command uses to rebuild the same weights)")
    et.add_argument("--ignore-labels", action="store_true", help="train the self-supervised evaluator even when "
                                                                 "the data has labels")
    et.add_argument("--held-out", type=real(0, inclusive=False), default=0.1,
                    help="fraction held out for data without a test split (default 0.1, at most 0.5)")
    et.add_argument("--image-size", type=count(1), metavar="S", help="resize to S×S (default: the data's own; "
                                                                     "a folder's as `train` takes it) — use your "
                                                                     "GAN's size")
    et.add_argument("--channels", type=int, choices=(1, 3), help="1 grey or 3 colour (default: the data's own)")
    et.add_argument("--no-flip", action="store_true", help="never mirror images while training (text, digits)")
    et.add_argument("--overwrite", action="store_true", help="replace an evaluator already at --out (and its record)")
    et.add_argument("--seed", type=seed, default=0)
    et.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default cpu)")
    et.set_defaults(run=train)


def train(args) -> None:
    """Load the data, say what will be trained, train it, and say how to use it."""
    dataset = args.dataset or api.infer_dataset(args.data)
    check_out(args.out)
    check_new_evaluator(Path(args.out), args.overwrite)
    data = api.load_evaluator_data(dataset, args.data, image_size=args.image_size, channels=args.channels,
                                   held_out=args.held_out, seed=args.seed)
    recipe, _ = api.recipe_for(data, use_labels=not args.ignore_labels)  # train_evaluator says why labels go unused
    kind = "classifier" if recipe == "classifier" else "self-supervised (SimCLR)"
    print(f"{dataset}: {len(data.train)} training and {len(data.held_out)} held-out images ({data.held_out_from}) "
          f"of shape {data.shape}; training a {kind} evaluator", flush=True)
    record = api.train_evaluator(data, args.out, minutes=None if args.epochs else args.minutes, epochs=args.epochs,
                                 use_labels=not args.ignore_labels, seed=args.seed, flip=not args.no_flip,
                                 device=args.device, log=lambda line: print(line, flush=True))
    print(api.evaluator_summary(record))
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}; use it with --evaluator {args.out} "
          f"or eval.evaluator={args.out}")


def check_new_evaluator(out: Path, overwrite: bool) -> None:
    """Before the data is read: refuse an evaluator (or record) already at `out` unless `overwrite`, and a folder
    that cannot be written."""
    existing = [p for p in (out, out.with_suffix(".json")) if p.exists()]
    if existing and not overwrite:
        raise GanforgeError(f"--out {out}: {existing[0]} already exists; pass --overwrite to replace it, or choose "
                            "another --out")
    check_writable(out, "--out")
