"""The family contract: what every registered family does, checked on every family of the registry.

For each family in `available_families()`, its tiny config `tests/families/tiny_configs/<family>.yaml` (the one thing a new
family must add besides its own file):
  - builds, and one training step changes every network a phase updates;
  - `ganforge.load(run).sample(n)` gives n samples of the run's declared shape (a generator that takes data fields,
    such as a translator, is given n real examples of them as its condition);
  - resume is bit-exact: k steps straight == k/2 steps, then resumed to k (weights, optimiser state, RNGs);
  - an unknown objective option is a GanforgeError naming it.
The runs of one family are shared by its checks (a module-scoped fixture), each made on first use.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge.api import read_run_info
from ganforge.augment import Augment
from ganforge.config import RunConfig, load_config
from ganforge.errors import GanforgeError
from ganforge.families import available_families, get_family
from ganforge.objectives import penalties
from ganforge.train import checkpoint, loop, train
from ganforge.train.loop import Run

from conftest import TINY_CONFIGS, assert_same_state

TINY = TINY_CONFIGS
FAMILIES = sorted(available_families())
STEPS = 4  # k: the straight run; the split run stops at k/2 and resumes to k


def tiny_config(family: str, *overrides: str) -> RunConfig:
    path = TINY / f"{family}.yaml"
    if not path.is_file():
        pytest.fail(f"family '{family}' is registered but has no tiny config: add "
                    f"{path.relative_to(TINY.parent.parent)} (like the other files of {TINY.name}/: digits at 16 px "
                    f"or ring8, small nets, batch 16, train.threads=1, progress/tensorboard/eval off)", pytrace=False)
    cfg = load_config(path, list(overrides))
    assert cfg.family == family, f"{path.name} trains family '{cfg.family}', not '{family}'"
    return cfg


class FamilyRuns:
    """The runs the checks of one family share, each trained on first use."""

    def __init__(self, family: str, root: Path):
        self.family, self.root = family, root

    def config(self, *overrides: str) -> RunConfig:
        return tiny_config(self.family, *overrides)

    @cached_property
    def one_step(self) -> tuple[Run, dict[int, torch.Tensor]]:
        """A one-step run, and the parameters its optimisers started from (by id of the parameter)."""
        initial: dict[int, torch.Tensor] = {}
        make_optimizer = loop.make_optimizer

        def recording(params, cfg):
            params = list(params)
            initial.update({id(p): p.detach().clone() for p in params})
            return make_optimizer(params, cfg)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(loop, "make_optimizer", recording)
            run = train(self.config("train.steps=1"), out=self.root / "one_step")
        return run, initial

    @cached_property
    def straight(self) -> Path:
        return train(self.config(f"train.steps={STEPS}"), out=self.root / "straight").dir

    @cached_property
    def split(self) -> Path:
        train(self.config(f"train.steps={STEPS // 2}"), out=self.root / "split")
        return train(self.config(f"train.steps={STEPS}"), resume=self.root / "split").dir


@pytest.fixture(scope="module", params=FAMILIES)
def runs(request, tmp_path_factory) -> FamilyRuns:
    return FamilyRuns(request.param, tmp_path_factory.mktemp(request.param))


def test_every_registered_family_has_a_tiny_config_and_every_tiny_config_a_family():
    missing = [f for f in FAMILIES if not (TINY / f"{f}.yaml").is_file()]
    assert not missing, f"registered families without a tiny config in {TINY}: {missing}"
    stale = sorted(p.stem for p in TINY.glob("*.yaml") if p.stem not in FAMILIES)
    assert not stale, f"tiny configs of no registered family (renamed or removed?): {stale}"


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_config_is_tiny(family):
    cfg = tiny_config(family)
    assert cfg.train.batch_size == 16 and cfg.train.threads == 1, "tiny configs train batches of 16 on one thread"
    assert not (cfg.log.progress or cfg.log.tensorboard), "tiny configs turn the progress bar and tensorboard off"
    assert cfg.eval.every == 0 and not cfg.eval.final, "tiny configs turn evaluation off"
    get_family(family).check_config(cfg)


def test_one_step_changes_every_trained_network(runs):
    run, initial = runs.one_step
    assert run.step == 1
    trained = sorted({n for phase in run.family.phases() for n in phase.updates})
    assert trained, f"family '{runs.family}': no phase updates any network"
    unchanged = []
    for name in trained:
        params = list(run.family.nets[name].named_parameters())
        assert params, f"{runs.family}: network {name} is trained but has no parameters"
        missing = [k for k, p in params if id(p) not in initial]
        assert not missing, f"{runs.family}: parameters of {name} have no optimiser: {missing}"
        if all(torch.equal(p.detach(), initial[id(p)]) for _, p in params):
            unchanged.append(name)
        for k, p in params:
            assert torch.isfinite(p).all(), f"{runs.family}: {name}.{k} is not finite after one step"
    assert not unchanged, f"family '{runs.family}': one training step left {unchanged} unchanged (trained: {trained})"


def test_sample_has_the_declared_shape(runs):
    run_dir = runs.straight
    info = read_run_info(run_dir)
    g = ganforge.load(run_dir)
    condition = None
    if g.conditions:  # real examples of the fields it maps or is conditioned on
        data = loop.build_data(g.cfg)
        condition = {f: data.examples(torch.arange(5), f) for f in g.conditions}
    x = g.sample(5, seed=0, condition=condition)
    assert x.shape == (5, *info["shape"]), (
        f"{runs.family}: sample(5) has shape {tuple(x.shape)}, the run declares {info['shape']}")
    assert x.is_floating_point() and torch.isfinite(x).all()
    assert torch.equal(x, g.sample(5, seed=0, condition=condition)), (
        f"{runs.family}: sample(n, seed) is not reproducible")


def _same(a, b, where: str) -> None:
    """Nested training state (sampler RNG, order, position) compared exactly."""
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ"
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}/{i}")
    else:
        assert a == b, f"{where} differs: {a!r} vs {b!r}"


def test_resume_is_bit_exact(runs):
    straight, split = runs.straight, runs.split
    assert_same_state(straight, split)  # weights, step, global RNG, optimiser state
    sa = checkpoint.load_state(checkpoint.latest_checkpoint(straight))
    sb = checkpoint.load_state(checkpoint.latest_checkpoint(split))
    assert sa["step"] == STEPS
    assert sa["samplers"].keys() == sb["samplers"].keys() and "main" in sa["samplers"]
    _same(sa["samplers"], sb["samplers"], "samplers")  # every batch stream's order and RNG


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_objective_option_is_named(family, tmp_path):
    cfg = tiny_config(family, "objective.surely_not_an_option=1")
    with pytest.raises(GanforgeError, match="surely_not_an_option"):
        train(cfg, out=tmp_path / "run")
    assert not list((tmp_path / "run").glob("checkpoints/step_*")), "the bad option was caught after training began"


# families whose discriminators judge images, with a tiny config of images (wgan's is a 2-D mixture)
AUGMENTABLE = [f for f in FAMILIES if get_family(f).augmentable and tiny_config(f).data.name not in ("ring8", "grid25")]
AUGMENT = ("augment.policy=translation,cutout,colour", "augment.p=0.5")


@pytest.mark.parametrize("family", AUGMENTABLE)
def test_augmentation_reaches_what_every_discriminator_sees_and_resumes_exactly(family, tmp_path, monkeypatch):
    """Every image a discriminator's forward receives went through the augmentation, in D's steps and in G's
    (DiffAugment's rule), and a run with augmentation resumes bit for bit."""
    outputs, inputs = set(), []
    original = Augment.__call__

    def spy(self, x):
        y = original(self, x)
        outputs.add(id(y))
        kept.append(y)  # keep it alive, so its id stays its own
        return y

    kept: list[torch.Tensor] = []
    monkeypatch.setattr(Augment, "__call__", spy)
    # a gradient penalty differentiates D at copies of (mixes of) augmented images, made inside the penalty
    in_penalty = []
    input_gradient = penalties._input_gradient

    def marked(net, x):
        in_penalty.append(True)
        try:
            return input_gradient(net, x)
        finally:
            in_penalty.pop()

    monkeypatch.setattr(penalties, "_input_gradient", marked)
    # (the doctor's overfitting probe judges unaugmented images on purpose: it is off here)
    cfg = tiny_config(family, "train.steps=1", "doctor.overfit_every=0", *AUGMENT)
    original_init = get_family(family).__init__

    def hooked_init(self, *args, **kw):
        original_init(self, *args, **kw)
        for name, role in self.networks.items():
            if role == "discriminator":
                self.nets[name].register_forward_pre_hook(
                    lambda m, args: None if in_penalty else inputs.append(id(args[0])))

    monkeypatch.setattr(get_family(family), "__init__", hooked_init)
    train(cfg, out=tmp_path / "one")
    assert len(kept) >= 3, f"{family}: D saw {len(kept)} augmented batches in one step (real, fake, G's fake at least)"
    # (acgan calls its D's classify(), not forward: no hook sees those calls, the count above does)
    assert all(i in outputs for i in inputs), f"{family}: a discriminator saw an image the augmentation never touched"
    monkeypatch.undo()

    train(tiny_config(family, f"train.steps={STEPS}", *AUGMENT), out=tmp_path / "straight")
    train(tiny_config(family, f"train.steps={STEPS // 2}", *AUGMENT), out=tmp_path / "split")
    train(tiny_config(family, f"train.steps={STEPS}", *AUGMENT), resume=tmp_path / "split")
    assert_same_state(tmp_path / "straight", tmp_path / "split")
