"""Stage 2, locate: the two regions the markers move in, given or found from the motion.

Given ROIs are checked against the frame. Otherwise the two regions with the largest temporal
variance of the downscaled, top-hat filtered frames (the areas the two markers sweep) are
taken; each region's search is then limited to the pixels not claimed by the other region.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.video.decode import DecodedVideo

#: ``(x, y, w, h)``, full-resolution pixels.
Roi = tuple[int, int, int, int]


@dataclass(frozen=True)
class MarkerRegions:
    """Where the two markers are searched.

    Attributes:
        rois: The two regions, ``(x, y, w, h)`` full-resolution pixels, in the order given
            (physical, rendered) or by decreasing motion when found.
        allowed: Per region, an (h, w) mask of the pixels it may use (None: all).
        given: Whether the ROIs were given (their roles are then known).
    """

    rois: tuple[Roi, Roi]
    allowed: tuple[NDArray[np.bool_] | None, NDArray[np.bool_] | None]
    given: bool


def locate_markers(video: DecodedVideo, rois: tuple[Roi, Roi] | None) -> MarkerRegions:
    """Stage 2: check the given ROIs, or find the two moving regions.

    Args:
        video: Stage 1's result (with ``motion`` when ``rois`` is None).
        rois: ``(physical, rendered)`` regions, or None to find them.

    Returns:
        The regions.

    Raises:
        InputError: Not two ROIs, or an ROI outside the frame.
        DataError: Nothing moves, or fewer than two moving regions.
    """
    if rois is not None:
        if len(rois) != 2:
            raise InputError(f"give two ROIs (physical, rendered), got {len(rois)}")
        r0, r1 = (_check_roi(video.path, r, video.shape) for r in rois)
        return MarkerRegions((r0, r1), (None, None), True)
    if video.motion is None:
        raise DataError(f"{video.path}: the motion statistics were not gathered")
    shape = video.shape
    regions, labels, labs = _find_regions(video.path, video.motion.std, video.motion.scale, shape)
    big = cv2.resize(
        labels.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST
    ).astype(np.int32)
    allowed = []
    for j, (x, y, w, h) in enumerate(regions):
        other = big[y : y + h, x : x + w] == labs[1 - j]
        allowed.append(~other)
    return MarkerRegions((regions[0], regions[1]), (allowed[0], allowed[1]), False)


def _find_regions(
    path: Path, std: NDArray[np.float64], scale: float, shape: tuple[int, int]
) -> tuple[list[Roi], NDArray[np.int32], list[int]]:
    """The two moving regions: ROIs (full resolution), a label image (downscaled), labels."""
    med = float(np.median(std))
    top = float(np.percentile(std, 99.95))
    mad = float(np.median(np.abs(std - med))) * 1.4826
    if top - med < max(2.0, 8.0 * mad):
        raise DataError(
            f"no motion in {path}: the brightest changes over time ({top:.1f} grey levels) "
            f"are within the still background's ({med:.1f} +- {mad:.1f})",
            "film the markers while moving the tracked device",
        )
    thr = med + max(6.0 * mad, 0.04 * (top - med))
    mask = (std > thr).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    weights = np.bincount(labels.ravel(), weights=std.ravel() - med, minlength=n)
    order = [int(i) for i in np.argsort(-weights) if i != 0]
    if len(order) < 2 or weights[order[1]] < 0.05 * weights[order[0]]:
        raise DataError(
            f"found {min(len(order), 1)} moving region in {path}, need two (the physical "
            "marker and the rendered marker)",
            "make sure both markers are in view and move, or give the two ROIs",
        )
    H, W = shape
    rois: list[Roi] = []
    for lab in order[:2]:
        x, y, w, h, _ = stats[lab]
        x0, y0, x1, y1 = x / scale, y / scale, (x + w) / scale, (y + h) / scale
        pad = max(8.0, 0.4 * max(x1 - x0, y1 - y0))
        xa, ya = max(0, math.floor(x0 - pad)), max(0, math.floor(y0 - pad))
        xb, yb = min(W, math.ceil(x1 + pad)), min(H, math.ceil(y1 + pad))
        rois.append((xa, ya, xb - xa, yb - ya))
    return rois, labels.astype(np.int32), order[:2]


def _check_roi(path: Path, roi: Roi, shape: tuple[int, int]) -> Roi:
    try:
        x, y, w, h = (int(v) for v in roi)
    except (TypeError, ValueError) as exc:
        raise InputError(f"an ROI must be four integers (x, y, w, h), got {roi!r}") from exc
    H, W = shape
    if w < 3 or h < 3 or x < 0 or y < 0 or x + w > W or y + h > H:
        raise InputError(
            f"ROI {(x, y, w, h)} does not fit in the {W}x{H} frames of {path}",
            "give (x, y, w, h) in pixels inside the frame, at least 3x3",
        )
    return (x, y, w, h)
