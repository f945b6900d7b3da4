"""Architectures: shapes for every supported size, and the logits contract of discriminators."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.nets import available_nets, build_net

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 64, 64), (3, 64, 64)]


@pytest.mark.parametrize("shape", SHAPES)
def test_dcgan_shapes(shape):
    g = build_net("dcgan_generator", latent_dim=16, out_shape=shape, base=8)
    d = build_net("dcgan_discriminator", in_shape=shape, base=8)
    x = g(torch.randn(4, 16))
    assert x.shape == (4, *shape)
    assert x.abs().max() <= 1  # tanh output, the data range
    assert d(x).shape == (4,)


def test_dcgan_default_is_the_reference_network():
    """The benchmark's reference: G 100 → 256·7·7 → 128·14·14 → 1·28·28, about 1.8M parameters."""
    g = build_net("dcgan_generator", latent_dim=100, out_shape=(1, 28, 28))
    assert g.width == 256 and g.start == 7
    assert 1.7e6 < sum(p.numel() for p in g.parameters()) < 1.9e6


def test_dcgan_init_is_n_0_002():
    g = build_net("dcgan_generator", latent_dim=100, out_shape=(1, 28, 28))
    w = g.project[0].weight
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)


def test_unsupported_size_is_a_clear_error():
    with pytest.raises(ValueError, match="28, 32, 64"):
        build_net("dcgan_generator", latent_dim=4, out_shape=(1, 30, 30))


@pytest.mark.parametrize("arch", [a for a in available_nets() if a.endswith("discriminator")])
def test_discriminators_return_unbounded_logits(arch):
    """Never probabilities: a hinge or Wasserstein loss on a sigmoid output would silently be wrong."""
    shape = (1, 28, 28)
    d = build_net(arch, in_shape=shape).eval()
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(50)  # large weights: a sigmoid output would pin to [0, 1]
        out = d(torch.randn(64, *shape))
    assert out.shape[0] == 64 and out.dim() >= 1  # (N,) or a map (N, …), e.g. a PatchGAN's (N, H', W')
    assert out.min() < 0 or out.max() > 1


def test_maxout_takes_the_max_over_pieces():
    d = build_net("maxout_discriminator", in_shape=(3,), hidden=(2,), pieces=4, dropout=0.0, input_dropout=0.0)
    maxout = d.body[2]
    x = torch.randn(5, 3)
    pieces = maxout.linear(x).view(5, 2, 4)
    assert torch.equal(maxout(x), pieces.max(dim=-1).values)


def test_unknown_architecture_suggests():
    with pytest.raises(GanforgeError, match="did you mean mlp_generator"):
        build_net("mlp_generatr", latent_dim=2, out_shape=(2,))
    with pytest.raises(GanforgeError, match="dcgan_generator"):
        build_net("dcgan_generator", latent_dim=2, out_shape=(1, 28, 28), widht=3)


@pytest.mark.parametrize("arch,args", [
    ("mlp_discriminator", {"hidden": [32, 16], "input_noise": 0.3, "hidden_noise": 0.5, "weight_norm": True}),
    ("dcgan_discriminator", {"base": 8, "batch_norm": False, "input_noise": 0.3, "dropout": 0.5, "weight_norm": True}),
])
def test_semi_supervised_regularisers_act_in_training_only_and_leave_plain_nets_unchanged(arch, args):
    shape = (1, 16, 16)
    d = build_net(arch, in_shape=shape, **args)
    x = torch.randn(4, *shape)
    d.train()
    assert not torch.equal(d(x), d(x))  # noise / dropout draw afresh
    assert not torch.equal(d.features(x), d.features(x))
    d.eval()
    assert torch.equal(d(x), d(x))
    assert any("parametrizations.weight.original0" in k for k in d.state_dict())  # w = g · v / ‖v‖
    plain_args = {k: v for k, v in args.items() if k in ("hidden", "base", "batch_norm")}
    plain = build_net(arch, in_shape=shape, **plain_args)
    assert not any("parametrizations" in k for k in plain.state_dict())
    torch.manual_seed(0)
    a = build_net(arch, in_shape=shape, **plain_args, input_noise=0.0, weight_norm=False)
    torch.manual_seed(0)
    b = build_net(arch, in_shape=shape, **plain_args)
    assert a.state_dict().keys() == b.state_dict().keys()  # the options off change nothing
