"""The FID Inception-v3 feature extractor (the TF-ported network used by pytorch-fid / torch-fidelity).

FID numbers are only comparable across papers when they come from this exact network and input
pipeline, so this module reproduces both. The weights are not shipped: they are pytorch-fid's file
``pt_inception-2015-12-05-6726825d.pth`` (a plain state dict whose keys follow torchvision's
Inception-v3 naming and whose ``fc`` has 1008 classes), either supplied by the user as a path or
downloaded once into a cache and checked against its published sha256 (:func:`fetch_fid_inception`,
:func:`resolve_inception_weights`).

Network (differences from torchvision's ``inception_v3``, all inherited from the TF graph):

* ``BasicConv2d`` = conv without bias + BatchNorm(eps=0.001) + ReLU;
* the 3x3 average pools in InceptionA (Mixed_5b-5d), InceptionC (Mixed_6b-6e) and the first
  InceptionE (Mixed_7b) use ``count_include_pad=False``;
* the last InceptionE (Mixed_7c) uses a 3x3 *max* pool in its pool branch;
* no auxiliary classifier; ``fc`` maps 2048 -> 1008.

``FIDInceptionV3.forward`` returns the 2048-d global-average-pooled features (the FID features);
``logits`` adds ``fc``.

Input convention (pytorch-fid): images in [0, 1] (uint8 images divided by 255) are resized to
299x299 with bilinear interpolation (``align_corners=False``, no antialiasing), then scaled to
[-1, 1] by ``2x - 1``; grey images are repeated to 3 channels. :func:`preprocess` does this from
ganforge's convention (float in [-1, 1], (N, C, H, W)) or from uint8 (N, H, W, C) arrays. pytorch-fid
reads images from PNG files, i.e. quantised to 8 bits; pass ``quantize=True`` to reproduce that for
float generator output. (torch-fidelity feeds uint8 and uses its own TF-style resize, so tiny
differences from its numbers remain when images are not already 299x299.)
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from http.client import HTTPException
from pathlib import Path
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanforgeError
from .. import fileio
from ..fileio import cache_dir, file_sha256, urllib_download

FID_INPUT_SIZE = 299
FID_FEATURE_DIM = 2048
FID_NUM_CLASSES = 1008

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
# Full sha256 of the file at FID_WEIGHTS_URL, as other FID code pins it next to that URL (e.g.
# snap-research/discoscene models/inception_model.py); torch-fidelity's re-host of the same weights has
# the same hash. Its first 8 digits are the "6726825d" in the file name (torch.hub's convention).
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
_DOWNLOAD_TIMEOUT_S = 60  # per socket operation: a dead network fails fast instead of hanging

ImageInput = Union[np.ndarray, torch.Tensor]

__all__ = [
    "FIDInceptionV3", "load_fid_inception", "preprocess", "inception_features",
    "inception_cache_dir", "fetch_fid_inception", "resolve_inception_weights",
    "FID_INPUT_SIZE", "FID_FEATURE_DIM", "FID_NUM_CLASSES",
    "FID_WEIGHTS_URL", "FID_WEIGHTS_FILE", "FID_WEIGHTS_SHA256",
]


class BasicConv2d(nn.Module):
    """conv (no bias: BN supplies the shift) + BatchNorm(eps=0.001, the TF value) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_no_pad() -> nn.AvgPool2d:
    # TF's average pool ignores padded zeros at the border; torchvision's default counts them
    return nn.AvgPool2d(kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """Mixed_5b-5d: 1x1, 5x5, double 3x3 and pool branches (64 + 64 + 96 + pool_features)."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.pool = _avg_pool_no_pad()
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(self.pool(x))
        return torch.cat([b1, b5, b3, bp], dim=1)


class InceptionB(nn.Module):
    """Mixed_6a: grid reduction 35 -> 17 (384 + 96 + in_channels)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, self.pool(x)], dim=1)


class InceptionC(nn.Module):
    """Mixed_6b-6e: factorised 7x7 branches (4 x 192 = 768 channels)."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.pool = _avg_pool_no_pad()
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(self.pool(x))
        return torch.cat([b1, b7, bd, bp], dim=1)


class InceptionD(nn.Module):
    """Mixed_7a: grid reduction 17 -> 8 (320 + 192 + in_channels)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, self.pool(x)], dim=1)


class InceptionE(nn.Module):
    """Mixed_7b/7c: expanded 3x3 branches (320 + 768 + 768 + 192 = 2048 channels).

    ``max_pool=True`` gives the FID Mixed_7c variant (the TF graph max-pools there)."""

    def __init__(self, in_channels: int, max_pool: bool = False) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.pool: nn.Module = (nn.MaxPool2d(kernel_size=3, stride=1, padding=1) if max_pool
                                else _avg_pool_no_pad())
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        s = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], dim=1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], dim=1)
        bp = self.branch_pool(self.pool(x))
        return torch.cat([b1, b3, bd, bp], dim=1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 as used for FID. Input: (N, 3, 299, 299) in [-1, 1] (see :func:`preprocess`);
    ``forward`` returns the (N, 2048) average-pooled features, ``logits`` the (N, 1008) class scores.

    Attribute names match the pytorch-fid weights file, so ``load_state_dict(..., strict=True)``
    accepts it; parameters start randomly initialised (PyTorch defaults) until weights are loaded."""

    sha256: str | None = None  # of the weights file, set by load_fid_inception for provenance

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        # unused by FID, but part of the weights file: keeping it lets strict loading catch bad files
        self.fc = nn.Linear(FID_FEATURE_DIM, FID_NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1,
                      self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2,
                      self.Mixed_5b, self.Mixed_5c, self.Mixed_5d,
                      self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
                      self.Mixed_7a, self.Mixed_7b, self.Mixed_7c, self.avgpool):
            x = block(x)
        return torch.flatten(x, 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1008) class scores of the TF graph (index 0 is its 'background' class)."""
        return self.fc(self.forward(x))


def preprocess(images: ImageInput, quantize: bool = False) -> torch.Tensor:
    """Images -> the network's input: float32 (N, 3, 299, 299) in [-1, 1] (pytorch-fid pipeline).

    Accepts float (N, C, H, W) or (N, H, W) in [-1, 1] (ganforge's convention), or uint8
    (N, H, W, C) or (N, H, W) in 0..255; C is 1 (repeated to 3) or 3. ``quantize=True`` rounds float
    images to 8 bits first, as if they had been saved to PNG (what pytorch-fid sees)."""
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    x = x.detach()
    if x.dtype == torch.uint8:
        if x.ndim == 3:
            x = x.unsqueeze(-1)
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(f"uint8 images must be (N, H, W, C) with C in (1, 3), got shape {tuple(x.shape)}")
        x = x.permute(0, 3, 1, 2).float() / 255.0
    elif x.is_floating_point():
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"float images must be (N, C, H, W) with C in (1, 3), got shape {tuple(x.shape)}")
        # [-1, 1] -> [0, 1], the range pytorch-fid resizes in; clamp guards slight generator overshoot
        x = ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)
        if quantize:
            x = torch.round(x * 255.0) / 255.0
    else:
        raise ValueError(f"images must be float in [-1, 1] or uint8, got dtype {x.dtype}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = F.interpolate(x, size=(FID_INPUT_SIZE, FID_INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2.0 * x - 1.0


@torch.no_grad()
def inception_features(model: FIDInceptionV3, images: ImageInput, batch_size: int = 100,
                       quantize: bool = False) -> np.ndarray:
    """(N, 2048) float64 FID features of `images` (any input :func:`preprocess` accepts), computed in
    eval mode, `batch_size` images at a time (preprocessing too, so 299 px copies never pile up)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(images)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()  # BN must use its stored statistics, never batch ones
    try:
        out = np.empty((n, FID_FEATURE_DIM), dtype=np.float64)
        for start in range(0, n, batch_size):
            batch = preprocess(images[start:start + batch_size], quantize=quantize).to(device)
            out[start:start + len(batch)] = model(batch).double().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def load_fid_inception(path: str | Path) -> FIDInceptionV3:
    """The FID Inception-v3 with the weights in `path` (e.g. pytorch-fid's
    ``pt_inception-2015-12-05-6726825d.pth``), on the CPU in eval mode, with ``.sha256`` of the file.

    The file is read with ``weights_only=True`` (tensors only, no arbitrary unpickling) and must match
    the network exactly; anything else raises GanforgeError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"FID Inception weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, or pickled objects that weights_only refuses
        raise GanforgeError(f"could not read FID Inception weights {path} as a tensor state dict "
                            f"(loaded with weights_only=True): {e}") from e
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise GanforgeError(f"FID Inception weights {path} are not a state dict (a dict of name -> tensor); "
                            f"got {type(state).__name__}")

    model = FIDInceptionV3()
    expected = model.state_dict()
    state = dict(state)
    for key, value in expected.items():
        # files written by older PyTorch lack BN step counters; they do not affect eval outputs
        if key.endswith(".num_batches_tracked") and key not in state:
            state[key] = value.clone()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_few(unexpected)}")
        raise GanforgeError(f"FID Inception weights {path} do not match the FID Inception-v3 network; "
                            + "; ".join(parts))
    mismatched = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
                  for k, v in expected.items() if state[k].shape != v.shape]
    if mismatched:
        raise GanforgeError(f"FID Inception weights {path} have tensors of the wrong shape: {_few(mismatched, 3)}")

    model.load_state_dict(state, strict=True)
    model.sha256 = file_sha256(path)
    return model.eval()


# ---------------------------------------------------------------- weights cache and download

def inception_cache_dir() -> Path:
    """Where downloaded weights live: ``$GANFORGE_CACHE/inception``, else ``~/.cache/ganforge/inception``."""
    return cache_dir("inception")


def _urllib_download(url: str, dest: Path) -> None:
    urllib_download(url, dest, timeout=_DOWNLOAD_TIMEOUT_S)


def _not_available(url: str, path: Path, reason: str) -> GanforgeError:
    return GanforgeError(
        f"the FID Inception weights are not in the cache and {reason}. Download {url} "
        f"(file {FID_WEIGHTS_FILE}) on a machine that is online and put it at {path}, "
        f"or pass --inception-weights PATH to use a copy stored elsewhere.")


def fetch_fid_inception(download: bool = True, url: str = FID_WEIGHTS_URL,
                        downloader: Callable[[str, Path], None] | None = None) -> Path:
    """Path of pytorch-fid's FID Inception weights in :func:`inception_cache_dir`, downloading them once.

    Verified: the full sha256 of the file equals ``FID_WEIGHTS_SHA256``, both for a cached copy (every
    call) and for a fresh download (before it is moved into place). A download goes to a temporary file
    in the cache directory and is renamed with ``os.replace`` only after the hash checks, so a failed,
    interrupted or corrupt download never leaves a file at the final path. ``downloader(url, dest)``
    replaces the urllib download (tests). Raises GanforgeError when the cached file does not match
    (it is left alone: delete it to re-download), when the download fails or is corrupt, and when the
    file is absent with ``download=False``; the messages say where to put the file by hand."""
    path = inception_cache_dir() / FID_WEIGHTS_FILE
    if path.is_file():
        actual = file_sha256(path)
        if actual != FID_WEIGHTS_SHA256:
            raise GanforgeError(
                f"cached FID Inception weights {path} are corrupt or not pytorch-fid's file: sha256 {actual}, "
                f"expected {FID_WEIGHTS_SHA256}. Delete {path} and run again to download it afresh.")
        return path
    if not download:
        raise _not_available(url, path, "downloading is turned off")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GanforgeError(f"cannot write to the FID Inception cache {path.parent} ({e}); set GANFORGE_CACHE "
                            f"to a writable folder or pass --inception-weights PATH") from e

    def fetch(url: str, tmp: Path) -> None:
        """The download into fileio.download's temporary file, its failures told in this cache's words."""
        try:
            (downloader or _urllib_download)(url, tmp)
        except (OSError, HTTPException) as e:  # URLError, HTTPError and socket timeouts are all OSErrors
            raise _not_available(url, path, f"downloading it failed ({e})") from e
        actual = file_sha256(tmp)
        if actual != FID_WEIGHTS_SHA256:
            raise GanforgeError(f"the file downloaded from {url} has sha256 {actual}, expected {FID_WEIGHTS_SHA256}; "
                                f"it was discarded and nothing was written to {path}. Try again, or put the "
                                f"file there by hand, or pass --inception-weights PATH.")

    # fileio.download moves the file into place (atomically) only after its checksum matched
    return fileio.download(url, path, checksum=("sha256", FID_WEIGHTS_SHA256), downloader=fetch)


def resolve_inception_weights(spec: str | Path) -> Path:
    """``"auto"`` or ``"download"``: :func:`fetch_fid_inception`; anything else is a path to a weights file,
    which must exist (a named path never falls back to the cache, so a typo is reported, not masked)."""
    if isinstance(spec, str) and spec in ("auto", "download"):
        return fetch_fid_inception()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise GanforgeError(f"FID Inception weights file not found: {path} "
                            f"(pass 'auto' to download pytorch-fid's {FID_WEIGHTS_FILE} into the cache instead)")
    return path
