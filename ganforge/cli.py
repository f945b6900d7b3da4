"""The `ganforge` command: parse → typed config → build → run. User errors print one clear message, no traceback."""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from . import images
from .api import evaluate_run, load, load_family, read_run, read_run_config, translate_test, translator
from .config import apply_overrides, config_from_dict, load_config
from .data import MIXTURES, load_configured
from .data.base import to_unit
from .data.folder import list_images, read_images
from .data.shards import pack_folder, verify_shards
from .errors import GanforgeError
from .scoring import DEFAULT_METRICS, describe_evaluator, evaluate_images, evaluate_points, write_report
from .evaluator_training import load_evaluator_data, summary_line, train_evaluator
from .metrics.inception_net import resolve_inception_weights
from .families import available_families, get_family
from .latent import arithmetic, interpolate
from .nets import available_nets
from .train import train
from .train.check_d import check_discriminators
from .train.checkpoint import latest_checkpoint, load_state
from .train.doctor import read_diagnoses
from .train.logger import read_metrics


def _count(minimum: int):
    """argparse type: a whole number ≥ minimum, refused at parse time with the bound in the message."""
    def count(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n
    return count


def _seed(text: str) -> int:
    n = _count(0)(text)
    if n >= 2**63:  # torch seeds are 64-bit
        raise argparse.ArgumentTypeError(f"must be below 2**63, got {n}")
    return n


def _real(minimum: float, inclusive: bool = True):
    """argparse type: a finite float ≥ minimum (> minimum when not inclusive)."""
    def real(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not np.isfinite(x) or x < minimum or (x == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"must be a finite number {'≥' if inclusive else '>'} {minimum:g}, got {text}")
        return x
    return real


def _check_out(path: str | None, flag: str = "--out") -> None:
    """Refuse an output path that cannot be written before any work is done: an existing folder, or a path
    through a file. (Permissions and full disks surface at write time, see _writing.)"""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise GanforgeError(f"{flag} {path}: is a folder; give a file name (inside it, if you like)")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise GanforgeError(f"{flag} {path}: {parent} is a file, not a folder")


def _check_run_out(path: str | None) -> None:
    """train --out names a folder: refuse a file there, or a path through one, before the data is loaded."""
    if path is None:
        return
    for p in (Path(path), *Path(path).parents):
        if p.exists() and not p.is_dir():
            raise GanforgeError(f"--out {path}: {'it' if p == Path(path) else p} is a file, not a folder")


class _writing:
    """Create the output's folder and turn OS errors while writing it into a user error naming the file."""

    def __init__(self, path: str | Path, flag: str = "--out"):
        self.path, self.flag = Path(path), flag

    def __enter__(self) -> Path:
        _check_out(str(self.path), self.flag)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GanforgeError(f"{self.flag} {self.path}: cannot create {self.path.parent} ({e.strerror or e})") from None
        return self.path

    def __exit__(self, kind, err, tb) -> bool:
        if isinstance(err, OSError):
            raise GanforgeError(f"{self.flag} {self.path}: cannot write ({err.strerror or err})") from None
        return False


def _train(args) -> None:
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
        cfg = read_run_config(args.resume)
        cfg = config_from_dict(apply_overrides(cfg.model_dump(mode="json"), overrides), source=f"{args.resume}/config.yaml")
    else:
        if args.config is not None and Path(args.config).is_dir():
            raise GanforgeError(f"config {args.config}: is a folder, not a YAML file")
        cfg = load_config(args.config, overrides)
        _check_run_out(args.out)
    if args.use_intact_checkpoint and not args.resume:
        raise GanforgeError("--use-intact-checkpoint applies to --resume RUN_DIR only")
    run = train(cfg, out=args.out, resume=args.resume, use_intact_checkpoint=args.use_intact_checkpoint)
    latest = sorted((run.dir / "samples").glob("step_*.png"))[-1]
    why = "time budget reached" if run.stopped_by == "time_budget" else "all steps done"
    print(f"trained {cfg.family} on {cfg.data.name} to step {run.step} ({why})")
    print(f"run directory: {run.dir}")
    print(f"samples:       {latest}")
    if run.evaluation is not None:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in run.evaluation.items() if k in ("fid", "kid", "precision", "recall", "classes_covered", "modes", "high_quality", "test_error"))
        print(f"evaluation:    {shown} (report: {run.dir / 'eval.md'})")


def _sample(args) -> None:
    _check_out(args.out)
    _check_out(args.grid, "--grid")
    gen = load(args.run_dir)
    _check_class(gen, args.run_dir, args.label, "--class-balanced" if args.class_balanced else None)
    if args.grid:
        _need_images(gen, args.run_dir, "--grid")
    x = gen.sample(args.num, seed=args.seed, label=args.label)
    out = Path(args.out)
    out = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")  # numpy adds the suffix; say so
    arrays = {"images": images.to_uint8(x)} if gen.kind == "image" else {"points": x.numpy().astype(np.float32)}
    if gen.num_classes:  # the classes the samples were asked for, beside them
        arrays["labels"] = gen.labels(args.num, args.label).numpy()
    with _writing(out):
        np.savez_compressed(out, **arrays)
    if args.grid:
        _write_grid(x, gen, args.grid, cols=int(np.ceil(np.sqrt(args.num))), flag="--grid")
    which = f" of class {args.label}" if args.label is not None else " (classes balanced)" if gen.num_classes else ""
    print(f"wrote {args.num} {'images' if gen.kind == 'image' else 'points'}{which} of shape {tuple(gen.shape)} "
          f"from step {gen.step} to {out}")


def _check_class(gen, run_dir: str, label: int | None, balanced: str | None = None) -> None:
    """--class only means something to a conditional generator; silently ignoring it would mislead."""
    flag = "--class" if label is not None else balanced
    if flag and not gen.num_classes:
        raise GanforgeError(f"{run_dir}: {flag} needs a conditional run (cgan, acgan); this one is '{gen.cfg.family}'")
    if label is not None and not 0 <= label < gen.num_classes:
        raise GanforgeError(f"--class {label} out of range: {run_dir} has classes 0–{gen.num_classes - 1}")


def _need_images(gen, run_dir: str, what: str) -> None:
    if gen.kind != "image":
        raise GanforgeError(f"{run_dir}: {what} draws an image grid, and this is a {gen.shape[0]}-D (vector) run; "
                            "write its points with `ganforge sample`")


def _write_grid(x, gen, path: str, cols: int, flag: str = "--out") -> None:
    with _writing(path, flag):
        images.save_png(images.grid(images.to_uint8(x), cols=cols), path, scale=max(1, 96 // gen.shape[-1]))


def _interpolate(args) -> None:
    _check_out(args.out)
    gen = load(args.run_dir)
    _need_images(gen, args.run_dir, "interpolate")
    _check_class(gen, args.run_dir, args.label)
    x = interpolate(gen, rows=args.rows, steps=args.steps, method=args.method, seed=args.seed, label=args.label)
    _write_grid(x, gen, args.out, cols=args.steps)
    print(f"wrote {args.rows} {args.method} interpolations of {args.steps} steps (seed {args.seed}) to {args.out}")


def _group(text: str) -> list[int]:
    try:
        group = [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sample indices like 3,17,22, got {text!r}") from None
    if not group or min(group) < 0:
        raise argparse.ArgumentTypeError(f"expected sample indices ≥ 0 like 3,17,22, got {text!r}")
    return group


def _check_indices(args) -> None:
    """The exemplars are the --num samples of `ganforge sample`: every index must name one of them."""
    for flag, groups in (("--plus", args.plus), ("--minus", args.minus or [])):
        bad = [i for g in groups for i in g if i >= args.num]
        if bad:
            raise GanforgeError(f"{flag} index {bad[0]} out of range: the exemplars are samples 0–{args.num - 1} "
                                f"(--num {args.num})")


def _arithmetic(args) -> None:
    _check_indices(args)
    _check_out(args.out)
    gen = load(args.run_dir)
    _need_images(gen, args.run_dir, "arithmetic")
    _check_class(gen, args.run_dir, args.label)
    z = gen.latents(args.num, seed=args.seed)
    x = arithmetic(gen, z, args.plus, args.minus or [], variations=args.variations, noise=args.noise, label=args.label)
    _write_grid(x, gen, args.out, cols=args.variations)
    expr = " + ".join(f"mean{g}" for g in args.plus) + "".join(f" − mean{g}" for g in args.minus or [])
    print(f"wrote {expr} (z of `ganforge sample --seed {args.seed} --num {args.num}`) and {args.variations - 1} "
          f"neighbours to {args.out}")


def _encoder(run_dir: str):
    family, step = load_family(run_dir)
    if not family.has_encoder():
        raise GanforgeError(f"{run_dir}: '{family.cfg.family}' has no encoder; encode/reconstruct need a bigan or vae run")
    return family, step, family.encode


def _real_data(family, split: str, num: int | None):
    d = family.cfg.data
    data = load_configured(d, split)
    n = len(data) if num is None else min(num, len(data))
    return data.x[:n], (data.labels[:n] if data.labels is not None else None)


def _encode(args) -> None:
    _check_out(args.out)
    family, step, encode = _encoder(args.run_dir)
    x, labels = _real_data(family, args.split, args.num)
    with torch.no_grad():
        z = torch.cat([encode(c) for c in x.split(500)]).numpy().astype(np.float32)
    arrays = {"z": z} | ({"labels": labels.numpy()} if labels is not None else {})
    out = Path(args.out)
    out = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")  # numpy adds the suffix; say so
    with _writing(out):
        np.savez_compressed(out, **arrays)
    print(f"wrote z {z.shape} of {len(x)} {family.cfg.data.name} {args.split} examples (step {step}) to {out}")


def _reconstruct(args) -> None:
    _check_out(args.out)
    family, step, encode = _encoder(args.run_dir)
    if len(family.data_shape) != 3:
        raise GanforgeError("reconstruct draws images; for vector data use `ganforge encode` and G yourself")
    x, _ = _real_data(family, args.split, args.num)
    with torch.no_grad():
        rec = family.nets[family.generator](encode(x)).float()
    error = (x - rec).flatten(1).norm(dim=1).mean().item()
    cols = min(8, len(x))  # rows alternate: 8 originals, their 8 reconstructions
    pairs = torch.stack([x[: len(x) // cols * cols].view(-1, cols, *x.shape[1:]),
                         rec[: len(x) // cols * cols].view(-1, cols, *x.shape[1:])], dim=1).flatten(0, 2)
    with _writing(args.out):
        images.save_png(images.grid(images.to_uint8(pairs), cols=cols), args.out, scale=max(1, 96 // x.shape[-1]))
    print(f"wrote {len(x)} {args.split} images and G(E(x)) (step {step}) to {args.out}; "
          f"mean ‖x − G(E(x))‖ = {error:.3f} (pixels in [-1, 1])")


def _info(args) -> None:
    cfg, info = read_run(args.run_dir)
    ckpt = latest_checkpoint(args.run_dir)
    state = load_state(ckpt)
    metrics = read_metrics(Path(args.run_dir))
    summary = {
        "family": cfg.family,
        "networks": {n: c.arch for n, c in cfg.nets.items()},
        "objective": get_family(cfg.family).Options.model_validate(cfg.objective).model_dump(),
        "dataset": info["dataset"] + (f" (task {cfg.data.task})" if cfg.data.task else ""),
        "examples": info["num_examples"], "shape": info["shape"],
        "step": int(state["step"]), "of_steps": cfg.train.steps, "train_seconds": round(float(state["elapsed"]), 1),
        "checkpoint": str(ckpt),
        "last_metrics": metrics[-1] if metrics else None,
        "diagnoses": [{k: d[k] for k in ("step", "code", "message")} for d in read_diagnoses(args.run_dir)],
        "ganforge": info.get("ganforge"), "torch": info.get("torch"),
    }
    if args.json:
        print(json.dumps(summary))
        return
    for k, v in summary.items():
        if k == "last_metrics" and v:
            v = ", ".join(f"{mk}={mv:.4g}" if isinstance(mv, float) else f"{mk}={mv}" for mk, mv in v.items())
        if k == "diagnoses":  # the doctor's, one a line
            v = "".join(f"\n  [{d['code']}] {d['message']}" for d in v) if v else "none"
        print(f"{k:>14}: {v}")


def _evaluate(args) -> None:
    metrics = args.metrics or ",".join(DEFAULT_METRICS)
    if args.num_reference is not None:
        _check_sample_count(args.num_reference, metrics, "--num-reference")
    options = {"num_reference": args.num_reference}
    if args.inception_weights:  # a named file must exist; "auto" fetches pytorch-fid's weights once, checked
        options["inception_weights"] = resolve_inception_weights(args.inception_weights)
    if args.evaluator:
        options["evaluator"] = args.evaluator
    if args.samples:
        if args.run_dir:
            raise GanforgeError("give either RUN_DIR or --samples FILE.npz, not both")
        if not args.dataset:
            raise GanforgeError("--samples needs --dataset (the real data to compare with)")
        result = _evaluate_file(Path(args.samples), args.dataset, metrics, evaluate_images, evaluate_points,
                                data_path=args.data, **options)
        write_report(result, Path(args.samples).parent)
    elif args.run_dir:
        _check_sample_count(args.num, metrics, "--num")
        if args.data:
            raise GanforgeError("--data goes with --samples; a run is compared with its own data (data.path)")
        result = evaluate_run(args.run_dir, metrics, num=args.num, seed=args.seed, **options)
    else:
        raise GanforgeError("give a RUN_DIR or --samples FILE.npz --dataset NAME")
    shown = {k: v for k, v in result.items() if k != "provenance" and not isinstance(v, (list, str))}
    prov = result["provenance"]
    if "evaluator" in prov:
        print(f"{describe_evaluator(prov['evaluator'])}; {prov['num_samples']} samples vs {prov['reference_size']} "
              f"{prov['reference_split']} images")
    for k, v in shown.items():
        print(f"{k:>20}: {v:.4g}")
    print(json.dumps(result))


def _min_samples(metrics: str) -> int:
    """Fewest samples the chosen metrics are defined on: FID/KID a covariance (2), precision/recall the 3rd and
    density/coverage the 5th nearest other sample."""
    names = {m.strip() for m in metrics.split(",")}
    return 6 if "dc" in names else 4 if "pr" in names else 2


def _check_sample_count(n: int, metrics: str, what: str) -> None:
    need = _min_samples(metrics)
    if n < need:
        raise GanforgeError(f"{what}: {n} samples are too few for metrics {metrics} (they need at least {need})")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, read now (a damaged member fails here, not halfway through), never unpickled."""
    if path.is_dir():
        raise GanforgeError(f"--samples {path}: is a folder, not an .npz file")
    if not path.is_file():
        raise GanforgeError(f"--samples {path}: file not found")
    if path.stat().st_size == 0:
        raise GanforgeError(f"--samples {path}: the file is empty")
    if not zipfile.is_zipfile(path):  # also catches a truncated archive: its directory sits at the end
        raise GanforgeError(f"--samples {path}: not an .npz archive (truncated, or another format; "
                            "`ganforge sample` writes one)")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in z.files:
                try:
                    arrays[name] = z[name]
                except ValueError as e:
                    if "allow_pickle" not in str(e):
                        raise
                    raise GanforgeError(f"--samples {path}: '{name}' holds an object array (Python objects); "
                                        "ganforge will not unpickle it — save plain numeric arrays") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error) as e:
        raise GanforgeError(f"--samples {path}: not a readable .npz ({e})") from None
    return arrays


def _sample_labels(z: dict, n: int, path: Path):
    if "labels" not in z:
        return None
    labels = z["labels"]
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise GanforgeError(f"--samples {path}: 'labels' must be integers of shape (N,), got {labels.dtype} {labels.shape}")
    if len(labels) != n:
        raise GanforgeError(f"--samples {path}: {len(labels)} labels for {n} samples")
    if len(labels) and labels.min() < 0:
        raise GanforgeError(f"--samples {path}: 'labels' must be class numbers ≥ 0, found {labels.min()}")
    return torch.from_numpy(labels.astype(np.int64))


def _sample_points(a: np.ndarray, dataset: str, path: Path):
    if a.ndim != 2 or a.dtype.kind != "f" or not len(a):
        raise GanforgeError(f"--samples {path}: 'points' must be floats of shape (N, D), N ≥ 1, got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise GanforgeError(f"--samples {path}: 'points' holds {int((~np.isfinite(a)).sum())} NaN or infinite values")
    if dataset in MIXTURES and a.shape[1] != MIXTURES[dataset][0].shape[1]:
        raise GanforgeError(f"--samples {path}: points of dimension {a.shape[1]}; {dataset} is "
                            f"{MIXTURES[dataset][0].shape[1]}-D")
    return torch.from_numpy(a).float()


def _evaluate_file(path: Path, dataset: str, metrics, evaluate_images, evaluate_points, **options) -> dict:
    z = _read_npz(path)
    if "images" in z:
        a = z["images"]
        if a.dtype != np.uint8 or a.ndim != 4:
            raise GanforgeError(f"--samples {path}: 'images' must be uint8 (N, H, W, C), got {a.dtype} {a.shape}")
        _check_sample_count(len(a), metrics, f"--samples {path}")
        labels = _sample_labels(z, len(a), path)
        x = torch.from_numpy(a).permute(0, 3, 1, 2).float() / 127.5 - 1
        result = evaluate_images(x, dataset, metrics, labels=labels, out_dir=path.parent, **options)
    elif "points" in z:
        result = evaluate_points(_sample_points(z["points"], dataset, path), dataset)
    else:
        raise GanforgeError(f"--samples {path}: needs an array 'images' or 'points'; it has {', '.join(z) or 'none'}")
    result["provenance"]["samples_file"] = str(path)
    return result


def _infer_dataset(path: str | None) -> str:
    """What kind of data a --data path holds, for the commands that take a path without --dataset."""
    if path is None:
        raise GanforgeError("give --data PATH (your images) or --dataset NAME (a built-in dataset)")
    p = Path(path)
    if p.suffix == ".npz":
        return "npz"
    if (p / "manifest.json").is_file():
        return "shards"
    if p.is_dir():
        if any(f.name.endswith(("-idx3-ubyte", "-idx3-ubyte.gz")) for f in p.iterdir()):
            raise GanforgeError(f"{path} holds idx files: say which dataset with --dataset fashion-mnist or mnist")
        return "folder"
    raise GanforgeError(f"--data {path}: no such folder or .npz file")


def _evaluator_train(args) -> None:
    dataset = args.dataset or _infer_dataset(args.data)
    _check_out(args.out)
    data = load_evaluator_data(dataset, args.data, image_size=args.image_size, channels=args.channels,
                               held_out=args.held_out, seed=args.seed)
    kind = "classifier" if data.train.labels is not None and not args.ignore_labels else "self-supervised (SimCLR)"
    print(f"{dataset}: {len(data.train)} training and {len(data.held_out)} held-out images ({data.held_out_from}) "
          f"of shape {data.shape}; training a {kind} evaluator", flush=True)
    record = train_evaluator(data, args.out, minutes=None if args.epochs else args.minutes, epochs=args.epochs,
                             use_labels=not args.ignore_labels, seed=args.seed, flip=not args.no_flip,
                             device=args.device, log=lambda line: print(line, flush=True))
    print(summary_line(record))
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}; use it with --evaluator {args.out} "
          f"or eval.evaluator={args.out}")


def _check_d(args) -> int:
    cfg = load_config(args.config, args.overrides)
    verdicts = check_discriminators(cfg, args.seconds, log=lambda line: print(line, flush=True))
    for v in verdicts:
        print(v.words())
    return 0 if all(v.learns for v in verdicts) else 1


def _translate(args) -> None:
    gen = translator(args.run_dir, args.direction)
    if args.test:
        if args.input is not None:
            raise GanforgeError("give --input FILE_OR_DIR or --test, not both")
        out = Path(args.out)
        out = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")
        _check_out(str(out))
        arrays = translate_test(args.run_dir, args.direction, args.num)
        with _writing(out):
            np.savez_compressed(out, **arrays)
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
    files = [source] if source.is_file() else list_images(source)
    if not files:
        raise GanforgeError(f"--input {source}: no images found (looked recursively for .png, .jpg, .jpeg)")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GanforgeError(f"--out {out}: exists and is not an empty folder; give a new folder for the translations")
    c, side, _ = gen.field_shape(gen.conditions[0])
    outputs = gen.sample(len(files), condition=to_unit(read_images(files, side, c)))
    names = [f.name if source.is_file() else str(f.relative_to(source)) for f in files]
    for name, image in zip(names, images.to_uint8(outputs)):
        path = (out / name).with_suffix(".png")
        with _writing(path):  # creates its folder; an OS error names the file
            images.save_png(image, path)
    print(f"wrote {len(files)} translations of shape {tuple(gen.shape)} (step {gen.step}) to {out}")


def _list(args) -> None:
    print("families:")
    for name, doc in available_families().items():
        print(f"  {name:<12} {doc}")
    print("networks:  " + ", ".join(available_nets()))
    configs = Path(__file__).resolve().parent.parent / "configs"
    if configs.is_dir():
        print("configs:   " + ", ".join(sorted(p.name for p in configs.glob("*.yaml"))))


def _data_pack(args) -> None:
    m = pack_folder(args.folder, args.out, image_size=args.image_size, channels=args.channels,
                    shard_size=args.shard_size)
    size = sum(s["bytes"] for s in m["shards"])
    classes = len(m["classes"]) if m["classes"] else "no"
    print(f"packed {m['num_examples']} examples into {len(m['shards'])} shards of shape {tuple(m['shape'])}, "
          f"{classes} classes, {size} bytes, in {args.out}")


def _data_verify(args) -> None:
    m = verify_shards(args.folder)
    print(f"{args.folder}: {m['num_examples']} examples in {len(m['shards'])} shards verified (sha256, PNGs, labels)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganforge", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (default: DCGAN on Fashion-MNIST)")
    t.add_argument("items", nargs="*", metavar="CONFIG | key=value",
                   help="a YAML config (default configs/dcgan-fashion.yaml) and key=value overrides with dotted "
                        "keys, e.g. optim.D.lr=1e-4")
    t.add_argument("--data", help="data file or folder (default: the dataset's lookup order)")
    t.add_argument("--out", help="run directory (default runs/<family>-<data>-<time>)")
    t.add_argument("--steps", type=_count(1), help="total generator steps")
    t.add_argument("--time-budget", type=_real(0, inclusive=False), help="stop cleanly after this many seconds of training")
    t.add_argument("--seed", type=_seed)
    t.add_argument("--labels-per-class", type=_count(1), metavar="N",
                   help="semi-supervised families: keep the labels of N training examples per class, hide the rest")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run to --steps")
    t.add_argument("--use-intact-checkpoint", action="store_true",
                   help="with --resume: if the newest checkpoint is unreadable or holds NaN, continue from the newest "
                        "intact one (the unusable ones are renamed broken_step_*)")
    t.set_defaults(run=_train)

    s = sub.add_parser("sample", help="write samples of a trained run to an .npz")
    s.add_argument("run_dir")
    s.add_argument("--num", type=_count(1), default=64)
    s.add_argument("--out", required=True, help="FILE.npz: 'images' uint8 (N, H, W, C) or 'points' float32 (N, D)")
    s.add_argument("--seed", type=_seed, default=0)
    cls = s.add_mutually_exclusive_group()
    cls.add_argument("--class", dest="label", type=_count(0), metavar="K", help="conditional runs: samples of class K only")
    cls.add_argument("--class-balanced", action="store_true",
                     help="conditional runs: every class equally often (the default for them); writes 'labels'")
    s.add_argument("--grid", metavar="FILE.png", help="also write the samples as a grid (row-major: index = row·cols + col)")
    s.set_defaults(run=_sample)

    it = sub.add_parser("interpolate", help="a grid of walks through z between random pairs of samples")
    it.add_argument("run_dir")
    it.add_argument("--out", required=True, help="FILE.png")
    it.add_argument("--rows", type=_count(1), default=6, help="number of walks (one per row)")
    it.add_argument("--steps", type=_count(2), default=9, help="images per walk, ends included")
    it.add_argument("--method", choices=["slerp", "linear"], default="slerp")
    it.add_argument("--seed", type=_seed, default=0)
    it.add_argument("--class", dest="label", type=_count(0), metavar="K", help="conditional runs: keep class K on every row")
    it.set_defaults(run=_interpolate)

    ar = sub.add_parser("arithmetic", help="DCGAN-style vector arithmetic on the z of chosen samples")
    ar.add_argument("run_dir")
    ar.add_argument("--out", required=True, help="FILE.png: the result and its noisy neighbours")
    ar.add_argument("--seed", type=_seed, default=0, help="the exemplars are the samples of `ganforge sample --seed S`")
    ar.add_argument("--num", type=_count(1), default=64, help="… --num N")
    ar.add_argument("--plus", type=_group, action="append", required=True, metavar="I,J,K",
                    help="indices whose mean z is added (repeatable)")
    ar.add_argument("--minus", type=_group, action="append", metavar="I,J,K", help="indices whose mean z is subtracted")
    ar.add_argument("--variations", type=_count(1), default=8, help="images: the result and its neighbours")
    ar.add_argument("--noise", type=_real(0), default=0.25, help="uniform noise of the neighbours")
    ar.add_argument("--class", dest="label", type=_count(0), metavar="K", help="conditional runs: the result's class")
    ar.set_defaults(run=_arithmetic)

    en = sub.add_parser("encode", help="E(x) of a bigan/vae run for real examples (its dataset) → z.npz")
    en.add_argument("run_dir")
    en.add_argument("--out", required=True, help="FILE.npz: 'z' float32 (N, latent_dim) and 'labels' when known")
    en.add_argument("--split", choices=["train", "test"], default="test")
    en.add_argument("--num", type=_count(1), help="the first N examples (default all)")
    en.set_defaults(run=_encode)

    rc = sub.add_parser("reconstruct", help="real images beside G(E(x)) for a bigan/vae run")
    rc.add_argument("run_dir")
    rc.add_argument("--out", required=True, help="FILE.png: rows of 8 originals, each followed by their reconstructions")
    rc.add_argument("--split", choices=["train", "test"], default="test")
    rc.add_argument("--num", type=_count(1), default=32)
    rc.set_defaults(run=_reconstruct)

    i = sub.add_parser("info", help="what a run trained, on what, how far, with which results")
    i.add_argument("run_dir")
    i.add_argument("--json", action="store_true")
    i.set_defaults(run=_info)

    e = sub.add_parser("evaluate", help="FID, KID, IS, precision/recall, … of a run or a samples file")
    e.add_argument("run_dir", nargs="?")
    e.add_argument("--samples", help="FILE.npz as written by `ganforge sample`")
    e.add_argument("--dataset", help="real dataset to compare --samples with, e.g. fashion-mnist")
    e.add_argument("--metrics", help="comma-separated: fid,kid,is,pr,dc,modes,parzen,tstr,nn "
                                     "(default fid,kid,is,pr,dc,modes)")
    e.add_argument("--num", type=_count(2), default=10_000, help="samples to draw from the run")
    e.add_argument("--seed", type=_seed, default=0)
    e.add_argument("--num-reference", type=_count(2), help="real images to compare with (default: the whole test split)")
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
    e.set_defaults(run=_evaluate)

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
    budget.add_argument("--minutes", type=_real(0, inclusive=False), default=5.0,
                        help="time budget that chooses the epochs (default 5)")
    budget.add_argument("--epochs", type=_count(1), help="train exactly this many epochs (what the record's "
                                                         "command uses to rebuild the same weights)")
    et.add_argument("--ignore-labels", action="store_true", help="train the self-supervised evaluator even when "
                                                                 "the data has labels")
    et.add_argument("--held-out", type=_real(0, inclusive=False), default=0.1,
                    help="fraction held out for data without a test split (default 0.1, at most 0.5)")
    et.add_argument("--image-size", type=_count(1), metavar="S", help="resize to S×S (default: the data's own; "
                                                                      "64 for a folder) — use your GAN's size")
    et.add_argument("--channels", type=int, choices=(1, 3), help="1 grey or 3 colour (default: the data's own)")
    et.add_argument("--no-flip", action="store_true", help="never mirror images while training (text, digits)")
    et.add_argument("--seed", type=_seed, default=0)
    et.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default cpu)")
    et.set_defaults(run=_evaluator_train)

    # `ganforge data …`: dataset tools (a group, so more can join `pack`)
    dt = sub.add_parser("data", help="dataset tools: pack an image folder into shards for streaming")
    dsub = dt.add_subparsers(dest="data_command", required=True)
    dp = dsub.add_parser("pack", help="write an image folder as tar shards + manifest.json (WebDataset layout)")
    dp.add_argument("folder", help="image folder; class sub-folders become labels")
    dp.add_argument("--out", required=True, help="new folder for the shards")
    dp.add_argument("--image-size", type=_count(1), metavar="S",
                    help="centre-crop and resize to S×S (default: keep the size, which all images must share)")
    dp.add_argument("--channels", type=int, choices=[1, 3], default=3)
    dp.add_argument("--shard-size", type=_count(1), default=1000, metavar="N", help="examples per shard")
    dp.set_defaults(run=_data_pack)
    dv = dsub.add_parser("verify", help="check a shard folder: every shard's sha256, PNG and label")
    dv.add_argument("folder", help="a folder written by `ganforge data pack`")
    dv.set_defaults(run=_data_verify)

    tr = sub.add_parser("translate", help="image-to-image runs: translate image files, or the run's test split")
    tr.add_argument("run_dir")
    tr.add_argument("--input", metavar="FILE_OR_DIR", help="image file(s) to translate (a folder: recursively)")
    tr.add_argument("--test", action="store_true",
                    help="translate the test split of the run's own task; --out FILE.npz gets 'inputs', 'outputs', "
                         "'targets' (uint8 N×H×W×C) and 'labels'")
    tr.add_argument("--out", required=True, help="a new folder of PNGs (--input), or FILE.npz (--test)")
    tr.add_argument("--direction", choices=["AtoB", "BtoA"], help="which way (default: the family's own)")
    tr.add_argument("--num", type=_count(1), help="--test: the first N test images (default all)")
    tr.set_defaults(run=_translate)

    dr = sub.add_parser("doctor", help="checks to run before a long training run")
    drsub = dr.add_subparsers(dest="doctor_command", required=True)
    cd = drsub.add_parser("check-d", help="train the configured discriminator alone as a classifier (labels, or "
                                          "real vs pixel-shuffled images) and say whether it learns")
    cd.add_argument("items", nargs="*", metavar="CONFIG | key=value",
                    help="a YAML config (default configs/dcgan-fashion.yaml) and key=value overrides")
    cd.add_argument("--seconds", type=_real(1), default=60.0, help="time budget, shared by the discriminators "
                                                                  "(default 60)")
    cd.set_defaults(run=_check_d)

    ls = sub.add_parser("list", help="families, networks and configs that exist")
    ls.set_defaults(run=_list)
    return p


def _split_items(args, extra: list[str], parser: argparse.ArgumentParser) -> None:
    """`train` takes one CONFIG and any number of key=value overrides, anywhere on the line."""
    unknown = [a for a in extra if a.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    items = list(getattr(args, "items", [])) + extra
    configs = [a for a in items if "=" not in a]
    if len(configs) > 1:
        parser.error(f"one CONFIG at most, got {configs}")
    args.config = configs[0] if configs else None
    args.overrides = [a for a in items if "=" in a]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command in ("train", "doctor"):
        _split_items(args, extra, parser)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        status = args.run(args)  # a check that ran and found a fault answers 1; the rest answer nothing
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
