"""The pose-source interface shared by every backend.

A pose source answers one question: where is the head at time ``when_ns`` (host clock, ns)?
Sources that sample (mouse, tracker, replay) predict forward from their newest sample to the
requested display time; scripted sources evaluate their motion exactly.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

from vrkit.core.types import Pose
from vrkit.math.transforms import quat_from_axis_angle, quat_multiply
from vrkit.poses.predict import PosePredictor


class PoseSource(ABC):
    """Where the head is, as ``T_space_head``, at a requested time."""

    #: Short name for logs and ``--pose-source``.
    name: str = "pose source"

    @abstractmethod
    def pose_at(self, when_ns: int) -> Pose:
        """Head pose ``T_space_head`` predicted or evaluated at ``when_ns`` (host clock, ns)."""

    def poll(self, now_ns: int) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Take in new samples or input up to ``now_ns``; sources without input ignore it."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release devices or files; safe to call twice."""


class StaticPose(PoseSource):
    """A head that never moves.

    Args:
        pose: The constant ``T_space_head``; standing eye height 1.6 m by default.
    """

    name = "static"

    def __init__(self, pose: Pose | None = None) -> None:
        self._pose = pose if pose is not None else Pose([0.0, 1.6, 0.0])

    def pose_at(self, when_ns: int) -> Pose:
        """The constant pose."""
        return self._pose


class ScriptedMotion(PoseSource):
    """A head pose given as a function of time in seconds since ``start_ns``.

    Args:
        func: Maps seconds (float) to ``T_space_head``.
        start_ns: Time (ns) that counts as t = 0; None puts t = 0 at the first time asked
            for (the first frame's display time), so a run sees the same motion whatever its
            clock reads when it starts.
    """

    name = "scripted"

    def __init__(self, func: Callable[[float], Pose], start_ns: int | None = 0) -> None:
        self._func = func
        self._start_ns = None if start_ns is None else int(start_ns)

    def pose_at(self, when_ns: int) -> Pose:
        """Evaluate the script at ``when_ns``."""
        if self._start_ns is None:
            self._start_ns = int(when_ns)
        return self._func((when_ns - self._start_ns) * 1e-9)


def look_around(
    t_s: float,
    height_m: float = 1.6,
    yaw_amplitude_rad: float = math.radians(20),
    pitch_amplitude_rad: float = math.radians(8),
    period_s: float = 4.0,
) -> Pose:
    """The demo's head motion: a slow yaw sweep with a smaller pitch nod and a little sway.

    Args:
        t_s: Time in seconds.
        height_m: Eye height in metres.
        yaw_amplitude_rad: Peak yaw in radians.
        pitch_amplitude_rad: Peak pitch in radians.
        period_s: Period of the yaw sweep in seconds.
    """
    w = 2 * math.pi / period_s
    yaw = yaw_amplitude_rad * math.sin(w * t_s)
    pitch = pitch_amplitude_rad * math.sin(2 * w * t_s)
    q = quat_multiply(quat_from_axis_angle([0, 1, 0], yaw), quat_from_axis_angle([1, 0, 0], pitch))
    sway = 0.02 * math.sin(w * t_s)
    return Pose([sway, height_m, 0.0], q)


class SampledMotion(PoseSource):
    """A scripted head motion seen only through samples, as a tracker sees a real head.

    Each :meth:`poll` takes one sample of ``func`` at the poll time; :meth:`pose_at` answers
    from the samples with a :class:`~vrkit.poses.predict.PosePredictor`, extrapolating at most
    ``max_horizon_ns`` past the newest one. With ``max_horizon_ns=0`` it holds the newest
    sample: a frame then shows the head where it was when its pose was sampled, which is what
    latency measurements need (the pipeline's delay shows on the panel).

    Args:
        func: Maps seconds since ``start_ns`` to ``T_space_head``.
        start_ns: Time (ns) that counts as t = 0.
        max_horizon_ns: Prediction horizon past the newest sample, ns (0: hold).
    """

    name = "sampled"

    def __init__(
        self, func: Callable[[float], Pose], start_ns: int = 0, max_horizon_ns: int = 0
    ) -> None:
        self._func = func
        self._start_ns = int(start_ns)
        self._samples = PosePredictor(max_horizon_ns=max_horizon_ns)

    def poll(self, now_ns: int) -> None:
        """Sample the motion at ``now_ns``."""
        self._samples.add(now_ns, self._func((now_ns - self._start_ns) * 1e-9))

    def pose_at(self, when_ns: int) -> Pose:
        """The pose predicted from the samples (the motion at ``when_ns`` before any poll)."""
        if self._samples.newest is None:
            return self._func((when_ns - self._start_ns) * 1e-9)
        return self._samples.predict(when_ns)
