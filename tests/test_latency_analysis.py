"""Closed-loop tests of the sensor-log latency analysis against the simulator's known truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from vrkit.core.errors import DataError
from vrkit.measure.latency.analysis import estimate_steady_latency
from vrkit.measure.latency.events import estimate_flash_latency, estimate_onset_latency
from vrkit.measure.latency.sensorlog import SensorLog
from vrkit.measure.latency.simulate import simulate

# (latency s, refresh Hz, persistence, extra simulator settings). Every case carries the
# default imperfections: encoder quantisation and noise, 8-bit gradient with gamma 2.2,
# photodiode saturation, 12-bit ADC with noise, pose-time jitter, sampling jitter, 30 ppm clock
# drift, rolling scan-out (photodiode half-way down unless moved) and pauses in the motion.
# A low-persistence panel lights the photodiode ~20 % of the time, so its light is ~5x noisier:
# those rigs low-pass the photodiode (1 ms RC, subtracted as a known delay) and record 60 s.
STEADY_CASES = [
    (0.005, 120, "hold", {"photodiode_row": 0.05, "pose_jitter_s": 0.0001}),
    (0.005, 120, "low", {"photodiode_row": 0.2, "front_end_tau_s": 0.001, "duration_s": 60.0}),
    (0.0125, 90, "low", {"front_end_tau_s": 0.001, "duration_s": 60.0}),
    (0.020, 60, "hold", {}),
    (0.035, 72, "hold", {}),
    (0.050, 90, "hold", {"inverted": True}),
    (0.075, 120, "hold", {}),
    (0.100, 90, "hold", {"gamma": 1.0, "saturation": 0.5}),
]


@pytest.mark.parametrize(("latency", "refresh", "persistence", "extra"), STEADY_CASES)
def test_steady_latency_within_quarter_ms_at_1khz(latency, refresh, persistence, extra):
    sim = simulate(
        latency_s=latency,
        refresh_hz=refresh,
        persistence=persistence,
        rate_hz=1000.0,
        seed=int(latency * 1e4) + refresh,
        **{"duration_s": 30.0, **extra},
    )
    tau = extra.get("front_end_tau_s", 0.0)
    est = estimate_steady_latency(
        sim.log,
        flicker_hz=refresh if persistence == "low" else None,
        sensor_delay_s=tau,
    )
    assert abs(est.latency_s - sim.true_latency_s) < 0.25e-3, (est.latency_s, sim.true_latency_s)
    # the 95 % interval is honest: the truth is within twice its half-width
    half = 0.5 * (est.ci_high_s - est.ci_low_s)
    assert 0 < half < 1e-3
    assert abs(est.latency_s - sim.true_latency_s) <= 2 * half
    assert est.inverted == extra.get("inverted", False)
    assert est.peak_corr > 0.9
    # The curve is for plotting: its maximum is where the estimate is.
    assert abs(est.curve.lags_s[np.argmax(est.curve.corr)] - est.latency_s) <= 1e-3


def test_simulator_truth_definitions_agree_without_prediction():
    # Mean pose-to-light-centroid delay and the least-squares shift of the shown motion are two
    # definitions of the same number when nothing predicts.
    sim = simulate(latency_s=0.04, refresh_hz=90, duration_s=20, seed=3)
    assert abs(sim.true_latency_s - sim.true_steady_s) < 0.05e-3


def test_prediction_makes_steady_latency_lower_than_onset_latency():
    sim = simulate(
        latency_s=0.05,
        prediction_s=0.04,
        predictor_tau_s=0.05,
        refresh_hz=90,
        duration_s=40,
        seed=2,
        threshold=2.0,
        gradient_range=(-30.0, 30.0),
    )
    steady = estimate_steady_latency(sim.log, exclude_onsets_s=0.3, onset_threshold=2.0)
    onset = estimate_onset_latency(sim.log, threshold=2.0)
    # steady state: the least-squares delay of what the panel shows during continuous motion
    assert abs(steady.latency_s - sim.true_steady_s) < 1.0e-3
    assert steady.ci_low_s <= sim.true_steady_s <= steady.ci_high_s
    # onset: per event, matched to the simulator's onsets by time
    truth, est = [], []
    for ev in onset.events:
        j = int(np.argmin(np.abs(sim.onset_times_s - ev.motion_s)))
        if abs(sim.onset_times_s[j] - ev.motion_s) < 5e-3:
            truth.append(sim.onset_latencies_s[j])
            est.append(ev.latency_s)
    assert len(truth) >= 8
    # single events may be off by one frame (8-bit gradient steps); the median is not
    assert abs(np.median(est) - np.median(truth)) < 0.5 / 90
    # and the point of the exercise: prediction hides latency in steady state only
    assert np.median(truth) - sim.true_steady_s > 0.010
    assert onset.latency_s - steady.latency_s > 0.010
    assert sim.true_latency_s - steady.latency_s > 0.030


def test_flash_mode_per_event_latency():
    sim = simulate(
        latency_s=0.04, refresh_hz=90, duration_s=30, seed=0, threshold=1.0, mode="flash"
    )
    est = estimate_flash_latency(sim.log, threshold=1.0)
    errors = []
    for ev in est.events:
        j = int(np.argmin(np.abs(sim.onset_times_s - ev.motion_s)))
        assert abs(sim.onset_times_s[j] - ev.motion_s) < 5e-3
        errors.append(ev.latency_s - sim.onset_latencies_s[j])
    assert len(errors) >= 10
    # each event within 1.5 ms (1 kHz sampling of a frame-quantised flash), the median within 0.5
    assert np.max(np.abs(errors)) < 1.5e-3
    assert abs(np.median(errors)) < 0.5e-3
    d = est.to_dict()
    assert d["events"] == len(errors)
    assert d["latency_ms"] == pytest.approx(est.latency_s * 1e3)


def test_low_persistence_is_detected_and_its_interval_stays_honest():
    """A pulsed (low-persistence) panel needs no --flicker-hz: the pulses are detected, the
    zero-phase low-pass keeps their envelope, and the wider interval still covers the truth."""
    for seed in (0, 1):
        sim = simulate(latency_s=0.075, refresh_hz=120, persistence="low", duration_s=20, seed=seed)
        est = estimate_steady_latency(sim.log)
        assert est.display.persistence == "low"
        assert est.display.refresh_hz == pytest.approx(120.0, abs=0.2)
        assert est.display.refresh_source == "detected"
        assert est.ci_low_s <= sim.true_latency_s <= est.ci_high_s
        assert abs(est.latency_s - sim.true_latency_s) < 2e-3


# ---- bad logs: a clear error, never a confident wrong number ---------------------------------


def _good_log(n: int = 5000, rate: float = 1000.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sim = simulate(latency_s=0.03, duration_s=n / rate, rate_hz=rate, seed=9)
    return sim.log.t_ns.copy(), sim.log.motion.copy(), sim.log.light.copy()


def test_unsorted_timestamps_rejected():
    t, m, li = _good_log()
    t[100], t[101] = t[101], t[100]
    with pytest.raises(DataError, match="not sorted: row 101"):
        estimate_steady_latency(SensorLog(t, m, li))


def test_duplicate_timestamps_rejected():
    t, m, li = _good_log()
    t[200] = t[199]
    with pytest.raises(DataError, match="duplicate timestamps, first at row 200"):
        estimate_steady_latency(SensorLog(t, m, li))


def test_nan_rejected():
    t, m, li = _good_log()
    li[300] = np.nan
    with pytest.raises(DataError, match="non-finite light readings, first at row 300"):
        estimate_steady_latency(SensorLog(t, m, li))


def test_no_motion_rejected():
    t, m, li = _good_log()
    rng = np.random.default_rng(0)
    m = 12.0 + rng.normal(0, 0.01, m.size)
    with pytest.raises(DataError, match="motion does not vary"):
        estimate_steady_latency(SensorLog(t, m, li))


def test_constant_light_rejected():
    t, m, _ = _good_log()
    with pytest.raises(DataError, match="light signal is constant"):
        estimate_steady_latency(SensorLog(t, m, np.full(m.size, 812.0)))


def test_too_short_rejected():
    t, m, li = _good_log()
    with pytest.raises(DataError, match="too short: 40 samples"):
        estimate_steady_latency(SensorLog(t[:40], m[:40], li[:40]))
    with pytest.raises(DataError, match="too short for the searched delays"):
        estimate_steady_latency(SensorLog(t[:1050], m[:1050], li[:1050]))


def test_light_unrelated_to_motion_rejected():
    t, m, li = _good_log()
    other = simulate(latency_s=0.03, duration_s=5.0, seed=10).log.light  # another run's light
    with pytest.raises(DataError, match="does not follow motion"):
        estimate_steady_latency(SensorLog(t, m, other[: t.size]))
    rng = np.random.default_rng(1)
    # white noise: refused by the significance test (it may also fail the noise check)
    with pytest.raises(DataError, match=r"light signal is only noise|does not follow motion"):
        estimate_steady_latency(SensorLog(t, m, rng.permutation(li)))


def test_latency_beyond_search_range_rejected():
    sim = simulate(latency_s=0.3, duration_s=20, seed=4)
    with pytest.raises(DataError, match="edge of the searched range"):
        estimate_steady_latency(sim.log, max_latency_s=0.2)


def _sine_with_wander(amplitude: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(20000) * 1_000_000  # 20 s at 1 kHz
    ts = t * 1e-9
    rng = np.random.default_rng(0)
    sos = signal.butter(2, 1.0, fs=1000, output="sos")
    wander = signal.sosfiltfilt(sos, np.cumsum(rng.normal(0, 1, ts.size)))
    wander = (wander - wander.mean()) / wander.std()

    def motion(x: np.ndarray) -> np.ndarray:
        return 20 * np.sin(2 * np.pi * 0.5 * x) + amplitude * np.interp(x, ts, wander)

    return t, motion(ts), 1000 - motion(ts - 0.03)  # inverted: +-1 s is a second candidate


def test_periodic_motion_is_refused_and_polarity_ambiguity_needs_the_user():
    # a pure sine: a light shifted by whole periods would fit as well, told polarity or not
    t = np.arange(20000) * 1_000_000
    ts = t * 1e-9
    motion = 20 * np.sin(2 * np.pi * 0.5 * ts)
    light = 1000 - 20 * np.sin(2 * np.pi * 0.5 * (ts - 0.03))
    for polarity in ("auto", "negative"):
        with pytest.raises(DataError, match=r"motion is \(nearly\) periodic"):
            estimate_steady_latency(SensorLog(t, motion, light), polarity=polarity)
    # a sine with a little wander: the light follows the motion, but with delays up to 1.5 s
    # its polarity is ambiguous (inverted at 30 ms or upright half a period later)
    t, motion, light = _sine_with_wander(1.0)
    with pytest.raises(DataError, match="polarity is ambiguous"):
        estimate_steady_latency(SensorLog(t, motion, light), max_latency_s=1.5)
    # told the polarity, the log gives the right answer
    est = estimate_steady_latency(
        SensorLog(t, motion, light), max_latency_s=1.5, polarity="negative"
    )
    assert abs(est.latency_s - 0.03) < 0.1e-3
    # with more wander, the polarity is plain from the data
    t, motion, light = _sine_with_wander(6.0)
    est = estimate_steady_latency(SensorLog(t, motion, light), max_latency_s=1.5)
    assert est.inverted and abs(est.latency_s - 0.03) < 0.1e-3


def test_no_pauses_means_no_onset_estimate():
    sim = simulate(latency_s=0.03, duration_s=10, seed=5, pause_s=(0.0, 0.0))
    with pytest.raises(DataError, match="no movement onsets"):
        estimate_onset_latency(sim.log)


def test_csv_round_trip_and_bad_rows(tmp_path):
    from vrkit.measure.latency.sensorlog import load_csv, parse_csv_text, save_csv

    t, m, li = _good_log(2000)
    path = save_csv(SensorLog(t, m, li), tmp_path / "log.csv")
    back = load_csv(path)
    np.testing.assert_array_equal(back.t_ns, t)  # nanosecond times survive the text form
    np.testing.assert_allclose(back.motion, m, rtol=1e-8)
    np.testing.assert_array_equal(back.light, li)
    swapped = parse_csv_text("t_s,light,motion\n0.0,5,1\n0.001,6,2\n")
    np.testing.assert_array_equal(swapped.motion, [1.0, 2.0])
    with pytest.raises(DataError, match=r"row 2 is not three numbers t_s,motion,light: \['0.001'"):
        parse_csv_text("t_s,motion,light\n0.0,1,2\n0.001,x,3\n")
    with pytest.raises(DataError, match="no data rows"):
        parse_csv_text("t_s,motion,light\n")
    nan_log = parse_csv_text(
        "0.0,1,2\n0.001,nan,3\n" + "".join(f"{k / 1e3},{k},1\n" for k in range(2, 99))
    )
    with pytest.raises(DataError, match="non-finite motion readings, first at row 1"):
        estimate_steady_latency(nan_log)


def test_automatic_onset_threshold_lifts_the_light_out_of_its_noise():
    """Default rig (gamma 2.2, 12-bit photodiode, 0.2 % noise): the motion-only threshold moves
    the light by less than its noise; the automatic one is raised until onsets are measurable."""
    sim = simulate(duration_s=30, seed=0)
    onset = estimate_onset_latency(sim.log)
    assert onset.threshold > 1.0  # above the motion-only automatic level (~0.5 deg here)
    assert len(onset.events) >= 6
    # no prediction: every onset shows the plain delay, give or take one 90 Hz frame
    assert abs(onset.latency_s - sim.true_latency_s) < 1 / 90
