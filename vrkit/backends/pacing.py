"""Display-time prediction and pacing for a window that presents with swap-buffers.

Pure logic on integer nanoseconds: the window backends pass in when a frame started and when
its swap was called and returned, and get back the predicted display time and how long to wait.
Nothing here reads a clock (Monado's ``u_pacing`` has the same shape), so it is tested with
made-up times.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


class FramePacer:
    """Display-time prediction and pacing on the host clock for a swap-buffers window.

    With vsync the pacer keeps a grid of vertical blanks ``anchor + k * period`` anchored at
    the latest present. A swap that returns at least ``pace_fraction`` of a period after the
    previous present is taken as presented at a real blank (the display paces us) and
    re-anchors the grid; a swap that returns sooner (a display that does not wait, e.g. Xvfb,
    or a compositor that queues frames) is paced by sleeping to the next blank of the grid,
    so the loop still runs at the refresh rate. Without vsync nothing sleeps and a frame
    reaches the display as soon as it is swapped.

    Args:
        period_ns: Refresh period in ns.
        vsync: Whether presentation waits for vertical blank.
        smoothing: Weight of the newest frame in the running render-time estimate.
        pace_fraction: Present intervals shorter than this fraction of a period mean the
            display did not wait for a blank.
    """

    def __init__(
        self,
        period_ns: int,
        vsync: bool,
        smoothing: float = 0.1,
        pace_fraction: float = 0.75,
    ) -> None:
        if period_ns <= 0:
            raise ValueError(f"period_ns must be positive, got {period_ns}")
        self.period_ns = int(period_ns)
        self.vsync = vsync
        self.smoothing = smoothing
        self.pace_fraction = pace_fraction
        self.render_ns = self.period_ns // 2
        self.anchor_ns: int | None = None
        self.last_present_ns: int | None = None
        self.intervals_ns: deque[int] = deque(maxlen=120)

    def next_vblank_after(self, t_ns: int) -> int:
        """The first blank of the grid strictly after ``t_ns``."""
        if self.anchor_ns is None:
            return t_ns + self.period_ns
        k = (t_ns - self.anchor_ns) // self.period_ns + 1
        return self.anchor_ns + k * self.period_ns

    def predicted_display_ns(self, frame_start_ns: int) -> int:
        """When a frame started at ``frame_start_ns`` should reach the display."""
        ready = frame_start_ns + self.render_ns
        return self.next_vblank_after(ready) if self.vsync else ready

    def presented(self, frame_start_ns: int, swap_start_ns: int, swap_end_ns: int) -> int:
        """Account for a swap; returns how long to sleep (ns) to keep pace (0 without vsync).

        Args:
            frame_start_ns: When the frame began (its ``begin_frame``).
            swap_start_ns: When ``swap_buffers`` was called.
            swap_end_ns: When it returned.
        """
        self.render_ns = round(
            (1 - self.smoothing) * self.render_ns
            + self.smoothing * (swap_start_ns - frame_start_ns)
        )
        sleep_ns = 0
        present_ns = swap_end_ns
        if self.vsync:
            last = self.last_present_ns
            if last is not None and swap_end_ns - last < self.pace_fraction * self.period_ns:
                # The first blank at or after the swap, and never the last frame's blank: a
                # display shows one frame per blank.
                present_ns = self.next_vblank_after(max(swap_end_ns - 1, last))
                sleep_ns = present_ns - swap_end_ns
            self.anchor_ns = present_ns
        if self.last_present_ns is not None:
            self.intervals_ns.append(present_ns - self.last_present_ns)
        self.last_present_ns = present_ns
        return sleep_ns

    def frame_time_ms(self) -> float:
        """The latest present-to-present interval in milliseconds (0 before two frames)."""
        return self.intervals_ns[-1] * 1e-6 if self.intervals_ns else 0.0

    def fps(self, frames: int = 30) -> float:
        """Mean presented frame rate over the last ``frames`` intervals (0 before two frames)."""
        recent = list(self.intervals_ns)[-frames:]
        return 1e9 / float(np.mean(recent)) if recent else 0.0


@dataclass(frozen=True)
class FramePlan:
    """When to start a frame and which display slot it is for (host clock ns).

    Attributes:
        display_ns: Start of scan-out of the frame's slot (the predicted display time).
        deadline_ns: The frame's rendering must be done by then: ``display_ns`` less the
            compositor's time (late latch, warp, hand-off).
        wake_ns: When to sample the pose and start rendering: the deadline less the render
            estimate and the margin, or now when that has passed but the deadline still holds.
        skipped: Display slots given up for this frame (it could not make the earlier ones).
    """

    display_ns: int
    deadline_ns: int
    wake_ns: int
    skipped: int = 0


class CompositorPacer:
    """Late-start pacing for a compositor on a fixed display grid, as Monado's ``u_pacing``.

    Pure logic on integer nanoseconds: :meth:`plan` takes ``now_ns`` and returns when to wake
    and which slot ``anchor_ns + k * period_ns`` the frame is for; :meth:`finished` takes the
    measured render start and end. The render estimate is the largest render time among the
    last ``history`` frames (a frame that once took long is expected to again), so the pacer
    starts as late as that allows, leaving ``margin_ns`` of slack. A frame that cannot make
    its slot's deadline even starting now moves to the next slot (counted as skipped); one that
    finishes after its deadline is counted as missed.

    Args:
        period_ns: Display period, ns.
        anchor_ns: Display time of one slot (e.g. the first vblank), ns.
        margin_ns: Slack kept between the expected end of rendering and the deadline, ns.
        compose_ns: Time the compositor needs between the deadline and scan-out, ns.
        history: Render times the estimate looks back over.
        initial_estimate_ns: The estimate before any frame was measured (default half a
            period).
    """

    def __init__(
        self,
        period_ns: int,
        anchor_ns: int,
        margin_ns: int = 1_000_000,
        compose_ns: int = 1_000_000,
        history: int = 30,
        initial_estimate_ns: int | None = None,
    ) -> None:
        if period_ns <= 0:
            raise ValueError(f"period_ns must be positive, got {period_ns}")
        if margin_ns < 0 or compose_ns < 0 or compose_ns >= period_ns:
            raise ValueError(
                f"need margin_ns >= 0 and 0 <= compose_ns < period_ns, got {margin_ns}, "
                f"{compose_ns}"
            )
        if history < 1:
            raise ValueError(f"history must be at least 1 frame, got {history}")
        self.period_ns = int(period_ns)
        self.anchor_ns = int(anchor_ns)
        self.margin_ns = int(margin_ns)
        self.compose_ns = int(compose_ns)
        self._initial = self.period_ns // 2 if initial_estimate_ns is None else initial_estimate_ns
        self.render_ns: deque[int] = deque(maxlen=history)
        self._last_display_ns: int | None = None
        #: Frames planned, frames that missed their deadline, display slots skipped.
        self.frames = 0
        self.missed = 0
        self.skipped = 0

    @property
    def estimate_ns(self) -> int:
        """Render time the pacer plans with: the largest of the recent ones."""
        return max(self.render_ns) if self.render_ns else int(self._initial)

    def _slot_after(self, t_ns: int) -> int:
        """The first slot display time strictly after ``t_ns``."""
        k = (t_ns - self.anchor_ns) // self.period_ns + 1
        return self.anchor_ns + k * self.period_ns

    def plan(self, now_ns: int) -> FramePlan:
        """The next frame: its display slot, deadline and wake-up time.

        The slot is the first one after the previous frame's whose deadline the estimate can
        still meet starting now; the frame wakes ``estimate + margin`` before that deadline
        (or now, when that has passed).

        Args:
            now_ns: Current host time, ns.
        """
        est = self.estimate_ns
        last = self._last_display_ns
        display = self._slot_after(now_ns if last is None else last)
        skipped = 0
        while now_ns + est > display - self.compose_ns:
            display += self.period_ns
            skipped += 1
        deadline = display - self.compose_ns
        wake = max(now_ns, deadline - est - self.margin_ns)
        self._last_display_ns = display
        self.frames += 1
        self.skipped += skipped
        return FramePlan(display, deadline, wake, skipped)

    def finished(self, plan: FramePlan, render_start_ns: int, render_end_ns: int) -> bool:
        """Record a frame's measured render time; True when it missed its deadline.

        Args:
            plan: The frame's plan.
            render_start_ns: When rendering started (the pose sample), ns.
            render_end_ns: When it was done and ready for the compositor, ns.
        """
        self.render_ns.append(max(0, int(render_end_ns) - int(render_start_ns)))
        missed = render_end_ns > plan.deadline_ns
        self.missed += int(missed)
        return bool(missed)
