"""`ganforge generate` (images of a caption) and `ganforge interpolate --text A --text B` (a walk between two
captions): text-to-image runs only."""
from __future__ import annotations

import math
from pathlib import Path

from .. import api
from ..errors import GanforgeError
from .output import check_out, write_grid, write_npz
from .types import count, seed


def register(sub) -> None:
    """Add `generate` to the subcommands (`interpolate --text` is registered with `interpolate`)."""
    g = sub.add_parser("generate", help="text-to-image runs: images of a caption, to an .npz or a .png grid")
    g.add_argument("run_dir")
    g.add_argument("caption", help='what to draw, e.g. "a dark ankle boot"')
    g.add_argument("--num", type=count(1), default=16, help="images to draw (default 16)")
    g.add_argument("--seed", type=seed, default=0)
    g.add_argument("--out", required=True,
                   help="FILE.npz ('images' uint8 N×H×W×C and 'captions') or FILE.png (a grid)")
    g.set_defaults(run=generate)


def output_kind(out: str) -> str:
    """'png' or 'npz' by the file's suffix; anything else is refused before the run is loaded."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".npz"):
        raise GanforgeError(f"--out {out}: give FILE.npz (the images and captions) or FILE.png (a grid)")
    return suffix[1:]


def generate(args) -> None:
    """Images of one caption: an .npz of uint8 images with the caption, or a PNG grid."""
    kind = output_kind(args.out)
    check_out(args.out)
    x = api.generate(args.run_dir, args.caption, num=args.num, seed=args.seed)
    if kind == "npz":
        write_npz(Path(args.out), api.text_arrays(x, [args.caption.strip()] * len(x)))
    else:
        write_grid(x, args.out, cols=math.ceil(math.sqrt(len(x))))
    print(f"wrote {len(x)} images of {args.caption.strip()!r} (seed {args.seed}) to {args.out}")


def interpolate_text(args) -> None:
    """`interpolate --text A --text B`: rows of one z each, columns stepping from caption A to caption B."""
    if len(args.text) != 2:
        raise GanforgeError(f"--text: give two captions to walk between (--text A --text B), got {len(args.text)}")
    if args.label is not None:
        raise GanforgeError("--class does not combine with --text: the captions say what to draw")
    kind = output_kind(args.out)
    check_out(args.out)
    first, second = args.text
    x = api.interpolate_captions(args.run_dir, first, second, rows=args.rows, steps=args.steps, seed=args.seed)
    if kind == "npz":
        betas = [i / (args.steps - 1) for i in range(args.steps)] * args.rows
        write_npz(Path(args.out), api.text_arrays(x, [f"{1 - b:.3g}·{first!r} + {b:.3g}·{second!r}" for b in betas]))
    else:
        write_grid(x, args.out, cols=args.steps)
    print(f"wrote {args.rows} walks of {args.steps} steps from {first.strip()!r} to {second.strip()!r} "
          f"(seed {args.seed}) to {args.out}")
