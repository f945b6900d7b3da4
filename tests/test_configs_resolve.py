"""Configs ship inside the package and can be named bare: `ganforge train pix2pix-edges-fashion`, with or without
`.yaml`, from any folder; a path stays a path (a missing file is an error, never a packaged config of that name);
the checkout's `configs/NAME.yaml` keeps working; the default config comes from the package."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import CONFIGS, ROOT
from ganforge.cli import main
from ganforge.config import (DEFAULT_CONFIG, DEFAULT_CONFIG_NAME, PACKAGED_CONFIGS, available_configs, load_config,
                             resolve_config)
from ganforge.errors import GanforgeError

PACKAGE = ROOT / "ganforge"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working folder with no configs/ in it, as after `pip install` run from anywhere."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_configs_live_in_the_package_and_the_checkout_links_to_them():
    assert PACKAGED_CONFIGS == PACKAGE / "configs"
    assert CONFIGS.is_symlink() and CONFIGS.resolve() == PACKAGED_CONFIGS
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(p.name for p in PACKAGED_CONFIGS.glob("*.yaml"))


def test_available_configs_names_every_packaged_file_sorted():
    configs = available_configs()
    assert list(configs) == sorted(configs)
    assert set(configs) == {p.stem for p in PACKAGED_CONFIGS.glob("*.yaml")}
    assert {"dcgan-fashion", "dcgan-digits", "pix2pix-edges-fashion"} <= set(configs)
    assert all(path.parent == PACKAGED_CONFIGS and path.is_file() for path in configs.values())
    # a name sorts before its variants ("dcgan-fashion" < "dcgan-fashion-paper"), not by file name
    names = list(configs)
    assert names.index("dcgan-fashion") < names.index("dcgan-fashion-paper")


def test_the_default_config_comes_from_the_package(elsewhere):
    assert DEFAULT_CONFIG == PACKAGED_CONFIGS / f"{DEFAULT_CONFIG_NAME}.yaml"
    assert DEFAULT_CONFIG.is_relative_to(PACKAGE) and DEFAULT_CONFIG.is_file()
    assert load_config(None) == load_config(CONFIGS / "dcgan-fashion.yaml")


@pytest.mark.parametrize("name", ["pix2pix-edges-fashion", "pix2pix-edges-fashion.yaml"])
def test_a_bare_name_with_or_without_yaml_names_the_packaged_config(elsewhere, name):
    assert resolve_config(name) == PACKAGED_CONFIGS / "pix2pix-edges-fashion.yaml"
    assert load_config(name) == load_config(CONFIGS / "pix2pix-edges-fashion.yaml")


def test_the_checkouts_configs_paths_keep_working(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert resolve_config("configs/dcgan-digits.yaml") == Path("configs/dcgan-digits.yaml")
    assert load_config("configs/dcgan-digits.yaml", ["train.steps=7"]).train.steps == 7


def test_a_missing_path_is_an_error_never_a_packaged_config_of_that_name(elsewhere):
    # outside the checkout `configs/dcgan-digits.yaml` does not exist: it is a path, reported as missing
    assert resolve_config("configs/dcgan-digits.yaml") == Path("configs/dcgan-digits.yaml")
    with pytest.raises(GanforgeError, match=r"config file not found: configs/dcgan-digits\.yaml") as err:
        load_config("configs/dcgan-digits.yaml")
    assert "\n" not in str(err.value) and "'dcgan-digits'" in str(err.value)  # one line that says what to give
    with pytest.raises(GanforgeError, match="config file not found"):
        load_config(elsewhere / "dcgan-digits.yaml")


def test_a_file_on_disk_wins_over_a_packaged_config_of_the_same_name(elsewhere):
    raw = yaml.safe_load((PACKAGED_CONFIGS / "dcgan-digits.yaml").read_text())
    raw["train"]["steps"] = 7
    (elsewhere / "dcgan-digits.yaml").write_text(yaml.safe_dump(raw))
    assert resolve_config("dcgan-digits.yaml") == Path("dcgan-digits.yaml")
    assert load_config("dcgan-digits.yaml").train.steps == 7
    assert load_config("dcgan-digits").train.steps == 3000  # the bare name is not on disk: the packaged one


def test_an_unknown_name_is_one_line_listing_the_packaged_configs(elsewhere):
    with pytest.raises(GanforgeError) as err:
        load_config("dcgan-fashon")
    message = str(err.value)
    assert "\n" not in message and "'dcgan-fashon'" in message
    assert "did you mean dcgan-fashion?" in message
    assert all(name in message for name in available_configs())


@pytest.mark.slow  # a two-step run, but sklearn and the first step take seconds on a shared CPU
def test_the_cli_trains_a_bare_config_name_from_another_folder(elsewhere, capsys):
    rc = main(["train", "dcgan-digits", "--steps", "2", "--out", "run", "train.batch_size=8", "log.progress=false",
               "log.tensorboard=false", "nets.G.args.base=8", "nets.D.args.base=8", "doctor.enabled=false"])
    assert rc == 0 and (elsewhere / "run" / "run.json").is_file()
    saved = yaml.safe_load((elsewhere / "run" / "config.yaml").read_text())
    assert saved["data"]["name"] == "digits" and saved["train"]["steps"] == 2


def test_the_cli_reports_an_unknown_config_name_in_one_line(elsewhere, capsys):
    assert main(["train", "no-such-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no-such-config" in err and "dcgan-digits" in err


def test_python_dash_m_ganforge_runs_the_cli(elsewhere):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's ganforge, whatever is installed
    proc = subprocess.run([sys.executable, "-m", "ganforge", "train", "no-such-config"], capture_output=True,
                          text=True, timeout=120, cwd=elsewhere, env=env)
    assert proc.returncode == 2 and "ganforge: error: config 'no-such-config'" in proc.stderr
