"""End-to-end latency from high-speed video of a physical and a rendered marker.

A fixed high-speed camera films two things in one frame: a physical marker (a bright dot or LED
on a rod) moved together with the tracked device, and the marker the headset renders on its
panel at the tracked pose. Both are tracked through the video; each track is projected onto its
own principal motion axis, giving two 1-D position signals sampled at the camera's frame times,
and the delay of the rendered signal behind the physical one is estimated by FFT
cross-correlation (:func:`estimate_position_delay`, built on the sensor-log analyser's segment
sums, lobe search and parabolic sub-sample refinement), with a batch-means confidence interval.

Pipeline of :func:`analyze_video`:

1. Decode every frame (``cv2.VideoCapture``), stamp it with ``i / fps`` when ``fps`` is given,
   else with the container's presentation time. A white top-hat filter keeps bright structures
   smaller than ``marker_px``; per-pixel temporal sums of a downscaled copy are accumulated.
2. Regions of interest: given, or the two regions with the largest temporal variance (the
   areas the two markers sweep). Which one is the rendered marker is told from its motion: a
   panel refreshing slower than the camera makes the rendered marker move in steps, a
   low-persistence panel leaves it dark in some frames; the physical marker moves in every
   frame.
3. In each region, per frame, the marker's position is the centroid of the pixels brighter
   than the region's static background by more than 3 noise levels, weighted by the excess
   (sub-pixel; motion blur only spreads the weights). Frames where a marker is missing (e.g.
   between the pulses of a low-persistence panel) are filled by linear interpolation.
4. Each track is projected onto its first principal axis; the delay is estimated on a grid
   ``upsample`` times finer than the frame rate.

**What the number means.** Both markers are seen in the same exposures, so the camera's own
delay and its timestamp convention cancel. The estimate is the mean delay from the physical
motion to the photon-weighted centre of the frames that show it: the pose-to-photon latency
plus half a refresh period on a full-persistence panel (the frame is shown for its whole
period), plus the pixel response. :func:`simulate_video` uses the same definition for its truth.

:func:`simulate_video` writes a synthetic video with a known delay and the imperfections of a
real set-up: a panel refreshing at 60-120 Hz with scan-out, pixel response and either full or
low persistence, a camera with finite exposure (motion blur), sensor noise and lossy
compression, and motion with pauses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.analysis import (
    CorrelationCurve,
    SteadyEstimate,
    batch_means_interval,
    parabolic_peak,
    peak_lobe,
    segment_sums,
)
from vrkit.measure.latency.sensorlog import LogChecks, SensorLog, resample_uniform, validate
from vrkit.vision.blobs import find_blobs

Roi = tuple[int, int, int, int]
RenderedSide = Literal["auto", "left", "right", "top", "bottom"]
#: A callable taking a frame count, or a tqdm bar (anything with ``update(n)``).
Progress = Callable[[int], Any] | Any

#: Longest side of the downscaled copy used to find the moving regions, pixels.
_DETECT_SIZE = 320
#: Frames sampled (at least, up to twice as many) for the static background of each ROI.
_BG_FRAMES = 40
#: Fewest frames for an estimate.
MIN_FRAMES = 64


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


@dataclass(frozen=True)
class VideoLatencyResult:
    """Delay of the rendered marker behind the physical one.

    Attributes:
        path: The video analysed.
        latency_ms: The estimate, milliseconds.
        ci_ms: 95 % confidence interval, milliseconds (NaN, NaN when too few segments moved).
        curve: Correlation of the two signals against the delay (lags in seconds).
        fps: Camera frame rate used, frames per second.
        timestamps: ``"fps"`` (``i / fps``) or ``"container"``.
        frames: Frames analysed.
        duration_s: First to last frame, seconds.
        physical: The physical marker's track.
        rendered: The rendered marker's track.
        roles: ``"given"`` (ROIs or side given) or ``"staircase"`` (told from the motion).
        steady: The underlying cross-correlation estimate (before the shutter correction).
        shutter_correction_ms: Rolling-shutter correction added to the estimate, ms.
        warnings: Things the user should check before trusting the number.
    """

    path: Path
    latency_ms: float
    ci_ms: tuple[float, float]
    curve: CorrelationCurve
    fps: float
    timestamps: str
    frames: int
    duration_s: float
    physical: MarkerTrack
    rendered: MarkerTrack
    roles: str
    steady: SteadyEstimate
    shutter_correction_ms: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary; the estimate is under ``latency_ms``."""

        def track(t: MarkerTrack) -> dict[str, Any]:
            return {
                "roi": list(t.roi),
                "found_fraction": t.found_fraction,
                "axis": t.axis.tolist(),
                "range_px": float(np.ptp(t.signal)),
                "staircase": t.staircase,
                "stepwise": t.stepwise,
            }

        return {
            "source": str(self.path),
            "method": "video",
            "latency_ms": self.latency_ms,
            "ci95_ms": None if not np.all(np.isfinite(self.ci_ms)) else list(self.ci_ms),
            "peak_corr": self.steady.peak_corr,
            "inverted": self.steady.inverted,
            "fps": self.fps,
            "timestamps": self.timestamps,
            "frames": self.frames,
            "duration_s": self.duration_s,
            "analysis_rate_hz": self.steady.rate_hz,
            "segment_latencies_ms": (self.steady.segment_latencies_s * 1e3).tolist(),
            "roles": self.roles,
            "shutter_correction_ms": self.shutter_correction_ms,
            "physical": track(self.physical),
            "rendered": track(self.rendered),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------------
# Decoding


def _report(progress: Progress | None, n: int) -> None:
    if progress is None or n <= 0:
        return
    update = getattr(progress, "update", None)
    if callable(update):
        update(n)
    else:
        progress(n)


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise InputError(f"video file not found: {path}", "check the path")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DataError(
            f"cannot read {path} as a video (OpenCV could not open it)",
            "check that the file is a complete video (mp4/avi/mov) in a codec FFmpeg decodes",
        )
    return cap


def _decode(path: Path, progress: Progress | None) -> Iterator[tuple[float, NDArray[np.uint8]]]:
    """Yield ``(container time ms, grey frame (H, W) uint8)`` for every frame."""
    cap = _open(path)
    try:
        pending = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            t_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
            if frame.ndim == 3:
                grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            else:
                grey = frame
            pending += 1
            if pending >= 32:
                _report(progress, pending)
                pending = 0
            yield t_ms, grey
        _report(progress, pending)
    finally:
        cap.release()


@dataclass
class _Stats:
    """Per-pixel temporal sums of the downscaled, top-hat filtered frames (for their variance).

    The white top-hat keeps bright structures smaller than ``kernel`` (the markers) and drops
    larger ones, so a flashing or dimming panel background does not count as motion.

    Sums of x and x^2 in float64 are exact enough for 8-bit frames.
    """

    scale: float
    kernel: NDArray[np.uint8]
    n: int = 0
    s1: NDArray[np.float64] | None = None
    s2: NDArray[np.float64] | None = None

    def add(self, grey: NDArray[np.uint8]) -> None:
        small = cv2.resize(grey, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        small = cv2.morphologyEx(small, cv2.MORPH_TOPHAT, self.kernel)
        x = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
        if self.s1 is None or self.s2 is None:
            self.s1 = np.zeros(x.shape, np.float64)
            self.s2 = np.zeros(x.shape, np.float64)
        self.n += 1
        cv2.accumulate(x, self.s1)
        cv2.accumulateSquare(x, self.s2)

    @property
    def std(self) -> NDArray[np.float64]:
        """Per-pixel temporal standard deviation, grey levels (downscaled)."""
        if self.s1 is None or self.s2 is None:
            raise DataError("no frames were accumulated")
        mean = self.s1 / self.n
        return np.sqrt(np.clip(self.s2 / self.n - mean * mean, 0.0, None))


# --------------------------------------------------------------------------------------------
# Regions and tracking


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


def _track_frames(
    frames: Iterator[NDArray[np.uint8]] | list[NDArray[np.uint8]],
    rois: list[Roi],
    bgs: list[tuple[NDArray[np.float32], float]],
    allowed: list[NDArray[np.bool_] | None],
    kernel: NDArray[np.uint8],
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    xys: list[list[tuple[float, float]]] = [[], []]
    masses: list[list[float]] = [[], []]
    for grey in frames:
        for j, (x, y, w, h) in enumerate(rois):
            bg, noise = bgs[j]
            cx, cy, mass = _centroid(grey[y : y + h, x : x + w], kernel, bg, noise, allowed[j])
            xys[j].append((x + cx, y + cy))
            masses[j].append(mass)
    return [np.array(v, dtype=np.float64) for v in xys], [np.array(m) for m in masses]


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


# --------------------------------------------------------------------------------------------
# Analysis


def estimate_position_delay(
    log: SensorLog,
    *,
    max_latency_s: float = 0.25,
    min_latency_s: float = -0.05,
    rate_hz: float | None = None,
    n_segments: int = 4,
    min_corr: float = 0.5,
) -> SteadyEstimate:
    """Delay of one position signal behind another by linear (Pearson) cross-correlation.

    The sensor-log estimator (:func:`~vrkit.measure.latency.analysis.estimate_steady_latency`)
    first fits a monotone map between its two signals at the coarse delay; with the few
    hundred independent samples of a short video that map overfits and pins the peak near the
    lag it was fitted at (errors of ~1 ms at 240 fps in closed-loop tests). Two marker
    positions are linearly related, so this variant correlates the standardised positions
    directly, reusing the analyser's FFT segment sums, lobe search and parabolic refinement.

    Args:
        log: ``motion`` = physical marker position, ``light`` = rendered marker position
            (pixels along each one's motion axis), on the camera's frame times.
        max_latency_s: Largest delay searched, seconds.
        min_latency_s: Smallest delay searched, seconds.
        rate_hz: Analysis rate (the log is linearly interpolated onto it); the frame rate
            when None.
        n_segments: Segments for the batch-means confidence interval.
        min_corr: Smallest acceptable peak correlation.

    Returns:
        The estimate (``light_map`` is None), its interval and the correlation curve.

    Raises:
        InputError: A bad range or segment count.
        DataError: Too short for the range, no correlation, a peak at the edge of the range,
            an ambiguous polarity or two peaks of similar height.
    """
    if not max_latency_s > min_latency_s:
        raise InputError(
            f"max_latency_s ({max_latency_s}) must exceed min_latency_s ({min_latency_s})"
        )
    if n_segments < 1:
        raise InputError(f"n_segments must be at least 1, got {n_segments}")
    _, a, b = resample_uniform(log, rate_hz)
    fs = float(rate_hz) if rate_hz else log.rate_hz
    n = a.size
    kmin, kmax = math.floor(min_latency_s * fs), math.ceil(max_latency_s * fs)
    if kmax - kmin + 1 > n // 2:
        raise DataError(
            f"video is too short for the searched delays: {n / fs:.2f} s for a range of "
            f"{(kmax - kmin) / fs:.3f} s",
            "film at least twice as long as max_latency_s, or lower max_latency_s",
        )
    if not (a.std() > 0 and b.std() > 0):
        raise DataError("a marker signal is constant", "move the tracked device while filming")
    a = (a - a.mean()) / a.std()
    b = (b - b.mean()) / b.std()
    w = np.ones(n)
    w[: max(0, -kmin)] = 0.0  # every reference sample needs a partner at every lag
    w[n - max(0, kmax) :] = 0.0
    sums = segment_sums(a, w, b, kmin, kmax, n_segments)
    c_signed = sums.corr()
    lags = np.arange(kmin, kmax + 1) / fs
    cp, cn = float(c_signed.max()), float(-c_signed.min())
    if min(cp, cn) > 0.85 * max(cp, cn) and max(cp, cn) >= min_corr:
        raise DataError(
            f"direction of the rendered motion is ambiguous: correlation +{cp:.2f} at "
            f"{lags[np.argmax(c_signed)] * 1e3:.1f} ms and -{cn:.2f} at "
            f"{lags[np.argmin(c_signed)] * 1e3:.1f} ms (periodic motion?)",
            "move irregularly, with pauses",
        )
    sign = 1.0 if cp >= cn else -1.0
    c = sign * c_signed
    i = int(np.argmax(c))
    peak = float(c[i])
    if peak < min_corr:
        raise DataError(
            f"the rendered marker does not follow the physical marker: best correlation "
            f"{peak:.2f} (need {min_corr:g}) over delays {min_latency_s * 1e3:.0f}.."
            f"{max_latency_s * 1e3:.0f} ms",
            "check that the rendered marker is driven by the tracked device carrying the "
            "physical marker, or widen max_latency_s",
        )
    lo, hi = peak_lobe(
        c,
        lags,
        i,
        "widen max_latency_s / min_latency_s",
        "move irregularly, with pauses, or narrow max_latency_s",
    )
    latency = (kmin + parabolic_peak(c, i)) / fs
    segs, ci_lo, ci_hi = batch_means_interval(sums, lo, hi, kmin, fs, min_corr, latency, sign=sign)
    return SteadyEstimate(
        latency_s=float(latency),
        ci_low_s=ci_lo,
        ci_high_s=ci_hi,
        peak_corr=peak,
        inverted=sign < 0,
        rate_hz=fs,
        segment_latencies_s=segs,
        curve=CorrelationCurve(lags, c),
        samples_used=int(w.sum()),
    )


def analyze_video(
    path: str | Path,
    *,
    fps: float | None = None,
    progress: Progress | None = None,
    rois: tuple[Roi, Roi] | None = None,
    rendered: RenderedSide = "auto",
    max_latency_s: float = 0.25,
    min_latency_s: float = -0.05,
    upsample: int = 4,
    n_segments: int | None = None,
    min_corr: float = 0.5,
    rolling_shutter_s: float = 0.0,
    marker_px: int | None = None,
    memory_mb: float = 1024.0,
) -> VideoLatencyResult:
    """Estimate the delay of the rendered marker behind the physical marker in a video.

    Args:
        path: Video file (anything FFmpeg decodes through OpenCV).
        fps: Camera frame rate, frames per second. Frames are then stamped ``i / fps``. When
            None, the container's timestamps are used; slow-motion files often store a
            playback rate (30 fps) instead of the capture rate: pass the capture rate then.
        progress: Called with the number of frames decoded since the last call, or a tqdm bar
            (its ``update`` is called).
        rois: ``((x, y, w, h) physical, (x, y, w, h) rendered)`` in pixels; found
            automatically when None.
        rendered: Where the rendered marker is relative to the physical one when the ROIs are
            found automatically (``"left"``, ``"right"``, ``"top"``, ``"bottom"``), or
            ``"auto"`` to tell it from its stepwise (panel-refresh) motion.
        max_latency_s: Largest delay searched, seconds.
        min_latency_s: Smallest delay searched, seconds.
        upsample: The signals are interpolated onto a grid this many times finer than the
            frame rate before correlating.
        n_segments: Segments for the confidence interval; None for one per second of video
            (3 to 8). Short segments with little motion make the interval erratic.
        min_corr: Smallest acceptable peak correlation between the two signals.
        rolling_shutter_s: The camera's readout time from the top row to the bottom row,
            seconds (0 for a global shutter). A rolling shutter sees a marker lower in the
            image later; the estimate is corrected by the readout time between the two
            markers' mean rows.
        marker_px: Largest marker size in the video including motion blur, pixels; bright
            structures larger than about twice this (a flashing panel background, lit
            furniture) are ignored. None: a sixth of the frame's shorter side.
        memory_mb: Decoded grey frames are kept in memory up to this size; longer videos are
            decoded a second time instead.

    Returns:
        The estimate with its confidence interval, correlation curve and both tracks.

    Raises:
        InputError: The file is missing, or an argument is out of range.
        DataError: The file is not a readable video, is too short, shows no motion, a marker
            is not found, or the rendered marker does not follow the physical one.
    """
    path = Path(path)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps!r}")
    if rendered not in ("auto", "left", "right", "top", "bottom"):
        raise InputError(f"rendered must be auto, left, right, top or bottom, got {rendered!r}")
    if not (math.isfinite(rolling_shutter_s) and rolling_shutter_s >= 0):
        raise InputError(f"rolling_shutter_s must be >= 0 seconds, got {rolling_shutter_s!r}")
    if marker_px is not None and not (isinstance(marker_px, int) and marker_px >= 2):
        raise InputError(f"marker_px must be an integer >= 2 pixels, got {marker_px!r}")
    if upsample < 1:
        raise InputError(f"upsample must be at least 1, got {upsample}")

    # Pass 1: decode, keep frames while they fit, accumulate the motion statistics.
    t_ms: list[float] = []
    kept: list[NDArray[np.uint8]] | None = []
    stats: _Stats | None = None
    shape: tuple[int, int] = (0, 0)
    budget = memory_mb * 2**20
    sample: list[NDArray[np.uint8]] = []  # every `step`-th frame, for the background
    step = 1
    for tm, grey in _decode(path, progress):
        if stats is None:
            shape = (int(grey.shape[0]), int(grey.shape[1]))
            if marker_px is None:
                marker_px = max(9, min(shape) // 6)
            kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * marker_px + 1,) * 2)
            scale = min(1.0, _DETECT_SIZE / max(shape))
            k_small = 2 * max(2, round(marker_px * scale)) + 1
            stats = _Stats(scale, cv2.getStructuringElement(cv2.MORPH_RECT, (k_small, k_small)))
        elif grey.shape != shape:
            raise DataError(
                f"frame {len(t_ms)} of {path} is {grey.shape[1]}x{grey.shape[0]}, the first "
                f"was {shape[1]}x{shape[0]}",
                "re-encode the video at one resolution",
            )
        if len(t_ms) % step == 0:
            sample.append(grey)
            if len(sample) >= 2 * _BG_FRAMES:
                sample, step = sample[::2], 2 * step
        t_ms.append(tm)
        if rois is None:
            stats.add(grey)
        if kept is not None:
            kept.append(grey)
            if len(kept) * grey.size > budget:
                kept = None
    n = len(t_ms)
    if n == 0 or stats is None:
        raise DataError(
            f"cannot read any frame from {path}",
            "check that the file is a complete video in a codec FFmpeg decodes",
        )
    if n < MIN_FRAMES:
        raise DataError(
            f"{path} is too short: {n} frames, need at least {MIN_FRAMES}",
            "film several seconds of motion with pauses",
        )

    # Timestamps.
    warnings: list[str] = []
    if fps is not None:
        t_s = np.arange(n, dtype=np.float64) / fps
        stamps = "fps"
        rate = float(fps)
    else:
        t_s = np.asarray(t_ms, dtype=np.float64) * 1e-3
        dt = np.diff(t_s)
        if not np.all(dt > 0):
            bad = int(np.flatnonzero(dt <= 0)[0]) + 1
            raise DataError(
                f"{path} has no usable frame timestamps: frame {bad} is stamped "
                f"{t_s[bad] * 1e3:.3f} ms, frame {bad - 1} {t_s[bad - 1] * 1e3:.3f} ms",
                "pass the camera's frame rate with --fps",
            )
        t_s -= t_s[0]
        rate = 1.0 / float(np.median(dt))
        stamps = "container"
        if np.max(np.abs(dt - 1.0 / rate)) > 0.25 / rate:
            warnings.append(
                f"frame intervals vary from {dt.min() * 1e3:.3f} to {dt.max() * 1e3:.3f} ms "
                "(variable frame rate); the analysis interpolates onto a uniform grid"
            )
    if rate < 100:
        warnings.append(
            f"frame rate {rate:.1f} fps is low for latency: a high-speed camera (>= 240 fps) "
            "is needed for millisecond accuracy; if this is a slow-motion file stamped at its "
            "playback rate, pass the capture rate with --fps"
        )

    # Regions.
    allowed: list[NDArray[np.bool_] | None] = [None, None]
    if rois is not None:
        if len(rois) != 2:
            raise InputError(f"give two ROIs (physical, rendered), got {len(rois)}")
        regions = [_check_roi(path, r, shape) for r in rois]
        roles = "given"
    else:
        regions, labels, labs = _find_regions(path, stats.std, stats.scale, shape)
        big = cv2.resize(
            labels.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST
        ).astype(np.int32)
        for j, (x, y, w, h) in enumerate(regions):
            other = big[y : y + h, x : x + w] == labs[1 - j]
            allowed[j] = ~other
        roles = "staircase"

    # Pass 2 (tracking): from memory, or by decoding again.
    frames = kept if kept is not None else (g for _, g in _decode(path, None))
    bgs = [_background(sample, r, kernel) for r in regions]
    xys, masses = _track_frames(frames, regions, bgs, allowed, kernel)
    if xys[0].shape[0] != n or xys[1].shape[0] != n:
        raise DataError(
            f"{path} gave {n} frames on the first read and {xys[0].shape[0]} on the second",
            "re-encode the video (the file may be damaged)",
        )
    names = (
        ("physical", "rendered")
        if rois is not None
        else tuple(f"the marker in ROI {r}" for r in regions)
    )
    tracks = []
    for j in range(2):
        name = names[j] if rois is None else f"the {names[j]} marker"
        xy, sig, axis = _principal(path, name, xys[j], masses[j])
        tracks.append(MarkerTrack(regions[j], xy, masses[j], sig, axis, _staircase(sig)))

    if rois is None:
        if rendered == "auto":
            s0, s1 = tracks[0].stepwise, tracks[1].stepwise
            if max(s0, s1) < 0.08 or min(s0, s1) > 0.4 * max(s0, s1):
                raise DataError(
                    f"cannot tell which marker in {path} is the rendered one: both move "
                    f"smoothly or both in steps (still or missing in {s0:.0%} and {s1:.0%} of "
                    "moving frames; a panel refreshing at half the camera rate can hide its "
                    "steps)",
                    "pass rendered=left/right/top/bottom (--rendered) or the two ROIs",
                )
            i_r = 0 if s0 > s1 else 1
        else:
            cx = [r[0] + r[2] / 2 for r in regions]
            cy = [r[1] + r[3] / 2 for r in regions]
            key = {
                "left": (cx, np.argmin),
                "right": (cx, np.argmax),
                "top": (cy, np.argmin),
                "bottom": (cy, np.argmax),
            }[rendered]
            i_r = int(key[1](key[0]))
            roles = "given"
        physical, rend = tracks[1 - i_r], tracks[i_r]
    else:
        physical, rend = tracks

    duration = float(t_s[-1] - t_s[0])
    if n_segments is None:
        n_segments = int(np.clip(math.floor(duration), 3, 8))
    log = SensorLog.from_seconds(t_s, physical.signal, rend.signal)
    checks = LogChecks(min_samples=MIN_FRAMES, min_duration_s=2.0 * max_latency_s)
    try:
        validate(log, checks)
        est = estimate_position_delay(
            log,
            max_latency_s=max_latency_s,
            min_latency_s=min_latency_s,
            rate_hz=rate * upsample,
            n_segments=n_segments,
            min_corr=min_corr,
        )
    except DataError as exc:
        msg = exc.message.replace("sensor log", "video")
        raise DataError(
            f"{path}: {msg}",
            exc.hint
            or "check that the rendered marker follows the tracked device, that both markers "
            "are in view, and the searched delay range",
        ) from exc
    # Rolling shutter: a row y is exposed y / H * readout after the top row, so the rendered
    # marker's samples are really later than their stamps by the difference in rows.
    shutter_ms = 0.0
    if rolling_shutter_s > 0:
        rows = [float(np.nanmean(tr.xy[:, 1])) for tr in (physical, rend)]
        shutter_ms = (rows[1] - rows[0]) / shape[0] * rolling_shutter_s * 1e3
    ci = (
        (est.ci_low_s * 1e3 + shutter_ms, est.ci_high_s * 1e3 + shutter_ms)
        if est.ci_low_s is not None and est.ci_high_s is not None
        else (math.nan, math.nan)
    )
    if not np.all(np.isfinite(ci)):
        warnings.append(
            "no confidence interval: fewer than 3 segments of the video had enough motion; "
            "film longer, with more movements"
        )
    elif ci[1] - ci[0] > 4.0:
        warnings.append(
            f"wide confidence interval ({ci[0]:.1f} to {ci[1]:.1f} ms): the motion is too slow "
            "or too smooth for a sharp correlation peak; move briskly, with pauses, and film "
            "longer"
        )
    gaps = [
        int(np.max(np.diff(np.flatnonzero(np.isfinite(tr.xy[:, 0]))), initial=1))
        for tr in (physical, rend)
    ]
    if max(gaps) / rate > 0.1:
        warnings.append(
            f"a marker was lost for {max(gaps) / rate * 1e3:.0f} ms at a stretch (filled by "
            "interpolation); check that it stays inside its ROI and visible"
        )
    if physical.stepwise >= 0.08 and physical.stepwise > 2.5 * rend.stepwise:
        warnings.append(
            "the marker taken as physical moves in steps (still or missing in "
            f"{physical.stepwise:.0%} of moving frames) and the rendered one smoothly "
            f"({rend.stepwise:.0%}): are the two swapped?"
        )
    return VideoLatencyResult(
        path=path,
        latency_ms=est.latency_s * 1e3 + shutter_ms,
        ci_ms=ci,
        shutter_correction_ms=shutter_ms,
        curve=CorrelationCurve(est.curve.lags_s + shutter_ms * 1e-3, est.curve.corr),
        fps=rate,
        timestamps=stamps,
        frames=n,
        duration_s=duration,
        physical=physical,
        rendered=rend,
        roles=roles,
        steady=est,
        warnings=warnings,
    )


# --------------------------------------------------------------------------------------------
# Simulation


@dataclass(frozen=True)
class VideoSimConfig:
    """Parameters of a simulated high-speed video (seconds, Hz, pixels, grey levels).

    Attributes:
        size: ``(width, height)`` of the video.
        refresh_hz: Panel refresh rate.
        persistence: ``"hold"`` (each frame shown for the whole period) or ``"low"`` (a
            pulse of ``pulse_s`` per frame; the panel's grey background flashes too).
        pulse_s: Pulse length of a low-persistence panel.
        response_s: Pixel response time constant (first order) of a full-persistence panel.
        scanout_s: Time to scan the whole panel (None: 90 % of a refresh period).
        marker_row: Where the rendered marker sits down the panel, 0 (top) to 1 (bottom).
        pose_jitter_s: Standard deviation of the pose sample time.
        exposure_s: Camera exposure (None: a whole frame interval, the recommended "360-degree
            shutter"; shorter exposures make the estimate depend on the phase between the
            camera and the panel, see docs/latency-video.md).
        blur_samples: Sub-exposure samples for motion blur.
        noise: Sensor noise, grey levels (standard deviation at black; grows with signal).
        codec: FourCC of the writer (``"mp4v"``, ``"MJPG"``, ``"FFV1"``...).
        amplitude_px: Half the physical marker's travel, pixels.
        rendered_scale: Rendered travel over physical travel (negative: mirrored).
        marker_sigma_px: Radius (Gaussian sigma) of the physical and rendered markers.
        move_s: (min, max) length of a movement.
        pause_s: (min, max) length of a pause.
        container_fps: Frame rate written into the file (None: ``fps``); a slow-motion
            file stores its playback rate, e.g. 30.
        rolling_shutter_s: Camera readout time from the top row to the bottom row (0: a
            global shutter); each marker is exposed at the time of its centre row.
        rendered_row: Height of the rendered marker's centre in the video, 0 (top) to 1.
    """

    size: tuple[int, int] = (320, 240)
    refresh_hz: float = 90.0
    persistence: Literal["hold", "low"] = "hold"
    pulse_s: float = 0.002
    response_s: float = 0.001
    scanout_s: float | None = None
    marker_row: float = 0.5
    pose_jitter_s: float = 0.0003
    exposure_s: float | None = None
    blur_samples: int = 8
    noise: float = 2.0
    codec: str = "mp4v"
    amplitude_px: float = 55.0
    rendered_scale: float = -0.8
    marker_sigma_px: float = 3.0
    move_s: tuple[float, float] = (0.8, 1.6)
    pause_s: tuple[float, float] = (0.2, 0.5)
    container_fps: float | None = None
    rolling_shutter_s: float = 0.0
    rendered_row: float = 0.5


def _sim_motion(
    t: NDArray[np.float64], cfg: VideoSimConfig, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Motion in [-1, 1] on the grid ``t``: smooth irregular moves separated by pauses."""
    env = np.zeros_like(t)
    now = t[0] + 0.3
    while now < t[-1]:
        start = now + rng.uniform(*cfg.pause_s)
        end = start + rng.uniform(*cfg.move_s)
        ramp = 0.08
        u = np.clip((t - start) / ramp, 0, 1)
        d = np.clip((end - t) / ramp, 0, 1)
        env = np.maximum(env, (0.5 - 0.5 * np.cos(np.pi * u)) * (0.5 - 0.5 * np.cos(np.pi * d)))
        now = end
    vel = np.zeros_like(t)
    for _ in range(6):
        f = rng.uniform(0.4, 2.0)
        vel += np.cos(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / f
    vel *= env
    pos = np.cumsum(vel) * (t[1] - t[0])
    lo, hi = float(pos.min()), float(pos.max())
    return 2.0 * (pos - lo) / max(hi - lo, 1e-12) - 1.0


def _add_blob(
    img: NDArray[np.float32],
    xy: NDArray[np.float64],
    w: NDArray[np.float64],
    sigma: float,
    colour: NDArray[np.float32],
) -> None:
    """Add weighted Gaussian dots at ``xy`` (J, 2) px with weights ``w`` (J,) to ``img``.

    The dots are separable, so their sum over a window around them is ``gy.T @ gx``; ``img``
    is (H, W, 3) and ``colour`` (3,) scales each channel.
    """
    H, W = img.shape[:2]
    keep = w > 0
    if not np.any(keep):
        return
    xy, w = xy[keep], w[keep]
    r = 4.0 * sigma
    x0, x1 = max(0, math.floor(xy[:, 0].min() - r)), min(W, math.ceil(xy[:, 0].max() + r) + 1)
    y0, y1 = max(0, math.floor(xy[:, 1].min() - r)), min(H, math.ceil(xy[:, 1].max() + r) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    xs = np.arange(x0, x1, dtype=np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)
    gx = np.exp(-0.5 * ((xs[None, :] - xy[:, 0:1]) / sigma) ** 2)
    gy = np.exp(-0.5 * ((ys[None, :] - xy[:, 1:2]) / sigma) ** 2) * w[:, None]
    blob = (gy.T @ gx).astype(np.float32)
    img[y0:y1, x0:x1] += blob[..., None] * colour


def simulate_video(
    path: str | Path,
    *,
    latency_s: float,
    fps: float = 240.0,
    duration_s: float = 4.0,
    seed: int = 0,
    **options: Any,
) -> Path:
    """Write a synthetic high-speed video of a physical and a rendered marker.

    The left part of the frame shows the physical marker (a green LED moving along a slanted,
    slightly curved path), the right part a grey panel with the rendered marker (white, moving
    horizontally, mirrored and scaled). Panel frame ``k`` reaches the marker's row at
    ``d_k = phase + k / refresh + marker_row * scanout``; its pose was sampled at
    ``s_k = d_k + c - latency_s + jitter`` where ``c`` is the photon centre of the frame
    (``period / 2 + response_s`` for a full-persistence panel, ``pulse_s / 2`` for low
    persistence), so ``latency_s`` is the mean pose-to-photon-centroid delay that
    :func:`analyze_video` estimates. Each camera frame ``i`` integrates light over an exposure
    centred on ``i / fps``.

    Args:
        path: Output file (``.mp4`` for mp4v, ``.avi`` for MJPG/FFV1).
        latency_s: The delay to build in, seconds.
        fps: Camera frame rate.
        duration_s: Video length, seconds.
        seed: Random seed (motion, phase, jitter, noise).
        **options: Fields of :class:`VideoSimConfig`.

    Returns:
        The path written.

    Raises:
        InputError: An option is unknown or out of range, or the writer cannot open the file.
    """
    try:
        cfg = VideoSimConfig(**options)
    except TypeError as exc:
        raise InputError(f"unknown simulate_video option: {exc}") from exc
    if not (fps > 0 and duration_s > 0 and cfg.refresh_hz > 0):
        raise InputError(
            f"fps, duration_s and refresh_hz must be positive, got {fps}, {duration_s}, "
            f"{cfg.refresh_hz}"
        )
    if cfg.persistence not in ("hold", "low"):
        raise InputError(f"persistence must be hold or low, got {cfg.persistence!r}")
    path = Path(path)
    rng = np.random.default_rng(seed)
    W, H = cfg.size
    n = round(duration_s * fps)
    period = 1.0 / cfg.refresh_hz
    exposure = cfg.exposure_s if cfg.exposure_s is not None else 1.0 / fps
    scanout = cfg.scanout_s if cfg.scanout_s is not None else 0.9 * period
    J = max(1, int(cfg.blur_samples))

    # Motion on a fine grid covering every pose sample.
    t0, t1 = -abs(latency_s) - 2 * period - 0.2, duration_s + 0.2
    fine = np.arange(t0, t1, 1.0 / 4000.0)
    u = _sim_motion(fine, cfg, rng)

    def motion(t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.interp(t, fine, u)

    # Physical marker: a slanted path with a little curvature (a marker on a swinging rod).
    c_p = np.array([0.27 * W, 0.5 * H])
    ang = math.radians(25.0)
    d_p = np.array([math.cos(ang), math.sin(ang)])
    n_p = np.array([-d_p[1], d_p[0]])

    def physical(t: NDArray[np.float64]) -> NDArray[np.float64]:
        m = motion(t)[..., None]
        return c_p + cfg.amplitude_px * (m * d_p + 0.12 * m * m * n_p)

    # Panel frames and their pose samples.
    phase = rng.uniform(0, period)
    k0 = math.floor((-exposure - phase - scanout) / period) - 2
    k1 = math.ceil((duration_s + exposure) / period) + 2
    ks = np.arange(k0, k1)
    d = phase + ks * period + cfg.marker_row * scanout
    centre = period / 2 + cfg.response_s if cfg.persistence == "hold" else cfg.pulse_s / 2
    s = d + centre - latency_s + rng.normal(0.0, cfg.pose_jitter_s, ks.size)
    c_r = np.array([0.73 * W, cfg.rendered_row * H])
    r_xy = c_r + np.column_stack(
        [cfg.rendered_scale * cfg.amplitude_px * motion(s), np.zeros(ks.size)]
    )

    # Static background: dark room, a grey panel on the right, a rod holder on the left.
    # A low-persistence panel is dark between flashes: its grey flashes with the marker.
    bg = np.full((H, W), 18.0, np.float32)
    panel = (slice(int(0.12 * H), int(0.88 * H)), slice(int(0.5 * W), int(0.96 * W)), slice(None))
    bg[panel[:2]] = 60.0 if cfg.persistence == "hold" else 22.0
    cv2.rectangle(bg, (int(0.05 * W), int(0.9 * H)), (int(0.45 * W), H - 1), 35.0, -1)

    fourcc = cv2.VideoWriter_fourcc(*cfg.codec)
    writer = cv2.VideoWriter(str(path), fourcc, float(cfg.container_fps or fps), (W, H))
    if not writer.isOpened():
        raise InputError(
            f"cannot write {path} with codec {cfg.codec!r}",
            "use mp4v with .mp4 or MJPG with .avi",
        )
    green = np.array([0.45, 1.0, 0.45], np.float32)  # BGR
    white = np.ones(3, np.float32)
    base = np.repeat(bg[..., None], 3, axis=2)
    # Sensor noise: a bank of noise frames, cropped at random offsets for each video frame.
    m = 32
    bank = rng.standard_normal((4, H + m, W + m, 3), dtype=np.float32) * np.float32(cfg.noise)
    try:
        for i in range(n):
            sub = i / fps + ((np.arange(J) + 0.5) / J - 0.5) * exposure  # (J,)
            img = base.copy()
            # A rolling shutter exposes each row later than the one above it.
            sub_p = sub + cfg.rolling_shutter_s * c_p[1] / H
            sub_r = sub + cfg.rolling_shutter_s * c_r[1] / H
            _add_blob(img, physical(sub_p), np.full(J, 210.0 / J), cfg.marker_sigma_px, green)
            # Which panel frames light the marker at each sub-sample, and how much.
            k = np.searchsorted(d, sub_r, side="right") - 1
            age = sub_r - d[k]
            if cfg.persistence == "hold":
                a_new = 1.0 - np.exp(-age / max(cfg.response_s, 1e-9))
                idx = np.concatenate([k, k - 1])
                wts = np.concatenate([a_new, 1.0 - a_new]) * (170.0 / J)
            else:
                idx = k
                lit = age < cfg.pulse_s
                wts = lit * (190.0 * min(1.0, period / 8 / cfg.pulse_s) / J)
                img[panel] += np.float32(60.0 * lit.mean())
            _add_blob(img, r_xy[idx], wts, 1.2 * cfg.marker_sigma_px, white)
            oy, ox = rng.integers(0, m, 2)
            img += bank[i % 4, oy : oy + H, ox : ox + W] * (1.0 + img * np.float32(1 / 128))
            np.clip(img + 0.5, 0, 255, out=img)
            writer.write(img.astype(np.uint8))
    finally:
        writer.release()
    return path
