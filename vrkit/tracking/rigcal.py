"""Rig calibration from views of a ChArUco board or checkerboard seen by overlapping cameras.

Steps:

1. detect the board in every image (ChArUco corners with ids, or checkerboard corners);
2. per-camera intrinsics with ``cv2.calibrateCamera`` (or keep given intrinsics);
3. initial extrinsics: a board pose per (view, camera) by PnP, relative camera poses from views
   seen by two cameras (robust medoid), chained from camera 0 over the pair graph;
4. joint extrinsics: a bundle adjustment over all camera poses and board poses
   (``scipy.optimize.least_squares``, sparse analytic Jacobian, soft-L1 loss, then plain least
   squares) on distorted pixels; ``refine_intrinsics`` frees each camera's intrinsics too.
   ``method="opencv"`` uses ``cv2.calibrateMultiview`` instead
   where the installed OpenCV has it (it needs every board corner seen in a view, so it suits
   checkerboards);
5. the report: per-camera intrinsic RMS, and per-camera and per-pair reprojection RMS of the
   final rig in distorted pixels (``cv2.projectPoints``).

The rig frame is camera 0 turned to vrkit axes (camera 0 at the origin looking down -z, y up).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError, ProfileError
from vrkit.math import transforms as tf
from vrkit.tracking.camera import T_GLCAM_CVCAM, Camera, Rig

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]
BOARD_SCHEMA = "vrkit.tracking.board/1"


@dataclass
class Board:
    """A planar calibration board.

    Attributes:
        kind: ``"charuco"`` or ``"checkerboard"``.
        squares: ``(columns, rows)`` of squares.
        square_size: Square side in metres.
        marker_size: ArUco marker side in metres (ChArUco only).
        dictionary: ArUco dictionary name (ChArUco only).
        subpix_window: Half size of ``cv2.cornerSubPix``'s window for checkerboard corners
            (OpenCV's stereo sample uses (11, 11); use about a third of a square in pixels).
    """

    kind: str
    squares: tuple[int, int]
    square_size: float
    marker_size: float = 0.0
    dictionary: str = "DICT_4X4_50"
    subpix_window: tuple[int, int] = (11, 11)
    _cv: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("charuco", "checkerboard"):
            raise ProfileError(f"board kind must be charuco or checkerboard, got {self.kind!r}")
        cols, rows = (int(v) for v in self.squares)
        if cols < 3 or rows < 3:
            raise ProfileError(f"a board needs >= 3x3 squares, got {cols}x{rows}")
        self.squares = (cols, rows)
        if self.square_size <= 0:
            raise ProfileError(f"square_size must be > 0 metres, got {self.square_size}")
        if self.kind == "charuco" and not 0 < self.marker_size < self.square_size:
            raise ProfileError(
                f"ChArUco marker_size must be in (0, square_size={self.square_size}), got "
                f"{self.marker_size}"
            )

    @property
    def cv_board(self) -> object:
        """The ``cv2.aruco.CharucoBoard`` (ChArUco only)."""
        if self._cv is None and self.kind == "charuco":
            import cv2

            from vrkit.tracking.synth import aruco_dictionary

            self._cv = cv2.aruco.CharucoBoard(
                self.squares, self.square_size, self.marker_size,
                aruco_dictionary(self.dictionary),
            )  # fmt: skip
        return self._cv

    def object_points(self) -> F64:
        """Inner corners (N, 3) in the board frame (z = 0), metres, in detection-id order."""
        cols, rows = self.squares
        if self.kind == "charuco":
            return np.asarray(self.cv_board.getChessboardCorners(), dtype=np.float64).reshape(-1, 3)
        g = np.mgrid[0 : cols - 1, 0 : rows - 1].T.reshape(-1, 2) * self.square_size
        return np.hstack([g, np.zeros((len(g), 1))])

    def outline(self) -> tuple[float, float]:
        """Board size (width, height) in metres."""
        return self.squares[0] * self.square_size, self.squares[1] * self.square_size

    def detect(self, image: NDArray) -> tuple[NDArray[np.int64], F64]:
        """Find board corners.

        Args:
            image: (H, W) uint8 grey image.

        Returns:
            Corner ids (N,) into :meth:`object_points` and their pixels (N, 2); empty if absent.
        """
        import cv2

        empty = (np.zeros(0, np.int64), np.zeros((0, 2)))
        if self.kind == "charuco":
            det = cv2.aruco.CharucoDetector(self.cv_board)
            corners, ids, _, _ = det.detectBoard(image)
            if ids is None or len(ids) < 6:
                return empty
            ids = ids.ravel().astype(np.int64)
            px, ok = self._refine_charuco(image, ids, corners.reshape(-1, 2).astype(np.float64))
            if ok.sum() < 6:
                return empty
            return ids[ok], px[ok]
        pattern = (self.squares[0] - 1, self.squares[1] - 1)
        ok, corners = cv2.findChessboardCorners(
            image,
            pattern,
            cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK,
        )
        if not ok:
            return empty
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
        corners = cv2.cornerSubPix(image, corners, self.subpix_window, (-1, -1), crit)
        px = corners.reshape(-1, 2).astype(np.float64)
        return np.arange(len(px), dtype=np.int64), self._canonical_order(image, px, pattern)

    def _refine_charuco(self, image: NDArray, ids: NDArray, px: F64) -> tuple[F64, NDArray]:
        """Saddle-point refinement of ChArUco corners (see ``refine_saddle_corners``).

        The window grows with the local square size in the image (from the board-to-image
        homography) but stays inside the gap between a corner and the nearest marker edge.
        """
        import cv2

        from vrkit.tracking.detect import refine_saddle_corners

        obj = self.object_points()[ids, :2]
        H, _ = cv2.findHomography(obj, px)
        if H is None:
            return px, np.zeros(len(px), bool)
        s = self.square_size

        def to_image(p: F64) -> F64:
            q = np.c_[p, np.ones(len(p))] @ H.T
            return q[:, :2] / q[:, 2:]

        p0 = to_image(obj)
        dx, dy = np.array([s, 0.0]), np.array([0.0, s])
        side = np.minimum(np.linalg.norm(to_image(obj + dx) - p0, axis=1),
                          np.linalg.norm(to_image(obj + dy) - p0, axis=1))  # fmt: skip
        gap = 0.5 * (self.square_size - self.marker_size) / self.square_size
        radius = np.clip(np.floor(gap * side), 2, 4).astype(np.int64)
        return refine_saddle_corners(image, px, radius, sigma=1.0)

    def _canonical_order(self, image: NDArray, px: F64, pattern: tuple[int, int]) -> F64:
        """Reorder checkerboard corners (N, 2) so that they match :meth:`object_points`.

        OpenCV may return the grid starting at any corner, mirrored or not. Seen from the
        front, the board's x and y axes keep their handedness in the image (so mirrored orders
        are wrong), and the square between corners 0, 1, n, n + 1 is black (decides between
        the two half-turn orders when ``columns + rows`` is odd).
        """
        n, m = pattern
        g = px.reshape(m, n, 2)
        candidates = [g, g[::-1, ::-1], g[::-1], g[:, ::-1]]
        best = g
        for cand in candidates:
            ex, ey = cand[0, 1] - cand[0, 0], cand[1, 0] - cand[0, 0]
            if ex[0] * ey[1] - ex[1] * ey[0] <= 0:
                continue
            cx, cy = cand[:2, :2].reshape(-1, 2).mean(axis=0)
            x0, y0 = round(cx), round(cy)
            patch = image[max(y0 - 1, 0) : y0 + 2, max(x0 - 1, 0) : x0 + 2]
            ox, oy = cand[-2:, -2:].reshape(-1, 2).mean(axis=0)  # the opposite end's square
            x1, y1 = round(ox), round(oy)
            other = image[max(y1 - 1, 0) : y1 + 2, max(x1 - 1, 0) : x1 + 2]
            best = cand
            if (self.squares[0] + self.squares[1]) % 2 == 0 or (
                patch.size and other.size and patch.mean() < other.mean()
            ):
                break
        return np.ascontiguousarray(best.reshape(-1, 2))

    def texture(self, px_per_square: int = 64, margin_squares: float = 0.5) -> NDArray[np.uint8]:
        """Grey image (H, W) of the board with a white margin (for rendering or printing)."""
        import cv2

        cols, rows = self.squares
        m = round(margin_squares * px_per_square)
        if self.kind == "charuco":
            img = self.cv_board.generateImage((cols * px_per_square, rows * px_per_square))
        else:
            yy, xx = np.mgrid[0:rows, 0:cols]
            cells = np.where((xx + yy) % 2 == 0, 0, 255).astype(np.uint8)
            img = np.kron(cells, np.ones((px_per_square, px_per_square), np.uint8))
        return cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT, value=255)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        d = {"schema": BOARD_SCHEMA, "kind": self.kind, "squares": list(self.squares),
             "square_size": self.square_size}  # fmt: skip
        if self.kind == "charuco":
            d.update(marker_size=self.marker_size, dictionary=self.dictionary)
        return d

    @classmethod
    def load(cls, path: str | Path) -> Board:
        """Read a board JSON file."""
        data = read_document(path, "board", ProfileError)
        if data.get("schema") != BOARD_SCHEMA:
            raise ProfileError(f"board file {str(path)!r}: schema {data.get('schema')!r}, "
                               f"expected {BOARD_SCHEMA!r}")  # fmt: skip
        try:
            return cls(
                data["kind"],
                tuple(data["squares"]),
                float(data["square_size"]),
                float(data.get("marker_size", 0.0)),
                data.get("dictionary", "DICT_4X4_50"),
            )
        except KeyError as exc:
            raise ProfileError(f"board file {str(path)!r} misses key {exc}") from exc


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
    from tqdm import tqdm

    n_cam = len(images[0])
    sizes: list[tuple[int, int] | None] = [None] * n_cam
    views = []
    for row in tqdm(images, disable=not progress, desc="detect", unit="view"):
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
            ids, px = board.detect(img)
            out.append((ids, px) if len(ids) else None)
        views.append(out)
    if any(s is None for s in sizes):
        raise DataError(f"cameras {[c for c, s in enumerate(sizes) if s is None]} have no images")
    return Detections(sizes, views)  # type: ignore[arg-type]


def calibrate_intrinsics(
    board: Board,
    det: Detections,
    camera: int,
    model: str = "pinhole",
    min_views: int = 5,
    fix_k3: bool = True,
) -> tuple[F64, F64, float]:
    """Intrinsics of one camera from its board views.

    ``fix_k3`` keeps the sixth-order radial term at zero (``cv2.CALIB_FIX_K3``), as OpenCV
    advises for lenses that are not wide-angle: the free term trades off against the focal
    length and makes both less certain.

    Views whose corners are nearly collinear (their spread across the line below 0.4 squares,
    e.g. six corners along one edge of a partly visible board) are left out: they add almost
    nothing and can send OpenCV's closed-form initial guess astray (measured: one such view
    among 36 gave a focal length 285 px off).

    Returns:
        K (3, 3), distortion coefficients (5,) or (4,) for fisheye, and the RMS in pixels.

    Raises:
        DataError: Fewer than ``min_views`` views show the board.
    """
    import cv2

    obj_all = board.object_points()
    obj, img = [], []
    for row in det.views:
        d = row[camera]
        if d is None or len(d[0]) < 6:
            continue
        xy = obj_all[d[0], :2]
        spread = np.linalg.svd(xy - xy.mean(axis=0), compute_uv=False)[-1] / np.sqrt(len(xy))
        if spread < 0.4 * board.square_size:
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
        return K, D.ravel(), float(rms)
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    rms, K, D, _, _ = cv2.calibrateCamera(obj, img, size, None, None, flags=flags)
    return K, D.ravel()[:5], float(rms)


def _rodrigues(r: F64) -> F64:
    """Rotation matrices (M, 3, 3) from rotation vectors (M, 3)."""
    return tf.matrix_from_quat(tf.quat_from_rotation_vector(r))


def _to_vec(T: F64) -> F64:
    return np.concatenate([tf.rotation_vector_from_quat(tf.quat_from_matrix(T[:3, :3])), T[:3, 3]])


def _from_vec(v: F64) -> F64:
    return tf.transform(_rodrigues(v[:3]), v[3:])


def _medoid(Ts: list[F64]) -> F64:
    """The transform closest to all others (rotation angle + translation distance in m)."""
    if len(Ts) <= 2:
        return Ts[0]
    cost = []
    for A in Ts:
        c = 0.0
        for B in Ts:
            dR = A[:3, :3] @ B[:3, :3].T
            ang = np.arccos(np.clip((np.trace(dR) - 1) / 2, -1, 1))
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
    import cv2

    xy = cam.normalize(px).reshape(-1, 1, 2)
    ok, rvec, tvec = cv2.solvePnP(obj.reshape(-1, 1, 3), xy, np.eye(3), None,
                                  flags=cv2.SOLVEPNP_IPPE)  # fmt: skip
    if not ok:
        return None
    return tf.transform(cv2.Rodrigues(rvec)[0], tvec.ravel())


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
    intrinsics: list[Camera] | None = None,
    model: str = "pinhole",
    method: str = "bundle",
    mounting: str = "world",
    fix_k3: bool = True,
    refine_intrinsics: bool = False,
) -> RigCalibration:
    """Calibrate intrinsics (unless given) and joint extrinsics of a rig.

    Args:
        board: The board seen in the views.
        det: Board detections per view and camera.
        names: Camera names (default ``cam0``...).
        intrinsics: Cameras whose K and distortion to keep (skip step 2).
        model: ``"pinhole"`` or ``"fisheye"`` for intrinsic calibration.
        method: ``"bundle"`` (own sparse bundle adjustment) or ``"opencv"``
            (``cv2.calibrateMultiview``; falls back to ``"bundle"`` when absent).
        mounting: Mounting stored in the rig (``"world"`` or ``"head"``).
        fix_k3: Keep ``k3 = 0`` in pinhole intrinsics (see :func:`calibrate_intrinsics`).
        refine_intrinsics: Refine every camera's fx, fy, cx, cy, k1, k2, p1, p2 in the bundle
            adjustment too (pinhole, ``method="bundle"``); every board view takes part then,
            also those that only one camera saw (they carry most of the intrinsic geometry).

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
    cams: list[Camera] = []
    for c in range(n_cam):
        w, h = det.image_sizes[c]
        if intrinsics is not None:
            src = intrinsics[c]
            if (src.width, src.height) != (w, h):
                raise InputError(
                    f"camera {names[c]}: intrinsics are for {src.width}x{src.height} but the "
                    f"images are {w}x{h}"
                )
            K, D = src.K, src.dist
            model_c = src.model
        else:
            K, D, rms = calibrate_intrinsics(board, det, c, model, fix_k3=fix_k3)
            report["intrinsics_rms_px"][names[c]] = rms
            model_c = model
        cams.append(Camera(names[c], w, h, K, D, model_c))
    obj_all = board.object_points()

    # initial board poses and relative camera poses
    T_cb: dict[tuple[int, int], F64] = {}
    for v, row in enumerate(det.views):
        for c, d in enumerate(row):
            if d is not None and len(d[0]) >= 6:
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
        T_c_c0, T_c0_b = _bundle_adjust(
            cams, obj_all, det, views, T_c_c0, T_c0_b, refine_intrinsics
        )
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


def _compose(p12: F64) -> F64:
    """(rvec, tvec) (6,) of ``T_c_c0 @ T_c0_b`` from (rc, tc, rv, tv) (12,)."""
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


def _bundle_adjust(
    cams: list[Camera],
    obj_all: F64,
    det: Detections,
    views: list[int],
    T_c_c0: dict[int, F64],
    T_c0_b: dict[int, F64],
    refine_intrinsics: bool = False,
) -> tuple[dict[int, F64], dict[int, F64]]:
    """Joint refinement of camera poses (camera 0 fixed) and board poses; soft-L1, sparse J.

    Residuals are distorted pixels (``cv2.projectPoints`` per view and camera), the quantity
    OpenCV's calibration functions minimise and report. The Jacobian is analytic:
    ``cv2.projectPoints``'s own derivatives (pose of the board in the camera, focal lengths,
    principal point, distortion) chained with the derivative of the pose composition. With
    ``refine_intrinsics`` (pinhole cameras) each camera's fx, fy, cx, cy, k1, k2, p1, p2 are
    refined too (higher coefficients such as k3 keep their values) and written into ``cams``.
    """
    import cv2
    from scipy.optimize import least_squares
    from scipy.sparse import coo_matrix

    n_cam = len(cams)
    if refine_intrinsics and any(c.model != "pinhole" for c in cams):
        raise InputError("refining intrinsics in the bundle adjustment needs pinhole cameras")
    vi = {v: k for k, v in enumerate(views)}
    blocks = []  # (view index, camera, object points (n, 1, 3), pixels (n, 2), first row)
    n_res = 0
    for v in views:
        for c in range(n_cam):
            d = det.views[v][c]
            if d is not None:
                blocks.append((vi[v], c, obj_all[d[0]].reshape(-1, 1, 3), d[1], n_res))
                n_res += 2 * len(d[0])
    n_pc, n_pv = 6 * (n_cam - 1), 6 * len(views)
    n_in = 8 if refine_intrinsics else 0
    parts = [_to_vec(T_c_c0[c]) for c in range(1, n_cam)] + [_to_vec(T_c0_b[v]) for v in views]
    for cam in cams if n_in else []:
        d4 = np.zeros(4)
        d4[: min(4, len(cam.dist))] = cam.dist[:4]
        parts.append(np.concatenate([cam.K[[0, 1, 0, 1], [0, 1, 2, 2]], d4]))
    x0 = np.concatenate(parts)

    def intrinsics(x: F64, c: int) -> tuple[F64, F64]:
        cam = cams[c]
        if not n_in:
            return cam.K, cam.dist
        p = x[n_pc + n_pv + n_in * c : n_pc + n_pv + n_in * (c + 1)]
        K = np.array([[p[0], 0.0, p[2]], [0.0, p[1], p[3]], [0.0, 0.0, 1.0]])
        dist = np.zeros(max(len(cam.dist), 4))
        dist[: len(cam.dist)] = cam.dist
        dist[:4] = p[4:]
        return K, dist

    def pose_pair(x: F64, c: int, vk: int) -> F64:
        pc = np.zeros(6) if c == 0 else x[6 * (c - 1) : 6 * c]
        return np.concatenate([pc, x[n_pc + 6 * vk : n_pc + 6 * vk + 6]])

    last: dict = {}

    def evaluate(x: F64, want_jac: bool) -> tuple[F64, object]:
        key = x.tobytes()
        if last.get("key") == key and (last["jac"] is not None or not want_jac):
            return last["r"], last["jac"]
        r = np.empty(n_res)
        rows, cols, vals = [], [], []
        Ks = [intrinsics(x, c) for c in range(n_cam)]
        for vk, c, X, obs, r0 in blocks:
            p12 = pose_pair(x, c, vk)
            rt = _compose(p12)
            uv, J = cv2.projectPoints(X, rt[:3], rt[3:], *Ks[c])
            n2 = 2 * len(X)
            r[r0 : r0 + n2] = (uv.reshape(-1, 2) - obs).ravel()
            if not want_jac:
                continue
            Jp = J[:, :6] @ _compose_jacobian(p12)  # (n2, 12): camera pose, board pose
            sub = [(Jp[:, 6:], n_pc + 6 * vk)]
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
    if n_in:
        for c, cam in enumerate(cams):
            cam.K, cam.dist = intrinsics(x, c)
    T_c = {c: _from_vec(pose_pair(x, c, 0)[:6]) for c in range(n_cam)}
    T_b = {v: _from_vec(x[n_pc + 6 * vi[v] : n_pc + 6 * vi[v] + 6]) for v in views}
    return T_c, T_b


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
    models = np.array([cv2.CALIB_MODEL_FISHEYE if c.model == "fisheye" else
                       cv2.CALIB_MODEL_PINHOLE for c in cams], np.uint8)  # fmt: skip
    Ks = [c.K.copy() for c in cams]
    Ds = [c.dist.copy().reshape(1, -1) for c in cams]
    flags_i = np.full(len(cams), cv2.CALIB_FIX_INTRINSIC, np.int32)
    Rs = [cv2.Rodrigues(T_c_c0[c][:3, :3])[0] for c in range(len(cams))]
    Ts = [T_c_c0[c][:3, 3].reshape(3, 1).copy() for c in range(len(cams))]
    out = cv2.calibrateMultiview(obj, img, sizes, mask, models, Ks, Ds, Rs, Ts,
                                 flagsForIntrinsics=flags_i,
                                 flags=cv2.CALIB_USE_EXTRINSIC_GUESS)  # fmt: skip
    Rs_out, Ts_out = out[3], out[4]
    T_c = {}
    for c in range(len(cams)):
        R = np.asarray(Rs_out[c], dtype=np.float64)
        R = cv2.Rodrigues(R)[0] if R.size == 3 else R.reshape(3, 3)
        T_c[c] = tf.transform(R, np.asarray(Ts_out[c], dtype=np.float64).ravel())
    T_b = {}
    for v in views:
        poses = []
        for c in range(len(cams)):
            d = det.views[v][c]
            if d is not None and len(d[0]) >= 6:
                T = _board_pose(cams[c], obj_all[d[0]], d[1])
                if T is not None:
                    poses.append(tf.invert_transform(T_c[c]) @ T)
        if poses:
            T_b[v] = _medoid(poses)
    return T_c, T_b
