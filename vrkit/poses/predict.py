"""Pose interpolation and prediction for sampled pose sources. Pure numpy.

A sampled source (tracker, replay, anything fed by a stream of timestamped poses) keeps its
samples in a :class:`PosePredictor` and answers ``pose_at(when_ns)`` from it:

* inside the sampled span it interpolates between the two bracketing samples (position
  linearly, orientation by slerp);
* after the newest sample it extrapolates with constant angular and linear velocity, both
  estimated from the newest sample and the oldest one within ``fit_window_ns`` of it;
* the extrapolation horizon is capped (``max_horizon_ns``) so a stalled stream holds its
  last motion for at most that long instead of spinning forever.

Angular velocity is expressed in the space frame: ``q(t + dt) = exp(omega * dt) * q(t)``.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.types import Pose
from vrkit.math.transforms import (
    quat_conjugate,
    quat_from_rotation_vector,
    quat_multiply,
    quat_slerp,
    rotation_vector_from_quat,
)


@dataclass(frozen=True)
class PoseSample:
    """One timestamped pose.

    Attributes:
        t_ns: Sample time, host clock, integer ns.
        pose: ``T_space_head`` at ``t_ns``.
    """

    t_ns: int
    pose: Pose


def interpolate_pose(a: Pose, b: Pose, fraction: float) -> Pose:
    """Pose between ``a`` (fraction 0) and ``b`` (fraction 1): lerp position, slerp rotation."""
    f = float(fraction)
    position = (1.0 - f) * a.position + f * b.position
    return Pose(position, quat_slerp(a.orientation, b.orientation, f))


F64 = NDArray[np.float64]


def velocity_between(a: PoseSample, b: PoseSample) -> tuple[F64, F64]:
    """Mean angular and linear velocity from sample ``a`` to the later sample ``b``.

    Returns:
        ``(omega, v)``: (3,) angular velocity in rad/s (space frame, rotation vector rate) and
        (3,) linear velocity in m/s.

    Raises:
        ValueError: ``b`` is not later than ``a``.
    """
    dt = (b.t_ns - a.t_ns) * 1e-9
    if dt <= 0:
        raise ValueError(f"velocity needs increasing times, got {a.t_ns} then {b.t_ns} ns")
    dq = quat_multiply(b.pose.orientation, quat_conjugate(a.pose.orientation))
    omega = rotation_vector_from_quat(dq) / dt
    v = (b.pose.position - a.pose.position) / dt
    return omega, v


def extrapolate_pose(pose: Pose, omega: F64, v: F64, dt_s: float) -> Pose:
    """Move ``pose`` forward ``dt_s`` seconds with constant velocities.

    Args:
        pose: Starting ``T_space_head``.
        omega: (3,) angular velocity, rad/s, space frame.
        v: (3,) linear velocity, m/s.
        dt_s: Seconds (may be negative).
    """
    dq = quat_from_rotation_vector(np.asarray(omega, dtype=np.float64) * dt_s)
    return Pose(
        pose.position + np.asarray(v, dtype=np.float64) * dt_s,
        quat_multiply(dq, pose.orientation),
    )


class PosePredictor:
    """Recent pose samples, interpolated inside their span and extrapolated beyond it.

    Args:
        history: Samples kept (older ones are dropped).
        fit_window_ns: Velocity is estimated over at most this span ending at the newest
            sample (longer is smoother, shorter reacts faster); at least the previous sample
            is used.
        max_horizon_ns: Extrapolate at most this far past the newest sample.
    """

    def __init__(
        self,
        history: int = 32,
        fit_window_ns: int = 30_000_000,
        max_horizon_ns: int = 100_000_000,
    ) -> None:
        if history < 2:
            raise ValueError(f"history must keep at least 2 samples, got {history}")
        if fit_window_ns <= 0 or max_horizon_ns < 0:
            raise ValueError(
                f"need fit_window_ns > 0 and max_horizon_ns >= 0, got {fit_window_ns}, "
                f"{max_horizon_ns}"
            )
        self._samples: deque[PoseSample] = deque(maxlen=history)
        self.fit_window_ns = int(fit_window_ns)
        self.max_horizon_ns = int(max_horizon_ns)

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def newest(self) -> PoseSample | None:
        """The latest sample, or None before the first."""
        return self._samples[-1] if self._samples else None

    def clear(self) -> None:
        """Forget every sample (e.g. after a reset or a tracking loss)."""
        self._samples.clear()

    def add(self, t_ns: int, pose: Pose) -> None:
        """Add a sample; a sample at the newest time replaces it.

        Raises:
            ValueError: ``t_ns`` is older than the newest sample.
        """
        t_ns = int(t_ns)
        if self._samples and t_ns < self._samples[-1].t_ns:
            raise ValueError(
                f"pose samples must arrive in time order: {t_ns} ns after {self._samples[-1].t_ns}"
            )
        if self._samples and t_ns == self._samples[-1].t_ns:
            self._samples.pop()
        self._samples.append(PoseSample(t_ns, pose))

    def velocity(self) -> tuple[F64, F64]:
        """Current ``(omega rad/s, v m/s)``; zeros with fewer than two samples."""
        if len(self._samples) < 2:
            return np.zeros(3), np.zeros(3)
        newest = self._samples[-1]
        oldest = self._samples[-2]
        for s in reversed(list(self._samples)[:-2]):
            if newest.t_ns - s.t_ns > self.fit_window_ns:
                break
            oldest = s
        return velocity_between(oldest, newest)

    def predict(self, when_ns: int) -> Pose:
        """The pose at ``when_ns``: interpolated inside the samples, extrapolated after them.

        Before the oldest sample the oldest pose is returned.

        Raises:
            ValueError: There are no samples yet.
        """
        if not self._samples:
            raise ValueError("no pose samples yet: cannot predict")
        newest = self._samples[-1]
        if when_ns >= newest.t_ns:
            dt_ns = min(when_ns - newest.t_ns, self.max_horizon_ns)
            if dt_ns == 0 or len(self._samples) < 2:
                return newest.pose
            omega, v = self.velocity()
            return extrapolate_pose(newest.pose, omega, v, dt_ns * 1e-9)
        times = [s.t_ns for s in self._samples]
        i = bisect.bisect_right(times, when_ns)
        if i == 0:
            return self._samples[0].pose
        a, b = self._samples[i - 1], self._samples[i]
        return interpolate_pose(a.pose, b.pose, (when_ns - a.t_ns) / (b.t_ns - a.t_ns))
