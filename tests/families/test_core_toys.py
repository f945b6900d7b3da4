"""The core carries families that are not z → x, before the real ones exist: a toy two-domain translation family
(two generators, two PatchGAN-style discriminators returning logit maps, an unpaired second domain as a batch
stream, a pool of past fakes kept as family state, a D phase that reuses its G phase's batch, an EMA of each
generator) and a toy text-conditioned family (a float embedding field beside the images). Both live only here."""
import pytest
import torch

import ganforge
from ganforge.errors import GanforgeError
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ganforge.config import config_from_dict
from ganforge.data import load_dataset
from ganforge.data.base import Dataset
from ganforge.families import Batch, Family, Phase
from ganforge.families import base as family_registry
from ganforge.train import checkpoint, loop, train

POOL = 8


def translator() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1), nn.Tanh())


class PatchCritic(nn.Module):
    """Logits per 4×4 patch: (N, H/4, W/4), the logits contract's (N, …) case."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(8, 1, 4, stride=2, padding=1))

    def forward(self, x):
        return self.body(x).squeeze(1)


class ToyTranslation(Family):
    """Unpaired translation between digits (A) and their inverted copy (B), CycleGAN-shaped."""

    networks = {"G_ab": "generator", "G_ba": "generator", "D_a": "discriminator", "D_b": "discriminator"}
    generator = "G_ab"
    inputs = {"G_ab": ("x",)}  # a translator: grids show G_ab of fixed real A images

    def __init__(self, cfg, data_shape, num_classes=0, **kw):
        super().__init__(cfg, data_shape, num_classes, **kw)
        self.pool = {"a": torch.zeros(0, *data_shape), "b": torch.zeros(0, *data_shape)}
        # the batches the phases got, held (an id alone could be reused once a batch is freed): the test checks
        # same_batch
        self.batches_seen: list[Batch] = []

    def build(self, name, role):
        return translator() if role == "generator" else PatchCritic()

    def streams(self, data):
        inverted = Dataset("digits inverted", 255 - data.stored, None, "image", data.image_size, data.channels)
        return {"b": (inverted, self.cfg.train.batch_size)}  # drawn independently of A: unpaired

    def phases(self):
        return [Phase("g_step", updates=("G_ab", "G_ba")),
                Phase("d_step", updates=("D_a", "D_b"), same_batch=True)]

    def g_step(self, batch: Batch):
        self.batches_seen.append(batch)
        a, b = batch.x, batch.b.x
        fake_b, fake_a = self.nets.G_ab(a), self.nets.G_ba(b)
        self.remember(fake_a.detach(), fake_b.detach())
        return {"g_ls": (self.nets.D_b(fake_b) - 1).square().mean() + (self.nets.D_a(fake_a) - 1).square().mean(),
                "cycle": 10 * (F.l1_loss(self.nets.G_ba(fake_b), a) + F.l1_loss(self.nets.G_ab(fake_a), b))}

    def remember(self, fake_a, fake_b):
        for side, fake in (("a", fake_a), ("b", fake_b)):
            self.pool[side] = torch.cat([fake.cpu(), self.pool[side]])[:POOL]

    def d_step(self, batch: Batch):
        self.batches_seen.append(batch)
        pick = torch.randint(len(self.pool["a"]), (batch.size,))  # the global RNG: checkpointed with the run
        terms = {}
        for side, real, D in (("a", batch.x, self.nets.D_a), ("b", batch.b.x, self.nets.D_b)):
            fake = self.pool[side][pick].to(real.device)
            terms[f"d_{side}"] = ((D(real) - 1).square().mean() + D(fake).square().mean()) / 2
        return terms

    def training_state(self):
        return {"pool": dict(self.pool)}

    def load_training_state(self, state):
        self.pool = dict(state["pool"])


class EmbeddingGenerator(nn.Module):
    def __init__(self, latent_dim, shape):
        super().__init__()
        self.shape, self.body = shape, nn.Sequential(nn.Linear(latent_dim + 8, shape[-1] ** 2), nn.Tanh())

    def forward(self, z, e):
        return self.body(torch.cat([z, e], 1)).view(len(z), *self.shape)


class Captioned(Family):
    """G(z, e) and D(x, e) for a float 'embedding' field of the data, the shape of GAN-CLS."""

    networks = {"G": "generator", "D": "discriminator"}
    needs = ("x", "embedding")
    inputs = {"G": ("z", "embedding")}  # grids: fixed z with fixed real embeddings

    def build(self, name, role):
        if role == "generator":
            return EmbeddingGenerator(self.cfg.latent_dim, self.data_shape)
        return nn.Linear(self.data_shape[-1] ** 2 + 8, 1)

    def phases(self):
        return [Phase("d_step", updates=("D",)), Phase("g_step", updates=("G",))]

    def fake(self, e):
        return self.nets.G(self.z(len(e)), e)

    def score(self, x, e):
        return self.nets.D(torch.cat([x.flatten(1), e], 1)).squeeze(1)

    def d_step(self, batch):
        assert batch.embedding.shape == (batch.size, 8) and batch.embedding.dtype == torch.float32
        with torch.no_grad():
            fake = self.fake(batch.embedding)
        return {"d": F.softplus(-self.score(batch.x, batch.embedding)).mean()
                + F.softplus(self.score(fake, batch.embedding)).mean()}

    def g_step(self, batch):
        return {"g": F.softplus(-self.score(self.fake(batch.embedding), batch.embedding)).mean()}


def toy_config(family: str, **train_options) -> dict:
    return config_from_dict({
        "family": family, "latent_dim": 4, "data": {"name": "digits"},
        "nets": {n: {"arch": "toy"} for n in {"toy_translation": ToyTranslation, "toy_captioned": Captioned}[family].networks},
        "train": {"steps": 6, "batch_size": 16, "seed": 5, "threads": 1, **train_options},
        "log": {"every": 2, "sample_every": 3, "grid": 8, "progress": False, "tensorboard": False},
        "checkpoint": {"every": 3, "keep": 3},
    })


@pytest.fixture
def toys(monkeypatch):
    for name, cls in (("toy_translation", ToyTranslation), ("toy_captioned", Captioned)):
        monkeypatch.setattr(cls, "name", name)
        monkeypatch.setitem(family_registry._FAMILIES, name, cls)  # registered for this test only


def final_weights(run_dir) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint.latest_checkpoint(run_dir) / checkpoint.WEIGHTS))


def test_two_domain_family_trains_with_streams_pools_same_batch_and_an_ema_per_generator(tmp_path, toys):
    run = train(toy_config("toy_translation", ema=0.9), out=tmp_path / "run")
    family = run.family
    torch.manual_seed(5)  # train() seeds before building the family: the same initial weights
    initial = ToyTranslation(toy_config("toy_translation"), family.data_shape)
    for name in family.networks:  # every network trained
        changed = [not torch.equal(p, q) for p, q in zip(family.nets[name].parameters(), initial.nets[name].parameters())]
        assert any(changed), name
    # the D step judged the very batch of its G step: the batches come in pairs of one object
    seen = family.batches_seen
    assert len(seen) == 12 and all(seen[i] is seen[i + 1] for i in range(0, 12, 2)) and seen[0] is not seen[2]
    weights = final_weights(run.dir)
    assert {k.split("/")[0] for k in weights} == {"G_ab", "G_ba", "D_a", "D_b", "G_ab_ema", "G_ba_ema"}
    assert not torch.equal(weights["G_ab_ema/0.weight"], weights["G_ab/0.weight"])
    assert run.emas.keys() == {"G_ab", "G_ba"}
    assert (run.dir / "samples" / "step_00000006.png").is_file()  # a grid of G_ab's translations of fixed inputs
    assert len(family.pool["a"]) == POOL


def test_two_domain_family_resumes_bit_exactly_with_its_pool(tmp_path, toys):
    straight = train(toy_config("toy_translation", ema=0.9), out=tmp_path / "straight")
    train(toy_config("toy_translation", ema=0.9, steps=3), out=tmp_path / "split")
    resumed = train(toy_config("toy_translation", ema=0.9), resume=tmp_path / "split")
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(straight.family.pool[s], resumed.family.pool[s]) for s in "ab")
    state = checkpoint.load_state(checkpoint.latest_checkpoint(tmp_path / "split"))
    assert set(state["samplers"]) == {"main", "b"} and set(state["family"]["pool"]) == {"a", "b"}


def test_text_conditioned_family_gets_its_embedding_field(tmp_path, toys, monkeypatch):
    digits = load_dataset("digits")
    embed = torch.randn(10, 8, generator=torch.Generator().manual_seed(0))  # a "sentence embedding" per class
    captioned = Dataset("captioned digits", digits.stored, digits.labels, "image",
                        extra={"embedding": embed[digits.labels]})
    assert captioned.spec["embedding"].kind == "embedding" and captioned.spec["embedding"].shape == (8,)
    monkeypatch.setattr(loop, "build_data", lambda cfg: captioned)
    straight = train(toy_config("toy_captioned"), out=tmp_path / "straight")
    train(toy_config("toy_captioned", steps=3), out=tmp_path / "split")
    train(toy_config("toy_captioned"), resume=tmp_path / "split")
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.step == 6 and all(torch.isfinite(v).all() for v in a.values())


def test_generators_that_take_data_fields_sample_with_a_condition(tmp_path, toys, monkeypatch):
    """`ganforge.load(run).sample(n, condition=…)`: a translator maps the images it is given, a text-conditioned G
    takes z and one embedding per sample; asking either without its condition is a clear error."""
    run = train(toy_config("toy_translation", ema=0.9), out=tmp_path / "translation")
    g = ganforge.load(run.dir)
    assert g.inputs == ("x",) and g.conditions == ("x",)
    a = load_dataset("digits").examples(torch.arange(5))
    out = g.sample(5, condition=a)
    with torch.no_grad():
        assert torch.equal(out, run.emas["G_ab"].net.eval()(a))  # the EMA translator, applied to these images
    with pytest.raises(GanforgeError, match=r"conditioned on x: sample\(n, condition=…\) needs one row per sample"):
        g.sample(5)
    with pytest.raises(GanforgeError, match="condition 'x': a float tensor with 4 rows"):
        g.sample(4, condition=a)
    with pytest.raises(GanforgeError, match="takes x, not a class"):
        g.sample(5, label=1, condition=a)

    digits = load_dataset("digits")
    embed = torch.randn(10, 8, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(loop, "build_data", lambda cfg: Dataset("captioned digits", digits.stored, digits.labels,
                                                                "image", extra={"embedding": embed[digits.labels]}))
    captioned = ganforge.load(train(toy_config("toy_captioned"), out=tmp_path / "captioned").dir)
    assert captioned.inputs == ("z", "embedding")
    e = embed[torch.tensor([0, 0, 3])]
    x = captioned.sample(3, seed=1, condition=e)
    assert x.shape == (3, 1, 8, 8) and torch.equal(x, captioned.sample(3, seed=1, condition={"embedding": e}))
    with torch.no_grad():
        assert torch.equal(x, captioned.net(captioned.latents(3, seed=1), e))
    with pytest.raises(GanforgeError, match=r"condition must give embedding"):
        captioned.sample(3, condition={"text": e})
