"""Per-eye poses from a head pose and interpupillary distance. Pure numpy."""

from __future__ import annotations

import math

from vrkit.core.types import LEFT, RIGHT, EyeView, Fov, Pose
from vrkit.math.transforms import quat_from_axis_angle

DEFAULT_IPD_M = 0.063


def eye_poses_in_head(ipd_m: float = DEFAULT_IPD_M, cant_rad: float = 0.0) -> tuple[Pose, Pose]:
    """``T_head_eye`` for the left and right eye.

    Eyes sit at ``x = -ipd/2`` and ``x = +ipd/2`` on the head's X axis. ``cant_rad`` turns each
    display outward about +Y (left eye yaws left, right eye right), as canted headsets do.

    Args:
        ipd_m: Interpupillary distance in metres (0.04 to 0.09 is human).
        cant_rad: Outward cant of each eye's view in radians.
    """
    if not (math.isfinite(ipd_m) and 0.0 <= ipd_m <= 0.2):
        raise ValueError(f"ipd_m must be between 0 and 0.2 m, got {ipd_m}")
    q_left = quat_from_axis_angle([0, 1, 0], cant_rad)
    q_right = quat_from_axis_angle([0, 1, 0], -cant_rad)
    return Pose([-ipd_m / 2, 0, 0], q_left), Pose([ipd_m / 2, 0, 0], q_right)


def eye_views(
    T_space_head: Pose,
    fov_left: Fov,
    fov_right: Fov,
    ipd_m: float = DEFAULT_IPD_M,
    cant_rad: float = 0.0,
) -> list[EyeView]:
    """Both eyes' views in the head's space for a head pose.

    Args:
        T_space_head: Head pose in the reference space.
        fov_left: Left eye field of view.
        fov_right: Right eye field of view.
        ipd_m: Interpupillary distance in metres.
        cant_rad: Outward cant of each eye in radians.

    Returns:
        ``[left, right]`` views with ``pose = T_space_eye``.
    """
    left, right = eye_poses_in_head(ipd_m, cant_rad)
    return [
        EyeView(LEFT, T_space_head @ left, fov_left),
        EyeView(RIGHT, T_space_head @ right, fov_right),
    ]
