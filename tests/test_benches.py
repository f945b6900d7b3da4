"""Smoke runs of the benchmarks of issue 14 and the experiments of issue 15 (tiny budgets): they run, write their
results file, and report what they promise (FLOP/s against the GEMM peak, medians over seeds, every row)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # each runs a script in a fresh interpreter for 20 s to 3 min


def run_bench(script, *args, timeout=600):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_quality_at_budget_runs_both_loops_on_the_same_subset(tmp_path):
    out = tmp_path / "q.json"
    stdout = run_bench("quality_at_budget.py", "--seconds", "2", "--num", "500", "--seeds", "0,1", "--subset", "1000",
                       "--config", "configs/mgan-fashion-bf16.yaml", "--out", str(out))
    result = json.loads(out.read_text())
    assert result["subset"] == 1000 and result["seeds"] == [0, 1]
    assert set(result["rows"]) == {"ganforge (configs/mgan-fashion-bf16.yaml)", "plain PyTorch DCGAN loop (width 64)"}
    for row in result["rows"].values():
        assert len(row["runs"]) == 2 and all(r["steps"] > 0 and r["fid"] > 0 for r in row["runs"])
    assert result["fid_ratio_ganforge_over_plain"] > 0 and "native_bf16" in result["machine"]
    assert "FID ratio ganforge / plain (medians)" in stdout


def test_quality_screen_ranks_variants_of_one_seed(tmp_path):
    out = tmp_path / "screen.json"
    stdout = run_bench("quality_screen.py", "--seconds", "2", "--num", "300", "--seed", "3",
                       "--set", "data.num_samples=500", "--variant", "b16=train.batch_size=16",
                       "--variant", "b32lr=train.batch_size=32;optim.G.lr=1e-4", "--out", str(out))
    result = json.loads(out.read_text())
    rows = {r["variant"]: r for r in result["rows"]}
    assert rows["b32lr"]["overrides"] == ["data.num_samples=500", "train.batch_size=32", "optim.G.lr=1e-4"]
    assert all(r["seed"] == 3 and r["steps"] > 0 and r["fid"] > 0 for r in rows.values())
    assert [r["fid"] for r in result["rows"]] == sorted(r["fid"] for r in result["rows"])
    assert "b16" in stdout and "cpu_model" in result["machine"]
    bad = subprocess.run([sys.executable, str(ROOT / "bench" / "quality_screen.py"), "--variant", "no-overrides"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "expected NAME=KEY=VALUE" in bad.stderr


def test_speed_variants_reports_ratios_to_the_baseline(tmp_path):
    out = tmp_path / "s.json"
    run_bench("speed_variants.py", "--repeats", "1", "--steps", "1", "--warmup", "1",
              "--variants", "baseline,channels_last,fused_adam", "--out", str(out))
    result = json.loads(out.read_text())
    assert result["ratio_to_baseline"]["baseline"] == 1.0
    assert all(v > 0 for v in result["median_img_per_s"].values())


def test_throughput_counts_flops_and_measures_the_gemm_peak(tmp_path):
    out = tmp_path / "t.json"
    stdout = run_bench("throughput.py", "--quick", "--no-bf16", "--out", str(out))
    result = json.loads(out.read_text())
    hw = result["hardware"]
    assert hw["gemm_gflops_fp32"] > 0 and hw["gemm_gflops_bf16"] > 0 and isinstance(hw["native_bf16"], bool)
    # the default DCGAN recipe's step costs about 160 MFLOP per image (G and D, forward and backward)
    assert 100 < result["mflop_per_image"] < 250
    assert 0 < result["fraction_of_gemm_peak"]["ganforge-fp32"] < 1.5
    assert "of the fp32 GEMM peak" in stdout


def test_wasserstein_vs_fid_experiment_writes_its_curves(tmp_path):
    """Issue 15's experiment at a tiny budget: it trains, evaluates along the way and writes table and figure."""
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "wasserstein_vs_fid.py"), "--seconds", "3",
                           "--evaluations", "3", "--seeds", "0", "--jobs", "1", "--only", "DCGAN (bce)", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [run] = json.loads((tmp_path / "wasserstein_vs_fid.json").read_text())["runs"]
    assert run["steps"] > 0 and run["points"] and all(p["fid"] > 0 for p in run["points"])
    assert (tmp_path / "wasserstein-vs-fid.png").stat().st_size > 0 and "DCGAN (bce)" in proc.stdout


def run_experiment(script, *args, timeout=600):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_several_generators_experiment_compares_one_and_four_generators(tmp_path):
    last = run_experiment("several_generators.py", "--seconds", "2", "--num", "200", "--seeds", "0", "--jobs", "1",
                          "--no-cache", "--out", str(tmp_path))
    result = json.loads((tmp_path / "several_generators.json").read_text())
    assert set(last["fid"]) == {"one", "mgan4"} and all(v > 0 for v in last["fid"].values())
    assert {r["row"] for r in result["runs"]} == {"one", "mgan4"} and all(r["steps"] > 0 for r in result["runs"])
    assert "4 generators" in (tmp_path / "several_generators.md").read_text()


def test_gan_augmentation_experiment_trains_every_classifier_variant(tmp_path):
    last = run_experiment("gan_augmentation.py", "--per-class", "10", "--seeds", "0", "--gan-seconds", "2",
                          "--steps", "10", "--jobs", "1", "--out", str(tmp_path))
    [cell] = json.loads((tmp_path / "gan_augmentation.json").read_text())["cells"]
    assert cell["gan_steps"] > 0 and 0 <= cell["samples_class_agreement"] <= 1
    assert set(cell["accuracy"]) == {"real", "real + flips", "real + cGAN", "cGAN only"}
    assert all(0 <= a <= 1 for a in last["accuracy"]["10"].values())


def test_bf16_quality_bench_compares_both_precisions_at_equal_steps(tmp_path):
    out = tmp_path / "b.json"
    run_bench("bf16_quality.py", "--steps", "3", "--seeds", "0", "--num", "200", "--jobs", "1", "--force", "--out", str(out))
    result = json.loads(out.read_text())
    assert [r["bf16"] for r in result["runs"]] == [False, True] and all(r["steps"] == 3 for r in result["runs"])
    assert result["speedup_bf16"] > 0 and isinstance(result["native_bf16"], bool)


def test_translation_ceiling_trains_a_classifier_on_each_task_s_inputs(tmp_path):
    """The ceiling of class agreement: the evaluator's recipe trained on a task's inputs. Even 2,000 training images
    and one epoch (15 steps) read the class from the garments well above chance (10 %); the results keep both rows."""
    last = run_experiment("translation_ceiling.py", "--tasks", "garments,edges", "--epochs", "1", "--train-images",
                          "2000", "--jobs", "1", "--out", str(tmp_path))
    rows = {r["task"]: r for r in json.loads((tmp_path / "translation_ceiling.json").read_text())["rows"]}
    assert set(rows) == {"garments", "edges"} and all(r["train_images"] == 2000 for r in rows.values())
    assert rows["garments"]["test_accuracy"] > 0.25 and 0 <= rows["edges"]["test_accuracy"] <= 1
    assert last["rows"] == list(rows.values()) and "| edges | 1 |" in (tmp_path / "translation_ceiling.md").read_text()


def test_gpu_bench_runs_every_part_tiny_on_the_cpu(tmp_path):
    """bench/gpu.py waits for a lent GPU; until one runs it, its CPU smoke run keeps every part working."""
    run_bench("gpu.py", "--device", "cpu", "--quick", "--out", str(tmp_path))
    result = json.loads((tmp_path / "gpu-cpu.json").read_text())
    rows = result["throughput"]
    assert {r["variant"] for r in rows} == {"fp32", "bf16", "fp16-scaler", "bf16-channels-last"}
    assert all("error" not in r and r["flops_per_step"] > 0 and r["achieved_tflops"] > 0 for r in rows)
    assert len({r["flops_per_step"] for r in rows}) == 1  # one count per batch, whatever the precision
    assert result["ganforge_loop"]["img_per_s"] > 0
    timed = result["timed_run"]
    assert timed["rc"] == 0 and timed["steps"] >= 1 and timed["fid"] > 0 and timed["num_samples"] == 500
    assert "two_gpus" not in result  # needs two CUDA devices
