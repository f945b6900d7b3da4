"""No data lost, no run overwritten: one writer per run folder, Ctrl-C keeps the steps, a failed write is one line,
a run that fails before it starts leaves no folder, a killed pack's leftovers go, and errors start their own line."""
import errno
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors import SafetensorError
from tqdm import tqdm

from ganforge import fileio
from ganforge.cli import close_progress_bars, main, plain
from ganforge.config import config_from_dict
from ganforge.data.shards import writing
from ganforge.errors import GanforgeError
from ganforge.fileio import check_writable
from ganforge.rundir import RunDir
from ganforge.train import checkpoint, loop, train
from ganforge.train.loop import StopRequests

from conftest import ROOT, assert_same_state, tiny_config

DIGITS = ROOT / "configs" / "dcgan-digits.yaml"
SMALL = ["train.threads=1", "log.every=5", "log.progress=false", "log.tensorboard=false", "eval.final=false",
         "nets.G.args.base=16", "nets.D.args.base=16", "train.batch_size=32"]


def _start(*args: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as f:  # a file, not a pipe: nobody reads it while the process runs
        return subprocess.Popen([sys.executable, "-m", "ganforge.cli", "train", *args], stdout=f,
                                stderr=subprocess.STDOUT, env=os.environ | {"PYTHONPATH": str(ROOT)})


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the training ended before the moment the test waits for"
        assert time.monotonic() < deadline, "the training made no progress"
        time.sleep(0.02)


def _logged_step(run: Path) -> int:
    try:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        return json.loads(lines[-1])["step"] if lines else 0
    except (OSError, ValueError, KeyError):
        return 0


def _lock_is_free(run: Path) -> bool:
    fd = os.open(RunDir(run).lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


# ---- one run folder, one writer -----------------------------------------------------------------------------------

def test_a_second_training_of_a_folder_in_use_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    first = _start(str(DIGITS), "--out", str(run), "--steps", "100000", "checkpoint.every=100000", *SMALL,
                   log=tmp_path / "first.log")
    try:
        _wait_for(lambda: _logged_step(run) >= 5, first)
        started = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "ganforge.cli", "train", str(DIGITS), "--out", str(run),
                                 "--steps", "10", *SMALL], capture_output=True, text=True, timeout=120,
                                env=os.environ | {"PYTHONPATH": str(ROOT)})
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "in use" in lines[0], second.stderr
        assert time.monotonic() - started < 60  # refused before loading data or training
        assert first.poll() is None, "the first training must go on"
        assert (run / "metrics.jsonl").is_file()  # the second did not clear the first one's log
    finally:
        first.kill()
        first.wait(timeout=60)
    assert _lock_is_free(run), "a process killed with -9 must leave the run folder free"


def test_resume_of_a_folder_in_use_is_refused(tiny, tmp_path):
    run = tmp_path / "run"
    train(tiny(), out=run)
    with RunDir(run).lock():  # this process holds it, as a training would
        with pytest.raises(GanforgeError, match=f"pid {os.getpid()}"):
            train(tiny(train__steps=9), resume=run)
    assert train(tiny(train__steps=9), resume=run).step == 9  # and free again after


# ---- Ctrl-C ---------------------------------------------------------------------------------------------------------

def _interrupt(run: Path, tmp_path: Path, steps: int, sig: int = signal.SIGINT) -> tuple[int, str]:
    proc = _start(str(DIGITS), "--out", str(run), "--steps", str(steps), "checkpoint.every=100000", *SMALL,
                  log=tmp_path / "interrupted.log")
    try:
        _wait_for(lambda: _logged_step(run) >= 10, proc)
        proc.send_signal(sig)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return rc, (tmp_path / "interrupted.log").read_text()


def _stopped_at(text: str) -> int:
    line = next(line for line in text.splitlines() if "stopped after step" in line)
    return int(line.split("stopped after step ")[1].split()[0])


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_finishes_the_step_writes_a_checkpoint_and_names_the_step(tmp_path, sig, status):
    run = tmp_path / "run"
    rc, text = _interrupt(run, tmp_path, 100000, sig)
    assert rc == status, text
    assert "Traceback" not in text
    step = _stopped_at(text)
    assert step >= 10 and f"--resume {run}` continues from step {step}" in text
    latest = checkpoint.latest_checkpoint(run)
    assert latest.name == f"step_{step:08d}" and checkpoint.load_state(latest)["step"] == step


@pytest.mark.slow
def test_an_interrupted_run_resumes_bit_for_bit(tmp_path):
    run, straight = tmp_path / "run", tmp_path / "straight"
    rc, text = _interrupt(run, tmp_path, 300)
    assert rc == 130, text
    step = _stopped_at(text)
    assert 10 <= step < 300
    assert main(["train", "--resume", str(run), "--steps", "300"]) == 0
    assert main(["train", str(DIGITS), "--out", str(straight), "--steps", "300", "checkpoint.every=100000",
                 *SMALL]) == 0
    assert_same_state(run, straight)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == len(set(steps))


def test_a_second_signal_stops_at_once():
    previous = signal.getsignal(signal.SIGINT)
    with StopRequests() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert stop.signum == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is previous


# ---- a failed write is one line -------------------------------------------------------------------------------------

def _refuse_probe(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied")


def test_resume_of_a_read_only_run_folder_is_refused_before_the_data(tiny, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    train(tiny(), out=run)
    monkeypatch.setattr(fileio.tempfile, "mkstemp", _refuse_probe)  # root writes through chmod: fake the refusal
    monkeypatch.setattr(loop, "build_data", lambda cfg: pytest.fail("the data was loaded before the check"))
    assert main(["train", "--resume", str(run), "--steps", "9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ganforge: error: --resume {run}: cannot write there (Permission denied)"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_writable_refuses_a_read_only_folder(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(GanforgeError, match="cannot write there"):
            check_writable(tmp_path / "new" / "file.pt", "--out")
    finally:
        tmp_path.chmod(0o700)


def test_check_writable_accepts_a_folder_to_be_made_and_names_a_file_in_the_way(tmp_path):
    check_writable(tmp_path / "new" / "deeper" / "file.pt", "--out")
    assert list(tmp_path.iterdir()) == []  # the probe left nothing
    (tmp_path / "file").write_text("x")
    with pytest.raises(GanforgeError, match=rf"^--out {tmp_path / 'file' / 'x.pt'}: cannot write there"):
        check_writable(tmp_path / "file" / "x.pt", "--out")


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   SafetensorError("Error while serializing: IoError(No space left on device)")])
def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_last_good_one(tiny, tmp_path, monkeypatch,
                                                                                   capsys, error):
    real_save, calls = checkpoint.save_file, []

    def fill_up(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # the second checkpoint finds the disk full
            raise error
        return real_save(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_file", fill_up)
    run = tmp_path / "run"
    cfg = config_from_dict(tiny_config(checkpoint__every=3, train__steps=6))
    with pytest.raises(GanforgeError) as e:
        train(cfg, out=run)
    message = str(e.value)
    assert "\n" not in message and str(run / "checkpoints") in message and "step 6" in message
    assert "No space left on device" in message and "step_00000003 is intact" in message
    assert not list((run / "checkpoints").glob(".tmp_*"))
    assert checkpoint.latest_checkpoint(run).name == "step_00000003"
    assert checkpoint.problem(checkpoint.latest_checkpoint(run)) is None
    monkeypatch.setattr(checkpoint, "save_file", real_save)
    assert train(config_from_dict(tiny_config(train__steps=6)), resume=run).step == 6  # and it goes on from there


# ---- a run that fails before it starts ----------------------------------------------------------------------------

def test_a_new_run_that_fails_before_logging_leaves_no_folder(tiny, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise GanforgeError("broken on purpose")

    monkeypatch.setattr(loop, "fixed_inputs", broken)  # after config.yaml and run.json are written
    run = tmp_path / "new" / "run"
    with pytest.raises(GanforgeError, match="on purpose"):
        train(tiny(), out=run)
    assert not run.exists()
    existing = tmp_path / "empty"
    existing.mkdir()
    with pytest.raises(GanforgeError, match="on purpose"):
        train(tiny(), out=existing)
    assert existing.is_dir()  # a folder the user made stays


def test_a_run_that_failed_before_its_first_checkpoint_is_explained_by_resume(tiny, tmp_path, monkeypatch, capsys):
    def no_checkpoint(*args, **kwargs):
        raise GanforgeError("broken on purpose")

    monkeypatch.setattr(checkpoint, "save_checkpoint", no_checkpoint)
    run = tmp_path / "run"
    with pytest.raises(GanforgeError, match="on purpose"):
        train(tiny(checkpoint__every=100), out=run)
    assert RunDir(run).read_metrics()  # what it logged is kept to read
    monkeypatch.undo()
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoint yet" in err[0] and f"--out {run}" in err[0]
    assert train(RunDir(run).read_config(), out=run).step == 6  # the command it names starts it again


# ---- a killed pack --------------------------------------------------------------------------------------------------

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_pack_cleans_up_what_a_killed_pack_left(tmp_path):
    out = tmp_path / "shards"
    stale = tmp_path / f".shards.partial-{_dead_pid()}"
    stale.mkdir()
    (stale / "shard-000000.tar").write_bytes(b"half")
    running = tmp_path / f".shards.partial-{os.getppid()}"  # a pack that still runs keeps its folder
    running.mkdir()
    writing.pack_array(np.zeros((4, 1, 8, 8), np.uint8), out, shard_size=2)
    assert (out / "manifest.json").is_file()
    assert not stale.exists() and running.is_dir()


# ---- errors on a line of their own ----------------------------------------------------------------------------------

def test_an_error_closes_the_open_bar_first():
    buf = io.StringIO()
    bar = tqdm(total=10, file=buf, mininterval=0)
    bar.update(3)
    close_progress_bars()
    assert buf.getvalue().endswith("\n")


def test_an_error_during_training_starts_a_line_of_its_own(tmp_path, monkeypatch, capsys):
    def fails_under_a_bar(cfg, **kwargs):
        bar = tqdm(total=10, file=sys.stderr, mininterval=0)
        bar.update(3)
        raise GanforgeError("broken on purpose")

    monkeypatch.setattr("ganforge.api.run_training", fails_under_a_bar)
    assert main(["train", str(DIGITS), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "ganforge: error: broken on purpose" in err.splitlines()


def test_messages_keep_python_internals_out():
    message = "x.png: unreadable (UnidentifiedImageError: cannot identify image file <_io.BytesIO object at 0x7f3a2c>)"
    assert plain(message) == "x.png: unreadable (UnidentifiedImageError: cannot identify image file)"
