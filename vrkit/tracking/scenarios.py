"""Example rigs and head trajectories with known truth, for synthetic tests and demos. Pure numpy.

``outside_in_rig`` places N cameras on a ring around a head at standing height, looking at it;
``inside_out_rig`` mounts N cameras on a headset looking outwards. ``head_trajectory`` is a
smooth known motion (``T_world_head`` as a function of time in ns).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import NDArray

from vrkit.math import transforms as tf
from vrkit.tracking.camera import Camera, Rig, cv_camera_pose
from vrkit.vision.camera import CameraModel, intrinsics_from_fov

F64 = NDArray[np.float64]

HEAD_CENTER = np.array([0.0, 1.6, 0.0])


def default_distortion(i: int) -> F64:
    """A mild, camera-dependent radial-tangential distortion (5,) typical of small M12 lenses.

    ``k3`` is zero, as for most narrow-angle lenses (and what ``fix_k3`` calibrations assume).
    """
    return np.array([-0.12 + 0.01 * i, 0.05, 0.0004 * (i - 1), -0.0003 * i, 0.0])


def outside_in_rig(
    n: int = 4,
    width: int = 640,
    height: int = 480,
    hfov_deg: float = 60.0,
    distance: float = 0.75,
    distorted: bool = True,
) -> Rig:
    """N world-fixed cameras on a ring around ``HEAD_CENTER``, 20 degrees above it.

    Args:
        n: Number of cameras (1-16).
        width: Image width in pixels.
        height: Image height in pixels.
        hfov_deg: Horizontal field of view in degrees.
        distance: Distance from camera to the head centre in metres.
        distorted: Give each camera a mild lens distortion (else zero distortion).
    """
    cams = []
    azimuths = [-40.0, 40.0, -110.0, 110.0] + [180.0 * k / 6 for k in range(-5, 7)]
    for i in range(n):
        az = math.radians(azimuths[i])
        el = math.radians(20.0)
        eye = HEAD_CENTER + distance * np.array(
            [math.sin(az) * math.cos(el), math.sin(el), -math.cos(az) * math.cos(el)]
        )
        T = cv_camera_pose(tf.look_at(eye, HEAD_CENTER))
        K = intrinsics_from_fov(width, height, hfov_deg)
        K[0, 2] += 3.0 * (i - 1.5)
        K[1, 2] -= 2.0 * (i - 1.5)
        dist = default_distortion(i) if distorted else np.zeros(5)
        cams.append(Camera(f"cam{i}", CameraModel("pinhole", (width, height), K, dist), T))
    return Rig(cams, mounting="world")


def inside_out_rig(
    n: int = 4, width: int = 640, height: int = 480, hfov_deg: float = 75.0, distorted: bool = True
) -> Rig:
    """N cameras mounted on a headset (rig frame = head), looking outwards.

    Camera i looks at yaw ``[-35, 35, -100, 100, ...]`` degrees, pitched 10 degrees down for the
    front pair and 10 degrees up for the side pair.
    """
    cams = []
    yaws = [35.0, -35.0, 100.0, -100.0, 0.0, 180.0, 60.0, -60.0]
    pitches = [-10.0, -10.0, 10.0, 10.0, 25.0, 0.0, -20.0, -20.0]
    for i in range(n):
        yaw, pitch = math.radians(yaws[i % 8]), math.radians(pitches[i % 8])
        q = tf.quat_multiply(
            tf.quat_from_axis_angle([0, 1, 0], yaw), tf.quat_from_axis_angle([1, 0, 0], pitch)
        )
        pos = tf.quat_rotate(q, [0.0, 0.0, -0.09])
        T_head_glcam = tf.transform(tf.matrix_from_quat(q), pos)
        K = intrinsics_from_fov(width, height, hfov_deg)
        dist = default_distortion(i) if distorted else np.zeros(5)
        model = CameraModel("pinhole", (width, height), K, dist)
        cams.append(Camera(f"cam{i}", model, cv_camera_pose(T_head_glcam)))
    return Rig(cams, mounting="head")


def head_trajectory(t_ns: int | float, amplitude: float = 1.0) -> F64:
    """Known head motion ``T_world_head`` (4, 4) at time ``t_ns`` (ns from the start).

    A few centimetres of sway and bob and +-25 degrees of yaw with some pitch and roll; for
    amplitude 1 the peaks are about 0.08 m/s and 35 deg/s (scale both with ``amplitude``).
    """
    t = float(t_ns) * 1e-9
    a = amplitude
    pos = HEAD_CENTER + a * np.array(
        [0.05 * math.sin(1.3 * t), 0.03 * math.sin(2.1 * t + 0.5), 0.04 * math.sin(0.9 * t + 1.0)]
    )
    yaw = a * math.radians(25.0) * math.sin(1.1 * t)
    pitch = a * math.radians(12.0) * math.sin(1.7 * t + 0.3)
    roll = a * math.radians(6.0) * math.sin(0.8 * t + 0.7)
    q = tf.quat_multiply(
        tf.quat_multiply(
            tf.quat_from_axis_angle([0, 1, 0], yaw), tf.quat_from_axis_angle([1, 0, 0], pitch)
        ),
        tf.quat_from_axis_angle([0, 0, 1], roll),
    )
    return tf.transform(tf.matrix_from_quat(q), pos)


def _board_facing(center: F64, view_dir: F64, board_size: tuple[float, float], tilt: F64) -> F64:
    """``T_world_board`` of a board centred on ``center``, facing back along ``view_dir``.

    Board z points into the board (along ``view_dir``); ``tilt`` (rotation vector) tilts it.
    """
    z = view_dir / np.linalg.norm(view_dir)
    up = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=1) @ tf.matrix_from_rotation_vector(tilt)
    w, h = board_size
    return tf.transform(R, center - R @ np.array([w / 2, h / 2, 0.0]))


def calibration_views(
    rig: Rig,
    board_size: tuple[float, float],
    rng: np.random.Generator,
    per_camera: int = 12,
    per_pair: int = 8,
    max_pair_angle_deg: float = 100.0,
) -> list[F64]:
    """Board poses ``T_world_board`` for a synthetic rig calibration.

    ``per_camera`` views per camera put the board close to it (0.35-0.6 m), across its image
    and tilted up to 45 degrees (intrinsics); ``per_pair`` views per overlapping camera pair
    (optical axes less than ``max_pair_angle_deg`` apart) put it where both see it
    (extrinsics). The board frame is x right, y down the print, z into the board.
    """
    views = []
    for cam in rig.cameras:
        T = cam.T_rig_cam
        for _ in range(per_camera):
            u = rng.uniform(0.15, 0.85) * cam.width
            v = rng.uniform(0.15, 0.85) * cam.height
            ray = np.linalg.solve(cam.K, [u, v, 1.0])
            ray /= np.linalg.norm(ray)
            d = rng.uniform(0.35, 0.6)
            center = T[:3, :3] @ (ray * d) + T[:3, 3]
            tilt = np.radians(rng.uniform([-45, -45, -30], [45, 45, 30]))
            views.append(_board_facing(center, T[:3, :3] @ ray, board_size, tilt))
    for a, b in itertools.combinations(range(len(rig)), 2):
        za, zb = rig.cameras[a].T_rig_cam[:3, 2], rig.cameras[b].T_rig_cam[:3, 2]
        if np.degrees(np.arccos(np.clip(za @ zb, -1, 1))) > max_pair_angle_deg:
            continue
        pa, pb = rig.cameras[a].T_rig_cam[:3, 3], rig.cameras[b].T_rig_cam[:3, 3]
        for _ in range(per_pair):
            s = rng.uniform(0.45, 0.65)
            center = 0.5 * (pa + pb) + s * (za + zb) / np.linalg.norm(za + zb) * 1.3
            center = center + rng.uniform(-0.08, 0.08, 3)
            tilt = np.radians(rng.uniform([-15, -15, -30], [15, 15, 30]))
            views.append(_board_facing(center, za + zb, board_size, tilt))
    return views
