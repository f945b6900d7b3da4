"""How runs of several processes are launched and end: two torchrun commands (two simulated nodes, c10d rendezvous
on 127.0.0.1) train one run; a rank killed with SIGKILL ends the others within a bounded time with a message, not
a hang, and the run resumes from its last checkpoint; a SIGTERM to one rank, or the time budget, stops every rank
at the same step."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ganforge.rundir import RunDir

from conftest import tiny_config
from launching import (ROOT, check_ok, environment, file_digest, free_port, state, torchrun, torchrun_command,
                       write_config)

BOUND_S = 90  # what "ends within a bounded time" means here (GANFORGE_DIST_TIMEOUT is 60 s by default)


@pytest.mark.slow
def test_two_nodes_train_one_run(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", tiny_config(train__threads=1))
    out = tmp_path / "run"
    port = free_port()
    nodes = [subprocess.Popen(
        torchrun_command([str(config), "--out", str(out)], nproc=1,
                         launcher=("--nnodes", "2", "--node-rank", str(n), "--rdzv-backend", "c10d",
                                   "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "two-nodes")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(), cwd=ROOT) for n in (0, 1)]
    outputs = [n.communicate(timeout=240) for n in nodes]
    for node, (stdout, stderr) in zip(nodes, outputs):
        assert node.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert sum(o.count("trained gan on digits to step 6") for o, _ in outputs) == 1  # one rank 0, one report
    ranks = state(out)["ranks"]
    assert ranks["world_size"] == 2 and ranks["weights_sha256"] == [file_digest(out)] * 2
    assert [row["step"] for row in RunDir(out).read_metrics()] == [2, 4, 6]


def _workers(launcher_pid: int) -> dict[int, int]:
    """{rank: pid} of the processes torchrun started (read from /proc: their parent and RANK)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = dict(v.split("=", 1) for v in (entry / "environ").read_bytes().decode().split("\0") if "=" in v)
        except (OSError, ValueError, IndexError):
            continue
        if parent == launcher_pid and "RANK" in env:
            found[int(env["RANK"])] = int(entry.name)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the ranks' processes in /proc")
def test_killed_rank_ends_the_others_with_a_message_and_the_run_resumes(tmp_path):
    raw = tiny_config(train__threads=1, train__steps=100_000, checkpoint__every=10, log__every=10)
    config = write_config(tmp_path / "tiny.yaml", raw)
    out = tmp_path / "run"
    launcher = subprocess.Popen(torchrun_command([str(config), "--out", str(out)]), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=environment(), cwd=ROOT)
    try:
        _until_first_checkpoint(launcher, out)
        os.kill(_workers(launcher.pid)[1], signal.SIGKILL)
        killed = time.monotonic()
        stdout, stderr = launcher.communicate(timeout=BOUND_S)
        took = time.monotonic() - killed
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0 and took < BOUND_S
    assert "another process of this run stopped answering" in stderr, stderr[-3000:]
    assert f"-m ganforge train --resume {out}" in stderr
    at = state(out)["step"]
    assert not list(RunDir(out).checkpoints.glob(".tmp_*"))  # nothing half-written is left as a checkpoint
    result = check_ok(torchrun(["--resume", str(out), "--steps", str(at + 4)]))
    assert f"to step {at + 4}" in result.stdout and state(out)["step"] == at + 4


def _until_first_checkpoint(launcher: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + 120
    while not (RunDir(out).checkpoints / "latest").exists():
        assert launcher.poll() is None and time.monotonic() < deadline, "the run did not reach a checkpoint"
        time.sleep(0.2)


@pytest.mark.slow
def test_sigterm_to_one_rank_stops_every_rank_at_the_same_step_with_a_checkpoint(tmp_path):
    raw = tiny_config(train__threads=1, train__steps=100_000, checkpoint__every=1000, log__every=10)
    out = tmp_path / "run"
    launcher = subprocess.Popen(torchrun_command([str(write_config(tmp_path / "t.yaml", raw)), "--out", str(out)]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(),
                                cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not RunDir(out).metrics.is_file() or not RunDir(out).read_metrics():
            assert launcher.poll() is None and time.monotonic() < deadline, "the run did not start training"
            time.sleep(0.2)
        os.kill(_workers(launcher.pid)[1], signal.SIGTERM)  # rank 1 only: rank 0 must stop with it
        stdout, stderr = launcher.communicate(timeout=BOUND_S)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    saved = state(out)
    assert f"SIGTERM: stopped after step {saved['step']} and wrote its checkpoint" in stderr, stderr[-3000:]
    assert saved["ranks"]["weights_sha256"] == [file_digest(out)] * 2  # both ranks stopped at that step


@pytest.mark.slow
def test_time_budget_stops_both_ranks_cleanly(tmp_path):
    raw = tiny_config(train__threads=1, train__steps=100_000, checkpoint__every=1000, log__every=10)
    result = check_ok(torchrun([str(write_config(tmp_path / "t.yaml", raw)), "--out", str(tmp_path / "run"),
                                "--time-budget", "2"]))
    assert "time budget reached" in result.stdout
    assert state(tmp_path / "run")["ranks"]["weights_sha256"] == [file_digest(tmp_path / "run")] * 2
