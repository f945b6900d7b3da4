"""Frozen domain evaluators: a classifier per built-in image dataset whose penultimate features feed FID, KID and
precision/recall, and whose class probabilities feed the Inception-style score, class histograms and TSTR labels.

Weights live in ganforge/evaluators/<dataset>-cnn.safetensors beside a JSON record (sha256, test accuracy, the
command that trained them, the train-vs-test FID floor). The hash is checked on load: a score is only comparable
with scores from the same weights, and every report names them.
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
from ..nets import build_net
from .inception_fid import load_fid_inception, preprocess

EVALUATOR_DIR = Path(__file__).resolve().parent.parent / "evaluators"


class Evaluator:
    def __init__(self, weights: Path, record: dict):
        self.record = record
        self.name: str = record["name"]
        self.sha256: str = record["sha256"]
        self.in_shape = tuple(record["in_shape"])
        self.num_classes: int = record["num_classes"]
        self.net = build_net(record["arch"], in_shape=self.in_shape, num_classes=self.num_classes)
        self.net.load_state_dict(load_file(str(weights)))
        self.net.eval().requires_grad_(False)

    def _check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.in_shape:
            raise GanforgeError(f"evaluator {self.name} takes images of shape {self.in_shape}, got {tuple(x.shape[1:])}")

    @torch.no_grad()
    def run(self, x: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """(features (N, F) float32, class probabilities (N, K) float64) of images in [-1, 1]."""
        self._check(x)
        feats, probs = [], []
        for i in range(0, len(x), batch_size):
            f = self.net.features(x[i:i + batch_size].float())
            feats.append(f.numpy())
            probs.append(torch.softmax(self.net.head(f).double(), dim=1).numpy())
        if not feats:
            return np.zeros((0, 1), np.float32), np.zeros((0, self.num_classes))
        return np.concatenate(feats), np.concatenate(probs)

    def describe(self) -> dict:
        keys = ("name", "sha256", "test_accuracy", "fid_floor_train_vs_test")
        return {k: self.record.get(k) for k in keys}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@lru_cache(maxsize=None)
def get_evaluator(dataset: str) -> Evaluator:
    weights, record_path = EVALUATOR_DIR / f"{dataset}-cnn.safetensors", EVALUATOR_DIR / f"{dataset}-cnn.json"
    if not weights.is_file() or not record_path.is_file():
        have = sorted(p.stem.removesuffix("-cnn") for p in EVALUATOR_DIR.glob("*-cnn.json"))
        raise GanforgeError(f"no evaluator for dataset '{dataset}' (looked for {weights}); evaluators exist for "
                            f"{', '.join(have) or 'no dataset'}; train one with "
                            f"`python scripts/train_evaluator.py --dataset {dataset}`")
    record = json.loads(record_path.read_text())
    digest = sha256_of(weights)
    if digest != record["sha256"]:
        raise GanforgeError(f"{weights}: sha256 {digest[:12]}… does not match its record {record['sha256'][:12]}…; "
                            "the file changed since it was trained — restore it or retrain it")
    return Evaluator(weights, record)


def cache_dir() -> Path:
    return Path(os.environ.get("GANFORGE_CACHE", Path.home() / ".cache" / "ganforge")) / "features"


def reference_features(evaluator: Evaluator, dataset: str, split: str, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Features and probabilities of a real split, cached by evaluator hash, split and size so they are computed
    once per machine (the cache key holds everything that produced them)."""
    path = cache_dir() / f"{dataset}-{split}-{len(images)}-{evaluator.sha256[:16]}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["features"], z["probs"]
    feats, probs = evaluator.run(images)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, features=feats, probs=probs)
    os.replace(tmp, path)
    return feats, probs


class InceptionEvaluator:
    """The standard FID network (pytorch-fid's Inception-v3 weights, supplied by the user) behind the same interface
    as the domain evaluators: 2048-d pool features for FID/KID/PR, softmax of its 1008 logits for IS."""

    def __init__(self, weights: str | Path):
        self.net = load_fid_inception(weights)
        self.name, self.sha256 = "fid-inception-v3", self.net.sha256
        self.in_shape = None  # any size and 1 or 3 channels: images are resized to 299×299
        self.num_classes = 1008
        self.record = {"name": self.name, "sha256": self.sha256, "test_accuracy": None, "fid_floor_train_vs_test": None}

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
