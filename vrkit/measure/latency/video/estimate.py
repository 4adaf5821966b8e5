"""Stage 5, estimate: which marker is rendered, and its delay behind the physical one.

The roles are given (ROIs in order, or the side the rendered marker is on) or told from the
motion: a panel refreshing slower than the camera makes the rendered marker move in steps, a
low-persistence panel leaves it dark in some frames; the physical marker moves in every frame.
The delay of the rendered signal behind the physical one is estimated by FFT
cross-correlation (:func:`estimate_position_delay`) on a grid ``upsample`` times finer than the
frame rate, with a batch-means confidence interval, and corrected for a rolling shutter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

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
from vrkit.measure.latency.video.decode import MIN_FRAMES, DecodedVideo
from vrkit.measure.latency.video.regions import MarkerRegions
from vrkit.measure.latency.video.track import MarkerTrack

RenderedSide = Literal["auto", "left", "right", "top", "bottom"]


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


@dataclass(frozen=True)
class MarkerRoles:
    """Which track is which.

    Attributes:
        physical: The physical marker's track.
        rendered: The rendered marker's track.
        roles: ``"given"`` (ROIs or side given) or ``"staircase"`` (told from the motion).
    """

    physical: MarkerTrack
    rendered: MarkerTrack
    roles: str


def assign_roles(
    path: Path,
    tracks: tuple[MarkerTrack, MarkerTrack],
    regions: MarkerRegions,
    rendered: RenderedSide,
) -> MarkerRoles:
    """Tell the physical marker from the rendered one.

    Args:
        path: The video (for messages).
        tracks: The two tracks, in the order of ``regions.rois``.
        regions: Stage 2's result (given ROIs are ``(physical, rendered)``).
        rendered: The rendered marker's side, or ``"auto"`` to tell it from its steps.

    Returns:
        The two tracks in their roles.

    Raises:
        DataError: ``"auto"`` and both markers move alike.
    """
    if regions.given:
        return MarkerRoles(tracks[0], tracks[1], "given")
    roles = "staircase"
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
        cx = [r[0] + r[2] / 2 for r in regions.rois]
        cy = [r[1] + r[3] / 2 for r in regions.rois]
        key = {
            "left": (cx, np.argmin),
            "right": (cx, np.argmax),
            "top": (cy, np.argmin),
            "bottom": (cy, np.argmax),
        }[rendered]
        i_r = int(key[1](key[0]))
        roles = "given"
    return MarkerRoles(tracks[1 - i_r], tracks[i_r], roles)


def estimate_latency(
    video: DecodedVideo,
    markers: MarkerRoles,
    *,
    max_latency_s: float,
    min_latency_s: float,
    upsample: int,
    n_segments: int | None,
    min_corr: float,
    rolling_shutter_s: float,
) -> VideoLatencyResult:
    """Stage 5: the delay of the rendered signal behind the physical one, with its checks.

    Args:
        video: Stage 1's result (frame times, rate, warnings so far).
        markers: The two tracks in their roles.
        max_latency_s: Largest delay searched, seconds.
        min_latency_s: Smallest delay searched, seconds.
        upsample: Analysis grid over the frame rate.
        n_segments: Segments for the interval; None for one per second (3 to 8).
        min_corr: Smallest acceptable peak correlation.
        rolling_shutter_s: Camera readout time, top row to bottom row, seconds.

    Returns:
        The result.

    Raises:
        DataError: The signals do not correlate, or the video is too short for the range.
    """
    physical, rend, roles = markers.physical, markers.rendered, markers.roles
    path, t_s, rate = video.path, video.t_s, video.rate
    warnings = list(video.warnings)
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
        shutter_ms = (rows[1] - rows[0]) / video.shape[0] * rolling_shutter_s * 1e3
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
        timestamps=video.stamps,
        frames=video.n,
        duration_s=duration,
        physical=physical,
        rendered=rend,
        roles=roles,
        steady=est,
        warnings=warnings,
    )


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
