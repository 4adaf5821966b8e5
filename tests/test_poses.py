"""Pose sources: predictor, mouse/keyboard, replay. Closed loop against known motions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vrkit.core.errors import DataError, InputError
from vrkit.core.types import Pose
from vrkit.math.transforms import (
    quat_from_axis_angle,
    quat_from_rotation_vector,
    quat_multiply,
    quat_rotate,
)
from vrkit.poses.factory import make_pose_source
from vrkit.poses.mouse import MouseKeyboardPose
from vrkit.poses.predict import PosePredictor, interpolate_pose
from vrkit.poses.replay import (
    PoseTrack,
    ReplayPoseSource,
    load_pose_file,
    replay_pose_source,
    save_pose_file,
)

MS = 1_000_000
OMEGA = np.array([0.4, -1.3, 0.25])  # rad/s, space frame
VEL = np.array([0.2, -0.05, -0.6])  # m/s
Q0 = quat_from_axis_angle([0.3, 1, 0.2], 0.7)
P0 = np.array([0.1, 1.6, -0.2])


def truth(t_ns):
    """Constant angular and linear velocity motion: the predictor's model, exactly."""
    t = t_ns * 1e-9
    return Pose(P0 + VEL * t, quat_multiply(quat_from_rotation_vector(OMEGA * t), Q0))


def assert_pose_close(a, b, pos_tol=1e-9, ang_tol=1e-9):
    np.testing.assert_allclose(a.position, b.position, atol=pos_tol)
    dot = abs(float(np.dot(a.orientation, b.orientation)))
    assert 2 * math.acos(min(1.0, dot)) <= ang_tol + 1e-7


# --- predictor --------------------------------------------------------------------------------
def test_predictor_extrapolates_constant_velocity_exactly():
    pred = PosePredictor()
    for t in range(0, 100 * MS, 10 * MS):  # 100 Hz tracker
        pred.add(t, truth(t))
    omega, v = pred.velocity()
    np.testing.assert_allclose(omega, OMEGA, atol=1e-9)
    np.testing.assert_allclose(v, VEL, atol=1e-9)
    for ahead in (5 * MS, 20 * MS, 50 * MS):
        when = 90 * MS + ahead
        assert_pose_close(pred.predict(when), truth(when))


def test_predictor_interpolates_inside_and_caps_the_horizon():
    pred = PosePredictor(max_horizon_ns=30 * MS)
    for t in range(0, 100 * MS, 10 * MS):
        pred.add(t, truth(t))
    # Between samples: slerp of a constant-rate rotation is exact.
    assert_pose_close(pred.predict(43 * MS), truth(43 * MS))
    assert_pose_close(pred.predict(-5 * MS), truth(0))  # before the first: the first
    assert_pose_close(pred.predict(90 * MS + 500 * MS), truth(90 * MS + 30 * MS))


def test_predictor_rejects_bad_input():
    pred = PosePredictor()
    with pytest.raises(ValueError, match="no pose samples yet"):
        pred.predict(0)
    pred.add(10, Pose())
    assert pred.predict(1000) == pred.newest.pose  # one sample: hold it
    with pytest.raises(ValueError, match="time order: 5 ns after 10"):
        pred.add(5, Pose())
    pred.add(10, Pose([1, 0, 0]))  # same time replaces
    assert len(pred) == 1 and pred.newest.pose.position[0] == 1
    with pytest.raises(ValueError, match="at least 2"):
        PosePredictor(history=1)


def test_interpolate_pose_endpoints_and_midpoint():
    a, b = truth(0), truth(100 * MS)
    assert_pose_close(interpolate_pose(a, b, 0.0), a)
    assert_pose_close(interpolate_pose(a, b, 1.0), b)
    assert_pose_close(interpolate_pose(a, b, 0.5), truth(50 * MS))


# --- mouse / keyboard ---------------------------------------------------------------------------
def test_keyboard_walks_and_predicts_to_display_time():
    m = MouseKeyboardPose(speed_m_s=1.5)
    m.poll(0)
    m.key("w", True, 100 * MS)
    m.poll(300 * MS)
    np.testing.assert_allclose(m.pose_at(300 * MS).position, [0, 1.6, -0.3], atol=1e-12)
    # Prediction to a display time 20 ms ahead continues the held motion exactly.
    np.testing.assert_allclose(m.pose_at(320 * MS).position, [0, 1.6, -0.33], atol=1e-12)
    m.key("w", False, 500 * MS)
    np.testing.assert_allclose(m.pose_at(900 * MS).position, [0, 1.6, -0.6], atol=1e-12)


def test_turning_right_then_walking_moves_along_plus_x():
    m = MouseKeyboardPose(rad_per_px=0.001)
    m.look(math.pi / 2 / 0.001, 0)  # drag right by a quarter turn
    pose = m.pose_at(0)
    forward = quat_rotate(pose.orientation, [0, 0, -1])
    np.testing.assert_allclose(forward, [1, 0, 0], atol=1e-12)
    m.poll(0)
    m.key("w", True, 0)
    m.key("shift", True, 0)
    m.key("e", True, 0)
    m.poll(1000 * MS)
    # Forward (+x) and up at 4 x 1.5 m/s along the normalised diagonal.
    d = 6.0 / math.sqrt(2)
    np.testing.assert_allclose(m.pose_at(1000 * MS).position, [d, 1.6 + d, 0], atol=1e-9)
    assert m.key("r", True, 1000 * MS)
    m.key("r", False, 1000 * MS)
    assert_pose_close(m.pose_at(1000 * MS), Pose([0, 1.6, 0]))
    assert not m.key("x", True, 1000 * MS)


def test_pitch_is_clamped_and_drag_down_looks_down():
    m = MouseKeyboardPose(rad_per_px=0.01)
    m.look(0, 30)
    fwd = quat_rotate(m.pose_at(0).orientation, [0, 0, -1])
    assert fwd[1] == pytest.approx(-math.sin(0.3))
    m.look(0, 1e6)
    assert m.pitch_rad == pytest.approx(-math.radians(89))


# --- replay -----------------------------------------------------------------------------------
def sampled_track(n=11, step=20 * MS):
    t = np.arange(n) * step
    poses = [truth(int(x)) for x in t]
    return PoseTrack(
        t + 5_000 * MS,  # recordings have their own time base
        np.array([p.position for p in poses]),
        np.array([p.orientation for p in poses]),
    )


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_replay_file_round_trip_and_slerp_between_samples(tmp_path, suffix):
    track = sampled_track()
    path = save_pose_file(tmp_path / f"head{suffix}", track)
    loaded = load_pose_file(path)
    np.testing.assert_array_equal(loaded.t_ns, track.t_ns)
    np.testing.assert_allclose(loaded.positions, track.positions, atol=1e-15)
    src = make_pose_source(f"replay:{path}")
    assert isinstance(src, ReplayPoseSource)
    start = 77 * MS
    src.poll(start)  # playback starts at the first poll
    for rel in (0, 10 * MS, 33 * MS, 199 * MS):
        assert_pose_close(src.pose_at(start + rel), truth(rel))
    assert_pose_close(src.pose_at(start + 10_000 * MS), truth(200 * MS))  # holds the end
    src.poll(start + 10_000 * MS)
    assert src.finished


def test_replay_loop_and_live_prediction():
    track = sampled_track()
    looped = ReplayPoseSource(track, loop=True, start_ns=0)
    period = track.duration_ns + 20 * MS
    assert_pose_close(looped.pose_at(period + 30 * MS), truth(30 * MS))
    live = ReplayPoseSource(track, live=True, start_ns=0)
    live.poll(95 * MS)  # samples at 0..80 ms are known; 100 ms is not yet
    assert len(live.predictor) == 5
    # Display time 30 ms after the newest sample: predicted from the samples, and exact for
    # this constant-velocity recording.
    assert_pose_close(live.pose_at(110 * MS), truth(110 * MS))


def test_replay_reads_csv_with_seconds_comments_and_extra_columns(tmp_path):
    path = tmp_path / "poses.csv"
    path.write_text(
        "# recorded by hand\nqw,qx,qy,qz,x,y,z,t_s,quality\n"
        "1,0,0,0,0,1.6,0,0.0,0.9\n"
        f"{math.cos(0.25)},0,{math.sin(0.25)},0,0,1.6,-1,0.5,0.8\n"
    )
    track = load_pose_file(path)
    np.testing.assert_array_equal(track.t_ns, [0, 500 * MS])
    src = ReplayPoseSource(track, start_ns=0)
    mid = src.pose_at(250 * MS)
    np.testing.assert_allclose(mid.position, [0, 1.6, -0.5])
    np.testing.assert_allclose(mid.orientation, quat_from_axis_angle([0, 1, 0], 0.25))


def test_replay_reads_a_headless_run_json(tmp_path):
    frames = [
        {"display_time_ns": 1000 + k * 16 * MS, "head_pose": truth(k * 16 * MS).to_dict()}
        for k in range(3)
    ]
    (tmp_path / "run.json").write_text(json.dumps({"backend": "headless", "frames": frames}))
    track = load_pose_file(tmp_path / "run.json")
    assert len(track) == 3 and track.t_ns[0] == 1000


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("a.csv", "t_ns,x,y,z,qx,qy,qz,qw\n0,0,0,0,0,0,0,1\n0,0,0,0,0,0,0,1\n", "sample 1 at 0"),
        ("b.csv", "t_ns,x,y,z\n0,0,0,0\n", r"lacks \['qx', 'qy', 'qz', 'qw'\]"),
        ("c.csv", "t_ns,x,y,z,qx,qy,qz,qw\n0,0,0,0,0,0,0,zero\n", "data row 1 is not numeric"),
        ("d.csv", "t_ns,x,y,z,qx,qy,qz,qw\n0,0,0,0,0,0,0,0\n", "sample 0 has a zero quaternion"),
        (
            "e.json",
            '{"samples": [{"t_ns": 0, "position": [0, 0]}]}',
            r"\$\.samples\[0\]: expected required field\(s\) \['orientation'\]",
        ),
        (
            "e2.json",
            '{"samples": [{"t_ns": 0, "position": [0, 0], "orientation": [0, 0, 0, 1]}]}',
            r"\$\.samples\[0\]\.position: expected an array of 3 items, got 2 item\(s\)",
        ),
        ("f.json", '{"samples": []}', r"\$\.samples: expected an array of >= 1 items, got 0 item"),
        ("g.json", "{not json", "is not valid JSON"),
    ],
)
def test_replay_bad_files_name_the_problem(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=match):
        load_pose_file(tmp_path / name)


def test_replay_spec_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        make_pose_source(f"replay:{tmp_path / 'missing.csv'}")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(InputError, match=r"must end in \.csv or \.json"):
        replay_pose_source(str(tmp_path / "x.txt"))
    with pytest.raises(InputError, match="replay needs a file"):
        make_pose_source("replay:")
    path = save_pose_file(tmp_path / "ok.csv", sampled_track())
    with pytest.raises(InputError, match=r"unknown replay option\(s\) \['fast'\]"):
        replay_pose_source(f"{path}?fast")
    src = replay_pose_source(f"{path}?loop&live")
    assert src.loop and src.live


@pytest.mark.parametrize("first_ns", [0, 123_456_789, 7_200_000_000_000])
def test_scripted_spec_starts_its_motion_at_the_first_frame_whatever_the_clock(first_ns):
    """``--pose-source scripted`` plays look_around from t = 0 at the first display time."""
    from vrkit.poses.base import look_around

    src = make_pose_source("scripted")
    src.poll(first_ns - 5 * MS)  # the pose sample comes before the display time: no effect
    for t_s in (0.0, 0.25, 1.5):
        got = src.pose_at(first_ns + round(t_s * 1e9))
        want = look_around(t_s)
        np.testing.assert_allclose(got.position, want.position, atol=1e-12)
        np.testing.assert_allclose(got.orientation, want.orientation, atol=1e-12)
    assert not np.allclose(look_around(0.25).orientation, look_around(0.0).orientation)
