"""Train an evaluator on any image data ganforge reads and write it with its record.

    data = load_evaluator_data("folder", path="my_images/", image_size=32, channels=3)
    record = train_evaluator(data, "my.safetensors", minutes=5)

The held-out split is the data's own test split where it has one (Fashion-MNIST, MNIST, shards with test/),
otherwise a seeded fraction of the examples. The record names the data (its sha256), the split, the held-out
accuracy (or, self-supervised, a k-NN accuracy from labels the training never saw), the train-vs-held-out FID
floor, and the command that rebuilds the same weights (epochs explicit: a time budget only chooses them).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import save_file

from .._version import __version__
from ..data import Dataset, load_dataset
from ..data.kinds import detect_kind
from ..errors import GanforgeError
from ..fileio import atomic_path, atomic_write, check_writable, file_sha256
from ..metrics import frechet_distance, kid
from ..metrics.frozen_evaluator import load_evaluator, record_path
from . import classifier, contrastive

HAS_TEST_SPLIT = ("fashion-mnist", "mnist")  # built-ins with an official test split
FLOOR_IMAGES = 10_000  # training images the floor compares with the held-out split (the built-in's protocol)
MAX_EPOCHS = 200
# a classifier needs at least this many classes, each with this many training images; with fewer, one class is
# learnt from nothing (a one-class classifier's features collapse: FID floor 0, noise scoring as real)
MIN_CLASSES = 2
MIN_CLASS_IMAGES = 10


@dataclass
class EvaluatorData:
    """Training and held-out images (float in [-1, 1]) with labels or None, and where they came from."""

    dataset: str
    path: str | None
    train: Dataset
    held_out: Dataset
    held_out_from: str  # "test split" or "a 10 % fraction (seed 0)"
    sha256: str  # of the images (and labels) as stored, before the split

    @property
    def shape(self) -> tuple[int, ...]:
        return self.train.shape


def _digest(ds: Dataset) -> hashlib._Hash:
    h = hashlib.sha256(ds.stored.contiguous().numpy().tobytes())
    if ds.labels is not None:
        h.update(ds.labels.numpy().tobytes())
    return h


def infer_dataset(path: str | os.PathLike | None) -> str:
    """The dataset a path holds, for a caller given a path without a dataset name: its kind by the rule training
    uses (`ganforge.data.kinds.detect_kind`: "npz", "shards", "pairs", "unpaired" or "folder"), so an evaluator
    made from a path reads it as a run trained on it does. Idx files must be named (fashion-mnist or mnist): they
    are refused with that advice."""
    if path is None:
        raise GanforgeError("give --data PATH (your images) or --dataset NAME (a built-in dataset)")
    kind = detect_kind(path)
    if kind == "idx":
        raise GanforgeError(f"--data {path} holds idx files: say which dataset with --dataset fashion-mnist or mnist")
    return kind


def load_evaluator_data(dataset: str, path: str | os.PathLike | None = None, *, image_size: int | None = None,
                        channels: int | None = None, held_out: float = 0.1, seed: int = 0,
                        task: str | None = None) -> EvaluatorData:
    """The images an evaluator trains and is checked on. `held_out` (0 < f ≤ 0.5) is used only for data without a
    test split of its own. `task` derives an image-to-image task's fields as a run would (x stays the image)."""
    if not 0 < held_out <= 0.5:
        raise GanforgeError(f"the held-out fraction (--held-out) must be in (0, 0.5], got {held_out}")
    load = lambda split: load_dataset(dataset, path=path, split=split, image_size=image_size,  # noqa: E731
                                      channels=channels, task=task)
    train = load("train")
    if hasattr(train, "load"):  # streamed shards: an evaluator trains on the data in memory
        train = train.load()
    if train.kind != "image":
        raise GanforgeError(f"{dataset}: evaluators are trained on images; this data is {train.kind}s")
    test_split = dataset in HAS_TEST_SPLIT or (dataset == "shards" and (Path(path) / "test").is_dir())
    if test_split:
        test = load("test")
        digest = _digest(train)
        digest.update(_digest(test).digest())
        return EvaluatorData(dataset, _str(path), train, test, "the test split", digest.hexdigest())
    n_held = max(2, round(held_out * len(train)))
    if len(train) - n_held < 2:
        raise GanforgeError(f"{dataset}: {len(train)} images are too few to train an evaluator and hold some out")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    digest = _digest(train).hexdigest()
    return EvaluatorData(dataset, _str(path), train.subset(order[n_held:]), train.subset(order[:n_held]),
                         f"a {held_out:.0%} fraction (seed {seed})", digest)


def labels_unusable(data: EvaluatorData) -> str | None:
    """Why the labels of `data` cannot train a classifier (fewer than MIN_CLASSES classes, or a class with fewer than
    MIN_CLASS_IMAGES training images); None when they can, or when there are none."""
    labels = data.train.labels
    if labels is None:
        return None
    counts = torch.bincount(labels.long(), minlength=data.train.num_classes)
    present = int((counts > 0).sum())
    if present < MIN_CLASSES:
        return (f"{present} class{'' if present == 1 else 'es'} in its labels; a classifier needs at least "
                f"{MIN_CLASSES}")
    small = [str(c) for c in range(len(counts)) if 0 < counts[c] < MIN_CLASS_IMAGES]
    if small:
        return (f"class{'' if len(small) == 1 else 'es'} {', '.join(small[:5])}{' …' if len(small) > 5 else ''} "
                f"{'has' if len(small) == 1 else 'have'} fewer than {MIN_CLASS_IMAGES} training images")
    return None


def labels_note(data: EvaluatorData, unusable: str | None) -> str:
    """What the record says of the labels of an evaluator trained without them."""
    if data.train.labels is None:
        return "none"
    return f"present, unusable ({unusable})" if unusable else "present, unused"


def recipe_for(data: EvaluatorData, use_labels: bool = True) -> tuple[str, str | None]:
    """("classifier" or "contrastive", why the labels were not used when they are present but unusable)."""
    if not use_labels or data.train.labels is None:
        return "contrastive", None
    why = labels_unusable(data)
    return ("contrastive", why) if why else ("classifier", None)


def _str(path) -> str | None:
    return None if path is None else str(path)


def _steps_per_epoch(n: int, batch: int) -> int:
    return max(1, n // batch)


def choose_epochs(minutes: float, seconds_per_step: float, steps_per_epoch: int, check_seconds: float = 0.0,
                  fixed_seconds: float = 0.0) -> int:
    """Epochs that fit `minutes`: each costs its steps and its held-out check (`check_seconds`); `fixed_seconds`
    (the report and the floor, after training) come off the budget first. At least 1, at most MAX_EPOCHS."""
    epoch = seconds_per_step * steps_per_epoch + check_seconds
    return int(min(MAX_EPOCHS, max(1, (minutes * 60 - fixed_seconds) // epoch)))


def measure_costs(trainer, data: EvaluatorData) -> tuple[float, float, float]:
    """(seconds a training step takes, seconds of an epoch's held-out check, seconds of the report and the floor
    after training), measured on the real batch and images with the global RNG left as it was."""
    per_step = time_step(trainer.throwaway_step)
    with torch.random.fork_rng():
        t0 = time.perf_counter()
        trainer.epoch_line(0.0)  # the held-out check every epoch ends with
        check = time.perf_counter() - t0
        per_image = trainer.forward_seconds_per_image()
    n_train, n_held = len(data.train), len(data.held_out)
    # the report reads the training and held-out images once, the floor up to FLOOR_IMAGES of them and the held-out;
    # doubled, plus a second for FID/KID and the writes: a busy machine measured 2-3× the forward passes' time
    fixed = 2 * per_image * (n_train + n_held + min(FLOOR_IMAGES, n_train) + n_held) + 1.0
    return per_step, check, fixed


def time_step(step: Callable[[], None], repeats: int = 4) -> float:
    """Median seconds of `step` after one warm-up, with the global RNG left as it was (the timing must not change
    what the real training draws)."""
    with torch.random.fork_rng():
        step()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def train_evaluator(data: EvaluatorData, out: str | os.PathLike, *, minutes: float | None = 5.0,
                    epochs: int | None = None, use_labels: bool = True, seed: int = 0, flip: bool = True,
                    device: str | torch.device = "cpu", log: Callable[[str], None] = print) -> dict:
    """Train a classifier (labelled data, `use_labels`) or a SimCLR network (otherwise) and write `out`
    (.safetensors) and its record (.json beside it). `epochs` fixes the schedule; otherwise `minutes` chooses it."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise GanforgeError(f"--out {out}: an evaluator is written as a .safetensors file (its record beside it)")
    if epochs is None and minutes is None:
        raise GanforgeError("give epochs or minutes")
    if epochs is not None and not 1 <= epochs <= MAX_EPOCHS:
        raise GanforgeError(f"epochs must be in [1, {MAX_EPOCHS}], got {epochs}")
    if minutes is not None and not 0 < minutes <= 24 * 60:
        raise GanforgeError(f"minutes must be in (0, 1440], got {minutes}")
    kind, unusable = recipe_for(data, use_labels)
    if unusable:
        log(f"labels not used: {unusable}; training the self-supervised (SimCLR) evaluator instead")
    labelled = kind == "classifier"
    recipe = classifier if labelled else contrastive
    check_writable(out, "--out")  # before the training, not after it
    device = torch.device(device)
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    trainer = recipe.Trainer(data, seed=seed, flip=flip, device=device)
    deadline = None
    if epochs is None:
        per_step, check, fixed = measure_costs(trainer, data)
        left = minutes - (time.perf_counter() - t0) / 60  # the measuring itself comes off the budget
        epochs = choose_epochs(max(left, 0.0), per_step, trainer.steps_per_epoch, check, fixed)
        spent = time.perf_counter() - t0
        estimate = spent + epochs * (per_step * trainer.steps_per_epoch + check) + fixed
        plan = (f"{per_step * 1000:.0f} ms a step, {trainer.steps_per_epoch} steps an epoch, {check:.1f} s of held-out "
                f"checks an epoch, ~{fixed:.0f} s for the report and floor: {epochs} "
                f"epoch{'' if epochs == 1 else 's'}")
        if estimate <= minutes * 60:
            log(f"{plan} in about {estimate:.0f} s of the {minutes * 60:.0f} s budget")
        else:  # at least one step is trained, and the report and floor always run: say when it will really end
            ends = max(minutes * 60 - fixed, spent + per_step) + fixed
            log(f"{plan} would take ~{estimate:.0f} s, more than the {minutes * 60:.0f} s budget: the training stops "
                f"at the budget, and with the report and floor the command ends after about {ends:.0f} s")
        deadline = t0 + minutes * 60 - fixed
    trained_steps = trainer.fit(epochs, log, deadline)
    model = trainer.model.cpu().eval()
    seconds = time.perf_counter() - t0

    record = {
        "name": out.stem, "kind": "classifier" if labelled else "contrastive", "arch": "cnn_classifier",
        "arch_args": trainer.arch_args, "in_shape": list(data.shape),
        "num_classes": data.train.num_classes if labelled else 0,
        **({} if labelled else {"head_dim": contrastive.PROJECTION_DIM, "method": contrastive.METHOD}),
        **trainer.report(),
        "data": {"dataset": data.dataset, "path": data.path, "sha256": data.sha256, "train_images": len(data.train),
                 "held_out_images": len(data.held_out), "held_out": data.held_out_from,
                 "labels": "used" if labelled else labels_note(data, unusable)},
        "command": rebuild_command(data, out, epochs, seed, labelled, flip),
        "epochs": epochs, "seed": seed, "flip": flip,
        **({} if trained_steps == epochs * trainer.steps_per_epoch else {
            "stopped_by_budget": f"after {trained_steps} of {epochs * trainer.steps_per_epoch} steps (the command "
                                 "trains them all)"}),
        # bit-exact rebuilds need the same machine, torch and thread count (kernels split sums by thread)
        "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__, "ganforge": __version__, "platform": platform.platform(),
        "train_seconds": round(seconds, 1), "date": time.strftime("%Y-%m-%d"),
    }
    weak = near_chance(record)
    if weak:
        record["warning"] = weak
        log(f"warning: {weak}")
    partial = out.with_name(f".{out.stem}.partial-{os.getpid()}.safetensors")
    try:  # written aside and judged there: an evaluator whose features cannot tell images apart never lands
        write_evaluator(model, record, partial)
        cut_short = weak or "stopped_by_budget" in record
        record |= floor(partial, data, name=str(out), advice=(
            f"it trained {trained_steps} of {epochs * trainer.steps_per_epoch} steps: train it longer, with more "
            "--minutes or --epochs") if cut_short else MORE_DATA)
        record["train_seconds_with_floor"] = round(time.perf_counter() - t0, 1)
        write_record(partial, record)
        os.replace(partial, out)  # weights first: new weights beside the old record are refused by their hash
        os.replace(record_path(partial), record_path(out))
    finally:
        partial.unlink(missing_ok=True)
        record_path(partial).unlink(missing_ok=True)
    return record


def near_chance(record: dict) -> str | None:
    """A classifier whose held-out accuracy is within half of chance's (1/K) of it has barely learned: its features
    say little, and so will the FIDs it gives. What to say of it, or None."""
    k = record.get("num_classes") or 0
    accuracy = record.get("test_accuracy")
    if record["kind"] != "classifier" or accuracy is None or k < 2 or accuracy > 1.5 / k:
        return None
    return (f"held-out accuracy {accuracy:.3f} is near chance (1/{k} = {1 / k:.3f}): this evaluator has barely "
            f"learned, and the FIDs it gives will say little; train it longer (--minutes or --epochs)")


def rebuild_command(data: EvaluatorData, out: Path, epochs: int, seed: int, labelled: bool, flip: bool) -> str:
    """The command that trains these weights again: the time budget resolved into its epochs."""
    parts = ["ganforge evaluator train", f"--dataset {data.dataset}"]
    if data.path:
        parts.append(f"--data {data.path}")
    c, h, _ = data.shape
    parts += [f"--image-size {h}", f"--channels {c}", f"--out {out}", f"--epochs {epochs}", f"--seed {seed}"]
    if not data.held_out_from.startswith("the test"):
        parts.append(f"--held-out {len(data.held_out) / (len(data.train) + len(data.held_out)):.3g}")
    if data.train.labels is not None and not labelled:
        parts.append("--ignore-labels")
    if not flip:
        parts.append("--no-flip")
    return " ".join(parts)


def write_evaluator(model: torch.nn.Module, record: dict, out: Path) -> None:
    """Weights, then the record with their sha256, each written aside and renamed in: an interrupted write leaves
    the old pair, or new weights whose hash the old record refuses — never a silently mismatched evaluator."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
        os.chmod(tmp, 0o644)  # safetensors writes 0600; an evaluator is meant to be shared
        record["sha256"] = file_sha256(tmp)
    write_record(out, record)


def write_record(weights: Path, record: dict) -> None:
    """The evaluator's record, as JSON beside its weights, written atomically."""
    atomic_write(record_path(weights), json.dumps(record, indent=1) + "\n")


MORE_DATA = "give it more varied data, or more classes"  # what a flat floor asks for, unless training was cut short


def check_features(features: np.ndarray, name: str, advice: str = MORE_DATA) -> None:
    """A GanforgeError when an evaluator's features of real images are degenerate: fewer than two feature
    dimensions that vary across images, so every FID it gives is near 0 whatever the images."""
    spread = features.std(axis=0)
    scale = max(float(np.abs(features).max(initial=0.0)), 1e-12)
    varying = int((spread > 1e-6 * scale).sum())
    if varying < 2:
        raise GanforgeError(f"evaluator {name}: its features are degenerate ({varying} of {features.shape[1]} "
                            "dimensions vary across real images), so it cannot tell images apart; not written — "
                            f"{advice}")


def floor(weights: Path, data: EvaluatorData, n: int = FLOOR_IMAGES, name: str | None = None,
          advice: str = MORE_DATA) -> dict:
    """The best score a generator could hope for under this evaluator: up to 10,000 real training images (seed
    0) against the held-out images. Every FID ganforge reports is printed beside it. A degenerate feature space or a
    floor of 0 is an error (messages name the evaluator as `name`, default its file)."""
    name = name or str(weights)
    evaluator = load_evaluator(weights)
    idx = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))[:n]
    f_train, _ = evaluator.run(data.train.x[idx])
    f_held, _ = evaluator.run(data.held_out.x)
    check_features(np.concatenate([f_train, f_held]), name, advice)
    fid_floor = frechet_distance(f_train, f_held)
    if not fid_floor > 1e-6:
        raise GanforgeError(f"evaluator {name}: its FID floor (training vs held-out images) is {fid_floor:.3g}, so "
                            f"it cannot tell images apart; not written — {advice}")
    m = min(len(f_train), len(f_held))
    return {"fid_floor_train_vs_test": fid_floor,
            "kid_floor_train_vs_test": kid(f_train, f_held, subset_size=min(1000, m), seed=0)[0],
            "floor_protocol": f"{len(idx)} random training images (seed 0) vs the {len(f_held)} held-out images "
                              f"({data.held_out_from})"}


def summary_line(record: dict) -> str:
    """One line for the terminal."""
    quality = (f"held-out accuracy {record['test_accuracy']:.4f}" if record["kind"] == "classifier" else
               (f"k-NN held-out accuracy {record['knn_accuracy']:.4f} (labels unused in training)"
                if record.get("knn_accuracy") is not None else f"held-out loss {record['held_out_loss']:.3f}"))
    schedule = f"{record['epochs']} epoch{'' if record['epochs'] == 1 else 's'}"
    if record.get("stopped_by_budget"):
        schedule += f" planned, stopped by the time budget {record['stopped_by_budget'].split(' (')[0]},"
    return (f"{record['name']}: {record['kind']}, {quality}, FID floor {record['fid_floor_train_vs_test']:.3g}, "
            f"{schedule} in {record['train_seconds']:.0f} s; sha256 {record['sha256'][:12]}…")

