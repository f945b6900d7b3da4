"""Frozen evaluators: a network per dataset whose penultimate features feed FID, KID and precision/recall, and
whose class probabilities (a classifier's) feed the Inception-style score, class histograms and TSTR labels.

An evaluator is a safetensors file beside a JSON record of the same stem (sha256, held-out accuracy, the command
that trained it, the train-vs-held-out FID floor, the data it saw). The built-in ones live in
ganforge/weights/<dataset>-cnn.*; `ganforge evaluator train` makes one for any data (`ganforge.evaluator_training`).
The hash is checked on load: a score is only comparable with scores from the same weights, and every report
names them. A self-supervised evaluator ("kind": "contrastive") gives features only: no class probabilities.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..errors import GanforgeError
from ..fileio import atomic_path, cache_dir, file_sha256
from ..nets import build_net
from .inception_net import load_fid_inception, preprocess

EVALUATOR_DIR = Path(__file__).resolve().parent.parent / "weights"
RECORD_KEYS = ("name", "arch", "in_shape", "num_classes", "sha256")


class Evaluator:
    def __init__(self, weights: Path, record: dict):
        self.record = record
        self.name: str = record["name"]
        self.sha256: str = record["sha256"]
        self.in_shape = tuple(record["in_shape"])
        self.kind: str = record.get("kind", "classifier")
        # a contrastive net's head is its projection (record["head_dim"] outputs), not classes
        self.num_classes: int = record["num_classes"] if self.kind == "classifier" else 0
        self.net = build_net(record["arch"], in_shape=self.in_shape,
                             num_classes=record.get("head_dim", record["num_classes"]), **record.get("arch_args", {}))
        try:
            self.net.load_state_dict(load_file(str(weights)))
        except (RuntimeError, OSError) as e:
            raise GanforgeError(f"{weights}: the weights do not fit the network its record describes "
                                f"({str(e).splitlines()[0]})") from None
        self.net.eval().requires_grad_(False)

    @property
    def has_classes(self) -> bool:
        """Whether it gives class probabilities (a classifier) or features only (self-supervised)."""
        return self.num_classes > 0

    def _check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.in_shape:
            raise GanforgeError(f"evaluator {self.name} takes images of shape {self.in_shape}, got {tuple(x.shape[1:])}")

    @torch.no_grad()
    def run(self, x: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """(features (N, F) float32, class probabilities (N, K) float64 or None) of images in [-1, 1]."""
        self._check(x)
        feats, probs = [], []
        for i in range(0, len(x), batch_size):
            f = self.net.features(x[i:i + batch_size].float())
            feats.append(f.numpy())
            if self.has_classes:
                probs.append(torch.softmax(self.net.head(f).double(), dim=1).numpy())
        if not feats:
            return np.zeros((0, 1), np.float32), np.zeros((0, self.num_classes)) if self.has_classes else None
        return np.concatenate(feats), np.concatenate(probs) if self.has_classes else None

    def describe(self) -> dict:
        keys = ("name", "kind", "sha256", "test_accuracy", "knn_accuracy", "fid_floor_train_vs_test", "data")
        return {k: self.record[k] for k in keys if k in self.record} | {"kind": self.kind}


sha256_of = file_sha256  # its name here, which tests and callers import


def record_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


def load_evaluator(weights: str | os.PathLike) -> Evaluator:
    """The evaluator in `weights` (.safetensors) and its record (the .json beside it), its hash checked."""
    weights = Path(weights)
    record_file = record_path(weights)
    if not weights.is_file():
        raise GanforgeError(f"evaluator {weights}: no such file (make one with `ganforge evaluator train --data "
                            f"PATH --out {weights}`)")
    if weights.suffix != ".safetensors":
        raise GanforgeError(f"evaluator {weights}: expected the .safetensors weights file (its record is the .json "
                            "beside it)")
    if not record_file.is_file():
        raise GanforgeError(f"evaluator {weights}: its record {record_file} is missing; the record names what "
                            "produced the weights, so they are not used without it")
    try:
        record = json.loads(record_file.read_text())
    except (OSError, ValueError) as e:
        raise GanforgeError(f"{record_file}: unreadable evaluator record ({e})") from None
    missing = [k for k in RECORD_KEYS if not isinstance(record, dict) or k not in record]
    if missing:
        raise GanforgeError(f"{record_file}: evaluator record lacks {', '.join(missing)}")
    digest = file_sha256(weights)
    if digest != record["sha256"]:
        raise GanforgeError(f"{weights}: sha256 {digest[:12]}… does not match its record {record['sha256'][:12]}…; "
                            "the file changed since it was trained — restore it or retrain it")
    return Evaluator(weights, record)


@lru_cache(maxsize=None)
def _cached(weights: str, mtime_ns: int) -> Evaluator:
    return load_evaluator(weights)


def has_builtin_evaluator(dataset: str) -> bool:
    """Whether ganforge ships an evaluator for `dataset` (its weights and record in ganforge/weights/)."""
    weights = EVALUATOR_DIR / f"{dataset}-cnn.safetensors"
    return weights.is_file() and record_path(weights).is_file()


def get_evaluator(dataset: str) -> Evaluator:
    """The built-in evaluator of a dataset (ganforge/weights/<dataset>-cnn.safetensors)."""
    weights = EVALUATOR_DIR / f"{dataset}-cnn.safetensors"
    if not has_builtin_evaluator(dataset):
        have = sorted(p.stem.removesuffix("-cnn") for p in EVALUATOR_DIR.glob("*-cnn.json"))
        raise GanforgeError(f"no built-in evaluator for dataset '{dataset}' (looked for {weights}); built-in "
                            f"evaluators exist for {', '.join(have) or 'no dataset'}; train one for your data with "
                            f"`ganforge evaluator train --data PATH --out FILE.safetensors` and pass it "
                            f"(--evaluator FILE / eval.evaluator)")
    return evaluator_at(weights)


def evaluator_at(weights: str | os.PathLike) -> Evaluator:
    """load_evaluator, kept per file and modification time (a retrained file is read again)."""
    weights = Path(weights).resolve()
    mtime = weights.stat().st_mtime_ns if weights.is_file() else 0
    return _cached(str(weights), mtime)


def resolve_evaluator(dataset: str, evaluator: str | os.PathLike | None = None,
                      inception_weights: str | os.PathLike | None = None):
    """What scores a dataset's images: the standard Inception-v3 when its weights are given, else the named
    evaluator file, else the dataset's built-in one. Naming both is a mistake, not a silent choice."""
    if inception_weights and evaluator:
        raise GanforgeError("give either an evaluator file or the Inception weights, not both: scores from "
                            "different feature networks are not comparable")
    if inception_weights:
        return InceptionEvaluator(inception_weights)
    return evaluator_at(evaluator) if evaluator else get_evaluator(dataset)


def reference_features(evaluator, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    """Features and probabilities of real images, cached by evaluator hash and the images' own bytes, so they are
    computed once per machine and never reused for other data (a user's folder and a built-in split alike)."""
    content = hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]
    path = cache_dir("features") / f"{evaluator.sha256[:16]}-{content}-{len(images)}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["features"], (z["probs"] if "probs" in z else None)
    feats, probs = evaluator.run(images)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:  # its name ends in .npz, so numpy adds no second suffix
        np.savez(tmp, features=feats, **({} if probs is None else {"probs": probs}))
    return feats, probs


class InceptionEvaluator:
    """The standard FID network (pytorch-fid's Inception-v3 weights, supplied by the user) behind the same interface
    as the domain evaluators: 2048-d pool features for FID/KID/PR, softmax of its 1008 logits for IS."""

    def __init__(self, weights: str | Path):
        self.net = load_fid_inception(weights)
        self.name, self.sha256 = "fid-inception-v3", self.net.sha256
        self.in_shape = None  # any size and 1 or 3 channels: images are resized to 299×299
        self.num_classes = 1008
        self.kind = "inception"
        self.has_classes = True
        self.record = {"name": self.name, "kind": self.kind, "sha256": self.sha256, "test_accuracy": None,
                       "fid_floor_train_vs_test": None}

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise GanforgeError(f"the Inception evaluator takes (N, 1 or 3, H, W) images, got {tuple(x.shape)}")

    @torch.no_grad()
    def run(self, x: torch.Tensor, batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
        self._check(x)
        feats, probs = [], []
        for i in range(0, len(x), batch_size):
            inp = preprocess(x[i:i + batch_size], quantize=True)  # as pytorch-fid, which reads 8-bit PNGs
            f = self.net(inp)
            feats.append(f.double().numpy())
            probs.append(torch.softmax(self.net.fc(f).double(), dim=1).numpy())
        return np.concatenate(feats), np.concatenate(probs)

    def describe(self) -> dict:
        return dict(self.record)
