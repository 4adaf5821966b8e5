"""Mouse-look and keyboard movement as a head pose source (desktop simulator, panel testing).

Input arrives as plain calls, so any window system (or a test) can drive it:
:meth:`MouseKeyboardPose.look` with cursor deltas in pixels and :meth:`MouseKeyboardPose.key`
with a key name and the time of the event. The windowed backends translate glfw callbacks into
exactly these calls.

Keys: ``w``/``s`` forward/back, ``a``/``d`` left/right, ``e``/``q`` up/down (world +Y), ``shift``
held for ``fast_factor`` times the speed, ``r`` resets to the start pose. Moving follows the
heading (yaw) only, so looking down and pressing W does not dig into the floor.

Prediction: keyboard motion is a constant velocity between key events, so ``pose_at(when_ns)``
integrates it exactly to the requested (display) time. Mouse deltas are applied when they
arrive: they are the user's intent, not a measured motion, and extrapolating them would make
the view overshoot when the hand stops.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from vrkit.core.types import Pose
from vrkit.math.transforms import quat_from_axis_angle, quat_multiply
from vrkit.poses.base import PoseSource

_MOVE_KEYS = {"w", "a", "s", "d", "q", "e"}


class MouseKeyboardPose(PoseSource):
    """Head pose from yaw/pitch (mouse) and position (keys), at standing height by default.

    Args:
        start_position: (3,) start position in metres (eyes at 1.6 m above the origin).
        start_yaw_rad: Start heading about +Y (positive turns left).
        rad_per_px: Mouse-look sensitivity in radians per pixel of cursor motion.
        speed_m_s: Walking speed in metres per second.
        fast_factor: Speed multiplier while shift is held.
    """

    name = "mouse"

    def __init__(
        self,
        start_position: tuple[float, float, float] = (0.0, 1.6, 0.0),
        start_yaw_rad: float = 0.0,
        rad_per_px: float = 0.0025,
        speed_m_s: float = 1.5,
        fast_factor: float = 4.0,
    ) -> None:
        if rad_per_px <= 0 or speed_m_s <= 0 or fast_factor < 1:
            raise ValueError(
                f"need rad_per_px > 0, speed_m_s > 0, fast_factor >= 1; got {rad_per_px}, "
                f"{speed_m_s}, {fast_factor}"
            )
        self._start = (np.array(start_position, dtype=np.float64), float(start_yaw_rad))
        self.rad_per_px = float(rad_per_px)
        self.speed_m_s = float(speed_m_s)
        self.fast_factor = float(fast_factor)
        self._held: set[str] = set()
        self._t_ns: int | None = None
        self.reset()

    # --- state -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the start position and heading, level gaze."""
        self.position = self._start[0].copy()
        self.yaw_rad = self._start[1]
        self.pitch_rad = 0.0

    def orientation(self) -> NDArray[np.float64]:
        """Current ``(x, y, z, w)`` quaternion: yaw about +Y, then pitch about the head's +X."""
        return quat_multiply(
            quat_from_axis_angle([0, 1, 0], self.yaw_rad),
            quat_from_axis_angle([1, 0, 0], self.pitch_rad),
        )

    def velocity(self) -> NDArray[np.float64]:
        """(3,) m/s from the movement keys held now (world frame)."""
        forward = np.array([-math.sin(self.yaw_rad), 0.0, -math.cos(self.yaw_rad)])
        right = np.array([math.cos(self.yaw_rad), 0.0, -math.sin(self.yaw_rad)])
        up = np.array([0.0, 1.0, 0.0])
        held = self._held
        d = (
            forward * (("w" in held) - ("s" in held))
            + right * (("d" in held) - ("a" in held))
            + up * (("e" in held) - ("q" in held))
        )
        n = np.linalg.norm(d)
        if n == 0:
            return np.zeros(3)
        speed = self.speed_m_s * (self.fast_factor if "shift" in held else 1.0)
        return d / n * speed

    # --- input -----------------------------------------------------------------------------
    def key(self, name: str, pressed: bool, now_ns: int) -> bool:
        """A key went down or up at ``now_ns``.

        Motion up to ``now_ns`` uses the keys held before the event.

        Args:
            name: Key name (``"w"``, ``"shift"``, ``"r"``...), lower case.
            pressed: True on press, False on release.
            now_ns: Event time, host clock ns.

        Returns:
            True when the key means something to this source.
        """
        self.poll(now_ns)
        if name == "r":
            if pressed:
                self.reset()
            return True
        if name not in _MOVE_KEYS and name != "shift":
            return False
        if pressed:
            self._held.add(name)
        else:
            self._held.discard(name)
        return True

    def look(self, dx_px: float, dy_px: float) -> None:
        """Turn by a cursor motion: right (+dx) turns right, down (+dy, window y) looks down.

        Pitch is limited to +-89 degrees.
        """
        self.yaw_rad -= float(dx_px) * self.rad_per_px
        limit = math.radians(89.0)
        self.pitch_rad = min(limit, max(-limit, self.pitch_rad - float(dy_px) * self.rad_per_px))

    def release_all(self) -> None:
        """Forget held keys (e.g. when the window loses focus)."""
        self._held.clear()

    # --- PoseSource ------------------------------------------------------------------------
    def poll(self, now_ns: int) -> None:
        """Integrate keyboard motion up to ``now_ns``."""
        now_ns = int(now_ns)
        if self._t_ns is not None and now_ns > self._t_ns:
            self.position = self.position + self.velocity() * ((now_ns - self._t_ns) * 1e-9)
        if self._t_ns is None or now_ns > self._t_ns:
            self._t_ns = now_ns

    def pose_at(self, when_ns: int) -> Pose:
        """``T_space_head`` at ``when_ns``, keyboard motion integrated to that time."""
        dt_s = 0.0 if self._t_ns is None else (int(when_ns) - self._t_ns) * 1e-9
        return Pose(self.position + self.velocity() * dt_s, self.orientation())

    def close(self) -> None:
        """Nothing to release."""
