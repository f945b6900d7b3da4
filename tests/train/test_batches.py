"""Batches of named fields: a family gets the fields it declares it needs and no others, its extra streams come as
batches of their own, and the data must hold what the family needs."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.families import Batch
from ganforge.families.gan import GAN
from ganforge.train import checkpoint, loop, train

from conftest import assert_same_state


def spy_on_batches(monkeypatch, cls, method="d_step"):
    seen = []
    original = getattr(cls, method)

    def spy(self, batch):
        seen.append(batch)
        return original(self, batch)

    monkeypatch.setattr(cls, method, spy)
    return seen


def test_a_batch_carries_only_the_fields_its_family_needs(tmp_path, tiny, monkeypatch):
    seen = spy_on_batches(monkeypatch, GAN)
    train(tiny(train__steps=2), out=tmp_path / "run")  # digits are labelled, the plain GAN needs only x
    assert seen and all(set(b.fields) == {"x"} and b.size == 16 for b in seen)
    assert seen[0].x.shape == (16, 1, 16, 16) and seen[0].x.dtype == torch.float32
    with pytest.raises(AttributeError, match="no field or stream 'label' .it has: x"):
        seen[0].label


def test_semi_supervised_labels_stay_hidden_and_the_few_come_as_a_stream(tmp_path, tiny, monkeypatch):
    from ganforge.families.ssgan import SemiSupervisedGAN

    seen = spy_on_batches(monkeypatch, SemiSupervisedGAN)
    cfg = tiny(family="ssgan", train__steps=2, data__labels_per_class=2,
               nets={"G": {"arch": "dcgan_generator", "args": {"base": 8}},
                     "D": {"arch": "dcgan_discriminator", "args": {"base": 8}}})
    train(cfg, out=tmp_path / "run")
    batch = seen[0]
    assert set(batch.fields) == {"x"} and "labelled" in batch  # the unlabelled batch's labels are not there
    assert batch.labelled.x.shape == (16, 1, 16, 16)
    # drawn from the 20 labelled examples (2 per class) without repeats within the epoch: no class thrice
    assert torch.bincount(batch.labelled.label, minlength=10).max() <= 2


class CaptionedGAN(GAN):
    needs = ("x", "caption")


def test_data_without_a_needed_field_is_named_before_training(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(loop, "get_family", lambda name: CaptionedGAN)
    with pytest.raises(GanforgeError, match="needs the data fields caption; dataset 'digits' has x, label"):
        train(tiny(), out=tmp_path / "run")
    assert not list((tmp_path / "run").glob("checkpoints/step_*"))


def test_a_checkpoint_from_before_named_streams_still_resumes_bit_exactly(tmp_path, tiny):
    train(tiny(train__steps=6), out=tmp_path / "straight")
    train(tiny(train__steps=3), out=tmp_path / "split")
    ckpt = checkpoint.latest_checkpoint(tmp_path / "split")
    state = checkpoint.load_state(ckpt)
    state["sampler"] = state.pop("samplers")["main"]  # how ganforge wrote it before
    torch.save(state, ckpt / checkpoint.STATE)
    train(tiny(train__steps=6), resume=tmp_path / "split")
    assert_same_state(tmp_path / "straight", tmp_path / "split")


def test_batch_fields_and_streams_are_named():
    b = Batch(4, {"x": torch.zeros(4, 2)}, {"labelled": Batch(2, {"x": torch.ones(2, 2), "label": torch.tensor([0, 1])})})
    assert b.x.shape == (4, 2) and b.labelled.label.tolist() == [0, 1] and "labelled" in b and "label" not in b
    assert Batch(8).size == 8 and not Batch(8).fields
