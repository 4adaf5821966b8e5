"""Closed-loop tests of latency from high-speed video against simulated videos of known delay.

Every simulated video carries the simulator's imperfections: a 60-120 Hz panel showing the
rendered marker in steps (full persistence, 1 ms pixel response, scan-out to the marker's row),
pose-time jitter, a camera exposure of one frame interval (motion blur on both markers),
signal-dependent sensor noise, lossy compression (mp4v or MJPG) and motion with pauses.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.sensorlog import SensorLog
from vrkit.measure.latency.simulate import simulate_video
from vrkit.measure.latency.video import analyze_video, estimate_position_delay

# (latency s, panel refresh Hz, seed, extra simulator options, extra analysis options)
CASES = [
    (0.008, 90, 1, {}, {}),
    (0.025, 90, 2, {}, {}),
    (0.050, 90, 3, {}, {}),
    (0.035, 60, 4, {}, {}),
    (0.0125, 72, 5, {"codec": "MJPG"}, {}),
    # A 120 Hz panel filmed at 240 fps can hide its steps (phase-locked at half the camera
    # rate), so which marker is rendered is given here.
    (0.020, 120, 6, {}, {"rendered": "right"}),
    # Low persistence: a 2 ms flash per frame, so the camera sees the rendered marker in only
    # about half of its frames.
    (0.030, 90, 7, {"persistence": "low"}, {}),
]


@pytest.mark.parametrize(("latency", "refresh", "seed", "sim", "opts"), CASES)
def test_video_latency_within_1ms_at_240fps(tmp_path, latency, refresh, seed, sim, opts):
    path = tmp_path / ("v.avi" if sim.get("codec") == "MJPG" else "v.mp4")
    simulate_video(path, latency_s=latency, refresh_hz=refresh, seed=seed, duration_s=4.0, **sim)
    seen: list[int] = []
    res = analyze_video(path, progress=seen.append, **opts)
    assert abs(res.latency_ms - latency * 1e3) < 1.0, (res.latency_ms, latency * 1e3)
    lo, hi = res.ci_ms
    assert lo <= res.latency_ms <= hi
    assert 0 < hi - lo < 6.0
    assert res.fps == pytest.approx(240.0)
    assert res.timestamps == "container"
    assert sum(seen) == res.frames == 960
    assert res.physical.found_fraction == 1.0
    assert res.rendered.found_fraction > (0.3 if sim.get("persistence") == "low" else 0.99)
    # rendered marker on the right, moving in steps; the physical marker moves smoothly
    assert res.rendered.roi[0] > res.physical.roi[0]
    assert res.rendered.stepwise > res.physical.stepwise
    assert res.steady.peak_corr > 0.95
    # the simulator mirrors the rendered motion
    assert res.steady.inverted
    # the curve is for plotting: its maximum is at the estimate
    c = res.curve
    assert abs(c.lags_s[np.argmax(c.corr)] * 1e3 - res.latency_ms) <= 1.1
    d = json.loads(json.dumps(res.to_dict()))
    assert d["latency_ms"] == pytest.approx(res.latency_ms)
    assert d["ci95_ms"] == pytest.approx([lo, hi])


@pytest.fixture(scope="module")
def video_25ms(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "v25.mp4"
    return simulate_video(path, latency_s=0.025, seed=11, duration_s=3.0)


class _Bar:
    """Stands in for a tqdm bar: only ``update(n)`` is used."""

    def __init__(self):
        self.n = 0

    def update(self, n):
        self.n += n


def test_given_rois_and_side_agree_with_automatic(video_25ms):
    bar = _Bar()
    auto = analyze_video(video_25ms, progress=bar)
    assert bar.n == 720
    given = analyze_video(video_25ms, rois=(auto.physical.roi, auto.rendered.roi))
    side = analyze_video(video_25ms, rendered="right")
    # frames that do not fit the memory budget are decoded a second time: same numbers
    redecoded = analyze_video(video_25ms, memory_mb=0.5)
    assert redecoded.latency_ms == pytest.approx(auto.latency_ms, abs=1e-9)
    assert given.roles == "given" and auto.roles == "staircase"
    assert given.latency_ms == pytest.approx(auto.latency_ms, abs=0.05)
    assert side.latency_ms == pytest.approx(auto.latency_ms, abs=1e-9)
    assert abs(auto.latency_ms - 25.0) < 1.0
    # The physical marker travels along the simulator's 25-degree slant.
    ax = auto.physical.axis
    assert abs(abs(np.degrees(np.arctan2(ax[1], ax[0]))) - 25.0) < 3.0


def test_slow_motion_file_needs_the_capture_rate(tmp_path):
    # Stored at a 30 fps playback rate, filmed at 240 fps: --fps gives the right number, the
    # container's rate a warning (the estimate in container time is 8x the truth).
    path = simulate_video(
        tmp_path / "slomo.mp4", latency_s=0.02, seed=3, duration_s=3.0, container_fps=30.0
    )
    good = analyze_video(path, fps=240.0)
    assert abs(good.latency_ms - 20.0) < 1.0
    assert good.timestamps == "fps" and not good.warnings
    raw = analyze_video(path, max_latency_s=1.0)
    assert raw.fps == pytest.approx(30.0)
    assert any("--fps" in w for w in raw.warnings)
    assert raw.to_dict()["warnings"] == raw.warnings


def test_garbage_and_missing_files(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(20000))
    with pytest.raises(DataError, match=r"junk\.mp4"):
        analyze_video(junk)
    with pytest.raises(InputError, match="not found"):
        analyze_video(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="fps must be a positive number, got -240"):
        analyze_video(junk, fps=-240)


def test_static_video_is_refused(tmp_path):
    path = simulate_video(tmp_path / "still.mp4", latency_s=0.02, duration_s=1.0, amplitude_px=0)
    with pytest.raises(DataError, match=r"no motion in .*still\.mp4"):
        analyze_video(path)


def test_missing_rendered_marker_is_refused(tmp_path):
    # The rendered marker never moves (the app is not following the tracker).
    path = simulate_video(
        tmp_path / "one.mp4", latency_s=0.02, duration_s=1.5, rendered_scale=0.0, seed=2
    )
    with pytest.raises(DataError, match=r"found 1 moving region in .*one\.mp4, need two"):
        analyze_video(path)


def test_roi_without_a_marker_is_refused(video_25ms):
    auto = analyze_video(video_25ms, rendered="right")
    empty = (0, 0, 20, 20)  # dark corner
    with pytest.raises(DataError, match=r"rendered marker not found in \d+ of 720 frames"):
        analyze_video(video_25ms, rois=(auto.physical.roi, empty))
    with pytest.raises(InputError, match=r"ROI \(300, 200, 50, 50\) does not fit"):
        analyze_video(video_25ms, rois=(auto.physical.roi, (300, 200, 50, 50)))


def test_too_short_video_is_refused(tmp_path):
    path = simulate_video(tmp_path / "short.mp4", latency_s=0.02, duration_s=0.2)
    with pytest.raises(DataError, match=r"short\.mp4 is too short: 48 frames, need at least 64"):
        analyze_video(path)


def test_swapped_rois_are_flagged(video_25ms):
    auto = analyze_video(video_25ms)
    swapped = analyze_video(
        video_25ms, rois=(auto.rendered.roi, auto.physical.roi), min_latency_s=-0.1
    )
    assert swapped.latency_ms == pytest.approx(-auto.latency_ms, abs=1.0)
    assert any("swapped" in w for w in swapped.warnings)
    assert not auto.warnings


def test_rolling_shutter_correction(tmp_path):
    # 8 ms readout, rendered marker 40 % of the frame lower than the physical one: it is seen
    # 3.2 ms later than its frame stamp.
    path = simulate_video(
        tmp_path / "rs.mp4",
        latency_s=0.02,
        seed=9,
        duration_s=3.0,
        rolling_shutter_s=0.008,
        rendered_row=0.9,
    )
    raw = analyze_video(path)
    fixed = analyze_video(path, rolling_shutter_s=0.008)
    assert abs(fixed.latency_ms - 20.0) < 1.0
    assert raw.latency_ms - 20.0 < -2.0  # uncorrected: 3.2 ms short
    assert fixed.shutter_correction_ms == pytest.approx(3.2, abs=0.3)
    assert fixed.ci_ms[0] < fixed.latency_ms < fixed.ci_ms[1]


def _walk(rng, n):
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.cumsum(rng.standard_normal(n)), 8)


def test_unrelated_markers_are_refused():
    rng = np.random.default_rng(4)
    t = np.arange(960) / 240.0
    log = SensorLog.from_seconds(t, _walk(rng, 960), _walk(rng, 960))
    with pytest.raises(DataError, match="rendered marker does not follow the physical marker"):
        estimate_position_delay(log)


def test_periodic_motion_is_refused():
    t = np.arange(960) / 240.0
    phys = np.sin(2 * np.pi * 2.0 * t)  # 2 Hz: the delay is only known modulo 500 ms
    log = SensorLog.from_seconds(t, phys, np.sin(2 * np.pi * 2.0 * (t - 0.02)))
    with pytest.raises(DataError, match=r"ambiguous|two peaks"):
        estimate_position_delay(log, max_latency_s=0.6, min_latency_s=-0.3)


def test_position_delay_recovers_a_shift_exactly_enough():
    rng = np.random.default_rng(5)
    fine = _walk(rng, 48000)  # 10 s at 4.8 kHz
    t = np.arange(0, 2400) / 240.0
    ft = np.arange(48000) / 4800.0
    phys = np.interp(t, ft, fine)
    rend = -2.0 * np.interp(t - 0.0173, ft, fine) + 5.0  # mirrored, scaled, offset
    est = estimate_position_delay(SensorLog.from_seconds(t, phys, rend), n_segments=8)
    assert abs(est.latency_s - 0.0173) < 0.2e-3
    assert est.inverted
    assert est.ci_low_s < est.latency_s < est.ci_high_s


def test_stages_run_one_by_one_give_the_same_result(video_25ms):
    from vrkit.measure.latency.video import (
        analyze_video,
        assign_roles,
        decode_video,
        estimate_latency,
        locate_markers,
        motion_signal,
        track_positions,
    )

    video = decode_video(
        video_25ms, fps=None, progress=None, marker_px=None, memory_mb=1024, motion=True
    )
    assert video.n == 720 and video.pts_ns.dtype == np.int64 and video.stamps == "container"
    assert video.t_s[1] == pytest.approx(1 / 240, abs=1e-9) and video.gaps == []
    regions = locate_markers(video, None)
    assert not regions.given and len(regions.rois) == 2
    positions = track_positions(video, regions, video.iter_frames())
    assert all(p.xy.shape == (720, 2) and p.mass.shape == (720,) for p in positions)
    tracks = tuple(motion_signal(video.path, "a marker", p) for p in positions)
    roles = assign_roles(video.path, tracks, regions, "auto")
    res = estimate_latency(
        video,
        roles,
        max_latency_s=0.25,
        min_latency_s=-0.05,
        upsample=4,
        n_segments=None,
        min_corr=0.5,
        rolling_shutter_s=0.0,
    )
    assert res.latency_ms == analyze_video(video_25ms).latency_ms
    assert roles.roles == "staircase" and res.rendered.roi[0] > res.physical.roi[0]
