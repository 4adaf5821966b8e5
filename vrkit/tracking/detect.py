"""Detection: ArUco marker corners and bright LED blobs, in grey images (H, W) uint8.

LED blobs come from the one blob finder, :mod:`vrkit.vision.blobs`.

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
from vrkit.vision.blobs import Blobs, find_blobs
from vrkit.vision.blobs import clip_roi as _clip_roi
from vrkit.vision.board import aruco_dictionary
from vrkit.vision.corners import refine_marker_corners

F64 = NDArray[np.float64]
Roi = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels

__all__ = ["ArucoDetector", "Blobs", "MarkerDetections", "clip_roi", "detect_blobs"]


def _as_gray(image: NDArray) -> NDArray[np.uint8]:
    img = np.asarray(image)
    if img.ndim == 3:
        import cv2

        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise InputError(f"expected a grey (H, W) uint8 image, got {img.dtype} {img.shape}")
    return img


def clip_roi(roi: Roi | None, width: int, height: int) -> Roi | None:
    """Clip a region to the image; None when it is smaller than 8 x 8 pixels."""
    return _clip_roi(roi, width, height, min_size=8)


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


def detect_blobs(
    image: NDArray,
    threshold: int = 96,
    min_area: int = 2,
    max_area: int = 400,
    roi: Roi | None = None,
) -> Blobs:
    """Find LED blobs with :func:`vrkit.vision.blobs.find_blobs`.

    Each blob's footprint is grown by one pixel so that the centroid sees its dim rim too, and
    each pixel weighs its grey level minus a background level (half the threshold).

    Args:
        image: (H, W) uint8 grey image (BGR is converted).
        threshold: Grey level a pixel must exceed to belong to a blob.
        min_area: Smallest blob, pixels above the threshold (smaller ones are noise).
        max_area: Largest blob, pixels above the threshold (lamps or reflections).
        roi: Optional ``(x0, y0, x1, y1)`` region to search.

    Returns:
        Blob centres in full-image pixels, sorted by descending peak brightness.
    """
    img = _as_gray(image)
    r = clip_roi(roi, img.shape[1], img.shape[0])
    if r is None:
        return Blobs.empty()
    return find_blobs(
        img,
        threshold,
        weight_floor=0.5 * threshold,
        grow_px=1,
        min_area=min_area,
        max_area=max_area,
        roi=r,
    )
