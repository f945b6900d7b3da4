"""Captions as a data field: Fashion-MNIST's made from each image's class and attributes measured on its pixels,
or a user's own beside the images of a folder. `add_captions` turns them into the float field `embedding` (one
sentence embedding per caption, `ganforge.text`), keeping the strings as `Dataset.captions`.

Fashion-MNIST's training captions use the TRAIN phrasings only: some templates and synonyms (HELD_OUT) and some
class × attribute combinations (HELD_OUT_COMBINATIONS: the attribute's word is left out of those images'
captions) never occur in training, so they measure how the model generalises to words it never saw.

A user's folder: `name.txt` beside `name.png` (one caption a line), or `captions.jsonl` ({"file": …, "caption":
… or "captions": […]} a line) or `captions.csv` (columns file, caption; a file may have several rows) at the top of
the folder. An image with several captions stays one example; training draws one of them per visit
(`ganforge.data.caption_sets`).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset, one_line
from ganforge.data.caption_sets import CaptionSets
from ganforge.errors import GanforgeError

CAPTION_SOURCES = ("attributes", "files")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
TOPS = (0, 2, 4, 6)  # the classes with sleeves
CLOTHES = (0, 1, 2, 3, 4, 6)  # width is the garment's; shoes and bags fill the frame's width
SANDAL = 5
INK = 40  # a pixel above this (of 255) is part of the item


@dataclass(frozen=True)
class Phrasing:
    """The words one set of captions uses: templates ("{}" is "a dark coat"), nouns per class, words per attribute
    value (an adjective, or a phrase after the noun when it starts with "with")."""

    templates: tuple[str, ...]
    nouns: dict[int, tuple[str, ...]]
    words: dict[tuple[str, str], tuple[str, ...]]


TRAIN = Phrasing(
    templates=("{}", "an image of {}", "a picture of {}", "this is {}", "{} on a plain background",
               "a small photo of {}", "a product shot of {}", "a catalogue picture of {}", "there is {}",
               "a close-up of {}", "a cropped image of {}", "{}, centred in the frame", "a drawing of {}",
               "a thumbnail of {}", "look at {}"),
    nouns={0: ("t-shirt", "top", "tank top", "crew-neck top"), 1: ("trousers", "jeans", "slacks", "leggings"),
           2: ("pullover", "sweater", "knit sweater", "sweatshirt"), 3: ("dress", "frock", "sundress", "long dress"),
           4: ("coat", "jacket", "parka", "raincoat"), 5: ("sandal", "open-toed shoe", "strappy sandal", "flat sandal"),
           6: ("shirt", "blouse", "oxford shirt", "collared shirt"),
           7: ("sneaker", "running shoe", "athletic shoe", "sports shoe"),
           8: ("bag", "handbag", "tote", "shoulder bag"), 9: ("ankle boot", "boot", "short boot", "heeled boot")},
    words={("brightness", "dark"): ("dark", "black", "dark-coloured", "dim"),
           ("brightness", "light"): ("light", "white", "light-coloured", "bright"),
           ("width", "narrow"): ("narrow", "slim", "slender"), ("width", "wide"): ("wide", "broad", "roomy"),
           ("sleeves", "long"): ("long-sleeved", "with long sleeves"),
           ("sleeves", "short"): ("short-sleeved", "with short sleeves"),
           ("straps", "thin"): ("with thin straps", "with delicate straps"),
           ("straps", "thick"): ("with thick straps", "with heavy straps")},
)
HELD_OUT = Phrasing(
    templates=("a photo of {}", "here we see {}", "a grayscale image showing {}"),
    nouns={0: ("tee",), 1: ("pants",), 2: ("jumper",), 3: ("gown",), 4: ("overcoat",), 5: ("flip-flop",),
           6: ("button-up shirt",), 7: ("trainer",), 8: ("purse",), 9: ("bootie",)},
    words={("brightness", "dark"): ("charcoal",), ("brightness", "light"): ("pale",),
           ("width", "narrow"): ("skinny",), ("width", "wide"): ("loose",),
           ("sleeves", "long"): ("full-sleeved",), ("sleeves", "short"): ("half-sleeved",),
           ("straps", "thin"): ("with fine straps",), ("straps", "thick"): ("with chunky straps",)},
)
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# sklearn's 8×8 digits (the test suite's small data): a digit's name and how dark and wide it is, TRAIN's words
DIGITS = Phrasing(TRAIN.templates, {k: (name, f"digit {name}") for k, name in enumerate(DIGIT_NAMES)}, TRAIN.words)
# (class, attribute, value) never captioned in training: a light coat, a dark sneaker, a light bag, a dark dress
HELD_OUT_COMBINATIONS = ((4, "brightness", "light"), (7, "brightness", "dark"), (8, "brightness", "light"),
                         (3, "brightness", "dark"))
# each attribute an image has is named in its caption with this probability: captions vary
MENTION = 0.6
ORDER = ("brightness", "width", "sleeves", "straps")  # adjectives in the order English puts them
PLURAL_NOUNS = {"trousers", "jeans", "pants", "slacks", "leggings"}  # no article: "dark trousers"


def measure(stored: torch.Tensor) -> dict[str, np.ndarray]:
    """Attributes a person can check, of uint8 grey images (N, 1, H, W): brightness (mean value of the item's
    pixels), coverage (share of the frame the item covers), width (columns it spans, as a share of the width) and
    sleeve ratio (the item's extent low down over its widest extent near the top: ~1 for long sleeves, which hang
    beside the body, ~0.6 for short ones)."""
    x = stored[:, 0].float()
    ink = x > INK
    n, h, w = x.shape
    cols = torch.arange(w)
    spans_cols = ink.any(1)
    first = torch.where(spans_cols, cols, w).min(1).values
    last = torch.where(spans_cols, cols, -1).max(1).values
    row_first = torch.where(ink, cols, w).min(2).values
    row_last = torch.where(ink, cols, -1).max(2).values
    extent = (row_last - row_first + 1).clamp(min=0).float()
    top, low = slice(h * 3 // 28, h * 11 // 28), slice(h * 17 // 28, h * 24 // 28)
    return {
        "brightness": ((x * ink).sum((1, 2)) / ink.sum((1, 2)).clamp(min=1)).numpy(),
        "coverage": ink.float().mean((1, 2)).numpy(),
        "width": ((last - first + 1).clamp(min=0).float() / w).numpy(),
        "sleeve_ratio": (extent[:, low].median(1).values / extent[:, top].max(1).values.clamp(min=1)).numpy(),
    }


def attributes(stored: torch.Tensor, labels: torch.Tensor, fashion: bool = True) -> list[dict[str, str]]:
    """Each image's attribute values: brightness dark / light (the darkest and lightest third of its class), width
    narrow / wide (clothes, by thirds of the class), sleeves long / short (tops) and straps thin / thick (sandals,
    by coverage); the middle third of a class has no word for that attribute. Not `fashion` (digits): brightness and
    width of every class."""
    m, y = measure(stored), labels.numpy()
    out: list[dict[str, str]] = [{} for _ in range(len(y))]

    def thirds(values: np.ndarray, members: np.ndarray, attribute: str, low: str, high: str) -> None:
        lo, hi = np.percentile(values[members], [100 / 3, 200 / 3])
        for i in members:
            if values[i] < lo:
                out[i][attribute] = low
            elif values[i] > hi:
                out[i][attribute] = high

    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        thirds(m["brightness"], members, "brightness", "dark", "light")
        if k in CLOTHES or not fashion:
            thirds(m["width"], members, "width", "narrow", "wide")
        if k == SANDAL and fashion:
            thirds(m["coverage"], members, "straps", "thin", "thick")
        if k in TOPS and fashion:
            for i in members:
                r = m["sleeve_ratio"][i]
                if r < 0.8 or r > 0.95:
                    out[i]["sleeves"] = "short" if r < 0.8 else "long"
    return out


def phrase(label: int, attrs: dict[str, str], phrasing: Phrasing = TRAIN, pick: int = 0) -> str:
    """One caption of class `label` with attribute values `attrs` in `phrasing`'s words; `pick` chooses among its
    templates and synonyms (any int: taken modulo each list's length, a different digit for each)."""
    def choose(options: tuple[str, ...], salt: int) -> str:
        return options[(pick // (7 ** salt)) % len(options)]

    before, after = [], []
    for i, attribute in enumerate(a for a in ORDER if a in attrs):
        word = choose(phrasing.words[(attribute, attrs[attribute])], 2 + i)
        (after if word.startswith("with ") else before).append(word)
    noun = choose(phrasing.nouns[label], 1)
    item = " ".join([*before, noun, *after])
    article = "" if noun in PLURAL_NOUNS else "an " if item[0] in "aeiou" else "a "
    return choose(phrasing.templates, 0).format(article + item)


def attribute_caption_sets(stored: torch.Tensor, labels: torch.Tensor, seed: int = 0, fashion: bool = True,
                           per_image: int = 1) -> list[list[str]]:
    """`per_image` training captions for every image, each its class and a random subset of its attributes, in a
    random TRAIN template and synonyms (Fashion-MNIST's; `fashion` False: digits'); the attribute of a held-out
    class × attribute combination is never named."""
    rng = np.random.default_rng(seed)
    held = {(k, a): v for k, a, v in HELD_OUT_COMBINATIONS} if fashion else {}
    out = []
    for label, attrs in zip(labels.tolist(), attributes(stored, labels, fashion)):
        captions = []
        for _ in range(per_image):
            named = {a: v for a, v in attrs.items() if held.get((label, a)) != v and rng.random() < MENTION}
            captions.append(phrase(label, named, TRAIN if fashion else DIGITS, int(rng.integers(1 << 30))))
        out.append(captions)
    return out


def attribute_captions(stored: torch.Tensor, labels: torch.Tensor, seed: int = 0, fashion: bool = True) -> list[str]:
    """One training caption for every image (`attribute_caption_sets` with one each)."""
    return [c for (c,) in attribute_caption_sets(stored, labels, seed, fashion)]


# -- a user's captions ------------------------------------------------------------------------------------------
def _read_table(root: Path) -> dict[str, list[str]] | None:
    """{file relative to root: captions} from root/captions.jsonl or root/captions.csv; None when neither exists."""
    table: dict[str, list[str]] = {}
    jsonl, csv_path = root / "captions.jsonl", root / "captions.csv"
    if jsonl.is_file():
        for n, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                file, caps = row["file"], row["captions"] if "captions" in row else [row["caption"]]
            except (ValueError, KeyError, TypeError) as e:
                raise GanforgeError(f"{jsonl}:{n}: expected {{\"file\": …, \"caption\": …}} or \"captions\": [...] "
                                    f"({type(e).__name__}: {one_line(e)})") from None
            table.setdefault(str(file), []).extend(caps if isinstance(caps, list) else [caps])
        return table
    if csv_path.is_file():
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
                raise GanforgeError(f"{csv_path}: needs a header with the columns file, caption; got "
                                    f"{', '.join(reader.fieldnames or []) or 'none'}")
            for row in reader:
                table.setdefault(row["file"], []).append(row["caption"])
        return table
    return None


def folder_captions(root: str | Path, files: list[Path]) -> list[list[str]]:
    """Every image's captions (one or more each), in the order of `files`; a GanforgeError naming the first image
    with none or with an empty caption."""
    root = Path(root)
    table = _read_table(root)
    listing = root / ("captions.jsonl" if (root / "captions.jsonl").is_file() else "captions.csv")
    out = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        txt = f.with_suffix(".txt")
        if table is not None:
            caps, where = table.get(rel), f"{listing} ({rel})"
        else:
            lines = txt.read_text(encoding="utf-8").splitlines() if txt.is_file() else None
            # a caption file with no text is an empty caption (named below), not a missing one
            caps, where = None if lines is None else [c for c in lines if c.strip()] or [""], str(txt)
        if not caps:
            raise GanforgeError(f"{f}: no caption (expected {txt.name} beside it, or a row for "
                                f"'{rel}' in {root}/captions.jsonl or captions.csv)")
        for c in caps:
            if not isinstance(c, str) or not c.strip():
                raise GanforgeError(f"{where}: an empty caption for {rel}")
        out.append([c.strip() for c in caps])
    return out


def add_captions(ds: Dataset, source: str, encoder: str, path=None, seed: int = 0) -> Dataset:
    """`ds` with captions (`source`: "attributes" for Fashion-MNIST, "files" for a folder's own) and their
    sentence embeddings (`CaptionSets`; the field "embedding" holds each image's first, and training draws one of an
    image's several captions per visit)."""
    if source == "attributes":
        if ds.name not in ("fashion-mnist", "digits"):
            raise GanforgeError(f"data.captions=attributes describes the classes of Fashion-MNIST (and of digits); "
                                f"dataset '{ds.name}' needs its own captions (data.name=folder, data.captions=files)")
        per_image = attribute_caption_sets(ds.stored, ds.labels, seed, ds.name == "fashion-mnist")
    elif source == "files":
        if ds.name != "folder" or path is None:
            raise GanforgeError(f"data.captions=files reads captions beside a folder's images (data.name=folder, "
                                f"--data DIR); dataset '{ds.name}' has none")
        from ganforge.data.folder import list_images

        per_image = folder_captions(path, list_images(path))
    else:
        raise GanforgeError(f"data.captions: '{source}' unknown; use {' or '.join(CAPTION_SOURCES)}")
    sets = CaptionSets.encode(per_image, encoder)
    return Dataset(ds.name, ds.stored, ds.labels, ds.kind, ds.image_size, ds.channels,
                   extra=ds.extra | {"embedding": sets.first()}, captions=sets)
