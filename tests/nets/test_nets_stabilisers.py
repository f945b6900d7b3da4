"""Network-level stabilisers: features(), minibatch discrimination, spectral norm, virtual batch norm."""
import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganforge.errors import GanforgeError
from ganforge.nets import build_net
from ganforge.nets.layers import MinibatchDiscrimination, VirtualBatchNorm2d
from ganforge.train import checkpoint

IMAGE_SHAPES = [(1, 28, 28), (3, 32, 32)]
DISCRIMINATORS = ["dcgan_discriminator", "maxout_discriminator", "mlp_discriminator"]
SMALL = {"dcgan_discriminator": {"base": 8}, "maxout_discriminator": {"hidden": (16, 16), "pieces": 3},
         "mlp_discriminator": {"hidden": (16, 16)}, "dcgan_generator": {"base": 8}}


def discriminator(arch, shape=(1, 28, 28), **over):
    return build_net(arch, in_shape=shape, **{**SMALL[arch], **over})


def generator(shape=(1, 28, 28), **over):
    return build_net("dcgan_generator", latent_dim=8, out_shape=shape, **{**SMALL["dcgan_generator"], **over})


# -- features() ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", DISCRIMINATORS)
@pytest.mark.parametrize("minibatch_features", [0, 6])
@pytest.mark.parametrize("train", [False, True])
def test_forward_is_head_of_features(arch, minibatch_features, train):
    d = discriminator(arch, minibatch_features=minibatch_features).train(train)
    x = torch.randn(5, 1, 28, 28)
    torch.manual_seed(0)  # the same dropout masks for both paths in train mode
    f = d.features(x)
    expected = d.head(f)
    torch.manual_seed(0)
    assert torch.equal(d(x), expected)
    assert f.ndim == 2 and len(f) == 5


def test_features_are_the_last_hidden_layer():
    d = discriminator("mlp_discriminator", shape=(2,), hidden=(16, 7)).eval()
    x = torch.randn(4, 2)
    hidden = nn.functional.leaky_relu(d.body[3](nn.functional.leaky_relu(d.body[1](x), 0.2)), 0.2)
    assert torch.equal(d.features(x), hidden)
    assert discriminator("maxout_discriminator", hidden=(16, 9)).features(torch.randn(3, 1, 28, 28)).shape == (3, 9)
    assert discriminator("dcgan_discriminator").features(torch.randn(3, 1, 28, 28)).shape == (3, 16 * 7 * 7)


# -- minibatch discrimination -------------------------------------------------------------------------------------
def test_minibatch_layer_matches_its_definition():
    layer = MinibatchDiscrimination(in_features=6, num_kernels=4, kernel_dim=3)
    f = torch.randn(5, 6)
    out = layer(f)
    assert out.shape == (5, 6 + 4)
    assert torch.equal(out[:, :6], f)
    m = torch.einsum("na,abc->nbc", f, layer.kernels)
    for i, b in itertools.product(range(5), range(4)):
        o = sum(torch.exp(-(m[i, b] - m[j, b]).abs().sum()) for j in range(5) if j != i)
        assert out[i, 6 + b].item() == pytest.approx(o.item(), rel=1e-5)


def test_identical_examples_look_alike_and_distinct_ones_do_not():
    layer = MinibatchDiscrimination(in_features=6, num_kernels=4)
    same = layer.closeness(torch.randn(1, 6).expand(8, 6))
    assert torch.allclose(same, torch.full((8, 4), 7.0))  # N − 1: every other example at distance 0
    apart = layer.closeness(100 * torch.randn(8, 6))
    assert apart.max() < 0.1
    assert torch.equal(layer.closeness(torch.randn(1, 6)), torch.zeros(1, 4))  # nobody else in the batch


@pytest.mark.parametrize("arch", DISCRIMINATORS)
def test_minibatch_output_depends_on_the_batch_but_features_do_not(arch):
    d = discriminator(arch, minibatch_features=6, minibatch_kernel_dim=3).eval()
    assert d.body[-1].in_features == d.features(torch.randn(2, 1, 28, 28)).shape[1] + 6
    x = torch.randn(6, 1, 28, 28)
    y = torch.cat([x[:1], torch.randn(5, 1, 28, 28)])  # the same first example among other company
    fx, fy = d.features(x), d.features(y)
    assert torch.equal(fx[0], fy[0])
    assert not torch.allclose(d.minibatch.closeness(fx)[0], d.minibatch.closeness(fy)[0])
    assert d(x)[0] != d(y)[0]


def test_minibatch_kernels_get_gradients():
    d = discriminator("dcgan_discriminator", minibatch_features=6)
    d(torch.randn(4, 1, 28, 28)).sum().backward()
    assert d.minibatch.kernels.grad.abs().sum() > 0


# -- spectral normalisation ---------------------------------------------------------------------------------------
def normalised_layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


def largest_singular_value(layer):
    w = layer.weight
    if isinstance(layer, nn.ConvTranspose2d):  # outputs are dim 1 there; spectral norm reshapes outputs-first
        w = w.transpose(0, 1)
    return torch.linalg.matrix_norm(w.detach().flatten(1), ord=2).item()


@pytest.mark.parametrize("arch", DISCRIMINATORS + ["dcgan_generator"])
def test_spectral_norm_keeps_sigma_at_one(arch):
    torch.manual_seed(0)
    net = (generator(shape=(3, 32, 32), spectral_norm=True) if arch == "dcgan_generator"
           else discriminator(arch, shape=(3, 32, 32), spectral_norm=True, minibatch_features=4)).train()
    layers = normalised_layers(net)
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    x = torch.randn(8, 8) if arch == "dcgan_generator" else torch.randn(8, 3, 32, 32)
    for _ in range(20):  # one power iteration per training forward pass; small layers have small spectral gaps
        net(x)
    for m in layers:
        assert largest_singular_value(m) == pytest.approx(1.0, abs=0.05)


def test_spectral_norm_off_by_default():
    assert not any(parametrize.is_parametrized(m) for m in discriminator("dcgan_discriminator").modules())


@pytest.mark.parametrize("arch", ["dcgan_discriminator", "dcgan_generator"])
def test_spectrally_normalised_net_survives_a_checkpoint(tmp_path, arch):
    def make():
        if arch == "dcgan_generator":
            return generator(spectral_norm=True, norm="virtual_batch", vbn_reference=4)
        return discriminator(arch, spectral_norm=True, minibatch_features=4)

    torch.manual_seed(0)
    net = make().train()
    x = torch.randn(6, 8) if arch == "dcgan_generator" else torch.randn(6, 1, 28, 28)
    for _ in range(3):  # moves the power iteration's vectors away from their initial values
        net(torch.randn_like(x))
    saved = checkpoint.save_checkpoint(tmp_path, 3, {"net": net}, {"step": 3}, keep=1)
    torch.manual_seed(1)
    fresh = make()
    checkpoint.load_weights(saved, {"net": fresh})
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), net.eval()(x))
        assert torch.equal(fresh.train()(x), net.train()(x))  # and the next power iteration starts from the same u


# -- virtual batch normalisation ----------------------------------------------------------------------------------
def test_vbn_normalises_each_example_with_the_reference_batch():
    vbn = VirtualBatchNorm2d(3, reference_size=5)
    with torch.no_grad():
        vbn.weight.uniform_(0.5, 2)
        vbn.bias.normal_()
    bn = nn.BatchNorm2d(3).train()
    bn.load_state_dict(vbn.state_dict(), strict=False)
    ref, x = torch.randn(5, 3, 4, 4), 3 * torch.randn(4, 3, 4, 4) + 1
    out = vbn(torch.cat([ref, x]))
    assert torch.allclose(out[:5], bn(ref), atol=1e-5)  # the reference: its own statistics only
    for i in range(4):  # every other example: the reference plus itself
        assert torch.allclose(out[5 + i], bn(torch.cat([ref, x[i:i + 1]]))[-1], atol=1e-5)


def test_vbn_gradients_flow_through_the_reference():
    vbn = VirtualBatchNorm2d(2, reference_size=3)
    ref = torch.randn(3, 2, 4, 4, requires_grad=True)
    vbn(torch.cat([ref, torch.randn(2, 2, 4, 4)]))[3:].pow(2).sum().backward()
    assert ref.grad.abs().sum() > 0


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_vbn_output_depends_only_on_the_example(shape):
    g = generator(shape, norm="virtual_batch", vbn_reference=16).train()
    z = torch.randn(16, 8)
    with torch.no_grad():
        together = g(z)
        alone = torch.cat([g(z[i:i + 1]) for i in range(16)])
    assert together.shape == (16, *shape)
    assert torch.allclose(together, alone, rtol=0, atol=1e-6)


def test_batch_norm_output_depends_on_the_batch():
    """The contrast to the test above: with batch norm an example's output changes with its company."""
    g = generator(norm="batch").train()
    z = torch.randn(16, 8)
    with torch.no_grad():
        assert (g(z)[:1] - g(z[:2])[:1]).abs().max() > 1e-3


def test_vbn_is_the_same_in_train_and_eval():
    g = generator(norm="virtual_batch", vbn_reference=8)
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.equal(g.train()(z), g.eval()(z))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.modules())


def test_vbn_reference_is_seeded_and_saved():
    a, b = generator(norm="virtual_batch", vbn_reference=8), generator(norm="virtual_batch", vbn_reference=8)
    assert torch.equal(a.vbn_reference_z, b.vbn_reference_z)  # from vbn_seed, not the global RNG
    assert a.vbn_reference_z.shape == (8, 8)
    assert not torch.equal(a.vbn_reference_z, generator(norm="virtual_batch", vbn_reference=8, vbn_seed=1).vbn_reference_z)
    assert "vbn_reference_z" in a.state_dict()
    assert "vbn_reference_z" not in generator().state_dict()


def test_generator_without_normalisation():
    g = generator(norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, VirtualBatchNorm2d)) for m in g.modules())
    assert all(m.bias is not None for m in normalised_layers(g))  # no β to stand in for the biases
    assert g(torch.randn(3, 8)).shape == (3, 1, 28, 28)


# -- everything through build_net ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", IMAGE_SHAPES)
@pytest.mark.parametrize("norm", ["batch", "virtual_batch", "none"])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_generator_options_build(shape, norm, spectral_norm):
    g = generator(shape, norm=norm, vbn_reference=4, spectral_norm=spectral_norm)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, *shape) and x.abs().max() <= 1


@pytest.mark.parametrize("arch,shape", [(a, s) for a in DISCRIMINATORS for s in IMAGE_SHAPES]
                         + [("maxout_discriminator", (2,)), ("mlp_discriminator", (2,))])
@pytest.mark.parametrize("minibatch_features", [0, 5])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_discriminator_options_build(arch, shape, minibatch_features, spectral_norm):
    d = discriminator(arch, shape, minibatch_features=minibatch_features, minibatch_kernel_dim=3,
                      spectral_norm=spectral_norm)
    assert d(torch.randn(4, *shape)).shape == (4,)


@pytest.mark.parametrize("arch,args,name", [
    ("dcgan_discriminator", {"spectral_norm": "yes"}, "spectral_norm"),
    ("dcgan_discriminator", {"minibatch_features": -1}, "minibatch_features"),
    ("dcgan_discriminator", {"minibatch_features": True}, "minibatch_features"),
    ("dcgan_discriminator", {"minibatch_kernel_dim": 0}, "minibatch_kernel_dim"),
    ("dcgan_discriminator", {"batch_norm": "no"}, "batch_norm"),
    ("mlp_discriminator", {"minibatch_features": 2.5}, "minibatch_features"),
    ("maxout_discriminator", {"minibatch_kernel_dim": "5"}, "minibatch_kernel_dim"),
    ("dcgan_generator", {"norm": "vbm"}, "norm"),
    ("dcgan_generator", {"vbn_reference": 0}, "vbn_reference"),
    ("dcgan_generator", {"vbn_seed": "zero"}, "vbn_seed"),
])
def test_bad_values_are_errors_naming_the_argument(arch, args, name):
    shape_args = {"latent_dim": 8, "out_shape": (1, 28, 28)} if arch == "dcgan_generator" else {"in_shape": (1, 28, 28)}
    with pytest.raises(GanforgeError, match=rf"network '{arch}': {name} must be"):
        build_net(arch, **SMALL[arch], **shape_args, **args)


def test_close_choices_are_suggested():
    with pytest.raises(GanforgeError, match="did you mean 'virtual_batch'"):
        generator(norm="virtual-batch")
