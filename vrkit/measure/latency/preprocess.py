"""Sensor-log signals made ready for the delay estimators: gaps, glitches, flicker, rate.

What every estimator needs before it looks for a delay, in one place:

* **Gaps.** The log is cut at gaps longer than 50 ms (:func:`~.sensorlog.uniform_runs`); short
  gaps (dropped samples) are filled and marked. Memory grows with the readings, not the span.
* **Glitches.** Each channel is clipped to its 0.1 and 99.9 percentiles. Clipping is monotone,
  so it leaves the model ``light = g(motion(t - L))`` intact, while one wild reading (65535,
  4294967295, -1e30) can no longer weigh more than a reading at the edge of the data.
* **Flicker and frames.** Both channels go through the same zero-phase low-pass filter (a
  4th-order Butterworth run forwards and backwards, 15 Hz or a quarter of the refresh rate).
  It adds no delay; it removes the display's frame steps and pulses, mains flicker and most of
  the sensors' noise, and, applied to both sides, keeps them aligned.
* **Rate.** The filtered signals are decimated to about 1 kHz.

:func:`detect_display` reads the panel's refresh rate and persistence from the raw light.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sp_fft
from scipy import ndimage, signal

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.sensorlog import SensorLog, UniformLog, noise_sigma, uniform_runs

#: Default low-pass corner for the steady-state analysis, Hz (head motion lives below ~5 Hz;
#: panels refresh at 60 Hz or more, mains lighting flickers at 100/120 Hz).
LOWPASS_HZ = 15.0
#: Analysis rate the filtered signals are decimated towards, Hz.
ANALYSIS_HZ = 1000.0


@dataclass(frozen=True)
class DisplayInfo:
    """The panel as the photodiode saw it (or as the user said).

    Attributes:
        refresh_hz: Refresh rate, Hz (None when neither given nor detected).
        refresh_source: ``"given"``, ``"detected"`` or ``"unknown"``.
        persistence: ``"full"`` (sample and hold), ``"low"`` (a pulse per frame) or None.
        pulse_s: Rough on-time of a low-persistence pulse, seconds (None otherwise).
        line_snr: How far the refresh line stands above the spectrum's floor (power ratio).
        mains_hz: A flicker found at a multiple of 50 or 60 Hz that could be the room's
            lighting rather than the panel (then ``refresh_hz`` is None unless the light
            also goes dark between frames, which room light cannot do).
    """

    refresh_hz: float | None = None
    refresh_source: Literal["given", "detected", "unknown"] = "unknown"
    persistence: Literal["full", "low"] | None = None
    pulse_s: float | None = None
    line_snr: float = 0.0
    mains_hz: float | None = None

    def describe(self) -> str:
        """One line for the report."""
        if self.refresh_hz is None:
            if self.mains_hz:
                return (
                    f"display refresh not detected (the light flickers at {self.mains_hz:.1f} "
                    "Hz: room lighting on the mains, or the panel)"
                )
            return "display refresh not detected (no frame flicker in the light)"
        txt = f"display {self.refresh_hz:.1f} Hz ({self.refresh_source})"
        if self.persistence == "low":
            pulse = f", ~{self.pulse_s * 1e3:.1f} ms pulses" if self.pulse_s else ""
            txt += f", low persistence (detected{pulse})"
        elif self.persistence == "full":
            txt += ", full persistence (detected)"
        return txt

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "refresh_hz": self.refresh_hz,
            "refresh_source": self.refresh_source,
            "persistence": self.persistence,
            "pulse_ms": None if self.pulse_s is None else self.pulse_s * 1e3,
            "line_snr": self.line_snr,
            "mains_hz": self.mains_hz,
        }


def detect_display(
    light: NDArray[np.float64], fs: float, refresh_hz: float | None = None
) -> DisplayInfo:
    """Refresh rate and persistence of the panel from the raw light.

    Frame changes (steps of a held panel, or a low-persistence panel's pulses) make the light's
    first difference periodic at the refresh rate: the strongest line from 40 Hz up (or the
    lowest sub-harmonic of it with a quarter of its power) is taken as the refresh rate.
    Within one frame a low-persistence panel's light falls back to dark; a held panel's
    stays put.

    Args:
        light: (N,) uniformly sampled raw light (not low-passed).
        fs: Its sample rate, Hz.
        refresh_hz: The refresh rate when known (then only the persistence is detected).

    Returns:
        What could be told; ``refresh_source="unknown"`` when no clear line is found.
    """
    x = np.asarray(light, dtype=np.float64)
    source: Literal["given", "detected", "unknown"] = "given" if refresh_hz else "unknown"
    snr = 0.0
    if refresh_hz is None and x.size >= 256 and fs > 100:
        refresh_hz, snr = _refresh_line(x, fs)
        if refresh_hz is not None:
            source = "detected"
    if refresh_hz is None:
        return DisplayInfo(line_snr=snr)
    persistence, pulse = _persistence(x, fs, float(refresh_hz))
    if source == "detected" and persistence != "low" and _near_mains(refresh_hz):
        return DisplayInfo(line_snr=snr, mains_hz=float(refresh_hz))
    return DisplayInfo(float(refresh_hz), source, persistence, pulse, snr)


def _near_mains(f: float) -> bool:
    """Whether ``f`` is within 0.5 Hz of 100, 150, 200, 250 or 120, 180, 240 Hz."""
    return any(abs(f - k * base) < 0.5 for base in (50.0, 60.0) for k in range(2, 6))


def fast_len_below(n: int) -> int:
    """Largest length ``<= n`` whose FFT is fast (no prime factor above 5)."""
    m = max(1, int(n))
    while sp_fft.next_fast_len(m, real=True) != m:
        m -= 1
    return m


def _refresh_line(x: NDArray[np.float64], fs: float) -> tuple[float | None, float]:
    """The refresh rate whose harmonics carry the most power in the light's first difference.

    Frame steps and pulses are sharp, so the size of the light's difference has a line at
    every multiple of the refresh rate, folded about the Nyquist frequency when the sampling
    is slower than the harmonics. A sum over 6 (folded) harmonics is scored for every
    candidate from 40 to 250 Hz; a smooth room-light flicker (one line, no harmonics) scores
    low, and a line at a multiple of the mains frequency is reported as possibly the room's.
    """
    seg = x[: fast_len_below(min(x.size, 1 << 18) - 1) + 1]
    # |difference|: frame steps go both ways with the motion, their size keeps the rhythm
    d = np.abs(np.diff(seg))
    d = d - d.mean()
    spec = np.abs(sp_fft.rfft(d * np.hanning(d.size))) ** 2
    df = fs / d.size
    nyq = spec.size - 1
    # the strongest bin within +-1 bin
    local = ndimage.maximum_filter1d(spec, 3)
    lo_f, hi_f = 40.0, min(250.0, 0.45 * fs)
    if hi_f <= lo_f:
        return None, 0.0
    cand = np.arange(lo_f, hi_f, df)
    score = np.zeros(cand.size)
    for h in range(1, 7):
        f = np.mod(h * cand, fs)
        f = np.where(f > fs / 2, fs - f, f)
        score += local[np.clip(np.round(f / df).astype(int), 0, nyq)]
    band = (np.arange(spec.size) * df >= 20.0) & (np.arange(spec.size) * df <= fs / 2)
    floor = float(np.median(spec[band])) if band.any() else 0.0
    i = int(np.argmax(score))
    snr = float(score[i] / (6.0 * floor)) if floor > 0 else 0.0
    if snr < 20.0:
        return None, snr
    # refine on the fundamental's own bin (parabola through log power)
    j = round(cand[i] / df)
    if 0 < j < nyq and cand[i] < fs / 2:
        lo = max(1, j - 1)
        k = lo + int(np.argmax(spec[lo : j + 2]))
        if 0 < k < nyq:
            a, b, c = np.log(spec[k - 1 : k + 2] + 1e-300)
            den = a - 2 * b + c
            off = 0.5 * (a - c) / den if den < 0 else 0.0
            return float((k + np.clip(off, -1, 1)) * df), snr
    return float(cand[i]), snr


def _persistence(
    x: NDArray[np.float64], fs: float, refresh_hz: float
) -> tuple[Literal["full", "low"] | None, float | None]:
    period = fs / refresh_hz
    block = round(period)
    if block < 3 or x.size < 20 * block:
        return None, None
    nb = x.size // block
    b = x[: nb * block].reshape(nb, block)
    dark, bright = np.percentile(x, [1.0, 99.0])
    if not bright > dark:
        return None, None
    mx, mn = b.max(axis=1), b.min(axis=1)
    lit = b.mean(axis=1) - dark > 0.1 * (bright - dark)
    if lit.sum() < 10:
        return None, None
    ratio = float(np.median(((mx - mn) / np.maximum(mx - dark, 1e-300))[lit]))
    if ratio < 0.6:
        return "full", None
    half = (mn + 0.5 * (mx - mn))[:, None]
    duty = float(np.median((b > half).mean(axis=1)[lit]))
    return "low", duty / refresh_hz


@dataclass(frozen=True)
class Prepared:
    """Both channels, clipped, low-passed and decimated, runs joined with invalid padding.

    Attributes:
        fs: Analysis rate, Hz.
        raw_rate_hz: The log's own (median) rate, Hz.
        motion: (N,) motion, motion units.
        light: (N,) light, light units.
        valid: (N,) True on real data; False in the padding between runs and around
            filled gaps.
        time_s: (N,) time since the log's first sample, seconds (NaN in the padding).
        lowpass_hz: The low-pass corner used, Hz.
        clipped: Readings clipped as outliers, per channel: ``{"motion": k, "light": k}``.
        uniform: The runs before filtering (gaps and what was filled).
        display: Refresh and persistence, given or detected.
        motion_noise: Noise of the filtered motion (robust estimate), motion units.
    """

    fs: float
    raw_rate_hz: float
    motion: NDArray[np.float64]
    light: NDArray[np.float64]
    valid: NDArray[np.bool_]
    time_s: NDArray[np.float64]
    lowpass_hz: float
    clipped: dict[str, int]
    uniform: UniformLog
    display: DisplayInfo
    motion_noise: float


def clip_limits(x: NDArray[np.float64], fraction: float = 0.001) -> tuple[float, float]:
    """The ``fraction`` and ``1 - fraction`` quantiles of ``x``: its robust range."""
    lo, hi = np.quantile(x, [fraction, 1.0 - fraction])
    return float(lo), float(hi)


def lowpass(x: NDArray[np.float64], fs: float, corner_hz: float) -> NDArray[np.float64]:
    """Zero-phase 4th-order Butterworth low-pass (no delay at any frequency).

    Args:
        x: (N,) uniformly sampled signal.
        fs: Its rate, Hz.
        corner_hz: The -3 dB corner of one pass, Hz (run twice: -6 dB overall).

    Returns:
        (N,) the filtered signal.
    """
    if not 0 < corner_hz < 0.5 * fs:
        raise InputError(f"low-pass corner {corner_hz:g} Hz is not within 0..{fs / 2:g} Hz")
    return signal.sosfiltfilt(_butter(float(corner_hz), float(fs)), x)


@functools.lru_cache(maxsize=32)
def _butter(corner_hz: float, fs: float) -> NDArray[np.float64]:
    return signal.butter(4, corner_hz, fs=fs, output="sos")


def prepare(
    log: SensorLog,
    *,
    rate_hz: float | None = None,
    refresh_hz: float | None = None,
    lowpass_hz: float | None = None,
    pad_s: float = 0.0,
    min_run_s: float = 1.0,
    target_hz: float = ANALYSIS_HZ,
) -> Prepared:
    """Clip, gap-split, low-pass and decimate a validated log (see the module docstring).

    Args:
        log: A log that passed :func:`~.sensorlog.validate`.
        rate_hz: Grid rate before decimation (the log's median rate when None).
        refresh_hz: The panel's refresh rate when known; detected from the light otherwise.
        lowpass_hz: Low-pass corner; default 15 Hz, at most a quarter of the refresh rate.
        pad_s: Invalid samples put between runs, seconds (at least the searched delay range,
            so that no lag pairs samples of two runs).
        min_run_s: Runs shorter than this are left out, seconds.
        target_hz: Rate to decimate towards, Hz (never below 8x the corner).

    Returns:
        The prepared signals.

    Raises:
        DataError: No run is long enough, or the sample rate is too low for the filter.
    """
    m_lo, m_hi = clip_limits(log.motion)
    l_lo, l_hi = clip_limits(log.light)
    clipped = {
        "motion": int(np.count_nonzero((log.motion < m_lo) | (log.motion > m_hi))),
        "light": int(np.count_nonzero((log.light < l_lo) | (log.light > l_hi))),
    }
    log = SensorLog(
        log.t_ns, np.clip(log.motion, m_lo, m_hi), np.clip(log.light, l_lo, l_hi), log.origin_s
    )
    u = uniform_runs(log, rate_hz, min_run_s=min_run_s)
    if not u.runs:
        longest = max(
            [0.0] + [b - a for a, b in _run_spans(log, u)],
        )
        raise DataError(
            f"sensor log has no stretch without gaps of at least {min_run_s:g} s "
            f"(longest {longest:.3f} s; {len(u.long_gaps)} gaps over 50 ms)",
            "record without dropouts (check the link's bandwidth)",
        )
    fs = u.rate_hz
    longest = max(u.runs, key=lambda r: r.light.size)
    display = detect_display(longest.light, fs, refresh_hz)
    corner = LOWPASS_HZ if lowpass_hz is None else float(lowpass_hz)
    if display.refresh_hz:
        corner = min(corner, display.refresh_hz / 4.0)
    if corner >= 0.4 * fs:
        raise DataError(
            f"the log's sample rate ({fs:g} Hz) is too low for a {corner:g} Hz low-pass",
            "sample the rig at 200 Hz or faster",
        )
    q = max(1, math.floor(fs / max(target_hz, 8.0 * corner)))
    fa = fs / q
    pad = math.ceil(pad_s * fa) + 4
    spread = max(1, round(0.25 * fs / corner))  # a long filled gap's error spreads this far
    parts_m, parts_l, parts_v, parts_t = [], [], [], []
    for k, run in enumerate(u.runs):
        m = lowpass(run.motion, fs, corner)[::q]
        li = lowpass(run.light, fs, corner)[::q]
        bad = ndimage.binary_dilation(run.filled, iterations=spread) if run.filled.any() else None
        v = np.ones(m.size, bool) if bad is None else ~bad[::q]
        t = run.start_s + np.arange(m.size) / fa
        if k:
            parts_m.append(np.zeros(pad))
            parts_l.append(np.zeros(pad))
            parts_v.append(np.zeros(pad, bool))
            parts_t.append(np.full(pad, np.nan))
        parts_m.append(m)
        parts_l.append(li)
        parts_v.append(v)
        parts_t.append(t)
    # invalid samples up to a length the FFTs handle fast (small prime factors)
    total = sum(v.size for v in parts_v)
    extra = sp_fft.next_fast_len(total + pad, real=True) - total
    parts_m.append(np.zeros(extra))
    parts_l.append(np.zeros(extra))
    parts_v.append(np.zeros(extra, bool))
    parts_t.append(np.full(extra, np.nan))
    motion = np.concatenate(parts_m)
    light = np.concatenate(parts_l)
    valid = np.concatenate(parts_v)
    raw_noise = noise_sigma(longest.motion)
    return Prepared(
        fs=fa,
        raw_rate_hz=fs,
        motion=motion,
        light=light,
        valid=valid,
        time_s=np.concatenate(parts_t),
        lowpass_hz=corner,
        clipped=clipped,
        uniform=u,
        display=display,
        motion_noise=raw_noise * math.sqrt(min(1.0, 2.0 * corner / fs)),
    )


def _run_spans(log: SensorLog, u: UniformLog) -> list[tuple[float, float]]:
    rel = (log.t_ns - log.t_ns[0]).astype(np.float64) * 1e-9
    cuts = [0.0] + [a + g for a, g in u.long_gaps]
    ends = [a for a, _ in u.long_gaps] + [float(rel[-1])]
    return list(zip(cuts, ends, strict=True))


def still_mask(
    motion: NDArray[np.float64],
    valid: NDArray[np.bool_],
    fs: float,
    noise: float,
    window_s: float = 0.2,
) -> NDArray[np.bool_]:
    """Samples inside pauses: the motion stays within a small band over ``window_s``.

    The band is 8x the (filtered) motion noise or 0.2 % of the motion's range, whichever is
    larger. Pauses carry no delay information, and their noise would only blur the fit.

    Args:
        motion: (N,) filtered motion.
        valid: (N,) which samples are real.
        fs: Rate, Hz.
        noise: Noise of ``motion``, motion units.
        window_s: Length of stillness that counts, seconds.

    Returns:
        (N,) True inside pauses.
    """
    w = max(3, round(window_s * fs))
    x = np.where(valid, motion, np.nan)
    span = np.nanpercentile(x, 99.5) - np.nanpercentile(x, 0.5)
    band = max(8.0 * noise, 0.002 * float(span))
    filled = np.where(valid, motion, np.nanmedian(x))
    hi = ndimage.maximum_filter1d(filled, w)
    lo = ndimage.minimum_filter1d(filled, w)
    return (hi - lo) < band


def trailing_minmax(
    x: NDArray[np.float64], win: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Max and min of ``x[t - win : t]`` for each ``t`` (NaN where the window is incomplete).

    Args:
        x: (N,) samples.
        win: Window length, samples.

    Returns:
        ``(max, min)``: (N,) each.
    """
    hi = ndimage.maximum_filter1d(x, size=win, mode="nearest")
    lo = ndimage.minimum_filter1d(x, size=win, mode="nearest")
    # a centred window at c covers [c - win//2, c + (win-1)//2]; the one ending at t-1 is
    # centred at t - 1 - (win - 1)//2
    shift = 1 + (win - 1) // 2
    out_hi = np.full_like(x, np.nan)
    out_lo = np.full_like(x, np.nan)
    out_hi[win:] = hi[win - shift : x.size - shift]
    out_lo[win:] = lo[win - shift : x.size - shift]
    return out_hi, out_lo


def auto_threshold(motion: NDArray[np.float64]) -> float:
    """Default onset threshold: 8x the motion noise or 1 % of its range, whichever is larger."""
    return max(8.0 * noise_sigma(motion), 0.01 * float(np.ptp(motion)))


def detect_onsets(
    motion: NDArray[np.float64], fs: float, threshold: float, min_pause_s: float = 0.3
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Find movement onsets after pauses.

    A pause is ``min_pause_s`` during which the motion, smoothed by a 20 Hz zero-phase low-pass
    (so that sensor noise does not break the stillness), stays within ``threshold / 4`` of the
    middle of its range (the rest level); the onset is where the raw motion, after the pause,
    first leaves the rest level by ``threshold``, interpolated between samples.

    Args:
        motion: (N,) uniformly sampled motion.
        fs: Sample rate, Hz.
        threshold: Distance from rest that counts as moving, motion units.
        min_pause_s: Shortest pause, seconds.

    Returns:
        ``(onsets_s, rest_levels, pause_ends_s)``: (E,) onset times in seconds from the first
        sample, (E,) the rest level before each, and (E,) the end of each pause (the last
        sample whose trailing window was still), seconds.
    """
    win = max(2, round(min_pause_s * fs))
    smooth = lowpass(motion, fs, 20.0) if fs > 100 and motion.size > 64 else motion
    hi, lo = trailing_minmax(smooth, win)
    with np.errstate(invalid="ignore"):
        still = (hi - lo) <= 0.5 * threshold
    ends = np.flatnonzero(still[:-1] & ~still[1:]) + 1  # first sample of a window not still
    horizon = max(win, round(1.0 * fs))
    onsets: list[float] = []
    rests: list[float] = []
    pause_ends: list[float] = []
    last_k = -1
    for e in ends:
        if e <= last_k:
            continue
        # The median of the last still window: robust to the first few samples of movement
        # that the window already holds.
        rest = float(np.median(motion[max(0, e - 1 - win) : e - 1]))
        seg = np.abs(motion[e - 1 : e - 1 + horizon] - rest)
        away = np.flatnonzero(seg > threshold)
        if away.size == 0:
            continue
        k = e - 1 + int(away[0])
        if k == last_k:
            continue
        last_k = k
        d0, d1 = abs(motion[k - 1] - rest), abs(motion[k] - rest)
        frac = (threshold - d0) / (d1 - d0) if d1 > d0 else 1.0
        onsets.append((k - 1 + float(np.clip(frac, 0.0, 1.0))) / fs)
        rests.append(rest)
        pause_ends.append((e - 1) / fs)
    return np.array(onsets), np.array(rests), np.array(pause_ends)
