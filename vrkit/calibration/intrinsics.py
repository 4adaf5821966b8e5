"""Intrinsic calibration of the measuring camera from board photographs.

Every view gets a verdict: ``used``, or ``rejected`` with the reason (pattern not found,
blurred, size differs from the other images, reprojection error far above the rest). Too few
usable views is an error that names every rejected view.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.vision.board import Board, BoardDetection
from vrkit.vision.camera import CameraKind, CameraModel
from vrkit.vision.corners import as_gray

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class ViewResult:
    """The verdict on one calibration image.

    Attributes:
        name: Image name (file name).
        status: ``"used"`` or ``"rejected"``.
        reason: Why it was rejected ("" when used).
        rms_px: Reprojection RMS of this view, pixels (None when not calibrated with).
        sharpness: Variance of the Laplacian over the board region (or whole image).
        n_points: Number of board features found.
    """

    name: str
    status: str = "used"
    reason: str = ""
    rms_px: float | None = None
    sharpness: float | None = None
    n_points: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return dict(self.__dict__)


@dataclass
class CameraCalibration:
    """Result of :func:`calibrate_camera`.

    Attributes:
        camera: The fitted camera model.
        views: One verdict per input image, in input order.
        rvecs: Board-to-camera rotation vectors (3,) of the used views, in order.
        tvecs: Board-to-camera translations (3,) of the used views, metres.
        image_points: Detected features (N, 2) of the used views, pixels.
    """

    camera: CameraModel
    views: list[ViewResult]
    rvecs: list[NDArray[np.float64]] = field(default_factory=list)
    tvecs: list[NDArray[np.float64]] = field(default_factory=list)
    image_points: list[NDArray[np.float64]] = field(default_factory=list)

    @property
    def used(self) -> list[ViewResult]:
        """Views the calibration used."""
        return [v for v in self.views if v.status == "used"]

    @property
    def rejected(self) -> list[ViewResult]:
        """Views left out, each with its reason."""
        return [v for v in self.views if v.status != "used"]

    def report_lines(self) -> list[str]:
        """Human-readable summary, one line per view."""
        cam = self.camera
        lines = [
            f"camera model {cam.kind}, {cam.image_size[0]}x{cam.image_size[1]} px, "
            f"RMS {cam.rms_px:.3f} px over {len(self.used)} of {len(self.views)} views",
            f"fx {cam.K[0, 0]:.3f}  fy {cam.K[1, 1]:.3f}  cx {cam.K[0, 2]:.3f}  "
            f"cy {cam.K[1, 2]:.3f}  dist {np.array2string(cam.dist, precision=5)}",
        ]
        for v in self.views:
            if v.status == "used":
                lines.append(f"  used      {v.name}: RMS {v.rms_px:.3f} px, {v.n_points} points")
            else:
                lines.append(f"  rejected  {v.name}: {v.reason}")
        return lines


#: Smallest image side (pixels) in which a calibration board can be detected.
MIN_IMAGE_SIDE_PX = 32


def load_image_folder(folder: str | Path) -> list[tuple[str, NDArray[np.uint8]]]:
    """Read every image of a folder (sorted by name) as grayscale uint8.

    Raises:
        InputError: The folder does not exist or holds no images.
    """
    import cv2

    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"image folder {str(d)!r} does not exist")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(
            f"image folder {str(d)!r} holds no images", f"expected {', '.join(IMAGE_SUFFIXES)}"
        )
    out = []
    small: list[str] = []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise InputError(f"cannot read image {str(p)!r}")
        if min(img.shape[:2]) < MIN_IMAGE_SIDE_PX:
            small.append(f"{p.name} ({img.shape[1]}x{img.shape[0]})")
            continue
        out.append((p.name, img))
    if small:
        raise InputError(
            f"image folder {str(d)!r}: {len(small)} of {len(files)} images are too small for "
            f"board detection (under {MIN_IMAGE_SIDE_PX} px a side), first {small[0]}",
            "give the camera's full-resolution photographs of the board",
        )
    return out


def sharpness(gray: NDArray[np.uint8], region: NDArray[np.float64] | None = None) -> float:
    """Focus measure: variance of the Laplacian, inside the bounding box of ``region``.

    Args:
        gray: (H, W) uint8 image.
        region: (N, 2) pixel points whose bounding box is measured, or None for the whole image.

    Returns:
        The variance of the 3x3 Laplacian (grey levels squared); low means blurred.
    """
    import cv2

    img = gray
    if region is not None and len(region):
        x0, y0 = np.floor(region.min(axis=0)).astype(int)
        x1, y1 = np.ceil(region.max(axis=0)).astype(int) + 1
        h, w = gray.shape[:2]
        img = gray[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
        if img.size < 16:
            img = gray
    return float(cv2.Laplacian(img, cv2.CV_64F).var())


def calibrate_camera(
    images: Iterable[tuple[str, NDArray[Any]]],
    board: Board,
    kind: CameraKind = "pinhole",
    *,
    min_views: int = 4,
    blur_ratio: float = 0.3,
    min_sharpness: float = 5.0,
    max_view_rms_px: float = 1.0,
    fix_aspect_ratio: bool = False,
    zero_tangent: bool = False,
    rational: bool = False,
    subpix_window: int | None = None,
    progress: bool = False,
) -> CameraCalibration:
    """Calibrate a camera from photographs of a board.

    Args:
        images: ``(name, image)`` pairs; images are (H, W) gray or (H, W, 3) BGR.
        board: The board in the photographs.
        kind: ``"pinhole"`` (``cv2.calibrateCamera``) or ``"fisheye"`` (``cv2.fisheye``).
        min_views: Fewest usable views to calibrate from.
        blur_ratio: A view whose sharpness is below this fraction of the median of the views
            is rejected as blurred.
        min_sharpness: Absolute sharpness floor (variance of Laplacian, grey levels squared).
        max_view_rms_px: A view whose reprojection RMS exceeds both this and 3x the median
            is rejected and the camera recalibrated without it.
        fix_aspect_ratio: Keep fx = fy (pinhole; OpenCV's ``CALIB_FIX_ASPECT_RATIO``).
        zero_tangent: Fix p1 = p2 = 0 (pinhole).
        rational: Fit the 8-coefficient rational model (pinhole).
        subpix_window: Checkerboard corner refinement half window in pixels (None: adaptive,
            see :meth:`~vrkit.vision.board.Board.detect`).
        progress: Show a tqdm bar on stderr while detecting.

    Returns:
        The camera and a verdict per view.

    Raises:
        DataError: Fewer than ``min_views`` usable views; the message names each rejection.
    """
    from vrkit.core.progress import progress_bar

    views: list[ViewResult] = []
    detections: dict[int, BoardDetection] = {}
    size: tuple[int, int] | None = None
    items = list(images)
    for idx, (name, image) in enumerate(
        progress_bar(items, desc="detecting board", unit="img", enabled=progress)
    ):
        gray = as_gray(image)
        v = ViewResult(name)
        views.append(v)
        h, w = gray.shape
        if size is None:
            size = (w, h)
        elif (w, h) != size:
            v.status, v.reason = (
                "rejected",
                f"image is {w}x{h}, the first image is {size[0]}x{size[1]}",
            )
            continue
        det = board.detect(gray, subpix_window)
        if det is None:
            s = sharpness(gray)
            v.status, v.reason = "rejected", f"pattern not found ({board.describe()})"
            v.sharpness = s
            continue
        v.sharpness = sharpness(gray, det.image_points)
        v.n_points = len(det.image_points)
        detections[idx] = det
    if size is None:
        raise InputError("no images given for camera calibration")

    found = [views[i].sharpness for i in detections]
    median_sharp = float(np.median(found)) if found else 0.0
    for i in list(detections):
        s = float(views[i].sharpness or 0.0)
        limit = max(min_sharpness, blur_ratio * median_sharp)
        if s < limit:
            views[i].status = "rejected"
            views[i].reason = (
                f"blurred: variance of Laplacian {s:.1f} < {limit:.1f} "
                f"({blur_ratio:g} x median {median_sharp:.1f}, floor {min_sharpness:g})"
            )
            del detections[i]

    _require_views(views, detections, min_views)
    result = _fit(detections, views, size, board, kind, fix_aspect_ratio, zero_tangent, rational)
    rms = np.array([views[i].rms_px for i in detections])
    limit = max(max_view_rms_px, 3.0 * float(np.median(rms)))
    bad = [i for i in detections if float(views[i].rms_px) > limit]
    if bad and len(detections) - len(bad) >= min_views:
        for i in bad:
            views[i].status = "rejected"
            views[i].reason = (
                f"reprojection RMS {views[i].rms_px:.2f} px > {limit:.2f} px (the larger of "
                f"{max_view_rms_px:g} px and 3x the median view); board moved or corners "
                "misdetected"
            )
            del detections[i]
        result = _fit(
            detections, views, size, board, kind, fix_aspect_ratio, zero_tangent, rational
        )
    result.camera.meta.update(
        {
            "board": str(board),
            "views_used": [views[i].name for i in detections],
            "views_rejected": {v.name: v.reason for v in views if v.status != "used"},
        }
    )
    return result


def _require_views(views: Sequence[ViewResult], detections: dict, min_views: int) -> None:
    if len(detections) >= min_views:
        return
    rejected = "; ".join(f"{v.name}: {v.reason}" for v in views if v.status != "used")
    raise DataError(
        f"only {len(detections)} usable views of {len(views)}, need at least {min_views}"
        + (f" (rejected: {rejected})" if rejected else ""),
        "take more photographs of the board from different angles, sharp and fully in view",
    )


def _fisheye_flag(name: str) -> int:
    """A ``cv2.fisheye`` flag: in ``cv2.fisheye`` for OpenCV 4, in ``cv2`` for OpenCV 5."""
    import cv2

    return int(getattr(cv2.fisheye, name, None) or getattr(cv2, name))


def _fit(
    detections: dict[int, BoardDetection],
    views: list[ViewResult],
    size: tuple[int, int],
    board: Board,
    kind: CameraKind,
    fix_aspect_ratio: bool,
    zero_tangent: bool,
    rational: bool,
) -> CameraCalibration:
    import cv2

    order = sorted(detections)
    obj = [detections[i].object_points.astype(np.float32).reshape(-1, 1, 3) for i in order]
    img = [detections[i].image_points.astype(np.float32).reshape(-1, 1, 2) for i in order]
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
    if kind == "fisheye":
        flags = _fisheye_flag("CALIB_RECOMPUTE_EXTRINSIC") | _fisheye_flag("CALIB_FIX_SKEW")
        # cv2.fisheye wants (1, N, 3) / (1, N, 2) float64 per view and a (4, 1) D.
        obj64 = [o.astype(np.float64).reshape(1, -1, 3) for o in obj]
        img64 = [p.astype(np.float64).reshape(1, -1, 2) for p in img]
        K0 = np.eye(3)
        try:
            rms, K, D, rvecs, tvecs = cv2.fisheye.calibrate(
                obj64,
                img64,
                size,
                K0,
                np.zeros((4, 1)),
                flags=flags | _fisheye_flag("CALIB_CHECK_COND"),
                criteria=crit,
            )
        except cv2.error:
            rms, K, D, rvecs, tvecs = cv2.fisheye.calibrate(
                obj64, img64, size, K0, np.zeros((4, 1)), flags=flags, criteria=crit
            )
        dist = np.asarray(D, dtype=np.float64).ravel()
    else:
        flags = 0
        K0 = None
        if fix_aspect_ratio:
            flags |= cv2.CALIB_FIX_ASPECT_RATIO
            K0 = np.eye(3)
        if zero_tangent:
            flags |= cv2.CALIB_ZERO_TANGENT_DIST
        if rational:
            flags |= cv2.CALIB_RATIONAL_MODEL
        n_dist = 8 if rational else 5
        rms, K, dist, rvecs, tvecs = cv2.calibrateCamera(
            obj, img, size, K0, np.zeros(n_dist), flags=flags, criteria=crit
        )
        dist = np.asarray(dist, dtype=np.float64).ravel()[:n_dist]
    camera = CameraModel(kind, size, np.asarray(K, dtype=np.float64), dist, float(rms))
    rv, tv = [], []
    for j, i in enumerate(order):
        r = np.asarray(rvecs[j], dtype=np.float64).ravel()
        t = np.asarray(tvecs[j], dtype=np.float64).ravel()
        if kind == "fisheye":
            proj, _ = cv2.fisheye.projectPoints(obj[j].astype(np.float64), r, t, K, dist)
        else:
            proj, _ = cv2.projectPoints(obj[j].astype(np.float64), r, t, K, dist)
        err = proj.reshape(-1, 2) - img[j].reshape(-1, 2)
        views[i].rms_px = float(math.sqrt(np.mean(np.sum(err**2, axis=1))))
        rv.append(r)
        tv.append(t)
    pts = [img[j].reshape(-1, 2).astype(np.float64) for j in range(len(order))]
    return CameraCalibration(camera, views, rv, tv, pts)
