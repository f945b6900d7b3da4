"""bench/scaling.py runs (a few steps): 1 process on all cores, 1 on one core, 2 processes, and the all-reduce alone
at 2 and 4 processes, into one results file with the efficiency and the all-reduce's share of a step. And
bench/allreduce.py's model: the ring fit and NCCL's ring time it extrapolates with."""
import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import ROOT, needs_fashion


@pytest.mark.slow
@needs_fashion
def test_scaling_bench_writes_its_results(tmp_path):
    out = tmp_path / "scaling.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "scaling.py"), "--steps", "10", "--repeats", "2", "--rounds", "1",
                           "--note", "test", "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    cores = result["machine"]["cores"]
    assert {v["processes"] for v in result["variants"].values()} == {1, 2}
    two = next(v for v in result["variants"].values() if v["processes"] == 2)
    assert two["img_per_s"] > 0 and 0 < two["allreduce_share_of_step"] < 1
    assert set(two["phase_ms"]) == {"d_step", "g_step"} and all(t > 0 for t in two["allreduce_ms"].values())
    one = result["variants"][f"1x{cores}"]
    assert one["allreduce_share_of_step"] < two["allreduce_share_of_step"]  # one process has none to do
    assert result["efficiency"] == pytest.approx(two["img_per_s"] / one["img_per_s"])
    assert set(result["allreduce_ms_by_world_size"]) == {"2", "4"} and result["gradient_params"]["G"] > 0
    assert all(v["img_per_s_rounds"] == [v["img_per_s"]] for v in result["variants"].values())
    assert result["efficiency_rounds"] == [pytest.approx(result["efficiency"])] and result["rounds"] == 1


def test_scaling_bench_reports_each_variant_by_its_median_round():
    spec = importlib.util.spec_from_file_location("bench_scaling", ROOT / "bench" / "scaling.py")
    scaling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaling)
    runs = [{"img_per_s": 900.0, "step_ms": 1}, {"img_per_s": 1500.0, "step_ms": 2}, {"img_per_s": 1100.0, "step_ms": 3}]
    picked = scaling.median_round(runs)
    assert picked["step_ms"] == 3 and picked["img_per_s_rounds"] == [900.0, 1500.0, 1100.0]  # in the order run
    assert scaling.median_round(runs[:2])["step_ms"] == 1  # of two, the lower


def _allreduce_bench():
    """bench/allreduce.py loaded from its file (it finds its neighbours scaling.py and throughput.py itself)."""
    spec = importlib.util.spec_from_file_location("bench_allreduce", ROOT / "bench" / "allreduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_ring_fit_recovers_latency_and_bandwidth_and_the_extrapolation_follows_the_ring():
    """bench/allreduce.py's model: a fit of exact ring times gives back α and β; NCCL's ring over 64 GPUs (8 nodes)
    costs more than over 8 (one node), and nothing on one GPU."""
    bench = _allreduce_bench()
    alpha, beta = 50e-6, 2e9
    measured = {str(n): {str(s): 1000 * (2 * (n - 1) * alpha + 2 * (n - 1) / n * 4 * s / beta)
                         for s in (1_000, 100_000, 1_000_000)} for n in (2, 4, 8)}
    fit = bench.fit_ring(measured)
    assert fit["alpha_us"] == pytest.approx(50, rel=1e-6) and fit["beta_gb_per_s"] == pytest.approx(2, rel=1e-6)
    assert fit["max_relative_error"] < 1e-9
    size = 4 * 347_073  # the default G's gradients, float32
    assert bench.nccl_ring_ms(1, size) == 0
    assert 0 < bench.nccl_ring_ms(8, size) < bench.nccl_ring_ms(64, size)
    lat = bench.ASSUMPTIONS["nccl_latency_us"]["simple"]  # 8 GPUs, Simple protocol: base + 14 NVLink steps + bytes
    nvlink = bench.ASSUMPTIONS["nvlink"]["gb_per_s"] * 1e9
    simple = (lat["base"] + 14 * lat["nvlink_step"]) / 1e3 + 1e3 * 14 / 8 * size / nvlink
    assert bench.nccl_ring_ms(8, size) <= simple
