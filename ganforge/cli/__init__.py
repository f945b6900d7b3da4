"""The `ganforge` command: parse → typed config → build → run. User errors print one clear message, no traceback.

A thin layer over `ganforge.api`: `parser` builds the argument parser from the command modules (train, sample,
encode, info, evaluate, evaluator, data, translate, doctor), `types` checks argument values and `output` the paths
written to. Everything else each command does is a call into the API."""
from __future__ import annotations

import os
import sys

from tqdm import tqdm

from ..errors import GanforgeError, OwnRankError, plain
from .parser import build_parser, parse_args

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run `ganforge ARGV` (default: sys.argv[1:]) and return its exit status: 0 done, 1 a check that ran and found
    a fault, 2 a user error (one line on stderr), 130 interrupted. Internal errors keep their traceback. On a rank
    other than 0 of several processes, an error every rank meets prints one short line that points to rank 0's."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        status = args.run(args)  # a check that ran and found a fault answers 1; the rest answer nothing
    except GanforgeError as e:
        close_progress_bars()
        rank = follower_rank()
        if rank and not isinstance(e, OwnRankError):  # every rank met it; rank 0 says it, once
            print(f"ganforge: rank {rank}: stopped: see rank 0's message", file=sys.stderr)
        else:
            print(f"ganforge: error: {plain(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        close_progress_bars()
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    return status or 0


def follower_rank() -> int:
    """This process's rank when torchrun started it as one of several and it is not rank 0; 0 otherwise."""
    try:
        several = int(os.environ.get("WORLD_SIZE") or 1) > 1
        return int(os.environ.get("RANK") or 0) if several else 0
    except ValueError:  # torchrun sets both; a malformed one is `distributed.join`'s error to report
        return 0


def close_progress_bars() -> None:
    """Close the progress bars an error left open, so that the message starts a line of its own, not the bar's
    line (a closed bar ends its line, or clears it)."""
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
