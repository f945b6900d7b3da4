"""`ganforge data …`: dataset tools (a group, so more can join `pack` and `verify`)."""
from __future__ import annotations

from .. import api
from .output import counted
from .types import count


def register(sub) -> None:
    """Add `data` and its subcommands to the subcommands."""
    dt = sub.add_parser("data", help="dataset tools: pack an image folder into shards for streaming")
    dsub = dt.add_subparsers(dest="data_command", required=True)
    dp = dsub.add_parser("pack", help="write an image folder as tar shards + manifest.json (WebDataset layout)")
    dp.add_argument("folder", help="image folder; class sub-folders become labels, and its captions (name.txt beside "
                    "name.png, or captions.jsonl / captions.csv) are packed beside the images")
    dp.add_argument("--out", required=True, help="new folder for the shards")
    dp.add_argument("--image-size", type=count(1), metavar="S",
                    help="centre-crop and resize to S×S (default: keep the size, which all images must share)")
    dp.add_argument("--channels", type=int, choices=[1, 3], default=None,
                    help="1 (grey) or 3 (RGB); default: from the images (1 when every image is grey)")
    dp.add_argument("--shard-size", type=count(1), default=1000, metavar="N", help="examples per shard")
    dp.set_defaults(run=pack)
    dv = dsub.add_parser("verify", help="check a shard folder: every shard's sha256, PNG and label")
    dv.add_argument("folder", help="a folder written by `ganforge data pack`")
    dv.set_defaults(run=verify)


def pack(args) -> None:
    """An image folder → shards, and a line saying what was written."""
    m = api.pack_shards(args.folder, args.out, image_size=args.image_size, channels=args.channels,
                        shard_size=args.shard_size)
    size = sum(s["bytes"] for s in m["shards"])
    classes = counted(len(m["classes"]), "class", "classes") if m["classes"] else "no classes"
    captions = f" with {counted(m['captions']['count'], 'caption')}" if m["captions"] else ""
    print(f"packed {counted(m['num_examples'], 'example')}{captions} into {counted(len(m['shards']), 'shard')} of "
          f"shape {tuple(m['shape'])}, {classes}, {size} bytes, in {args.out}")


def verify(args) -> None:
    """Check every shard; a damaged one is a GanforgeError naming it."""
    m = api.verify_shards(args.folder)
    checked = "sha256, PNGs, labels" + (", captions" if m["captions"] else "")
    print(f"{args.folder}: {counted(m['num_examples'], 'example')} in {counted(len(m['shards']), 'shard')} verified "
          f"({checked})")
