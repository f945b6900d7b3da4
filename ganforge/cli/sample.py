"""`ganforge sample`, `interpolate` and `arithmetic`: draw from a trained generator and walk its latent space."""
from __future__ import annotations

import math

from .. import api
from ..errors import GanforgeError
from ..latent import arithmetic as latent_arithmetic, interpolate as latent_interpolate
from .generate import interpolate_text
from .output import check_out, npz_path, write_grid, write_npz
from .types import count, index_group, real, seed


def register(sub) -> None:
    """Add `sample`, `interpolate` and `arithmetic` to the subcommands."""
    s = sub.add_parser("sample", help="write samples of a trained run to an .npz")
    s.add_argument("run_dir")
    s.add_argument("--num", type=count(1), default=64)
    s.add_argument("--out", required=True, help="FILE.npz: 'images' uint8 (N, H, W, C) or 'points' float32 (N, D)")
    s.add_argument("--seed", type=seed, default=0)
    cls = s.add_mutually_exclusive_group()
    cls.add_argument("--class", dest="label", type=count(0), metavar="K", help="conditional runs: samples of class K only")
    cls.add_argument("--class-balanced", action="store_true",
                     help="conditional runs: every class equally often (the default for them); writes 'labels'")
    s.add_argument("--grid", metavar="FILE.png", help="also write the samples as a grid (row-major: index = row·cols + col)")
    s.set_defaults(run=sample)

    it = sub.add_parser("interpolate", help="a grid of walks through z between random pairs of samples")
    it.add_argument("run_dir")
    it.add_argument("--out", required=True, help="FILE.png")
    it.add_argument("--rows", type=count(1), default=6, help="number of walks (one per row)")
    it.add_argument("--steps", type=count(2), default=9, help="images per walk, ends included")
    it.add_argument("--method", choices=["slerp", "linear"], default="slerp")
    it.add_argument("--seed", type=seed, default=0)
    it.add_argument("--class", dest="label", type=count(0), metavar="K", help="conditional runs: keep class K on every row")
    it.add_argument("--text", action="append", metavar="CAPTION",
                    help="text-to-image runs: walk from one caption to another (--text A --text B), z fixed per row")
    it.set_defaults(run=interpolate)

    ar = sub.add_parser("arithmetic", help="DCGAN-style vector arithmetic on the z of chosen samples")
    ar.add_argument("run_dir")
    ar.add_argument("--out", required=True, help="FILE.png: the result and its noisy neighbours")
    ar.add_argument("--seed", type=seed, default=0, help="the exemplars are the samples of `ganforge sample --seed S`")
    ar.add_argument("--num", type=count(1), default=64, help="… --num N")
    ar.add_argument("--plus", type=index_group, action="append", required=True, metavar="I,J,K",
                    help="indices whose mean z is added (repeatable)")
    ar.add_argument("--minus", type=index_group, action="append", metavar="I,J,K",
                    help="indices whose mean z is subtracted")
    ar.add_argument("--variations", type=count(1), default=8, help="images: the result and its neighbours")
    ar.add_argument("--noise", type=real(0), default=0.25, help="uniform noise of the neighbours")
    ar.add_argument("--class", dest="label", type=count(0), metavar="K", help="conditional runs: the result's class")
    ar.set_defaults(run=arithmetic)


def check_class(gen, run_dir: str, label: int | None, balanced: str | None = None) -> None:
    """--class only means something to a conditional generator; silently ignoring it would mislead."""
    flag = "--class" if label is not None else balanced
    if flag and not gen.num_classes:
        raise GanforgeError(f"{run_dir}: {flag} needs a conditional run (cgan, acgan); this one is '{gen.cfg.family}'")
    if label is not None and not 0 <= label < gen.num_classes:
        raise GanforgeError(f"--class {label} out of range: {run_dir} has classes 0–{gen.num_classes - 1}")


def need_z_alone(gen, run_dir: str, what: str) -> None:
    """sample, interpolate and arithmetic draw from z (and a class); a generator that also takes data fields is
    asked through its own command."""
    if gen.conditions:
        use = ('`ganforge generate RUN "a caption"` or `interpolate --text A --text B`' if "embedding" in gen.conditions
               else "`ganforge translate`")
        raise GanforgeError(f"{run_dir}: {what} draws from z alone, and this run's generator ({gen.cfg.family}) "
                            f"takes {', '.join(gen.inputs)}; use {use}")


def need_images(gen, run_dir: str, what: str) -> None:
    """Grids are drawn of image runs only."""
    if gen.kind != "image":
        raise GanforgeError(f"{run_dir}: {what} draws an image grid, and this is a {gen.shape[0]}-D (vector) run; "
                            "write its points with `ganforge sample`")


def sample(args) -> None:
    """Samples to an .npz (and, with --grid, a PNG)."""
    check_out(args.out)
    check_out(args.grid, "--grid")
    gen = api.load(args.run_dir)
    need_z_alone(gen, args.run_dir, "sample")
    check_class(gen, args.run_dir, args.label, "--class-balanced" if args.class_balanced else None)
    if args.grid:
        need_images(gen, args.run_dir, "--grid")
    x = gen.sample(args.num, seed=args.seed, label=args.label)
    out = npz_path(args.out)
    write_npz(out, api.sample_arrays(gen, x, args.label))
    if args.grid:
        write_grid(x, args.grid, cols=math.ceil(math.sqrt(args.num)), flag="--grid")
    which = f" of class {args.label}" if args.label is not None else " (classes balanced)" if gen.num_classes else ""
    print(f"wrote {args.num} {'images' if gen.kind == 'image' else 'points'}{which} of shape {tuple(gen.shape)} "
          f"from step {gen.step} to {out}")


def interpolate(args) -> None:
    """A grid of walks through z, one a row (with --text: between two captions)."""
    if args.text is not None:
        return interpolate_text(args)
    check_out(args.out)
    gen = api.load(args.run_dir)
    need_z_alone(gen, args.run_dir, "interpolate without --text")
    need_images(gen, args.run_dir, "interpolate")
    check_class(gen, args.run_dir, args.label)
    x = latent_interpolate(gen, rows=args.rows, steps=args.steps, method=args.method, seed=args.seed, label=args.label)
    write_grid(x, args.out, cols=args.steps)
    print(f"wrote {args.rows} {args.method} interpolations of {args.steps} steps (seed {args.seed}) to {args.out}")


def check_indices(args) -> None:
    """The exemplars are the --num samples of `ganforge sample`: every index must name one of them."""
    for flag, groups in (("--plus", args.plus), ("--minus", args.minus or [])):
        bad = [i for g in groups for i in g if i >= args.num]
        if bad:
            raise GanforgeError(f"{flag} index {bad[0]} out of range: the exemplars are samples 0–{args.num - 1} "
                                f"(--num {args.num})")


def arithmetic(args) -> None:
    """mean z of some exemplars plus and minus others, and its noisy neighbours, as one grid row."""
    check_indices(args)
    check_out(args.out)
    gen = api.load(args.run_dir)
    need_z_alone(gen, args.run_dir, "arithmetic")
    need_images(gen, args.run_dir, "arithmetic")
    check_class(gen, args.run_dir, args.label)
    z = gen.latents(args.num, seed=args.seed)
    x = latent_arithmetic(gen, z, args.plus, args.minus or [], variations=args.variations, noise=args.noise,
                          label=args.label)
    write_grid(x, args.out, cols=args.variations)
    expr = " + ".join(f"mean{g}" for g in args.plus) + "".join(f" − mean{g}" for g in args.minus or [])
    print(f"wrote {expr} (z of `ganforge sample --seed {args.seed} --num {args.num}`) and {args.variations - 1} "
          f"neighbours to {args.out}")
