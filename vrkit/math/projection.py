"""Projection matrices and point projection for asymmetric per-eye frusta. Pure numpy.

The GL projection follows OpenXR's reference ``XrMatrix4x4f_CreateProjectionFov`` for OpenGL
(clip z in [-1, 1]); images use the GL convention that NDC +Y is up, and pixel coordinates put
(0, 0) at the top-left corner of the top-left pixel, so pixel centres sit at ``i + 0.5``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.types import Fov
from vrkit.math.transforms import as_array


def projection_from_fov(fov: Fov, near: float = 0.05, far: float = 100.0) -> NDArray[np.float64]:
    """OpenGL projection matrix (4, 4) for an asymmetric frustum.

    Args:
        fov: The view's four angles (radians).
        near: Near plane distance in metres (> 0).
        far: Far plane distance in metres (> near).

    Returns:
        Row-major (4, 4) float64 matrix mapping eye space to clip space.
    """
    return _frustum(*fov.tangents(), near, far)


def _frustum(
    tl: float, tr: float, tu: float, td: float, near: float, far: float
) -> NDArray[np.float64]:
    """Asymmetric perspective (4, 4) from the tangents of the left, right, up and down edges."""
    if not 0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    w, h = tr - tl, tu - td
    return np.array(
        [
            [2 / w, 0, (tr + tl) / w, 0],
            [0, 2 / h, (tu + td) / h, 0],
            [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0, 0, -1, 0],
        ]
    )


def projection_from_intrinsics(
    K: ArrayLike, width: int, height: int, near: float = 0.05, far: float = 100.0
) -> NDArray[np.float64]:
    """OpenGL projection (4, 4) reproducing an OpenCV pinhole camera (y down, +Z forward).

    The returned matrix acts on GL eye coordinates (-Z forward, +Y up), that is on the OpenCV
    camera frame rotated 180 degrees about X. Rendered images, read back top row first, then
    match ``cv2.projectPoints`` pixel for pixel.

    Args:
        K: (3, 3) intrinsic matrix in pixels.
        width: Image width in pixels.
        height: Image height in pixels.
        near: Near plane in metres.
        far: Far plane in metres.
    """
    K = as_array(K, (3, 3), "K")
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return _frustum(-cx / fx, (width - cx) / fx, cy / fy, -(height - cy) / fy, near, far)


def project_to_pixels(
    points_eye: ArrayLike, fov: Fov, width: int, height: int
) -> NDArray[np.float64]:
    """Project eye-space points to pixel coordinates of an image rendered with ``fov``.

    Args:
        points_eye: (N, 3) points in the eye frame, metres, in front of the eye (z < 0).
        fov: The eye's field of view.
        width: Image width in pixels.
        height: Image height in pixels.

    Returns:
        (N, 2) pixel coordinates ``(u, v)``: u to the right, v down from the top edge.
    """
    p = as_array(points_eye, (None, 3), "points_eye")
    if np.any(p[:, 2] >= 0):
        raise ValueError(f"points must be in front of the eye (z < 0), got z={p[:, 2]}")
    tl, tr, tu, td = fov.tangents()
    tx = p[:, 0] / -p[:, 2]
    ty = p[:, 1] / -p[:, 2]
    u = (tx - tl) / (tr - tl) * width
    v = (tu - ty) / (tu - td) * height
    return np.stack([u, v], axis=1)
