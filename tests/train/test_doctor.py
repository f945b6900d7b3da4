"""The doctor: each diagnosis on synthetic histories (exact), then provoked on purpose in real runs, and a healthy
run that gets none."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import ganforge
from ganforge.cli import main
from ganforge.config import DoctorConfig, config_from_dict, load_config
from ganforge.data import MIXTURES
from ganforge.errors import GanforgeError
from ganforge.families import get_family
from ganforge.nets import build_net, register_net
from ganforge.train import checkpoint, train
from ganforge.train.doctor import (
    History,
    Doctor,
    discriminator_overfits,
    discriminator_wins,
    mode_collapse,
    oscillation,
    read_diagnoses,
    remedies,
    spread,
    vanishing_generator_gradient,
)
from ganforge.rundir import read_metrics

from conftest import ROOT, TINY_CONFIGS, needs_fashion

RING8 = ROOT / "configs" / "gan-ring8.yaml"
QUIET = ["log.progress=false", "log.tensorboard=false", "eval.final=false", "train.batch_size=64"]
C = DoctorConfig()
GAN_OWNERS = {"d_bce": ("D",), "g_non_saturating": ("G",)}


def history(owners=GAN_OWNERS, start=100, every=100, evals=(), signals=("D(x)", "D(G(z))"), **columns) -> History:
    """Windows at steps start, start+every, …; columns are lists (one value a window; None = not logged).
    `signals`: the monitors of D's probabilities on real and fake data (the `gan` family's by default)."""
    h = History(owners=dict(owners), p_real=signals[0], p_fake=signals[1])
    n = max((len(v) for v in columns.values()), default=0)
    for i in range(n):
        w = {"step": start + i * every}
        w |= {k: v[i] for k, v in columns.items() if i < len(v) and v[i] is not None}
        h.add_window(w)
    h.evals = [dict(e) for e in evals]
    return h


# ---- discriminator_wins ------------------------------------------------------------------------------------------
def test_the_doctor_reads_the_probabilities_a_family_declares():
    """The detectors read the monitors a family names in `signals()`, not fixed strings: BiGAN's joint
    discriminator logs D(x,E(x)) and D(G(z),z), and a family that declares none is judged by its loss."""
    from ganforge.config import load_config
    from ganforge.families import Signals, get_family

    bigan_like = {"D(x,E(x))": [0.99] * 3, "D(G(z),z)": [0.01] * 3}
    f = discriminator_wins(history(signals=("D(x,E(x))", "D(G(z),z)"), **bigan_like), C)
    assert f is not None and "D(G(z),z) ≤ 0.01" in f.message
    # undeclared, the same columns say nothing; D's loss decides (here: not low enough to be a win)
    assert discriminator_wins(history(signals=(None, None), **bigan_like, **{"loss/d_bce": [0.5] * 3}), C) is None
    # what the families declare
    def signals(*overrides):
        cfg = load_config(RING8, list(overrides))
        return get_family(cfg.family)(cfg, (2,)).signals()
    assert signals() == Signals("D(x)", "D(G(z))")
    assert signals("objective.loss=hinge") == Signals()
    assert signals("objective.feature_matching=true") == Signals("D(x)", "D(G(z))", g_learns_from_d=False)
    assert signals("family=wgan_gp") == Signals()


def test_discriminator_wins_needs_both_signs_for_patience_windows():
    h = history(**{"D(G(z))": [0.3, 0.04, 0.03, 0.02], "D(x)": [0.7, 0.97, 0.98, 0.999]})
    f = discriminator_wins(h, C)
    assert f is not None and f.evidence["steps"] == [200, 300, 400]
    assert "D(G(z)) ≤ 0.04" in f.message and "D(x) ≥ 0.97" in f.message and "steps 200–400" in f.message
    assert discriminator_wins(history(**{"D(G(z))": [0.3, 0.3, 0.03, 0.02], "D(x)": [0.97] * 4}), C) is None
    # label smoothing caps D(x) near 0.9: D(G(z)) → 0 alone is not this diagnosis
    assert discriminator_wins(history(**{"D(G(z))": [0.01] * 4, "D(x)": [0.9] * 4}), C) is None


def test_discriminator_wins_from_the_loss_when_there_are_no_probabilities():
    owners = {"d_hinge": ("D",), "g_hinge": ("G",)}
    f = discriminator_wins(history(owners, **{"loss/d_hinge": [0.8, 0.004, 0.002, 0.0], "loss/g_hinge": [3.0] * 4}), C)
    assert f is not None and f.evidence["d_loss"] == [0.004, 0.002, 0.0]
    # a Wasserstein critic's loss goes below 0: it has no floor to judge by; no D signal at all (a VAE): no verdict
    critic = {"critic": ("D",)}
    assert discriminator_wins(history(critic, **{"loss/critic": [-0.5, -0.1, 0.001, 0.002, 0.0]}), C) is None
    assert discriminator_wins(history({"elbo": ("G",)}, **{"loss/elbo": [0.0] * 4}), C) is None


# ---- vanishing_generator_gradient --------------------------------------------------------------------------------
def test_vanishing_generator_gradient_against_its_early_maximum():
    early = [1.0, 2.0, 1.5, 0.8, 1.2]  # largest 2.0
    f = vanishing_generator_gradient(history(**{"grad_norm/G": early + [0.5, 0.011, 0.01, 0.002]}), C)
    assert f is not None and f.evidence["early_max"] == 2.0 and f.evidence["grad_norm/G"] == [0.011, 0.01, 0.002]
    assert "below 0.01 × its largest value 2 in the first 5 windows" in f.message
    assert vanishing_generator_gradient(history(**{"grad_norm/G": early + [0.011, 0.02, 0.01]}), C) is None
    collapsing = [0.1, 1e-3, 6e-4, 6e-4, 4e-4, 3e-4, 3e-4, 6e-4]  # gone within the first windows (a minimax G)
    assert vanishing_generator_gradient(history(**{"grad_norm/G": collapsing}), C) is not None
    assert vanishing_generator_gradient(history(**{"grad_norm/G": early[:3] + [1e-5] * 4}), C) is None  # too soon
    assert vanishing_generator_gradient(history(**{"grad_norm/G": [0.0] * 10}), C) is None  # G without gradient
    assert vanishing_generator_gradient(history(**{"grad_norm/D": early + [1e-6] * 3}), C) is None  # not G's


# ---- mode_collapse -----------------------------------------------------------------------------------------------
def test_mode_collapse_from_sample_diversity_after_the_warm_up():
    f = mode_collapse(history(**{"doctor/diversity": [0.1, 0.1, 0.1, 0.9, 0.1, 0.05, 0.04]}), C)
    assert f is not None and f.evidence["steps"] == [500, 600, 700] and "0.1× as spread out" in f.message
    assert mode_collapse(history(**{"doctor/diversity": [0.05] * 4}), C) is None  # steps 100-400: warm-up
    assert mode_collapse(history(**{"doctor/diversity": [0.05] * 5 + [0.5, 0.05, 0.05]}), C) is None


def test_mode_collapse_from_evaluations():
    def ev(step, **m):
        return {"step": step} | {f"eval/{k}": v for k, v in m.items()}

    f = mode_collapse(history(evals=[ev(500, modes=8, num_modes=8), ev(1000, modes=7, num_modes=8),
                                     ev(1500, modes=6, num_modes=8)]), C)
    assert f is not None and "modes covered fell from 8 (step 500) to 6 of 8 (step 1500)" in f.message
    assert f.evidence["eval/modes"] == [8, 7, 6]
    assert mode_collapse(history(evals=[ev(500, modes=8), ev(1000, modes=7)]), C) is None
    # evaluations during the warm-up (an untrained G) set no best
    assert mode_collapse(history(evals=[ev(400, modes=8), ev(1000, modes=5)]), C) is None
    f = mode_collapse(history(evals=[ev(600, classes_covered=10, class_kl=0.05), ev(900, classes_covered=8,
                                                                                 class_kl=0.6)]), C)
    assert f is not None and "classes covered fell from 10" in f.message and "KL to uniform rose from 0.05" in f.message
    assert mode_collapse(history(evals=[ev(600, class_kl=0.05), ev(900, class_kl=0.5)]), C) is None


# ---- oscillation -------------------------------------------------------------------------------------------------
def wave(n=12, mean=0.45, amp=0.3, period=4, trend=0.0):
    return [mean + amp * math.sin(2 * math.pi * i / period) + trend * i for i in range(n)]


def test_oscillation_of_d_of_g_z_around_a_flat_trend():
    f = oscillation(history(**{"D(G(z))": [0.5] * 5 + wave(period=3)}), C)
    assert f is not None and f.evidence["crossings"] >= 5 and f.evidence["spread"] > 0.18
    assert "D(G(z)) swings between" in f.message
    assert oscillation(history(**{"D(G(z))": wave(amp=0.08)}), C) is None  # ordinary noise of a healthy run
    assert oscillation(history(**{"D(G(z))": wave(amp=0.3, period=3)[:11]}), C) is None  # too few windows
    assert oscillation(history(**{"D(G(z))": wave(n=12, amp=0.3, period=3, trend=0.1)}), C) is None  # it moves


def test_oscillation_of_the_d_loss_and_of_fid():
    f = oscillation(history(**{"loss/d_bce": wave(mean=1.0, amp=0.8, period=3)}), C)
    assert f is not None and "D's loss swings" in f.message
    # a critic's loss takes both signs: judged against its size early in the run
    critic = {"critic": ("D",)}
    assert oscillation(history(critic, **{"loss/critic": wave(mean=-1.0, amp=0.8, period=3)}), C) is not None
    assert oscillation(history(critic, **{"loss/critic": [-1.0] * 5 + wave(mean=-1.0, amp=0.05, period=3)}), C) is None
    settled = [-1.0, 0.8, -0.6, 0.5, -0.4] + wave(mean=0.0, amp=1e-4, period=3)  # converged to 0: calm, not cycling
    assert oscillation(history(critic, **{"loss/critic": settled}), C) is None
    fids = [60, 40, 35, 45, 38, 44, 37, 43]
    evals = [{"step": 500 * (i + 1), "eval/fid": f} for i, f in enumerate(fids)]
    f = oscillation(history(evals=evals), C)
    assert f is not None and "FID went 35 → 45 → 38 → 44 → 37 → 43" not in f.message  # the last k+1 only
    assert "FID went 45 → 38 → 44 → 37 → 43" in f.message and "best 35 (step 1500)" in f.message
    improving = [{"step": 500 * (i + 1), "eval/fid": f} for i, f in enumerate([60, 50, 52, 41, 45, 33])]
    assert oscillation(history(evals=improving), C) is None


def test_remedies_are_the_options_this_run_has():
    cfg, fam = gan({"generator_cost": "minimax"}, optim={"D": {"lr": 0.01}})
    text = remedies("discriminator_wins", cfg, fam.opts.model_dump())
    assert text.startswith("a lower learning rate for D (optim.D.lr, now 0.01; G's is 0.0002)")
    for key in ("objective.g_steps=2", "generator_cost=non_saturating; this run: minimax", "objective.real_target=0.9",
                "objective.instance_noise=0.1"):
        assert key in text
    assert "objective.d_steps" not in text  # already 1
    cfg, fam = gan({"loss": "hinge"})
    text = remedies("discriminator_wins", cfg, fam.opts.model_dump())
    assert "generator_cost" not in text and "real_target" not in text  # bce options only
    generic = remedies("mode_collapse", cfg, {})  # a family without these objective options
    assert "objective." not in generic and "nets.D.args.minibatch_features=32" in generic
    assert "objective.pack=2" in remedies("mode_collapse", cfg, fam.opts.model_dump())
    assert "train.ema=0.999" not in remedies("oscillation", gan(train={"ema": 0.99})[0], {})


def test_remedies_for_a_translator_that_ignores_its_input():
    """CycleGAN without its cycle loss collapses to one output whatever the input: the remedy is the loss that ties
    output to input, and neither minibatch discrimination (its PatchGANs take no such argument) nor a change of an
    already non-saturating game is offered."""
    cfg = load_config(ROOT / "configs" / "cyclegan-edges-fashion.yaml", ["objective.cycle=0"])
    opts = get_family("cyclegan").Options.model_validate(cfg.objective).model_dump()
    text = remedies("mode_collapse", cfg, opts, g="G_AB", d="D_A")
    assert text.startswith("a loss that ties each output to its input: the cycle-consistency loss (objective.cycle=10)")
    assert "minibatch_features" not in text and "objective.loss=least_squares" not in text
    pix = load_config(ROOT / "configs" / "pix2pix-edges-fashion.yaml", ["objective.l1=0"])
    opts = get_family("pix2pix").Options.model_validate(pix.objective).model_dump()
    assert "the L1 term (objective.l1=100)" in remedies("mode_collapse", pix, opts)
    # a translator's options have no gradient penalty: its unsaturating game is least squares alone
    for family, config in (("pix2pix", "pix2pix-edges-fashion"), ("srgan", "srgan-fashion-x2"),
                           ("cyclegan", "cyclegan-edges-fashion")):
        cfg = load_config(ROOT / "configs" / f"{config}.yaml", ["objective.loss=bce"])
        opts = get_family(family).Options.model_validate(cfg.objective).model_dump()
        offered = get_family(family).remedies(opts)["unsaturating_loss"]
        assert offered == "a loss whose gradient does not saturate (objective.loss=least_squares)"
        assert "gradient_penalty" not in get_family(family).Options.model_fields  # the key it used to name
    assert "or wasserstein with objective.gradient_penalty=10" in get_family("gan").remedies({"loss": "bce"})[
        "unsaturating_loss"]  # a family with the option keeps it
    h = history(signals=(None, None), **{"doctor/diversity": [0.1] * 8}, start=600)
    h.from_z = False
    assert "outputs for 64 fixed real inputs" in mode_collapse(h, C).message


def test_a_family_offers_the_remedies_of_its_options_through_its_hook():
    """The doctor names no family's options: a family offers them by the names of the doctor's plan
    (`Family.remedies`), and they take their place among the run's settings in that plan's order."""
    from ganforge.families import Family
    from ganforge.train.doctor import PLAN

    class Captioner(Family):  # a family the doctor has never heard of, with options of its own
        @classmethod
        def remedies(cls, opts):
            return {"content_loss": f"a caption loss (objective.caption={opts['caption'] * 10:g})",
                    "gradient_penalty": "a penalty on D (objective.penalty=1)"}

    cfg, _ = gan()
    text = remedies("mode_collapse", cfg, {"caption": 1.0}, family=Captioner)
    assert text.startswith("a caption loss (objective.caption=10); minibatch discrimination")
    assert text.index("objective.penalty=1") < text.index("going back to an earlier checkpoint")
    assert "objective.pack" not in text  # gan's options are gan's to offer
    assert "objective." not in remedies("mode_collapse", cfg, {"caption": 1.0}, family=Family)  # the default
    # every family offers remedies by names the plan knows (one it does not know would never be offered)
    known = {name for names in PLAN.values() for name in names}
    ablations = {"gan": ["objective.generator_cost=minimax", "objective.d_steps=2"], "bigan": ["objective.d_steps=2"],
                 "pix2pix": ["objective.l1=0"], "cyclegan": ["objective.cycle=0", "objective.loss=bce"]}
    for path in sorted(TINY_CONFIGS.glob("*.yaml")):
        run = load_config(path, ablations.get(path.stem, []))
        family = get_family(run.family)
        offered = family.remedies(family.Options.model_validate(run.objective).model_dump())
        assert set(offered) <= known, (path.stem, set(offered) - known)
        assert offered or path.stem == "vae", path.stem  # a VAE has no discriminator to remedy


def test_the_doctor_names_no_familys_options():
    """Which objective options a family has is the family's to say (`Family.remedies`), not the doctor's."""
    import importlib

    doctor = importlib.import_module("ganforge.train.doctor")  # (`ganforge.train` is also the API's function)
    for path in Path(doctor.__file__).parent.glob("*.py"):
        assert "objective." not in path.read_text(), path


# ---- discriminator_overfits ----------------------------------------------------------------------------------------
def test_discriminator_overfits_when_training_and_held_out_verdicts_part_for_patience_probes():
    cols = {"doctor/d_real_train": [0.9, 0.95, 0.97, 0.98, 0.99], "doctor/d_real_heldout": [0.85, 0.6, 0.5, 0.4, 0.3]}
    f = discriminator_overfits(history(start=500, every=250, **cols), C)
    assert f is not None and "overfitting the training images" in f.message
    assert "calls 99% of fixed training images real but only 30% of held-out real images" in f.message
    assert "at least 47%" in f.message and "steps 1000–1500" in f.message
    # one probe with a small gap among the last `patience` is not yet a verdict; nor is any before the warm-up
    cols["doctor/d_real_heldout"][3] = 0.8
    assert discriminator_overfits(history(start=500, every=250, **cols), C) is None
    early = {"doctor/d_real_train": [1.0] * 3, "doctor/d_real_heldout": [0.0] * 3}
    assert discriminator_overfits(history(start=0, every=100, **early), C) is None
    text = remedies("discriminator_overfits", gan()[0], {})
    assert text.startswith("differentiable augmentation of what D sees (augment.policy=translation,cutout,colour "
                           "augment.ada=true)")
    with_ada = gan(augment={"policy": ["translation"], "ada": True}, data={"num_samples": 500})[0]
    text = remedies("discriminator_overfits", with_ada, {})
    assert "augment.policy" not in text and "augment.ada_target, now 0.6" in text and "data.num_samples, now 500" in text


@needs_fashion
@pytest.mark.parametrize("family", ["gan", "pix2pix", "srgan", "cyclegan"])
def test_the_overfitting_probe_leaves_training_unchanged_and_logs_its_shares(tmp_path, family):
    """The probe runs D on fixed training and held-out images (test split) every doctor.overfit_every steps, in
    training mode as D judges real batches: batch-norm statistics and the RNG are put back, so the weights after
    training are bit-identical to a run without it. pix2pix's D judges (input, target) pairs patch by patch; CycleGAN's D_B the real B images.
    (Fashion-MNIST, which has a test split: the tiny configs' digits have none, so nothing there is held out.)"""
    from conftest import TINY_CONFIGS, assert_same_state

    over = ["train.steps=6", "log.every=2", "checkpoint.every=3", "data.name=fashion-mnist", "data.num_samples=256"]
    probed = train(load_config(TINY_CONFIGS / f"{family}.yaml", over + ["doctor.overfit_every=2"]), out=tmp_path / "a")
    plain = train(load_config(TINY_CONFIGS / f"{family}.yaml", over + ["doctor.overfit_every=0"]), out=tmp_path / "b")
    assert_same_state(probed.dir, plain.dir)
    rows = [m for m in read_metrics(probed.dir) if "doctor/d_real_train" in m]
    assert [m["step"] for m in rows] == [2, 4, 6]
    assert all(0 <= m["doctor/d_real_train"] <= 1 and 0 <= m["doctor/d_real_heldout"] <= 1 for m in rows)
    assert not any("doctor/d_real_train" in m for m in read_metrics(plain.dir))


def test_the_overfitting_probe_is_off_for_data_with_no_held_out_images(tmp_path):
    """A folder, an npz or the digits have no test split (their "test" split is the training data): D's verdicts on
    "held-out" images would be verdicts on training images, a number that says nothing. The probe is off there."""
    from conftest import TINY_CONFIGS

    run = train(load_config(TINY_CONFIGS / "gan.yaml", ["train.steps=4", "log.every=2", "doctor.overfit_every=2"]),
                out=tmp_path / "digits")
    assert read_metrics(run.dir) and not any("doctor/d_real_heldout" in m for m in read_metrics(run.dir))


def test_the_overfitting_probe_says_nothing_where_the_discriminator_is_not_trained(tmp_path):
    from conftest import TINY_CONFIGS

    run = train(load_config(TINY_CONFIGS / "pix2pix.yaml", ["train.steps=4", "log.every=2", "doctor.overfit_every=2",
                                                           "objective.adversarial=0"]), out=tmp_path / "l1")
    assert not any("doctor/d_real_train" in m for m in read_metrics(run.dir))


# ---- the Doctor: once per episode, records, NaN --------------------------------------------------------------
def gan(objective=None, **over):
    cfg = config_from_dict({"latent_dim": 2, "nets": {"G": {"arch": "mlp_generator", "args": {"hidden": [8]}},
                                                      "D": {"arch": "mlp_discriminator", "args": {"hidden": [8]}}},
                            "objective": objective or {}, **over})
    return cfg, get_family("gan")(cfg, (2,))


def make_doctor(tmp_path, samples=None, start_step=0, **doctor):
    cfg, family = gan(optim={"D": {"lr": 0.01}}, doctor=doctor)
    said, logged = [], []
    doc = Doctor(cfg, tmp_path, family, torch.randn(500, 2), samples or (lambda: torch.randn(64, 2)), said.append,
                 lambda step, v: logged.append((step, v)), start_step=start_step)
    return doc, said, logged


def gan_window(fake=0.4, real=0.6, gd=1.0, gg=1.0, loss=1.3):
    return {"loss/d_bce": loss, "loss/g_non_saturating": 0.9, "D(x)": real, "D(G(z))": fake,
            "grad_norm/D": gd, "grad_norm/G": gg}


def test_a_diagnosis_is_issued_once_and_again_only_after_it_cleared(tmp_path):
    doc, said, _ = make_doctor(tmp_path)
    flags = {}
    plan = [False] * 2 + [True] * 5 + [False] * 4 + [True] * 3  # D wins from the 3rd window, then not, then again
    for i, wins in enumerate(plan):
        step = 10 * (i + 1)
        flags[step] = doc.window(step, gan_window(*((0.01, 0.99) if wins else (0.4, 0.6))), GAN_OWNERS)
        assert 0 < flags[step]["doctor/diversity"] < 2
    issued = {s: f["doctor/discriminator_wins"] for s, f in flags.items() if "doctor/discriminator_wins" in f}
    assert issued == {50: 1.0, 100: 0.0, 140: 1.0}  # fires after 3 bad windows; clears after 3 good ones
    records = read_diagnoses(tmp_path)
    assert [(r["step"], r["code"]) for r in records] == [(50, "discriminator_wins"), (140, "discriminator_wins")]
    assert records[0]["evidence"]["D(G(z))"] == [0.01] * 3
    assert "optim.D.lr, now 0.01" in records[0]["message"]
    assert [s[:28] for s in said] == ["doctor: step 50: the discrim", "doctor: step 100: discrimina",
                                      "doctor: step 140: the discri"]


def test_diversity_is_relative_to_real_data(tmp_path):
    doc, _, _ = make_doctor(tmp_path, samples=lambda: torch.zeros(64, 2) + 0.001 * torch.arange(64.0)[:, None])
    v = doc.window(10, gan_window(), GAN_OWNERS)["doctor/diversity"]
    assert v == pytest.approx(spread(torch.arange(64.0)[:, None].repeat(1, 2) * 0.001) / doc.real_spread)
    assert v < 0.05
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert spread(x) == pytest.approx((5 + 5 + 0) * 2 / 6)


def test_nan_names_the_network_the_loss_the_step_and_the_checkpoint(tmp_path):
    doc, said, logged = make_doctor(tmp_path)
    nets = {"D": torch.nn.Linear(2, 1)}
    checkpoint.save_checkpoint(tmp_path, 1000, nets, {"step": 1000}, keep=0)
    with torch.no_grad():
        nets["D"].weight.fill_(float("nan"))  # a checkpoint that holds NaN (an older ganforge could write one)
    checkpoint.save_checkpoint(tmp_path, 1220, nets, {"step": 1220}, keep=0)
    doc.window(1200, gan_window(gd=3e8), GAN_OWNERS)
    bad = gan_window() | {"loss/d_bce": float("nan"), "grad_norm/D": float("inf")}
    with pytest.raises(GanforgeError) as e:
        doc.window(1234, bad, GAN_OWNERS)
    msg = str(e.value)
    assert msg.startswith("step 1234: the discriminator's (D) loss d_bce became NaN (grad_norm/D was 3e+08 the "
                          "window before, at step 1200); also non-finite: grad_norm/D")
    assert "the newest checkpoint with finite values is" in msg and "step_00001000" in msg
    assert "--use-intact-checkpoint" in msg and "optim.D.lr, now 0.01" in msg
    assert logged == [(1234, {"doctor/nan": 1.0})] and not said
    record = read_diagnoses(tmp_path)[-1]
    assert record["code"] == "nan" and record["evidence"]["non_finite"] == {"loss/d_bce": "nan", "grad_norm/D": "inf"}


def test_disabled_doctor_is_silent_but_still_stops_on_nan(tmp_path):
    doc, said, _ = make_doctor(tmp_path, enabled=False)
    for step in range(10, 100, 10):
        assert doc.window(step, gan_window(0.001, 0.999), GAN_OWNERS) == {}
    assert not said and not read_diagnoses(tmp_path)
    with pytest.raises(GanforgeError, match=r"^step 100: the generator's \(G\) gradient norm became NaN \(grad_norm/G "
                                            r"was 1 the window before, at step 90\). Training stopped; no checkpoint"):
        doc.window(100, gan_window(gg=float("nan")), GAN_OWNERS)


def test_resumed_doctor_rebuilds_its_history_from_metrics(tmp_path):
    rows = [{"step": 10 * i} | gan_window(0.01, 0.99) for i in range(1, 6)]
    rows[2]["doctor/discriminator_wins"] = 1.0
    rows.append({"step": 50, "eval/modes": 8.0})
    rows.append({"step": 70} | gan_window())  # written after the checkpoint the run resumes from: not read
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    doc, said, _ = make_doctor(tmp_path, start_step=60)
    assert [w["step"] for w in doc.history.windows] == [10, 20, 30, 40, 50] and len(doc.history.evals) == 1
    assert "discriminator_wins" in doc.silent
    assert "doctor/discriminator_wins" not in doc.window(60, gan_window(0.01, 0.99), GAN_OWNERS)  # still the same one
    assert not said


# ---- end to end: provoked on purpose in real runs ------------------------------------------------------------
class RingPoints(nn.Module):
    """A test generator cut to a few modes: maps z to ring8 modes (+ 1e-3 z). All 8 modes for its first `after`
    calls in training mode, then only `modes`. Its one parameter gets a zero gradient, so it never learns."""

    def __init__(self, latent_dim, out_shape, modes=(0,), after=0):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))
        self.modes, self.after, self.calls = tuple(modes), after, 0

    def forward(self, z):
        self.calls += self.training
        keep = torch.tensor(self.modes if self.calls > self.after else list(range(8)))
        pick = keep[(z[:, 0] * 1e4).long().abs() % len(keep)]
        return MIXTURES["ring8"][0][pick].to(z) + 1e-3 * z[:, :2] + 0 * self.p


class PoisonedD(nn.Module):
    """An MLP discriminator whose logits become NaN after `after` calls in training mode (3 calls a GAN step)."""

    def __init__(self, in_shape, after=135):
        super().__init__()
        self.net = build_net("mlp_discriminator", in_shape=in_shape, hidden=[32])
        self.after, self.calls = after, 0

    def forward(self, x):
        self.calls += self.training
        out = self.net(x)
        return out * float("nan") if self.calls > self.after else out


register_net("test_ring_points", role="generator")(RingPoints)
register_net("test_poisoned_discriminator")(PoisonedD)


def codes(run_dir):
    return [d["code"] for d in read_diagnoses(run_dir)]


def test_discriminator_50x_faster_than_generator_wins(tmp_path, capsys):
    cfg = load_config(RING8, QUIET + ["train.steps=100", "log.every=10", "optim.D.lr=0.01", "optim.G.lr=0.0002",
                                      "objective.generator_cost=minimax"])
    run = train(cfg, out=tmp_path / "run")
    assert codes(run.dir) == ["discriminator_wins"]
    record = read_diagnoses(run.dir)[0]
    assert record["step"] == 30 and all(p < 0.05 for p in record["evidence"]["D(G(z))"])
    assert "optim.D.lr, now 0.01; G's is 0.0002" in record["message"] and "this run: minimax" in record["message"]
    assert "doctor: step 30: the discriminator wins" in capsys.readouterr().out
    assert any(m.get("doctor/discriminator_wins") == 1.0 for m in read_metrics(run.dir))
    assert all("doctor/diversity" in m for m in read_metrics(run.dir))
    # `ganforge info` lists the run's diagnoses
    assert main(["info", str(run.dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in info["diagnoses"]] == ["discriminator_wins"]
    assert main(["info", str(run.dir)]) == 0
    assert "[discriminator_wins] step 30: the discriminator wins" in capsys.readouterr().out


def test_generator_stuck_on_one_point_is_mode_collapse(tmp_path):
    cfg = load_config(RING8, QUIET + ["train.steps=160", "log.every=20", "doctor.warmup_steps=100",
                                      "nets.G.arch=test_ring_points", "nets.G.args={}"])
    run = train(cfg, out=tmp_path / "run")
    assert "mode_collapse" in codes(run.dir)
    record = next(d for d in read_diagnoses(run.dir) if d["code"] == "mode_collapse")
    assert record["step"] == 140 and max(record["evidence"]["diversity"]) < 0.01
    assert "as spread out as real examples" in record["message"] and "objective.pack=2" in record["message"]


def test_generator_that_drops_to_two_modes_is_caught_by_the_evaluations(tmp_path):
    cfg = load_config(RING8, QUIET + ["train.steps=200", "log.every=25", "doctor.warmup_steps=100", "eval.every=50",
                                      "eval.num=1000", "nets.G.arch=test_ring_points",
                                      "nets.G.args={modes: [0, 4], after: 300}"])  # 2 calls a step: 2 modes from 151
    run = train(cfg, out=tmp_path / "run")
    assert codes(run.dir) == ["mode_collapse"]  # opposite modes: diversity stays high, the mode count does not
    record = read_diagnoses(run.dir)[0]
    assert record["step"] == 200 and record["evidence"]["eval/modes"] == [8, 8, 2]
    assert "modes covered fell from 8 (step 100) to 2 of 8 (step 200)" in record["message"]


def test_poisoned_loss_stops_with_the_network_the_loss_and_the_step(tmp_path):
    cfg = load_config(RING8, QUIET + ["train.steps=100", "log.every=10", "checkpoint.every=20",
                                      "nets.D.arch=test_poisoned_discriminator", "nets.D.args={}"])
    with pytest.raises(GanforgeError) as e:
        train(cfg, out=tmp_path / "run")  # D's logits turn NaN in step 46; the window of step 50 sees it
    msg = str(e.value)
    assert msg.startswith("step 50: the discriminator's (D) loss d_bce became NaN (grad_norm/D was ")
    assert "the window before, at step 40" in msg and "step_00000040" in msg
    assert codes(tmp_path / "run") == ["nan"]
    assert read_metrics(tmp_path / "run")[-1] == {"step": 50, "doctor/nan": 1.0}
    g = ganforge.load(tmp_path / "run")  # the last good checkpoint still loads, with finite weights
    assert g.step == 40 and all(torch.isfinite(p).all() for p in g.net.parameters())


@pytest.mark.slow
def test_healthy_ring8_run_gets_no_diagnosis(tmp_path):
    cfg = load_config(RING8, ["log.progress=false", "train.steps=600", "log.every=25", "eval.every=100"])
    run = train(cfg, out=tmp_path / "run")
    assert codes(run.dir) == []
    metrics = read_metrics(run.dir)
    assert not any(k.startswith("doctor/") and k != "doctor/diversity" for m in metrics for k in m)
    assert [m for m in metrics if "doctor/diversity" in m][-1]["doctor/diversity"] > 0.5


# ---- the Dirac GAN (Mescheder et al. 2018): data a point mass at 0, G(z) = θ, linear critic D(x) = ψ·x ----------
class DiracGenerator(nn.Module):
    def __init__(self, latent_dim, out_shape, theta=1.0):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(float(theta)))

    def forward(self, z):
        return self.theta.expand(len(z), 1) + 0 * z[:, :1]


class LinearCritic(nn.Module):
    def __init__(self, in_shape):
        super().__init__()
        self.psi = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.psi * x[:, 0]


register_net("test_dirac_generator")(DiracGenerator)
register_net("test_linear_critic", role="discriminator")(LinearCritic)


def dirac_run(tmp_path, objective, name):
    np.savez(tmp_path / "zeros.npz", points=np.zeros((256, 1), np.float32))
    raw = {"family": "gan", "latent_dim": 1, "data": {"name": "npz", "path": str(tmp_path / "zeros.npz")},
           "nets": {"G": {"arch": "test_dirac_generator"}, "D": {"arch": "test_linear_critic"}},
           "optim": {"G": {"name": "sgd", "lr": 0.1}, "D": {"name": "sgd", "lr": 0.1}},
           "objective": objective, "train": {"steps": 300, "batch_size": 8},
           "log": {"every": 15, "sample_every": 10**6, "progress": False, "tensorboard": False},
           "checkpoint": {"every": 10**6}, "doctor": {"warmup_steps": 0}}
    return train(config_from_dict(raw), out=tmp_path / name)


def test_the_dirac_gan_oscillates_and_r1_cures_it(tmp_path):
    # the Wasserstein game of θ and ψ: alternating gradient steps circle the equilibrium (0, 0) for ever
    run = dirac_run(tmp_path, {"loss": "wasserstein"}, "plain")
    assert codes(run.dir) == ["oscillation"]
    record = read_diagnoses(run.dir)[0]
    assert "D's loss swings" in record["message"] and "objective.r1=10" in record["message"]
    g, d = float(run.family.nets.G.theta.detach()), float(run.family.nets.D.psi.detach())
    assert (g * g + d * d) ** 0.5 > 0.5  # still circling at the distance it started from, not converging
    # R1 (½γψ² here) damps the circle: the game converges, and a converged game is no vanishing-gradient case
    run = dirac_run(tmp_path, {"loss": "wasserstein", "r1": 1.0}, "r1")
    assert codes(run.dir) == []
    assert abs(float(run.family.nets.G.theta.detach())) < 1e-3


@pytest.mark.slow
def test_a_discriminator_memorising_128_images_is_caught(tmp_path):
    """Fashion-MNIST at 16 px, 128 training images, a D twice G's width: within 1,200 steps D calls almost every
    training image real and far fewer held-out (test-split) images; the doctor says so and offers augmentation."""
    from conftest import TINY_CONFIGS

    cfg = load_config(TINY_CONFIGS / "gan.yaml", [
        "data.name=fashion-mnist", "data.num_samples=128", "nets.G.args.base=16", "nets.D.args.base=32",
        "train.steps=1200", "log.every=50", "doctor.overfit_every=50", "doctor.warmup_steps=300"])
    run = train(cfg, out=tmp_path / "run")
    found = [d for d in read_diagnoses(run.dir) if d["code"] == "discriminator_overfits"]
    assert found, f"no overfitting diagnosed; diagnoses: {codes(run.dir)}"
    evidence = found[0]["evidence"]
    assert all(t - h >= 0.3 for t, h in zip(evidence["doctor/d_real_train"], evidence["doctor/d_real_heldout"]))
    assert "augment.policy=translation,cutout,colour augment.ada=true" in found[0]["message"]
    assert "data.num_samples, now 128" in found[0]["message"]


@pytest.mark.slow
def test_a_saturated_minimax_generator_loses_its_gradient(tmp_path):
    cfg = load_config(RING8, QUIET + ["train.steps=400", "log.every=10", "optim.D.lr=0.05", "optim.G.lr=0.0002",
                                      "objective.generator_cost=minimax"])
    run = train(cfg, out=tmp_path / "run")
    assert codes(run.dir)[:2] == ["discriminator_wins", "vanishing_generator_gradient"]
    record = read_diagnoses(run.dir)[1]
    assert record["step"] == 80 and max(record["evidence"]["grad_norm/G"]) < 0.01 * record["evidence"]["early_max"]
