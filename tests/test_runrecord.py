"""run.json's one writer (every backend's), the clocks it records, and the lost-display watch."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from vrkit.backends.runrecord import RunRecord, clock_name, prepare_out_dir
from vrkit.backends.windowed import _LostDisplayWatch
from vrkit.core.clock import ManualClock, MonotonicClock
from vrkit.core.errors import InputError
from vrkit.core.outputs import OutputError
from vrkit.core.types import Fov, FrameInfo, Pose
from vrkit.math.stereo import eye_views

#: The top-level keys of a headless run.json as written before the writer was shared
#: (vrkit 0.1.0 at 7cccef0, `vrkit run examples/room.py --backend headless`), plus
#: "canting_deg", which the profile's canting added (4e32dd2): frozen.
HEADLESS_KEYS = ["vrkit_version", "backend", "clock", "frames_rendered", "period_ns",
                 "panel_size", "eye_sizes", "viewports", "fov", "distorted", "ipd_m",
                 "canting_deg", "video", "frames"]  # fmt: skip
FRAME_KEYS = ["index", "display_time_ns", "warp", "pose_age_ns", "head_pose", "timing"]


def _frame(k: int) -> FrameInfo:
    head = Pose([0.0, 1.6, 0.1 * k])
    fov = Fov.from_degrees(-45, 45, 50, -50)
    frame = FrameInfo(k, 1_000 + k, 16, eye_views(head, fov, fov, 0.063), head)
    frame.timing.update(pose_sample_ns=900 + k, predicted_display_ns=1_000 + k)
    return frame


def test_document_layout_common_fields_header_then_frames(tmp_path):
    rec = RunRecord(tmp_path, "sim")
    for k in range(3):
        rec.add(_frame(k), submitted=k != 1)
    path = rec.write("what the times mean", frames_rendered=len(rec), period_ns=16)
    doc = json.loads(path.read_text())
    assert path == tmp_path / "run.json"
    assert list(doc) == ["vrkit_version", "backend", "clock", "frames_rendered", "period_ns",
                         "frames"]  # fmt: skip
    assert doc["backend"] == "sim" and doc["clock"] == "what the times mean"
    assert [list(f) for f in doc["frames"]] == [
        ["index", "display_time_ns", "submitted", "head_pose", "timing"]
    ] * 3
    assert [f["submitted"] for f in doc["frames"]] == [True, False, True]
    assert doc["frames"][2]["head_pose"]["position"] == pytest.approx([0.0, 1.6, 0.2])
    assert doc["frames"][2]["timing"] == {"pose_sample_ns": 902, "predicted_display_ns": 1002}
    # The frame's timing dict was copied: later stamps on the frame do not reach the record.
    assert json.loads(path.read_text()) == rec.document(
        "what the times mean", frames_rendered=3, period_ns=16
    )


def test_headless_run_json_keeps_its_layout(tmp_path):
    from vrkit.app import load_scene, run_scene
    from vrkit.backends.base import RunConfig
    from vrkit.backends.headless import HeadlessBackend

    backend = HeadlessBackend(RunConfig(frames=2, out_dir=tmp_path, eye_size=(32, 32)))
    backend.open()
    try:
        run_scene(backend, load_scene(Path(__file__).resolve().parents[1] / "examples/room.py"))
    finally:
        backend.close()
    doc = json.loads((tmp_path / "run.json").read_text())
    assert list(doc) == HEADLESS_KEYS
    assert all(list(f) == FRAME_KEYS for f in doc["frames"])
    assert doc["clock"] == (
        "display_time_ns is virtual (t0 + (k + 1) * period); timing values are host "
        "CLOCK_MONOTONIC ns"
    )


def test_a_failed_write_leaves_no_file_under_either_name(tmp_path):
    (tmp_path / "run.json").mkdir()  # the final name is taken by a folder: rename fails
    rec = RunRecord(tmp_path, "headless")
    rec.add(_frame(0))
    with pytest.raises(OutputError, match=r"writing .*run\.json failed.*1 frame records"):
        rec.write("c")
    # The frame records stay in the sidecar (a partial name), nothing else is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.json.frames.partial", "run.json"]
    assert (tmp_path / "run.json").is_dir()


def test_out_dir_that_is_a_file_is_refused_by_name(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=f"cannot create output folder {blocker / 'out'}"):
        prepare_out_dir(blocker / "out")


def test_clock_names_and_the_manual_clock():
    assert clock_name(MonotonicClock()) == "host CLOCK_MONOTONIC"
    clock = ManualClock(5)
    assert clock_name(clock) == "ManualClock"
    clock.sleep_ns(10)
    clock.sleep_ns(-3)  # nothing: a clock never goes back
    assert clock.now_ns() == 15
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.advance(-1)
    host = MonotonicClock()
    a = host.now_ns()
    host.sleep_ns(2_000_000)
    assert host.now_ns() - a >= 2_000_000


def test_lost_display_watch_gives_up_only_when_the_loop_does_not_end():
    gave_up = threading.Event()
    closed = threading.Event()
    watch = _LostDisplayWatch(lambda: True, closed, 0.05, gave_up.set, "test-watch")
    watch.start()
    watch.join(timeout=5)
    assert gave_up.is_set()
    # The loop ends (backend closed) within the grace period: no give-up.
    gave_up.clear()
    lost = threading.Event()
    watch = _LostDisplayWatch(lost.is_set, closed := threading.Event(), 2.0, gave_up.set, "w2")
    watch.start()
    lost.set()
    closed.set()
    watch.join(timeout=5)
    assert not watch.is_alive() and not gave_up.is_set()
