"""The test suite's own rules (issue 26): no test reaches experiments/ or bench/ by editing sys.path (they run the
script, or load its file with conftest.load_experiment), so a test's imports mean what they say wherever it runs."""
import re
from pathlib import Path

from conftest import ROOT

EDITS_SYS_PATH = re.compile(r"sys\.path\s*(\.\s*(insert|append|extend)\b|\+?=|\[)")


def test_no_test_edits_sys_path():
    tests = [p for p in sorted((ROOT / "tests").rglob("*.py")) if p.resolve() != Path(__file__).resolve()]
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in tests
                 for n, line in enumerate(path.read_text().splitlines(), 1) if EDITS_SYS_PATH.search(line)]
    assert not offenders, offenders


def test_the_check_sees_each_way_of_editing_sys_path():
    for line in ('sys.path.insert(0, "experiments")', "sys.path.append(p)", "sys.path += [p]", "sys.path[:0] = [p]",
                 "sys.path = [p, *sys.path]"):
        assert EDITS_SYS_PATH.search(line), line
    assert not EDITS_SYS_PATH.search("pytest puts this folder on sys.path, so tests import these")
