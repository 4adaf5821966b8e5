"""Rigid transforms, quaternions and validators. Pure numpy.

Conventions: right-handed, metres, -Z forward, +Y up (OpenXR). Quaternions are ``(x, y, z, w)``
as in ``XrQuaternionf``. A transform named ``T_a_b`` is a (4, 4) matrix that maps points in frame
``b`` to frame ``a``: ``p_a = T_a_b @ p_b``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]


def as_array(value: ArrayLike, shape: tuple[int | None, ...], name: str = "array") -> F64:
    """Return a finite float64 copy of ``value`` with the given shape, or raise.

    Args:
        value: Anything numpy can convert.
        shape: Expected shape; ``None`` matches any length on that axis.
        name: Name used in the error message.

    Returns:
        A float64 array of the requested shape.

    Raises:
        ValueError: The shape differs or a value is NaN or infinite.
    """
    arr = np.array(value, dtype=np.float64)
    if arr.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, arr.shape, strict=False)
    ):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name}: expected shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values: {arr}")
    return arr


def quat_normalize(q: ArrayLike) -> F64:
    """Normalise quaternions ``(..., 4)`` in ``(x, y, z, w)`` order; rejects zero length."""
    q = np.asarray(q, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(n < 1e-12):
        raise ValueError(f"quaternion of zero length: {q}")
    return q / n


def quat_multiply(a: ArrayLike, b: ArrayLike) -> F64:
    """Hamilton product ``a * b`` of quaternions ``(..., 4)`` in ``(x, y, z, w)`` order."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax, ay, az, aw = np.moveaxis(a, -1, 0)
    bx, by, bz, bw = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def quat_conjugate(q: ArrayLike) -> F64:
    """Conjugate (inverse of a unit quaternion), ``(..., 4)``."""
    q = np.array(q, dtype=np.float64)
    q[..., :3] *= -1.0
    return q


def quat_from_axis_angle(axis: ArrayLike, angle: float | ArrayLike) -> F64:
    """Quaternion ``(..., 4)`` rotating by ``angle`` radians about ``axis`` (3,)."""
    axis = as_array(axis, (3,), "axis")
    axis = axis / np.linalg.norm(axis)
    half = 0.5 * np.asarray(angle, dtype=np.float64)[..., None]
    return np.concatenate([np.sin(half) * axis, np.cos(half)], axis=-1)


def matrix_from_quat(q: ArrayLike) -> F64:
    """Rotation matrices ``(..., 3, 3)`` from unit quaternions ``(..., 4)`` ``(x, y, z, w)``."""
    x, y, z, w = np.moveaxis(quat_normalize(q), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def quat_from_matrix(R: ArrayLike) -> F64:
    """Unit quaternion ``(4,)`` ``(x, y, z, w)`` with ``w >= 0`` from a rotation matrix (3, 3)."""
    R = as_array(R, (3, 3), "rotation matrix")
    tr = np.trace(R)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, 0.25 * s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        q = [0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        q = [(R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s, (R[1, 0] - R[0, 1]) / s]
    q = quat_normalize(np.array(q))
    return -q if q[3] < 0 else q


def quat_rotate(q: ArrayLike, v: ArrayLike) -> F64:
    """Rotate vectors ``(..., 3)`` by unit quaternions ``(..., 4)``."""
    return np.einsum("...ij,...j->...i", matrix_from_quat(q), np.asarray(v, dtype=np.float64))


def quat_slerp(a: ArrayLike, b: ArrayLike, t: float) -> F64:
    """Spherical linear interpolation between unit quaternions (4,) at fraction ``t``."""
    a = quat_normalize(a)
    b = quat_normalize(b)
    d = float(np.dot(a, b))
    if d < 0.0:
        b, d = -b, -d
    if d > 0.9995:
        return quat_normalize(a + t * (b - a))
    theta = np.arccos(d)
    return (np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta)


def rotation_vector_from_quat(q: ArrayLike) -> F64:
    """Axis-angle vector ``(..., 3)`` (radians) of unit quaternions ``(..., 4)``."""
    q = quat_normalize(q)
    q = np.where(q[..., 3:4] < 0, -q, q)
    s = np.linalg.norm(q[..., :3], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., 3:4])
    scale = np.where(s > 1e-12, angle / np.maximum(s, 1e-300), 2.0)
    return q[..., :3] * scale


def quat_from_rotation_vector(r: ArrayLike) -> F64:
    """Unit quaternions ``(..., 4)`` from axis-angle vectors ``(..., 3)`` in radians."""
    r = np.asarray(r, dtype=np.float64)
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    half = 0.5 * angle
    scale = np.where(angle > 1e-12, np.sin(half) / np.maximum(angle, 1e-300), 0.5)
    return np.concatenate([r * scale, np.cos(half)], axis=-1)


def skew(v: ArrayLike) -> F64:
    """Cross-product matrices ``(..., 3, 3)`` of vectors ``(..., 3)``: ``skew(a) @ b == a x b``."""
    v = np.asarray(v, dtype=np.float64)
    x, y, z = np.moveaxis(v, -1, 0)
    zero = np.zeros_like(x)
    return np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)],
        axis=-2,
    )


def matrix_from_rotation_vector(r: ArrayLike) -> F64:
    """Rotation matrices ``(..., 3, 3)`` from axis-angle vectors ``(..., 3)`` in radians.

    The exponential map of SO(3) (what ``cv2.Rodrigues`` computes), exact for any angle.
    """
    return matrix_from_quat(quat_from_rotation_vector(r))


def rotation_vector_from_matrix(R: ArrayLike) -> F64:
    """Axis-angle vector (3,) in radians, angle in [0, pi], of a rotation matrix (3, 3).

    The logarithm map of SO(3), the inverse of :func:`matrix_from_rotation_vector`.
    """
    return rotation_vector_from_quat(quat_from_matrix(R))


def rotation_angle(R: ArrayLike) -> float:
    """Angle in radians, in [0, pi], of a rotation matrix (3, 3).

    Computed from the quaternion (``2 atan2(|v|, |w|)``), which stays accurate for tiny angles
    where ``arccos((trace - 1) / 2)`` loses half the digits.
    """
    q = quat_from_matrix(R)
    return float(2.0 * np.arctan2(np.linalg.norm(q[:3]), abs(q[3])))


def vector_from_transform(T_a_b: ArrayLike) -> F64:
    """The (6,) vector ``(rx, ry, rz, tx, ty, tz)`` of a rigid (4, 4) transform.

    ``r`` is the rotation vector in radians and ``t`` the translation in metres, the pair
    ``(rvec, tvec)`` OpenCV's pose functions use.
    """
    T = as_array(T_a_b, (4, 4), "transform")
    return np.concatenate([rotation_vector_from_matrix(T[:3, :3]), T[:3, 3]])


def transform_from_vector(v: ArrayLike) -> F64:
    """Inverse of :func:`vector_from_transform`: (4, 4) from ``(rx, ry, rz, tx, ty, tz)``."""
    v = as_array(v, (6,), "pose vector")
    return transform(matrix_from_rotation_vector(v[:3]), v[3:])


def perturb(T_a_b: ArrayLike, delta: ArrayLike) -> F64:
    """``T_a_b`` moved by a small step ``delta = (dt (3,), dr (3,))`` expressed in frame a.

    The translation becomes ``t + dt`` (metres) and the rotation ``exp([dr]x) @ R`` (radians,
    frame a's axes): the left perturbation that Gauss-Newton and error-state filters use.
    """
    T = np.array(T_a_b, dtype=np.float64)
    d = as_array(delta, (6,), "delta")
    T[:3, :3] = matrix_from_rotation_vector(d[3:]) @ T[:3, :3]
    T[:3, 3] = T[:3, 3] + d[:3]
    return T


def transform(rotation: ArrayLike | None = None, translation: ArrayLike | None = None) -> F64:
    """Build a (4, 4) rigid transform from a (3, 3) rotation and a (3,) translation in metres."""
    T = np.eye(4)
    if rotation is not None:
        T[:3, :3] = as_array(rotation, (3, 3), "rotation")
    if translation is not None:
        T[:3, 3] = as_array(translation, (3,), "translation")
    return T


def invert_transform(T_a_b: ArrayLike) -> F64:
    """Return ``T_b_a`` for a rigid (4, 4) transform ``T_a_b``."""
    T = as_array(T_a_b, (4, 4), "transform")
    R = T[:3, :3]
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ T[:3, 3]
    return out


def transform_points(T_a_b: ArrayLike, points_b: ArrayLike) -> F64:
    """Map points ``(N, 3)`` from frame b to frame a with a (4, 4) transform."""
    T = np.asarray(T_a_b, dtype=np.float64)
    p = np.asarray(points_b, dtype=np.float64)
    return p @ T[:3, :3].T + T[:3, 3]


def look_at(eye: ArrayLike, target: ArrayLike, up: ArrayLike = (0.0, 1.0, 0.0)) -> F64:
    """Return ``T_world_camera`` (4, 4) for a camera at ``eye`` looking (-Z) at ``target``."""
    eye = as_array(eye, (3,), "eye")
    forward = as_array(target, (3,), "target") - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, as_array(up, (3,), "up"))
    if np.linalg.norm(right) < 1e-9:
        raise ValueError(f"look_at: up {up} is parallel to the view direction {forward}")
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    return transform(np.stack([right, true_up, -forward], axis=1), eye)
