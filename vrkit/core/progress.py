"""Progress bars for long steps: one place that decides where they go and when they show.

A bar goes to stderr, only when stderr is a terminal (a log file or a pipe gets none), clears
itself when done, and has a total wherever the step knows one. Library functions take a
``progress: bool`` (or a bar) and create theirs here; the CLI owns the choice.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: float | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
) -> Any:
    """A tqdm bar on stderr, shown only on a terminal.

    Args:
        iterable: What to iterate over (``len()`` gives the total when it has one), or None
            for a bar updated with ``update(n)``.
        total: The number of units, when the iterable has no length.
        desc: Label in front of the bar.
        unit: Name of one unit ("frame", "img", "model").
        enabled: False turns the bar off (a caller's ``progress=False``).

    Returns:
        The tqdm object: iterate it, or call ``update(n)`` and ``close()`` (a context
        manager too). Disabled bars cost nothing.
    """
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
        disable=not (enabled and stderr_is_terminal()),
    )
