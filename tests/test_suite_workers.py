"""The suite runs on pytest-xdist workers by default (conftest.py): one per core up to a cap, none on one core, and
a developer can still run it in one process (-n 0, -p no:xdist) or pick the number of workers."""
import os
import re
import subprocess
import sys

import pytest

from conftest import MAX_WORKERS, ROOT, usable_cores, xdist_workers


def test_one_worker_per_core_up_to_the_cap_and_none_on_one_core():
    assert xdist_workers(1) == 0  # a lone worker would only add its start-up to a one-core run
    assert xdist_workers(2) == 2
    assert xdist_workers(MAX_WORKERS + 60) == MAX_WORKERS
    assert xdist_workers(64, wanted="3") == 3 and xdist_workers(2, wanted="0") == 0  # PYTEST_XDIST_AUTO_NUM_WORKERS


def _workers_used(*args: str, env_extra: dict[str, str] | None = None) -> set[str]:
    """The xdist workers ("gw0", …) that ran one fast test of this suite under `python3 -m pytest -v ARGS`."""
    # a clean environment: this test may itself run inside a worker, whose variables must not leak into the child
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    env |= {"PYTHONPATH": str(ROOT), **(env_extra or {})}
    test = "tests/test_suite_layout.py::test_the_check_sees_each_way_of_editing_sys_path"
    done = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *args, test],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
    return set(re.findall(r"\[(gw\d+)\]", done.stdout))


@pytest.mark.slow  # four pytest runs in fresh interpreters (each imports torch): ~20 s
def test_the_default_run_uses_workers_and_each_way_of_running_serially_works():
    assert bool(_workers_used()) == (xdist_workers(usable_cores()) > 0)
    assert _workers_used(env_extra={"PYTEST_XDIST_AUTO_NUM_WORKERS": "2"})  # the test went to a worker
    assert _workers_used("-n", "0") == set()
    assert _workers_used("-p", "no:xdist") == set()
