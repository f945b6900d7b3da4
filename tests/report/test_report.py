"""RUN/report.html: what the page of a real (tiny) run holds, that training writes it however the run ends, the
comparison of two runs, and `ganforge report`'s answers to bad input."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import threading
import time
from html import unescape
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganforge import api
from ganforge.config import config_from_dict, load_config
from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError
from ganforge.report import REPORT, contents as report_contents
from ganforge.report.contents import Grid, RunContents, evenly, pick_grids
from ganforge.rundir import RunDir, read_metrics
from ganforge.train import loop, train

from conftest import ROOT, TINY_CONFIGS, run_cli, tiny_config

pytestmark = pytest.mark.report  # these trainings write their pages (conftest.py skips that elsewhere)

STEPS = 8


def tiny_run(folder: Path, **over):
    """A tiny DCGAN on the digits: a logging window every 2 steps, a grid every 2 (four grids in 8 steps)."""
    over = {"train__steps": STEPS, "log__sample_every": 2, "checkpoint__every": 4} | over
    return train(config_from_dict(tiny_config(**over)), out=folder)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("report") / "run")


@pytest.fixture(scope="module")
def stopped_by_doctor(tmp_path_factory):
    """A tiny run whose losses turn NaN in the window of step 6: the doctor diagnoses it and stops the run."""
    folder = tmp_path_factory.mktemp("report") / "nan"
    window = loop.Doctor.window

    def poisoned(self, step, values, owners):
        return window(self, step, values | ({"loss/d_bce": float("nan")} if step >= 6 else {}), owners)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop.Doctor, "window", poisoned)
        with pytest.raises(GanforgeError, match=r"^step 6: .*loss d_bce became NaN") as stopped:
            tiny_run(folder)
    return folder, str(stopped.value)


def page_of(folder: Path) -> str:
    return (folder / REPORT).read_text()


def images_in(html: str, where: str) -> list[Image.Image]:
    """The PNG images of the <img> elements whose id or class holds `where`, decoded."""
    uris = re.findall(rf'<img[^>]*(?:id|class)="[^"]*{where}[^"]*"[^>]*src="data:image/png;base64,([^"]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(u))) for u in uris]


def grid_steps(html: str) -> list[int]:
    block = re.search(r'<script type="application/json" id="grid-data">(.*?)</script>', html, re.S).group(1)
    return [g["step"] for g in json.loads(block.replace("<\\/", "</"))]


# ---- what the page of a run holds -----------------------------------------------------------------------------------

def test_training_writes_a_page_with_the_curves_drawn(run):
    html = page_of(run.dir)
    for key in ("losses", "monitors", "grad_norms", "throughput"):
        assert f'id="chart-{key}"' in html, key
    charts = images_in(html, "chart")
    assert len(charts) >= 4
    for chart in charts:  # drawn, not blank: a chart has lines and text of more than two colours
        assert chart.size == (640, 320) and len(chart.convert("RGB").getcolors(1 << 16) or []) > 20


def test_the_charts_hold_the_logged_values(run):
    contents = RunContents.read(run.dir)
    charts = {c.key: c for c in contents.charts()}
    logged = read_metrics(run.dir)
    steps, values = charts["losses"].series["loss/d_bce"]
    assert steps == [r["step"] for r in logged if "loss/d_bce" in r] == [2, 4, 6, 8]
    assert values == [r["loss/d_bce"] for r in logged if "loss/d_bce" in r]
    assert set(charts["monitors"].series) == {"D(x)", "D(G(z))"}  # what the gan family logs for its doctor
    assert set(charts["grad_norms"].series) == {"grad_norm/D", "grad_norm/G"}
    assert list(charts["throughput"].series) == ["img_per_s"]


def test_the_slider_holds_the_grids_in_step_order_and_shows_the_last(run):
    html = page_of(run.dir)
    assert grid_steps(html) == [2, 4, 6, 8]
    assert re.search(r'id="grid-slider" min="0" max="3" value="3"', html)
    assert '<span id="grid-step">step 8</span>' in html
    assert "64 samples from the same latent codes at every step" in html


def test_the_page_shows_the_config_and_the_provenance(run):
    html = unescape(page_of(run.dir))
    config = re.search(r'<pre id="config">(.*?)</pre>', html, re.S).group(1)
    assert config == (run.dir / "config.yaml").read_text()
    provenance = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td></tr>",
                                 re.search(r'<table id="provenance">(.*?)</table>', html, re.S).group(1)))
    info = json.loads((run.dir / "run.json").read_text())
    assert provenance["seed"] == "3" and provenance["ganforge"] == info["ganforge"]
    assert provenance["dataset"] == "digits" and provenance["steps"] == f"{STEPS} of {STEPS}"
    assert "The doctor found nothing to report." in html
    assert provenance["data sha256"] == info["data_sha256"] and provenance["platform"] == info["platform"]


def test_the_data_hash_changes_with_any_example_or_label():
    x, labels = torch.randint(0, 256, (10, 1, 4, 4), dtype=torch.uint8), torch.arange(10)
    base = loop.data_sha256(Dataset("toy", x, labels, "image"))
    assert loop.data_sha256(Dataset("renamed", x.clone(), labels.clone(), "image")) == base  # the data, not its name
    changed = x.clone()
    changed[3, 0, 1, 2] ^= 1
    assert loop.data_sha256(Dataset("toy", changed, labels, "image")) != base
    assert loop.data_sha256(Dataset("toy", x, labels.flip(0), "image")) != base


def test_the_page_lists_the_doctors_diagnoses_with_their_remedies(stopped_by_doctor):
    folder, message = stopped_by_doctor
    html = unescape(page_of(folder))
    table = re.search(r'<table id="diagnoses">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", table)
    assert [(step, code) for step, code, _, _ in rows] == [("6", "nan")]
    finding, remedies = rows[0][2], rows[0][3]
    assert finding.startswith("step 6: the discriminator's (D) loss d_bce became NaN") and remedies
    assert message.startswith(finding)  # the error that stopped the run is the one the page shows
    marks = {c.key: c.marks for c in RunContents.read(folder).charts()}
    assert marks["losses"] == [6]  # the diagnosis is drawn on the loss curves at its step


# ---- evaluation over time --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_evaluations_during_training_are_charted_and_the_final_one_tabled(tmp_path):
    cfg = load_config(ROOT / "configs" / "gan-ring8.yaml",
                      ["train.steps=40", "log.every=10", "log.sample_every=20", "eval.every=20", "eval.num=500",
                       "eval.final=true", "eval.final_num=500", "log.progress=false", "log.tensorboard=false",
                       "train.batch_size=64"])
    run = train(cfg, out=tmp_path / "run")
    contents = RunContents.read(run.dir)
    modes = {c.key: c for c in contents.charts()}["eval_modes"]
    logged = [r["eval/modes"] for r in read_metrics(run.dir) if "eval/modes" in r]
    assert modes.series["eval/modes"] == ([20, 40], logged)
    html = unescape(page_of(run.dir))
    assert 'id="chart-eval_modes"' in html and 'id="chart-eval_high_quality"' in html
    final = json.loads((run.dir / "eval.json").read_text())
    assert f"<tr><td>modes</td><td class=num>{final['modes']}</td></tr>" in html
    assert "2,000 samples (dark) over 2,000 training points (grey)" in html  # what a 2-D run's grid holds


def test_the_evaluator_and_its_floor_are_named_and_drawn(run, tmp_path):
    """An image run's FID over time beside the floor of the evaluator that eval.json names."""
    folder = shutil.copytree(run.dir, tmp_path / "run")
    with open(folder / "metrics.jsonl", "a") as f:
        for step, fid in ((4, 30.0), (8, 20.0)):
            f.write(json.dumps({"step": step, "eval/fid": fid}) + "\n")
    record = {"name": "digits-cnn", "sha256": "ab" * 32, "test_accuracy": 0.97, "fid_floor_train_vs_test": 0.25}
    (folder / "eval.json").write_text(json.dumps({"fid": 20.0, "provenance": {"evaluator": record}}))
    contents = RunContents.read(folder)
    fid = {c.key: c for c in contents.charts()}["eval_fid"]
    assert fid.series["eval/fid"] == ([4, 8], [30.0, 20.0])
    assert fid.floors == {"evaluator's train-vs-held-out floor": 0.25}
    html = unescape(api.report(folder).read_text())
    assert ("Scored by the evaluator digits-cnn (sha256 abababababab…, held-out accuracy 0.9700); its "
            "train-vs-held-out FID floor 0.250.") in html


# ---- written however the run ends -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_run_stopped_by_its_time_budget_has_a_page(tmp_path):
    stopped = tiny_run(tmp_path / "run", train__steps=100_000, train__time_budget=1.5)
    assert stopped.stopped_by == "time_budget" and stopped.step < 100_000
    html = page_of(stopped.dir)
    assert f"step {stopped.step} of 100000" in html
    assert grid_steps(html)[-1] == stopped.step  # the grid of the last step is the slider's last


def test_an_interrupted_run_has_a_page(tmp_path):
    """Ctrl-C (SIGINT to this process) once a window is logged: the run stops after its step and writes its page."""
    folder = tmp_path / "run"

    def interrupt_when_logging():
        deadline = time.monotonic() + 120
        metrics = folder / "metrics.jsonl"  # opened before the loop starts; its first line comes from the loop
        while not (metrics.is_file() and metrics.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt_when_logging)
    thread.start()
    try:
        stopped = tiny_run(folder, train__steps=100_000)
    finally:
        thread.join()
    assert stopped.stopped_by == "interrupted" and stopped.signal == signal.SIGINT
    html = page_of(folder)
    assert f"step {stopped.step} of 100000" in html and 'id="chart-losses"' in html


def test_a_report_that_fails_leaves_the_run_good(tmp_path, monkeypatch, capsys):
    def broken(run_dir, out=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ganforge.report.write_run_report", broken)
    done = tiny_run(tmp_path / "run", train__steps=2, log__sample_every=2)
    assert done.stopped_by == "steps" and not (tmp_path / "run" / REPORT).exists()
    err = capsys.readouterr().err
    assert f"report: could not write {tmp_path / 'run' / REPORT} (" in err and "No space left" in err


def test_a_report_that_fails_never_hides_the_error_that_ended_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("ganforge.report.write_run_report", lambda run_dir, out=None: 1 / 0)
    window = loop.Doctor.window
    monkeypatch.setattr(loop.Doctor, "window", lambda self, step, values, owners: window(
        self, step, values | {"loss/d_bce": float("nan")}, owners))
    with pytest.raises(GanforgeError, match=r"^step 2: .*loss d_bce became NaN"):
        tiny_run(tmp_path / "run")
    assert "report: could not write" in capsys.readouterr().err


def test_a_run_refused_before_it_started_writes_no_page(tmp_path, monkeypatch):
    """A new run that fails before logging leaves no folder (training removes it): no page is written there."""
    monkeypatch.setattr(loop, "build_data", lambda cfg: (_ for _ in ()).throw(GanforgeError("no data here")))
    with pytest.raises(GanforgeError, match="no data here"):
        tiny_run(tmp_path / "run")
    assert not (tmp_path / "run").exists()


# ---- what a grid holds, as the page says -------------------------------------------------------------------------

@pytest.mark.parametrize("over, info, says", [
    ({}, {"kind": "image"}, "64 samples from the same latent codes at every step"),
    ({"objective": {"generators": 3}}, {"kind": "image"}, "3 generators take the cells in turn (cell i is generator "
                                                          "i mod 3"),
    ({"family": "cgan"}, {"kind": "image", "num_classes": 10}, "classes in turn"),
    ({"family": "pix2pix"}, {"kind": "image"}, "the translator's outputs for the same 64 real inputs (source)"),
    ({"family": "cyclegan"}, {"kind": "image"}, "the translator's outputs"),
    ({}, {"kind": "vector"}, "2,000 samples (dark) over 2,000 training points (grey)"),
    # run.json's "grid" (ganforge.train.grids.describe) names the layout the loop drew
    ({"objective": {"generators": 3}}, {"kind": "image", "grid": {"rows": "generators", "generators": 3}},
     "one row per generator (3 rows: generator 1 at the top to generator 3 at the bottom) and 21 columns"),
    ({"family": "pix2pix"}, {"kind": "image", "grid": {"columns": ["input", "output", "target"]}},
     "64 fixed real inputs (source), each as input | output | target"),
    ({"family": "cyclegan"}, {"kind": "image", "grid": {"columns": ["input", "output", "reconstruction"]}},
     "there is no target and the third image is the cycle's reconstruction"),
    ({"family": "text2image"}, {"kind": "image"}, "each with the same real "),
])
def test_the_page_says_what_a_grid_holds(over, info, says):
    config = {"family": "gan", "log": {"grid": 64}, "objective": {}} | over
    assert says in report_contents.grid_caption(config, info)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(p.stem for p in TINY_CONFIGS.glob("*.yaml")))
def test_every_family_gets_a_page(family, tmp_path):
    """The family contract's tiny config of every family, two steps: a page with its losses, monitors and grids."""
    cfg = load_config(TINY_CONFIGS / f"{family}.yaml", ["train.steps=2", "log.every=1", "log.sample_every=1"])
    run = train(cfg, out=tmp_path / "run")
    contents = RunContents.read(run.dir)
    logged = {k for r in read_metrics(run.dir) for k in r if k.startswith("loss/")}
    charts = {c.key: c for c in contents.charts()}
    assert set(charts["losses"].series) == logged and logged
    html = page_of(run.dir)
    assert grid_steps(html) == [1, 2] and 'id="chart-losses"' in html


# ---- bounded size -----------------------------------------------------------------------------------------------

def test_long_runs_are_thinned_evenly_keeping_the_first_and_last():
    rows = list(range(2001))
    kept = evenly(rows, 500)
    assert len(kept) == 500 and kept[0] == 0 and kept[-1] == 2000 and kept == sorted(kept)
    assert evenly(rows[:10], 500) == rows[:10]


def test_the_slider_takes_at_most_60_grids_and_a_byte_budget(tmp_path):
    grids = []
    for step in range(1, 201):
        path = tmp_path / f"step_{step:08d}.png"
        path.write_bytes(b"x" * 1000)
        grids.append(Grid(step, path))
    picked = pick_grids(grids)
    assert len(picked) == report_contents.MAX_GRIDS and picked[0].step == 1 and picked[-1].step == 200
    assert [g.step for g in picked] == sorted(g.step for g in picked)
    small = pick_grids(grids, budget=20_000)
    assert sum(g.path.stat().st_size for g in small) <= 20_000 and small[-1].step == 200


# ---- several runs, and `ganforge report` ------------------------------------------------------------------------

def test_a_comparison_names_both_runs_and_their_final_numbers(run, tmp_path, capsys):
    other = tiny_run(tmp_path / "other", train__seed=4, train__steps=4)
    capsys.readouterr()  # the training's own lines
    out = tmp_path / "cmp.html"
    rc, err, said = run_cli(["report", run.dir, other.dir, "--out", out], capsys)
    assert rc == 0, err
    assert said.strip() == f"wrote the comparison of 2 runs to {out}"
    html = unescape(out.read_text())
    assert "2 runs compared" in html and str(run.dir) in html and str(other.dir) in html
    table = re.search(r"<h2>Final numbers</h2>\n<table>(.*?)</table>", html, re.S).group(1)
    assert re.search(r"<th>metric</th><th>run</th><th>other</th>", table)
    last = {n: read_metrics(d)[-1]["loss/d_bce"] for n, d in (("run", run.dir), ("other", other.dir))}
    assert f"<tr><td>loss/d_bce</td><td class=num>{last['run']:.4g}</td><td class=num>{last['other']:.4g}</td>" \
           in table
    assert len(images_in(html, "chart")) >= 4


def test_report_rebuilds_the_page_of_one_run(run, capsys):
    page = run.dir / REPORT
    page.unlink()
    rc, err, said = run_cli(["report", run.dir], capsys)
    assert rc == 0 and said.strip() == f"wrote the report to {page}"
    assert grid_steps(page.read_text()) == [2, 4, 6, 8]


def test_ganforge_train_ends_by_naming_the_page(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(tiny_config(train__steps=2, log__sample_every=2)))  # JSON is YAML
    rc, err, said = run_cli(["train", config, "--out", tmp_path / "run"], capsys)
    assert rc == 0, err
    assert f"page:          {tmp_path / 'run' / REPORT}" in said.splitlines()
    assert (tmp_path / "run" / REPORT).is_file()


def test_a_comparison_goes_beside_the_first_run_by_default(tmp_path):
    a, b = (tiny_run(tmp_path / n, train__steps=2, log__sample_every=2) for n in ("a", "b"))
    assert api.report([a.dir, b.dir]) == tmp_path / "comparison.html"


@pytest.mark.parametrize("case, message", [
    ("missing", "{run}: no such run directory"),
    ("file", "{run}: is a file, not a run directory"),
    ("empty_folder", "{run}: not a ganforge run directory"),
    ("no_metrics", "{run}: no metrics logged yet (metrics.jsonl is empty or missing); the report has nothing to draw"),
])
def test_bad_input_is_one_line(tmp_path, capsys, case, message):
    run = tmp_path / "run"
    if case == "file":
        run.write_text("x")
    elif case == "empty_folder":
        run.mkdir()
    elif case == "no_metrics":
        run.mkdir()
        RunDir(run).write_config(config_from_dict(tiny_config()))
    rc, err, said = run_cli(["report", run], capsys)
    assert rc == 2 and not said
    assert err.startswith("ganforge: error: " + message.format(run=run)) and err.count("\n") == 1
