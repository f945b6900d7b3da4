"""The `ganforge` command: parse → typed config → build → run. User errors print one clear message, no traceback.

A thin layer over `ganforge.api`: `parser` builds the argument parser from the command modules (train, sample,
encode, info, evaluate, evaluator, data, translate, doctor), `types` checks argument values and `output` the paths
written to. Everything else each command does is a call into the API."""
from __future__ import annotations

import sys

from tqdm import tqdm

from ..errors import GanforgeError, plain
from .parser import build_parser, parse_args

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run `ganforge ARGV` (default: sys.argv[1:]) and return its exit status: 0 done, 1 a check that ran and found
    a fault, 2 a user error (one line on stderr), 130 interrupted. Internal errors keep their traceback."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        status = args.run(args)  # a check that ran and found a fault answers 1; the rest answer nothing
    except GanforgeError as e:
        close_progress_bars()
        print(f"ganforge: error: {plain(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        close_progress_bars()
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    return status or 0


def close_progress_bars() -> None:
    """Close the progress bars an error left open, so that the message starts a line of its own, not the bar's
    line (a closed bar ends its line, or clears it)."""
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
