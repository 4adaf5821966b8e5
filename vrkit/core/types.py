"""Value types shared by every part of vrkit: Pose, Fov, EyeView, FrameInfo.

Units: metres, radians, integer nanoseconds. Frames follow OpenXR: right-handed, +Y up, -Z forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.math import transforms as tf


@dataclass(frozen=True)
class Pose:
    """A rigid pose: the frame of the thing expressed in its parent space.

    Attributes:
        position: (3,) metres.
        orientation: (4,) unit quaternion ``(x, y, z, w)``.
    """

    position: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    orientation: NDArray[np.float64] = field(default_factory=lambda: np.array([0.0, 0.0, 0.0, 1.0]))

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", tf.as_array(self.position, (3,), "Pose.position"))
        q = tf.as_array(self.orientation, (4,), "Pose.orientation")
        object.__setattr__(self, "orientation", tf.quat_normalize(q))

    @classmethod
    def identity(cls) -> Pose:
        """The identity pose."""
        return cls()

    @classmethod
    def from_matrix(cls, T: ArrayLike) -> Pose:
        """Pose from a rigid (4, 4) transform ``T_parent_thing``."""
        T = tf.as_array(T, (4, 4), "transform")
        return cls(T[:3, 3].copy(), tf.quat_from_matrix(T[:3, :3]))

    def matrix(self) -> NDArray[np.float64]:
        """The (4, 4) transform ``T_parent_thing``."""
        return tf.transform(tf.matrix_from_quat(self.orientation), self.position)

    def inverse(self) -> Pose:
        """The pose of the parent in the thing's frame."""
        q = tf.quat_conjugate(self.orientation)
        return Pose(-tf.quat_rotate(q, self.position), q)

    def __matmul__(self, other: Pose) -> Pose:
        """Compose: ``T_a_b @ T_b_c = T_a_c``."""
        return Pose(
            self.position + tf.quat_rotate(self.orientation, other.position),
            tf.quat_multiply(self.orientation, other.orientation),
        )

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-friendly form."""
        return {"position": self.position.tolist(), "orientation": self.orientation.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Pose:
        """Inverse of :meth:`to_dict`."""
        return cls(data["position"], data["orientation"])


@dataclass(frozen=True)
class Fov:
    """Field of view of one view, as OpenXR's ``XrFovf`` (radians).

    ``angle_left`` and ``angle_down`` are negative for a view that contains its optical axis.
    """

    angle_left: float
    angle_right: float
    angle_up: float
    angle_down: float

    def __post_init__(self) -> None:
        vals = (self.angle_left, self.angle_right, self.angle_up, self.angle_down)
        if not all(math.isfinite(v) and abs(v) < math.pi / 2 for v in vals):
            raise ValueError(f"Fov angles must be finite and within (-pi/2, pi/2), got {vals}")
        if self.angle_right <= self.angle_left or self.angle_up <= self.angle_down:
            raise ValueError(
                f"Fov must have angle_left < angle_right and angle_down < angle_up, got {vals}"
            )

    @classmethod
    def symmetric(cls, horizontal: float, vertical: float) -> Fov:
        """A symmetric Fov from full horizontal and vertical angles in radians."""
        return cls(-horizontal / 2, horizontal / 2, vertical / 2, -vertical / 2)

    @classmethod
    def from_degrees(cls, left: float, right: float, up: float, down: float) -> Fov:
        """Fov from signed angles in degrees (left and down negative)."""
        return cls(*(math.radians(v) for v in (left, right, up, down)))

    def tangents(self) -> NDArray[np.float64]:
        """``(tan_left, tan_right, tan_up, tan_down)`` as a (4,) array."""
        return np.tan([self.angle_left, self.angle_right, self.angle_up, self.angle_down])

    def degrees(self) -> dict[str, float]:
        """Angles in degrees keyed ``left, right, up, down``."""
        return {
            "left": math.degrees(self.angle_left),
            "right": math.degrees(self.angle_right),
            "up": math.degrees(self.angle_up),
            "down": math.degrees(self.angle_down),
        }

    def to_dict(self) -> dict[str, float]:
        """JSON-friendly form (radians)."""
        return {
            "angle_left": self.angle_left,
            "angle_right": self.angle_right,
            "angle_up": self.angle_up,
            "angle_down": self.angle_down,
        }


LEFT = 0
RIGHT = 1


@dataclass(frozen=True)
class EyeView:
    """What one eye sees in a frame.

    Attributes:
        eye: 0 for left, 1 for right.
        pose: ``T_space_eye`` in the frame's reference space.
        fov: The view's field of view.
    """

    eye: int
    pose: Pose
    fov: Fov


@dataclass
class FrameInfo:
    """One frame as a backend hands it to the renderer.

    Attributes:
        index: Frame counter from 0.
        predicted_display_time_ns: When the frame's photons are expected, host clock, ns.
        period_ns: Display period in ns.
        views: Per-eye views located for the predicted display time.
        head_pose: ``T_space_head`` at the predicted display time.
        should_render: False when the backend wants the frame submitted empty.
        timing: Timestamps (host clock ns) filled as the frame moves through the pipeline.
    """

    index: int
    predicted_display_time_ns: int
    period_ns: int
    views: list[EyeView]
    head_pose: Pose
    should_render: bool = True
    timing: dict[str, int] = field(default_factory=dict)
