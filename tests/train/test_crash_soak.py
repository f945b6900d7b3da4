"""kill -9 soak: a digits run SIGKILLed at random moments (one of them mid-checkpoint-write) and resumed each time
ends with the same weights, bit for bit, as a run never interrupted, and leaves nothing half-written behind."""
import collections
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganforge.api import read_run
from ganforge.families import get_family
from ganforge.train.checkpoint import load_state, load_weights

from conftest import ROOT

DIGITS = ROOT / "configs" / "dcgan-digits.yaml"
STEPS = 120  # 2-4 s of training at base 16: each session dies a few dozen steps after it starts
SETTINGS = ["train.threads=1", "checkpoint.every=10", "checkpoint.keep=3", "log.every=5", "log.progress=false",
            "log.tensorboard=false", "eval.final=false", "nets.G.args.base=16", "nets.D.args.base=16",
            "train.batch_size=32"]
PLAN = ["random", "write", "random"]  # how each session before the last one dies
KILL_AFTER = (6, 25)  # a 'random' session dies once it has logged a step this many steps past its start
WRITE_RETRIES = 2  # a mid-write kill that arrives after the rename is retried, so one surely lands mid-write
# what `--resume` says when the run was killed before it had a checkpoint (or even a config) to resume from
NOTHING_TO_RESUME = ("no checkpoint", "not a ganforge run directory", "no such run directory", "not a run directory")


def _start(run: Path, log: Path, fresh: bool) -> subprocess.Popen:
    head = [str(DIGITS), "--out", str(run)] if fresh else ["--resume", str(run)]
    with open(log, "w") as f:  # a file, not a pipe: a killed child must never block on a full pipe
        return subprocess.Popen([sys.executable, "-m", "ganforge.cli", "train", *head, "--steps", str(STEPS),
                                 *SETTINGS], stdout=f, stderr=subprocess.STDOUT)


def _tmp_folders(run: Path) -> set[tuple[str, int]]:
    """(name, inode) of half-written checkpoint folders: the inode tells a new one from a stale one of that name."""
    try:
        return {(p.name, p.stat().st_ino) for p in (run / "checkpoints").glob(".tmp_step_*")}
    except OSError:  # renamed or removed between listing and stat
        return set()


def _until(condition, proc: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Poll `condition` every millisecond while `proc` lives; False when it ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if condition():
            return True
        assert time.monotonic() < deadline, "the training process made no progress"
        time.sleep(0.001)
    return False


def _resume_step(run: Path) -> int:
    """The step a session started on `run` continues from (0 when there is no checkpoint yet)."""
    try:
        return int(load_state(_latest(run))["step"])
    except (OSError, KeyError, ValueError):
        return 0


def _reached(run: Path, since: float, step: int):
    """True once this session has logged `step` or a later one (metrics.jsonl touched after `since`)."""
    def check() -> bool:
        path = run / "metrics.jsonl"
        try:
            if path.stat().st_mtime <= since:
                return False
            last = path.read_text().rstrip("\n").rsplit("\n", 1)[-1]
            return json.loads(last)["step"] >= step
        except (OSError, ValueError, KeyError, TypeError):  # not there yet, or a line half-written
            return False
    return check


def _session(mode: str, run: Path, log: Path, rng: random.Random, notes: list) -> str:
    """One session, killed as `mode` says ('random', 'write'; 'last' is not killed). Returns 'killed', 'finished',
    or 'refused' (nothing to resume)."""
    fresh = not run.exists()
    stale = _tmp_folders(run)
    # a random step a little past where this session starts: counted in steps, not seconds, so a fast machine
    # cannot finish the run before the kill lands, and the sessions before the last never use up the steps
    target = (0 if fresh else _resume_step(run)) + rng.randint(*KILL_AFTER)
    since = time.time()
    proc = _start(run, log, fresh)
    try:
        if mode == "last":  # left to finish
            hit = _until(lambda: False, proc, timeout=240)
        elif mode == "write":  # the moment a new .tmp_step_* folder appears: mid-write
            hit = _until(lambda: bool(_tmp_folders(run) - stale), proc)
        else:  # once the session has logged a seeded random step
            hit = _until(_reached(run, since, target), proc)
    finally:
        if proc.poll() is None:  # the moment has come (or the test failed): no handler, no finally, no flush
            proc.kill()
        rc = proc.wait(timeout=120)
    seconds = round(time.time() - since, 1)
    if hit:
        notes.append({"mode": mode, "fresh": fresh, "mid_write": bool(_tmp_folders(run)), "rc": rc, "s": seconds})
        return "killed"
    text = log.read_text()
    if rc == 2 and not fresh and any(m in text for m in NOTHING_TO_RESUME):
        notes.append({"mode": mode, "refused": text.strip().splitlines()[-1], "s": seconds})
        return "refused"
    assert rc == 0, text
    notes.append({"mode": mode, "finished": True, "s": seconds})
    return "finished"


def _latest(run: Path) -> Path:
    return run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(_latest(run) / "weights.safetensors"))


def _check_every_checkpoint_loads(run: Path) -> None:
    cfg, info = read_run(run)
    family = get_family(cfg.family)(cfg, tuple(info["shape"]), info["num_classes"])
    folders = sorted((run / "checkpoints").glob("step_*"))
    assert folders, "no checkpoint left"
    for ckpt in folders:
        load_weights(ckpt, dict(family.nets.items()))
        assert int(load_state(ckpt)["step"]) == int(ckpt.name.removeprefix("step_")), ckpt


def _logged(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def _soak(run: Path, tmp_path: Path, rng: random.Random) -> list[dict]:
    """Sessions killed as PLAN says, each resumed (or started over when there is nothing to resume), then one left
    to finish. Returns how each ended."""
    notes: list[dict] = []
    plan, retries = list(PLAN), WRITE_RETRIES
    while plan:
        mode = plan.pop(0)
        outcome = _session(mode, run, tmp_path / f"session{len(notes)}.log", rng, notes)
        if outcome == "refused":  # killed before its first checkpoint: nothing to resume, so start over
            shutil.rmtree(run)
            plan.insert(0, mode)
        elif outcome == "finished":
            break  # it finished before the kill could land: nothing left to interrupt
        elif mode == "write" and not notes[-1]["mid_write"] and retries:
            plan.insert(0, mode)
            retries -= 1
    while _session("last", run, tmp_path / "last.log", rng, notes) == "refused":
        shutil.rmtree(run)
    return notes


@pytest.mark.slow
def test_kill_9_and_resume_gives_the_uninterrupted_weights(tmp_path):
    rng = random.Random(20240607)
    run, straight = tmp_path / "run", tmp_path / "straight"
    baseline = _start(straight, tmp_path / "straight.log", fresh=True)  # in parallel: one thread each
    try:
        notes = _soak(run, tmp_path, rng)
        assert baseline.wait(timeout=300) == 0, (tmp_path / "straight.log").read_text()
    finally:
        if baseline.poll() is None:
            baseline.kill()
    (tmp_path / "sessions.json").write_text(json.dumps(notes, indent=1))  # how each session ended, for a post-mortem

    kills = [n for n in notes if "rc" in n]
    assert len(kills) >= 3, notes
    assert any(n["mid_write"] for n in kills), f"no kill landed during a checkpoint write: {notes}"
    _check_every_checkpoint_loads(run)
    assert not list((run / "checkpoints").glob(".tmp_*")), "a half-written checkpoint was left behind"
    assert not (run / "checkpoints" / "latest.tmp").exists()
    ours, theirs = _final_weights(run), _final_weights(straight)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours), "resumed weights differ from the uninterrupted run"
    assert int(load_state(_latest(run))["step"]) == STEPS

    steps = [r["step"] for r in _logged(run)]
    repeated = [s for s, n in collections.Counter(steps).items() if n > 1]
    assert not repeated, f"metrics.jsonl logs steps {repeated[:5]} more than once (resume must cut the log back)"
    assert steps == [r["step"] for r in _logged(straight)]

