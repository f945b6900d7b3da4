"""Reading a shard folder: its manifest (checked), chosen examples of a tar shard, PNG decoding, and
`verify_shards`, the end-to-end check to run after copying a set (`ganforge data verify`)."""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.base import one_line
from ganforge.data.shards.layout import FORMAT, MANIFEST, VERSION, fields
from ganforge.errors import GanforgeError
from ganforge.fileio import CHUNK


def _bad_manifest(root: Path, why: str) -> GanforgeError:
    return GanforgeError(f"{root / MANIFEST}: {why}; re-pack with `ganforge data pack`")


def _whole(v, minimum: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def read_manifest(root: str | os.PathLike) -> dict:
    """The manifest of a shard folder, checked for consistency and against the shard files' sizes."""
    root = Path(root)
    if not root.is_dir():
        raise GanforgeError(f"{root}: shard folder does not exist or is not a directory")
    path = root / MANIFEST
    if not path.is_file():
        raise GanforgeError(f"{root}: no {MANIFEST} (not a packed shard folder, or packing did not finish)")
    try:
        m = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _bad_manifest(root, f"unreadable or not JSON ({one_line(e)})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise _bad_manifest(root, f"not a {FORMAT} manifest")
    if m.get("version") != VERSION:
        raise _bad_manifest(root, f"format version {m.get('version')!r}; this ganforge reads version {VERSION}")
    shape, shards, classes = m.get("shape"), m.get("shards"), m.get("classes")
    if not (isinstance(shape, list) and len(shape) == 3 and shape[0] in (1, 3) and all(_whole(v, 1) for v in shape)):
        raise _bad_manifest(root, f"shape must be [C, H, W] with C 1 or 3, got {shape!r}")
    if classes is not None and not (isinstance(classes, list) and classes):
        raise _bad_manifest(root, "classes must be a non-empty list or null")
    captions = m.setdefault("captions", None)  # sets packed before captions were packed have no entry
    if captions is not None and not (isinstance(captions, dict) and _whole(captions.get("count"), 1)):
        raise _bad_manifest(root, f"captions must be {{\"count\": N, \"source\": …}} or null, got {captions!r}")
    if m.get("fields") != fields(classes is not None, captions is not None):
        raise _bad_manifest(root, f"fields {m.get('fields')!r} do not match classes and captions")
    if not isinstance(shards, list) or not shards:
        raise _bad_manifest(root, "lists no shards")
    for s in shards:
        ok = isinstance(s, dict) and isinstance(s.get("name"), str) and _whole(s.get("count"), 1) \
             and _whole(s.get("bytes"), 0) and Path(s["name"]).name == s["name"] and s["name"].endswith(".tar")
        if not ok:
            raise _bad_manifest(root, f"bad shard entry {one_line(Exception(json.dumps(s)))[:120]}")
    if m.get("num_examples") != sum(s["count"] for s in shards):
        raise _bad_manifest(root, f"num_examples {m.get('num_examples')!r} is not the sum of the shard counts")
    for s in shards:
        p = root / s["name"]
        if not p.is_file():
            raise GanforgeError(f"{p}: shard listed in {MANIFEST} is missing")
        if p.stat().st_size != s["bytes"]:
            raise GanforgeError(f"{p}: {p.stat().st_size} bytes, {MANIFEST} says {s['bytes']} (truncated or replaced)")
    return m


def check_label(label: int, num_classes: int, where: str) -> int:
    """`label` when the manifest's classes hold it; otherwise a GanforgeError naming the example (a conditional
    network would index its class embedding out of range)."""
    if not 0 <= label < num_classes:
        raise GanforgeError(f"{where} is labelled {label}, but {MANIFEST} lists {num_classes} classes (0–"
                            f"{num_classes - 1}); repack the folder or check it with `ganforge data verify`")
    return label


def verify_shards(root: str | os.PathLike) -> dict:
    """Check a shard folder end to end: the manifest, every shard's sha256 against the one written at packing,
    and every example (its PNG decodes at the manifest's shape; its label is a class). Training reads only the
    members it needs and cannot hash whole shards on the way, so a flipped bit in a label or a replaced shard of the
    same size would pass unseen: this is the check to run after copying a dataset. Returns the manifest; raises
    GanforgeError naming the first bad shard and what is wrong with it."""
    root = Path(root)
    m = read_manifest(root)
    shape, classes, captioned = tuple(m["shape"]), m["classes"], m["captions"] is not None
    captions = 0
    for s in m["shards"]:
        path = root / s["name"]
        for member in _verify_shard(path, s, classes is not None, captioned).values():
            png, label, key = member.example
            _decode(png, f"{path} member {key}.png", shape)
            if classes is not None and not 0 <= label < len(classes):
                raise GanforgeError(f"{path}: example {key} has label {label}; {MANIFEST} lists {len(classes)} "
                                    f"classes")
            captions += len(member.captions or [])
    if captioned and captions != m["captions"]["count"]:
        raise GanforgeError(f"{root}: the shards hold {captions} captions, {MANIFEST} says {m['captions']['count']}")
    return m


def _verify_shard(path: Path, entry: dict, labelled: bool, captioned: bool) -> dict[int, _Member]:
    """Every example of one shard, read in the same pass that hashes the file: a changed shard is reported as
    changed (its sha256 checked first, as a separate hash-then-read pass would), whatever else is wrong with it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as raw:
            f = _HashingFile(raw, digest)
            try:
                shard = _Shard(path, entry["count"], labelled, captioned)
                examples, problem = shard.members(f, set(range(entry["count"]))), None
            except GanforgeError as e:
                examples, problem = {}, e
            f.read_rest()  # the end-of-archive blocks and padding count toward the hash
    except OSError as e:
        raise GanforgeError(f"{path}: unreadable tar shard ({one_line(e)})") from None
    if "sha256" in entry and digest.hexdigest() != entry["sha256"]:
        raise GanforgeError(f"{path}: sha256 differs from {MANIFEST}'s (the shard changed after packing); "
                            f"re-pack or copy it again")
    if problem is not None:
        raise problem
    return examples


class _HashingFile:
    """A file read front to back with every byte fed to `digest`; a forward seek reads (and hashes) what it skips.
    Enough of a file for `_Shard.members`, which only ever seeks forward."""

    def __init__(self, f, digest):
        self.f, self.digest, self.at = f, digest, 0

    def tell(self) -> int:
        return self.at

    def read(self, size: int) -> bytes:
        data = self.f.read(size)
        self.digest.update(data)
        self.at += len(data)
        return data

    def seek(self, position: int) -> None:
        while self.at < position and self.read(min(CHUNK, position - self.at)):
            pass  # past the end, a read returns b"" as it would after a real seek

    def read_rest(self) -> None:
        while self.read(CHUNK):
            pass


def _next_header(f, path: Path) -> tuple[str, int] | None:
    """(name, size) of the next member of a ustar tar, the file left at its data; None at the end.

    A few lines instead of `tarfile`: tarfile takes ~48 µs a header, this ~9 µs (a 64×64 RGB PNG decodes in
    ~210 µs), and every worker reads every header of the shards it needs. This reads what `pack` writes (plain
    ustar files) and refuses the rest."""
    at = f.tell()
    header = f.read(512)
    if len(header) < 512:
        raise GanforgeError(f"{path}: truncated tar shard (no end-of-archive marker)")
    if header == bytes(512):
        return None
    if header[257:262] != b"ustar":
        raise GanforgeError(f"{path}: not a ustar tar header at byte {at}")
    # the checksum is the sum of the header's bytes with its own 8-byte field counted as spaces
    if sum(header) - sum(header[148:156]) + 8 * 32 != _octal(header[148:156], path):
        raise GanforgeError(f"{path}: corrupt tar header at byte {at} (checksum mismatch)")
    kind = header[156:157]
    if kind not in (b"0", b"\0"):
        raise GanforgeError(f"{path}: tar member of type {kind!r} at byte {at}; shards hold plain files only")
    prefix, name = header[345:500].rstrip(b"\0"), header[:100].rstrip(b"\0")
    name = (prefix + b"/" + name) if prefix else name
    return name.decode("utf-8", "replace"), _octal(header[124:136], path)


def _octal(field: bytes, path: Path) -> int:
    try:
        return int(field.strip(b" \0") or b"0", 8)
    except ValueError:
        raise GanforgeError(f"{path}: corrupt tar header (bad number {field!r})") from None


@dataclass
class _Member:
    """What one example of a shard holds, as read: (PNG bytes, label or None, key), and its captions or None."""

    example: tuple[bytes, int | None, str]
    captions: list[str] | None


class _Shard:
    """Reads chosen examples of one tar: encoded PNG bytes, labels and captions, with the count checked."""

    def __init__(self, path: Path, count: int, labelled: bool, captioned: bool = False):
        self.path, self.count, self.labelled, self.captioned = path, count, labelled, captioned

    def read(self, wanted: set[int]) -> dict[int, tuple[bytes, int | None, str]]:
        """The examples at positions `wanted` of this shard: position → (PNG bytes, label or None, key)."""
        return {i: m.example for i, m in self._open(lambda f: self.members(f, wanted, ("png", "cls"))).items()}

    def captions(self) -> list[list[str]]:
        """Every example's captions, in order (only the small `.txt` members are read)."""
        got = self._open(lambda f: self.members(f, set(range(self.count)), ("txt",)))
        return [got[i].captions for i in range(self.count)]

    def _open(self, read):
        try:
            f = open(self.path, "rb")
        except OSError as e:
            raise GanforgeError(f"{self.path}: unreadable tar shard ({one_line(e)})") from None
        with f:
            return read(f)

    def members(self, f, wanted: set[int], exts=("png", "cls", "txt")) -> dict[int, _Member]:
        """The examples at positions `wanted`, their members of the kinds `exts` read, from the shard open as `f` (at
        its start; read, tell and forward seeks only)."""
        found: dict[int, dict] = {}
        keys: dict[str, int] = {}
        try:
            while True:
                header = _next_header(f, self.path)
                if header is None:
                    break
                name, size = header
                data_at = f.tell()
                key, _, ext = name.rpartition("/")[2].partition(".")
                i = keys.setdefault(key, len(keys))
                if i in wanted and ext in exts:
                    data = f.read(size)
                    if len(data) < size:
                        raise GanforgeError(f"{self.path}: truncated tar shard (member {name} cut short)")
                    found.setdefault(i, {"key": key})[ext] = data
                f.seek(data_at + (size + 511) // 512 * 512)
        except OSError as e:
            raise GanforgeError(f"{self.path}: unreadable tar shard ({one_line(e)})") from None
        if len(keys) != self.count:
            raise GanforgeError(f"{self.path}: holds {len(keys)} examples, {MANIFEST} says {self.count}")
        for i in wanted - found.keys():  # an example none of whose wanted members exists
            found[i] = {"key": next(k for k, j in keys.items() if j == i)}
        return {i: _Member(self._example(m) if "png" in exts else (b"", None, m["key"]),
                           self._captions(m) if "txt" in exts and self.captioned else None)
                for i, m in found.items()}

    def _example(self, f: dict) -> tuple[bytes, int | None, str]:
        if "png" not in f:
            raise GanforgeError(f"{self.path}: example {f['key']} has no .png member")
        label = None
        if self.labelled:
            try:
                label = int(f["cls"].decode("ascii"))
            except (KeyError, ValueError, UnicodeDecodeError):
                raise GanforgeError(f"{self.path}: example {f['key']} has a missing or non-integer .cls") from None
        return f["png"], label, f["key"]

    def _captions(self, f: dict) -> list[str]:
        try:
            captions = [c.strip() for c in f["txt"].decode("utf-8").split("\n") if c.strip()]
        except (KeyError, UnicodeDecodeError):
            raise GanforgeError(f"{self.path}: example {f['key']} has a missing or non-UTF-8 .txt (its captions)"
                                ) from None
        if not captions:
            raise GanforgeError(f"{self.path}: example {f['key']} has an empty .txt (no caption)")
        return captions


def _decode(png: bytes, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """PNG bytes → (C, H, W) uint8, checked against the manifest's shape."""
    C, H, W = shape
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as im:  # no probing of other formats
            im.load()
            mode, a = im.mode, np.asarray(im)
    except Exception as e:  # PIL's decoders raise many types on damaged data
        raise GanforgeError(f"{where}: corrupt PNG ({type(e).__name__}: {one_line(e)})") from None
    if mode != ("L" if C == 1 else "RGB") or a.shape[:2] != (H, W):
        raise GanforgeError(f"{where}: image is {mode} {a.shape[1]}×{a.shape[0]}, manifest says {C} channels {W}×{H}")
    return a[None] if C == 1 else a.transpose(2, 0, 1)


