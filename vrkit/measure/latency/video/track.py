"""Stages 3 and 4, track and motion signal: each marker's position per frame, then along its axis.

Stage 3: in each region, per frame, the marker's position is the centroid of the pixels
brighter than the region's static background by more than 3 noise levels (and 10 % of the
peak), weighted by the excess (sub-pixel; motion blur only spreads the weights), found with
the one blob finder (:func:`vrkit.vision.blobs.find_blobs`).

Stage 4: weak detections are marked missing (e.g. between the pulses of a low-persistence
panel) and filled by linear interpolation; each track is projected onto its first principal
axis, giving a 1-D position signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError
from vrkit.measure.latency.video.decode import DecodedVideo
from vrkit.measure.latency.video.regions import MarkerRegions, Roi
from vrkit.vision.blobs import find_blobs


@dataclass(frozen=True)
class MarkerPositions:
    """Stage 3's result for one marker.

    Attributes:
        roi: ``(x, y, w, h)`` region searched, full-resolution pixels.
        xy: (N, 2) marker centroid per frame, pixels (x right, y down); NaN where not found.
        mass: (N,) summed weight of the marker's pixels per frame (grey levels x pixels).
    """

    roi: Roi
    xy: NDArray[np.float64]
    mass: NDArray[np.float64]


@dataclass(frozen=True)
class MarkerTrack:
    """One marker tracked through the video.

    Attributes:
        roi: ``(x, y, w, h)`` region searched, full-resolution pixels.
        xy: (N, 2) marker centroid per frame, pixels (x right, y down); NaN where not found.
        mass: (N,) summed weight of the marker's pixels per frame (grey levels x pixels).
        signal: (N,) position along the principal motion axis, pixels, gaps interpolated.
        axis: (2,) unit vector of the principal motion axis in the image.
        staircase: Fraction of moving frames in which the marker stood still (high for a
            marker on a panel refreshing slower than the camera).
    """

    roi: Roi
    xy: NDArray[np.float64]
    mass: NDArray[np.float64]
    signal: NDArray[np.float64]
    axis: NDArray[np.float64]
    staircase: float

    @property
    def found_fraction(self) -> float:
        """Fraction of frames in which the marker was found."""
        return float(np.mean(np.isfinite(self.xy[:, 0])))

    @property
    def stepwise(self) -> float:
        """How much the marker moves like a panel image: ``staircase`` plus missing frames.

        A full-persistence panel slower than the camera shows steps; a low-persistence panel
        is dark in some frames. A physical marker scores near 0.
        """
        return self.staircase + (1.0 - self.found_fraction)


def track_positions(
    video: DecodedVideo, regions: MarkerRegions, frames: Iterable[NDArray[np.uint8]]
) -> tuple[MarkerPositions, MarkerPositions]:
    """Stage 3: the centroid of each marker in every frame.

    Args:
        video: Stage 1's result (its background sample and top-hat kernel).
        regions: Stage 2's result.
        frames: The grey frames, in order (:meth:`DecodedVideo.iter_frames`).

    Returns:
        The two markers' positions, in the order of ``regions.rois``.

    Raises:
        DataError: The frames ran out early or went on (the file changed between reads).
    """
    kernel = video.kernel
    bgs = [_background(video.sample, r, kernel) for r in regions.rois]
    xys: list[list[tuple[float, float]]] = [[], []]
    masses: list[list[float]] = [[], []]
    for grey in frames:
        for j, (x, y, w, h) in enumerate(regions.rois):
            bg, noise = bgs[j]
            crop = grey[y : y + h, x : x + w]
            cx, cy, mass = _centroid(crop, kernel, bg, noise, regions.allowed[j])
            xys[j].append((x + cx, y + cy))
            masses[j].append(mass)
    if len(xys[0]) != video.n:
        raise DataError(
            f"{video.path} gave {video.n} frames on the first read and {len(xys[0])} on the second",
            "re-encode the video (the file may be damaged)",
        )
    p0, p1 = (
        MarkerPositions(regions.rois[j], np.array(xys[j], dtype=np.float64), np.array(masses[j]))
        for j in range(2)
    )
    return p0, p1


def motion_signal(path: Path, name: str, positions: MarkerPositions) -> MarkerTrack:
    """Stage 4: one marker's 1-D position signal along its principal motion axis.

    Args:
        path: The video (for messages).
        name: The marker, for messages (``"the physical marker"``).
        positions: Stage 3's result for this marker.

    Returns:
        The track.

    Raises:
        DataError: The marker is missing in most frames, or does not move.
    """
    xy, sig, axis = _principal(path, name, positions.xy, positions.mass)
    return MarkerTrack(positions.roi, xy, positions.mass, sig, axis, _staircase(sig))


def _centroid(
    crop: NDArray[np.uint8],
    kernel: NDArray[np.uint8],
    bg: NDArray[np.float32],
    noise: float,
    allowed: NDArray[np.bool_] | None,
) -> tuple[float, float, float]:
    """Weighted centroid ``(x, y, mass)`` of the marker in a crop (NaN, NaN, 0 if absent).

    The marker is the brightest excess of the top-hat filtered crop over its static
    background ``bg`` (after removing the frame's overall brightness change); the centroid
    is taken in a window around it sized from the marker's extent, over the pixels brighter
    than 3 noise levels (``noise``, grey levels) and 10 % of the peak.
    """
    dev = _tophat(crop, kernel) - bg
    dev -= float(np.median(dev[::4, ::4]))
    np.clip(dev, 0.0, None, out=dev)
    if allowed is not None:
        dev *= allowed
    smooth = cv2.GaussianBlur(dev, (5, 5), 0)
    iy, ix = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    peak = float(smooth[iy, ix])
    if peak < 4.0 * noise:
        return math.nan, math.nan, 0.0
    r = 4 + 3 * int(math.sqrt(float(np.count_nonzero(smooth > 0.5 * peak))))
    roi = (int(ix) - r, int(iy) - r, int(ix) + r + 1, int(iy) + r + 1)
    # Every blob in the window belongs to the marker (motion blur and a double exposure
    # split it): their combined centroid is that of all pixels above the threshold.
    return find_blobs(dev, max(3.0 * noise, 0.1 * peak), roi=roi).combined()


def _tophat(img: NDArray[np.uint8], kernel: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Bright structures smaller than ``kernel`` (white top-hat), float32 grey levels."""
    return cv2.morphologyEx(img, cv2.MORPH_TOPHAT, kernel).astype(np.float32)


def _background(
    sample: list[NDArray[np.uint8]], roi: Roi, kernel: NDArray[np.uint8]
) -> tuple[NDArray[np.float32], float]:
    """Static background of an ROI and its noise level.

    Returns:
        ``(bg, noise)``: (h, w) per-pixel 10th percentile over the sampled (top-hat
        filtered) frames, grey levels, and the pixel noise (robust spread of the
        differences between consecutive sampled frames, over sqrt 2), grey levels.
    """
    x, y, w, h = roi
    stack = np.stack([_tophat(g[y : y + h, x : x + w], kernel) for g in sample])
    bg = np.percentile(stack, 10, axis=0).astype(np.float32)
    if len(sample) < 2:
        return bg, 2.0
    d = np.diff(stack[:, ::2, ::2], axis=0)
    noise = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0)
    return bg, noise + 0.5


def _principal(
    path: Path, name: str, xy: NDArray[np.float64], mass: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mark weak detections missing, fill gaps; return (xy with NaN, signal, axis)."""
    ok = np.isfinite(xy[:, 0]) & np.isfinite(mass)
    if ok.sum() > 0:
        ref = float(np.percentile(mass[ok], 90))
        ok &= mass > 0.1 * ref
    xy = np.where(ok[:, None], xy, np.nan)
    n = xy.shape[0]
    frac = ok.mean()
    if frac < 0.15:
        raise DataError(
            f"{name} not found in {n - int(ok.sum())} of {n} frames of {path} "
            f"(found in {frac:.0%})",
            "check that the marker stays in view and stands out from its background; on a "
            "low-persistence panel lengthen the exposure to at least one refresh period",
        )
    idx = np.arange(n)
    filled = np.column_stack([np.interp(idx, idx[ok], xy[ok, k]) for k in range(2)])
    centred = filled - filled.mean(axis=0)
    vt = np.linalg.svd(centred[ok], full_matrices=False)[2]
    axis = vt[0]
    if axis[np.argmax(np.abs(axis))] < 0:
        axis = -axis
    signal = centred @ axis
    d = np.diff(signal)
    noise = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0)
    rng = float(np.ptp(signal))
    if rng < 2.0 or rng < 20.0 * noise:
        raise DataError(
            f"{name} in {path} does not move: range {rng:.2f} px along its main axis "
            f"against {noise:.2f} px of frame-to-frame noise",
            "move the tracked device by at least several marker diameters while filming",
        )
    return xy, signal, axis


def _staircase(signal: NDArray[np.float64]) -> float:
    """Fraction of moving frames in which the signal stood still (panel-refresh steps)."""
    v = np.abs(np.diff(signal))
    if v.size < 8:
        return 0.0
    k = 7
    pad = np.pad(v, k // 2, mode="edge")
    local = np.lib.stride_tricks.sliding_window_view(pad, k).max(axis=1)
    moving = local > max(0.3, 0.1 * float(np.percentile(local, 95)))
    if moving.sum() < 8:
        return 0.0
    return float(np.mean(v[moving] < 0.2 * local[moving]))
