"""The run report: RUN/report.html, one self-contained page per run (curves, sample grids with a slider, the
doctor's diagnoses, evaluation, provenance, config), and a page comparing several runs on the same axes.

It reads a run folder only through `ganforge.rundir.RunDir` (contents.py), draws with matplotlib at build time
(charts.py) and writes the HTML (page.py) atomically. Training writes the page when a run ends
(`report_after_training`); `ganforge report` rebuilds it."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import GanforgeError, one_line
from ..fileio import atomic_write
from ..rundir import REPORT, RunDir
from .contents import RunContents
from .page import comparison_page, run_page

__all__ = ["COMPARISON", "REPORT", "report_after_training", "write_comparison", "write_run_report"]
COMPARISON = "comparison.html"  # a comparison's default name, beside the first run's folder


def write_run_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of the run in `run_dir` to `out` (default RUN/report.html); returns where."""
    contents = RunContents.read(run_dir)
    path = Path(out) if out is not None else RunDir(contents.path).report
    atomic_write(path, run_page(contents))
    return path


def write_comparison(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """Write one page comparing the runs (a colour per run on shared axes, their final numbers in one table) to
    `out` (default: comparison.html beside the first run's folder); returns where."""
    if len(run_dirs) < 2:
        raise GanforgeError(f"a comparison needs two runs or more, got {len(run_dirs)}")
    runs = [RunContents.read(d) for d in run_dirs]
    path = Path(out) if out is not None else runs[0].path.resolve().parent / COMPARISON
    atomic_write(path, comparison_page(runs))
    return path


def report_after_training(run_dir: str | Path) -> Path | None:
    """Write RUN/report.html at the end of training, however it ended. The run's own result matters more than its
    page: any failure here prints one line and returns None, so a good run never fails and an error that ended
    the run is never hidden by this one."""
    try:
        return write_run_report(run_dir)
    except Exception as e:  # noqa: BLE001 (the page is a by-product; see the docstring)
        print(f"report: could not write {RunDir(run_dir).report} ({one_line(e)})", file=sys.stderr)
        return None
