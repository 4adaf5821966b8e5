"""The sensor-log analysis against logs it was not tuned to (tests/latency_gen.py), and against
bad logs of every kind the issue names.

``latency_gen`` is written from its own physical model (not vrkit's simulator): the light of a
display frame shows the head as it was ``latency`` before the frame's light centroid at the
photodiode. Figures quoted in docs/latency.md come from these tests.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from latency_gen import Rig, generate, sweep
from scipy import signal

from vrkit.core.errors import DataError
from vrkit.measure.latency.analysis import estimate_steady_latency
from vrkit.measure.latency.events import estimate_flash_latency, estimate_onset_latency
from vrkit.measure.latency.logformats import load_log
from vrkit.measure.latency.sensorlog import SensorLog, load_csv, save_csv


def _log(g) -> SensorLog:
    return SensorLog.from_seconds(g.t_s, g.motion, g.light)


# ---- accuracy and honest intervals ------------------------------------------------------------


@pytest.mark.slow
def test_steady_state_sweep_of_60_independent_logs():
    """Delays 5-100 ms, 60-144 Hz hold panels, gamma 1.8-2.6, saturating photodiodes, 8-12 bit
    ADCs, multi-sine and random-walk motion with pauses and stops, mains flicker, clock drift,
    dropped samples; 20 s at 1 kHz each. Every estimate within 0.25 ms of the physical truth,
    and the 95 % interval covers it in at least 90 % of the logs."""
    errors, covered = [], []
    for rig in sweep(60, seed=100):
        g = generate(rig)
        est = estimate_steady_latency(_log(g), max_latency_s=0.2)
        errors.append(est.latency_s - g.truth_s)
        covered.append(est.ci_low_s <= g.truth_s <= est.ci_high_s)
        assert est.peak_corr > 0.99 and est.significance.p_value < 1e-12
    errors = np.abs(errors)
    # measured: worst 0.168 ms, rms 0.077 ms, coverage 59 of 60
    assert errors.max() < 0.25e-3, errors.max()
    assert np.mean(covered) >= 0.9, np.mean(covered)


@pytest.mark.slow
def test_logs_that_cannot_support_a_quarter_ms_say_so():
    """Low-persistence panels (1-3 ms pulses, 60-144 Hz) and a motion of a few degrees: where
    the estimate is not within 0.25 ms, its interval is wider than +-0.25 ms; the intervals
    still cover the truth."""
    rigs = sweep(10, seed=100, low_persistence=True)
    rigs += [
        Rig(seed=40 + k, latency_s=0.03 + 0.01 * k, amplitude_deg=2.0, refresh_hz=90.0)
        for k in range(4)
    ]
    covered = []
    for rig in rigs:
        g = generate(rig)
        est = estimate_steady_latency(_log(g), max_latency_s=0.2)
        half = 0.5 * (est.ci_high_s - est.ci_low_s)
        assert abs(est.latency_s - g.truth_s) < 0.25e-3 or half > 0.25e-3, (rig.seed, half)
        covered.append(est.ci_low_s <= g.truth_s <= est.ci_high_s)
        if rig.persistence == "low":
            assert est.display.persistence == "low"
            assert est.display.refresh_hz == pytest.approx(rig.refresh_hz, abs=0.2)
    assert np.mean(covered) >= 0.9, covered


@pytest.mark.slow
def test_onset_and_steady_state_under_prediction():
    """The app predicts 40 ms ahead (a velocity low-passed over 50 ms) on a 50-80 ms pipeline:
    the steady state is recovered within its interval (and 1 ms), the onsets within about a
    frame, and the gap between them (what prediction hides from the steady state) too."""
    rng = np.random.default_rng(1)
    per_event = []
    gaps = []
    for i in range(8):
        rig = Rig(
            seed=700 + i,
            latency_s=float(rng.uniform(0.05, 0.08)),
            refresh_hz=[60.0, 72.0, 90.0, 120.0, 144.0][i % 5],
            pauses=8,
            pause_s=0.6,
            duration_s=30.0,
            prediction_s=0.04,
            predictor_tau_s=0.05,
            threshold=3.0,
            stop_s=0.0,
            light_noise=0.003,
        )
        g = generate(rig)
        log = _log(g)
        steady = estimate_steady_latency(
            log, max_latency_s=0.2, exclude_onsets_s=0.3, onset_threshold=3.0
        )
        onset = estimate_onset_latency(log, threshold=3.0, max_latency_s=0.2)
        assert steady.ci_low_s - 0.2e-3 <= g.steady_truth_s <= steady.ci_high_s + 0.2e-3
        assert abs(steady.latency_s - g.steady_truth_s) < 1e-3
        assert all(0 <= e.latency_s <= 0.2 for e in onset.events)
        hidden = np.median(g.onset_truth_s) - g.steady_truth_s  # what prediction hides
        seen = onset.latency_s - steady.latency_s
        assert abs(seen - hidden) < 1.7 / rig.refresh_hz
        gaps.append((hidden, seen))
        matched = []
        for ev in onset.events:
            j = int(np.argmin(np.abs(g.onset_times_s - ev.motion_s)))
            if abs(g.onset_times_s[j] - ev.motion_s) < 0.01:
                matched.append(ev.latency_s - g.onset_truth_s[j])
        assert len(matched) >= 2
        # the light moves in whole frames: one event may land a frame off, the median less
        assert abs(np.median(matched)) < 1.7 / rig.refresh_hz
        per_event += [m * rig.refresh_hz for m in matched]
    # over all events, in frames: measured median +0.07, 10th..90th percentile -0.9..+1.3
    assert abs(np.median(per_event)) < 0.5 and len(per_event) >= 30
    # onsets take much longer than the steady state, and the analysis sees it
    hidden, seen = np.mean(gaps, axis=0)
    assert hidden > 0.008 and seen > 0.008, gaps


def test_onset_without_prediction_matches_the_steady_state():
    g = generate(
        Rig(seed=3, latency_s=0.06, refresh_hz=90.0, pauses=8, pause_s=0.6, duration_s=30.0,
            threshold=8.0, stop_s=0.0)
    )  # fmt: skip
    onset = estimate_onset_latency(_log(g), threshold=8.0, max_latency_s=0.2)
    steady = estimate_steady_latency(_log(g), max_latency_s=0.2)
    assert len(onset.events) >= 5
    assert abs(onset.latency_s - steady.latency_s) < 1.0 / 90.0
    d = onset.to_dict()
    assert d["events"] == len(onset.events) and d["onsets"] >= d["events"]
    assert "onsets used" in onset.summary()


def test_impossible_onsets_are_skipped_with_their_reason_and_too_few_refused():
    """Light that jumps just before the motion starts (a noise crossing, or light the motion
    did not cause) is skipped with its reason, never reported as a (negative) latency; too
    few usable events are refused."""
    g = generate(
        Rig(seed=4, latency_s=0.03, refresh_hz=90.0, pauses=6, pause_s=0.7, duration_s=25.0,
            threshold=8.0, stop_s=0.0, light_noise=0.003)
    )  # fmt: skip
    light = g.light.copy()
    t = g.t_s - g.t_s[0]
    # a bright flash of 20 ms, 60..40 ms before each programmed onset
    for t0 in g.onset_times_s:
        light[(t > t0 - 0.06) & (t < t0 - 0.04)] = light.max()
    log = SensorLog.from_seconds(g.t_s, g.motion, light)
    est = estimate_onset_latency(log, threshold=8.0, max_latency_s=0.2)
    assert all(0 <= e.latency_s <= 0.2 for e in est.events)
    flashed = [r for t0, r in est.skipped if np.min(np.abs(g.onset_times_s - t0)) < 0.05]
    assert len(flashed) >= 4
    assert all(r.startswith(("light not at rest", "negative latency")) for r in flashed)
    assert any(r.startswith("negative latency (-") for r in flashed)
    assert f"{len(est.events)} of {est.onsets} onsets used" in est.summary()
    with pytest.raises(DataError, match=r"too few usable onsets: \d+ of \d+ \(need 50\)"):
        estimate_onset_latency(log, threshold=8.0, max_latency_s=0.2, min_events=50)


def test_flash_mode_on_the_independent_generator():
    g = generate(
        Rig(seed=5, latency_s=0.045, refresh_hz=90.0, pauses=8, pause_s=0.7, duration_s=25.0,
            threshold=2.0, mode="flash", stop_s=0.0, light_noise=0.003, motion_noise=0.002)
    )  # fmt: skip
    # (an encoder's noise, well below the app's 2 degree trigger: with 1 % motion noise the
    # first noisy crossing of 2 degrees comes early by a few ms, as it would on such a rig)
    est = estimate_flash_latency(_log(g), threshold=2.0)
    errors = []
    for ev in est.events:
        j = int(np.argmin(np.abs(g.onset_times_s - ev.motion_s)))
        if abs(g.onset_times_s[j] - ev.motion_s) < 0.01:
            errors.append(ev.latency_s - g.onset_truth_s[j])
    assert len(errors) >= 4
    assert abs(np.median(errors)) < 1.5e-3
    assert all(e.latency_s > 0 for e in est.events)


# ---- other rigs' files ------------------------------------------------------------------------


def test_latency_test_csv_gives_the_same_estimate_as_vrkit_csv(tmp_path):
    """The same generated rig written as vrkit's t_s,motion,light and as rpavlik/Latency-Test's
    us,drx,dry,drz,brightness (gyro rates in rad/s, integrated by the reader)."""
    for seed in (1, 2):
        g = generate(Rig(seed=seed, latency_s=0.04, refresh_hz=72.0))
        (tmp_path / "a.csv").write_text(g.csv_text())
        (tmp_path / "b.csv").write_text(g.latency_test_text())
        a, b = load_log(tmp_path / "a.csv"), load_log(tmp_path / "b.csv")
        assert (a.fmt, b.fmt) == ("vrkit", "latency-test")
        ea = estimate_steady_latency(a.log, max_latency_s=0.2)
        eb = estimate_steady_latency(b.log, max_latency_s=0.2)
        # measured: 0.001..0.06 ms apart
        assert abs(ea.latency_s - eb.latency_s) < 0.1e-3
        assert abs(eb.latency_s - g.truth_s) < 0.25e-3


def test_latency_test_raw_capture_with_boot_text_gyro_bias_and_micros_wrap(tmp_path):
    """Straight from the serial port: boot messages, no header, a 2**32 us wrap, and a gyro
    whose zero-rate calibration left a 0.03 rad/s bias."""
    g = generate(Rig(seed=6, latency_s=0.035, refresh_hz=90.0))
    rows = g.latency_test_text(header=False).splitlines()
    start = (1 << 32) - 5_000_000  # micros() wraps 5 s into the log
    fixed = []
    for row in rows:
        us, dx, dy, dz, b = row.split(",")
        fixed.append(f"{(int(us) + start) % (1 << 32)},{dx},{dy},{float(dz) + 0.03:.4f},{b}")
    boot = [
        "latency_hardware_firmware motion log test v01.00.00",
        " Mount the photosensor rigidly on the eyepiece or screen.",
        "zeroing out IMU",
        "Zero rate: 0.01, -0.02, 0.00",
    ]
    path = tmp_path / "raw.txt"
    path.write_text("\n".join(boot + fixed) + "\n")
    loaded = load_log(path, "auto")
    assert loaded.fmt == "latency-test"
    assert any("wrapped 1 times" in n for n in loaded.notes)
    assert any("bias +0.03" in n for n in loaded.notes), loaded.notes
    est = estimate_steady_latency(loaded.log, max_latency_s=0.2)
    assert abs(est.latency_s - g.truth_s) < 0.25e-3


def test_unknown_format_is_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not a sensor log vrkit knows"):
        load_log(path)


# ---- glitches and garbage ---------------------------------------------------------------------


def test_a_single_glitched_sample_of_any_value_moves_the_estimate_less_than_0_1_ms():
    g = generate(Rig(seed=11, latency_s=0.03, duration_s=10.0))
    base = estimate_steady_latency(_log(g), max_latency_s=0.2).latency_s
    worst = 0.0
    for channel in ("light", "motion"):
        for value in (65535.0, 4294967295.0, -4294967295.0, 1e300, -1e300, 0.0):
            for row in (100, 5000, 9000):
                m, li = g.motion.copy(), g.light.copy()
                (li if channel == "light" else m)[row] = value
                est = estimate_steady_latency(
                    SensorLog.from_seconds(g.t_s, m, li), max_latency_s=0.2
                )
                worst = max(worst, abs(est.latency_s - base))
    assert worst < 0.1e-3, worst  # measured: 0.06 ms


def _walk(rng: np.random.Generator, n: int, corner_hz: float) -> np.ndarray:
    x = np.cumsum(rng.normal(0.0, 1.0, n))
    sos = signal.butter(2, corner_hz, fs=1000.0, output="sos")
    return signal.sosfiltfilt(sos, x)


def _refusals(make, seeds: int = 200) -> list[str]:
    """Estimates that were *not* refused, described."""
    accepted = []
    for seed in range(seeds):
        log = make(np.random.default_rng(seed), seed)
        try:
            est = estimate_steady_latency(log)
        except DataError:
            continue
        accepted.append(f"seed {seed}: {est.latency_s * 1e3:.1f} ms")
    return accepted


N = 20_000
T_S = np.arange(N) / 1000.0  # 20 s at 1 kHz


@pytest.mark.slow
def test_unrelated_random_walks_are_refused():
    def make(rng, seed):
        motion = _walk(rng, N, 5.0) + rng.normal(0, 0.3, N)
        light = _walk(rng, N, [0.5, 2.0, 8.0][seed % 3])
        light = np.round(1000 + 30 * (light - light.min()) + rng.normal(0, 2, N))
        return SensorLog.from_seconds(T_S, motion, light)

    accepted = _refusals(make)
    assert len(accepted) <= 2, accepted  # at least 99 % of 200 refused; measured: all


@pytest.mark.slow
def test_light_that_does_not_depend_on_motion_is_refused():
    """The light is a gradient scene driven by another head: its own multi-sine with pauses,
    8-bit, gamma 2.2, held per 90 Hz frame, with noise."""

    def multisine(rng):
        f = rng.uniform(0.4, 2.5, 5)
        ph = rng.uniform(0, 2 * np.pi, 5)
        a = rng.uniform(0.4, 1.0, 5) / np.sqrt(f)
        x = (a[:, None] * np.sin(2 * np.pi * f[:, None] * T_S + ph[:, None])).sum(axis=0)
        return 25 * x / a.sum()

    def make(rng, seed):
        motion = multisine(rng) + rng.normal(0, 0.25, N)
        other = multisine(rng)
        frame = np.floor(T_S * 90.0)
        held = np.interp(frame / 90.0, T_S, other)
        code = np.round(255 * np.clip((held + 40) / 80, 0, 1))
        light = np.round(3000 * (code / 255) ** 2.2 + rng.normal(0, 20, N))
        return SensorLog.from_seconds(T_S, motion, light)

    accepted = _refusals(make)
    assert len(accepted) <= 2, accepted  # measured: all refused


@pytest.mark.slow
def test_light_that_only_flickers_with_the_display_is_refused():
    """Real head motion; the light is the panel's refresh only (pulses or frame steps at
    60-144 Hz) with mains flicker and noise, unrelated to the motion."""
    motion_log = _log(generate(Rig(seed=77, latency_s=0.03)))
    m = np.resize(motion_log.motion, N)

    def make(rng, seed):
        f = rng.uniform(60.0, 144.0)
        phase = (T_S * f + rng.uniform()) % 1.0
        if seed % 2:
            light = 2000 + 1500 * (phase < rng.uniform(0.1, 0.3))
        else:
            light = (
                2000 + 200 * rng.normal(0, 1, int(T_S[-1] * f) + 2)[np.floor(T_S * f).astype(int)]
            )
        light = light + 100 * np.cos(2 * np.pi * 100.0 * T_S) + rng.normal(0, 10, N)
        return SensorLog.from_seconds(T_S, m, np.round(light))

    accepted = _refusals(make)
    assert len(accepted) <= 2, accepted  # measured: all refused


def test_too_short_logs_are_refused():
    g = generate(Rig(seed=12, latency_s=0.03, duration_s=10.0))
    log = _log(g)
    with pytest.raises(DataError, match="too short"):
        estimate_steady_latency(log.slice_s(0.0, 1.5))  # the issue's -45.8 ms case
    with pytest.raises(DataError, match="too short"):
        estimate_steady_latency(log.slice_s(0.0, 0.5))
    with pytest.raises(DataError, match="too short: 40 samples"):
        estimate_steady_latency(log.slice_s(0.0, 0.04))


def test_a_gap_of_1e5_s_costs_no_more_memory_than_the_samples():
    g = generate(Rig(seed=13, latency_s=0.03, duration_s=20.0))
    base = _log(g)
    t = g.t_s.copy()
    t[-1000:] += 1e5  # the last second arrives 1e5 s late
    gapped = SensorLog.from_seconds(t, g.motion, g.light)

    def peak(log: SensorLog) -> tuple[int, float]:
        tracemalloc.start()
        est = estimate_steady_latency(log, max_latency_s=0.2)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top, est.latency_s

    top_base, _ = peak(base)
    top_gap, lat_gap = peak(gapped)
    assert top_gap < 1.3 * top_base, (top_gap, top_base)  # not ~97 KB per second of gap
    assert abs(lat_gap - g.truth_s) < 0.3e-3
    est = estimate_steady_latency(gapped, max_latency_s=0.2)
    assert any("gaps longer than 50 ms" in w for w in est.warnings)


def test_timestamps_above_int64_nanoseconds_read_exactly(tmp_path):
    g = generate(Rig(seed=14, latency_s=0.03, t0_s=0.0))
    us = np.round(g.t_s * 1e6).astype(np.int64)  # what a 64-bit microsecond counter prints
    text = "".join(
        f"{12_000_000_000 + u // 1_000_000}.{u % 1_000_000:06d},{m:.5f},{v:.0f}\n"
        for u, m, v in zip(us, g.motion, g.light, strict=True)
    )
    (tmp_path / "big.csv").write_text("t_s,motion,light\n" + text)
    big = load_csv(tmp_path / "big.csv")
    assert big.origin_s == 12_000_000_000
    assert big.time_text(1) == f"{12_000_000_000 + us[1] // 1_000_000}.{us[1] % 1_000_000:06d}000"
    small = _log(g)
    np.testing.assert_array_equal(big.t_ns - big.t_ns[0], small.t_ns - small.t_ns[0])
    e_big = estimate_steady_latency(big, max_latency_s=0.2)
    e_small = estimate_steady_latency(small, max_latency_s=0.2)
    assert e_big.latency_s == pytest.approx(e_small.latency_s, abs=1e-9)
    save_csv(big, tmp_path / "again.csv")
    assert load_csv(tmp_path / "again.csv").time_text(5) == big.time_text(5)
    # a floating-point array of such times works too
    assert SensorLog.from_seconds(12e9 + g.t_s, g.motion, g.light).origin_s == 12_000_000_000


def test_excel_bom_semicolons_latin1_and_binary(tmp_path):
    g = generate(Rig(seed=15, latency_s=0.03, duration_s=6.0))
    rows = [f"{t:.6f};{m:.4f};{v:.0f}".replace(".", ",") for t, m, v in
            zip(g.t_s, g.motion, g.light, strict=True)]  # fmt: skip
    text = "t_s;motion;light\r\n" + "\r\n".join(rows) + "\r\n"
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    log = load_csv(tmp_path / "excel.csv")
    assert len(log) == g.t_s.size
    np.testing.assert_allclose(log.motion, g.motion, atol=1e-4)
    # Latin-1: a degree sign in a comment and the header
    latin = "# yaw in \xb0, photodiode BPW34\nt_s,motion,light\n" + g.csv_text().split("\n", 1)[1]
    (tmp_path / "latin1.csv").write_bytes(latin.encode("latin-1"))
    assert len(load_csv(tmp_path / "latin1.csv")) == g.t_s.size
    # a Latin-1 byte inside a number is a clean, named error
    bad = g.csv_text().splitlines()
    bad[5] = bad[5].replace(",", ",\xb0", 1)
    (tmp_path / "bad.csv").write_bytes("\n".join(bad).encode("latin-1"))
    with pytest.raises(DataError, match="row 5 is not three numbers"):
        load_csv(tmp_path / "bad.csv")
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    with pytest.raises(DataError, match="binary file"):
        load_csv(tmp_path / "bin.csv")
