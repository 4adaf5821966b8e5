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
from vrkit.vision.corners import refine_marker_corners

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
