"""argparse types: a bad value is refused at parse time, with the bound it missed in the message."""
from __future__ import annotations

import argparse
import math


def count(minimum: int):
    """argparse type: a whole number ≥ minimum, refused at parse time with the bound in the message."""
    def count(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n
    return count


def seed(text: str) -> int:
    """argparse type: a random seed, a whole number in [0, 2**63)."""
    n = count(0)(text)
    if n >= 2**63:  # torch seeds are 64-bit
        raise argparse.ArgumentTypeError(f"must be below 2**63, got {n}")
    return n


def real(minimum: float, inclusive: bool = True):
    """argparse type: a finite float ≥ minimum (> minimum when not inclusive)."""
    def real(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(x) or x < minimum or (x == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"must be a finite number {'≥' if inclusive else '>'} {minimum:g}, got {text}")
        return x
    return real


def index_group(text: str) -> list[int]:
    """argparse type: comma-separated sample indices ≥ 0, e.g. 3,17,22 (`arithmetic --plus/--minus`)."""
    try:
        group = [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sample indices like 3,17,22, got {text!r}") from None
    if not group or min(group) < 0:
        raise argparse.ArgumentTypeError(f"expected sample indices ≥ 0 like 3,17,22, got {text!r}")
    return group
