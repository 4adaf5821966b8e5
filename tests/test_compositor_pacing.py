"""The compositor pacer under a manual clock, with render times from a recorded run.

``tests/data/render_times_room_llvmpipe.csv`` holds the per-frame CPU render times of
``examples/room.py`` recorded by ``vrkit latency pipeline examples/room.py --backend headless
--frames 80 --fps 90 --warp off --out DIR`` (``render_end_cpu_ns - render_start_ns`` of
``DIR/timing.json``) on Mesa llvmpipe. The loop below is the frame loop's shape: plan, sleep to
the wake-up time, sample the pose, render (the manual clock advances by the recorded time),
finish. Nothing here reads a real clock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vrkit.backends.pacing import CompositorPacer
from vrkit.core.clock import ManualClock

DATA = Path(__file__).parent / "data" / "render_times_room_llvmpipe.csv"


def recorded_render_times() -> np.ndarray:
    return np.loadtxt(DATA, dtype=np.int64, comments="#", skiprows=3)


def run(pacer: CompositorPacer, clock: ManualClock, render_ns: np.ndarray):
    rows = []
    for r in render_ns:
        plan = pacer.plan(clock.now_ns())
        assert plan.wake_ns >= clock.now_ns()
        clock.sleep_ns(plan.wake_ns - clock.now_ns())
        start = clock.now_ns()  # pose sample and render start
        estimate = pacer.estimate_ns
        clock.advance(int(r))
        missed = pacer.finished(plan, start, clock.now_ns())
        rows.append((plan, start, int(r), estimate, missed))
    return rows


def test_pacer_starts_late_and_misses_no_deadline_the_render_time_allows():
    times = recorded_render_times()
    period = max(int(np.max(times) * 1.5), 11_111_111)  # a display every render time can make
    clock = ManualClock(5_000_000)
    pacer = CompositorPacer(period, anchor_ns=0, margin_ns=500_000, compose_ns=1_000_000)
    rows = run(pacer, clock, times)
    allowed = 0
    for plan, start, r, estimate, missed in rows:
        # late enough: it starts no earlier than estimate + margin before the deadline
        assert start >= plan.deadline_ns - estimate - pacer.margin_ns
        if r <= estimate + pacer.margin_ns and start == plan.deadline_ns - estimate - 500_000:
            allowed += 1
            assert not missed, (plan, start, r, estimate)
    assert allowed > 0.8 * len(rows)
    ages = [plan.display_ns - start for plan, start, *_ in rows]
    # Pose age at scan-out: the render estimate + margin + compositor time, not a period more.
    print(f"pose age median {np.median(ages) / 1e6:.2f} ms, missed {pacer.missed}, "
          f"skipped {pacer.skipped}, period {period / 1e6:.2f} ms")  # fmt: skip
    assert np.median(ages) <= np.max(times) + 1_500_000
    # Display slots are consecutive: no frame skipped when every render fits a period.
    displays = np.array([plan.display_ns for plan, *_ in rows])
    assert np.all(np.diff(displays[1:]) == period)


def test_pacer_skips_a_slot_it_cannot_make_and_counts_a_missed_deadline():
    clock = ManualClock(0)
    pacer = CompositorPacer(10_000_000, anchor_ns=0, margin_ns=0, compose_ns=1_000_000,
                            initial_estimate_ns=4_000_000)  # fmt: skip
    p1 = pacer.plan(clock.now_ns())
    assert (p1.display_ns, p1.deadline_ns, p1.wake_ns, p1.skipped) == (
        10_000_000,
        9_000_000,
        5_000_000,
        0,
    )
    clock.sleep_ns(p1.wake_ns)
    clock.advance(7_000_000)  # took 7 ms, estimate 4: misses 9 ms
    assert pacer.finished(p1, 5_000_000, clock.now_ns()) is True
    assert pacer.missed == 1 and pacer.estimate_ns == 7_000_000
    # now 12 ms: slot 20 ms has deadline 19, 12 + 7 = 19 fits; wake at once
    p2 = pacer.plan(clock.now_ns())
    assert (p2.display_ns, p2.wake_ns, p2.skipped) == (20_000_000, 12_000_000, 0)
    clock.advance(7_000_000)
    pacer.finished(p2, 12_000_000, clock.now_ns())
    clock.advance(5_000_000)  # 24 ms: slot 30 has deadline 29 < 24 + 7: skip to 40
    p3 = pacer.plan(clock.now_ns())
    assert (p3.display_ns, p3.wake_ns, p3.skipped) == (40_000_000, 32_000_000, 1)
    assert pacer.skipped == 1


def test_pacer_rejects_bad_settings():
    with pytest.raises(ValueError, match="period_ns must be positive, got 0"):
        CompositorPacer(0, 0)
    with pytest.raises(ValueError, match="0 <= compose_ns < period_ns"):
        CompositorPacer(10, 0, compose_ns=10)
