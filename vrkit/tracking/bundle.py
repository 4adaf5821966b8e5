"""Sparse bundle adjustment of a camera rig over views of a planar board.

Unknowns: every camera's pose relative to camera 0 (``T_cam_cam0``; camera 0 is fixed), every
board pose in camera 0's frame (``T_cam0_board``) and, on request, each pinhole camera's
``fx, fy, cx, cy, k1, k2, p1, p2``. Residuals are distorted pixels (``cv2.projectPoints`` per
view and camera), the quantity OpenCV's calibration functions minimise and report. The Jacobian
is analytic and sparse: ``cv2.projectPoints``' own derivatives (pose of the board in the camera,
focal lengths, principal point, distortion) chained with the derivative of the pose composition.
``scipy.optimize.least_squares`` runs a soft-L1 pass, then plain least squares (the
maximum-likelihood fit for Gaussian corner noise) when no gross outlier remains.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.math import transforms as tf
from vrkit.vision.camera import CameraModel

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]


@dataclass
class BoardObservation:
    """Board features one camera saw in one view.

    Attributes:
        view: Index of the board pose (into ``T_cam0_board``).
        camera: Index of the camera.
        object_points: (N, 3) board-frame points, metres.
        pixels: (N, 2) detected distorted pixels.
    """

    view: int
    camera: int
    object_points: F64
    pixels: F64


@dataclass
class BundleResult:
    """Refined unknowns of :func:`bundle_adjust`.

    Attributes:
        T_cam_cam0: Per camera (4, 4), camera 0's entry the identity.
        T_cam0_board: Per view (4, 4) board pose in camera 0's frame.
        cameras: The intrinsics (refined, or the given ones).
    """

    T_cam_cam0: list[F64]
    T_cam0_board: list[F64]
    cameras: list[CameraModel]


def _compose(p12: F64) -> F64:
    """(rvec, tvec) (6,) of ``T_c_c0 @ T_c0_b`` from (rc, tc, rv, tv) (12,).

    ``cv2.Rodrigues`` rather than :func:`vrkit.math.transforms.matrix_from_rotation_vector`:
    this runs 25 times per view and camera in every Jacobian evaluation, and OpenCV's call is
    several times faster on single vectors.
    """
    import cv2

    Rc, Rv = cv2.Rodrigues(p12[:3])[0], cv2.Rodrigues(p12[6:9])[0]
    return np.concatenate([cv2.Rodrigues(Rc @ Rv)[0].ravel(), Rc @ p12[9:] + p12[3:6]])


def _compose_jacobian(p12: F64, eps: float = 1e-6) -> F64:
    """(6, 12) derivative of :func:`_compose` (central differences; 12 tiny evaluations)."""
    D = np.empty((6, 12))
    for k in range(12):
        step = np.zeros(12)
        step[k] = eps
        D[:, k] = (_compose(p12 + step) - _compose(p12 - step)) / (2 * eps)
    return D


def bundle_adjust(
    cameras: list[CameraModel],
    observations: list[BoardObservation],
    T_cam_cam0: list[F64],
    T_cam0_board: list[F64],
    refine_intrinsics: bool = False,
) -> BundleResult:
    """Joint refinement of camera poses (camera 0 fixed) and board poses; soft-L1, sparse J.

    Args:
        cameras: Intrinsics per camera.
        observations: What each camera saw of each view.
        T_cam_cam0: Initial (4, 4) pose of every camera relative to camera 0.
        T_cam0_board: Initial (4, 4) board pose per view in camera 0's frame.
        refine_intrinsics: Refine each camera's fx, fy, cx, cy, k1, k2, p1, p2 too (pinhole
            cameras only; higher coefficients such as k3 keep their values).

    Returns:
        The refined poses and intrinsics.

    Raises:
        InputError: Intrinsics refinement was asked for a fisheye camera.
    """
    import cv2
    from scipy.optimize import least_squares
    from scipy.sparse import coo_matrix

    n_cam, n_view = len(cameras), len(T_cam0_board)
    if refine_intrinsics and any(c.kind != "pinhole" for c in cameras):
        raise InputError("refining intrinsics in the bundle adjustment needs pinhole cameras")
    blocks = []  # (view, camera, object points (n, 1, 3), pixels (n, 2), first residual row)
    n_res = 0
    for o in observations:
        blocks.append((o.view, o.camera, o.object_points.reshape(-1, 1, 3), o.pixels, n_res))
        n_res += 2 * len(o.pixels)
    n_pc, n_pv = 6 * (n_cam - 1), 6 * n_view
    n_in = 8 if refine_intrinsics else 0
    parts = [tf.vector_from_transform(T_cam_cam0[c]) for c in range(1, n_cam)]
    parts += [tf.vector_from_transform(T) for T in T_cam0_board]
    for cam in cameras if n_in else []:
        d4 = np.zeros(4)
        d4[: min(4, len(cam.dist))] = cam.dist[:4]
        parts.append(np.concatenate([cam.K[[0, 1, 0, 1], [0, 1, 2, 2]], d4]))
    x0 = np.concatenate(parts)

    def intrinsics(x: F64, c: int) -> tuple[F64, F64]:
        cam = cameras[c]
        if not n_in:
            return cam.K, cam.dist
        p = x[n_pc + n_pv + n_in * c : n_pc + n_pv + n_in * (c + 1)]
        K = np.array([[p[0], 0.0, p[2]], [0.0, p[1], p[3]], [0.0, 0.0, 1.0]])
        dist = np.zeros(max(len(cam.dist), 4))
        dist[: len(cam.dist)] = cam.dist
        dist[:4] = p[4:]
        return K, dist

    def pose_pair(x: F64, c: int, v: int) -> F64:
        pc = np.zeros(6) if c == 0 else x[6 * (c - 1) : 6 * c]
        return np.concatenate([pc, x[n_pc + 6 * v : n_pc + 6 * v + 6]])

    last: dict = {}

    def evaluate(x: F64, want_jac: bool) -> tuple[F64, object]:
        key = x.tobytes()
        if last.get("key") == key and (last["jac"] is not None or not want_jac):
            return last["r"], last["jac"]
        r = np.empty(n_res)
        rows, cols, vals = [], [], []
        Ks = [intrinsics(x, c) for c in range(n_cam)]
        for v, c, X, obs, r0 in blocks:
            p12 = pose_pair(x, c, v)
            rt = _compose(p12)
            uv, J = cv2.projectPoints(X, rt[:3], rt[3:], *Ks[c])
            n2 = 2 * len(X)
            r[r0 : r0 + n2] = (uv.reshape(-1, 2) - obs).ravel()
            if not want_jac:
                continue
            Jp = J[:, :6] @ _compose_jacobian(p12)  # (n2, 12): camera pose, board pose
            sub = [(Jp[:, 6:], n_pc + 6 * v)]
            if c > 0:
                sub.append((Jp[:, :6], 6 * (c - 1)))
            if n_in:
                sub.append((J[:, 6:14], n_pc + n_pv + n_in * c))  # fx fy cx cy k1 k2 p1 p2
            for M, c0 in sub:
                rows.append(np.repeat(np.arange(r0, r0 + n2), M.shape[1]))
                cols.append(np.tile(np.arange(c0, c0 + M.shape[1]), n2))
                vals.append(M.ravel())
        jac = None
        if want_jac:
            jac = coo_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(n_res, len(x0)),
            ).tocsr()
        last.update(key=key, r=r, jac=jac)
        return r, jac

    def fun(x: F64) -> F64:
        return np.nan_to_num(evaluate(x, False)[0], nan=1e3)

    def jac(x: F64) -> object:
        return evaluate(x, True)[1]

    # lsmr's default tolerances (1e-8) leave the steps too inexact once intrinsics are free:
    # the fit then stops at max_nfev far from the minimum
    lsmr = {"atol": 1e-14, "btol": 1e-14}
    res = least_squares(
        fun, x0, jac=jac, loss="soft_l1", f_scale=1.0, x_scale="jac", method="trf", tr_options=lsmr,
        xtol=1e-9, ftol=1e-9, max_nfev=200,
    )  # fmt: skip
    log.debug("bundle adjustment, soft-L1: %d evaluations, status %d", res.nfev, res.status)
    if np.max(np.abs(res.fun)) < 5.0:
        # no gross outliers: finish with plain least squares (the maximum-likelihood fit for
        # Gaussian corner noise, what OpenCV's calibration functions minimise)
        res = least_squares(
            fun, res.x, jac=jac, loss="linear", x_scale="jac", method="trf", tr_options=lsmr,
            xtol=1e-9, ftol=1e-9, max_nfev=50,
        )  # fmt: skip
        log.debug("bundle adjustment, least squares: %d evaluations, status %d", res.nfev,
                  res.status)  # fmt: skip
    x = res.x
    cams = list(cameras)
    if n_in:
        cams = [cam.replace(K=K, dist=dist, rms_px=None) for cam, (K, dist) in
                zip(cameras, (intrinsics(x, c) for c in range(n_cam)), strict=True)]  # fmt: skip
    T_c = [tf.transform_from_vector(pose_pair(x, c, 0)[:6]) for c in range(n_cam)]
    T_b = [tf.transform_from_vector(x[n_pc + 6 * v : n_pc + 6 * v + 6]) for v in range(n_view)]
    return BundleResult(T_c, T_b, cams)
