"""`ganforge encode` and `reconstruct`: the encoder of a bigan or vae run on real examples."""
from __future__ import annotations

from .. import api
from .output import check_out, npz_path, write_grid, write_npz
from .types import count


def register(sub) -> None:
    """Add `encode` and `reconstruct` to the subcommands."""
    en = sub.add_parser("encode", help="E(x) of a bigan/vae run for real examples (its dataset) → z.npz")
    en.add_argument("run_dir")
    en.add_argument("--out", required=True, help="FILE.npz: 'z' float32 (N, latent_dim) and 'labels' when known")
    en.add_argument("--split", choices=["train", "test"], default="test")
    en.add_argument("--num", type=count(1), help="the first N examples (default all)")
    en.set_defaults(run=encode)

    rc = sub.add_parser("reconstruct", help="real images beside G(E(x)) for a bigan/vae run")
    rc.add_argument("run_dir")
    rc.add_argument("--out", required=True, help="FILE.png: rows of 8 originals, each followed by their reconstructions")
    rc.add_argument("--split", choices=["train", "test"], default="test")
    rc.add_argument("--num", type=count(1), default=32)
    rc.set_defaults(run=reconstruct)


def encode(args) -> None:
    """z of real examples (and their labels) to an .npz."""
    check_out(args.out)
    e = api.encode_data(args.run_dir, args.split, args.num)
    out = npz_path(args.out)
    write_npz(out, {"z": e.z} | ({"labels": e.labels} if e.labels is not None else {}))
    print(f"wrote z {e.z.shape} of {len(e.z)} {e.dataset} {args.split} examples (step {e.step}) to {out}")


def reconstruct(args) -> None:
    """Rows of originals, each followed by their reconstructions, as one PNG."""
    check_out(args.out)
    r = api.reconstruct(args.run_dir, args.split, args.num)
    cols = min(8, len(r.x))  # rows alternate: 8 originals, their 8 reconstructions
    write_grid(r.pairs(cols), args.out, cols=cols)
    print(f"wrote {len(r.x)} {args.split} images and G(E(x)) (step {r.step}) to {args.out}; "
          f"mean ‖x − G(E(x))‖ = {r.error:.3f} (pixels in [-1, 1])")
