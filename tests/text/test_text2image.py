"""The text-to-image family (GAN-CLS, GAN-INT): its D cost is Reed et al.'s, captions it cannot have are one-line
errors, `ganforge generate` / `interpolate --text` / `info` on a run, the doctor's words, and a learning test: a
caption moves the image the way it says."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganforge
from ganforge.config import DoctorConfig, config_from_dict, load_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.families import Batch, get_family
from ganforge.families.text2image import mismatched
from ganforge.train import train
from ganforge.train.doctor import detectors
from ganforge.train.doctor.history import History

from conftest import TINY_CONFIGS, run_cli
from encoder_fixture import minilm  # noqa: F401  (a session fixture)

TINY = TINY_CONFIGS / "text2image.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny text2image run on digits with hashed-words captions (no model needed)."""
    return train(load_config(TINY), out=tmp_path_factory.mktemp("t2i") / "run").dir


def family(*overrides):
    cfg = load_config(TINY, ["nets.D.args.batch_norm=false", *overrides])
    data = load_dataset("digits", image_size=16, captions="attributes", encoder="hashed-words")
    return get_family("text2image")(cfg, data.shape, data.num_classes, fields=data.spec), data


def test_mismatched_pairs_are_another_examples_caption_and_only_where_it_differs():
    t = torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 2.0]])
    wrong, keep = mismatched(t)
    assert torch.equal(wrong, t[[3, 0, 1, 2]]) and keep.tolist() == [True, False, True, True]


def test_the_matching_aware_d_cost_is_reeds_three_terms():
    plain, data = family("objective.matching_aware=false", "objective.interpolate=false")
    cls, _ = family("objective.matching_aware=true", "objective.interpolate=false")
    cls.load_state_dict(plain.state_dict())
    x, t = data.examples(torch.arange(8)), data.examples(torch.arange(8), "embedding")
    t = t + torch.arange(8.0)[:, None] * 1e-3  # eight different captions
    torch.manual_seed(0)
    plain_cost = plain.d_step(Batch(8, {"x": x, "embedding": t}))["d_bce"]
    torch.manual_seed(0)
    cls_cost = cls.d_step(Batch(8, {"x": x, "embedding": t}))["d_bce"]
    D = plain.nets.D
    real, wrong = D(x, t), D(x, t.roll(1, 0))
    # log D(x,t) + ½[log(1−D(x,t̂)) + log(1−D(G(z,t),t))] as a cost: the plain cost holds the real and fake terms
    expected = 0.5 * (plain_cost + F.softplus(-real).mean() + F.softplus(wrong).mean())
    assert torch.allclose(cls_cost, expected, atol=1e-6) and not torch.allclose(cls_cost, plain_cost)
    same = t[:1].expand(8, -1)  # one caption for all: no pair is mismatched, the cost is the plain one
    torch.manual_seed(0)
    a = plain.d_step(Batch(8, {"x": x, "embedding": same}))["d_bce"]
    torch.manual_seed(0)
    assert torch.allclose(cls.d_step(Batch(8, {"x": x, "embedding": same}))["d_bce"], a)


def test_gan_int_adds_g_cost_on_interpolated_captions():
    with_int, data = family("objective.interpolate=true")
    without, _ = family("objective.interpolate=false")
    batch = Batch(8, {"x": data.examples(torch.arange(8)), "embedding": data.examples(torch.arange(8), "embedding")})
    assert set(with_int.g_step(batch)) == {"g_non_saturating", "g_interpolated"}
    assert set(without.g_step(batch)) == {"g_non_saturating"}


def test_a_run_without_captions_and_bad_options_are_one_line_errors(tmp_path):
    cfg = load_config(TINY, ["data.captions=null"])
    with pytest.raises(GanforgeError, match=r"^family 'text2image' learns from captions: set data.captions"):
        train(cfg, out=tmp_path / "run")
    with pytest.raises(GanforgeError, match="objective: pack does not apply to text-to-image"):
        get_family("text2image").check_config(load_config(TINY, ["objective.pack=2"]))


def test_generate_writes_images_with_their_caption_and_a_grid(run_dir, tmp_path, capsys):
    rc, err, out = run_cli(["generate", run_dir, "a dark seven", "--num", "5", "--seed", "2",
                            "--out", tmp_path / "s.npz"], capsys)
    assert rc == 0, err
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (5, 16, 16, 1) and arrays["images"].dtype == np.uint8
    assert list(arrays["captions"]) == ["a dark seven"] * 5
    again = ganforge.api.generate(run_dir, "a dark seven", num=5, seed=2)
    assert np.array_equal(ganforge.api.image_io.to_uint8(again), arrays["images"])  # the seed fixes z
    other = ganforge.api.generate(run_dir, "a light one", num=5, seed=2)
    assert not torch.equal(other, again)  # same z, another caption: other images
    rc, err, _ = run_cli(["generate", run_dir, "a dark seven", "--out", tmp_path / "g.png"], capsys)
    w, h = Image.open(tmp_path / "g.png").size
    assert rc == 0 and w == h > 4 * 96  # 16 images of 16 px shown at 96, 4 × 4
    rc, err, _ = run_cli(["interpolate", run_dir, "--text", "a dark seven", "--text", "a light one", "--rows", "2",
                          "--steps", "3", "--out", tmp_path / "i.png"], capsys)
    assert rc == 0, err
    w, h = Image.open(tmp_path / "i.png").size
    assert 3 * 96 < w < 4 * 96 and 2 * 96 < h < 3 * 96  # 2 walks (rows) of 3 steps
    rc, _, out = run_cli(["info", run_dir], capsys)
    assert "encoder: hashed-words (files' sha256" in out


def test_empty_captions_and_runs_without_text_are_one_line_errors(run_dir, tmp_path, capsys, tiny):
    rc, err, _ = run_cli(["generate", run_dir, "  ", "--out", tmp_path / "x.png"], capsys)
    assert rc != 0 and err.strip().endswith("a caption must be non-empty text, got '  '") and err.count("\n") == 1
    rc, err, _ = run_cli(["interpolate", run_dir, "--text", "a seven", "--out", tmp_path / "x.png"], capsys)
    assert rc != 0 and "give two captions to walk between" in err
    for command in (["sample", run_dir, "--out", tmp_path / "x.npz"], ["interpolate", run_dir, "--out", tmp_path / "x.png"],
                    ["arithmetic", run_dir, "--plus", "1", "--out", tmp_path / "x.png"]):
        rc, err, _ = run_cli(command, capsys)
        assert rc != 0 and 'takes z, embedding; use `ganforge generate RUN "a caption"`' in err, command
    plain = train(tiny(train__steps=1), out=tmp_path / "plain").dir
    rc, err, _ = run_cli(["generate", plain, "a dark seven", "--out", tmp_path / "x.png"], capsys)
    assert rc != 0 and "family 'gan' does not take captions" in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_the_doctor_speaks_of_captions_for_a_text_run():
    c = DoctorConfig(patience=2, warmup_steps=0)
    words = {}
    for captioned in (False, True):
        h = History(captioned=captioned)
        for step in (10, 20):
            h.add_window({"step": step, "doctor/diversity": 0.01})
        words[captioned] = detectors.mode_collapse(h, c).message
    assert "caption" not in words[False]
    assert "fixed z with captions" in words[True] and "the same image for one caption" in words[True]


def captioned_folder(root, per_class=60):
    """Digits 0 and 1 at 8 px, each drawn dark (×0.3) and light, captioned "a dark zero", "a light one", …"""
    digits = load_dataset("digits")
    for k, name in ((0, "zero"), (1, "one")):
        for i in (digits.labels == k).nonzero().squeeze(1)[:per_class].tolist():
            for tone, scale in (("dark", 0.3), ("light", 1.0)):
                path = root / f"{name}_{tone}_{i}.png"
                Image.fromarray((digits.stored[i, 0].float() * scale).round().byte().numpy()).save(path)
                path.with_suffix(".txt").write_text(f"a {tone} {name}\n")


def test_a_caption_moves_the_image_the_way_it_says(tmp_path, minilm):  # noqa: F811
    """Learning, in seconds: after 400 steps on dark and light digits, "a dark one" is darker than "a light one"
    for nearly every z (likewise for zero), and so is "a black one" than "a pale one", words it never trained on
    (the sentence encoder places them near dark and light). One step of training obeys about half the time."""
    root = tmp_path / "digits"
    root.mkdir()
    captioned_folder(root)
    cfg = config_from_dict({
        "family": "text2image", "latent_dim": 4,
        "data": {"name": "folder", "path": str(root), "captions": "files", "encoder": "all-MiniLM-L6-v2"},
        "nets": {"G": {"arch": "mlp_generator", "args": {"hidden": [64]}},
                 "D": {"arch": "mlp_discriminator", "args": {"hidden": [64]}}},
        "objective": {"text_dim": 16, "joint_width": 32},
        "optim": {"G": {"lr": 2e-3}, "D": {"lr": 2e-3}},
        "train": {"steps": 400, "batch_size": 32, "seed": 0, "threads": 1},
        "log": {"every": 1000, "sample_every": 1000, "grid": 4, "progress": False, "tensorboard": False},
        "checkpoint": {"every": 1000, "keep": 1}, "doctor": {"enabled": False},
    })
    run = train(cfg, out=tmp_path / "run")
    obeyed = []
    for name in ("zero", "one"):
        for darker, lighter in (("dark", "light"), ("black", "pale")):
            dark = ganforge.api.generate(run.dir, f"a {darker} {name}", num=50, seed=1)
            light = ganforge.api.generate(run.dir, f"a {lighter} {name}", num=50, seed=1)
            obeyed.append((dark.mean((1, 2, 3)) < light.mean((1, 2, 3))).float().mean().item())
    assert min(obeyed) >= 0.9, obeyed


# -- options beyond the paper: conditioning augmentation, normalised embeddings, a projection term in D ------------
def test_conditioning_augmentation_draws_the_caption_code_in_training_and_uses_its_mean_when_sampling():
    ca, data = family("objective.augment_text=2.0")
    G = ca.nets.G
    z, t = torch.randn(8, 8), data.examples(torch.arange(8), "embedding")
    G.train()
    assert not torch.allclose(G(z, t), G(z, t))  # c ~ N(μ(t), σ(t)): two draws differ
    G.eval()
    assert torch.equal(G(z, t), G(z, t))  # sampling uses μ(t)
    batch = Batch(8, {"x": data.examples(torch.arange(8)), "embedding": t})
    G.train()
    kl = ca.g_step(batch)["g_text_kl"]
    assert kl > 0 and torch.allclose(kl, 2.0 * G.code(t)[1])
    linear = G.compress[-2]
    with torch.no_grad():  # μ = 0 and log σ² = 0: the code is N(0, I) and its KL is zero
        linear.weight.zero_(), linear.bias.zero_()
    assert G.code(t)[1] == 0
    assert "g_text_kl" not in family()[0].g_step(batch)


def test_normalised_embeddings_ignore_what_every_caption_shares():
    norm, data = family("objective.normalize_text=true")
    plain, _ = family()
    t = data.examples(torch.arange(16), "embedding")
    shared = torch.randn(1, t.shape[1])  # a direction common to all captions ("a photo of …")
    for fam, invariant in ((norm, True), (plain, False)):
        compress = fam.nets.G.compress.train()
        same = torch.allclose(compress(t), compress(t + shared), atol=1e-4)
        assert same == invariant


def test_the_projection_term_adds_the_inner_product_of_caption_and_image_features():
    proj, data = family("objective.projection=true")
    plain, _ = family()
    missing = proj.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == ["nets.D.project.weight"]
    D, x, t = proj.nets.D.eval(), data.examples(torch.arange(8)), data.examples(torch.arange(8), "embedding")
    inner = (D.project(D.compress(t)) * D.base.features(x).flatten(1)).sum(1)
    assert inner.abs().max() > 0
    assert torch.allclose(D(x, t), plain.nets.D.eval()(x, t) + inner, atol=1e-5)
