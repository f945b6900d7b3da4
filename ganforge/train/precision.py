"""Which number format the forward passes use: bf16 autocast only where the hardware computes it natively.

On a CPU without AVX512-BF16 or AMX, bf16 is emulated and about 15× slower than fp32 (torch 2.13, measured on
an AMD EPYC with AVX2), so `train.bf16=auto` must never choose it there. Where the CPU has it, a bf16 GEMM runs
about 4× faster than fp32.
"""
from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import torch

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model() -> str:
    """The first CPU's model name from /proc/cpuinfo ("" where there is none): results files say where they came from."""
    path = Path("/proc/cpuinfo")
    for line in (path.read_text() if path.is_file() else "").splitlines():
        if line.startswith("model name") and ":" in line:
            return line.split(":", 1)[1].strip()
    return ""


def cpu_label() -> str:
    """The CPU and the kernels torch picks on it (e.g. "AMD EPYC, AVX512"), for a results row: rows of one table can
    come from different machines, and steps per second differ between them."""
    import torch

    return f"{cpu_model() or 'unknown CPU'}, {torch.backends.cpu.get_cpu_capability()}"


@lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    return any(flag in cpu_flags() for flag in NATIVE_BF16_FLAGS)


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def use_bf16(setting: bool | str, device: torch.device, warn=lambda msg: print(msg, file=sys.stderr)) -> bool:
    """`train.bf16` resolved for `device`: "auto" is native bf16 or nothing; an explicit true is kept (the user
    asked for it), with a warning where it will be emulated and slow."""
    if setting == "auto":
        return native_bf16(device)
    if setting and not native_bf16(device):
        warn(f"train.bf16=true: this {device.type.upper()} has no native bf16 (no AVX512-BF16/AMX on a CPU), so bf16 is "
             "emulated and much slower than fp32 (about 15× on AVX2); train.bf16=auto picks fp32 here")
    return bool(setting)
