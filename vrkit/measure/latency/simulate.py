"""Simulators with a known latency and the imperfections of a real rig: sensor logs and videos.

:func:`simulate` writes a photodiode/encoder sensor log (below); :func:`simulate_video` a
high-speed video of a physical and a rendered marker for
:func:`vrkit.measure.latency.video.analyze_video`: a panel refreshing at 60-120 Hz with
scan-out, pixel response and either full or low persistence, a camera with finite exposure
(motion blur), sensor noise and lossy compression, and motion with pauses.

The sensor-log simulator:

The model, in the order the signal travels:

* **Motion** (true clock): pauses of stillness and movements whose velocity is a smooth random
  signal that ramps up in ``onset_ramp_s``; read by a quantising encoder with noise.
* **Rendering**: frame ``k`` scans out from vsync ``V_k = k / refresh_hz``; the photodiode sits at
  fraction ``photodiode_row`` down the panel, so it sees frame ``k`` from ``d_k = V_k +
  photodiode_row * scanout_s``. The app sampled the pose for that frame at ``s_k = V_k - pipeline
  + jitter`` and optionally predicted it forward by ``prediction_s`` using a low-passed velocity.
* **Panel**: brightness from the tracked motion through a gradient (clipped, 8-bit, optionally
  inverted), then gamma; a full-persistence panel holds it for the frame, a low-persistence panel
  flashes it for ``pulse_s``. Flash mode shows white while the motion is away from its rest.
* **Photodiode and ADC**: optional first-order front-end filter, saturation, noise, quantisation;
  each reading is the average over its sample interval centred on its timestamp (an oversampling
  firmware), taken at jittered instants and stamped by a drifting microsecond clock.

**True latency** (``true_latency_s``) is defined as the mean over frames of the delay from the
pose sample to the centroid of that frame's light at the photodiode row:
``mean_k(d_k + c_k - s_k)`` with ``c_k = (d_{k+1} - d_k) / 2`` for full persistence and
``pulse_s / 2`` for low persistence. ``latency_s`` sets it (jitter moves the realised mean).
Without prediction a cross-correlation estimator should recover it. With prediction,
``true_steady_s`` is the shift of the true motion that best explains (least squares) the motion
the panel shows during continuous movement, and ``onset_latencies_s`` are, per movement onset,
the time from the motion leaving rest by ``threshold`` to the first light of a frame that shows
it that far from rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, signal

from vrkit.core.errors import InputError
from vrkit.measure.latency.sensorlog import SensorLog
from vrkit.vision.video import VideoWriter


@dataclass(frozen=True)
class SimConfig:
    """Parameters of a simulated rig run (seconds, Hz, degrees).

    Attributes:
        latency_s: Target mean pose-to-light-centroid latency without prediction.
        duration_s: Log length.
        rate_hz: Rig sample rate.
        refresh_hz: Panel refresh (60-120 typical).
        persistence: ``"hold"`` (full persistence) or ``"low"`` (a pulse per frame).
        pulse_s: Pulse length of a low-persistence panel.
        scanout_s: Time to scan the whole panel top to bottom (None: 90 % of a frame).
        photodiode_row: Photodiode position down the panel, 0 (top) to 1 (bottom).
        pose_jitter_s: Standard deviation of the pose sample time.
        prediction_s: How far ahead the app predicts the pose (0: no prediction).
        predictor_tau_s: Time constant of the predictor's velocity low-pass.
        mode: ``"gradient"`` (brightness follows motion) or ``"flash"`` (white when moving).
        threshold: Distance from rest (degrees) at which the flash app flashes and at which
            onset truths are taken.
        gradient_range: Motion range mapped onto black..white, degrees (wider is clipped).
        inverted: Brightness falls as motion rises.
        gamma: Panel gamma.
        saturation: Photodiode saturation level as a fraction of full white (inf: linear).
        front_end_tau_s: Photodiode front-end (TIA/RC) time constant (0: ideal).
        amplitude_deg: Typical size of a movement.
        move_s: (min, max) length of a movement.
        pause_s: (min, max) length of a pause; (0, 0) for continuous motion.
        onset_ramp_s: Time for the velocity to ramp up at a movement onset.
        encoder_step_deg: Motion sensor quantisation step.
        motion_noise_deg: Motion sensor noise (standard deviation).
        adc_bits: Photodiode ADC resolution.
        light_noise: Photodiode noise as a fraction of full scale.
        sample_jitter_s: Jitter of the rig's sampling instants (clipped to a quarter period).
        drift_ppm: Rig clock rate error.
        seed: Random seed.
        fine_hz: Internal simulation rate (None: max(20 kHz, 4x rate_hz)).
    """

    latency_s: float = 0.030
    duration_s: float = 30.0
    rate_hz: float = 1000.0
    refresh_hz: float = 90.0
    persistence: Literal["hold", "low"] = "hold"
    pulse_s: float = 0.002
    scanout_s: float | None = None
    photodiode_row: float = 0.5
    pose_jitter_s: float = 0.0005
    prediction_s: float = 0.0
    predictor_tau_s: float = 0.02
    mode: Literal["gradient", "flash"] = "gradient"
    threshold: float = 1.0
    gradient_range: tuple[float, float] = (-40.0, 40.0)
    inverted: bool = False
    gamma: float = 2.2
    saturation: float = 0.8
    front_end_tau_s: float = 0.0
    amplitude_deg: float = 25.0
    move_s: tuple[float, float] = (1.0, 2.5)
    pause_s: tuple[float, float] = (0.5, 1.0)
    onset_ramp_s: float = 0.01
    encoder_step_deg: float = 360.0 / 4096
    motion_noise_deg: float = 0.01
    adc_bits: int = 12
    light_noise: float = 0.002
    sample_jitter_s: float = 20e-6
    drift_ppm: float = 30.0
    seed: int = 0
    fine_hz: float | None = None


@dataclass
class SimResult:
    """A simulated log and the truths it was made with.

    Attributes:
        log: The sensor log as the rig would record it.
        config: The configuration used.
        true_latency_s: Mean pose-sample to light-centroid delay (see module docstring).
        true_steady_s: Least-squares delay of the shown motion during continuous movement.
        onset_times_s: (E,) motion threshold crossings, seconds since the log's first sample.
        onset_latencies_s: (E,) per-onset true latency at ``threshold``.
        threshold: Threshold the onset truths use, degrees.
        frame_pose_s: (F,) pose sample times (true clock, s).
        frame_light_s: (F,) first light of each frame at the photodiode row (true clock, s).
        frame_shown: (F,) the motion each frame shows (after prediction), degrees.
    """

    log: SensorLog
    config: SimConfig
    true_latency_s: float
    true_steady_s: float
    onset_times_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    onset_latencies_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    threshold: float = 0.0
    frame_pose_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    frame_light_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    frame_shown: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def truth_dict(self) -> dict[str, object]:
        """The truths in milliseconds, JSON-friendly."""
        return {
            "true_latency_ms": self.true_latency_s * 1e3,
            "true_steady_ms": self.true_steady_s * 1e3,
            "true_onset_ms": None
            if self.onset_latencies_s.size == 0
            else float(np.median(self.onset_latencies_s) * 1e3),
            "onsets": int(self.onset_latencies_s.size),
            "threshold": self.threshold,
        }


def _motion(
    cfg: SimConfig, t: NDArray[np.float64], rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[tuple[float, float]]]:
    """True motion on the fine grid: (position deg, envelope 0..1, [(start, end) moves])."""
    fine = 1.0 / (t[1] - t[0])
    env = np.zeros_like(t)
    moves: list[tuple[float, float]] = []
    continuous = cfg.pause_s[1] <= 0
    now = t[0] + (0.0 if continuous else rng.uniform(*cfg.pause_s))
    while now < t[-1]:
        length = t[-1] - now + 1 if continuous else rng.uniform(*cfg.move_s)
        start, end = now, now + length
        moves.append((start, end))
        ramp = max(cfg.onset_ramp_s, 1e-6)
        u = np.clip((t - start) / ramp, 0, 1)
        d = np.clip((end - t) / ramp, 0, 1)
        piece = (0.5 - 0.5 * np.cos(np.pi * u)) * (0.5 - 0.5 * np.cos(np.pi * d))
        env = np.maximum(env, np.where((t >= start) & (t <= end), piece, 0.0))
        now = end + (0.0 if continuous else rng.uniform(*cfg.pause_s))
    # A smooth, irregular velocity: random sinusoids from 0.2 to 1.5 Hz.
    freqs = rng.uniform(0.2, 1.5, 8)
    phases = rng.uniform(0, 2 * np.pi, 8)
    amps = rng.uniform(0.5, 1.0, 8) / freqs
    vel = np.zeros_like(t)
    for f, ph, a in zip(freqs, phases, amps, strict=True):
        vel += a * 2 * np.pi * f * np.cos(2 * np.pi * f * t + ph)
    vel *= cfg.amplitude_deg / np.sum(amps) * 1.5
    # Head turns start briskly: give each movement at least 2 amplitudes/s at its start, with
    # a kick that fades over 0.3 s.
    v_min = 2.0 * cfg.amplitude_deg
    for start, _ in moves:
        v0 = float(np.interp(start, t, vel))
        if abs(v0) < v_min:
            kick = (math.copysign(v_min, v0 if v0 != 0 else 1.0) - v0) * np.exp(
                -np.clip(t - start, 0, None) / 0.3
            )
            vel += np.where(t >= start, kick, 0.0) * (env > 0)
    vel *= env
    # Keep the head within the amplitude: flip a movement's direction if it would wander off.
    pos = np.cumsum(vel) / fine
    for start, end in moves:
        i0, i1 = np.searchsorted(t, [start, end])
        disp = pos[min(i1, t.size - 1)] - pos[i0]
        if abs(pos[i0] + disp) > abs(pos[i0] - disp) and abs(pos[i0]) > 0.3 * cfg.amplitude_deg:
            vel[i0 : i1 + 1] *= -1
            pos = np.cumsum(vel) / fine
    return pos, env, moves


def simulate(cfg: SimConfig | None = None, **overrides: object) -> SimResult:
    """Simulate a rig recording with a known latency.

    Args:
        cfg: The configuration; defaults when None.
        **overrides: Fields of :class:`SimConfig` to replace.

    Returns:
        The log and its truths.

    Raises:
        InputError: A parameter is out of range (e.g. a latency shorter than the panel's own
            light centroid delay).
    """
    cfg = cfg or SimConfig()
    if overrides:
        cfg = SimConfig(**{**cfg.__dict__, **overrides})
    period = 1.0 / cfg.refresh_hz
    if not 30 <= cfg.refresh_hz <= 500:
        raise InputError(f"refresh_hz must be within 30..500 Hz, got {cfg.refresh_hz}")
    if cfg.persistence not in ("hold", "low"):
        raise InputError(f"persistence must be 'hold' or 'low', got {cfg.persistence!r}")
    if cfg.duration_s <= 0 or cfg.rate_hz <= 0:
        raise InputError(
            f"duration_s and rate_hz must be positive, got {cfg.duration_s}, {cfg.rate_hz}"
        )
    scanout = 0.9 * period if cfg.scanout_s is None else cfg.scanout_s
    row_s = cfg.photodiode_row * scanout
    centroid = period / 2 if cfg.persistence == "hold" else cfg.pulse_s / 2
    pipeline = cfg.latency_s - row_s - centroid
    if pipeline < 3 * cfg.pose_jitter_s:
        raise InputError(
            f"latency_s={cfg.latency_s * 1e3:.2f} ms is shorter than this panel allows "
            f"(row delay {row_s * 1e3:.2f} ms + light centroid {centroid * 1e3:.2f} ms)",
            "raise latency_s, the refresh rate, or move the photodiode up",
        )
    rng = np.random.default_rng(cfg.seed)
    fine_hz = cfg.fine_hz or max(20_000.0, 4 * cfg.rate_hz)
    t0, t1 = -1.0, cfg.duration_s + 1.0
    t = t0 + np.arange(int((t1 - t0) * fine_hz)) / fine_hz
    pos, env, moves = _motion(cfg, t, rng)
    vel = np.gradient(pos, 1.0 / fine_hz)
    alpha = 1.0 / (1.0 + cfg.predictor_tau_s * fine_hz)
    vel_f = signal.lfilter([alpha], [1.0, alpha - 1.0], vel)

    # Frames: vsync, pose sample, first light at the photodiode's row.
    k = np.arange(math.floor(t0 / period) + 2, math.ceil(t1 / period) - 1)
    vsync = k * period
    light_start = vsync + row_s
    pose_t = vsync - pipeline + rng.normal(0.0, cfg.pose_jitter_s, k.size)
    shown = np.interp(pose_t, t, pos) + cfg.prediction_s * np.interp(pose_t, t, vel_f)
    # Rest level for flash mode: where the head was when its current movement began.
    starts = np.array([s for s, _ in moves] or [t0])
    seg = np.searchsorted(starts, pose_t, side="right") - 1
    rest_at = np.interp(starts, t, pos)
    rest = np.where(seg >= 0, rest_at[np.clip(seg, 0, None)], np.interp(t0, t, pos))

    def gradient(x: NDArray[np.float64]) -> NDArray[np.float64]:
        lo, hi = cfg.gradient_range
        b = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
        return 1.0 - b if cfg.inverted else b

    if cfg.mode == "flash":
        moving = np.interp(pose_t, t, env) > 0
        bright = ((np.abs(shown - rest) > cfg.threshold) & moving).astype(float)
    elif cfg.mode == "gradient":
        bright = gradient(shown)
    else:
        raise InputError(f"mode must be 'gradient' or 'flash', got {cfg.mode!r}")
    shown_b = np.round(bright * 255) / 255  # 8-bit frame buffer
    lum = shown_b**cfg.gamma

    # Light at the photodiode on the fine grid.
    fi = np.clip(np.searchsorted(light_start, t, side="right") - 1, 0, k.size - 1)
    emit = lum[fi]
    if cfg.persistence == "low":
        emit = emit * ((t - light_start[fi]) < cfg.pulse_s)
    if cfg.front_end_tau_s > 0:
        a = 1.0 / (1.0 + cfg.front_end_tau_s * fine_hz)
        emit = signal.lfilter([a], [1.0, a - 1.0], emit)
    if math.isfinite(cfg.saturation):
        emit = cfg.saturation * np.tanh(emit / cfg.saturation)

    # The rig: jittered sampling instants, interval-averaged light, drifting microsecond clock.
    n = int(cfg.duration_s * cfg.rate_hz)
    drift = 1.0 + cfg.drift_ppm * 1e-6
    # A timer-driven rig never reorders its samples: jitter is clipped to a quarter period, so
    # consecutive instants stay half a period apart and their microsecond stamps stay distinct.
    quarter = 0.25 / cfg.rate_hz
    jitter = np.clip(rng.normal(0.0, cfg.sample_jitter_s, n), -quarter, quarter)
    inst = np.arange(n) / cfg.rate_hz / drift + jitter
    h = 0.5 / cfg.rate_hz
    cum = np.concatenate([[0.0], np.cumsum(emit)]) / fine_hz
    tc = np.concatenate([[t[0]], t + 1.0 / fine_hz])
    light = (np.interp(inst + h, tc, cum) - np.interp(inst - h, tc, cum)) / (2 * h)
    full = 1.0 if not math.isfinite(cfg.saturation) else cfg.saturation
    light = light + rng.normal(0.0, cfg.light_noise * full, n)
    levels = 2**cfg.adc_bits - 1
    light_adc = np.clip(np.round(light / (1.2 * full) * levels), 0, levels)
    motion = np.interp(inst, t, pos) + rng.normal(0.0, cfg.motion_noise_deg, n)
    if cfg.encoder_step_deg > 0:
        motion = np.round(motion / cfg.encoder_step_deg) * cfg.encoder_step_deg
    stamp_us = np.round((inst * drift + 5.0) * 1e6).astype(np.int64)  # rig clock starts at 5 s
    log = SensorLog(stamp_us * 1000, motion, light_adc)
    log_t0 = float(stamp_us[0]) * 1e-6

    # Truths.
    in_log = (pose_t > 0.2) & (pose_t < cfg.duration_s - 0.2)
    nxt = np.append(light_start[1:], light_start[-1] + period)
    c_k = (nxt - light_start) / 2 if cfg.persistence == "hold" else cfg.pulse_s / 2
    true_latency = float(np.mean((light_start + c_k - pose_t)[in_log]))

    thr = cfg.threshold
    onset_t, onset_lat = [], []
    for start, end in moves:
        if start <= t0 + 0.1 or start > cfg.duration_s - 0.6:
            continue
        i0 = int(np.searchsorted(t, start))
        r0 = pos[i0]
        i1 = int(np.searchsorted(t, min(end, start + 1.0)))
        away = np.flatnonzero(np.abs(pos[i0:i1] - r0) > thr)
        if away.size == 0:
            continue
        tm = t[i0 + away[0]]
        direction = math.copysign(1.0, pos[i0 + away[0]] - r0)
        if cfg.mode == "gradient":
            # The first frame whose (8-bit) brightness shows the pose `thr` past rest.
            b_rest, b_thr = gradient(np.array([r0, r0 + direction * thr]))
            if b_thr in (0.0, 1.0):
                continue  # the gradient is clipped there: no frame can show it
            db = math.copysign(1.0, b_thr - b_rest)
            past = db * (shown_b - b_rest) >= db * (b_thr - b_rest)
        else:
            past = bright > 0
        fr = np.flatnonzero((pose_t >= start) & past)
        if fr.size == 0:
            continue
        onset_t.append(tm * drift + 5.0 - log_t0)
        onset_lat.append(light_start[fr[0]] - tm)

    # Least-squares delay of the shown motion during continuous movement (>= 0.3 s in).
    shown_t = np.clip(np.searchsorted(light_start + c_k - period / 2, t, "right") - 1, 0, None)
    shown_fine = shown[np.clip(shown_t, 0, k.size - 1)]
    steady = np.zeros(t.size, bool)
    for start, end in moves:
        steady |= (t >= start + 0.3) & (t <= end)
    steady &= (t > 0.5) & (t < cfg.duration_s - 0.5)
    sel = np.flatnonzero(steady)[::10]

    def cost(tau: float) -> float:
        return float(np.mean((shown_fine[sel] - np.interp(t[sel] - tau, t, pos)) ** 2))

    if sel.size > 100:
        guess = true_latency - cfg.prediction_s
        res = optimize.minimize_scalar(
            cost, bounds=(guess - 0.05, guess + 0.05), method="bounded", options={"xatol": 1e-6}
        )
        true_steady = float(res.x)
    else:
        true_steady = float("nan")
    return SimResult(
        log=log,
        config=cfg,
        true_latency_s=true_latency,
        true_steady_s=true_steady,
        onset_times_s=np.array(onset_t),
        onset_latencies_s=np.array(onset_lat),
        threshold=thr,
        frame_pose_s=pose_t,
        frame_light_s=light_start,
        frame_shown=shown,
    )


def photodiode_from_frames(
    light_start_s: NDArray[np.float64],
    frame_light: NDArray[np.float64],
    t_s: NDArray[np.float64],
    sample_s: float,
) -> NDArray[np.float64]:
    """A photodiode in front of a full-persistence panel, read by an oversampling ADC.

    Frame ``k`` lights the photodiode from ``light_start_s[k]`` until the next frame starts;
    each reading is the mean light over ``[t - sample_s / 2, t + sample_s / 2]`` (what a
    firmware that averages between reports records). Exact for the piecewise-constant light.

    Args:
        light_start_s: (F,) increasing times at which each frame's light starts, seconds.
        frame_light: (F,) each frame's brightness at the photodiode (any unit).
        t_s: (N,) reading times, seconds; inside ``light_start_s[0] .. light_start_s[-1]``.
        sample_s: Averaging interval of one reading, seconds.

    Returns:
        (N,) readings.

    Raises:
        InputError: Mismatched shapes, unsorted frame times, or readings outside the frames.
    """
    start = np.asarray(light_start_s, dtype=np.float64)
    lum = np.asarray(frame_light, dtype=np.float64)
    t = np.asarray(t_s, dtype=np.float64)
    if start.ndim != 1 or start.shape != lum.shape or start.size < 2:
        raise InputError(
            f"need (F,) frame start times and (F,) brightness with F >= 2, got shapes "
            f"{start.shape} and {lum.shape}"
        )
    if np.any(np.diff(start) <= 0):
        raise InputError("frame light start times must increase")
    h = 0.5 * float(sample_s)
    if not h > 0:
        raise InputError(f"sample_s must be positive, got {sample_s}")
    if t.min() - h < start[0] or t.max() + h > start[-1]:
        raise InputError(
            f"readings from {t.min():.4f} to {t.max():.4f} s fall outside the frames "
            f"({start[0]:.4f}..{start[-1]:.4f} s)"
        )
    cum = np.concatenate([[0.0], np.cumsum(lum[:-1] * np.diff(start))])
    return (np.interp(t + h, start, cum) - np.interp(t - h, start, cum)) / (2 * h)


# --------------------------------------------------------------------------------------------
# High-speed video of a physical and a rendered marker (for vrkit.measure.latency.video)


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
        codec: Encoder: an OpenCV FourCC (``"mp4v"``, ``"MJPG"``, ``"FFV1"``) or an FFmpeg
            encoder name (:class:`vrkit.vision.video.VideoWriter`).
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
    progress: Any = None,
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
    :func:`~vrkit.measure.latency.video.analyze_video` estimates. Each camera frame ``i``
    integrates light over an exposure centred on ``i / fps``.

    Args:
        path: Output file (``.mp4`` for mp4v, ``.avi`` for MJPG/FFV1); written under a
            temporary name and renamed when complete.
        latency_s: The delay to build in, seconds.
        fps: Camera frame rate.
        duration_s: Video length, seconds.
        seed: Random seed (motion, phase, jitter, noise).
        progress: A bar (anything with ``update(n)``), advanced by 1 per written frame
            (``round(duration_s * fps)`` in all); None for none.
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
    bg[int(0.9 * H) : H, int(0.05 * W) : int(0.45 * W) + 1] = 35.0

    writer = VideoWriter(path, (W, H), float(cfg.container_fps or fps), codec=cfg.codec)
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
            if progress is not None:
                progress.update(1)
    except BaseException:
        writer.discard()
        raise
    return writer.close()
