"""VGG-19's convolutional features (Simonyan & Zisserman 2015) from a local weights file, frozen: SRGAN's perceptual
content loss (Ledig et al. 2017) when the user has the weights (nothing is downloaded).

The file is torchvision's `vgg19` state dict (keys `features.<i>.weight` / `.bias`, as `torch.save`d — read with
weights_only=True — or as safetensors); only the layers up to the chosen ReLU are read. Images in [-1, 1] are brought
to [0, 1], given three channels if grey, and normalised with ImageNet's mean and deviation, as VGG was trained.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import GanforgeError

# torchvision's VGG-19 "E" configuration: channels of each 3×3 convolution, "M" a 2×2 max-pool
_PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
# the index in `features` of the ReLU each layer name ends at (conv, relu and pool modules all count)
LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_4": 17, "relu4_4": 26, "relu5_4": 35}
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _read(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise GanforgeError(f"{path}: VGG-19 weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle with code, a truncated file, another format
        raise GanforgeError(f"{path}: cannot read VGG-19 weights ({type(e).__name__}: "
                            f"{' '.join(str(e).split())[:200]})") from None
    if not isinstance(state, dict):
        raise GanforgeError(f"{path}: expected a state dict (torchvision's vgg19), got {type(state).__name__}")
    return state


class VGG19Features(nn.Module):
    """x in [-1, 1], (N, 1 or 3, H, W) → VGG-19's activations at `layer` (e.g. relu2_2, relu5_4); frozen."""

    def __init__(self, weights: str | Path, layer: str = "relu5_4"):
        super().__init__()
        if layer not in LAYERS:
            raise GanforgeError(f"VGG-19 layer '{layer}' unknown; choose from {', '.join(LAYERS)}")
        modules: list[nn.Module] = []
        channels = 3
        for width in _PLAN:
            if width == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
                channels = width
        self.features = nn.Sequential(*modules[:LAYERS[layer] + 1])
        state = _read(Path(weights))
        wanted = {k: v for k, v in self.features.state_dict().items()}
        given = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        missing = [k for k in wanted if k not in given]
        if missing:
            raise GanforgeError(f"{weights}: not torchvision's vgg19 weights (no features.{missing[0]}, …)")
        for k, v in wanted.items():
            if given[k].shape != v.shape:
                raise GanforgeError(f"{weights}: features.{k} has shape {tuple(given[k].shape)}, VGG-19's is "
                                    f"{tuple(v.shape)}")
        self.features.load_state_dict({k: given[k].float() for k in wanted})
        self.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> "VGG19Features":
        return super().train(False)  # frozen: always in eval mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x + 1) / 2
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)
