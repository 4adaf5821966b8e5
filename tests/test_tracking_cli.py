"""End to end through the CLI: synthetic recording -> `vrkit track run` -> poses -> `vrkit run`.

Also record/replay round trips and bad input (unreadable frames, a camera that stops, a rig
file with the wrong image size), each checked for a clear message and no crash.
"""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.tracking.camera import Rig
from vrkit.tracking.record import RecordingSource
from vrkit.tracking.scenarios import head_trajectory
from vrkit.tracking.sources import LiveCameraSource
from vrkit.tracking.target import Target
from vrkit.tracking.tracker import Tracker

FRAMES = 16
PERIOD = round(1e9 / 60)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rec(tmp_path_factory, _gl_session):
    """16 frames at 60 Hz, 4 cameras 640x480 (lens distortion, noise 1.5 grey levels, 4 ms motion
    blur), head moving along the known trajectory; camera 0 delivers nothing in frames 5-8."""
    out = tmp_path_factory.mktemp("track") / "rec"
    args = ["track", "synth", str(out), "--frames", str(FRAMES), "--drop", "0:5-8"]
    code = main([*args, "--blur-ms", "4", "--noise", "1.5"])
    assert code == 0
    _gl_session.make_current()
    return out


@pytest.fixture(scope="module")
def tracked(rec):
    """`vrkit track run` on the recording, written as CSV and as JSON."""
    for ext in ("csv", "json"):
        args = ["track", "run", "--rig", str(rec / "rig.json"), "--target"]
        args += [str(rec / "target.json"), "--source", str(rec), "--out", str(rec / f"p.{ext}")]
        assert main(args) == 0
    with (rec / "p.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows, json.loads((rec / "p.json").read_text())


def test_track_run_writes_poses_csv_and_json(tracked):
    rows, js = tracked
    assert len(rows) == FRAMES
    assert [r["status"] for r in rows] == ["tracking"] * FRAMES
    assert [r["cameras_active"] for r in rows[5:9]] == ["cam1 cam2 cam3"] * 4
    assert rows[4]["cameras_active"] == rows[9]["cameras_active"] == "cam0 cam1 cam2 cam3"
    s = js["summary"]
    assert (s["frames"], s["tracked"], s["lost"]) == (FRAMES, FRAMES, 0)
    assert s["rms_error_mm"] < 1.0 and s["rms_error_deg"] < 0.1  # per-frame solve vs truth
    assert any("camera cam0 dropped out at frame 5" in e and "continues on 3" in e
               for e in s["events"])  # fmt: skip
    assert any("camera cam0 is back at frame 9" in e for e in s["events"])
    for r, f in zip(rows, js["frames"], strict=True):
        assert int(r["t_ns"]) == f["t_ns"] == f["index"] * PERIOD
        keys = ("px", "py", "pz", "qw")
        np.testing.assert_allclose([float(r[k]) for k in keys], [f[k] for k in keys], atol=1e-12)
    # filtered poses follow the known trajectory
    p = np.array([[float(r[k]) for k in ("px", "py", "pz")] for r in rows])
    truth = np.array([head_trajectory(int(r["t_ns"]))[:3, 3] for r in rows])
    assert np.max(np.linalg.norm(p - truth, axis=1)) < 2e-3


def test_record_and_replay_round_trip(rec, tracked, tmp_path):
    """`vrkit track record` copies a source with its timestamps and dropouts; tracking the copy
    gives the same poses."""
    copy = tmp_path / "copy"
    assert main(["track", "record", "--source", f"rec:{rec}", "--out", str(copy)]) == 0
    a, b = RecordingSource(rec), RecordingSource(copy)
    assert len(a) == len(b) == FRAMES
    for fa, fb in zip(a, b, strict=True):
        assert (fa.index, fa.t_ns, fa.camera_t_ns) == (fb.index, fb.t_ns, fb.camera_t_ns)
        assert fa.errors == fb.errors
        for ia, ib in zip(fa.images, fb.images, strict=True):
            assert (ia is None and ib is None) or np.array_equal(ia, ib)
    assert b.frames[6]["files"][0] is None
    assert b.frames[6]["errors"][0] == "cam0: no frame (simulated)"
    out = tmp_path / "p.json"
    args = ["track", "run", "--rig", str(rec / "rig.json"), "--target", str(rec / "target.json")]
    assert main([*args, "--source", f"rec:{copy}", "--out", str(out)]) == 0
    again = json.loads(out.read_text())["frames"]
    _, js = tracked
    for f1, f2 in zip(js["frames"], again, strict=True):
        np.testing.assert_allclose([f1[k] for k in ("px", "py", "pz", "qx", "qy", "qz", "qw")],
                                   [f2[k] for k in ("px", "py", "pz", "qx", "qy", "qz", "qw")],
                                   atol=1e-9)  # fmt: skip


def test_vrkit_run_head_pose_from_tracker(rec, tracked, tmp_path):
    """`vrkit run --pose-source tracker:poses.csv` renders headless with the tracked head."""
    out = tmp_path / "run"
    args = [
        "run",
        str(ROOT / "examples" / "room.py"),
        "--backend",
        "headless",
        "--frames",
        "6",
        "--fps",
        "60",
    ]
    assert main([*args, "--out", str(out), "--pose-source", f"tracker:{rec / 'p.csv'}"]) == 0
    frames = json.loads((out / "run.json").read_text())["frames"]
    assert len(frames) == 6
    # the file's first pose is anchored at the first poll; frame k is displayed (k + 1)
    # periods after the backend's start, a few ms of setup later than that poll at most
    for k, f in enumerate(frames):
        pos = np.array(f["head_pose"]["position"])
        truth = head_trajectory((k + 1) * PERIOD)[:3, 3]
        assert np.linalg.norm(pos - truth) < 3e-3, (k, pos, truth)
    moved = np.linalg.norm(np.subtract(frames[-1]["head_pose"]["position"],
                                       frames[0]["head_pose"]["position"]))  # fmt: skip
    assert moved > 2e-3  # the head really moves along the recording (~0.08 m/s)


def test_unreadable_frame_drops_the_camera_for_that_frame(rec, tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(rec, copy)
    (copy / "cam2" / "000003.png").write_bytes(b"not a png")
    rig, target = Rig.load(copy / "rig.json"), Target.load(copy / "target.json")
    with RecordingSource(copy) as src, Tracker(rig, target) as tr:
        results = [tr.process(fs) for fs in src]
    assert [r.status for r in results] == ["tracking"] * FRAMES
    assert results[3].cameras_active == ["cam0", "cam1", "cam3"]
    ev = " | ".join(results[3].events)
    assert "camera cam2 dropped out at frame 3" in ev
    assert "000003.png is not a readable image" in ev
    assert any("camera cam2 is back at frame 4" in e for e in results[4].events)


def test_rig_with_wrong_image_size_is_a_clear_error(rec, tmp_path, capsys):
    data = json.loads((rec / "rig.json").read_text())
    data["cameras"][1]["image_size"] = [320, 240]
    bad = tmp_path / "rig320.json"
    bad.write_text(json.dumps(data))
    args = ["track", "run", "--rig", str(bad), "--target", str(rec / "target.json")]
    code = main([*args, "--source", str(rec), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 1
    assert "camera 'cam1' (frame 0): image is 640x480 but the rig file says 320x240" in err
    assert "Traceback" not in err


def test_bad_sources_are_clear_errors(tmp_path, capsys):
    for spec, msg in [
        (str(tmp_path), "expected rec:DIR, images:D0,D1.., video:A,B.. or live:0,1.."),
        (f"images:{tmp_path / 'nope'}", "does not exist"),
        ("bogus:1", "unknown source kind 'bogus'"),
    ]:
        args = ["track", "record", "--source", spec, "--out", str(tmp_path / "r")]
        assert main(args) == 1
        assert msg in capsys.readouterr().err


def test_live_camera_that_stops_is_reported(rec, tmp_path):
    """Capture threads on two 'cameras' (video files through cv2.VideoCapture, as for URLs);
    one stops after 3 frames while the other runs on for 150: the stopped camera's frames come
    back missing with the reason, the source ends when both have stopped, no crash."""
    import cv2

    paths = []
    for k, n in ((0, 3), (1, 150)):
        p = tmp_path / f"cam{k}.avi"
        w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 60.0, (640, 480), False)
        assert w.isOpened()
        for i in range(n):
            w.write(
                cv2.imread(str(rec / f"cam{k + 1}" / f"{i % FRAMES:06d}.png"), cv2.IMREAD_GRAYSCALE)
            )
        w.release()
        paths.append(str(p))
    with LiveCameraSource(paths, timeout_s=1.0) as src:
        sets = list(src)
    assert 2 <= len(sets) <= 150
    assert sets[0].images[1] is not None and sets[0].images[1].shape == (480, 640)
    stopped = [fs for fs in sets if fs.images[0] is None]
    assert stopped, [fs.errors for fs in sets]
    assert stopped[-1].errors[0] == "cam0: capture stopped"
    assert all(fs.camera_t_ns[1] is None or fs.camera_t_ns[1] > 0 for fs in sets)


def test_shipped_rig_target_and_board_examples_load():
    """The examples in calibration/ load and are the scenarios the synthetic tests use."""
    from vrkit.resources import data_dir
    from vrkit.tracking.scenarios import inside_out_rig, outside_in_rig
    from vrkit.tracking.target import headset_aruco, headset_leds, room_marker_map
    from vrkit.vision.board import Board

    cal = data_dir("calibration")
    for name, rig in (("outside-in", outside_in_rig()), ("inside-out", inside_out_rig())):
        loaded = Rig.load(cal / f"tracking-rig-{name}-4cam.json")
        assert loaded.mounting == rig.mounting
        for a, b in zip(loaded.cameras, rig.cameras, strict=True):
            np.testing.assert_allclose(a.K, b.K)
            np.testing.assert_allclose(a.dist, b.dist)
            np.testing.assert_allclose(a.T_rig_cam, b.T_rig_cam, atol=1e-12)
    for name, target in (("headset-aruco", headset_aruco()), ("headset-leds", headset_leds()),
                         ("room-map", room_marker_map())):  # fmt: skip
        loaded = Target.load(cal / f"tracking-target-{name}.json")
        assert (loaded.kind, loaded.frame) == (target.kind, target.frame)
        np.testing.assert_allclose(loaded.points(), target.points())
    board = Board.load(cal / "tracking-board-charuco-9x7.json")
    assert (board.kind, board.squares, board.square_size) == ("charuco", (9, 7), 0.035)
    assert Board.load(cal / "tracking-board-checkerboard-10x7.json").squares == (10, 7)


def test_live_tracker_pose_source_on_a_recording(rec, tmp_path):
    """`--pose-source tracker:live:CONFIG.json`: the tracker runs in a thread on a recording
    replayed at its recorded pace; pose_at(host time) answers with the filtered pose."""
    import time

    from vrkit.tracking.poses import tracker_pose_source

    cfg = tmp_path / "tracker.json"
    rel = {"rig": str(rec / "rig.json"), "target": str(rec / "target.json")}
    cfg.write_text(json.dumps({**rel, "source": f"rec:{rec}"}))
    t0 = time.monotonic()
    src = tracker_pose_source(f"live:{cfg}")
    try:
        while src.frames < FRAMES and src.error is None and time.monotonic() - t0 < 20:
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        assert src.error is None and src.frames == FRAMES
        assert elapsed >= (FRAMES - 1) * PERIOD * 1e-9  # replayed at the recorded pace
        t_last = (FRAMES - 1) * PERIOD
        pose = src.pose_at(src._offset_ns + t_last)
        assert np.linalg.norm(pose.position - head_trajectory(t_last)[:3, 3]) < 2e-3
        ahead = src.pose_at(src._offset_ns + t_last + 20_000_000)  # a display time 20 ms on
        assert np.linalg.norm(ahead.position - head_trajectory(t_last + 2e7)[:3, 3]) < 3e-3
    finally:
        src.close()
        src.close()


def test_calibrate_rig_cli_on_the_stereo_photos(tmp_path, capsys):
    """`vrkit track calibrate-rig` on OpenCV's stereo photos (one folder per camera)."""
    from vrkit.math import transforms as tf

    data = Path(__file__).parent / "data" / "tracking" / "opencv_stereo"
    out = tmp_path / "stereo-rig.json"
    args = [
        "track",
        "calibrate-rig",
        "--board",
        str(ROOT / "calibration" / "tracking-board-checkerboard-10x7.json"),
    ]
    args += ["--source", f"images:{data / 'left'},{data / 'right'}", "--names", "left,right"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "calibrated 2 cameras from 13 shared views (bundle)" in text
    assert "pair left-right: RMS 0.233 px" in text
    rig = Rig.load(out)
    assert [c.name for c in rig.cameras] == ["left", "right"]
    T_right_left = tf.invert_transform(rig.cameras[1].T_rig_cam) @ rig.cameras[0].T_rig_cam
    assert abs(np.linalg.norm(T_right_left[:3, 3]) - 0.0836) < 5e-4  # 83.6 mm baseline


def test_calibrate_rig_cli_refines_intrinsics_on_request(tmp_path, capsys):
    """`--refine-intrinsics` frees the lenses in the bundle adjustment: same rig, same baseline."""
    from vrkit.math import transforms as tf

    data = Path(__file__).parent / "data" / "tracking" / "opencv_stereo"
    out = tmp_path / "stereo-rig.json"
    board = str(ROOT / "calibration" / "tracking-board-checkerboard-10x7.json")
    args = ["track", "calibrate-rig", "--board", board, "--refine-intrinsics"]
    args += ["--source", f"images:{data / 'left'},{data / 'right'}", "--names", "left,right"]
    assert main([*args, "--out", str(out)]) == 0
    assert "calibrated 2 cameras from 13 shared views" in capsys.readouterr().out
    rig = Rig.load(out)
    T_right_left = tf.invert_transform(rig.cameras[1].T_rig_cam) @ rig.cameras[0].T_rig_cam
    assert abs(np.linalg.norm(T_right_left[:3, 3]) - 0.0836) < 1e-3


def test_malformed_rig_and_target_files_are_clear_errors(rec, tmp_path, capsys):
    data = json.loads((rec / "rig.json").read_text())
    del data["cameras"][2]["K"]
    rig = tmp_path / "rig.json"
    rig.write_text(json.dumps(data))
    target = tmp_path / "target.json"
    target.write_text(json.dumps({"schema": "vrkit.tracking.target/1", "name": "t",
                                  "kind": "led", "leds": [[0, 0, 0]] * 3,
                                  "normals": [[0, 0, 1]] * 3}))  # fmt: skip
    run = ["track", "run", "--source", str(rec), "--out", str(tmp_path / "p.csv")]
    assert main([*run, "--rig", str(rig), "--target", str(rec / "target.json")]) == 1
    assert "rig.json': $.cameras[2]: expected required field(s) ['K']" in capsys.readouterr().err
    assert main([*run, "--rig", str(rec / "rig.json"), "--target", str(target)]) == 1
    assert "$.leds: expected an array of >= 4 items, got 3 item(s)" in capsys.readouterr().err
