"""Clocks. Only the edges of vrkit read a clock; logic takes ``now_ns`` as a parameter.

The backends and the frame loop get their clock from ``RunConfig.clock``: the host's
:class:`MonotonicClock` in a real run, a :class:`ManualClock` where a run must be reproducible
(tests, offline rendering). :class:`MonotonicClock` is the one place that reads the host clock.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time in integer nanoseconds."""

    def now_ns(self) -> int:
        """Return the current time in nanoseconds."""
        ...

    def sleep_ns(self, delta_ns: int) -> None:
        """Let ``delta_ns`` nanoseconds pass (pacing waits through this)."""
        ...


class MonotonicClock:
    """The host's monotonic clock (``time.monotonic_ns``, CLOCK_MONOTONIC on Linux)."""

    def now_ns(self) -> int:
        """Return CLOCK_MONOTONIC in nanoseconds."""
        return time.monotonic_ns()

    def sleep_ns(self, delta_ns: int) -> None:
        """Sleep for ``delta_ns`` nanoseconds (nothing when it is not positive)."""
        if delta_ns > 0:
            time.sleep(delta_ns * 1e-9)


class ManualClock:
    """A clock that only moves when told to; for tests and offline rendering.

    Args:
        start_ns: Initial time in nanoseconds.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = int(start_ns)

    def now_ns(self) -> int:
        """Return the current manual time in nanoseconds."""
        return self._now

    def advance(self, delta_ns: int) -> int:
        """Move time forward.

        Args:
            delta_ns: Non-negative step in nanoseconds.

        Returns:
            The new time in nanoseconds.
        """
        if delta_ns < 0:
            raise ValueError(f"a clock cannot go backwards, got delta_ns={delta_ns}")
        self._now += int(delta_ns)
        return self._now

    def sleep_ns(self, delta_ns: int) -> None:
        """Advance by ``delta_ns`` instead of sleeping (nothing when it is not positive)."""
        if delta_ns > 0:
            self.advance(delta_ns)
