"""Display-time prediction and pacing for a window that presents with swap-buffers.

Pure logic on integer nanoseconds: the window backends pass in when a frame started and when
its swap was called and returned, and get back the predicted display time and how long to wait.
Nothing here reads a clock (Monado's ``u_pacing`` has the same shape), so it is tested with
made-up times.
"""

from __future__ import annotations

from collections import deque

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
