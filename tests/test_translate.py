"""Image-to-image runs in use: `ganforge translate` (files and the test split), the API beside it, and the scores
of translations against their ground truth."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.api import translate_test
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.scoring import evaluate_translations
from ganforge.train import train

from conftest import ROOT, TINY_CONFIGS


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pix2pix") / "run"
    train(load_config(TINY_CONFIGS / "pix2pix.yaml", ["train.steps=2"]), out=out)
    return out


def test_translate_test_split_api_and_cli(run_dir, tmp_path, capsys):
    arrays = translate_test(run_dir, num=7)
    data = load_dataset("digits", split="test", image_size=16, task="edges")
    assert {k: v.shape for k, v in arrays.items()} == {"inputs": (7, 16, 16, 1), "outputs": (7, 16, 16, 1),
                                                       "targets": (7, 16, 16, 1), "labels": (7,)}
    assert all(arrays[k].dtype == np.uint8 for k in ("inputs", "outputs", "targets"))
    assert np.array_equal(arrays["labels"], data.labels[:7].numpy())
    assert np.array_equal(arrays["targets"], ganforge.images.to_uint8(data.examples(torch.arange(7))))
    expected = ganforge.load(run_dir).sample(7, condition=data.examples(torch.arange(7), "source"))
    assert np.array_equal(arrays["outputs"], ganforge.images.to_uint8(expected))

    assert main(["translate", str(run_dir), "--test", "--num", "7", "--out", str(tmp_path / "t")]) == 0
    saved = np.load(tmp_path / "t.npz")
    assert all(np.array_equal(saved[k], arrays[k]) for k in arrays)
    assert "wrote 7 test translations" in capsys.readouterr().out


def test_translate_image_files_keeps_their_names(run_dir, tmp_path):
    data = load_dataset("digits", image_size=16, task="edges")
    edges = ganforge.images.to_uint8(data.examples(torch.arange(3), "source"))
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.png", "b.png", "sub/c.png"]):
        Image.fromarray(edges[i, :, :, 0]).save(tmp_path / "in" / name)
    assert main(["translate", str(run_dir), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["a.png", "b.png", "sub/c.png"]
    expected = ganforge.images.to_uint8(ganforge.load(run_dir).sample(3, condition=data.examples(torch.arange(3), "source")))
    got = np.asarray(Image.open(tmp_path / "out" / "sub" / "c.png"))
    assert np.array_equal(got, expected[2, :, :, 0])


@pytest.mark.parametrize("args, message", [
    (["--test", "--direction", "BtoA"], "has no direction 'BtoA' (it learns: AtoB)"),
    ([], "give --input FILE_OR_DIR"),
    (["--input", "{tmp}/nothing"], "no such file or folder"),
    (["--input", "{tmp}", "--num", "3"], "--num applies to --test only"),
])
def test_translate_errors_are_one_line(run_dir, tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["translate", str(run_dir), *args, "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_run_that_generates_from_z_does_not_translate(tmp_path, capsys):
    run = train(load_config(TINY_CONFIGS / "gan.yaml", ["train.steps=1"]), out=tmp_path / "gan")
    assert main(["translate", str(run.dir), "--test", "--out", str(tmp_path / "o.npz")]) == 2
    assert "does not translate images" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs Fashion-MNIST")
def test_translation_scores_rank_perfect_above_blurred_above_blank():
    """On 500 Fashion-MNIST test images: the targets themselves score L1 0, SSIM 1, FID ≈ 0 and class agreement
    near the evaluator's accuracy; blurred targets lose fidelity and FID; a blank output loses everything."""
    test = load_dataset("fashion-mnist", split="test")
    targets, labels = test.examples(torch.arange(500)), test.labels[:500]
    blurred = torch.nn.functional.avg_pool2d(targets, 3, 1, 1)
    blank = torch.full_like(targets, -1.0)
    score = {name: evaluate_translations(out, targets, "fashion-mnist", ("fid",), labels=labels)
             for name, out in (("perfect", targets), ("blurred", blurred), ("blank", blank))}
    assert score["perfect"]["l1"] == 0 and score["perfect"]["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert score["perfect"]["class_agreement"] > 0.88
    for key, better in (("psnr", max), ("ssim", max), ("class_agreement", max), ("fid", min), ("l1", min)):
        order = sorted(score, key=lambda n: score[n][key], reverse=better is max)
        assert order == ["perfect", "blurred", "blank"], (key, {n: score[n][key] for n in score})


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs Fashion-MNIST")
def test_final_evaluation_of_a_translator_matches_evaluate_run(tmp_path):
    """A pix2pix run on Fashion-MNIST edges evaluates itself at the end on the test split's own pairs, and
    `ganforge evaluate RUN` gives the same numbers for the same images."""
    cfg = load_config(TINY_CONFIGS / "pix2pix.yaml", [
        "data.name=fashion-mnist", "data.image_size=null", "train.steps=2", "eval.final=true", "eval.final_num=200",
        "eval.final_metrics=[fid]"])
    run = train(cfg, out=tmp_path / "run")
    got = run.evaluation
    assert {"l1", "psnr", "ssim", "fid", "class_agreement"} <= set(got)
    assert (run.dir / "translations.png").is_file()
    again = ganforge.api.evaluate_run(run.dir, metrics=("fid",), num=200)
    for key in ("l1", "psnr", "ssim", "fid", "class_agreement"):
        assert again[key] == pytest.approx(got[key], rel=1e-5), key
