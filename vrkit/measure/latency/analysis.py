"""Motion-to-photon latency from a sensor log: cross-correlation, onsets and flashes.

The rig records a motion reading ``m(t)`` and a photodiode reading ``l(t)`` on one clock while the
headset shows a luminance gradient driven by the tracked motion (Di Luca 2010), so
``l(t) = g(m(t - L))`` for a monotone, possibly nonlinear (gamma, saturation) and possibly
decreasing ``g``. Three numbers come out:

* **Steady-state latency** (:func:`estimate_steady_latency`): both signals are put through their
  own rank transform (which removes any monotone ``g``), then cross-correlated with FFTs; the peak
  is refined below one sample by a least-squares parabola through the samples around it. The
  log is cut into segments whose own peaks give a batch-means confidence interval. Under
  frame-quantised rendering the photodiode sees a held (or pulsed) copy of the motion, and the
  estimate is the **mean delay from a motion to the centroid of the light that shows it**.
* **Onset latency** (:func:`estimate_onset_latency`): after each pause, the time from the motion
  leaving its rest level by ``threshold`` (motion units) to the light showing a pose that far from
  rest. Prediction can make steady-state latency small while onset latency stays large.
* **Flash latency** (:func:`estimate_flash_latency`): motion onset makes the app switch the
  panel from dark to bright (the DK1 latency tester's method); one latency per event.

Every function takes samples and returns numbers; nothing here reads a clock. When the data cannot
support an estimate, a :class:`~vrkit.core.errors.DataError` says why instead of a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sp_fft
from scipy import ndimage, optimize, signal, stats

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.sensorlog import (
    LogChecks,
    SensorLog,
    noise_sigma,
    resample_uniform,
    validate,
)

Polarity = Literal["auto", "positive", "negative"]


@dataclass(frozen=True)
class CorrelationCurve:
    """Normalised cross-correlation of motion against light, for plotting.

    Attributes:
        lags_s: (K,) lag of the light behind the motion, seconds.
        corr: (K,) correlation coefficient at each lag, signed so that the peak is positive.
    """

    lags_s: NDArray[np.float64]
    corr: NDArray[np.float64]


@dataclass(frozen=True)
class SteadyEstimate:
    """Steady-state latency from cross-correlation.

    Attributes:
        latency_s: The estimate, seconds (after subtracting ``sensor_delay_s``).
        ci_low_s: Lower end of the 95 % confidence interval, seconds (None if too few segments).
        ci_high_s: Upper end, seconds (None if too few segments).
        peak_corr: Correlation coefficient at the peak (0..1, polarity applied).
        inverted: True when light falls as motion rises.
        rate_hz: Rate the analysis ran at.
        segment_latencies_s: (K,) the per-segment estimates behind the interval.
        curve: The correlation curve.
        samples_used: Reference samples that entered the correlation.
        light_map: The fitted monotone motion-to-light map (light units).
    """

    latency_s: float
    ci_low_s: float | None
    ci_high_s: float | None
    peak_corr: float
    inverted: bool
    rate_hz: float
    segment_latencies_s: NDArray[np.float64]
    curve: CorrelationCurve
    samples_used: int
    light_map: LightMap | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary in milliseconds."""
        return {
            "latency_ms": self.latency_s * 1e3,
            "ci95_ms": None
            if self.ci_low_s is None
            else [self.ci_low_s * 1e3, self.ci_high_s * 1e3],
            "peak_corr": self.peak_corr,
            "inverted": self.inverted,
            "rate_hz": self.rate_hz,
            "segments": len(self.segment_latencies_s),
            "segment_latencies_ms": (self.segment_latencies_s * 1e3).tolist(),
            "samples_used": self.samples_used,
        }


@dataclass(frozen=True)
class OnsetEvent:
    """One movement onset (or flash) and the light's response.

    Attributes:
        motion_s: When the motion crossed the threshold, seconds since the log's first sample.
        light_s: When the light responded, seconds since the log's first sample.
    """

    motion_s: float
    light_s: float

    @property
    def latency_s(self) -> float:
        """Light time minus motion time, seconds."""
        return self.light_s - self.motion_s


@dataclass(frozen=True)
class EventEstimate:
    """Per-event latencies (onset or flash mode) and their distribution.

    Attributes:
        kind: ``"onset"`` or ``"flash"``.
        events: The events with a light response.
        skipped: Onsets with no usable response, each with the reason.
        threshold: Motion threshold used, motion units.
    """

    kind: str
    events: list[OnsetEvent]
    skipped: list[tuple[float, str]] = field(default_factory=list)
    threshold: float = 0.0

    @property
    def latencies_s(self) -> NDArray[np.float64]:
        """(E,) per-event latencies, seconds."""
        return np.array([e.latency_s for e in self.events], dtype=np.float64)

    @property
    def latency_s(self) -> float:
        """Median per-event latency, seconds."""
        return float(np.median(self.latencies_s))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary in milliseconds."""
        lat = self.latencies_s * 1e3
        n = lat.size
        sem = float(np.std(lat, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        return {
            "kind": self.kind,
            "latency_ms": float(np.median(lat)),
            "mean_ms": float(np.mean(lat)),
            "p95_ms": float(np.percentile(lat, 95)),
            "min_ms": float(lat.min()),
            "max_ms": float(lat.max()),
            "std_ms": float(np.std(lat, ddof=1)) if n > 1 else 0.0,
            "mean_ci95_ms": None
            if n < 3
            else [
                float(np.mean(lat) - stats.t.ppf(0.975, n - 1) * sem),
                float(np.mean(lat) + stats.t.ppf(0.975, n - 1) * sem),
            ],
            "events": n,
            "event_latencies_ms": lat.tolist(),
            "skipped": [{"motion_s": t, "reason": r} for t, r in self.skipped],
            "threshold": self.threshold,
        }


def parabolic_peak(c: NDArray[np.float64], i: int, half: int = 2) -> float:
    """Sub-sample position of the maximum near index ``i``: least-squares parabola.

    Fits ``c`` over ``i - half .. i + half`` (clipped to the array) and returns the vertex,
    limited to within one sample of ``i``.
    """
    lo, hi = max(0, i - half), min(c.size, i + half + 1)
    if hi - lo < 3:
        return float(i)
    x = np.arange(lo, hi, dtype=np.float64) - i
    a, b, _ = np.polyfit(x, c[lo:hi], 2)
    if a >= 0:
        return float(i)
    return float(i + np.clip(-b / (2 * a), -1.0, 1.0))


def remove_flicker(x: NDArray[np.float64], fs: float, flicker_hz: float) -> NDArray[np.float64]:
    """Zero-phase low-pass at a quarter of the panel's refresh rate (adds no delay).

    A low-persistence panel flashes once per frame; the photodiode then sees a pulse train
    whose envelope carries the brightness. A 4th-order Butterworth run forwards and backwards
    keeps the envelope and leaves its timing untouched.

    Args:
        x: (N,) light samples.
        fs: Sample rate, Hz.
        flicker_hz: Panel refresh rate, Hz.

    Returns:
        (N,) filtered light.
    """
    cutoff = flicker_hz / 4.0
    if cutoff >= 0.45 * fs:
        raise InputError(
            f"flicker at {flicker_hz:g} Hz cannot be filtered at a {fs:g} Hz sample rate",
            "sample the photodiode at least 2x faster than the refresh rate",
        )
    sos = signal.butter(4, cutoff, fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x)


def _prepare(
    log: SensorLog,
    rate_hz: float | None,
    flicker_hz: float | None,
    checks: LogChecks | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]:
    validate(log, checks)
    t, m, li = resample_uniform(log, rate_hz)
    fs = float(rate_hz) if rate_hz else log.rate_hz
    li = remove_flicker(li, fs, flicker_hz) if flicker_hz else li
    return t, m, li, fs


@dataclass
class SegmentSums:
    """Per-segment weighted sums behind the Pearson correlation at each lag.

    Rows are segments, columns lags: ``ab = sum w a b_k``, ``b = sum w b_k``, ``bb = sum w
    b_k^2``; per segment ``a = sum w a``, ``aa = sum w a^2``, ``w = sum w``.
    """

    ab: NDArray[np.float64]
    b: NDArray[np.float64]
    bb: NDArray[np.float64]
    a: NDArray[np.float64]
    aa: NDArray[np.float64]
    w: NDArray[np.float64]

    def corr(self, rows: slice | None = None) -> NDArray[np.float64]:
        """Pearson correlation per lag, each lag centred on its own means, over ``rows``."""
        r = slice(None) if rows is None else rows
        w = float(self.w[r].sum())
        sa, saa = float(self.a[r].sum()), float(self.aa[r].sum())
        sab, sb, sbb = self.ab[r].sum(0), self.b[r].sum(0), self.bb[r].sum(0)
        num = sab - sa * sb / w
        va = saa - sa * sa / w
        vb = sbb - sb * sb / w
        ok = (vb > 0) & (va > 0)
        return np.where(ok, num / np.sqrt(np.where(ok, va * vb, 1.0)), 0.0)


def segment_sums(
    a: NDArray[np.float64],
    w: NDArray[np.float64],
    b: NDArray[np.float64],
    kmin: int,
    kmax: int,
    n_segments: int,
) -> SegmentSums:
    """Sums over the reference times of each segment for lags ``kmin..kmax`` (FFT-based).

    ``b_k`` stands for ``b[t + k]``; every ``t`` with ``w[t] > 0`` must have ``t + k`` inside
    ``b`` for every lag.
    """
    n = a.size
    nlag = kmax - kmin + 1
    bounds = np.linspace(0, n, n_segments + 1).astype(int)
    out = SegmentSums(
        ab=np.zeros((n_segments, nlag)),
        b=np.zeros((n_segments, nlag)),
        bb=np.zeros((n_segments, nlag)),
        a=np.zeros(n_segments),
        aa=np.zeros(n_segments),
        w=np.zeros(n_segments),
    )
    b2 = b * b
    for s in range(n_segments):
        s0, s1 = bounds[s], bounds[s + 1]
        seg_w = w[s0:s1]
        out.w[s] = float(seg_w.sum())
        if out.w[s] == 0:
            continue
        seg_a = a[s0:s1] * seg_w
        out.a[s] = float(seg_a.sum())
        out.aa[s] = float(np.dot(seg_a, a[s0:s1]))
        b0, b1 = s0 + kmin, s1 + kmax
        zl, zh = np.zeros(max(0, -b0)), np.zeros(max(0, b1 - n))
        lo, hi = max(0, b0), min(n, b1)
        seg_b = np.concatenate([zl, b[lo:hi], zh])
        seg_b2 = np.concatenate([zl, b2[lo:hi], zh])
        # Circular correlation needs no padding beyond seg_b: for t < len(seg_a) and
        # j < nlag, t + j < len(seg_b) <= size never wraps.
        size = sp_fft.next_fast_len(seg_b.size, real=True)
        fx = np.conj(sp_fft.rfft(np.stack([seg_a, seg_w]), size, axis=1))
        fy = sp_fft.rfft(np.stack([seg_b, seg_b2]), size, axis=1)
        # irfft(conj(F x) * F y)[j] = sum_t x[t] y[t + j], and j = k - kmin.
        prod = np.stack([fx[0] * fy[0], fx[1] * fy[0], fx[1] * fy[1]])
        out.ab[s], out.b[s], out.bb[s] = sp_fft.irfft(prod, size, axis=1)[:, :nlag]
    return out


def main_lobe(c: NDArray[np.float64], i: int) -> tuple[int, int]:
    """Indices ``[lo, hi)`` of the lobe around ``i`` (down to the zero crossings)."""
    neg = np.flatnonzero(c[:i] <= 0)
    lo = int(neg[-1]) + 1 if neg.size else 0
    neg = np.flatnonzero(c[i:] <= 0)
    hi = i + int(neg[0]) if neg.size else c.size
    return lo, hi


def rank_transform(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks scaled to zero mean and unit variance (ties get their average rank).

    Args:
        x: (N,) samples.

    Returns:
        (N,) standardised ranks; a monotone increasing function of ``x``.
    """
    r = stats.rankdata(x)
    r -= r.mean()
    sd = r.std()
    return r / sd if sd > 0 else r


@dataclass(frozen=True)
class LightMap:
    """Monotone map from motion to light fitted on the aligned log (isotonic regression).

    Attributes:
        motion: (K,) increasing motion values (knots), motion units.
        light: (K,) fitted light at each knot, light units (monotone).
    """

    motion: NDArray[np.float64]
    light: NDArray[np.float64]

    def __call__(self, motion: NDArray[np.float64]) -> NDArray[np.float64]:
        """Light predicted for motion readings (linear between knots, flat beyond)."""
        return np.interp(motion, self.motion, self.light)


def fit_light_map(
    motion: NDArray[np.float64],
    light: NDArray[np.float64],
    lag: int,
    increasing: bool,
    select: NDArray[np.bool_] | None = None,
) -> LightMap:
    """Fit ``light[t + lag] ~ g(motion[t])`` with ``g`` monotone (isotonic regression).

    Args:
        motion: (N,) uniformly sampled motion.
        light: (N,) light on the same grid.
        lag: Delay in samples (may be negative).
        increasing: Direction of ``g``.
        select: (N,) optional mask over motion samples to fit on.

    Returns:
        The fitted map, reduced to at most 512 knots.
    """
    n = motion.size
    sel = np.ones(n, bool) if select is None else select
    if lag >= 0:
        x, y, sel = motion[: n - lag], light[lag:], sel[: n - lag]
    else:
        x, y, sel = motion[-lag:], light[: n + lag], sel[-lag:]
    x, y = x[sel], y[sel]
    order = np.argsort(x, kind="stable")
    xs = x[order]
    fit = optimize.isotonic_regression(y[order], increasing=increasing).x
    # Average within bins of equal counts: a smooth, compact map.
    nb = min(512, xs.size)
    edges = np.linspace(0, xs.size, nb + 1).astype(int)
    counts = np.diff(edges)
    keep = counts > 0
    kx = np.add.reduceat(xs, edges[:-1])[keep] / counts[keep]
    ky = np.add.reduceat(fit, edges[:-1])[keep] / counts[keep]
    kx, idx = np.unique(kx, return_index=True)
    return LightMap(kx, ky[idx])


def peak_lobe(
    c: NDArray[np.float64], lags: NDArray[np.float64], i: int, edge_hint: str, periodic_hint: str
) -> tuple[int, int]:
    """Main lobe ``[lo, hi)`` of the correlation peak at ``i``, refusing peaks that tell no delay.

    Args:
        c: (K,) correlation, signed so that the peak is positive.
        lags: (K,) lag of each entry, seconds.
        i: Index of the peak.
        edge_hint: What to do when the peak lies at the edge of the searched range.
        periodic_hint: What to do when another peak outside the lobe is nearly as high.

    Raises:
        DataError: The peak is at the edge of the range, or a second peak outside its lobe
            reaches 90 % of its height (periodic motion).
    """
    if i == 0 or i == c.size - 1:
        raise DataError(
            f"correlation peak at the edge of the searched range ({lags[i] * 1e3:.1f} ms)",
            edge_hint,
        )
    lo, hi = main_lobe(c, i)
    outside = np.where((np.arange(c.size) < lo) | (np.arange(c.size) >= hi), c, -np.inf)
    j = int(np.argmax(outside))
    if np.isfinite(outside[j]) and outside[j] > 0.9 * c[i]:
        raise DataError(
            f"correlation has two peaks of similar height: {c[i]:.2f} at "
            f"{lags[i] * 1e3:.1f} ms and {c[j]:.2f} at {lags[j] * 1e3:.1f} ms "
            "(the motion is too periodic for its delay to be told)",
            periodic_hint,
        )
    return lo, hi


def batch_means_interval(
    sums: SegmentSums,
    lo: int,
    hi: int,
    kmin: int,
    fs: float,
    min_corr: float,
    latency_s: float,
    *,
    sign: float = 1.0,
    offset_s: float = 0.0,
) -> tuple[NDArray[np.float64], float | None, float | None]:
    """95 % confidence interval of a delay from each segment's own correlation peak.

    Each segment's peak is searched within the main lobe ``[lo, hi)`` of the whole log's
    correlation; segments with little weight or a peak below ``min_corr`` carry no delay.

    Args:
        sums: Per-segment sums of the correlation.
        lo: First lag index of the main lobe.
        hi: One past the last lag index of the main lobe.
        kmin: Lag of index 0, samples.
        fs: Sample rate, Hz.
        min_corr: Smallest peak correlation a segment needs.
        latency_s: The whole log's estimate, seconds (the interval's centre).
        sign: +1, or -1 when the correlation is inverted.
        offset_s: Known delay subtracted from every segment's estimate, seconds.

    Returns:
        (S,) segment delays in seconds, and the interval's low and high ends in seconds
        (None with fewer than three segments).
    """
    seg = []
    for k in range(sums.w.size):
        if sums.w[k] < 0.5 * sums.w.mean():
            continue
        cs = sign * sums.corr(slice(k, k + 1))
        j = lo + int(np.argmax(cs[lo:hi]))
        if cs[j] < min_corr:  # a segment with too little motion carries no delay
            continue
        seg.append((kmin + parabolic_peak(cs, j)) / fs - offset_s)
    segs = np.array(seg)
    if segs.size < 3:
        return segs, None, None
    half = float(stats.t.ppf(0.975, segs.size - 1) * segs.std(ddof=1) / math.sqrt(segs.size))
    return segs, latency_s - half, latency_s + half


def estimate_steady_latency(
    log: SensorLog,
    *,
    max_latency_s: float = 0.5,
    min_latency_s: float = -0.05,
    rate_hz: float | None = None,
    flicker_hz: float | None = None,
    sensor_delay_s: float = 0.0,
    polarity: Polarity = "auto",
    n_segments: int = 8,
    exclude_onsets_s: float = 0.0,
    onset_threshold: float | None = None,
    min_pause_s: float = 0.3,
    min_corr: float = 0.5,
    checks: LogChecks | None = None,
) -> SteadyEstimate:
    """Estimate the steady-state delay of light behind motion by cross-correlation.

    Args:
        log: The sensor log.
        max_latency_s: Largest delay searched, seconds.
        min_latency_s: Smallest delay searched (negative allows over-prediction), seconds.
        rate_hz: Analysis rate; the log's median rate when None (non-uniform logs are
            interpolated onto this grid).
        flicker_hz: Refresh rate of a low-persistence (flashing) panel, Hz: the light is
            low-passed without delay (:func:`remove_flicker`). None for full persistence.
        sensor_delay_s: Known delay of the photodiode front end (e.g. its RC filter),
            subtracted from the result.
        polarity: ``"positive"`` if light rises with motion, ``"negative"`` if it falls,
            ``"auto"`` to decide from the data (refused when ambiguous).
        n_segments: Segments for the confidence interval.
        exclude_onsets_s: Leave out motion samples within this long after a movement onset
            (and during pauses), so that onset transients do not enter the steady estimate.
        onset_threshold: Onset threshold (motion units) for ``exclude_onsets_s``; automatic
            when None.
        min_pause_s: Shortest stillness that counts as a pause, seconds.
        min_corr: Smallest acceptable peak correlation.
        checks: Log validation thresholds.

    Returns:
        The estimate with its confidence interval and correlation curve.

    Raises:
        DataError: The log fails validation, light does not follow motion, the peak lies at
            the edge of the searched range, or the polarity is ambiguous.
    """
    if not max_latency_s > min_latency_s:
        raise InputError(
            f"max_latency_s ({max_latency_s}) must exceed min_latency_s ({min_latency_s})"
        )
    if n_segments < 1:
        raise InputError(f"n_segments must be at least 1, got {n_segments}")
    _, m, li, fs = _prepare(log, rate_hz, flicker_hz, checks)
    n = m.size
    kmin, kmax = math.floor(min_latency_s * fs), math.ceil(max_latency_s * fs)
    if kmax - kmin + 1 > n // 2:
        raise DataError(
            f"sensor log is too short for the searched delays: {n / fs:.2f} s of data for "
            f"a range of {(kmax - kmin) / fs:.3f} s",
            "record at least twice as long as --max-latency, or lower --max-latency",
        )
    w = np.ones(n)
    if exclude_onsets_s > 0:
        w = _steady_mask(m, fs, onset_threshold, min_pause_s, exclude_onsets_s)
        if w.sum() < max(64, 0.05 * n):
            raise DataError(
                f"only {int(w.sum())} samples of continuous motion after removing pauses and "
                f"{exclude_onsets_s * 1e3:.0f} ms after each onset",
                "record longer stretches of continuous motion",
            )
    # Every reference sample must have a light partner at every searched lag; otherwise the
    # overlap, and with it the correlation, shrinks with the lag and biases the peak.
    w[: max(0, -kmin)] = 0.0
    w[n - max(0, kmax) :] = 0.0
    rm = rank_transform(m)
    rl = rank_transform(li)
    sums = segment_sums(rm, w, rl, kmin, kmax, n_segments)
    c_signed = sums.corr()
    lags = (np.arange(kmin, kmax + 1)) / fs
    i_pos, i_neg = int(np.argmax(c_signed)), int(np.argmin(c_signed))
    if polarity == "auto":
        cp, cn = c_signed[i_pos], -c_signed[i_neg]
        if min(cp, cn) > 0.85 * max(cp, cn) and max(cp, cn) >= min_corr:
            raise DataError(
                f"light polarity is ambiguous: correlation +{cp:.2f} at "
                f"{lags[i_pos] * 1e3:.1f} ms and -{cn:.2f} at {lags[i_neg] * 1e3:.1f} ms "
                "(periodic motion?)",
                "pass polarity (positive/negative) or move less regularly",
            )
        sign = 1.0 if cp >= cn else -1.0
    elif polarity in ("positive", "negative"):
        sign = 1.0 if polarity == "positive" else -1.0
    else:
        raise InputError(f"polarity must be auto, positive or negative, got {polarity!r}")
    c = sign * c_signed
    i = int(np.argmax(c))
    peak = float(c[i])
    if peak < min_corr:
        raise DataError(
            f"light does not follow motion: best correlation {peak:.2f} (need {min_corr:g}) "
            f"over delays {min_latency_s * 1e3:.0f}..{max_latency_s * 1e3:.0f} ms",
            "check the photodiode placement and that the gradient scene follows the tracked "
            "motion, or widen --max-latency",
        )
    lo, hi = peak_lobe(
        c,
        lags,
        i,
        "widen --max-latency / --min-latency",
        "move irregularly, or narrow --max-latency",
    )
    # Second pass: fit the monotone motion->light map at the coarse delay and correlate the
    # light with the motion put through it. Both sides then share the map's shape (gamma,
    # clipping, 8-bit steps), so the correlation peak sits at the delay itself.
    light_map = None
    for _ in range(2):
        light_map = fit_light_map(m, li, kmin + i, increasing=sign > 0)
        pred = light_map(m)
        if np.ptp(pred) == 0:
            break
        sums = segment_sums(pred, w, li, kmin, kmax, n_segments)
        c = sums.corr()
        i_new = lo + int(np.argmax(c[lo:hi]))
        done = abs(i_new - i) <= 1
        i = i_new
        if done:
            break
    k_hat = parabolic_peak(c, i)
    latency = (kmin + k_hat) / fs - sensor_delay_s
    seg, ci_lo, ci_hi = batch_means_interval(
        sums, lo, hi, kmin, fs, min_corr, latency, offset_s=sensor_delay_s
    )
    return SteadyEstimate(
        latency_s=float(latency),
        ci_low_s=ci_lo,
        ci_high_s=ci_hi,
        peak_corr=peak,
        inverted=sign < 0,
        rate_hz=fs,
        segment_latencies_s=seg,
        curve=CorrelationCurve(lags - sensor_delay_s, c),
        samples_used=int(w.sum()),
        light_map=light_map,
    )


def _trailing_minmax(
    x: NDArray[np.float64], win: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Max and min of ``x[t - win : t]`` for each ``t`` (NaN where the window is incomplete)."""
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
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Find movement onsets after pauses.

    A pause is ``min_pause_s`` during which the motion stays within ``threshold / 4`` of the
    middle of its range (the rest level); the onset is where the motion, after the pause, first
    leaves the rest level by ``threshold``, interpolated between samples.

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
    hi, lo = _trailing_minmax(motion, win)
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


def _first_crossing(
    x: NDArray[np.float64], start: int, stop: int, level: float, fs: float
) -> float | None:
    """Time (s) where ``x`` first rises through ``level`` in ``[start, stop)``, interpolated."""
    seg = x[start:stop]
    above = np.flatnonzero(seg > level)
    if above.size == 0:
        return None
    k = start + int(above[0])
    if k == 0 or x[k - 1] > level:
        return k / fs
    frac = (level - x[k - 1]) / (x[k] - x[k - 1])
    return (k - 1 + float(frac)) / fs


def _steady_mask(
    m: NDArray[np.float64],
    fs: float,
    threshold: float | None,
    min_pause_s: float,
    exclude_s: float,
) -> NDArray[np.float64]:
    thr = auto_threshold(m) if threshold is None else float(threshold)
    onsets, _, _ = detect_onsets(m, fs, thr, min_pause_s)
    w = np.ones(m.size)
    win = max(2, round(min_pause_s * fs))
    hi, lo = _trailing_minmax(m, win)
    with np.errstate(invalid="ignore"):
        w[(hi - lo) <= thr] = 0.0  # pauses
    for t0 in onsets:
        k0 = int(t0 * fs)
        w[k0 : k0 + round(exclude_s * fs)] = 0.0
    return w


def estimate_onset_latency(
    log: SensorLog,
    *,
    threshold: float | None = None,
    min_pause_s: float = 0.3,
    max_latency_s: float = 0.5,
    rate_hz: float | None = None,
    flicker_hz: float | None = None,
    sensor_delay_s: float = 0.0,
    polarity: Polarity = "auto",
    checks: LogChecks | None = None,
) -> EventEstimate:
    """Latency from each movement onset (after a pause) to the light's first response.

    The light is first mapped onto the motion's scale by matching quantiles (so a gamma or
    saturating gradient does not matter); an event's latency is the time from the motion
    leaving its rest level by ``threshold`` to the mapped light doing the same.

    Args:
        log: The sensor log (gradient scene, with pauses in the motion).
        threshold: Motion distance from rest that counts as moved, motion units; automatic
            when None: the largest of 8x the motion noise, 1 % of its range, and the motion
            that moves the light by 12x its noise at the gradient's typical slope.
        min_pause_s: Shortest stillness before an onset, seconds.
        max_latency_s: Longest response time searched, seconds.
        rate_hz: Analysis rate (log's median rate when None).
        flicker_hz: Refresh rate of a flashing panel, Hz (see :func:`remove_flicker`).
        sensor_delay_s: Known photodiode front-end delay to subtract, seconds.
        polarity: Light polarity; ``"auto"`` uses the steady-state correlation's sign.
        checks: Log validation thresholds.

    Returns:
        The per-event latencies.

    Raises:
        DataError: The log fails validation, has no pauses followed by motion, or the light
            never responds.
    """
    _, m, li, fs = _prepare(log, rate_hz, flicker_hz, checks)
    thr = auto_threshold(m) if threshold is None else float(threshold)
    steady = estimate_steady_latency(
        log,
        max_latency_s=max_latency_s,
        rate_hz=rate_hz,
        flicker_hz=flicker_hz,
        polarity=polarity,
        checks=checks,
        n_segments=1,
    )
    light_map = steady.light_map
    noise = noise_sigma(li)
    if threshold is None and light_map is not None:
        # An automatic threshold must also move the light clearly out of its noise: at the
        # gradient's typical slope (over the middle 80 % of the motion) by 12 noise levels.
        m_lo, m_hi = np.percentile(m, [10.0, 90.0])
        l_lo, l_hi = light_map(np.array([m_lo, m_hi]))
        if m_hi > m_lo and l_hi != l_lo:
            thr = max(thr, 12.0 * noise * (m_hi - m_lo) / abs(float(l_hi - l_lo)))
    onsets, rests, pause_ends = detect_onsets(m, fs, thr, min_pause_s)
    if onsets.size == 0:
        raise DataError(
            f"no movement onsets found: the motion never rests for {min_pause_s * 1e3:.0f} ms "
            f"within {thr / 4:.4g} of a rest level and then moves by {thr:.4g}",
            "record pauses of stillness between movements (or lower --min-pause)",
        )
    win = max(2, round(0.5 * min_pause_s * fs))
    hold = max(1, round(0.002 * fs))  # a response must last 2 ms, not be one noise spike
    events: list[OnsetEvent] = []
    skipped: list[tuple[float, str]] = []
    for t0, rest, t_pe in zip(onsets, rests, pause_ends, strict=True):
        k0 = round(t0 * fs)
        kp = round(t_pe * fs)  # end of the pause; with prediction light may move before k0
        k_end = min(m.size, k0 + round(max_latency_s * fs))
        direction = 1.0 if m[min(m.size - 1, k0 + 1)] > rest else -1.0
        # The light level that shows the motion `thr` away from rest, relative to rest.
        g0, g1 = light_map(np.array([rest, rest + direction * thr]))
        step = float(g1 - g0)
        if abs(step) < 10 * noise:
            skipped.append((float(t0), "gradient too flat (or saturated) at this pose"))
            continue
        pre = li[max(0, kp - win) : kp]
        l_rest = float(np.median(pre))
        # Crossing of the light level the map gives for rest + threshold (absolute, so that an
        # 8-bit rounding of the rest brightness does not move the level).
        sig = np.sign(step) * (li - g1)
        if np.max(np.abs(pre - l_rest)) > 0.5 * abs(step):
            skipped.append((float(t0), "light not at rest before the onset"))
            continue
        above = sig[kp:k_end] > 0
        # first sample that starts a run of `hold` samples above the level
        runs = np.convolve(above.astype(int), np.ones(hold, int), "valid") == hold
        first = np.flatnonzero(runs)
        if first.size == 0:
            skipped.append(
                (float(t0), f"light did not respond within {max_latency_s * 1e3:.0f} ms")
            )
            continue
        k = kp + int(first[0])
        tl = _first_crossing(sig, k, k + 1, 0.0, fs) if k > 0 else k / fs
        events.append(OnsetEvent(float(t0), float(tl) - sensor_delay_s))
    if not events:
        reasons = sorted({r for _, r in skipped})
        raise DataError(
            f"{onsets.size} movement onsets but no light response to any: {reasons}",
            "check the photodiode, the gradient scene and --max-latency; if the gradient is "
            "too flat at rest, raise --threshold",
        )
    return EventEstimate("onset", events, skipped, thr)


def estimate_flash_latency(
    log: SensorLog,
    *,
    threshold: float | None = None,
    min_pause_s: float = 0.3,
    max_latency_s: float = 0.5,
    rate_hz: float | None = None,
    flicker_hz: float | None = None,
    sensor_delay_s: float = 0.0,
    polarity: Literal["positive", "negative"] = "positive",
    checks: LogChecks | None = None,
) -> EventEstimate:
    """Flash mode: per-event time from a motion onset to the panel flashing.

    The app switches the panel from dark to bright (``polarity="positive"``) when it sees the
    motion start, as the DK1 latency tester did. An event's light time is where the light
    crosses halfway between the log's dark and bright levels (5th and 95th percentiles).

    Args:
        log: The sensor log.
        threshold: Motion onset threshold (motion units); automatic when None.
        min_pause_s: Shortest stillness before an onset, seconds.
        max_latency_s: Longest response time searched, seconds.
        rate_hz: Analysis rate (log's median rate when None).
        flicker_hz: Refresh rate of a flashing panel, Hz (see :func:`remove_flicker`).
        sensor_delay_s: Known photodiode front-end delay to subtract, seconds.
        polarity: ``"positive"`` for a dark-to-bright flash, ``"negative"`` for bright-to-dark.
        checks: Log validation thresholds.

    Returns:
        The per-event latencies.

    Raises:
        DataError: The log fails validation, has no onsets, or never flashes after one.
    """
    _, m, li, fs = _prepare(log, rate_hz, flicker_hz, checks)
    x = li if polarity == "positive" else -li
    thr = auto_threshold(m) if threshold is None else float(threshold)
    dark, bright = np.percentile(x, [5, 95])
    level = 0.5 * (dark + bright)
    onsets, _, _ = detect_onsets(m, fs, thr, min_pause_s)
    if onsets.size == 0:
        raise DataError(
            f"no movement onsets found: the motion never rests for {min_pause_s * 1e3:.0f} ms "
            f"within {thr:.4g} and then moves",
            "record pauses of stillness between movements (or lower --min-pause)",
        )
    events: list[OnsetEvent] = []
    skipped: list[tuple[float, str]] = []
    for t0 in onsets:
        k0 = round(t0 * fs)
        if x[k0] > level:
            skipped.append((float(t0), "panel already bright at the motion onset"))
            continue
        tl = _first_crossing(x, k0, min(x.size, k0 + round(max_latency_s * fs)), level, fs)
        if tl is None:
            skipped.append(
                (float(t0), f"no flash within {max_latency_s * 1e3:.0f} ms of the onset")
            )
            continue
        events.append(OnsetEvent(float(t0), tl - sensor_delay_s))
    if not events:
        reasons = sorted({r for _, r in skipped})
        raise DataError(
            f"{onsets.size} movement onsets but no flash after any: {reasons}",
            "check that the flash scene is running and the photodiode sees the panel",
        )
    return EventEstimate("flash", events, skipped, thr)
