"""Rig calibration from views of a calibration board seen by overlapping cameras.

Steps:

1. detect the board in every image (:meth:`vrkit.vision.board.Board.detect`: ChArUco corners
   with ids, checkerboard corners in a canonical order, or ArUco grid marker corners);
2. per-camera intrinsics with ``cv2.calibrateCamera`` (or keep given intrinsics);
3. initial extrinsics: a board pose per (view, camera) by PnP, relative camera poses from views
   seen by two cameras (robust medoid), chained from camera 0 over the pair graph;
4. joint extrinsics: the bundle adjustment of :mod:`vrkit.tracking.bundle` over all camera
   poses and board poses; ``refine_intrinsics`` frees each camera's intrinsics too.
   ``method="opencv"`` uses ``cv2.calibrateMultiview`` instead where the installed OpenCV has
   it (it needs every board corner seen in a view, so it suits checkerboards);
5. the report: per-camera intrinsic RMS, and per-camera and per-pair reprojection RMS of the
   final rig in distorted pixels (``cv2.projectPoints``).

The rig frame is camera 0 turned to vrkit axes (camera 0 at the origin looking down -z, y up).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.core.progress import progress_bar
from vrkit.math import transforms as tf
from vrkit.tracking.bundle import BoardObservation, bundle_adjust
from vrkit.tracking.camera import T_GLCAM_CVCAM, Camera, Rig
from vrkit.vision.board import MIN_POINTS, Board
from vrkit.vision.camera import CameraKind, CameraModel

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]


@dataclass
class Detections:
    """Board detections of all views and cameras.

    Attributes:
        image_sizes: Per camera ``(width, height)``.
        views: ``views[v][c]`` = (ids (N,), pixels (N, 2)) or None when camera c missed view v.
    """

    image_sizes: list[tuple[int, int]]
    views: list[list[tuple[NDArray[np.int64], F64] | None]]


def detect_views(
    board: Board, images: list[list[NDArray | None]], progress: bool = False
) -> Detections:
    """Detect the board in ``images[v][c]`` (None entries are skipped)."""
    n_cam = len(images[0])
    sizes: list[tuple[int, int] | None] = [None] * n_cam
    views = []
    for row in progress_bar(images, enabled=progress, desc="detect", unit="view"):
        out = []
        for c, img in enumerate(row):
            if img is None:
                out.append(None)
                continue
            size = (img.shape[1], img.shape[0])
            if sizes[c] is None:
                sizes[c] = size
            elif sizes[c] != size:
                raise DataError(f"camera {c}: image size changed from {sizes[c]} to {size}")
            found = board.detect(img)
            out.append(None if found is None else (found.ids, found.image_points))
        views.append(out)
    if any(s is None for s in sizes):
        raise DataError(f"cameras {[c for c, s in enumerate(sizes) if s is None]} have no images")
    return Detections(sizes, views)  # type: ignore[arg-type]


def calibrate_intrinsics(
    board: Board,
    det: Detections,
    camera: int,
    model: CameraKind = "pinhole",
    min_views: int = 5,
    fix_k3: bool = True,
    rational: bool = False,
) -> CameraModel:
    """Intrinsics of one camera from its board views.

    ``fix_k3`` keeps the sixth-order radial term at zero (``cv2.CALIB_FIX_K3``), as OpenCV
    advises for lenses that are not wide-angle: the free term trades off against the focal
    length and makes both less certain. ``rational`` fits OpenCV's rational model instead
    (``cv2.CALIB_RATIONAL_MODEL``: k1..k6, p1, p2), for wide lenses.

    Views whose corners are nearly collinear (their spread across the line below 0.4 squares
    or marker sides,
    e.g. six corners along one edge of a partly visible board) are left out: they add almost
    nothing and can send OpenCV's closed-form initial guess astray (measured: one such view
    among 36 gave a focal length 285 px off).

    Returns:
        The camera model (5 pinhole or 4 fisheye coefficients) with its RMS in pixels.

    Raises:
        DataError: Fewer than ``min_views`` views show the board.
    """
    import cv2

    obj_all = board.object_points()
    obj, img = [], []
    for row in det.views:
        d = row[camera]
        if d is None or len(d[0]) < MIN_POINTS:
            continue
        xy = obj_all[d[0], :2]
        spread = np.linalg.svd(xy - xy.mean(axis=0), compute_uv=False)[-1] / np.sqrt(len(xy))
        if spread < 0.4 * board.pitch:
            continue
        obj.append(obj_all[d[0]].astype(np.float32).reshape(-1, 1, 3))
        img.append(d[1].astype(np.float32).reshape(-1, 1, 2))
    if len(obj) < min_views:
        raise DataError(
            f"camera {camera}: the board is visible in {len(obj)} views, need >= {min_views}",
            "capture more views that show the board to this camera",
        )
    size = det.image_sizes[camera]
    if model == "fisheye":
        K, D = np.eye(3), np.zeros(4)
        flags = cv2.fisheye.CALIB_RECOMPUTE_EXTRINSIC | cv2.fisheye.CALIB_FIX_SKEW
        crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
        rms, K, D, _, _ = cv2.fisheye.calibrate(obj, img, size, K, D, flags=flags, criteria=crit)
        return CameraModel("fisheye", size, K, D.ravel(), float(rms))
    if rational:
        rms, K, D, _, _ = cv2.calibrateCamera(
            obj, img, size, None, None, flags=cv2.CALIB_RATIONAL_MODEL
        )
        return CameraModel("pinhole", size, K, D.ravel()[:8], float(rms))
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    rms, K, D, _, _ = cv2.calibrateCamera(obj, img, size, None, None, flags=flags)
    return CameraModel("pinhole", size, K, D.ravel()[:5], float(rms))


def _medoid(Ts: list[F64]) -> F64:
    """The transform closest to all others (rotation angle + translation distance in m)."""
    if len(Ts) <= 2:
        return Ts[0]
    cost = []
    for A in Ts:
        c = 0.0
        for B in Ts:
            ang = tf.rotation_angle(A[:3, :3] @ B[:3, :3].T)
            c += ang + np.linalg.norm(A[:3, 3] - B[:3, 3])
        cost.append(c)
    return Ts[int(np.argmin(cost))]


@dataclass
class RigCalibration:
    """Result of :func:`calibrate_rig`.

    Attributes:
        rig: The calibrated rig (rig frame = camera 0 with vrkit axes).
        report: Per-camera intrinsic RMS and per-camera / per-pair reprojection RMS (pixels),
            views used, method.
        T_cam_board: Final board pose per (view, camera) used, ``{(v, c): (4, 4)}``.
    """

    rig: Rig
    report: dict
    T_cam_board: dict[tuple[int, int], F64]


def _board_pose(cam: Camera, obj: F64, px: F64) -> F64 | None:
    """``T_cam_board`` (4, 4) by IPPE PnP on undistorted points, or None."""
    import cv2

    xy = cam.undistort_points(px).reshape(-1, 1, 2)
    ok, rvec, tvec = cv2.solvePnP(obj.reshape(-1, 1, 3), xy, np.eye(3), None,
                                  flags=cv2.SOLVEPNP_IPPE)  # fmt: skip
    if not ok:
        return None
    return tf.transform_from_vector(np.concatenate([rvec.ravel(), tvec.ravel()]))


def reprojection_report(
    cameras: list[Camera], board: Board, det: Detections, T_cam0_board: dict[int, F64]
) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """Per-camera and per-pair RMS (distorted pixels) of the rig against the detections.

    Args:
        cameras: Cameras with ``T_rig_cam`` set.
        board: The board.
        det: Detections.
        T_cam0_board: Board pose per view in camera 0's frame.

    Returns:
        ``{camera name: rms}``, ``{"camA-camB": rms over views both saw}``, and all squared
        errors (per corner) as a flat list.
    """
    obj_all = board.object_points()
    T_rig_cam0 = cameras[0].T_rig_cam
    sq: dict[tuple[int, int], F64] = {}
    for v, T in T_cam0_board.items():
        for c, cam in enumerate(cameras):
            d = det.views[v][c]
            if d is None:
                continue
            T_c_b = cam.T_cam_rig @ T_rig_cam0 @ T
            proj = cam.project(tf.transform_points(T_c_b, obj_all[d[0]]))
            sq[(v, c)] = np.sum((proj - d[1]) ** 2, axis=1)
    per_cam = {}
    for c, cam in enumerate(cameras):
        e = [x for (v, cc), x in sq.items() if cc == c]
        if e:
            per_cam[cam.name] = float(np.sqrt(np.mean(np.concatenate(e))))
    per_pair = {}
    for a, b in combinations(range(len(cameras)), 2):
        e = [np.concatenate([sq[(v, a)], sq[(v, b)]]) for v in T_cam0_board
             if (v, a) in sq and (v, b) in sq]  # fmt: skip
        if e:
            per_pair[f"{cameras[a].name}-{cameras[b].name}"] = float(
                np.sqrt(np.mean(np.concatenate(e)))
            )
    flat = np.concatenate(list(sq.values())).tolist() if sq else []
    return per_cam, per_pair, flat


def calibrate_rig(
    board: Board,
    det: Detections,
    names: list[str] | None = None,
    intrinsics: list[CameraModel] | None = None,
    model: CameraKind = "pinhole",
    method: str = "bundle",
    mounting: str = "world",
    fix_k3: bool = True,
    refine_intrinsics: bool = False,
    rational: bool = False,
    progress: bool = False,
) -> RigCalibration:
    """Calibrate intrinsics (unless given) and joint extrinsics of a rig.

    Args:
        board: The board seen in the views.
        det: Board detections per view and camera.
        names: Camera names (default ``cam0``...).
        intrinsics: Per camera the intrinsics to keep (skip step 2), e.g. from camera files.
        model: ``"pinhole"`` or ``"fisheye"`` for intrinsic calibration.
        method: ``"bundle"`` (own sparse bundle adjustment) or ``"opencv"``
            (``cv2.calibrateMultiview``; falls back to ``"bundle"`` when absent).
        mounting: Mounting stored in the rig (``"world"`` or ``"head"``).
        fix_k3: Keep ``k3 = 0`` in pinhole intrinsics (see :func:`calibrate_intrinsics`).
        refine_intrinsics: Refine every camera's fx, fy, cx, cy, k1, k2, p1, p2 in the bundle
            adjustment too (pinhole, ``method="bundle"``); every board view takes part then,
            also those that only one camera saw (they carry most of the intrinsic geometry).
        rational: Fit pinhole intrinsics with OpenCV's rational model (k1..k6, p1, p2), as
            OpenCV's own multi-view test does for its wide-lens recordings.
        progress: Show a bar on stderr: one step per camera's intrinsics, one for the joint
            solve.

    Returns:
        The rig and its report.

    Raises:
        DataError: Too few views, or a camera shares no view with the others.
    """
    import cv2

    n_cam = len(det.image_sizes)
    names = names or [f"cam{c}" for c in range(n_cam)]
    if len(names) != n_cam:
        raise InputError(f"{len(names)} names for {n_cam} cameras")
    report: dict = {"method": method, "board": board.to_dict(), "intrinsics_rms_px": {}}
    if intrinsics is not None and len(intrinsics) != n_cam:
        raise InputError(f"{len(intrinsics)} camera intrinsics for {n_cam} cameras")
    bar = progress_bar(total=n_cam + 1, desc="calibrate rig", unit="step", enabled=progress)
    cams: list[Camera] = []
    for c in range(n_cam):
        if intrinsics is not None:
            model_c = intrinsics[c]
            model_c.check_image_size(det.image_sizes[c], f"camera {names[c]}", "its intrinsics")
        else:
            model_c = calibrate_intrinsics(board, det, c, model, fix_k3=fix_k3, rational=rational)
            report["intrinsics_rms_px"][names[c]] = model_c.rms_px
        cams.append(Camera(names[c], model_c))
        bar.update(1)
    obj_all = board.object_points()

    # initial board poses and relative camera poses
    T_cb: dict[tuple[int, int], F64] = {}
    for v, row in enumerate(det.views):
        for c, d in enumerate(row):
            if d is not None and len(d[0]) >= MIN_POINTS:
                T = _board_pose(cams[c], obj_all[d[0]], d[1])
                if T is not None:
                    T_cb[(v, c)] = T
    pair_T: dict[tuple[int, int], list[F64]] = {}
    for (v, a), Ta in T_cb.items():
        for b in range(n_cam):
            if b != a and (v, b) in T_cb:
                pair_T.setdefault((a, b), []).append(T_cb[(v, b)] @ tf.invert_transform(Ta))
    T_c_c0: dict[int, F64] = {0: np.eye(4)}
    frontier = [0]
    while frontier:
        a = frontier.pop(0)
        for b in sorted(range(n_cam), key=lambda b: -len(pair_T.get((a, b), []))):
            if b not in T_c_c0 and len(pair_T.get((a, b), [])) >= 1:
                T_c_c0[b] = _medoid(pair_T[(a, b)]) @ T_c_c0[a]  # T_b_a @ T_a_c0
                frontier.append(b)
    missing = [names[c] for c in range(n_cam) if c not in T_c_c0]
    if missing:
        raise DataError(
            f"cameras {missing} share no board view with camera {names[0]} (directly or "
            f"through other cameras)",
            "capture views where the board is seen by overlapping camera pairs",
        )
    views = sorted({v for (v, c) in T_cb if sum((v, k) in T_cb for k in range(n_cam)) >= 2})
    if not views:
        raise DataError("no view shows the board to two cameras at once")
    if refine_intrinsics and method == "bundle":
        views = sorted({v for (v, c) in T_cb})
    T_c0_b: dict[int, F64] = {}
    for v in views:
        best = max((c for c in range(n_cam) if (v, c) in T_cb),
                   key=lambda c: len(det.views[v][c][0]))  # fmt: skip
        T_c0_b[v] = tf.invert_transform(T_c_c0[best]) @ T_cb[(v, best)]

    used = "bundle"
    if method == "opencv":
        if hasattr(cv2, "calibrateMultiview"):
            T_c_c0, T_c0_b = _multiview_opencv(cams, board, det, views, T_c_c0)
            used = "opencv-calibrateMultiview"
        else:
            log.warning("this OpenCV has no calibrateMultiview; using the own bundle adjustment")
    if used == "bundle":
        obs = [BoardObservation(k, c, obj_all[d[0]], d[1]) for k, v in enumerate(views)
               for c, d in enumerate(det.views[v]) if d is not None]  # fmt: skip
        ba = bundle_adjust(
            [cam.intrinsics for cam in cams], obs, [T_c_c0[c] for c in range(n_cam)],
            [T_c0_b[v] for v in views], refine_intrinsics,
        )  # fmt: skip
        T_c_c0 = dict(enumerate(ba.T_cam_cam0))
        T_c0_b = dict(zip(views, ba.T_cam0_board, strict=True))
        for cam, model_c in zip(cams, ba.cameras, strict=True):
            cam.intrinsics = model_c
    bar.update(1)
    bar.close()
    report["method"] = used
    report["intrinsics_refined"] = bool(refine_intrinsics and used == "bundle")
    for c, cam in enumerate(cams):
        cam.T_rig_cam = T_GLCAM_CVCAM @ tf.invert_transform(T_c_c0[c])
    per_cam, per_pair, flat = reprojection_report(cams, board, det, T_c0_b)
    report["views_used"] = len(views)
    report["camera_rms_px"] = per_cam
    report["pair_rms_px"] = per_pair
    report["total_rms_px"] = float(np.sqrt(np.mean(flat))) if flat else float("nan")
    rig = Rig(cams, mounting=mounting, report=report)
    T_cam_board = {(v, c): T_c_c0[c] @ T for v, T in T_c0_b.items() for c in range(n_cam)
                   if det.views[v][c] is not None}  # fmt: skip
    return RigCalibration(rig, report, T_cam_board)


def _multiview_opencv(
    cams: list[Camera], board: Board, det: Detections, views: list[int], T_c_c0: dict[int, F64]
) -> tuple[dict[int, F64], dict[int, F64]]:
    """Extrinsics with ``cv2.calibrateMultiview`` (intrinsics fixed); board poses re-fitted."""
    import cv2

    obj_all = board.object_points()
    n_all = len(obj_all)
    full = [v for v in views if sum(
        det.views[v][c] is not None and len(det.views[v][c][0]) == n_all for c in range(len(cams))
    ) >= 2]  # fmt: skip
    if not full:
        raise DataError("calibrateMultiview needs views where >= 2 cameras see every corner")
    obj = [obj_all.astype(np.float32) for _ in full]
    img, mask = [], np.zeros((len(cams), len(full)), np.uint8)
    for c in range(len(cams)):
        per = []
        for k, v in enumerate(full):
            d = det.views[v][c]
            if d is not None and len(d[0]) == n_all:
                per.append(d[1][np.argsort(d[0])].astype(np.float32))
                mask[c, k] = 1
            else:
                per.append(np.zeros((n_all, 2), np.float32))
        img.append(per)
    sizes = [np.array(s, np.int32) for s in det.image_sizes]
    models = np.array([cv2.CALIB_MODEL_FISHEYE if c.kind == "fisheye" else
                       cv2.CALIB_MODEL_PINHOLE for c in cams], np.uint8)  # fmt: skip
    Ks = [c.K.copy() for c in cams]
    Ds = [c.dist.copy().reshape(1, -1) for c in cams]
    flags_i = np.full(len(cams), cv2.CALIB_FIX_INTRINSIC, np.int32)
    Rs = [tf.rotation_vector_from_matrix(T_c_c0[c][:3, :3]).reshape(3, 1) for c in range(len(cams))]
    Ts = [T_c_c0[c][:3, 3].reshape(3, 1).copy() for c in range(len(cams))]
    out = cv2.calibrateMultiview(obj, img, sizes, mask, models, Ks, Ds, Rs, Ts,
                                 flagsForIntrinsics=flags_i,
                                 flags=cv2.CALIB_USE_EXTRINSIC_GUESS)  # fmt: skip
    Rs_out, Ts_out = out[3], out[4]
    T_c = {}
    for c in range(len(cams)):
        R = np.asarray(Rs_out[c], dtype=np.float64)
        R = tf.matrix_from_rotation_vector(R.ravel()) if R.size == 3 else R.reshape(3, 3)
        T_c[c] = tf.transform(R, np.asarray(Ts_out[c], dtype=np.float64).ravel())
    T_b = {}
    for v in views:
        poses = []
        for c in range(len(cams)):
            d = det.views[v][c]
            if d is not None and len(d[0]) >= MIN_POINTS:
                T = _board_pose(cams[c], obj_all[d[0]], d[1])
                if T is not None:
                    poses.append(tf.invert_transform(T_c[c]) @ T)
        if poses:
            T_b[v] = _refit_board_pose(cams, T_c, obj_all, det.views[v], _medoid(poses))
    return T_c, T_b


def _refit_board_pose(
    cams: list[Camera],
    T_c_c0: dict[int, F64],
    obj_all: F64,
    row: list[tuple[NDArray[np.int64], F64] | None],
    T_c0_b: F64,
) -> F64:
    """The board pose (4, 4) in camera 0's frame refitted with the cameras held fixed.

    Minimises the distorted-pixel error in every camera that saw the board
    (``scipy.optimize.least_squares``), starting from ``T_c0_b``.
    """
    import cv2
    from scipy.optimize import least_squares

    seen = [(c, d) for c, d in enumerate(row) if d is not None]

    def residuals(x: F64) -> F64:
        T = tf.transform_from_vector(x)
        out = []
        for c, d in seen:
            rt = tf.vector_from_transform(T_c_c0[c] @ T)
            X = obj_all[d[0]].reshape(-1, 1, 3)
            uv, _ = cv2.projectPoints(X, rt[:3], rt[3:], cams[c].K, cams[c].dist)
            out.append((uv.reshape(-1, 2) - d[1]).ravel())
        return np.concatenate(out)

    res = least_squares(residuals, tf.vector_from_transform(T_c0_b), method="lm", xtol=1e-12)
    return tf.transform_from_vector(res.x) if res.success else T_c0_b
