"""Checks for network arguments that come straight from a config's `nets.<name>.args`.

They raise GanforgeError naming the argument; build_net adds the network's name in front.
"""
from __future__ import annotations

import difflib
from typing import Any, Sequence

from ..errors import GanforgeError


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if isinstance(value, str) and value in choices:
        return
    close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise GanforgeError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}{hint}")


def check_int(name: str, value: Any, minimum: int) -> None:
    # bool is an int subclass, but `minibatch_features: true` is a mistake, not 1
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise GanforgeError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise GanforgeError(f"{name} must be true or false, got {value!r}")
