"""Shared by every test folder (tests/<package part>/ mirrors ganforge/<part>/): paths, the tiny config, the
bit-exact-resume check, the real-Fashion-MNIST skip, the blur the evaluator tests degrade images with, and a loader
for the experiment scripts. pytest puts this folder on sys.path, so tests import these with `from conftest import …`."""
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ganforge.config import config_from_dict
from ganforge.train import checkpoint

ROOT = Path(__file__).resolve().parent.parent  # the repository
CONFIGS = ROOT / "configs"
TINY_CONFIGS = ROOT / "tests" / "families" / "tiny_configs"  # one per family: the family contract's input
EXPERIMENTS = ROOT / "experiments"

needs_fashion = pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                                   reason="needs the real Fashion-MNIST (apt-get install dataset-fashion-mnist)")


# ---- both cores: every test runs torch on one thread (see _threads), so `python3 -m pytest` spreads the tests over
# pytest-xdist workers unless told otherwise (-n N, -n 0, -p no:xdist, --pdb). This default lives here, not in
# pyproject's addopts: an `-n` there makes `-p no:xdist` fail with "unrecognized arguments: -n".
MAX_WORKERS = 4  # past this the suite's few longest tests set its wall time, and each worker holds its own torch
DIST_MODE = "worksteal"  # why: docs/guides/testing.md (chosen by reasoning; not yet timed against load/loadfile)


def xdist_workers(cores: int, wanted: str | None = None) -> int:
    """How many workers `-n auto` (the suite's default) starts: PYTEST_XDIST_AUTO_NUM_WORKERS (`wanted`) when set,
    else one per core up to MAX_WORKERS; 0 (no workers: the tests run in this process) on a single core, where a
    worker would only add its start-up."""
    if wanted:
        return int(wanted)
    return 0 if cores < 2 else min(cores, MAX_WORKERS)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """`-n auto --dist DIST_MODE` unless the command line chose (runs before xdist's own hook reads the options)."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):  # off, or inside a worker
        return
    if config.option.numprocesses is None:
        config.option.numprocesses = "auto"
    if config.option.dist == "no":
        config.option.dist = DIST_MODE


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one, as in a container or taskset)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown (and unused) under -p no:xdist
def pytest_xdist_auto_num_workers(config):
    import os

    return xdist_workers(usable_cores(), os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"))


# ---- the run report: training writes RUN/report.html as every run ends, about a second of matplotlib on these CPUs;
# across the suite's hundreds of tiny runs that was 40 % of the fast tier, so only tests marked `report` write it
_WRITE_REPORTS = {"on": False}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _WRITE_REPORTS["on"] = item.get_closest_marker("report") is not None  # set before the test's fixtures train


@pytest.fixture(scope="session", autouse=True)
def _reports_only_where_marked():
    from ganforge.train import loop

    write = loop.report_after_training
    loop.report_after_training = lambda run_dir: write(run_dir) if _WRITE_REPORTS["on"] else None
    yield
    loop.report_after_training = write


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)  # tiny networks: one thread beats two, and CI shares its cores


def tiny_config(**over) -> dict:
    """A DCGAN on the 8×8 digits resized to 16 px, small enough for a CPU step in milliseconds."""
    raw = {
        "family": "gan", "latent_dim": 8,
        "data": {"name": "digits", "image_size": 16},
        "nets": {"G": {"arch": "dcgan_generator", "args": {"base": 8}},
                 "D": {"arch": "dcgan_discriminator", "args": {"base": 8}}},
        "train": {"steps": 6, "batch_size": 16, "seed": 3},
        "log": {"every": 2, "sample_every": 4, "progress": False, "tensorboard": False},
        "checkpoint": {"every": 3, "keep": 2},
    }
    for key, value in over.items():
        node = raw
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return raw


@pytest.fixture
def tiny():
    return lambda **over: config_from_dict(tiny_config(**over))


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint.latest_checkpoint(run_dir) / checkpoint.WEIGHTS))


def assert_same_state(a: Path, b: Path):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs"
    sa = checkpoint.load_state(checkpoint.latest_checkpoint(a))
    sb = checkpoint.load_state(checkpoint.latest_checkpoint(b))
    assert sa["step"] == sb["step"]
    assert torch.equal(sa["rng"], sb["rng"])
    for net in sa["optimizers"]:
        for pid, st in sa["optimizers"][net]["state"].items():
            for key, value in st.items():
                assert torch.equal(value, sb["optimizers"][net]["state"][pid][key]), f"{net} optimiser {key} differs"


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of a batch of one-channel images: the degradation FID and KID must grow with."""
    r = int(3 * sigma) + 1
    k = torch.exp(-torch.arange(-r, r + 1.0) ** 2 / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))


def load_experiment(name: str) -> ModuleType:
    """experiments/NAME.py as a module, loaded from its file: experiments/ is not a package and stays off sys.path.
    Registered in sys.modules (as `experiment_NAME`) so that what it defines can find its own module."""
    module_name = f"experiment_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def run_cli(argv: list, capsys) -> tuple[int, str, str]:
    """(exit status, stderr, stdout) of `ganforge` argv run in-process; argparse's errors exit through SystemExit."""
    from ganforge.cli import main

    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    captured = capsys.readouterr()
    return rc, captured.err, captured.out


class RankOf:
    """Rank `rank` of `world_size`, collectives aside: what periodic_eval.gather_embedded asks of a run's processes
    (each rank's share is gathered to itself alone)."""

    def __init__(self, rank: int, world_size: int):
        self.rank, self.world_size = rank, world_size

    def average_buffers(self, modules) -> None:
        pass

    def gather_to_writer(self, obj):
        return [obj]


# ---- a real browser: Debian's chromium driven by Playwright (nothing downloaded at run time) ---------------------
BROWSER_REQUIRED = "GANFORGE_REQUIRE_BROWSER"  # set by .ci/run: there a missing browser fails instead of skipping


def chromium_path() -> str | None:
    """The system's Chromium (Debian: apt-get install chromium), or None."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium for end-to-end tests of the report and the explorer. Skips, saying why, where no browser
    or no Playwright is installed, except where GANFORGE_REQUIRE_BROWSER=1 (CI), where that is a failure."""
    import os

    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    why = ("no chromium on PATH (apt-get install chromium)" if path is None else
           "no playwright (pip install playwright; it drives the system chromium, no browser download)"
           if sync_playwright is None else None)
    if why:
        if os.environ.get(BROWSER_REQUIRED) == "1":
            pytest.fail(f"browser tests must run here ({BROWSER_REQUIRED}=1): {why}")
        pytest.skip(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser page (its own context: no state shared between tests), 1200×900."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    yield context.new_page()
    context.close()


def refuse_requests_except(page, prefix: str) -> list[str]:
    """Let `page` load only URLs that start with `prefix` (file:// for a page opened from disk, the local server's
    address for the explorer); every other request is aborted and its URL appended to the list returned."""
    refused: list[str] = []

    def only_allowed(route):
        if route.request.url.startswith(prefix):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_allowed)
    return refused
