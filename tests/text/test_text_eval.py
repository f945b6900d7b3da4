"""Evaluation of text-to-image runs, during and after training: G is asked for the captions of a seeded pick of the
test split's images (the same at every evaluation, sharded over ranks like z), scored with FID/KID/PR, and the
classes of those images give class agreement."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge import seeds
from ganforge.config import load_config
from ganforge.data.shards import pack_folder
from ganforge.rundir import RunDir
from ganforge.scoring import evaluation_captions
from ganforge.text.encoder import hashed_words
from ganforge.train import periodic_eval
from ganforge.train.periodic_eval import TEXT_INPUTS, RunEvaluator, gather_embedded

from conftest import TINY_CONFIGS, RankOf, needs_fashion, run_cli

TINY = TINY_CONFIGS / "text2image.yaml"
FASHION = ["data.name=fashion-mnist", "data.image_size=null", "data.num_samples=64"]


def captioned_folder(root, words: str, n: int, classes: int = 1):
    """n grey images in `classes` class sub-folders, image i captioned "<words> i"."""
    for i in range(n):
        folder = root / f"k{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 7 * i, np.uint8)).save(folder / f"{i:02d}.png")
        (folder / f"{i:02d}.txt").write_text(f"{words} {i}\n")


def which(embeddings: torch.Tensor, captions: list[str]) -> list[str]:
    """The caption (of `captions`) each hashed-words embedding is."""
    return [captions[int(np.argmax(hashed_words(captions) @ e.numpy()))] for e in embeddings]


def test_the_captions_asked_for_are_the_test_splits_in_a_seeded_order(tmp_path):
    captioned_folder(tmp_path / "train", "a square", 9)
    captioned_folder(tmp_path / "test", "a test circle", 5, classes=2)
    pack_folder(tmp_path / "train", tmp_path / "sh")
    pack_folder(tmp_path / "test", tmp_path / "sh" / "test")
    data = load_config(TINY, ["data.name=shards", f"data.path={tmp_path / 'sh'}", "data.captions=files"]).data
    embeddings, labels, about = evaluation_captions(data, 12, seed=5)
    test_captions = [f"a test circle {i}" for i in range(5)]
    asked = which(embeddings, test_captions)
    assert np.allclose(embeddings.numpy(), hashed_words(asked))  # each one exactly a test caption's embedding
    assert sorted(asked[:5]) == sorted(asked[5:10]) == test_captions  # every test image once a pass; then again
    assert labels.tolist() == [int(c.split()[-1]) % 2 for c in asked]  # the classes of the images captioned
    again, _, _ = evaluation_captions(data, 12, seed=5)
    assert torch.equal(again, embeddings)
    assert not torch.equal(evaluation_captions(data, 12, seed=6)[0], embeddings)
    assert "of the shards test split" in about
    # shards packed without test/: the packed set lends its own captions, and says so
    pack_folder(tmp_path / "train", tmp_path / "plain")
    data = data.model_copy(update={"path": str(tmp_path / "plain")})
    embeddings, labels, about = evaluation_captions(data, 4, seed=5)
    assert set(which(embeddings, [f"a square {i}" for i in range(9)])) <= {f"a square {i}" for i in range(9)}
    assert labels is None and "(it has no test/ split)" in about


class Recording(nn.Module):
    """A stand-in G(z, embedding) that keeps every embedding it was given; its images follow z."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))
        self.given: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        self.given.append(embedding.clone())
        return torch.tanh(z.repeat(1, 98)[:, :784].view(-1, 1, 28, 28)) + self.weight


@needs_fashion
def test_g_is_asked_for_the_same_test_captions_at_every_evaluation_and_each_rank_for_its_share(tmp_path):
    cfg = load_config(TINY, FASHION)
    evaluator = RunEvaluator(cfg, tmp_path, "fashion-mnist", "image", TEXT_INPUTS, shape=(1, 28, 28))
    g = Recording()
    first = evaluator.evaluate(g, 30, ["fid"])
    second = evaluator.evaluate(g, 30, ["fid"])
    assert len(g.given) == 2 and torch.equal(g.given[0], g.given[1])
    expected, labels, about = evaluation_captions(cfg.data, 30, cfg.train.seed + seeds.EVALUATION)
    assert torch.equal(g.given[0], expected)
    assert first["fid"] == second["fid"] and 0 <= first["class_agreement"] <= 1
    assert first["provenance"]["conditions"] == about and "fashion-mnist test split" in about
    # two ranks: each asks for its slice of the same captions
    g.given.clear()
    for rank in (0, 1):
        gather_embedded(cfg, "fashion-mnist", g, 30, ["fid"], RankOf(rank, 2))
    assert torch.equal(torch.cat(g.given), expected)


@pytest.mark.slow
@needs_fashion
def test_a_text_run_is_scored_during_and_after_training(tmp_path, capsys):
    run = tmp_path / "run"
    rc, err, _ = run_cli(["train", TINY, "--out", run, *FASHION, "eval.every=2", "eval.num=100", "eval.final=true",
                          "eval.final_num=200", "eval.final_metrics=[fid,kid,pr]"], capsys)
    assert rc == 0, err
    report = json.loads(RunDir(run).eval_json.read_text())
    assert {"fid", "kid", "precision", "recall", "class_agreement"} <= report.keys()
    assert report["provenance"]["num_samples"] == 200 and "test split" in report["provenance"]["conditions"]
    logged = [row for row in RunDir(run).read_metrics() if "eval/fid" in row]
    assert [row["step"] for row in logged] == [2, 4] and all("eval/class_agreement" in row for row in logged)
    assert RunDir(run).read_best()["step"] in (2, 4)  # the best FID's checkpoint is kept, as for image runs
    # `ganforge evaluate RUN` scores it the same way afterwards
    rc, err, _ = run_cli(["evaluate", run, "--num", "100", "--metrics", "fid,kid"], capsys)
    assert rc == 0, err
    again = json.loads(RunDir(run).eval_json.read_text())
    assert again["provenance"]["num_samples"] == 100 and "class_agreement" in again


def test_the_test_captions_are_read_once_per_size(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(periodic_eval, "evaluation_captions",
                        lambda data, num, seed: calls.append(num) or (torch.zeros(num, 4), None, "x"))
    periodic_eval._captions.cache_clear()
    cfg = load_config(TINY, ["train.seed=11"])
    for num in (5, 5, 7, 5):
        periodic_eval.evaluation_inputs(cfg, Recording(), num)
    assert calls == [5, 7]
    periodic_eval._captions.cache_clear()
