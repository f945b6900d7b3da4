"""User-facing errors: raised for bad input, printed by the CLI without a traceback."""
from __future__ import annotations

import re


class GanforgeError(Exception):
    """A problem the user can fix (bad file, bad config value, missing data). The message says what and where."""


class OwnRankError(GanforgeError):
    """An error one process of a run of several meets on its own (a lost peer, a failed rendezvous): every rank
    prints its own. Any other error is met alike by every rank (a config value, a file, rank 0's decision), so
    rank 0 alone prints it and the others one short line (`ganforge.cli.main`)."""


OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")  # "<_io.BytesIO object at 0x7f…>" (PIL's errors)


def plain(message: str) -> str:
    """A message without Python's internals: a library's error quoted in it may name an object by its address."""
    return OBJECT_REPR.sub("", message)


def one_line(e: BaseException) -> str:
    """A library exception as one line of plain text, for a GanforgeError message."""
    return plain(" ".join(str(e).split())) or type(e).__name__
