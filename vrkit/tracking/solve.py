"""Multi-camera 6-DoF pose solve: PnP per camera, then one joint robust refinement.

One solver serves both arrangements. The unknown is always ``T_world_head``:

* outside-in (``rig.mounting == "world"``, target in the head frame): a model point ``X`` goes
  to the camera as ``T_cam_rig @ T_world_head @ X`` (the rig frame is the world);
* inside-out (``rig.mounting == "head"``, marker map in the world frame): ``X`` goes to the
  camera as ``T_cam_rig @ inv(T_world_head) @ X`` (the rig frame is the head).

Residuals are measured on undistorted normalised image coordinates scaled by each camera's focal
length, so they read as pixels. The refinement is Gauss-Newton with an analytic Jacobian and a
Huber loss (iteratively reweighted), followed by outlier rejection and a final pass.

The covariance (6, 6) is ``sigma^2 (J^T W J)^-1`` at the optimum, with ``sigma^2`` the weighted
residual variance; it refers to the perturbation ``(dtx, dty, dtz, drx, dry, drz)`` of
``T_world_head`` with ``t = t0 + dt`` (metres, world axes) and ``R = exp([dr]x) R0``
(radians, world axes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.math import transforms as tf
from vrkit.tracking.camera import Rig

F64 = NDArray[np.float64]


@dataclass
class Observation:
    """2D-3D correspondences seen by one camera.

    Attributes:
        camera: Index of the camera in the rig.
        pixels: (N, 2) detected image points, distorted pixels (OpenCV convention).
        model_points: (N, 3) matching target points in the target frame, metres.
        point_ids: (N,) index of each point in ``Target.points()`` (or -1 if unknown).
    """

    camera: int
    pixels: F64
    model_points: F64
    point_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.pixels = np.asarray(self.pixels, dtype=np.float64).reshape(-1, 2)
        self.model_points = np.asarray(self.model_points, dtype=np.float64).reshape(-1, 3)
        if len(self.pixels) != len(self.model_points):
            raise InputError(
                f"camera {self.camera}: {len(self.pixels)} image points but "
                f"{len(self.model_points)} model points"
            )
        if len(self.point_ids) != len(self.pixels):
            self.point_ids = np.full(len(self.pixels), -1, dtype=np.int64)


@dataclass
class PoseSolution:
    """Result of a pose solve.

    Attributes:
        T_world_head: (4, 4) head pose in the world frame.
        covariance: (6, 6) covariance of ``(dt, dr)`` (see module docstring), m^2 / rad^2.
        rms_px: RMS reprojection error of the inliers, pixels.
        camera_rms_px: Camera index -> RMS of its inliers, pixels.
        cameras_used: Indices of the cameras that contributed inliers.
        n_inliers: Number of 2D-3D correspondences kept.
        n_outliers: Number rejected as outliers.
        inlier_mask: Per observation, a boolean (N,) mask of kept points.
    """

    T_world_head: F64
    covariance: F64
    rms_px: float
    camera_rms_px: dict[int, float]
    cameras_used: list[int]
    n_inliers: int
    n_outliers: int
    inlier_mask: list[NDArray[np.bool_]]


def arrangement(rig: Rig, target_frame: str) -> str:
    """``"outside_in"`` or ``"inside_out"`` from the rig mounting and the target's frame.

    Raises:
        InputError: The two do not fit together (e.g. head-mounted cameras and a head target).
    """
    if rig.mounting == "world" and target_frame == "head":
        return "outside_in"
    if rig.mounting == "head" and target_frame == "world":
        return "inside_out"
    raise InputError(
        f"rig mounting {rig.mounting!r} does not fit a target in the {target_frame!r} frame",
        "outside-in needs a 'world' rig and a 'head' target; inside-out a 'head' rig and a "
        "'world' marker map",
    )


class _Problem:
    """Stacked correspondences of all cameras, ready for fast residual/Jacobian evaluation."""

    def __init__(self, rig: Rig, observations: list[Observation], mode: str) -> None:
        self.mode = mode
        self.obs = [o for o in observations if len(o.pixels)]
        self.sizes = [len(o.pixels) for o in self.obs]
        self.cam_of_point = np.concatenate(
            [np.full(len(o.pixels), o.camera) for o in self.obs] or [np.zeros(0, int)]
        ).astype(int)
        self.X = np.concatenate([o.model_points for o in self.obs] or [np.zeros((0, 3))])
        norm = [rig.cameras[o.camera].undistort_points(o.pixels) for o in self.obs]
        self.xy = np.concatenate(norm or [np.zeros((0, 2))])
        T_cam_rig = np.array([c.T_cam_rig for c in rig.cameras])
        self.R_cr = T_cam_rig[self.cam_of_point, :3, :3]
        self.t_cr = T_cam_rig[self.cam_of_point, :3, 3]
        self.f = np.array([c.focal for c in rig.cameras])[self.cam_of_point]

    def to_camera(self, T: F64) -> F64:
        """Model points in each point's camera frame (N, 3) for ``T = T_world_head``."""
        R, t = T[:3, :3], T[:3, 3]
        X_rig = self.X @ R.T + t if self.mode == "outside_in" else (self.X - t) @ R
        return np.einsum("nij,nj->ni", self.R_cr, X_rig) + self.t_cr

    def residuals(self, T: F64) -> F64:
        """(N, 2) residuals in pixels (NaN-free: points behind a camera get a large residual)."""
        Xc = self.to_camera(T)
        z = Xc[:, 2:3]
        behind = z[:, 0] <= 1e-6
        proj = Xc[:, :2] / np.where(behind[:, None], 1.0, z)
        r = (proj - self.xy) * self.f[:, None]
        r[behind] = 1e3
        return r

    def jacobian(self, T: F64) -> tuple[F64, F64]:
        """Residuals (N, 2) and Jacobian (N, 2, 6) w.r.t. ``(dt, dr)``."""
        R, t = T[:3, :3], T[:3, 3]
        n = len(self.X)
        if self.mode == "outside_in":
            RX = self.X @ R.T
            X_rig = RX + t
            dXr = np.zeros((n, 3, 6))
            dXr[:, :, :3] = np.eye(3)
            dXr[:, :, 3:] = -tf.skew(RX)
        else:
            d = self.X - t
            X_rig = d @ R
            dXr = np.zeros((n, 3, 6))
            dXr[:, :, :3] = -R.T
            dXr[:, :, 3:] = np.einsum("ji,njk->nik", R, tf.skew(d))
        Xc = np.einsum("nij,nj->ni", self.R_cr, X_rig) + self.t_cr
        dXc = np.einsum("nij,njk->nik", self.R_cr, dXr)
        z = np.maximum(Xc[:, 2], 1e-6)
        r = (Xc[:, :2] / z[:, None] - self.xy) * self.f[:, None]
        r[Xc[:, 2] <= 1e-6] = 1e3
        P = np.zeros((n, 2, 3))
        P[:, 0, 0] = P[:, 1, 1] = self.f / z
        P[:, 0, 2] = -self.f * Xc[:, 0] / z**2
        P[:, 1, 2] = -self.f * Xc[:, 1] / z**2
        return r, np.einsum("nij,njk->nik", P, dXc)


def _refine(
    prob: _Problem, T: F64, mask: NDArray[np.bool_], huber_px: float, iterations: int
) -> tuple[F64, F64, F64]:
    """Huber-IRLS Gauss-Newton on the masked points; returns T, residuals (N, 2), J^T W J."""
    H = np.eye(6)
    for _ in range(iterations):
        r, J = prob.jacobian(T)
        e = np.linalg.norm(r, axis=1)
        w = np.where(e <= huber_px, 1.0, huber_px / np.maximum(e, 1e-12)) * mask
        Jf = J.reshape(-1, 6)
        wf = np.repeat(w, 2)
        H = Jf.T @ (Jf * wf[:, None])
        g = Jf.T @ (wf * r.ravel())
        try:
            delta = -np.linalg.solve(H + 1e-9 * np.eye(6), g)
        except np.linalg.LinAlgError:
            break
        T = tf.perturb(T, delta)
        if np.linalg.norm(delta[:3]) < 1e-9 and np.linalg.norm(delta[3:]) < 1e-10:
            break
    r, J = prob.jacobian(T)
    e = np.linalg.norm(r, axis=1)
    w = np.where(e <= huber_px, 1.0, huber_px / np.maximum(e, 1e-12)) * mask
    Jf = J.reshape(-1, 6)
    H = Jf.T @ (Jf * np.repeat(w, 2)[:, None])
    return T, r, H


def pnp_candidates(
    rig: Rig, observations: list[Observation], mode: str, ransac_px: float | None = None
) -> list[tuple[int, F64]]:
    """Initial ``T_world_head`` from each camera alone (PnP on undistorted points).

    Args:
        rig: The camera rig.
        observations: Correspondences per camera; cameras with < 4 points are skipped.
        mode: ``"outside_in"`` or ``"inside_out"``.
        ransac_px: When set, use ``cv2.solvePnPRansac`` with this inlier threshold in pixels.

    Returns:
        ``(camera index, T_world_head (4, 4))`` per camera that gave a pose.
    """
    import cv2

    out = []
    for o in observations:
        if len(o.pixels) < 4:
            continue
        cam = rig.cameras[o.camera]
        xy = cam.undistort_points(o.pixels).reshape(-1, 1, 2)
        X = o.model_points.reshape(-1, 1, 3)
        K = np.eye(3)
        if ransac_px is not None:
            ok, rvec, tvec, _ = cv2.solvePnPRansac(
                X,
                xy,
                K,
                None,
                reprojectionError=ransac_px / cam.focal,
                iterationsCount=200,
                flags=cv2.SOLVEPNP_SQPNP,
            )
        else:
            ok, rvec, tvec = cv2.solvePnP(X, xy, K, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            continue
        T_cam_model = tf.transform_from_vector(np.concatenate([rvec.ravel(), tvec.ravel()]))
        T_rig_model = cam.T_rig_cam @ T_cam_model
        T = T_rig_model if mode == "outside_in" else tf.invert_transform(T_rig_model)
        out.append((o.camera, T))
    return out


def reprojection_rms(rig: Rig, obs: Observation, T_world_head: F64, mode: str) -> float:
    """RMS reprojection error of one camera's correspondences at a given pose.

    Args:
        rig: The camera rig.
        obs: One camera's 2D-3D correspondences (at least one point).
        T_world_head: (4, 4) pose to project with.
        mode: ``"outside_in"`` or ``"inside_out"``.

    Returns:
        RMS over the points of the pixel distance (undistorted, scaled by the focal length).
    """
    r = _Problem(rig, [obs], mode).residuals(T_world_head)
    return float(np.sqrt(np.mean(np.sum(r**2, axis=1))))


def solve_pose(
    rig: Rig,
    observations: list[Observation],
    mode: str = "outside_in",
    prior: F64 | None = None,
    huber_px: float = 1.0,
    outlier_px: float = 3.0,
    ransac_px: float | None = None,
    min_points: int = 4,
    iterations: int = 10,
) -> PoseSolution:
    """Joint robust pose from correspondences in any number of cameras.

    Args:
        rig: The camera rig.
        observations: 2D-3D correspondences per camera.
        mode: ``"outside_in"`` or ``"inside_out"`` (see :func:`arrangement`).
        prior: Optional (4, 4) ``T_world_head`` guess (e.g. the filter's prediction). When its
            median residual is below ``3 * outlier_px`` it is the only start; otherwise it is a
            candidate next to the per-camera PnP poses.
        huber_px: Huber loss threshold in pixels.
        outlier_px: Points with a final residual above ``max(outlier_px, 4 * robust sigma)`` are
            rejected.
        ransac_px: Use RANSAC PnP for the initial poses with this threshold (for data with
            mismatches such as LED correspondences).
        min_points: Fewest inliers accepted.
        iterations: Gauss-Newton iterations per pass.

    Returns:
        The pose with covariance and per-camera residuals.

    Raises:
        DataError: Too few points are visible, or no initial pose could be found.
    """
    if mode not in ("outside_in", "inside_out"):
        raise InputError(f"mode must be 'outside_in' or 'inside_out', got {mode!r}")
    counts = {o.camera: len(o.pixels) for o in observations}
    total = sum(counts.values())
    if total < min_points:
        raise DataError(
            f"too few target points visible: {total} (per camera {counts}); need >= {min_points}"
        )
    prob = _Problem(rig, observations, mode)
    cands = []
    if prior is not None:
        prior = tf.as_array(prior, (4, 4), "prior")
        e = np.linalg.norm(prob.residuals(prior), axis=1)
        if np.median(e) < 3.0 * outlier_px:
            cands.append(prior)  # a good prediction: skip the per-camera PnP
    if not cands:
        cands = [T for _, T in pnp_candidates(rig, prob.obs, mode, ransac_px)]
        if prior is not None:
            cands.append(prior)
    if not cands:
        raise DataError(
            f"no camera sees >= 4 target points (per camera {counts}) and there is no prior pose"
        )
    cap = (3.0 * outlier_px) ** 2
    costs = [np.sum(np.minimum(np.sum(prob.residuals(T) ** 2, axis=1), cap)) for T in cands]
    T = cands[int(np.argmin(costs))]
    mask = np.ones(len(prob.X), dtype=bool)
    T, r, _ = _refine(prob, T, mask, huber_px, iterations)
    for _ in range(3):
        e = np.linalg.norm(r, axis=1)
        sigma = 1.4826 * np.median(e[mask]) if mask.any() else 0.0
        new_mask = e <= max(outlier_px, 4.0 * sigma)
        if np.array_equal(new_mask, mask):
            break
        mask = new_mask
        if mask.sum() < min_points:
            raise DataError(
                f"only {int(mask.sum())} of {len(mask)} points fit one pose (per camera {counts})"
            )
        T, r, _ = _refine(prob, T, mask, huber_px, iterations)
    T, r, H = _refine(prob, T, mask, huber_px, 1)
    e = np.linalg.norm(r, axis=1)
    n_in = int(mask.sum())
    dof = max(2 * n_in - 6, 1)
    w = np.where(e <= huber_px, 1.0, huber_px / np.maximum(e, 1e-12)) * mask
    sigma2 = float(np.sum(w * e**2) / dof)
    try:
        cov = sigma2 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.full((6, 6), np.inf)
    cam_rms = {}
    for c in np.unique(prob.cam_of_point[mask]):
        sel = mask & (prob.cam_of_point == c)
        cam_rms[int(c)] = float(np.sqrt(np.mean(e[sel] ** 2)))
    splits = np.cumsum(prob.sizes)[:-1]
    masks = dict(zip([o.camera for o in prob.obs], np.split(mask, splits), strict=True))
    return PoseSolution(
        T_world_head=T,
        covariance=cov,
        rms_px=float(np.sqrt(np.mean(e[mask] ** 2))),
        camera_rms_px=cam_rms,
        cameras_used=sorted(cam_rms),
        n_inliers=n_in,
        n_outliers=int(len(mask) - n_in),
        inlier_mask=[masks.get(o.camera, np.zeros(0, bool)) for o in observations],
    )


def pose_error(T_est: F64, T_true: F64) -> tuple[float, float]:
    """Position error (metres) and rotation error (radians) between two (4, 4) poses."""
    dp = float(np.linalg.norm(T_est[:3, 3] - T_true[:3, 3]))
    return dp, tf.rotation_angle(T_est[:3, :3] @ T_true[:3, :3].T)


def model_in_camera(rig: Rig, camera: int, points: F64, T_world_head: F64, mode: str) -> F64:
    """Target points (N, 3) expressed in camera ``camera``'s OpenCV frame for a head pose."""
    T = tf.as_array(T_world_head, (4, 4), "T_world_head")
    T_rig_model = T if mode == "outside_in" else tf.invert_transform(T)
    return tf.transform_points(rig.cameras[camera].T_cam_rig @ T_rig_model, points)


def visible_projections(
    rig: Rig,
    camera: int,
    points: F64,
    normals: F64 | None,
    T_world_head: F64,
    mode: str,
    cone_deg: float = 80.0,
    margin_px: float = 0.0,
) -> tuple[F64, NDArray[np.bool_]]:
    """Project target points into one camera and tell which of them it can see.

    A point is visible when it is in front of the camera, inside the image (less ``margin_px``)
    and, if normals are given, faces the camera within ``cone_deg`` of its normal. Occlusion by
    the target body is approximated by that facing test.

    Returns:
        Pixels (N, 2) (NaN behind the camera) and the visibility mask (N,).
    """
    cam = rig.cameras[camera]
    Xc = model_in_camera(rig, camera, points, T_world_head, mode)
    px = cam.project(Xc)
    ok = Xc[:, 2] > 1e-3
    with np.errstate(invalid="ignore"):
        ok &= (px[:, 0] >= margin_px) & (px[:, 0] <= cam.width - 1 - margin_px)
        ok &= (px[:, 1] >= margin_px) & (px[:, 1] <= cam.height - 1 - margin_px)
    if normals is not None and len(normals):
        T_rig_model = T_world_head if mode == "outside_in" else tf.invert_transform(T_world_head)
        R = (cam.T_cam_rig @ T_rig_model)[:3, :3]
        n_c = normals @ R.T
        to_cam = -Xc / np.linalg.norm(Xc, axis=1, keepdims=True)
        ok &= np.sum(n_c * to_cam, axis=1) > np.cos(np.radians(cone_deg))
    return px, ok
