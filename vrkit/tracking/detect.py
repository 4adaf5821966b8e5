"""Detection: ArUco marker corners and bright LED blobs, in grey images (H, W) uint8.

Calibration boards detect themselves (:meth:`vrkit.vision.board.Board.detect`).

Both detectors accept an optional region of interest (the filter's predicted target box) so that
only part of the image is searched; coordinates are always returned in full-image pixels
(OpenCV convention, pixel centres on integers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.vision.board import aruco_dictionary

F64 = NDArray[np.float64]
Roi = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels


def _as_gray(image: NDArray) -> NDArray[np.uint8]:
    img = np.asarray(image)
    if img.ndim == 3:
        import cv2

        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise InputError(f"expected a grey (H, W) uint8 image, got {img.dtype} {img.shape}")
    return img


def clip_roi(roi: Roi | None, width: int, height: int) -> Roi | None:
    """Clip a region to the image; None when it is empty."""
    if roi is None:
        return (0, 0, width, height)
    x0, y0, x1, y1 = (int(v) for v in roi)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, width), min(y1, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return (x0, y0, x1, y1)


@dataclass
class MarkerDetections:
    """ArUco markers found in one image.

    Attributes:
        ids: (M,) marker ids.
        corners: (M, 4, 2) corner pixels in OpenCV order (TL, TR, BR, BL of the marker).
    """

    ids: NDArray[np.int64]
    corners: F64


class ArucoDetector:
    """ArUco detection with sub-pixel corner refinement.

    Args:
        dictionary: Dictionary name, e.g. ``"DICT_4X4_50"``.
        min_perimeter_rate: Smallest marker perimeter as a fraction of the image's larger side.
        refine: Corner refinement: ``"edges"`` (line fits to the marker edges, see
            :func:`refine_marker_corners`; most accurate), ``"subpix"`` (OpenCV's
            ``CORNER_REFINE_SUBPIX``) or ``"none"``.
    """

    def __init__(
        self,
        dictionary: str = "DICT_4X4_50",
        min_perimeter_rate: float = 0.03,
        refine: str = "edges",
    ) -> None:
        import cv2

        p = cv2.aruco.DetectorParameters()
        p.minMarkerPerimeterRate = min_perimeter_rate
        p.adaptiveThreshWinSizeMin = 5
        p.adaptiveThreshWinSizeMax = 23
        p.adaptiveThreshWinSizeStep = 9
        if refine not in ("edges", "subpix", "none"):
            raise InputError(f"corner refinement must be edges, subpix or none, got {refine!r}")
        self.refine = refine
        if refine == "subpix":
            p.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
            p.cornerRefinementWinSize = 3
            p.cornerRefinementMaxIterations = 30
            p.cornerRefinementMinAccuracy = 0.01
        self._det = cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), p)
        self.params = p

    def detect(self, image: NDArray, roi: Roi | None = None) -> MarkerDetections:
        """Find markers.

        Args:
            image: (H, W) uint8 grey (BGR is converted).
            roi: Optional ``(x0, y0, x1, y1)`` region to search.

        Returns:
            Detected ids and corners in full-image pixels.
        """
        img = _as_gray(image)
        r = clip_roi(roi, img.shape[1], img.shape[0])
        if r is None:
            return MarkerDetections(np.zeros(0, np.int64), np.zeros((0, 4, 2)))
        x0, y0, x1, y1 = r
        corners, ids, _ = self._det.detectMarkers(img[y0:y1, x0:x1])
        if ids is None or len(ids) == 0:
            return MarkerDetections(np.zeros(0, np.int64), np.zeros((0, 4, 2)))
        c = np.array(corners, dtype=np.float64).reshape(-1, 4, 2) + np.array([x0, y0])
        if self.refine == "edges":
            c = refine_marker_corners(img, c)
        return MarkerDetections(ids.ravel().astype(np.int64), c)


@dataclass
class Blobs:
    """Bright blobs found in one image.

    Attributes:
        centers: (B, 2) intensity-weighted centroids, pixels.
        areas: (B,) pixel counts above the threshold.
        peaks: (B,) brightest grey level in each blob.
    """

    centers: F64
    areas: NDArray[np.int64]
    peaks: NDArray[np.int64]


def detect_blobs(
    image: NDArray,
    threshold: int = 96,
    min_area: int = 2,
    max_area: int = 400,
    roi: Roi | None = None,
) -> Blobs:
    """Find LED blobs: threshold, connected components, intensity-weighted sub-pixel centroids.

    The centroid weights each pixel of a component by its grey level minus a background level
    (half the threshold), computed for all blobs at once with ``np.bincount``.

    Args:
        image: (H, W) uint8 grey image.
        threshold: Grey level a pixel must exceed to belong to a blob.
        min_area: Smallest blob in pixels (smaller ones are noise).
        max_area: Largest blob in pixels (larger ones are lamps or reflections).
        roi: Optional ``(x0, y0, x1, y1)`` region to search.

    Returns:
        Blob centres in full-image pixels, sorted by descending peak brightness.
    """
    import cv2

    img = _as_gray(image)
    r = clip_roi(roi, img.shape[1], img.shape[0])
    empty = Blobs(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0, np.int64))
    if r is None:
        return empty
    x0, y0, x1, y1 = r
    sub = img[y0:y1, x0:x1]
    _, mask = cv2.threshold(sub, threshold, 255, cv2.THRESH_BINARY)
    # grow each blob by one pixel so the centroid sees the blob's dim rim too
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return empty
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs]
    wgt = np.maximum(sub[ys, xs].astype(np.float64) - threshold * 0.5, 0.0)
    sw = np.bincount(lab, wgt, minlength=n)
    cx = np.bincount(lab, wgt * xs, minlength=n) / np.maximum(sw, 1e-12)
    cy = np.bincount(lab, wgt * ys, minlength=n) / np.maximum(sw, 1e-12)
    peak = np.zeros(n, np.int64)
    np.maximum.at(peak, lab, sub[ys, xs].astype(np.int64))
    area = stats[:, cv2.CC_STAT_AREA]
    keep = np.arange(1, n)
    keep = keep[(area[keep] >= min_area) & (area[keep] <= max_area) & (sw[keep] > 0)]
    order = keep[np.argsort(-peak[keep], kind="stable")]
    return Blobs(
        np.stack([cx[order] + x0, cy[order] + y0], axis=1), area[order].astype(np.int64),
        peak[order],
    )  # fmt: skip


def refine_marker_corners(
    image: NDArray, corners: F64, samples: int = 10, reach_px: float = 2.5, step_px: float = 0.2
) -> F64:
    """Refine marker corners by fitting straight lines to the four edges and intersecting them.

    Corner detectors are biased on the convex corners of a blurred black square; edges are
    not. Along each edge, ``samples`` intensity profiles across the edge (bilinear, one
    ``cv2.remap`` for all markers) locate the sub-pixel crossing of the level halfway between
    the black inside and the white quiet zone; a total-least-squares line through those
    points is intersected with its neighbours.

    Args:
        image: (H, W) uint8 grey image.
        corners: (M, 4, 2) initial corners (OpenCV order), pixels.
        samples: Profiles per edge, spread over its middle 70 %.
        reach_px: Half-length of each profile in pixels.
        step_px: Profile sampling step in pixels.

    Returns:
        (M, 4, 2) refined corners; a marker whose edges cannot be fitted keeps its input corners.
    """
    import cv2

    c = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    if len(c) == 0:
        return c
    img = _as_gray(image).astype(np.float32)
    a = c
    b = np.roll(c, -1, axis=1)  # edge k runs from corner k to corner k+1
    d = b - a
    length = np.linalg.norm(d, axis=2, keepdims=True)
    u = d / np.maximum(length, 1e-9)
    # outward normal: corners run clockwise in the image (y down), so outward is (u_y, -u_x)
    n = np.stack([u[..., 1], -u[..., 0]], axis=-1)
    center = c.mean(axis=1, keepdims=True)
    flip = np.sum((a + 0.5 * d - center) * n, axis=2, keepdims=True) < 0
    n = np.where(flip, -n, n)
    t = np.linspace(0.15, 0.85, samples)
    o = np.arange(-reach_px, reach_px + 1e-9, step_px)
    base = a[:, :, None, :] + t[None, None, :, None] * d[:, :, None, :]  # (M,4,S,2)
    pts = base[:, :, :, None, :] + o[None, None, None, :, None] * n[:, :, None, None, :]
    M, P = len(c), len(o)
    mx = pts[..., 0].reshape(-1, P).astype(np.float32)
    my = pts[..., 1].reshape(-1, P).astype(np.float32)
    prof = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    half = P // 2
    lo = prof[:, :half].min(axis=1)
    hi = prof[:, half + 1 :].max(axis=1)
    level = 0.5 * (lo + hi)
    s = prof - level[:, None]
    change = (s[:, :-1] <= 0) & (s[:, 1:] > 0)
    dist = np.abs(np.arange(P - 1) + 0.5 - (P - 1) / 2)
    score = np.where(change, dist[None, :], np.inf)
    j = np.argmin(score, axis=1)
    rows = np.arange(len(prof))
    ok = np.isfinite(score[rows, j]) & (hi - lo > 25.0)
    s0, s1 = s[rows, j], s[rows, j + 1]
    frac = s0 / np.where(ok, s0 - s1, 1.0)
    off = o[j] + frac * step_px
    edge_pts = base.reshape(-1, 2) + off[:, None] * np.repeat(n.reshape(-1, 2), samples, axis=0)
    w = ok.astype(np.float64).reshape(M * 4, samples)
    e = edge_pts.reshape(M * 4, samples, 2)
    sw = w.sum(axis=1)
    good_edge = sw >= 4
    mean = np.einsum("es,esk->ek", w, e) / np.maximum(sw, 1)[:, None]
    q = e - mean[:, None, :]
    cov = np.einsum("es,esi,esj->eij", w, q, q)
    _, vec = np.linalg.eigh(cov + 1e-12 * np.eye(2))
    direc = vec[:, :, 1]  # largest eigenvalue: along the edge
    mean = mean.reshape(M, 4, 2)
    direc = direc.reshape(M, 4, 2)
    # corner k = intersection of edge k-1 and edge k
    p1, u1 = np.roll(mean, 1, axis=1), np.roll(direc, 1, axis=1)
    p2, u2 = mean, direc
    A = np.stack([u1, -u2], axis=-1)  # (M,4,2,2)
    det = A[..., 0, 0] * A[..., 1, 1] - A[..., 0, 1] * A[..., 1, 0]
    rhs = p2 - p1
    alpha = (rhs[..., 0] * A[..., 1, 1] - rhs[..., 1] * A[..., 0, 1]) / np.where(
        np.abs(det) > 1e-6, det, 1.0
    )
    new = p1 + alpha[..., None] * u1
    ge = good_edge.reshape(M, 4)
    valid = ge & np.roll(ge, 1, axis=1) & (np.abs(det) > 0.05)
    valid &= np.linalg.norm(new - c, axis=2) < 3.0
    marker_ok = valid.all(axis=1)
    return np.where(marker_ok[:, None, None], new, c)
