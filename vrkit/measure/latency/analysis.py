"""Motion-to-photon latency from a sensor log: the steady-state delay of light behind motion.

The rig records a motion reading ``m(t)`` and a photodiode reading ``l(t)`` on one clock while the
headset shows a luminance gradient driven by the tracked motion (Di Luca 2010), so
``l(t) = g(m(t - L))`` for a monotone, possibly nonlinear (gamma, saturation, ADC steps) and
possibly decreasing ``g``. :func:`estimate_steady_latency` finds ``L``:

1. the log is cut at gaps, clipped to its robust range, low-passed without delay and decimated
   (:mod:`~vrkit.measure.latency.preprocess`); pauses are left out;
2. a coarse search rank-correlates the two channels over the searched delays, and a
   significance test against surrogate lights refuses a light that does not follow the
   motion;
3. the fine stage minimises, over the delay, the residual of the light fitted as the best
   monotone function of the delayed motion (isotonic regression at each delay);
4. a jackknife over segments of the log gives the 95 % interval.

Under frame-quantised rendering the photodiode sees a held (or pulsed) copy of the motion, and
the estimate is the **mean delay from a motion to the centroid of the light that shows it**.
Onset and flash latencies are in :mod:`~vrkit.measure.latency.events`. The correlation helpers
below (:func:`segment_sums`, :func:`peak_lobe`, :func:`batch_means_interval`) also serve the
video analysis.

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
from scipy import optimize, signal, stats

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.preprocess import (
    DisplayInfo,
    Prepared,
    auto_threshold,
    detect_onsets,
    prepare,
    still_mask,
)
from vrkit.measure.latency.sensorlog import LogChecks, SensorLog, validate

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
class Significance:
    """How far the light's dependence on the motion stands above chance.

    The statistic is the largest rank correlation, over the searched delays, between the
    filtered motion and light (near 1 for any monotone light response). Its chance level comes
    from
    surrogate lights that keep the light's own spectrum and autocorrelation but lose any link
    to the motion: the light circularly shifted by every delay outside the searched range
    (and a margin), the light reversed in time, and phase-randomised copies of it.

    Attributes:
        peak_corr: The statistic at its peak.
        null_sigma: Robust spread of the surrogates' correlations on Fisher's scale
            (``atanh``).
        null_max: Largest surrogate peak over a window as wide as the searched range.
        surrogate_windows: Surrogate windows behind ``null_max``.
        z: ``atanh(peak_corr) / null_sigma``.
        p_value: Chance of a surrogate peak this high within the searched range (Gaussian
            tail, corrected for the number of independent delays searched).
    """

    peak_corr: float
    null_sigma: float
    null_max: float
    surrogate_windows: int
    z: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "peak_corr": self.peak_corr,
            "null_sigma": self.null_sigma,
            "null_max": self.null_max,
            "surrogate_windows": self.surrogate_windows,
            "z": self.z,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class SteadyEstimate:
    """Steady-state latency from cross-correlation.

    Attributes:
        latency_s: The estimate, seconds (after subtracting ``sensor_delay_s``).
        ci_low_s: Lower end of the 95 % confidence interval, seconds (None if too few segments).
        ci_high_s: Upper end, seconds (None if too few segments).
        peak_corr: How well the delayed motion explains the light (0..1): the correlation of
            the light with the fitted monotone map of the delayed motion.
        inverted: True when light falls as motion rises.
        rate_hz: Rate the analysis ran at.
        segment_latencies_s: (K,) the per-segment estimates (for the report).
        curve: The correlation curve.
        samples_used: Reference samples that entered the estimate.
        light_map: The fitted monotone motion-to-light map (light units).
        display: The panel's refresh and persistence, given or detected (None: not analysed).
        significance: The test against chance that the light follows the motion.
        warnings: Assumptions the log seems to break, one line each.
        lowpass_hz: The zero-phase low-pass corner both channels went through, Hz.
        info: Counts behind the estimate (gaps, clipped readings, pauses left out).
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
    display: DisplayInfo | None = None
    significance: Significance | None = None
    warnings: tuple[str, ...] = ()
    lowpass_hz: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

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
            "display": None if self.display is None else self.display.to_dict(),
            "significance": None if self.significance is None else self.significance.to_dict(),
            "warnings": list(self.warnings),
            "lowpass_hz": self.lowpass_hz,
            **self.info,
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


#: Spacing of the delays at which the fine stage evaluates its fit, seconds.
FINE_STEP_S = 0.0005
#: Half the number of fine-stage delays (9 in all, +-2 ms).
FINE_HALF = 4
#: How far from the coarse peak the fine stage looks before its window moves, seconds.
FINE_WINDOW_S = 0.01
#: The jackknife treats the segments as independent, but they share the fitted light map,
#: slow sensor noise and the ADC's steps. On logs from a generator written apart from vrkit
#: (tests/latency_gen.py, 100 rigs drawn with seed 7; the test sweep uses seed 100) its
#: standard errors were about 25 % short, so the interval is widened by this factor.
JACKKNIFE_WIDEN = 1.25


def partner_ok(valid: NDArray[np.bool_], kmin: int, kmax: int) -> NDArray[np.bool_]:
    """(N,) True at ``t`` when ``valid[t + k]`` holds for every lag ``k`` in ``kmin..kmax``.

    Args:
        valid: (N,) which samples are real.
        kmin: Smallest lag, samples.
        kmax: Largest lag, samples.
    """
    n = valid.size
    bad = np.concatenate([[0], np.cumsum(~valid)])
    t = np.arange(n)
    lo, hi = t + kmin, t + kmax + 1
    inside = (lo >= 0) & (hi <= n)
    count = bad[np.clip(hi, 0, n)] - bad[np.clip(lo, 0, n)]
    return inside & (count == 0)


def _windows_max(c: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Largest ``|c|`` in each whole window of ``width`` consecutive entries."""
    k = c.size // width
    if k == 0:
        return np.zeros(0)
    return np.abs(c[: k * width]).reshape(k, width).max(axis=1)


def significance_test(
    a: NDArray[np.float64],
    w: NDArray[np.float64],
    b: NDArray[np.float64],
    b_ok: NDArray[np.bool_],
    kmin: int,
    kmax: int,
    margin: int,
    *,
    n_phase: int = 3,
    seed: int = 0,
) -> tuple[Significance, NDArray[np.float64]]:
    """Is the correlation of ``a`` with ``b`` over lags ``kmin..kmax`` above chance?

    The correlation at every circular lag comes from one FFT. The lags outside
    ``kmin - margin .. kmax + margin`` are circular-shift surrogates of ``b`` (each keeps
    ``b``'s spectrum and autocorrelation exactly); ``b`` reversed in time and ``n_phase``
    phase-randomised copies give more. Their robust spread sets the chance level; the
    searched range holds about ``(kmax - kmin) / ell`` independent lags, ``ell`` being the
    lag at which the surrogate correlations decorrelate to one half.

    Args:
        a: (N,) reference signal (motion ranks).
        w: (N,) reference weights (0 where ``a`` must not enter).
        b: (N,) partner signal (light ranks), 0 where not ``b_ok``.
        b_ok: (N,) where ``b`` is real.
        kmin: Smallest searched lag, samples.
        kmax: Largest searched lag, samples.
        margin: Lags either side of the searched range left out of the surrogates.
        n_phase: Phase-randomised surrogates.
        seed: Seed of their random phases (the test is reproducible).

    Returns:
        The test's result and (kmax - kmin + 1,) the correlation over the searched lags.
    """
    n = a.size
    wa = w * a
    wa = wa - w * (wa.sum() / max(w.sum(), 1e-300))
    bm = b[b_ok].mean() if b_ok.any() else 0.0
    bz = np.where(b_ok, b - bm, 0.0)
    fa = np.conj(sp_fft.rfft(wa))
    fw = np.conj(sp_fft.rfft(w))
    ea = float((wa * wa).sum())

    def circ(bb: NDArray[np.float64]) -> NDArray[np.float64]:
        num = sp_fft.irfft(fa * sp_fft.rfft(bb), n)
        den = ea * sp_fft.irfft(fw * sp_fft.rfft(bb * bb), n)
        ok = den > 1e-12 * max(float(den.max()), 1e-300)
        return np.where(ok, num / np.sqrt(np.where(ok, den, 1.0)), 0.0)

    lag = np.arange(n)
    signed = np.where(lag <= n // 2, lag, lag - n)
    c = circ(bz)
    in_range = (signed >= kmin) & (signed <= kmax)
    curve = c[np.mod(np.arange(kmin, kmax + 1), n)]
    width = kmax - kmin + 1
    # circular-shift surrogates: the lags outside the range and its margin, in circular order
    start = (kmax + margin + 1) % n
    ring = np.roll(c, -start)
    ring_len = n - (kmax - kmin + 1 + 2 * margin)
    shifted = ring[: max(0, ring_len)]
    nulls = [shifted]
    rev = circ(np.where(b_ok[::-1], bz[::-1], 0.0))
    nulls.append(rev)
    rng = np.random.default_rng(seed)
    spec = sp_fft.rfft(bz)
    for _ in range(n_phase):
        ph = np.exp(2j * np.pi * rng.random(spec.size))
        ph[0] = 1.0
        if n % 2 == 0:
            ph[-1] = 1.0
        sur = sp_fft.irfft(spec * ph, n)
        nulls.append(circ(np.where(b_ok, sur, 0.0)))
    # Correlations are bounded by 1: compare them on Fisher's scale, where chance spreads
    # them evenly whatever their size.
    step = 4  # neighbouring lags are nearly equal: every 4th is plenty for the spread
    fisher = [np.arctanh(np.clip(v[::step], -0.999999, 0.999999)) for v in nulls]
    pooled = np.concatenate(fisher)
    med = float(np.median(pooled))
    sigma = 1.4826 * float(np.median(np.abs(pooled - med)))
    maxima = np.concatenate([_windows_max(v, width) for v in nulls])
    # decorrelation lag of the surrogate correlations (in lags)
    ref = fisher[1] - fisher[1].mean()
    acf = sp_fft.irfft(np.abs(sp_fft.rfft(ref)) ** 2, ref.size)
    acf = acf / acf[0] if acf[0] > 0 else acf
    below = np.flatnonzero(acf[: ref.size // 2] < 0.5)
    ell = max(1, int(below[0]) * step) if below.size else width
    peak = float(np.max(np.abs(c[in_range])))
    z = float(np.arctanh(min(peak, 0.999999))) / sigma if sigma > 0 else math.inf
    w_eff = max(1.0, width / ell)
    p = float(min(1.0, 2.0 * w_eff * stats.norm.sf(z)))
    sig = Significance(
        peak_corr=peak,
        null_sigma=sigma,
        null_max=float(maxima.max()) if maxima.size else 0.0,
        surrogate_windows=int(maxima.size),
        z=float(z),
        p_value=p,
    )
    return sig, curve


def _vertex(taus: NDArray[np.float64], cost: NDArray[np.float64]) -> tuple[float, float]:
    """Vertex and curvature of a least-squares parabola through ``cost(taus)``."""
    x = taus - taus[taus.size // 2]
    a, b, _ = np.polyfit(x, cost, 2)
    if not a > 0:
        return float("nan"), float(a)
    return float(taus[taus.size // 2] - b / (2 * a)), float(a)


@dataclass
class _Fit:
    """The fine stage's fit: per-segment residual sums at each evaluated delay."""

    taus: NDArray[np.float64]
    cost: NDArray[np.float64]  # (T, S)
    latency_s: float
    curvature: float
    at_edge: int | None = None  # -1 / +1: the minimum lies beyond the window's low / high end


def shifted(y: NDArray[np.float64], idx: NDArray[np.int64], shift: float) -> NDArray[np.float64]:
    """``y`` at ``idx + shift`` (samples, any real shift): cubic convolution (Keys, a = -1/2).

    One shift for every sample means one set of four weights: four gathers and sums, much
    cheaper than evaluating a spline. Accurate to third order for smooth (low-passed) signals.

    Args:
        y: (N,) uniformly sampled signal.
        idx: (K,) sample indices; ``idx + shift`` must stay 1 sample inside ``y``.
        shift: The shift, samples.

    Returns:
        (K,) the interpolated values.
    """
    k = math.floor(shift)
    f = shift - k
    w = (
        ((-0.5 * f + 1.0) * f - 0.5) * f,
        (1.5 * f - 2.5) * f * f + 1.0,
        ((-1.5 * f + 2.0) * f + 0.5) * f,
        (0.5 * f - 0.5) * f * f,
    )
    i = idx + k
    return w[0] * y[i - 1] + w[1] * y[i] + w[2] * y[i + 1] + w[3] * y[i + 2]


def _fine_stage(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    fs: float,
    ref: NDArray[np.int64],
    seg_of: NDArray[np.int64],
    n_seg: int,
    tau0: float,
    increasing: bool,
    tau_lo: float,
    tau_hi: float,
) -> _Fit:
    """Least squares over delay and a monotone map: ``y(t + tau) ~ g(x(t))``.

    At each delay ``tau`` the best monotone ``g`` is an isotonic regression of the light on
    the motion's order (exact, O(N)); the residual sum is summed per segment. The delay is
    the vertex of a parabola through the residual sums at 9 delays 0.5 ms apart around the
    minimum (the grid moves until the minimum is inside it, but not beyond
    ``tau_lo..tau_hi``: then ``at_edge`` says which way the minimum lies).
    """
    order = ref[np.argsort(x[ref], kind="stable")]
    seg_ord = seg_of[np.searchsorted(ref, order)]
    cache: dict[int, NDArray[np.float64]] = {}

    def cost_at(step: int) -> NDArray[np.float64]:
        if step not in cache:
            yv = shifted(y, order, step * FINE_STEP_S * fs)
            f = optimize.isotonic_regression(yv, increasing=increasing).x
            cache[step] = np.bincount(seg_ord, (yv - f) ** 2, minlength=n_seg)
        return cache[step]

    centre = round(tau0 / FINE_STEP_S)
    lo_step, hi_step = math.ceil(tau_lo / FINE_STEP_S), math.floor(tau_hi / FINE_STEP_S)
    at_edge = None
    for _ in range(80):
        steps = np.arange(centre - FINE_HALF, centre + FINE_HALF + 1)
        if steps[0] < lo_step or steps[-1] > hi_step:
            at_edge = -1 if steps[0] < lo_step else 1
            break
        tot = np.array([cost_at(int(s)).sum() for s in steps])
        i = int(np.argmin(tot))
        if abs(i - FINE_HALF) <= 1:
            break
        centre = int(steps[i])
    if at_edge is not None:
        return _Fit(np.zeros(0), np.zeros((0, n_seg)), float("nan"), 0.0, at_edge)
    taus = steps * FINE_STEP_S
    cost = np.stack([cost_at(int(s)) for s in steps])
    lat, curv = _vertex(taus, cost.sum(axis=1))
    return _Fit(taus, cost, lat, curv)


def _jackknife(fit: _Fit, used: NDArray[np.bool_]) -> tuple[NDArray[np.float64], float]:
    """Leave-one-segment-out estimates and the jackknife standard error, seconds."""
    tot = fit.cost.sum(axis=1)
    loo = np.array([_vertex(fit.taus, tot - fit.cost[:, s])[0] for s in np.flatnonzero(used)])
    k = loo.size
    if k < 3 or not np.all(np.isfinite(loo)):
        return loo, float("nan")
    return loo, float(math.sqrt((k - 1) / k * np.sum((loo - loo.mean()) ** 2)))


def _free_fit_ratio(x: NDArray[np.float64], y: NDArray[np.float64], sse_iso: float) -> float:
    """Residual of the monotone fit over that of a free (binned) fit of ``y`` on ``x``."""
    bins = min(64, max(4, x.size // 200))
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    cnt = np.bincount(idx, minlength=bins)
    mean = np.bincount(idx, y, minlength=bins) / np.maximum(cnt, 1)
    sse_free = float(np.sum((y - mean[idx]) ** 2))
    return sse_iso / sse_free if sse_free > 0 else 1.0


def estimate_steady_latency(
    log: SensorLog,
    *,
    max_latency_s: float = 0.5,
    min_latency_s: float = -0.05,
    rate_hz: float | None = None,
    flicker_hz: float | None = None,
    sensor_delay_s: float = 0.0,
    polarity: Polarity = "auto",
    n_segments: int = 16,
    exclude_onsets_s: float = 0.0,
    onset_threshold: float | None = None,
    min_pause_s: float = 0.3,
    min_corr: float = 0.0,
    checks: LogChecks | None = None,
    lowpass_hz: float | None = None,
    alpha: float = 1e-4,
) -> SteadyEstimate:
    """Estimate the steady-state delay of light behind motion.

    The method (see also docs/latency.md): the log is cut at its gaps, each channel is clipped
    to its robust range and put through the same zero-phase low-pass filter
    (:mod:`~vrkit.measure.latency.preprocess`). Still stretches (pauses) are left out. A
    coarse search correlates short-term changes of motion and light over the searched delays,
    and a significance test against surrogate lights refuses a light that does not follow the
    motion. The fine stage fits the light as a monotone function of the delayed motion by
    least squares over the delay (isotonic regression at each delay), so a gamma, a
    saturation or ADC steps do not bias it. A jackknife over 16 segments of the log gives the
    95 % interval.

    Under frame-quantised rendering the estimate is the mean delay from a motion to the
    centroid of the light that shows it.

    Args:
        log: The sensor log.
        max_latency_s: Largest delay searched, seconds.
        min_latency_s: Smallest delay searched (negative allows over-prediction), seconds.
        rate_hz: Grid rate before decimation (the log's median rate when None).
        flicker_hz: The panel's refresh rate, Hz, when known (it is detected otherwise); the
            low-pass corner is at most a quarter of it.
        sensor_delay_s: Known delay of the photodiode front end (e.g. its RC filter),
            subtracted from the result.
        polarity: ``"positive"`` if light rises with motion, ``"negative"`` if it falls,
            ``"auto"`` to decide from the data (refused when ambiguous).
        n_segments: Segments for the jackknife interval (no interval below 3).
        exclude_onsets_s: Leave out motion samples within this long after a movement onset,
            so that onset transients (prediction catching up) do not enter the estimate.
        onset_threshold: Onset threshold (motion units) for ``exclude_onsets_s``; automatic
            when None.
        min_pause_s: Shortest stillness that counts as a pause before an onset, seconds.
        min_corr: Smallest acceptable rank correlation (0: only the significance test
            decides).
        checks: Log validation thresholds.
        lowpass_hz: Low-pass corner, Hz (default 15, at most a quarter of the refresh rate).
        alpha: Largest chance (p-value) accepted that the light's correlation with the motion
            is a fluke.

    Returns:
        The estimate with its interval, the correlation curve, the display as detected and
        the assumptions the log seems to break.

    Raises:
        DataError: The log fails validation, the light does not follow the motion (not above
            chance), the peak lies at the edge of the searched range, the polarity is
            ambiguous, or the motion carries no delay information.
    """
    if not max_latency_s > min_latency_s:
        raise InputError(
            f"max_latency_s ({max_latency_s}) must exceed min_latency_s ({min_latency_s})"
        )
    if n_segments < 1:
        raise InputError(f"n_segments must be at least 1, got {n_segments}")
    if polarity not in ("auto", "positive", "negative"):
        raise InputError(f"polarity must be auto, positive or negative, got {polarity!r}")
    validate(log, checks)
    span_s = max_latency_s - min_latency_s
    p = prepare(
        log,
        rate_hz=rate_hz,
        refresh_hz=flicker_hz,
        lowpass_hz=lowpass_hz,
        pad_s=span_s + 0.1,
        min_run_s=min(1.0, 0.5 * log.duration_s),
    )
    fs = p.fs
    x, y, valid = p.motion, p.light, p.valid
    n = x.size
    kmin, kmax = math.floor(min_latency_s * fs), math.ceil(max_latency_s * fs)
    real = int(valid.sum())
    width = kmax - kmin + 1
    margin = max(round(0.25 * fs), kmax - kmin)
    # the significance test needs the searched range, a margin either side, and room for at
    # least 4 surrogate windows as wide as the range
    needed = width + 2 * margin + 4 * width
    if real < needed:
        raise DataError(
            f"sensor log is too short for the searched delays: {real / fs:.2f} s of data for "
            f"a range of {(kmax - kmin) / fs:.3f} s (need {needed / fs:.1f} s to tell the "
            "light's correlation with the motion from chance)",
            "record longer (20 s or more), or narrow --max-latency-ms / --min-latency-ms",
        )
    still = still_mask(x, valid, fs, p.motion_noise)
    keep = valid & ~still
    if exclude_onsets_s > 0:
        thr = auto_threshold(x[valid]) if onset_threshold is None else float(onset_threshold)
        onsets, _, _ = detect_onsets(np.where(valid, x, np.median(x[valid])), fs, thr, min_pause_s)
        for t0 in onsets:
            k0 = int(t0 * fs)
            keep[k0 : k0 + round(exclude_onsets_s * fs)] = False
    # Ranks over the real samples: any monotone light response becomes (nearly) linear, and
    # a reading cannot weigh more than its rank.
    rx = np.zeros(n)
    ry = np.zeros(n)
    rx[valid] = rank_transform(x[valid])
    ry[valid] = rank_transform(y[valid])
    w = (keep & partner_ok(valid, kmin, kmax)).astype(np.float64)
    if w.sum() < max(64, 0.05 * real):
        raise DataError(
            f"only {int(w.sum())} samples of movement ({w.sum() / fs:.2f} s) remain after "
            f"leaving out pauses{', onsets' if exclude_onsets_s > 0 else ''} and gaps",
            "record longer stretches of movement",
        )
    sig, c_signed = significance_test(rx, w, ry, valid, kmin, kmax, margin)
    lags = np.arange(kmin, kmax + 1) / fs
    i_pos, i_neg = int(np.argmax(c_signed)), int(np.argmin(c_signed))
    cp, cn = float(c_signed[i_pos]), float(-c_signed[i_neg])
    range_txt = f"{min_latency_s * 1e3:.0f}..{max_latency_s * 1e3:.0f} ms"
    if sig.p_value > alpha or sig.peak_corr <= sig.null_max or sig.peak_corr < min_corr:
        if sig.peak_corr > 0.9 and sig.null_max > 0.9 * sig.peak_corr:
            raise DataError(
                f"the motion is (nearly) periodic: the light correlates {sig.peak_corr:.2f} "
                f"with it over delays {range_txt}, but a light shifted by whole periods "
                f"would correlate as well ({sig.null_max:.2f}), so neither the delay nor "
                "that the light follows the motion can be told",
                "move irregularly, with pauses of stillness",
            )
        raise DataError(
            f"light does not follow motion: its best correlation with the motion, "
            f"{sig.peak_corr:.2f} over delays {range_txt}, is not above chance (p = "
            f"{sig.p_value:.2g}; {sig.surrogate_windows} surrogate lights peak up to "
            f"{sig.null_max:.2f})",
            "check the photodiode placement and that the gradient scene follows the tracked "
            "motion, or widen --max-latency-ms",
        )
    if polarity == "auto":
        if min(cp, cn) > 0.85 * max(cp, cn):
            raise DataError(
                f"light polarity is ambiguous: correlation +{cp:.2f} at "
                f"{lags[i_pos] * 1e3:.1f} ms and -{cn:.2f} at {lags[i_neg] * 1e3:.1f} ms "
                "(periodic motion?)",
                "pass polarity (positive/negative) or move less regularly",
            )
        sign = 1.0 if cp >= cn else -1.0
    else:
        sign = 1.0 if polarity == "positive" else -1.0
    c = sign * c_signed
    i = int(np.argmax(c))
    lo, hi = peak_lobe(
        c,
        lags,
        i,
        "widen --max-latency-ms / --min-latency-ms",
        "move irregularly, or narrow --max-latency-ms",
    )
    tau0 = (kmin + parabolic_peak(c, i)) / fs
    lobe_lo, lobe_hi = (kmin + lo) / fs, (kmin + hi - 1) / fs
    # Fine stage, within FINE_WINDOW_S of the coarse peak (moved if the minimum is at its edge):
    # references whose light partners are real at every delay of the window.
    centre = tau0
    for _ in range(20):
        w_lo = max(lobe_lo, centre - FINE_WINDOW_S)
        w_hi = min(lobe_hi, centre + FINE_WINDOW_S)
        pad_k = 3
        ref = np.flatnonzero(
            keep & partner_ok(valid, math.floor(w_lo * fs) - pad_k, math.ceil(w_hi * fs) + pad_k)
        )
        if ref.size < 64:
            raise DataError(
                f"only {ref.size} samples of movement have light at every delay near the peak",
                "record longer stretches of movement without gaps",
            )
        n_seg = max(1, min(n_segments, ref.size // 64))
        seg_of = np.minimum(np.arange(ref.size) * n_seg // ref.size, n_seg - 1)
        fit = _fine_stage(x, y, fs, ref, seg_of, n_seg, centre, sign > 0, w_lo, w_hi)
        if fit.at_edge is None:
            break
        if (fit.at_edge < 0 and w_lo <= lobe_lo) or (fit.at_edge > 0 and w_hi >= lobe_hi):
            raise DataError(
                "the best delay lies at the edge of the correlation peak "
                f"({(w_lo if fit.at_edge < 0 else w_hi) * 1e3:.1f} ms)",
                "widen --max-latency-ms / --min-latency-ms, or move irregularly",
            )
        centre = (w_lo if fit.at_edge < 0 else w_hi) + fit.at_edge * 0.5 * FINE_WINDOW_S
    else:
        raise DataError("the fine delay search did not settle", "move irregularly")
    if not math.isfinite(fit.latency_s):
        raise DataError(
            "the light's fit does not change with the delay near the correlation peak: "
            "the motion carries no delay information",
            "move more (faster turns) during the recording",
        )
    if not min_latency_s <= fit.latency_s <= max_latency_s:
        raise DataError(
            f"the best delay, {fit.latency_s * 1e3:.2f} ms, lies outside the searched range "
            f"{range_txt}",
            "widen --max-latency-ms / --min-latency-ms",
        )
    used = fit.cost.sum(axis=0) > 0
    loo, se = _jackknife(fit, used)
    latency = fit.latency_s - sensor_delay_s
    ci_lo = ci_hi = None
    if math.isfinite(se):
        half = float(stats.t.ppf(0.975, loo.size - 1) * JACKKNIFE_WIDEN * se)
        ci_lo, ci_hi = latency - half, latency + half
    # Per-segment estimates, the drift across them, and the map at the estimate.
    seg_lat, seg_t, seg_w = [], [], []
    t_ref = p.time_s[ref]
    for s in np.flatnonzero(used):
        v, a = _vertex(fit.taus, fit.cost[:, s])
        if math.isfinite(v) and abs(v - fit.latency_s) < 0.05:
            seg_lat.append(v - sensor_delay_s)
            seg_t.append(float(np.mean(t_ref[seg_of == s])))
            seg_w.append(a)
    warnings: list[str] = []
    order = ref[np.argsort(x[ref], kind="stable")]
    y_at = shifted(y, order, fit.latency_s * fs)
    g = optimize.isotonic_regression(y_at, increasing=sign > 0).x
    sse = float(np.sum((y_at - g) ** 2))
    sst = float(np.sum((y_at - y_at.mean()) ** 2))
    explained = math.sqrt(max(0.0, 1.0 - sse / sst)) if sst > 0 else 0.0
    ratio = _free_fit_ratio(x[order], y_at, sse)
    if ratio > 1.5:
        warnings.append(
            f"the light is not a monotone function of the motion: a free fit leaves "
            f"{ratio:.1f}x less residual (does the gradient wrap, does the photodiode see "
            "more than one spot, or does the motion sensor drift?)"
        )
    _drift_warning(np.array(seg_t), np.array(seg_lat), np.array(seg_w), warnings)
    _sampling_warnings(log, p, warnings)
    nb = min(512, order.size)
    edges = np.linspace(0, order.size, nb + 1).astype(int)
    counts = np.diff(edges)
    ok = counts > 0
    kx = np.add.reduceat(x[order], edges[:-1])[ok] / counts[ok]
    ky = np.add.reduceat(g, edges[:-1])[ok] / counts[ok]
    kx, first = np.unique(kx, return_index=True)
    info = {
        "pauses_left_out_s": float(np.count_nonzero(valid & still) / fs),
        "gaps_filled": p.uniform.short_gaps,
        "gaps_cut": len(p.uniform.long_gaps),
        "clipped": dict(p.clipped),
        "monotone_fit_ratio": ratio,
        "jackknife_se_ms": se * 1e3 if math.isfinite(se) else None,
    }
    return SteadyEstimate(
        latency_s=float(latency),
        ci_low_s=ci_lo,
        ci_high_s=ci_hi,
        peak_corr=float(explained),
        inverted=sign < 0,
        rate_hz=fs,
        segment_latencies_s=np.array(seg_lat),
        curve=CorrelationCurve(lags - sensor_delay_s, c),
        samples_used=int(ref.size),
        light_map=LightMap(kx, ky[first]),
        display=p.display,
        significance=sig,
        warnings=tuple(warnings),
        lowpass_hz=p.lowpass_hz,
        info=info,
    )


def _drift_warning(
    t: NDArray[np.float64], lat: NDArray[np.float64], wt: NDArray[np.float64], out: list[str]
) -> None:
    """Warn when the per-segment delays drift steadily over the log."""
    if t.size < 4 or np.ptp(t) <= 0:
        return
    wt = np.maximum(wt, 0) / max(float(np.max(wt)), 1e-300)
    X = np.stack([np.ones_like(t), t - t.mean()], axis=1)
    W = np.diag(wt)
    try:
        cov = np.linalg.inv(X.T @ W @ X)
    except np.linalg.LinAlgError:
        return
    beta = cov @ X.T @ W @ lat
    res = lat - X @ beta
    dof = max(1, t.size - 2)
    s2 = float(res @ W @ res) / dof
    se = math.sqrt(max(s2 * cov[1, 1], 0.0))
    drift = float(beta[1] * np.ptp(t))
    if abs(drift) > 0.25e-3 and abs(beta[1]) > 4 * se:
        out.append(
            f"the delay drifts by {drift * 1e3:+.2f} ms over the log (from "
            f"{(beta[0] - beta[1] * np.ptp(t) / 2) * 1e3:.2f} to "
            f"{(beta[0] + beta[1] * np.ptp(t) / 2) * 1e3:.2f} ms): the motion and light "
            "clocks drift apart, or the latency changes; the estimate is its mean"
        )


def _sampling_warnings(log: SensorLog, p: Prepared, out: list[str]) -> None:
    """Irregular sampling, gaps, clipping and coarse light steps."""
    dt = np.diff(log.t_ns).astype(np.float64)
    med = float(np.median(dt))
    jitter = 1.4826 * float(np.median(np.abs(dt - med))) / med if med > 0 else 0.0
    if jitter > 0.05:
        out.append(
            f"irregular sampling: the sample interval jitters by {jitter * 100:.0f} % of "
            f"{med * 1e-6:.3f} ms (both channels must be read at their stamped instant)"
        )
    u = p.uniform
    if u.long_gaps or u.dropped_runs:
        total = sum(g for _, g in u.long_gaps)
        out.append(
            f"the log has {len(u.long_gaps)} gaps longer than 50 ms ({total:.3g} s in all); "
            f"the runs between them were analysed apart"
            + (f", {u.dropped_runs} runs under 1 s left out" if u.dropped_runs else "")
        )
    step = max(1, log.light.size // 50_000)
    levels = np.unique(log.light[::step]).size
    if levels < 40:
        out.append(
            f"the light takes only {levels} distinct values: coarse ADC steps blur the "
            "delay (raise the photodiode's gain or the ADC resolution)"
        )
    top = float(np.max(log.light))
    at_top = float(np.mean(log.light == top))
    if at_top > 0.02:
        out.append(
            f"the light sits at its maximum ({top:g}) in {at_top * 100:.0f} % of the "
            "readings: the photodiode or its ADC saturates there (no delay information)"
        )
