"""Argument types for numeric options: the range is checked while the command line is parsed.

A value out of range is reported by argparse with the option's own name and the value given,
before any work (backend probes, file reads) starts::

    vrkit track record: error: argument --frames: expected an integer >= 1, got '-1'

Each factory returns a callable for ``add_argument(type=...)``; its ``__name__`` is what
argparse shows for a value that is not a number at all.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An integer type accepting ``lo <= value <= hi`` (either bound may be None)."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected an integer {_bounds(lo, hi)}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Callable[[str], float]:
    """A float type accepting values between ``lo`` and ``hi`` (open bounds when asked).

    Args:
        lo: Smallest accepted value, or None for no lower bound.
        hi: Largest accepted value, or None for no upper bound.
        lo_open: Refuse ``lo`` itself (``> lo``).
        hi_open: Refuse ``hi`` itself (``< hi``).

    Returns:
        The argparse type; it also refuses NaN and infinities.
    """

    def parse(text: str) -> float:
        value = float(_number(text, float))
        low_bad = lo is not None and (value <= lo if lo_open else value < lo)
        high_bad = hi is not None and (value >= hi if hi_open else value > hi)
        if low_bad or high_bad:
            raise argparse.ArgumentTypeError(
                f"expected a number {_bounds(lo, hi, lo_open, hi_open)}, got {text!r}"
            )
        return value

    parse.__name__ = "number"
    return parse


def _fmt(v: float) -> str:
    return f"{v:g}"


def _bounds(
    lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False
) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {_fmt(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {_fmt(hi)}")
    return " and ".join(parts)


#: Integers >= 1 (frame counts, camera counts, sizes).
positive_int = int_range(1)
#: Integers >= 0 (0 meaning "off" or "all" where the option says so).
nonneg_int = int_range(0)
#: Numbers > 0 (rates, sizes, durations).
positive_float = float_range(0.0, lo_open=True)
#: Numbers >= 0 (noise levels, delays, amplitudes).
nonneg_float = float_range(0.0)
