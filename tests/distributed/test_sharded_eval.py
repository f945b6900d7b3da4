"""Evaluation on several processes is sharded: each rank generates and embeds its slice of the z one process draws
(a translator: translates and scores its slice of the test pairs), rank 0 scores the shares joined, and the numbers
are the ones one process computes from the same checkpoint. One 2-rank image run (ADA on, evaluation during training
and at the end) serves the image assertions, ADA's agreed p too; one torchrun of pix2pix and CycleGAN the
translators'."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml

import ganforge
from ganforge.api import read_run_config
from ganforge.augment import Augment
from ganforge.config import AugmentConfig, config_from_dict
from ganforge.families import get_family
from ganforge.evaluator_training import load_evaluator_data, train_evaluator
from ganforge.rundir import RunDir
from ganforge.errors import GanforgeError
from ganforge.scoring import (embed_samples, evaluate_images, evaluate_translations, join_embedded, join_translated,
                              translate_share)
from ganforge.metrics.frozen_evaluator import load_evaluator
from ganforge.train.periodic_eval import TEXT_INPUTS, RunEvaluator, gather_embedded

from conftest import TINY_CONFIGS, RankOf, needs_fashion, tiny_config
from launching import (ROOT, check_ok, checkout, copy_for_older_code, environment, state, torchrun,
                       torchrun_command, write_config)

# the integration commit before evaluation was sharded: its one-process evaluation is the reference
BEFORE_SHARDING = "55c9149"
FINAL_NUM = 301  # odd: the ranks' shares differ by one (150 and 151)
METRICS = ["fid", "kid", "pr"]


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    out = tmp_path_factory.mktemp("ev") / "digits16.safetensors"
    train_evaluator(load_evaluator_data("digits", image_size=16), out, epochs=1, seed=1, flip=False, log=quiet)
    return out


@pytest.fixture(scope="module")
def sharded_run(evaluator, tmp_path_factory):
    """6 steps on 2 processes: ADA adjusting p every D step, evaluation at step 3 and 6 and a final one."""
    root = tmp_path_factory.mktemp("sharded")
    raw = tiny_config(train__threads=1, eval__evaluator=str(evaluator), eval__every=3, eval__num=64,
                      eval__metrics=["fid"], eval__final=True, eval__final_num=FINAL_NUM, eval__final_metrics=METRICS,
                      augment__policy=["translation", "cutout"], augment__ada=True, augment__ada_interval=1,
                      augment__ada_images=64)
    out = root / "run"
    result = check_ok(torchrun([str(write_config(root / "tiny.yaml", raw)), "--out", str(out)]))
    return out, result


@pytest.mark.slow
def test_two_ranks_final_fid_is_what_one_process_computes_and_each_rank_embedded_half(sharded_run):
    out, _ = sharded_run
    report = json.loads(RunDir(out).eval_json.read_text())
    assert report["provenance"]["processes"] == {"world_size": 2, "embedded": [150, 151]}
    assert report["provenance"]["num_samples"] == FINAL_NUM
    gen = ganforge.load(out)  # the final checkpoint, in this one process
    cfg = read_run_config(out)
    one = RunEvaluator(cfg, out, "digits", "image", shape=gen.shape).evaluate(gen.net, FINAL_NUM, METRICS)
    assert "processes" not in one["provenance"]
    for key in ("fid", "kid", "precision", "recall"):
        assert report[key] == pytest.approx(one[key], rel=1e-5, abs=1e-7), key
    # and the comparison can tell, at that tolerance: a third of the samples (z 0–99 of the same) give another FID
    fewer = RunEvaluator(cfg, out, "digits", "image", shape=gen.shape).evaluate(gen.net, 100, ["fid"])
    assert fewer["fid"] != pytest.approx(one["fid"], rel=1e-5, abs=1e-7)
    evaluated = [row for row in RunDir(out).read_metrics() if "eval/fid" in row]
    assert [row["step"] for row in evaluated] == [3, 6]  # the sharded evaluations during training, logged by rank 0


@pytest.mark.slow
def test_one_process_evaluation_gives_the_numbers_it_gave_before_sharding(sharded_run, evaluator, tmp_path):
    """The reference checkout (git archive of the commit before) and this one evaluate the same checkpoint in one
    process: the same numbers, to the last bit."""
    before = checkout(BEFORE_SHARDING, tmp_path / "before")
    if before is None:
        pytest.skip(f"no git history with commit {BEFORE_SHARDING} here")
    out, _ = sharded_run
    run = copy_for_older_code(out, tmp_path / "run")
    script = ("import json, sys, ganforge\n"
              "from ganforge.api import read_run_config\n"
              "from ganforge.train.periodic_eval import RunEvaluator\n"
              "out = sys.argv[1]; gen = ganforge.load(out)\n"
              "r = RunEvaluator(read_run_config(out), out, 'digits', 'image', shape=gen.shape)"
              f".evaluate(gen.net, {FINAL_NUM}, {METRICS!r})\n"
              "print(json.dumps({k: v for k, v in r.items() if isinstance(v, float)}))\n")
    numbers = []
    for code in (before, ROOT):
        done = subprocess.run([sys.executable, "-c", script, str(run)], capture_output=True, text=True, cwd=tmp_path,
                              env=environment(PYTHONPATH=str(code), PYTHONDONTWRITEBYTECODE="1"), timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        numbers.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert numbers[0] == numbers[1] and "fid" in numbers[0]


def test_embedded_shares_joined_score_as_the_samples_themselves(evaluator):
    """The seam itself, in one process: samples embedded in two shares and joined give evaluate_images' numbers
    for the samples whole; a metric that reads pixels keeps them."""
    x = torch.rand(40, 1, 16, 16) * 2 - 1
    scorer = load_evaluator(evaluator)
    whole = evaluate_images(x, "digits", ("fid", "kid", "nn"), evaluator=evaluator)
    parts = [embed_samples(x[:17], scorer, ("fid", "kid", "nn")), embed_samples(x[17:], scorer, ("fid", "kid", "nn"))]
    joined = evaluate_images(join_embedded(parts), "digits", ("fid", "kid", "nn"), evaluator=evaluator)
    for key in ("fid", "kid", "memorised_fraction"):
        assert joined[key] == pytest.approx(whole[key], rel=1e-5), key
    assert joined["provenance"]["num_samples"] == 40
    assert embed_samples(x, scorer, ("fid",)).samples is None  # features only: the pixels are not kept


@pytest.mark.slow
def test_ada_p_is_agreed_by_every_rank_at_each_checkpoint(sharded_run):
    out, _ = sharded_run
    for step in (3, 6):
        each = [rank["augment"] for rank in state(out, step)["ranks"]["each"]]
        assert each[0]["r_t"] is not None
        assert each[0]["r_t"] == each[1]["r_t"] and each[0]["p"] == each[1]["p"], (step, each)
        assert state(out, step)["augment"]["p"] == each[0]["p"]  # rank 0's own state, which one process reads


def test_ada_moves_p_by_the_agreed_heuristic_not_its_own():
    """What the loop of several processes sets: this rank's D is unsure (r_t −1), the ranks' mean says overfitting."""
    ada = Augment(AugmentConfig(policy=["translation"], ada=True, ada_interval=1, ada_images=16), batch_size=8)
    ada.agree = lambda own: 0.9  # the mean over the ranks
    ada.observe(-torch.ones(8))
    assert ada.r_t == 0.9 and ada.p == pytest.approx(0.5)


def test_shares_cover_the_samples_once_even_with_more_ranks_than_samples(evaluator):
    cfg = config_from_dict(tiny_config(eval__evaluator=str(evaluator)))
    generator = get_family("gan")(cfg, (1, 16, 16), 10).nets["G"]
    sizes = [[0 if s is None else len(s) for s in gather_embedded(cfg, "digits", generator, num, ["fid"], RankOf(r, w))]
             for num, w in ((7, 3), (2, 3)) for r in range(w)]
    assert sizes == [[2], [2], [3], [0], [1], [1]]  # 7 over 3 ranks; 2 over 3: rank 0 has none


# ---------------------------------------------------------------- translators: each rank its share of the test pairs

TRANSLATORS = ("pix2pix", "cyclegan")  # a paired training and an unpaired one, both scored on paired test pairs
PAIRS = 61  # odd: the ranks' shares differ by one (30 and 31)
# the commit before translators' evaluation was sharded: its one-process evaluation is the reference
BEFORE_TRANSLATORS_SHARDED = "b3f5efb"


@pytest.fixture(scope="module")
def translator_runs(evaluator, tmp_path_factory):
    """pix2pix and CycleGAN, one step each on 2 processes (one torchrun), each ending in its final evaluation."""
    root = tmp_path_factory.mktemp("translators")
    tiny = root / "tiny"
    tiny.mkdir()
    for family in TRANSLATORS:
        raw = yaml.safe_load((TINY_CONFIGS / f"{family}.yaml").read_text())
        raw["eval"] = {"every": 0, "final": True, "final_num": PAIRS, "final_metrics": ["fid", "kid"],
                       "evaluator": str(evaluator)}
        write_config(tiny / f"{family}.yaml", raw)
    check_ok(subprocess.run(torchrun_command([str(tiny), str(root), *TRANSLATORS],
                                             script=str(ROOT / "tests" / "distributed" / "families_worker.py")),
                            capture_output=True, text=True, timeout=400, cwd=ROOT, env=environment()))
    return {family: root / family for family in TRANSLATORS}


def _one_process_evaluation(out, num: int, metrics) -> dict:
    gen = ganforge.load(out)
    return RunEvaluator(read_run_config(out), out, "digits", "image", gen.inputs, shape=gen.shape).evaluate(
        gen.net, num, metrics)


@pytest.mark.slow
@pytest.mark.parametrize("family", TRANSLATORS)
def test_two_ranks_translate_half_the_test_pairs_each_and_score_what_one_process_scores(translator_runs, family):
    out = translator_runs[family]
    report = json.loads(RunDir(out).eval_json.read_text())
    assert report["provenance"]["processes"] == {"world_size": 2, "embedded": [30, 31]}
    one = _one_process_evaluation(out, PAIRS, ["fid", "kid"])
    assert "processes" not in one["provenance"]
    for key in ("fid", "kid", "l1", "psnr", "ssim", "class_agreement"):
        assert report[key] == pytest.approx(one[key], rel=1e-5, abs=1e-7), (family, key)
    assert (out / "translations.png").is_file()


@pytest.mark.slow
def test_one_process_translation_evaluation_gives_the_numbers_it_gave_before_sharding(translator_runs, tmp_path):
    """The commit before (git archive) and this checkout evaluate the same pix2pix checkpoint in one process: the
    same L1, PSNR, SSIM and FID, to the last bit."""
    before = checkout(BEFORE_TRANSLATORS_SHARDED, tmp_path / "before")
    if before is None:
        pytest.skip(f"no git history with commit {BEFORE_TRANSLATORS_SHARDED} here")
    run = copy_for_older_code(translator_runs["pix2pix"], tmp_path / "run")
    script = ("import json, sys, ganforge\n"
              "from ganforge.api import read_run_config\n"
              "from ganforge.train.periodic_eval import RunEvaluator\n"
              "out = sys.argv[1]; gen = ganforge.load(out)\n"
              "r = RunEvaluator(read_run_config(out), out, 'digits', 'image', gen.inputs, shape=gen.shape)"
              f".evaluate(gen.net, {PAIRS}, ['fid'])\n"
              "print(json.dumps({k: v for k, v in r.items() if isinstance(v, float)}))\n")
    numbers = []
    for code in (before, ROOT):
        done = subprocess.run([sys.executable, "-c", script, str(run)], capture_output=True,
                              text=True, cwd=tmp_path, timeout=300,
                              env=environment(PYTHONPATH=str(code), PYTHONDONTWRITEBYTECODE="1"))
        assert done.returncode == 0, done.stderr[-2000:]
        numbers.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert numbers[0] == numbers[1] and {"fid", "l1", "psnr", "ssim"} <= set(numbers[0])


def test_translated_shares_joined_score_as_the_translations_themselves(evaluator):
    """The seam, in one process: test pairs translated in two shares, each embedded and scored against its targets,
    joined, give evaluate_translations' numbers for the outputs whole."""
    g = torch.Generator().manual_seed(0)
    outputs, targets = torch.rand(23, 1, 16, 16, generator=g) * 2 - 1, torch.rand(23, 1, 16, 16, generator=g) * 2 - 1
    scorer = load_evaluator(evaluator)
    whole = evaluate_translations(outputs, targets, "digits", ("fid",), evaluator=evaluator)
    shares = [translate_share(outputs[:11], targets[:11], scorer, ("fid",)),
              translate_share(outputs[11:], targets[11:], scorer, ("fid",))]
    joined = evaluate_translations(join_translated(shares), targets, "digits", ("fid",), evaluator=evaluator)
    for key in ("fid", "l1", "psnr", "ssim"):
        assert joined[key] == pytest.approx(whole[key], rel=1e-6), key
    assert joined["provenance"]["num_samples"] == 23
    with pytest.raises(GanforgeError, match="22 targets"):  # shares that do not cover the targets are refused
        evaluate_translations(join_translated(shares), targets[:22], "digits", ("fid",), evaluator=evaluator)


@pytest.mark.slow
@needs_fashion
def test_a_text_runs_evaluation_is_sharded_over_two_ranks_as_one_process_scores_it(tmp_path):
    """A text run on 2 processes shares its final evaluation (each rank embeds its share) and rank 0's report is
    the one process's, from the same checkpoint. A G two steps old barely tells captions apart, so these numbers
    would not see a rank asking for the wrong captions: tests/text/test_text_eval.py checks each rank's slice."""
    raw = yaml.safe_load((TINY_CONFIGS / "text2image.yaml").read_text())
    raw["data"] |= {"name": "fashion-mnist", "image_size": None, "num_samples": 256}
    raw["train"] |= {"steps": 2}
    raw["eval"] = {"every": 0, "final": True, "final_num": FINAL_NUM, "final_metrics": ["fid", "kid"]}
    out = tmp_path / "run"
    check_ok(torchrun([str(write_config(tmp_path / "t2i.yaml", raw)), "--out", str(out)], timeout=400))
    report = json.loads(RunDir(out).eval_json.read_text())
    assert report["provenance"]["processes"] == {"world_size": 2, "embedded": [150, 151]}
    assert "fashion-mnist test split" in report["provenance"]["conditions"]
    gen = ganforge.load(out)
    one = RunEvaluator(read_run_config(out), out, "fashion-mnist", "image", TEXT_INPUTS, shape=gen.shape).evaluate(
        gen.net, FINAL_NUM, ["fid", "kid"])
    for key in ("fid", "kid"):
        assert report[key] == pytest.approx(one[key], rel=1e-5, abs=1e-7), key
    assert report["class_agreement"] == pytest.approx(one["class_agreement"], abs=1.5 / FINAL_NUM)
