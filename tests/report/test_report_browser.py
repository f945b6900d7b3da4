"""The report as a person sees it: opened from disk in a real headless Chromium with the network cut off, its
charts load, and moving the slider shows another step's grid. With GANFORGE_SCREENSHOTS=1 the test trains a longer
run (a picture worth showing) and saves screenshots of the page to docs/images/ for the guide and the README."""
from __future__ import annotations

import os

import pytest

from ganforge.config import config_from_dict
from ganforge.report import REPORT
from ganforge.train import train

from conftest import ROOT, refuse_requests_except, tiny_config

pytestmark = pytest.mark.report  # these trainings write their pages (conftest.py skips that elsewhere)

SCREENSHOTS = os.environ.get("GANFORGE_SCREENSHOTS") == "1"
IMAGES = ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """RUN/report.html of a tiny run with four grids; for screenshots, a run long enough to draw digits."""
    over = ({"train__steps": 400, "log__every": 10, "log__sample_every": 20, "checkpoint__every": 200,
             "nets__G__args__base": 16, "nets__D__args__base": 16, "train__batch_size": 64}
            if SCREENSHOTS else {"train__steps": 8, "log__sample_every": 2, "checkpoint__every": 4})
    run = train(config_from_dict(tiny_config(**over)), out=tmp_path_factory.mktemp("browser") / "run")
    return run.dir / REPORT


def open_offline(page, path) -> list[str]:
    """Open `path` from disk with every request but file:// refused; returns the refused URLs (none expected)."""
    refused = refuse_requests_except(page, "file://")
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return refused


def test_the_report_opens_from_disk_offline_and_shows_its_charts(page, report):
    refused = open_offline(page, report)
    charts = page.eval_on_selector_all(
        "img.chart", "imgs => imgs.map(i => ({id: i.id, ok: i.complete, w: i.naturalWidth, h: i.naturalHeight}))")
    assert {c["id"] for c in charts} >= {"chart-losses", "chart-monitors", "chart-grad_norms", "chart-throughput"}
    assert all(c["ok"] and c["w"] > 0 and c["h"] > 0 for c in charts), charts
    grid = page.eval_on_selector("#grid", "i => [i.complete, i.naturalWidth]")
    assert grid[0] and grid[1] > 0
    assert refused == []  # the page asked for nothing beyond the file itself
    if SCREENSHOTS:
        IMAGES.mkdir(exist_ok=True)
        page.screenshot(path=str(IMAGES / "report.png"))


def test_moving_the_slider_shows_another_steps_grid(page, report):
    open_offline(page, report)

    def shown():
        return page.eval_on_selector("#grid", "i => i.src"), page.inner_text("#grid-step")

    last = shown()
    slider = page.locator("#grid-slider")
    slider.focus()
    page.keyboard.press("Home")  # as a person would: the keyboard moves a range input and fires its input event
    first = shown()
    assert first[1] == ("step 20" if SCREENSHOTS else "step 2") and last[1] != first[1]
    assert first[0] != last[0] and first[0].startswith("data:image/png;base64,")
    page.keyboard.press("ArrowRight")
    assert shown()[1] == ("step 40" if SCREENSHOTS else "step 4")
    assert page.eval_on_selector("#grid", "i => i.complete && i.naturalWidth > 0")
    if SCREENSHOTS:
        page.keyboard.press("End")
        page.locator("h2", has_text="Samples over training").scroll_into_view_if_needed()
        page.screenshot(path=str(IMAGES / "report-samples.png"))
