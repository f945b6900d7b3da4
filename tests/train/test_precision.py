"""train.bf16=auto: bf16 only where the hardware computes it natively."""
import json

import pytest
import torch

from conftest import TINY_CONFIGS
from ganforge.config import load_config
from ganforge.train import precision
from ganforge.train.loop import train

AVX2 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_cpu_flags_are_read_from_cpuinfo():
    assert "avx2" in precision.cpu_flags(AVX2) and "avx512_bf16" not in precision.cpu_flags(AVX2)
    assert {"avx512_bf16", "amx_bf16"} <= precision.cpu_flags(SAPPHIRE)
    assert precision.cpu_flags("") == set()


@pytest.mark.parametrize("native", [False, True])
def test_auto_follows_the_cpu_and_an_explicit_choice_is_kept(monkeypatch, native):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    cpu, warnings = torch.device("cpu"), []
    assert precision.use_bf16("auto", cpu, warnings.append) is native
    assert precision.use_bf16(False, cpu, warnings.append) is False
    assert precision.use_bf16(True, cpu, warnings.append) is True  # the user asked: never silently replaced
    assert bool(warnings) is not native, "an explicit bf16 on a CPU without it must warn that it is emulated"
    if warnings:
        assert "emulated" in warnings[0] and "auto" in warnings[0]


def test_a_run_records_the_precision_auto_chose(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    run = train(load_config(TINY_CONFIGS / "gan.yaml", ["train.steps=1", "train.bf16=auto"]), out=tmp_path / "run")
    info = json.loads((run.dir / "run.json").read_text())
    assert info["bf16"] is False and info["device"] == "cpu"
