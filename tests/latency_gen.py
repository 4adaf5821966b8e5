"""An independent sensor-log generator for testing the latency analysis.

Written from a physical model of its own, not from ``vrkit.measure.latency.simulate`` (which it
neither imports nor follows): the tests check the estimator against logs it was not tuned to.

The model, as the photons travel:

* **Head motion** ``theta(t)`` (degrees, true time): either a sum of sines whose phase clock
  stops during pauses (``multisine``), or a recorded-like random walk: band-limited random
  velocity with a soft pull to the centre and pauses (``walk``). Stops are smooth (the phase
  clock ramps down over ``stop_s``) or abrupt (``stop_s = 0``).
* **The app** samples the pose for frame ``k`` at ``s_k`` and optionally predicts it forward by
  ``prediction_s`` with a low-passed velocity; the frame shows yaw through a linear gradient
  over +-``gradient_deg``, written as an 8-bit code and emitted with the panel's gamma.
* **The panel** (its own clock, ``display_ppm`` off the rig's) starts frame ``k`` at ``V_k``;
  the row at height ``y`` lights at ``V_k + y * scan_s`` and holds until the next frame
  (``persistence="full"``) or flashes for ``pulse_s`` (``"low"``). An LCD pixel approaches each
  new value with time constant ``pixel_tau_s``. The photodiode sees rows ``diode_rows`` (the
  mean of ``ROWS`` sub-rows) plus room light flickering at twice the mains frequency.
* **The photodiode** responds linearly or saturates (``1 - exp(-I / I_sat)``); its gain puts
  the brightest reading at 90 % of the ADC's range; the reading gets noise (``light_noise`` of
  the light's own range) and the ADC quantises it. Each reading is a point sample at the
  stamped instant (``aperture="point"``) or the mean of 8 conversions over the sample interval
  centred on it (``"box"``, an oversampling firmware).
* **The motion sensor** reads ``theta`` with noise; its clock runs ``sensor_ppm`` off the rig's
  (its samples are stamped as if on the rig's clock, offset set at the start). A few samples are
  dropped, singly and in bursts.

**Ground truth, defined physically.** The light of frame ``k`` at the photodiode has a time
centroid ``c_k`` (mean over the diode's rows of the row's light start plus half the hold or
pulse, plus ``pixel_tau_s`` for an LCD's first-order response). The frame shows the head as it
was at ``c_k - latency_s``: the app sampled it at ``s_k = c_k - latency_s + jitter``. So
``truth_s`` is the mean over the frames in the log of ``c_k - s_k``: the light at time ``t``
shows the motion at ``t - latency``, held per display frame. With prediction, ``steady_truth_s``
is the delay ``D`` that best explains (least squares over frames during movement) what the
frames show as ``theta(c_k - D)``; ``onset_truth_s`` gives, per movement onset after a pause,
the time from the head leaving its rest by ``threshold`` to the light start (at the diode's
middle row) of the first frame that shows it that far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from scipy import interpolate, optimize, signal

ROWS = 6  # sub-rows the photodiode's field is split into


@dataclass(frozen=True)
class Rig:
    """One rig, panel and motion (seconds, Hz, degrees)."""

    latency_s: float = 0.030
    duration_s: float = 20.0
    rate_hz: float = 1000.0
    motion: Literal["multisine", "walk"] = "multisine"
    amplitude_deg: float = 25.0
    pauses: int = 1
    pause_s: float = 1.5
    stop_s: float = 0.15
    refresh_hz: float = 90.0
    display_ppm: float = 0.0
    persistence: Literal["full", "low"] = "full"
    pulse_s: float = 0.002
    scan_frac: float = 0.9
    diode_rows: tuple[float, float] = (0.45, 0.55)
    pixel_tau_s: float = 0.0
    gradient_deg: float = 40.0
    inverted: bool = False
    gamma: float = 2.2
    response: Literal["linear", "saturating"] = "linear"
    saturation: float = 0.6
    adc_bits: int = 12
    aperture: Literal["point", "box"] = "box"
    light_noise: float = 0.01
    motion_noise: float = 0.01
    mains_hz: float = 50.0
    room_light: float = 0.0
    pose_jitter_s: float = 0.0003
    prediction_s: float = 0.0
    predictor_tau_s: float = 0.03
    sensor_ppm: float = 0.0
    drop_fraction: float = 0.002
    mode: Literal["gradient", "flash"] = "gradient"
    threshold: float = 2.0
    t0_s: float = 1234.5
    seed: int = 0


@dataclass
class GenLog:
    """A generated log and its truths (times in seconds on the log's clock)."""

    rig: Rig
    t_s: np.ndarray
    motion: np.ndarray
    light: np.ndarray
    rate_dps: np.ndarray
    truth_s: float
    steady_truth_s: float
    skew_s: float
    onset_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    onset_truth_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def csv_text(self) -> str:
        """The log as vrkit's ``t_s,motion,light`` CSV."""
        rows = [
            f"{t:.6f},{m:.5f},{v:.0f}"
            for t, m, v in zip(self.t_s, self.motion, self.light, strict=True)
        ]
        return "t_s,motion,light\n" + "\n".join(rows) + "\n"

    def latency_test_text(self, header: bool = True) -> str:
        """The log as rpavlik/Latency-Test's ``us,drx,dry,drz,brightness`` CSV.

        The gyro measures yaw rate about z in rad/s (the other axes get noise); the times are
        integer microseconds from the first sample, as its capture script writes them.
        """
        us = np.round((self.t_s - self.t_s[0]) * 1e6).astype(np.int64)
        rng = np.random.default_rng(self.rig.seed + 7)
        dz = np.radians(self.rate_dps)
        dx = rng.normal(0, 0.01, us.size)
        dy = rng.normal(0, 0.01, us.size)
        rows = [
            f"{u},{x:.2f},{y:.2f},{z:.4f},{int(b)}"
            for u, x, y, z, b in zip(us, dx, dy, dz, self.light, strict=True)
        ]
        return ("us,drx,dry,drz,brightness\n" if header else "") + "\n".join(rows) + "\n"


def _pause_clock(
    t: np.ndarray, rig: Rig, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Speed (0..1) of the motion's clock on grid ``t`` and the [start, end] of each pause."""
    speed = np.ones_like(t)
    pauses = []
    if rig.pauses <= 0:
        return speed, pauses
    usable = rig.duration_s - 2.0
    slots = np.sort(rng.uniform(0.1, 0.9, rig.pauses)) * usable + 1.0
    for start in slots:
        end = start + rig.pause_s
        if pauses and start < pauses[-1][1] + 1.0:
            start = pauses[-1][1] + 1.0
            end = start + rig.pause_s
        pauses.append((start, end))
        r = rig.stop_s
        if r <= 0:
            speed[(t >= start) & (t < end)] = 0.0
            continue
        down = np.clip((t - start) / r, 0, 1)
        up = np.clip((t - (end - r)) / r, 0, 1)
        inside = (t >= start) & (t < end)
        s = np.where(t < end - r, 0.5 + 0.5 * np.cos(np.pi * down), 0.5 - 0.5 * np.cos(np.pi * up))
        speed = np.where(inside, np.minimum(speed, s), speed)
    return speed, pauses


def _motion_fn(rig: Rig, rng: np.random.Generator):
    """theta(t) and its derivative as callables on true time, and the pauses."""
    lo, hi = -2.0, rig.duration_s + 2.0
    dt = 1e-4 if rig.motion == "multisine" else 1e-3
    grid = np.arange(lo, hi, dt)
    speed, pauses = _pause_clock(grid, rig, rng)
    if rig.motion == "multisine":
        tau = np.cumsum(speed) * dt
        freqs = np.sort(rng.uniform(0.4, 2.5, 5))
        amps = rng.uniform(0.4, 1.0, 5) / np.sqrt(freqs)
        phases = rng.uniform(0, 2 * np.pi, 5)
        scale = rig.amplitude_deg / np.sum(amps) * 1.3
        tau_at = interpolate.interp1d(grid, tau, assume_sorted=True)
        speed_at = interpolate.interp1d(grid, speed, assume_sorted=True)

        def theta(t: np.ndarray) -> np.ndarray:
            u = tau_at(t)
            return scale * np.sum(
                amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * u[None] + phases[:, None]),
                axis=0,
            )

        def dtheta(t: np.ndarray) -> np.ndarray:
            u = tau_at(t)
            w = 2 * np.pi * freqs[:, None]
            return (
                scale
                * speed_at(t)
                * np.sum(amps[:, None] * w * np.cos(w * u[None] + phases[:, None]), axis=0)
            )

        return theta, dtheta, pauses
    # Recorded-like: velocity is band-limited noise (0.2..4 Hz) with a soft pull to the centre,
    # integrated from 8 s before the log (so that it starts in its steady state), scaled to the
    # amplitude, then smoothed into a spline.
    burn = int(8.0 / dt)
    n = grid.size + burn
    sos = signal.butter(2, [0.2, 4.0], btype="band", fs=1 / dt, output="sos")
    vel = signal.sosfiltfilt(sos, rng.normal(0, 1, n))
    spd = np.concatenate([np.ones(burn), speed])
    pos = np.zeros(n)
    k_pull = 1.0  # 1/s
    for i in range(1, n):  # a short loop at 1 kHz: the pull depends on the position so far
        pos[i] = pos[i - 1] + dt * spd[i] * (vel[i] - k_pull * pos[i - 1])
    pos = pos[burn:]
    pos *= 0.45 * rig.amplitude_deg / np.std(pos)
    spline = interpolate.CubicSpline(grid, pos)
    return spline, spline.derivative(), pauses


def _frames(rig: Rig, rng: np.random.Generator, theta, dtheta):
    """Frame start times, light centroids at the diode, shown yaw."""
    period = 1.0 / (rig.refresh_hz * (1.0 + rig.display_ppm * 1e-6))
    scan = rig.scan_frac / rig.refresh_hz
    phase = rng.uniform(0, period)
    k = np.arange(-math.ceil(1.0 / period), math.ceil((rig.duration_s + 1.0) / period))
    vsync = phase + k * period
    rows = rig.diode_rows[0] + (np.arange(ROWS) + 0.5) / ROWS * (
        rig.diode_rows[1] - rig.diode_rows[0]
    )
    on = period if rig.persistence == "full" else rig.pulse_s
    mid_row = float(np.mean(rows))
    centroid = vsync + mid_row * scan + on / 2 + rig.pixel_tau_s
    jitter = rng.normal(0, rig.pose_jitter_s, k.size)
    pose_t = centroid - rig.latency_s + jitter
    shown = theta(pose_t)
    if rig.prediction_s > 0:
        # the app's velocity: a first-order low-pass of the true rate, sampled per frame
        a = 1.0 - math.exp(-period / rig.predictor_tau_s)
        vel = signal.lfilter([a], [1.0, a - 1.0], dtheta(pose_t))
        shown = shown + rig.prediction_s * vel
    return vsync, period, scan, rows, on, centroid, pose_t, shown


def _light_at(
    t: np.ndarray,
    rig: Rig,
    vsync: np.ndarray,
    period: float,
    scan: float,
    rows: np.ndarray,
    on: float,
    lum: np.ndarray,
) -> np.ndarray:
    """Panel luminance seen by the diode at instants ``t`` (mean over its sub-rows)."""
    out = np.zeros_like(t)
    if rig.pixel_tau_s > 0:
        # value a pixel has reached at the end of each frame (first-order approach)
        decay = math.exp(-period / rig.pixel_tau_s)
        reached = signal.lfilter([1 - decay], [1.0, -decay], lum, zi=[lum[0] * decay])[0]
    for y in rows:
        start = vsync + y * scan
        k = np.clip(np.searchsorted(start, t, side="right") - 1, 1, vsync.size - 1)
        since = t - start[k]
        if rig.pixel_tau_s > 0:
            v = lum[k] + (reached[k - 1] - lum[k]) * np.exp(-since / rig.pixel_tau_s)
        else:
            v = lum[k]
        if rig.persistence == "low":
            v = np.where(since < on, v, 0.0)
        out += v
    return out / rows.size


def generate(rig: Rig | None = None, **changes: object) -> GenLog:
    """Generate one log with its physical truths (see the module docstring)."""
    rig = replace(rig or Rig(), **changes)
    rng = np.random.default_rng(rig.seed)
    theta, dtheta, pauses = _motion_fn(rig, rng)
    vsync, period, scan, rows, on, centroid, pose_t, shown = _frames(rig, rng, theta, dtheta)

    def code_of(yaw: np.ndarray) -> np.ndarray:
        b = np.clip((yaw + rig.gradient_deg) / (2 * rig.gradient_deg), 0.0, 1.0)
        return np.round(255 * (1.0 - b if rig.inverted else b))

    if rig.mode == "flash":
        rest = np.full_like(shown, np.nan)
        moving = np.abs(dtheta(pose_t)) > 1e-3
        # the app flashes white while the shown pose is more than `threshold` from where the
        # head last rested
        last_rest = float(shown[0])
        bright = np.zeros_like(shown)
        for i in range(shown.size):
            if not moving[i]:
                last_rest = float(shown[i])
            rest[i] = last_rest
            bright[i] = 255.0 if abs(shown[i] - last_rest) > rig.threshold else 0.0
        code = bright
    else:
        code = code_of(shown)
    lum = (code / 255.0) ** rig.gamma

    n_all = round(rig.duration_s * rig.rate_hz)
    t_true = np.arange(n_all) / rig.rate_hz + rng.normal(0, 2e-6, n_all)
    if rig.aperture == "point":
        inst = t_true[:, None]
    else:
        q = 8
        inst = t_true[:, None] + ((np.arange(q) + 0.5) / q - 0.5)[None, :] / rig.rate_hz
    panel = _light_at(inst.ravel(), rig, vsync, period, scan, rows, on, lum).reshape(inst.shape)
    room = rig.room_light * (1.0 + 0.8 * np.cos(2 * np.pi * 2 * rig.mains_hz * inst))
    intensity = panel + room
    if rig.response == "saturating":
        v = (1.0 - np.exp(-intensity / rig.saturation)) / (1.0 - math.exp(-1.0 / rig.saturation))
    else:
        v = intensity
    reading = v.mean(axis=1)
    # The rig's gain puts the brightest reading at ~90 % of the ADC; the noise is a fraction
    # of the light's own range.
    full = 1.1 * float(reading.max())
    reading = reading + rng.normal(0, rig.light_noise * float(np.ptp(reading)), n_all)
    levels = 2**rig.adc_bits - 1
    light = np.clip(np.round(reading / full * levels), 0, levels)

    # The motion sensor: its own clock, stamped as rig time with the offset set at the start.
    skew = rig.sensor_ppm * 1e-6 * t_true  # how late the motion really was read, s
    motion_true_t = t_true + skew
    motion = theta(motion_true_t) + rng.normal(0, rig.motion_noise * rig.amplitude_deg, n_all)
    rate = dtheta(motion_true_t) + rng.normal(0, 0.5, n_all)

    keep = np.ones(n_all, bool)
    drops = rng.random(n_all) < rig.drop_fraction
    keep &= ~drops
    for s in rng.integers(100, n_all - 100, 3):
        keep[s : s + int(rng.integers(5, 20))] = False
    keep[0] = keep[-1] = True
    t_stamp = np.round((rig.t0_s + np.arange(n_all) / rig.rate_hz) * 1e6) / 1e6

    # Truths.
    in_log = (pose_t > 0.3) & (pose_t < rig.duration_s - 0.3)
    truth = float(np.mean(centroid[in_log] - pose_t[in_log]))
    # what the rig's clocks make of it: the motion column is late by `skew` on average
    skew_mean = float(np.mean(skew))

    # Steady state: the delay that best explains the shown yaw as theta(c_k - D), over frames
    # during movement (not within 0.4 s of a pause).
    sel = in_log.copy()
    for a, b in pauses:
        sel &= ~((pose_t > a - 0.1) & (pose_t < b + 0.4))
    if rig.prediction_s > 0 and sel.sum() > 50:
        c = centroid[sel]
        res = optimize.minimize_scalar(
            lambda d: float(np.mean((shown[sel] - theta(c - d)) ** 2)),
            bounds=(truth - rig.prediction_s - 0.03, truth + 0.01),
            method="bounded",
            options={"xatol": 1e-7},
        )
        steady = float(res.x)
    else:
        steady = truth

    onset_t, onset_lat = [], []
    mid = float(np.mean(rows))
    for _, b in pauses:
        start = b - max(rig.stop_s, 0.0)  # the clock starts again here
        rest = float(theta(np.array([start - 0.05]))[0])
        tt = np.arange(start - 0.05, start + 1.0, 1e-5)
        away = np.flatnonzero(np.abs(theta(tt) - rest) > rig.threshold)
        if away.size == 0:
            continue
        tm = float(tt[away[0]])
        direction = math.copysign(1.0, float(theta(np.array([tm]))[0]) - rest)
        if rig.mode == "flash":
            past = code > 0
        else:
            c_rest, c_thr = code_of(np.array([rest, rest + direction * rig.threshold]))
            if c_thr in (0.0, 255.0) or c_thr == c_rest:
                continue  # the gradient is clipped there: no frame can show it
            past = direction * (shown - rest) >= rig.threshold
        fr = np.flatnonzero((pose_t > start - 0.2) & past & (vsync + mid * scan > tm - 0.05))
        if fr.size == 0:
            continue
        onset_t.append(tm)
        onset_lat.append(float(vsync[fr[0]] + mid * scan + rig.pixel_tau_s - tm))

    return GenLog(
        rig=rig,
        t_s=t_stamp[keep],
        motion=motion[keep],
        light=light[keep],
        rate_dps=rate[keep],
        truth_s=truth,
        steady_truth_s=steady,
        skew_s=skew_mean,
        onset_times_s=np.array(onset_t),
        onset_truth_s=np.array(onset_lat),
    )


def sweep(n: int = 60, seed: int = 100, low_persistence: bool = False) -> list[Rig]:
    """``n`` rigs spread over the issue's space (20 s at 1 kHz each).

    Delays 5..100 ms; sample-and-hold panels at 60, 72, 90, 120 and 144 Hz (some with an LCD's
    pixel response), their clocks up to 200 ppm off the rig's; rolling scan-out seen by a
    photodiode over 2..30 % of the rows; gamma 1.8..2.6; linear or saturating photodiodes;
    8..12-bit ADCs read at a point or averaged over the sample interval; multi-sine or
    random-walk motion with 1..3 smooth or abrupt pauses; room light flickering at twice the
    mains frequency; the motion sensor's clock up to 5 ppm off; dropped samples.

    Args:
        n: Number of rigs.
        seed: Seed of the draw.
        low_persistence: Low-persistence panels (1..3 ms pulses) instead, every rig
            averaging between reports (point samples alias the pulses).

    Returns:
        The rigs.
    """
    rng = np.random.default_rng(seed)
    rigs = []
    refresh = [60.0, 72.0, 90.0, 120.0, 144.0]
    for i in range(n):
        rigs.append(
            Rig(
                latency_s=float(np.round(rng.uniform(0.005, 0.100), 4)),
                refresh_hz=refresh[i % 5],
                display_ppm=float(rng.uniform(-200, 200)),
                persistence="low" if low_persistence else "full",
                pulse_s=float(rng.uniform(0.001, 0.003)),
                pixel_tau_s=0.0 if low_persistence or i % 3 else float(rng.uniform(0.001, 0.004)),
                motion="walk" if i % 2 else "multisine",
                pauses=int(rng.integers(1, 4)),
                pause_s=float(rng.uniform(0.6, 1.6)),
                stop_s=0.0 if i % 4 == 1 else float(rng.uniform(0.05, 0.3)),
                gamma=float(rng.uniform(1.8, 2.6)),
                response="saturating" if i % 3 == 0 else "linear",
                saturation=float(rng.uniform(0.3, 0.8)),
                adc_bits=int(rng.choice([8, 10, 12])),
                aperture="box" if low_persistence or i % 2 else "point",
                inverted=bool(i % 7 == 3),
                room_light=float(rng.choice([0.0, 0.02, 0.05])),
                mains_hz=float(rng.choice([50.0, 60.0])),
                sensor_ppm=float(rng.uniform(-5, 5)),
                diode_rows=(0.3, 0.3 + float(rng.uniform(0.02, 0.3))),
                seed=1000 + i + (5000 if low_persistence else 0),
            )
        )
    return rigs
