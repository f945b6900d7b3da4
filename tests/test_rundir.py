"""ganforge.rundir: the run folder's layout, and its readers and writers, agree with what training writes."""
import json

import pytest

from ganforge import rundir
from ganforge.config import config_from_dict
from ganforge.errors import GanforgeError
from ganforge.rundir import RunDir, cut_log, read_diagnoses, read_jsonl, read_metrics, read_run
from ganforge.train import checkpoint, train

from conftest import tiny_config


def test_paths_name_the_layout(tmp_path):
    run = RunDir(tmp_path)
    assert run.config == tmp_path / "config.yaml" and run.info == tmp_path / "run.json"
    assert run.metrics == tmp_path / "metrics.jsonl" and run.diagnoses == tmp_path / "diagnoses.jsonl"
    assert run.checkpoint(1000) == tmp_path / "checkpoints" / "step_00001000"
    assert run.latest == tmp_path / "checkpoints" / "latest" and run.best == tmp_path / "checkpoints" / "best"
    assert run.sample_grid(500) == tmp_path / "samples" / "step_00000500.png"
    assert (run.tensorboard, run.eval_json, run.eval_md) == (tmp_path / "tensorboard", tmp_path / "eval.json",
                                                             tmp_path / "eval.md")


def test_a_trained_run_is_laid_out_as_rundir_says(tmp_path):
    cfg = config_from_dict(tiny_config())
    done = train(cfg, out=tmp_path / "run")
    run = RunDir(done.dir)
    assert run.read_config() == cfg
    info = run.read_info()
    assert info["dataset"] == "digits" and info["shape"] == [1, 16, 16]
    assert read_run(done.dir) == (cfg, info)
    assert [r["step"] for r in run.read_metrics()] == [2, 4, 6] == [r["step"] for r in read_metrics(done.dir)]
    assert run.sample_grids() == [run.sample_grid(4), run.sample_grid(6)]
    assert run.checkpoint_folders() == [run.checkpoint(3), run.checkpoint(6)]
    assert checkpoint.latest_checkpoint(done.dir) == run.checkpoint(6)
    assert run.latest.read_text() == "step_00000006\n"
    assert not [p.name for p in run.checkpoints.iterdir() if p.name.startswith(".")]  # no temporary left
    assert run.read_best() is None


def test_diagnoses_append_read_and_cut(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_diagnoses() == []
    for step in (10, 20, 30):
        run.append_diagnosis({"step": step, "code": "mode_collapse", "message": "m", "evidence": {}})
    assert [d["step"] for d in read_diagnoses(tmp_path)] == [10, 20, 30]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in (5, 15, 25)))
    run.cut_logs(20)  # a run resumed from step 20 trains the later steps again
    assert [d["step"] for d in run.read_diagnoses()] == [10, 20]
    assert [m["step"] for m in run.read_metrics()] == [5, 15]


def test_a_line_cut_short_by_a_crash_is_skipped_only_at_the_end(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert read_jsonl(log) == [{"step": 1}, {"step": 2}]
    assert cut_log(log, 5) == 0 and log.read_text() == '{"step": 1}\n{"step": 2}\n'  # the torn line goes
    log.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(GanforgeError, match="metrics.jsonl: line 2 is not JSON"):
        read_jsonl(log)


@pytest.mark.parametrize("name, text, message", [
    ("run.json", "{", "run.json: not valid JSON"),
    ("run.json", "[1]", "run.json: expected a JSON mapping, got list"),
    ("run.json", '{"kind": "image"}', "run.json: missing shape, num_classes, dataset, num_examples"),
    ("config.yaml", "family: [", "config.yaml: not valid YAML"),
])
def test_a_broken_file_is_named(tmp_path, name, text, message):
    (tmp_path / "config.yaml").write_text("family: gan\n")
    (tmp_path / "run.json").write_text("{}")
    (tmp_path / name).write_text(text)
    with pytest.raises(GanforgeError, match=message):
        RunDir(tmp_path).read_info() if name == "run.json" else RunDir(tmp_path).read_config()


def test_not_a_run_directory(tmp_path):
    with pytest.raises(GanforgeError, match="no such run directory"):
        RunDir(tmp_path / "nowhere").read_info()
    with pytest.raises(GanforgeError, match=r"not a ganforge run directory \(needs config.yaml and run.json; no run"):
        RunDir(tmp_path).read_info()


def test_info_and_config_writers_round_trip(tmp_path):
    run = RunDir(tmp_path)
    cfg = config_from_dict(tiny_config())
    info = {"kind": "vector", "shape": [2], "num_classes": 0, "dataset": "ring8", "num_examples": 10}
    run.write_config(cfg)
    run.write_info(info)
    assert run.read_config() == cfg and run.read_info() == info
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "run.json"]  # no temporaries


def test_an_interrupted_pointer_update_is_cleaned_up(tmp_path):
    """fileio.atomic_write names its temporary .latest.<pid>.tmp; older versions wrote latest.tmp: a crash can
    leave either, and a resume removes both."""
    ckpts = RunDir(tmp_path).checkpoints
    ckpts.mkdir()
    (ckpts / ".latest.4242.tmp").write_text("step_00000009\n")
    (ckpts / "latest.tmp").write_text("step_00000009\n")
    assert sorted(checkpoint.remove_stale_temporaries(tmp_path)) == [".latest.4242.tmp", "latest.tmp"]
    assert not list(ckpts.iterdir())


def test_best_record(tmp_path):
    run = RunDir(tmp_path)
    run.best.mkdir(parents=True)
    (run.best / rundir.BEST_RECORD).write_text('{"step": 4, "fid": 1.5, "evaluator_sha256": null}\n')
    assert run.read_best() == {"step": 4, "fid": 1.5, "evaluator_sha256": None}
    (run.best / rundir.BEST_RECORD).write_text('{"step": ')
    with pytest.raises(GanforgeError, match="best.json: cannot read"):
        run.read_best()
