"""The explorer and the live view in a real headless Chromium (tests/conftest.py's `page`), against a server on a
free port of 127.0.0.1: what a person does (move a slider, pick a class, start and pause training) changes what
they see. The page may load nothing from elsewhere: every request off 127.0.0.1 is blocked and fails the test.
GANFORGE_SCREENSHOTS=1 saves the screenshots the docs show (docs/images/)."""
import os
import time

import pytest

from conftest import ROOT, refuse_requests_except
from ganforge.serve import make_app
from serving import live_config, running, train_tiny, train_tiny_text

pytest.importorskip("flask")
SHOTS = ROOT / "docs" / "images"
SCREENSHOTS = os.environ.get("GANFORGE_SCREENSHOTS") == "1"  # then runs train longer, so the pictures show something


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("explorer")
    steps = {"train__steps": 600, "checkpoint__every": 600, "train__batch_size": 64, "log__every": 100,
             "log__sample_every": 600} if SCREENSHOTS else {}
    return [train_tiny(root / "gan", **steps), train_tiny(root / "cgan", family="cgan", **steps)]


@pytest.fixture
def local_page(page):
    """`page`, with every request off 127.0.0.1 aborted and remembered; the test fails if there was one."""
    outside = refuse_requests_except(page, "http://127.0.0.1:")
    yield page
    assert not outside, f"the page asked for external content: {outside}"


def image_bytes(page, selector: str) -> bytes:
    """The bytes of the picture an <img> shows now (fetched by the page from the image's own address)."""
    return bytes(page.evaluate(
        "async (s) => Array.from(new Uint8Array(await (await fetch(document.querySelector(s).src)).arrayBuffer()))",
        selector))


def wait_loaded(page, selector: str) -> None:
    page.wait_for_function("(s) => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0 }",
                           arg=selector)


def test_a_slider_changes_the_image_and_a_class_changes_the_samples(local_page, runs):
    page = local_page
    with running(make_app(runs)) as url:
        page.goto(url)
        wait_loaded(page, "#samples-0")
        before = image_bytes(page, "#samples-0")
        # drag the first slider (PC1) to 2.5: a range input takes its value and fires "input", as a drag does
        page.eval_on_selector("#dir-0-0", "s => { s.value = 2.5; s.dispatchEvent(new Event('input')) }")
        page.wait_for_function("() => document.querySelector('#samples-0').src.includes('coords=2.50')")
        wait_loaded(page, "#samples-0")
        assert image_bytes(page, "#samples-0") != before

        wait_loaded(page, "#samples-1")
        every_class = image_bytes(page, "#samples-1")
        page.select_option("#class-1", "3")
        page.wait_for_function("() => document.querySelector('#samples-1').src.includes('label=3')")
        wait_loaded(page, "#samples-1")
        three = image_bytes(page, "#samples-1")
        page.select_option("#class-1", "7")
        page.wait_for_function("() => document.querySelector('#samples-1').src.includes('label=7')")
        wait_loaded(page, "#samples-1")
        assert len({every_class, three, image_bytes(page, "#samples-1")}) == 3

        assert page.is_hidden("#nearest-0")  # nothing to show (no broken picture) until a sample is clicked
        page.click("#samples-0", position={"x": 5, "y": 5})  # the first sample: its nearest training images
        wait_loaded(page, "#nearest-0")
        assert page.is_visible("#nearest-0") and "pixel distance" in page.inner_text("#run-0")
        if SCREENSHOTS:
            page.screenshot(path=str(SHOTS / "explorer.png"), full_page=True)


def test_a_caption_changes_the_samples_of_a_text_run(local_page, tmp_path):
    page = local_page
    with running(make_app([train_tiny_text(tmp_path / "words")])) as url:
        page.goto(url)
        wait_loaded(page, "#samples-0")
        assert page.input_value("#caption-0") == "a digit seven"
        seven = image_bytes(page, "#samples-0")
        page.fill("#caption-0", "a bright wide digit two")
        page.press("#caption-0", "Enter")
        page.wait_for_function("() => document.querySelector('#samples-0').src.includes('caption=a%20bright%20wide')")
        wait_loaded(page, "#samples-0")
        assert image_bytes(page, "#samples-0") != seven
        assert "caption=a%20bright%20wide" in page.get_attribute("#interp-0", "src")  # held for the interpolation

        page.fill("#walk-to-0", "a dark digit zero")  # from the starting caption to this one
        page.click("#walk-0")
        wait_loaded(page, "#walk-img-0")
        assert page.is_visible("#walk-img-0")

        page.fill("#caption-0", "")
        page.click("#generate-0")
        page.wait_for_function("() => document.querySelector('#message').textContent.includes('caption is empty')")


def test_a_traversal_request_from_the_page_is_refused(local_page, runs):
    page = local_page
    with running(make_app(runs)) as url:
        page.goto(url)
        for path in ("/api/runs/..%2F..%2Fetc%2Fpasswd/samples.png", "/static/%2e%2e/%2e%2e/api.py",
                     "/static/..%2F..%2F..%2Fetc%2Fpasswd"):
            answer = page.request.get(url + path)
            assert 400 <= answer.status < 500 and b"root:" not in answer.body()
        answer = page.goto(url + "/static/../../../etc/passwd")  # the browser folds '..': still nothing outside
        assert answer.status == 404


@pytest.mark.slow
def test_the_live_view_moves_while_training_and_stands_still_when_paused(local_page):
    page = local_page
    app = make_app([], live_config())
    live = app.extensions["ganforge_live"]
    try:
        with running(app) as url:
            page.goto(url)  # no runs: the explorer sends us to the live view
            page.wait_for_url("**/live")
            wait_loaded(page, "#frame")
            still = image_bytes(page, "#frame")
            page.click("#start")
            page.wait_for_function("(n) => Number(document.querySelector('#status').dataset.step) > n",
                                   arg=1500 if SCREENSHOTS else 100, timeout=120_000)
            wait_loaded(page, "#frame")
            assert image_bytes(page, "#frame") != still  # the points moved
            page.click("#pause")
            page.wait_for_function("() => document.querySelector('#status').dataset.running === 'false'")
            step = page.get_attribute("#status", "data-step")
            time.sleep(1.0)
            paused = image_bytes(page, "#frame")
            time.sleep(1.0)
            assert page.get_attribute("#status", "data-step") == step
            assert image_bytes(page, "#frame") == paused  # pause stops them
            if SCREENSHOTS:
                page.screenshot(path=str(SHOTS / "live.png"), full_page=True)

            page.fill("#switch-objective-generators", "3")  # a stabiliser: restart with 3 generators
            page.click("#restart")
            page.wait_for_function("() => document.querySelector('#status').dataset.step === '0'")
            assert live.stepper.cfg.objective["generators"] == 3
    finally:
        live.close()
