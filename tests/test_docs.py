"""The README, the generated results pages and the docs site: short, in step with the results files, buildable."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "docs" / "gen_results.py"


def _generator(monkeypatch):
    spec = importlib.util.spec_from_file_location("gen_results", GEN)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gen_results", module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_results_pages_and_scoreboard_match_the_results_files():
    done = subprocess.run([sys.executable, str(GEN), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_fails_on_a_number_edited_by_hand_and_a_run_restores_it(tmp_path, monkeypatch):
    gen = _generator(monkeypatch)
    pages = tmp_path / "results"
    shutil.copytree(ROOT / "docs" / "results", pages)
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(gen, "PAGES", pages)
    monkeypatch.setattr(gen, "README", readme)
    monkeypatch.setattr(gen, "ROOT", ROOT)
    assert gen.main(["--check"]) == 0

    board = readme.read_text(encoding="utf-8")
    fid = re.search(r"FID (\d+\.\d\d)", board.split(gen.START, 1)[1]).group(1)
    readme.write_text(board.replace(f"FID {fid}", "FID 1.00", 1), encoding="utf-8")
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert readme.read_text(encoding="utf-8") == board


def test_check_fails_when_the_scoreboard_markers_are_gone(tmp_path, monkeypatch):
    gen = _generator(monkeypatch)
    readme = tmp_path / "README.md"
    readme.write_text("# ganforge\n", encoding="utf-8")
    monkeypatch.setattr(gen, "README", readme)
    with pytest.raises(SystemExit, match="markers"):
        gen.main(["--check"])


def test_readme_is_a_five_minute_read():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text) <= 12_000, f"README.md has {len(text):,} characters; the limit is 12,000"


def test_readme_links_point_at_files_that_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s#]+)[^)]*\)", text)
    assert targets
    missing = [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def _docs_tools_missing() -> str | None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f'{module} is not installed (pip install -e ".[docs]")'
    return None


@pytest.mark.slow
@pytest.mark.skipif(_docs_tools_missing() is not None, reason=str(_docs_tools_missing()))
def test_docs_site_builds_strictly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "ganforge.html").exists()


def test_every_results_file_is_shown_or_linked_on_a_results_page(monkeypatch):
    gen = _generator(monkeypatch)
    pages = "".join(text for path, text in gen.outputs().items() if path.parent == gen.PAGES)
    missing = [f for f in gen.results_files() if f"](../../{f})" not in pages]
    assert not missing, f"results files on no results page (add them to docs/gen_results.py): {missing}"
