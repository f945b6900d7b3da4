"""The family contract on 2 processes: every registered family trains a step on 2 ranks (gloo) from its tiny
config, both ranks hold the checkpoint's weights, and the checkpoint loads in one process."""
from __future__ import annotations

import subprocess

import pytest

import ganforge
from ganforge.families import available_families

from conftest import TINY_CONFIGS
from launching import ROOT, environment, file_digest, state, torchrun_command


@pytest.mark.slow
def test_every_family_trains_a_step_on_two_ranks(tmp_path):
    families = sorted(available_families())
    command = torchrun_command([str(TINY_CONFIGS), str(tmp_path), *families],
                               script=str(ROOT / "tests" / "distributed" / "families_worker.py"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT,
                          env=environment(GANFORGE_DIST_TIMEOUT="60"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    for family in families:
        run = tmp_path / family
        ranks = state(run)["ranks"]
        assert state(run)["step"] == 1 and ranks["world_size"] == 2, family
        assert ranks["weights_sha256"] == [file_digest(run)] * 2, f"{family}: the ranks' weights differ"
        assert ganforge.load(run).step == 1, family
