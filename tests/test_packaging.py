"""A package that installs anywhere: the version is written once, a dependency one feature alone uses is an extra
whose absence that feature names in one line, and the wheel, installed into a fresh venv, trains from an empty
folder with its packaged configs."""
import importlib.util
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
import torch

import ganforge
from conftest import ROOT
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.metrics.fidelity import fidelity

tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11 reads pyproject.toml itself
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# dependency → the extra that brings it
OPTIONAL = {"scikit-learn": "digits", "torchmetrics": "translation", "flask": "serve"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip() for r in requirements}


def test_the_version_is_written_once():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ganforge._version.__version__"}
    assert ganforge.__version__.count(".") == 2


def test_optional_dependencies_are_extras_and_the_test_extra_pulls_what_the_suite_uses():
    core = _requirement_names(PYPROJECT["project"]["dependencies"])
    extras = {name: _requirement_names(reqs) for name, reqs in PYPROJECT["project"]["optional-dependencies"].items()}
    for dependency, extra in OPTIONAL.items():
        assert dependency not in core and dependency in extras[extra] and dependency in extras["all"]
    assert set(OPTIONAL) | {"pytest", "pytest-xdist", "hypothesis", "scipy"} <= extras["test"]  # xdist: conftest.py
    assert {"mkdocs-material", "mkdocstrings"} <= extras["docs"]


def test_the_wheel_ships_the_configs_and_the_built_in_evaluator():
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["ganforge"]
    assert "configs/*.yaml" in data and "weights/*" in data


def _without(monkeypatch, package: str) -> None:
    """Make `import package` (and its submodules) fail as it does where the package is not installed."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")] + [package]:
        monkeypatch.setitem(sys.modules, name, None)


def test_the_digits_without_scikit_learn_name_the_extra(monkeypatch):
    _without(monkeypatch, "sklearn")
    with pytest.raises(GanforgeError, match=r"scikit-learn: pip install 'ganforge\[digits\]'") as err:
        load_dataset("digits")
    assert "\n" not in str(err.value)


def test_ssim_without_torchmetrics_names_the_extra(monkeypatch):
    _without(monkeypatch, "torchmetrics")
    images = torch.zeros(2, 1, 8, 8)
    with pytest.raises(GanforgeError, match=r"torchmetrics: pip install 'ganforge\[translation\]'") as err:
        fidelity(images, images)
    assert "\n" not in str(err.value)


def test_a_translation_run_without_torchmetrics_is_refused_before_it_trains(monkeypatch, tmp_path):
    """Its final evaluation scores SSIM: without torchmetrics that used to fail after the whole training."""
    from conftest import TINY_CONFIGS

    from ganforge.config import load_config
    from ganforge.train.loop import train

    _without(monkeypatch, "torchmetrics")
    cfg = load_config(TINY_CONFIGS / "pix2pix.yaml", ["train.steps=2", "eval.final=true"])
    with pytest.raises(GanforgeError, match=r"torchmetrics: pip install 'ganforge\[translation\]'.*eval.final=false"):
        train(cfg, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything was written
    off = load_config(TINY_CONFIGS / "pix2pix.yaml", ["train.steps=2", "eval.final=false", "eval.every=0"])
    assert train(off, out=tmp_path / "off").step == 2  # evaluation off: SSIM is never needed


def _run(argv: list, cwd: Path, env: dict, timeout: int = 600) -> str:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture
def scratch(tmp_path):
    """tmp_path, emptied afterwards: the venv holds over a gigabyte of torch that pytest would keep three runs."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.slow  # builds the wheel and installs it with its dependencies: a minute or two, mostly pip
def test_the_wheel_installs_into_a_fresh_venv_and_trains_from_an_empty_folder(scratch):
    tmp_path = scratch
    start = time.monotonic()
    # build from a copy, so the checkout gets no build/ or egg-info of its own
    source = tmp_path / "source"
    shutil.copytree(ROOT / "ganforge", source / "ganforge", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    # with setuptools at hand, build without fetching it again (offline); else pip fetches it into an isolated build
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, source, "-w", tmp_path / "dist"],
         tmp_path, env)
    wheel = next((tmp_path / "dist").glob("ganforge-*.whl"))

    try:
        venv.create(tmp_path / "venv", with_pip=True, system_site_packages=False)
    except Exception as e:  # no ensurepip (Debian's python3 without python3-venv): nothing to install into
        pytest.skip(f"cannot create a venv with pip here: {e}")
    bin_dir = tmp_path / "venv" / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    # the torch this suite runs on, pinned first (a plain `torch` may pull a multi-GB CUDA build); digits to train
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"
    # --no-compile: byte-compiling torch's thousands of modules would take most of the install time
    _run([python, "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check", torch_pin,
          f"{wheel}[digits]"], tmp_path, env)
    installed = time.monotonic() - start

    empty = tmp_path / "empty"
    empty.mkdir()
    # the installed copy (not this checkout), its version as pip recorded it, and the default config from it
    where, default, dataset = _run([python, "-c", "import ganforge, importlib.metadata as m; "
                                    "from ganforge.config import DEFAULT_CONFIG, load_config; "
                                    "assert ganforge.__version__ == m.version('ganforge'); "
                                    "print(ganforge.__file__, DEFAULT_CONFIG, load_config(None).data.name)"],
                                   empty, env).split()
    assert Path(where).is_relative_to(tmp_path / "venv")
    assert Path(default).is_relative_to(tmp_path / "venv") and Path(default).name == "dcgan-fashion.yaml"
    assert dataset == "fashion-mnist"

    listing = _run([python, "-m", "ganforge", "list"], empty, env)
    assert "families:" in listing and "dcgan_generator" in listing
    assert "dcgan-digits" in listing and "pix2pix-edges-fashion" in listing  # the configs inside the wheel

    tiny = ["train.batch_size=8", "log.progress=false", "log.tensorboard=false", "doctor.enabled=false"]
    out = _run([bin_dir / "ganforge", "train", "dcgan-digits", "--steps", "3", "--out", "R", *tiny], empty, env)
    assert "to step 3" in out
    for name in ("run.json", "config.yaml", "metrics.jsonl", "samples/step_00000003.png"):
        assert (empty / "R" / name).is_file(), name
    assert sorted(p.name for p in empty.iterdir()) == ["R"]  # nothing else written to the working folder

    # `ganforge train` with no config: the packaged default, trained where Fashion-MNIST is on this machine
    if Path("/usr/share/datasets/fashion-mnist").is_dir() or os.environ.get("GANFORGE_DATA"):
        out = _run([bin_dir / "ganforge", "train", "--steps", "2", "--out", "D", "data.num_samples=256",
                    "eval.final=false", *tiny], empty, env)
        assert "trained gan on fashion-mnist to step 2" in out and (empty / "D" / "run.json").is_file()
    print(f"wheel built and installed in {installed:.0f} s, all checks in {time.monotonic() - start:.0f} s")
