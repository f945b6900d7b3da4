"""Image-to-image networks: pix2pix's U-Net translator and PatchGAN discriminator (Isola et al. 2017), CycleGAN's
ResNet translator (Zhu et al. 2017, after Johnson et al. 2016) and SRGAN's sub-pixel generator (Ledig et al. 2017).

Both use pix2pix's block: a 4×4 convolution of stride 2 (padding 1), a normalisation, then LeakyReLU(0.2) going
down or ReLU going up, with weights drawn from N(0, 0.02).

U-Net: an encoder that halves the image down to 1×1 and a decoder that doubles it back, each decoder block seeing
the encoder block of its size beside it (skip connections), so low-level detail such as the location of edges
crosses the bottleneck directly. Widths base·1, 2, 4, 8, 8, …; dropout 0.5 in the first decoder blocks is the
generator's only noise (the paper found an input z ignored). An image whose side is not a power of two is padded
(replicating its border) up to the next one and the output cropped back.

PatchGAN: a fully convolutional discriminator whose output is a map of logits, each judging one patch of the
input; the costs average the map (the logits contract). `layers` stride-2 blocks, then a stride-1 block and a
stride-1 convolution to one channel; the patch side is 1 + 3·(2^(layers+1) + 2^layers − 1): 70 px for 3 layers
(the paper's 70×70 on 256 px images), 34 for 2, 16 for 1. By default `layers` is picked so the patch keeps the
paper's ratio of about 70/256 of the image side (one layer, 16 px, for 28–64 px images).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .args import check_choice, check_int
from .registry import register_net

NORMS = ("batch", "instance", "none")


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(width)
    if kind == "instance":
        return nn.InstanceNorm2d(width, affine=True)
    return nn.Identity()


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _check(norm: str, base: int, blocks: int) -> None:
    check_choice("norm", norm, NORMS)
    check_int("base", base, minimum=1)
    check_int("blocks", blocks, minimum=0)


def patch_side(layers: int) -> int:
    """The receptive field (in input pixels) of one logit of a PatchGAN with `layers` stride-2 blocks."""
    return 1 + 3 * (2 ** (layers + 1) + 2 ** layers - 1)


def default_patch_layers(size: int) -> int:
    """Stride-2 blocks whose patch is nearest 70/256 of the image side (at least one)."""
    return min(range(1, 6), key=lambda n: abs(patch_side(n) - size * 70 / 256))


@register_net("unet_translator", role="translator")
class UNet(nn.Module):
    """in_shape (C_in, H, W) images in [-1, 1] → out_shape (C_out, H·s, W·s) in [-1, 1] (tanh); s = 1, or an
    integer upscale when the output is larger (the input is first resized bicubically to the output's size)."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...], base: int = 64,
                 norm: Literal["batch", "instance", "none"] = "batch", dropout: float = 0.5, dropout_blocks: int = 3,
                 max_width: int = 512):
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_int("base", base, minimum=1)
        check_int("dropout_blocks", dropout_blocks, minimum=0)
        check_int("max_width", max_width, minimum=1)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        (c_in, h, w), (c_out, out_h, out_w) = in_shape, out_shape
        if h != w or out_h != out_w or out_h % h:
            raise ValueError(f"unet_translator maps square images to square images of the same or a whole multiple "
                             f"of their side; got {tuple(in_shape)} → {tuple(out_shape)}")
        self.size = out_h
        self.padded = 2 ** math.ceil(math.log2(out_h))
        depth = int(math.log2(self.padded))  # down to 1×1
        widths = [min(base * 2 ** i, max_width) for i in range(depth)]
        self.down = nn.ModuleList()
        for i, width in enumerate(widths):
            previous = c_in if i == 0 else widths[i - 1]
            # no normalisation on the outermost block (the paper's) nor the 1×1 innermost (one value per channel)
            plain = i == 0 or i == depth - 1
            self.down.append(nn.Sequential(
                *([] if i == 0 else [nn.LeakyReLU(0.2)]),
                nn.Conv2d(previous, width, 4, 2, 1, bias=plain or norm == "none"),
                *([] if plain else [_norm(norm, width)])))
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            inner = i == depth - 1
            width_in = widths[i] * (1 if inner else 2)  # the innermost block has no skip beside it
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(width_in, c_out, 4, 2, 1), nn.Tanh()))
                continue
            block = depth - 1 - i  # 0 for the innermost
            self.up.append(nn.Sequential(
                nn.ReLU(), nn.ConvTranspose2d(width_in, widths[i - 1], 4, 2, 1, bias=norm == "none"),
                _norm(norm, widths[i - 1]), *([nn.Dropout(dropout)] if dropout and block < dropout_blocks else [])))
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bicubic", align_corners=False).clamp(-1, 1)
        pad = self.padded - self.size
        if pad:
            x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2), mode="replicate")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the innermost output is what the decoder starts from
        for i, block in enumerate(self.up):
            x = block(x if i == 0 else torch.cat([x, skips.pop()], 1))
        if pad:
            x = x[..., pad // 2: pad // 2 + self.size, pad // 2: pad // 2 + self.size]
        return x


class ResidualBlock(nn.Module):
    """x + two 3×3 convolutions (reflection padding, normalisation, ReLU between them)."""

    def __init__(self, width: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3, bias=norm == "none"), _norm(norm, width), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3, bias=norm == "none"), _norm(norm, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_net("resnet_translator", role="translator")
class ResNetTranslator(nn.Module):
    """CycleGAN's generator: c7s1-base, two stride-2 convolutions (base·2, base·4), `blocks` residual blocks at
    a quarter of the side, two stride-½ transposed convolutions back, c7s1 to the output channels and tanh.
    Instance norm by default (the paper's). Sides must be multiples of 4 (28 px: 28 → 14 → 7 → back)."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...], base: int = 64, blocks: int = 6,
                 norm: Literal["batch", "instance", "none"] = "instance"):
        super().__init__()
        _check(norm, base, blocks)
        (c_in, h, w), (c_out, out_h, out_w) = in_shape, out_shape
        if (h, w) != (out_h, out_w) or h % 4 or w % 4:
            raise ValueError(f"resnet_translator maps images to images of the same size, sides multiples of 4; got "
                             f"{tuple(in_shape)} → {tuple(out_shape)}")
        bias = norm == "none"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, base, 7, bias=bias), _norm(norm, base),
                                   nn.ReLU()]
        width = base
        for _ in range(2):
            layers += [nn.Conv2d(width, width * 2, 3, 2, 1, bias=bias), _norm(norm, width * 2), nn.ReLU()]
            width *= 2
        layers += [ResidualBlock(width, norm) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1, bias=bias),
                       _norm(norm, width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, c_out, 7), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _SRBlock(nn.Module):
    """SRGAN's residual block: conv3-BN-PReLU-conv3-BN plus the input."""

    def __init__(self, width: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), _norm(norm, width), nn.PReLU(width),
                                  nn.Conv2d(width, width, 3, 1, 1), _norm(norm, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_net("srresnet_translator", role="translator")
class SRResNet(nn.Module):
    """SRGAN's generator (Ledig et al. 2017): a 9×9 convolution, `blocks` residual blocks with a skip around them
    all, then one ×2 sub-pixel stage (a convolution to 4× the channels and a pixel shuffle) per doubling of the side,
    and a 9×9 convolution to the output channels (tanh, for images in [-1, 1]). The output side must be the input's
    times a power of two."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...], base: int = 64, blocks: int = 16,
                 norm: Literal["batch", "instance", "none"] = "batch"):
        super().__init__()
        _check(norm, base, blocks)
        (c_in, h, _), (c_out, out_h, _) = in_shape, out_shape
        scale = out_h // h
        if out_h % h or scale & (scale - 1) or scale < 2:
            raise ValueError(f"srresnet_translator upscales by a power of two ≥ 2; got {tuple(in_shape)} → "
                             f"{tuple(out_shape)}")
        self.head = nn.Sequential(nn.Conv2d(c_in, base, 9, 1, 4), nn.PReLU(base))
        self.blocks = nn.Sequential(*[_SRBlock(base, norm) for _ in range(blocks)],
                                    nn.Conv2d(base, base, 3, 1, 1), _norm(norm, base))
        ups: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            ups += [nn.Conv2d(base, base * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(base)]
        self.tail = nn.Sequential(*ups, nn.Conv2d(base, c_out, 9, 1, 4), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return self.tail(h + self.blocks(h))


@register_net("patchgan_discriminator")
class PatchGAN(nn.Module):
    """in_shape (C, H, W) → a map of raw logits (N, H', W'), one per overlapping patch; features(x) → (N, F) is the
    flattened last hidden map, and forward(x) == head(features(x))."""

    def __init__(self, in_shape: tuple[int, ...], base: int = 64, layers: int | None = None,
                 norm: Literal["batch", "instance", "none"] = "batch"):
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_int("base", base, minimum=1)
        if len(in_shape) != 3:
            raise ValueError(f"patchgan_discriminator takes images (C, H, W), got shape {tuple(in_shape)}")
        c, h, _ = in_shape
        layers = default_patch_layers(h) if layers is None else layers
        check_int("layers", layers, minimum=1)
        blocks: list[nn.Module] = [nn.Conv2d(c, base, 4, 2, 1), nn.LeakyReLU(0.2)]
        width = base
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1
            out = min(base * 2 ** i, base * 8)
            blocks += [nn.Conv2d(width, out, 4, stride, 1, bias=norm == "none"), _norm(norm, out), nn.LeakyReLU(0.2)]
            width = out
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv2d(width, 1, 4, 1, 1)
        self.patch = patch_side(layers)
        with torch.no_grad():
            self.map_shape = tuple(self.body(torch.zeros(1, *in_shape)).shape[1:])
        if min(self.map_shape[1:]) < 2:
            raise ValueError(f"patchgan_discriminator: {layers} layers leave no patch map for {h}×{h} images; "
                             "use fewer layers")
        _init(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(f.view(len(f), *self.map_shape)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x)).squeeze(1)
