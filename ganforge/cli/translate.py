"""`ganforge translate`: an image-to-image run applied to image files, or to its own test split."""
from __future__ import annotations

from pathlib import Path

from .. import api
from ..errors import GanforgeError
from .output import check_out, npz_path, write_npz, writing
from .types import count


def register(sub) -> None:
    """Add `translate` to the subcommands."""
    tr = sub.add_parser("translate", help="image-to-image runs: translate image files, or the run's test split")
    tr.add_argument("run_dir")
    tr.add_argument("--input", metavar="FILE_OR_DIR", help="image file(s) to translate (a folder: recursively)")
    tr.add_argument("--test", action="store_true",
                    help="translate the test split of the run's own task; --out FILE.npz gets 'inputs', 'outputs', "
                         "'targets' (uint8 N×H×W×C) and 'labels'")
    tr.add_argument("--out", required=True, help="a new folder of PNGs (--input), or FILE.npz (--test)")
    tr.add_argument("--direction", choices=["AtoB", "BtoA"], help="which way (default: the family's own)")
    tr.add_argument("--num", type=count(1), help="--test: the first N test images (default all)")
    tr.set_defaults(run=translate)


def translate(args) -> None:
    """--test: the test split's inputs, outputs and targets to an .npz; --input: a folder of translated PNGs."""
    gen = api.translator(args.run_dir, args.direction)
    if args.test:
        if args.input is not None:
            raise GanforgeError("give --input FILE_OR_DIR or --test, not both")
        out = npz_path(args.out)
        check_out(str(out))
        arrays = api.translate_test(args.run_dir, args.direction, args.num)
        write_npz(out, arrays)
        n, h, w, c = arrays["outputs"].shape
        print(f"wrote {n} test translations ({gen.cfg.data.task or gen.cfg.data.name}) of shape {(h, w, c)}: "
              f"{', '.join(arrays)} to {out}")
        return
    if args.input is None:
        raise GanforgeError("give --input FILE_OR_DIR (image files to translate) or --test (the run's test split)")
    if args.num is not None:
        raise GanforgeError("--num applies to --test only")
    source = Path(args.input)
    if not source.exists():
        raise GanforgeError(f"--input {source}: no such file or folder")
    files = [source] if source.is_file() else api.list_images(source)
    if not files:
        raise GanforgeError(f"--input {source}: no images found (looked recursively for .png, .jpg, .jpeg)")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GanforgeError(f"--out {out}: exists and is not an empty folder; give a new folder for the translations")
    outputs = api.translate_files(gen, files)
    names = [f.name if source.is_file() else str(f.relative_to(source)) for f in files]
    for name, image in zip(names, outputs):
        path = (out / name).with_suffix(".png")
        with writing(path):  # creates its folder; an OS error names the file
            api.save_image(image, path)
    print(f"wrote {len(files)} translations of shape {tuple(gen.shape)} (step {gen.step}) to {out}")
