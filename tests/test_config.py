"""The config loader (ganforge/config.py): each out-of-range setting is refused at load naming its key, and under
fuzzing, overrides and config files give a valid config or one clear GanforgeError, never a traceback."""
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganforge.config import load_config
from ganforge.errors import GanforgeError

from conftest import ROOT, tiny_config

DIGITS = str(ROOT / "configs" / "dcgan-digits.yaml")


# -- each setting's bounds, refused at load naming the key ---------------------------------------------------------
BAD_SETTINGS = [
    ("checkpoint.every=0", "checkpoint.every"), ("log.every=0", "log.every"), ("log.sample_every=0", "log.sample_every"),
    ("optim.D.lr=-1e-3", "optim.D.lr"), ("optim.G.lr=0", "optim.G.lr"), ("optim.D.betas=[0.5,1.5]", "optim.D.betas"),
    ("optim.D.momentum=-0.1", "optim.D.momentum"), ("optim.D.weight_decay=-1", "optim.D.weight_decay"),
    ("train.batch_size=-4", "train.batch_size"), ("train.batch_size=0", "train.batch_size"),
    ("train.steps=-1", "train.steps"), ("train.steps=0", "train.steps"), ("train.ema=1.5", "train.ema"),
    ("train.ema=0", "train.ema"), ("train.time_budget=0", "train.time_budget"), ("train.threads=0", "train.threads"),
    ("train.seed=-1", "train.seed"), ("train.device=gpu", "train.device"), ("latent_dim=0", "latent_dim"),
    ("data.image_size=0", "data.image_size"), ("data.channels=2", "data.channels"), ("eval.num=1", "eval.num"),
    ("eval.metrics=[fid,fdi]", "eval.metrics"), ("train.lr_decay_start=1", "train.lr_decay_start"),
    ("doctor.d_wins_fake=2", "doctor.d_wins_fake"), ("optim.D.lr=.nan", "optim.D.lr"),
    ("train.time_budget=.inf", "train.time_budget"), ("checkpoint.keep=-1", "checkpoint.keep"),
]


@pytest.mark.parametrize("override,key", BAD_SETTINGS, ids=[o for o, _ in BAD_SETTINGS])
def test_out_of_range_settings_fail_at_load_naming_the_key(override, key):
    with pytest.raises(GanforgeError) as e:
        load_config(DIGITS, [override])
    assert key in str(e.value) and "\n" not in str(e.value)


# -- the config loader under fuzzing: a GanforgeError of one line or a valid config, nothing else --------------
KEYS = ["family", "latent_dim", "latent", "data.name", "data.image_size", "data.channels", "data.num_samples",
        "optim.D.lr", "optim.G.betas", "optim.D.name", "train.steps", "train.batch_size", "train.seed", "train.ema",
        "train.device", "train.threads", "train.time_budget", "train.lr_decay", "train.lr_decay_over", "log.every", "log.grid",
        "checkpoint.every", "checkpoint.keep", "eval.metrics", "eval.num", "doctor.patience", "nets.D.arch",
        "nets.G.args.base", "objective.loss", "data", "train", "nets", "optim", "stepz", "train.stepz", "a.b.c"]
VALUES = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.none(), st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3),
                   st.sampled_from(["[", "{a: 1}", "1e-4", "- x", "!!python/object:os.system ls", "'", ": :"]))


def _yaml_value(v) -> str:
    return v if isinstance(v, str) else json.dumps(v)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=10), VALUES), max_size=4))
def test_fuzzed_overrides_are_a_config_or_one_clear_error(items):
    overrides = [f"{k}={_yaml_value(v)}" for k, v in items]
    try:
        cfg = load_config(DIGITS, overrides)
    except GanforgeError as e:
        assert str(e).strip() and "Traceback" not in str(e)
        assert "\n" not in str(e) or str(e).startswith("invalid config")  # several problems: a line each
        return
    assert cfg.train.batch_size >= 1 and cfg.log.every >= 1 and cfg.checkpoint.every >= 1


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200),
                 st.recursive(st.none() | st.integers() | st.floats() | st.text(max_size=8),
                              lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                              max_leaves=10).map(yaml.safe_dump)))
def test_fuzzed_config_files_are_a_config_or_one_clear_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    try:
        load_config(path)
    except GanforgeError as e:
        assert str(e).strip()


def test_a_config_file_that_is_a_folder_or_missing_is_named(tmp_path):
    with pytest.raises(GanforgeError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(GanforgeError, match=str(tmp_path)):
        load_config(tmp_path)
    assert tiny_config()  # the shared tiny config stays valid under the bounds
