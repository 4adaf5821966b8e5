"""Timing shared by the benchmarks: round-robin medians, so load from other processes hits every
variant alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def round_robin_ms(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each callable in milliseconds, one call of each per round."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            s = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - s)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}
