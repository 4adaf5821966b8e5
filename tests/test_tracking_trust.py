"""Tracking refuses what it cannot trust (issue 18): each case with the symptom it had.

The frames come from a small synthetic recording (``vrkit track synth``, 2 cameras 320x240,
kept in tests/fuzz/seeds/recording) so that no GL context is needed.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vrkit.core.errors import ProfileError
from vrkit.tracking.camera import Camera, Rig
from vrkit.tracking.frames import FrameSet
from vrkit.tracking.record import RecordingSource
from vrkit.tracking.target import Target
from vrkit.tracking.tracker import Tracker, TrackerConfig
from vrkit.vision.camera import CameraModel

REC = Path(__file__).resolve().parent / "fuzz" / "seeds" / "recording"
PERIOD = 16_666_667


def _frames(n: int) -> list[FrameSet]:
    """``n`` frame sets cycling through the recording's images, on a steady 60 Hz clock."""
    src = RecordingSource(REC)
    recorded = []
    while (fs := src.read()) is not None:
        recorded.append(fs)
    out = []
    for i in range(n):
        fs = recorded[i % len(recorded)]
        t = i * PERIOD
        out.append(FrameSet(i, t, list(fs.images), list(fs.errors), [t] * len(fs.images)))
    return out


def _track(frames: list[FrameSet], target: Target | None = None) -> list:
    rig = Rig.load(REC / "rig.json")
    target = target or Target.load(REC / "target.json")
    with Tracker(rig, target, TrackerConfig(threads=1, use_roi=False)) as tr:
        return [tr.process(fs) for fs in frames]


def test_clean_recording_tracks_every_frame() -> None:
    results = _track(_frames(6))
    assert [r.status for r in results] == ["tracking"] * 6
    assert all(not r.degraded for r in results)


def test_reversed_corner_order_is_reported_not_tracked(tmp_path: Path) -> None:
    """Was: exit 0, "6 tracked", 27.8 mm RMS error (a mirror-image pose)."""
    data = json.loads((REC / "target.json").read_text())
    data["markers"] = {k: v[::-1] for k, v in data["markers"].items()}
    (tmp_path / "target.json").write_text(json.dumps(data))
    results = _track(_frames(4), Target.load(tmp_path / "target.json"))
    assert [r.status for r in results] == ["lost"] * 4
    assert all(r.T_world_head is None for r in results)
    assert results[0].message.startswith(
        "the target's geometry contradicts the detections: 1 decoded marker(s) fit nowhere near "
        "the pose the other 4 give"
    )  # the planar front face alone fits a mirror-image pose; the side marker does not
    assert results[1].message.startswith(
        "the target's geometry contradicts the detections: RMS reprojection error 18.6 px"
    )
    assert results[0].events[0].startswith("not tracked: the target's geometry contradicts")
    assert not results[1].events  # reported once, not every frame


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["K"][0].__setitem__(0, 1e-9),
         "$.cameras[0].K[0][0]: expected a number >= 1 <= 1000000, got 1e-09"),
        (lambda c: c["T_rig_cam"][0].__setitem__(3, 1e12),
         "$.cameras[0].T_rig_cam[0][3]: expected a number >= -1000 <= 1000, got 1000000000000.0"),
    ],
)  # fmt: skip
def test_rig_with_impossible_camera_refused_at_load(edit, message: str, tmp_path: Path) -> None:
    """Was: accepted, quietly dropped after frame 0 while the events said it was used."""
    data = json.loads((REC / "rig.json").read_text())
    edit(data["cameras"][0])
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as exc:
        Rig.load(path)
    assert str(exc.value) == f"rig file {str(path)!r}: {message}"


def test_impossible_camera_refused_in_code_too() -> None:
    cam = Rig.load(REC / "rig.json").cameras[0]
    d = cam.intrinsics.to_dict()
    d["K"] = copy.deepcopy(d["K"])
    d["K"][0][0] = 1e-9
    with pytest.raises(ProfileError, match=r"focal lengths must be 1 to 1e\+06 pixels"):
        CameraModel.from_dict(d)
    T = np.eye(4)
    T[0, 3] = 1e12
    with pytest.raises(ProfileError, match=r"T_rig_cam translation is 1e\+12 m"):
        Camera("far", cam.intrinsics, T)


def test_camera_out_of_sync_is_excluded_and_counted_degraded() -> None:
    """Was: a camera skipping frames went out of sync with no warning, frames "tracked"."""
    frames = _frames(8)
    for fs in frames[4:]:  # camera 1 jumps two frames ahead from frame 4 on
        fs.camera_t_ns[1] = fs.t_ns + 2 * PERIOD
    results = _track(frames)
    assert [bool(r.degraded) for r in results] == [False] * 4 + [True] * 4
    assert results[4].degraded == [
        "camera 'cam1' frame 4: out of sync (+33.3 ms from the frame time)"
    ]
    assert results[4].events[0].endswith("; image left out of this frame")
    assert all(r.cameras_active == ["cam0"] for r in results[4:])
    assert all(r.status == "tracking" for r in results)


def test_timestamp_discontinuity_is_flagged_once() -> None:
    """A camera clock that jumps by 0.6 frame period: the step is flagged, then it is in step."""
    frames = _frames(6)
    for fs in frames[3:]:
        fs.camera_t_ns[0] = fs.t_ns + int(0.6 * PERIOD)
    results = _track(frames)
    assert [r.degraded for r in results] == [[], [], [], [
        "camera 'cam0' frame 3: out of sync (its time stepped 26.7 ms while the frame stepped "
        "16.7 ms)"
    ], [], []]  # fmt: skip


def test_frame_of_another_size_is_named_and_excluded() -> None:
    """Was: an image of another size after frame 0 was used or dropped silently."""
    frames = _frames(4)
    frames[2].images[1] = np.zeros((120, 160), np.uint8)
    results = _track(frames)
    assert results[2].degraded == [
        "camera 'cam1' (frame 2): image is 160x120 but the rig file says 320x240"
    ]
    assert results[2].cameras_active == ["cam0"]
    assert not results[3].degraded and results[3].cameras_active == ["cam0", "cam1"]


def test_track_run_summary_counts_degraded(tmp_path: Path) -> None:
    import shutil

    rec = tmp_path / "rec"
    shutil.copytree(REC, rec)
    index = json.loads((rec / "index.json").read_text())
    index["frames"][2]["camera_t_ns"][1] += 3 * PERIOD
    (rec / "index.json").write_text(json.dumps(index))
    out = tmp_path / "poses.json"
    r = subprocess.run(
        [sys.executable, "-m", "vrkit", "track", "run", "--rig", str(rec / "rig.json"),
         "--target", str(rec / "target.json"), "--source", f"rec:{rec}", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "3 frames: 2 tracked, 1 degraded, 0 lost" in r.stdout
    summary = json.loads(out.read_text())["summary"]
    assert (summary["tracked"], summary["degraded"], summary["lost"]) == (2, 1, 0)


def test_target_normal_without_direction_is_refused(tmp_path: Path) -> None:
    """Was: divided by zero, NaN normals (found by tests/fuzz)."""
    data = json.loads((REC.parents[2] / ".." / "calibration/tracking-target-headset-leds.json")
                      .resolve().read_text())  # fmt: skip
    data["normals"][2] = [0, 0, 0]
    path = tmp_path / "target.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as exc:
        Target.load(path)
    assert str(exc.value).endswith(
        "normal 2 is [0.0, 0.0, 0.0], which has no direction (a marker with coincident corners, "
        "or a zero LED normal)"
    )
