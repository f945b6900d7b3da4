"""Captions as a data field: Fashion-MNIST's from class and measured attributes (held-out words and combinations
never in training), a user's folder (name.txt, captions.jsonl, captions.csv; several captions an image), and
one-line errors for a missing or empty caption."""
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data import captions as C
from ganforge.errors import GanforgeError

from conftest import needs_fashion


def blocks(values, widths, side=28) -> torch.Tensor:
    """uint8 (N, 1, side, side) images: a centred block of each value and width."""
    x = torch.zeros(len(values), 1, side, side, dtype=torch.uint8)
    for i, (v, w) in enumerate(zip(values, widths)):
        x[i, 0, 4:24, (side - w) // 2:(side - w) // 2 + w] = v
    return x


def test_measured_attributes_follow_the_pixels():
    x = blocks([60, 130, 250, 250, 130, 60], [6, 12, 20, 6, 12, 20])
    m = C.measure(x)
    assert np.allclose(m["brightness"], [60, 130, 250, 250, 130, 60])
    assert np.allclose(m["width"] * 28, [6, 12, 20, 6, 12, 20])
    attrs = C.attributes(x, torch.full((6,), 1))  # trousers: brightness and width by thirds of the class
    assert [a.get("brightness") for a in attrs] == ["dark", None, "light", "light", None, "dark"]
    assert [a.get("width") for a in attrs] == ["narrow", None, "wide", "narrow", None, "wide"]


def test_a_phrase_puts_words_in_english_order_with_the_right_article():
    assert C.phrase(5, {"straps": "thin", "brightness": "light"}, C.TRAIN, 0) == "a light sandal with thin straps"
    assert C.phrase(9, {}, C.TRAIN, 0) == "an ankle boot"
    assert C.phrase(1, {"brightness": "dark"}, C.HELD_OUT, 0) == "a photo of charcoal pants"


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z-]+", text))


@needs_fashion
def test_training_captions_never_use_held_out_words_or_combinations():
    ds = load_dataset("fashion-mnist", num_samples=3000, seed=1)
    caps = C.attribute_captions(ds.stored, ds.labels, seed=0)
    assert len(caps) == 3000 and len(set(caps)) > 500  # varied phrasings
    held_nouns = {n for ns in C.HELD_OUT.nouns.values() for n in ns}
    held_words = {w for ws in C.HELD_OUT.words.values() for w in ws}
    for cap in caps:
        assert not any(re.search(rf"\b{re.escape(n)}\b", cap) for n in held_nouns | held_words), cap
        assert not any(cap.startswith(t.split("{}")[0]) for t in C.HELD_OUT.templates if t.split("{}")[0]), cap
    labels = ds.labels.tolist()
    for k, attribute, value in C.HELD_OUT_COMBINATIONS:
        named = set(C.TRAIN.words[(attribute, value)])
        assert not any(words(cap) & named for cap, y in zip(caps, labels) if y == k), (k, value)
    # the attribute is named for other classes: the combination, not the word, is new
    assert any("light" in words(c) for c, y in zip(caps, labels) if y == 0)
    tops_long = [c for c in caps if "long-sleeved" in c]
    assert tops_long and all(any(n in c for k in C.TOPS for n in C.TRAIN.nouns[k]) for c in tops_long)


def folder(tmp_path, names=("a.png", "b/c.png")):
    root = tmp_path / "imgs"
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 40 * (i + 1), np.uint8)).save(root / name)
    return root


@pytest.mark.parametrize("layout", ["txt", "jsonl", "csv"])
def test_a_folder_with_several_captions_an_image_keeps_one_example_an_image(tmp_path, layout):
    root = folder(tmp_path)
    if layout == "txt":
        (root / "a.txt").write_text("a grey square\na dim square\n")
        (root / "b" / "c.txt").write_text("a bright square\n")
    elif layout == "jsonl":
        (root / "captions.jsonl").write_text(json.dumps({"file": "a.png", "captions": ["a grey square", "a dim square"]})
                                             + "\n" + json.dumps({"file": "b/c.png", "caption": "a bright square"}) + "\n")
    else:
        (root / "captions.csv").write_text("file,caption\na.png,a grey square\na.png,a dim square\n"
                                           "b/c.png,a bright square\n")
    ds = load_dataset("folder", path=root, captions="files", encoder="hashed-words")
    assert [ds.captions.of(i) for i in range(2)] == [["a grey square", "a dim square"], ["a bright square"]]
    assert len(ds) == 2 and ds.captions.several  # training draws one of an image's captions per visit
    assert ds.spec["embedding"].shape == (256,) and not torch.equal(ds.extra["embedding"][0], ds.extra["embedding"][1])
    assert torch.equal(ds.extra["embedding"], ds.captions.embeddings[[0, 2]])  # each image's first caption
    sub = ds.subset(torch.tensor([1, 0]))
    assert [sub.captions.of(i) for i in range(2)] == [["a bright square"], ["a grey square", "a dim square"]]
    assert torch.equal(sub.captions.embeddings, ds.captions.embeddings[[2, 0, 1]])


def test_a_missing_or_empty_caption_is_one_line_naming_the_file(tmp_path):
    root = folder(tmp_path)
    (root / "a.txt").write_text("a grey square\n")
    with pytest.raises(GanforgeError, match=r"^\S+/b/c\.png: no caption \(expected c\.txt beside it"):
        load_dataset("folder", path=root, captions="files", encoder="hashed-words")
    (root / "b" / "c.txt").write_text("\n  \n")
    with pytest.raises(GanforgeError, match=r"^\S+/b/c\.txt: an empty caption for b/c\.png$"):
        load_dataset("folder", path=root, captions="files", encoder="hashed-words")
    (root / "captions.csv").write_text("file,caption\na.png,fine\nb/c.png,\n")
    with pytest.raises(GanforgeError, match=r"captions\.csv \(b/c\.png\): an empty caption for b/c\.png$"):
        load_dataset("folder", path=root, captions="files", encoder="hashed-words")
    (root / "captions.csv").write_text("name,text\n")
    with pytest.raises(GanforgeError, match=r"captions\.csv: needs a header with the columns file, caption; got name, text"):
        load_dataset("folder", path=root, captions="files", encoder="hashed-words")


def test_captions_of_data_that_cannot_have_them_are_refused():
    with pytest.raises(GanforgeError, match="dataset 'ring8' is 2-D points"):
        load_dataset("ring8", captions="attributes", num_samples=10)
    with pytest.raises(GanforgeError, match="data.captions=files reads captions beside a folder's images"):
        load_dataset("digits", captions="files", encoder="hashed-words")
