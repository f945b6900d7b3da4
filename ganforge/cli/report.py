"""`ganforge report RUN [RUN…]`: rebuild a run's page, or compare several runs on one page."""
from __future__ import annotations

from .. import api
from .output import writing


def register(sub) -> None:
    """Add `report` to the subcommands."""
    r = sub.add_parser("report", help="rebuild RUN/report.html; with several runs, one page comparing them")
    r.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s)")
    r.add_argument("--out", help="the HTML file to write (default: RUN/report.html for one run, comparison.html "
                                 "beside the first run's folder for several)")
    r.set_defaults(run=report)


def report(args) -> None:
    """Write the page and say where."""
    if args.out is None:
        path = api.report(args.runs)
    else:
        with writing(args.out) as out:
            path = api.report(args.runs, out)
    what = "report" if len(args.runs) == 1 else f"comparison of {len(args.runs)} runs"
    print(f"wrote the {what} to {path}")
