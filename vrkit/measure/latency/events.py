"""Onset and flash latency: one latency per movement that starts after a pause.

* **Onset latency** (:func:`estimate_onset_latency`): after each pause, the time from the motion
  leaving its rest level by ``threshold`` (motion units) to the light showing a pose that far from
  rest (through the monotone light map of the steady-state fit). Prediction can make the
  steady-state latency small while the onset latency stays large: a predictor cannot foresee a
  movement's start.
* **Flash latency** (:func:`estimate_flash_latency`): the app switches the panel from dark to
  bright when it sees the motion start (the DK1 latency tester's method); each event's latency
  runs from the motion onset to the light crossing halfway between dark and bright.

An event is kept only if its latency is physically possible and stable; every other onset is
reported as skipped, with the reason:

* **negative**: the light reached its level before the motion reached its threshold. Light
  cannot show a movement before it happens, so this is noise, or light the movement did not
  cause;
* **threshold-dependent** (onset): measured again at 1.5x the threshold, the event's latency
  grows by more than a frame (16.7 ms when the refresh is unknown). A plain delay gives the
  same latency at both thresholds, prediction a shorter one at the higher threshold (the
  predictor catches up); a longer one means the light crossed the lower level early, on
  noise, before the movement's real response;
* **edge too slow or noisy** (flash): the light's crossings of 40 % and 60 % of the way from
  dark to bright lie more than a frame apart.

Fewer than ``min_events`` usable events (default 3, the fewest for an interval) is refused.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.analysis import (
    LightMap,
    Polarity,
    estimate_steady_latency,
    remove_flicker,
)
from vrkit.measure.latency.preprocess import (
    DisplayInfo,
    auto_threshold,
    clip_limits,
    detect_display,
    detect_onsets,
)
from vrkit.measure.latency.sensorlog import (
    LogChecks,
    SensorLog,
    noise_sigma,
    uniform_runs,
    validate,
)


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
        events: The events used (physically possible and stable).
        skipped: Onsets not used, each as ``(motion_s, reason)``.
        threshold: Motion threshold used, motion units.
        onsets: Movement onsets found in all (used plus skipped).
        threshold_shift_s: Onset mode: how much the events' latency moves, in the median,
            when the threshold is raised 1.5x (negative with prediction); None in flash mode.
        display: The panel as given or detected.
    """

    kind: str
    events: list[OnsetEvent]
    skipped: list[tuple[float, str]] = field(default_factory=list)
    threshold: float = 0.0
    onsets: int = 0
    threshold_shift_s: float | None = None
    display: DisplayInfo | None = None

    @property
    def latencies_s(self) -> NDArray[np.float64]:
        """(E,) per-event latencies, seconds."""
        return np.array([e.latency_s for e in self.events], dtype=np.float64)

    @property
    def latency_s(self) -> float:
        """Median per-event latency, seconds."""
        return float(np.median(self.latencies_s))

    def skipped_by_reason(self) -> dict[str, int]:
        """How many onsets were skipped for each reason (reasons without their numbers)."""
        return dict(Counter(r.split(" (")[0].split(":")[0] for _, r in self.skipped))

    def summary(self) -> str:
        """``"7 of 9 onsets used (2 skipped: 1 negative latency, ...)"``."""
        n = len(self.events)
        total = max(self.onsets, n + len(self.skipped))
        word = "onsets" if self.kind == "onset" else "flashes"
        txt = f"{n} of {total} {word} used"
        if self.skipped:
            parts = ", ".join(f"{k} {r}" for r, k in self.skipped_by_reason().items())
            txt += f" ({len(self.skipped)} skipped: {parts})"
        return txt

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
            "onsets": max(self.onsets, n + len(self.skipped)),
            "event_latencies_ms": lat.tolist(),
            "skipped": [{"motion_s": t, "reason": r} for t, r in self.skipped],
            "skipped_by_reason": self.skipped_by_reason(),
            "threshold": self.threshold,
            "threshold_shift_ms": None
            if self.threshold_shift_s is None
            else self.threshold_shift_s * 1e3,
            "display": None if self.display is None else self.display.to_dict(),
        }


@dataclass(frozen=True)
class _Signals:
    """One gap-free run at the log's rate: clipped motion and (flicker-filtered) light."""

    start_s: float
    motion: NDArray[np.float64]
    light: NDArray[np.float64]


def _runs(
    log: SensorLog, rate_hz: float | None, flicker_hz: float | None
) -> tuple[list[_Signals], float, DisplayInfo]:
    m_lo, m_hi = clip_limits(log.motion)
    l_lo, l_hi = clip_limits(log.light)
    log = SensorLog(
        log.t_ns, np.clip(log.motion, m_lo, m_hi), np.clip(log.light, l_lo, l_hi), log.origin_s
    )
    u = uniform_runs(log, rate_hz, min_run_s=0.5)
    if not u.runs:
        raise DataError(
            "sensor log has no stretch without gaps of at least 0.5 s",
            "record without dropouts",
        )
    fs = u.rate_hz
    longest = max(u.runs, key=lambda r: r.light.size)
    display = detect_display(longest.light, fs, flicker_hz)
    refresh = flicker_hz
    if refresh is None and display.persistence == "low":
        refresh = display.refresh_hz
    out = []
    for r in u.runs:
        li = r.light
        if refresh and r.light.size > 64:
            li = remove_flicker(li, fs, refresh)
        out.append(_Signals(r.start_s, r.motion, li))
    return out, fs, display


def _tolerance_s(fs: float, display: DisplayInfo) -> float:
    """How much later an event may answer at a higher threshold before it counts as unstable.

    One frame (the light moves in whole frames; 60 Hz when the refresh is unknown) and two
    samples.
    """
    frame = 1.0 / display.refresh_hz if display.refresh_hz else 1.0 / 60.0
    return frame + 2.0 / fs


def _onset_crossing(
    m: NDArray[np.float64],
    li: NDArray[np.float64],
    fs: float,
    light_map: LightMap,
    noise: float,
    rest: float,
    kp: int,
    thr: float,
    max_latency_s: float,
    min_pause_s: float,
) -> tuple[float | None, float | None, str]:
    """Motion and light crossing times (s, run-relative) of one onset at threshold ``thr``."""
    win = max(2, round(min_pause_s * fs))
    # the motion's first crossing of rest +- thr after the pause
    seg = np.abs(m[kp : kp + max(win, round(1.0 * fs))] - rest)
    away = np.flatnonzero(seg > thr)
    if away.size == 0:
        return None, None, "motion did not reach the threshold"
    k = kp + int(away[0])
    d0, d1 = abs(m[k - 1] - rest), abs(m[k] - rest)
    frac = (thr - d0) / (d1 - d0) if d1 > d0 else 1.0
    t_motion = (k - 1 + float(np.clip(frac, 0.0, 1.0))) / fs
    direction = 1.0 if m[min(m.size - 1, k)] > rest else -1.0
    g0, g1 = light_map(np.array([rest, rest + direction * thr]))
    step = float(g1 - g0)
    if abs(step) < 10 * noise:
        return t_motion, None, "gradient too flat (or saturated) at this pose"
    pre = li[max(0, kp - win // 2) : kp]
    if pre.size == 0 or np.max(np.abs(pre - np.median(pre))) > 0.5 * abs(step):
        return t_motion, None, "light not at rest before the onset"
    sig = np.sign(step) * (li - g1)
    k_end = min(m.size, k + round(max_latency_s * fs))
    hold = max(1, round(0.002 * fs))  # a response must last 2 ms, not be one noise spike
    above = sig[kp:k_end] > 0
    runs = np.convolve(above.astype(int), np.ones(hold, int), "valid") == hold
    first = np.flatnonzero(runs)
    if first.size == 0:
        return t_motion, None, f"light did not respond within {max_latency_s * 1e3:.0f} ms"
    j = kp + int(first[0])
    if j > 0 and sig[j - 1] <= 0 < sig[j]:
        t_light = (j - 1 + float(-sig[j - 1] / (sig[j] - sig[j - 1]))) / fs
    else:
        t_light = j / fs
    return t_motion, t_light, ""


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
    min_events: int = 3,
) -> EventEstimate:
    """Latency from each movement onset (after a pause) to the light's response.

    The light is mapped onto the motion's scale by the steady-state fit's monotone light map
    (so a gamma or saturating gradient does not matter); an event's latency is the time from
    the motion leaving its rest level by ``threshold`` to the light reaching the level that
    shows a pose that far from rest.

    Args:
        log: The sensor log (gradient scene, with pauses in the motion).
        threshold: Motion distance from rest that counts as moved, motion units; automatic
            when None: the largest of 8x the motion noise, 1 % of its range, and the motion
            that moves the light by 12x its noise at the gradient's typical slope.
        min_pause_s: Shortest stillness before an onset, seconds.
        max_latency_s: Longest response time searched, seconds.
        rate_hz: Analysis rate (log's median rate when None).
        flicker_hz: Refresh rate of the panel, Hz (detected when None; a low-persistence
            panel's pulses are filtered out, see :func:`~.analysis.remove_flicker`).
        sensor_delay_s: Known photodiode front-end delay to subtract, seconds.
        polarity: Light polarity; ``"auto"`` uses the steady-state fit's.
        checks: Log validation thresholds.
        min_events: Fewest usable events for a result.

    Returns:
        The events used, and the onsets skipped with their reasons.

    Raises:
        DataError: The log fails validation or the steady-state test (the light must follow
            the motion), has no pauses followed by motion, or fewer than ``min_events``
            onsets give a possible and stable latency.
    """
    if min_events < 1:
        raise InputError(f"min_events must be at least 1, got {min_events}")
    validate(log, checks)
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
    if light_map is None:
        raise DataError("the steady-state fit gave no light map", "report this as a bug")
    runs, fs, display = _runs(log, rate_hz, flicker_hz)
    all_m = np.concatenate([r.motion for r in runs])
    all_l = np.concatenate([r.light for r in runs])
    thr = auto_threshold(all_m) if threshold is None else float(threshold)
    noise = noise_sigma(all_l)
    if threshold is None:
        # An automatic threshold must also move the light clearly out of its noise: at the
        # gradient's typical slope (over the middle 80 % of the motion) by 12 noise levels.
        m_lo, m_hi = np.percentile(all_m, [10.0, 90.0])
        l_lo, l_hi = light_map(np.array([m_lo, m_hi]))
        if m_hi > m_lo and l_hi != l_lo:
            thr = max(thr, 12.0 * noise * (m_hi - m_lo) / abs(float(l_hi - l_lo)))
    tol = _tolerance_s(fs, display)
    raw: list[tuple[float, float | None, float | None, str]] = []
    for r in runs:
        onsets, rests, pause_ends = detect_onsets(r.motion, fs, thr, min_pause_s)
        for t0, rest, t_pe in zip(onsets, rests, pause_ends, strict=True):
            kp = round(t_pe * fs)
            args = (r.motion, r.light, fs, light_map, noise, rest, kp)
            tm, tl, why = _onset_crossing(*args, thr, max_latency_s, min_pause_s)
            tm2, tl2, _ = _onset_crossing(*args, 1.5 * thr, max_latency_s, min_pause_s)
            if tm is None:
                continue
            lat = None if tl is None else tl - tm - sensor_delay_s
            lat2 = None if (tl2 is None or tm2 is None) else tl2 - tm2 - sensor_delay_s
            raw.append((r.start_s + float(t0), lat, lat2, why))
    if not raw:
        raise DataError(
            f"no movement onsets found: the motion never rests for {min_pause_s * 1e3:.0f} ms "
            f"within {thr / 4:.4g} of a rest level and then moves by {thr:.4g}",
            "record pauses of stillness between movements (or lower --min-pause)",
        )
    shifts = [b - a for _, a, b, _ in raw if a is not None and b is not None and a >= 0]
    shift = float(np.median(shifts)) if shifts else None
    events: list[OnsetEvent] = []
    skipped: list[tuple[float, str]] = []
    for t0, lat, lat2, why in raw:
        if lat is None:
            skipped.append((t0, why))
        elif not math.isfinite(lat) or lat < 0:
            skipped.append(
                (
                    t0,
                    f"negative latency ({lat * 1e3:.1f} ms): the light reached its level "
                    "before the motion reached the threshold",
                )
            )
        elif lat2 is None or lat2 - lat > tol:
            moved = "no response" if lat2 is None else f"{lat2 * 1e3:.1f} ms"
            skipped.append(
                (
                    t0,
                    f"threshold-dependent ({lat * 1e3:.1f} ms at the threshold, {moved} at 1.5x)",
                )
            )
        else:
            events.append(OnsetEvent(t0, t0 + lat))
    return _finish("onset", events, skipped, thr, len(raw), shift, display, min_events)


def _finish(
    kind: str,
    events: list[OnsetEvent],
    skipped: list[tuple[float, str]],
    thr: float,
    onsets: int,
    shift: float | None,
    display: DisplayInfo,
    min_events: int,
) -> EventEstimate:
    est = EventEstimate(kind, events, skipped, thr, onsets, shift, display)
    if len(events) < min_events:
        reasons = est.skipped_by_reason()
        word = "onsets" if kind == "onset" else "flashes"
        raise DataError(
            f"too few usable {word}: {len(events)} of {onsets} (need {min_events}); "
            f"skipped: {reasons}",
            "record more movements that start from stillness"
            + (
                "; check the photodiode and the flash scene"
                if kind == "flash"
                else "; if the gradient is too flat at rest, raise --threshold"
            ),
        )
    return est


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
    min_events: int = 3,
) -> EventEstimate:
    """Flash mode: per-event time from a motion onset to the panel flashing.

    The app switches the panel from dark to bright (``polarity="positive"``) when it sees the
    motion start, as the DK1 latency tester did. An event's light time is where the light
    crosses halfway between the log's dark and bright levels (5th and 95th percentiles).

    Args:
        log: The sensor log.
        threshold: Motion onset threshold (motion units): the app's own trigger threshold;
            automatic when None.
        min_pause_s: Shortest stillness before an onset, seconds.
        max_latency_s: Longest response time searched, seconds.
        rate_hz: Analysis rate (log's median rate when None).
        flicker_hz: Refresh rate of the panel, Hz (detected when None; a low-persistence
            panel's pulses are filtered out).
        sensor_delay_s: Known photodiode front-end delay to subtract, seconds.
        polarity: ``"positive"`` for a dark-to-bright flash, ``"negative"`` for bright-to-dark.
        checks: Log validation thresholds.
        min_events: Fewest usable events for a result.

    Returns:
        The flashes used, and the onsets skipped with their reasons.

    Raises:
        DataError: The log fails validation, has no onsets, or fewer than ``min_events``
            onsets are followed by a possible, clean flash.
    """
    if polarity not in ("positive", "negative"):
        raise InputError(f"flash polarity must be positive or negative, got {polarity!r}")
    if min_events < 1:
        raise InputError(f"min_events must be at least 1, got {min_events}")
    validate(log, checks)
    runs, fs, display = _runs(log, rate_hz, flicker_hz)
    all_m = np.concatenate([r.motion for r in runs])
    all_x = np.concatenate([r.light for r in runs])
    sign = 1.0 if polarity == "positive" else -1.0
    thr = auto_threshold(all_m) if threshold is None else float(threshold)
    dark, bright = np.percentile(sign * all_x, [5, 95])
    if not bright > dark:
        raise DataError(
            "the light never changes between dark and bright",
            "check that the flash scene is running and the photodiode sees the panel",
        )
    tol = _tolerance_s(fs, display)
    events: list[OnsetEvent] = []
    skipped: list[tuple[float, str]] = []
    count = 0
    for r in runs:
        x = sign * r.light
        onsets, _, pause_ends = detect_onsets(r.motion, fs, thr, min_pause_s)
        for t0, t_pe in zip(onsets, pause_ends, strict=True):
            count += 1
            t_abs = r.start_s + float(t0)
            kp = round(t_pe * fs)
            k_end = min(x.size, round(t0 * fs) + round(max_latency_s * fs))
            level = dark + 0.5 * (bright - dark)
            if x[max(0, kp - 1)] > level:
                skipped.append((t_abs, "panel already bright before the motion onset"))
                continue
            crossings = [
                _first_crossing(x, kp, k_end, dark + f * (bright - dark), fs)
                for f in (0.5, 0.4, 0.6)
            ]
            tl = crossings[0]
            if tl is None:
                skipped.append(
                    (t_abs, f"no flash within {max_latency_s * 1e3:.0f} ms of the onset")
                )
                continue
            lat = tl - float(t0) - sensor_delay_s
            if lat < 0:
                skipped.append(
                    (
                        t_abs,
                        f"negative latency ({lat * 1e3:.1f} ms): the panel flashed before "
                        "the motion reached the threshold",
                    )
                )
                continue
            lo, hi = crossings[1], crossings[2]
            if lo is None or hi is None or hi - lo > tol:
                skipped.append(
                    (
                        t_abs,
                        "edge too slow or noisy (the 40 % and 60 % crossings lie more than "
                        f"{tol * 1e3:.1f} ms apart)",
                    )
                )
                continue
            events.append(OnsetEvent(t_abs, t_abs + lat))
    if count == 0:
        raise DataError(
            f"no movement onsets found: the motion never rests for {min_pause_s * 1e3:.0f} ms "
            f"within {thr:.4g} and then moves",
            "record pauses of stillness between movements (or lower --min-pause)",
        )
    return _finish("flash", events, skipped, thr, count, None, display, min_events)


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
