"""bench/scaling.py runs (a few steps): 1 process on all cores, 1 on one core, 2 processes, and the all-reduce alone
at 2 and 4 processes, into one results file with the efficiency and the all-reduce's share of a step."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, needs_fashion


@pytest.mark.slow
@needs_fashion
def test_scaling_bench_writes_its_results(tmp_path):
    out = tmp_path / "scaling.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "scaling.py"), "--steps", "10", "--repeats", "2",
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
