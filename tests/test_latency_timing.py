"""Pipeline timing: known timestamps in, exact durations and summaries out; a real headless run."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.timing import (
    DISPLAY_STAGES,
    REQUIRED_KEYS,
    STAGES,
    TIMING_KEYS,
    FrameTimingRecorder,
)


def _synthetic(n: int = 200) -> FrameTimingRecorder:
    """Frames at 90 Hz with known stage lengths: MTP 14.5 ms; frames 7 and 8 are 5 ms slower."""
    rec = FrameTimingRecorder()
    period = 11_111_111
    for k in range(n):
        pose = 1_000_000_000 + k * period
        extra = 5_000_000 if k in (7, 8) else 0  # two slow GPU frames
        t = {
            "pose_sample_ns": pose,
            "render_start_ns": pose + 2_000_000,
            "render_end_cpu_ns": pose + 3_000_000,
            "submit_ns": pose + 3_500_000,
            "gpu_done_ns": pose + 6_000_000 + extra,
            "predicted_display_ns": pose + 14_500_000 + extra,
        }
        rec.record(k, t)
    return rec


def test_stage_durations_and_summary_exact():
    rec = _synthetic()
    s = rec.summary()
    assert s["cpu_render"].median_ms == pytest.approx(1.0)
    assert s["pose_to_render"].max_ms == pytest.approx(2.0)
    assert s["gpu_render"].median_ms == pytest.approx(4.0)
    assert s["gpu_render"].max_ms == pytest.approx(9.0)
    mtp = s["motion_to_photon"]
    assert mtp.count == 200
    assert mtp.median_ms == pytest.approx(14.5)
    assert mtp.max_ms == pytest.approx(19.5)
    # two slow frames in 200: p99 interpolates at rank 197.01 of 0..199 (numpy 'linear')
    assert mtp.p95_ms == pytest.approx(14.5)
    assert mtp.p99_ms == pytest.approx(14.5 + 0.01 * 5.0)
    assert mtp.mean_ms == pytest.approx(14.5 + 2 * 5.0 / 200)
    assert rec.motion_to_photon_ms() == pytest.approx(14.5)
    assert all(v.negative == 0 for v in s.values())


def test_missing_keys_and_clock_mixups_are_reported():
    rec = FrameTimingRecorder()
    rec.record(0, {"pose_sample_ns": 100, "predicted_display_ns": 50})  # display before pose
    rec.record(1, {"render_start_ns": 10})
    s = rec.summary()
    assert s["motion_to_photon"].negative == 1
    assert s["motion_to_photon"].count == 1
    assert "cpu_render" not in s
    with pytest.raises(InputError, match=r"timing\['submit_ns'\] must be integer nanoseconds"):
        rec.record(2, {"submit_ns": 1.5e9})
    empty = FrameTimingRecorder()
    empty.record(0, {"render_start_ns": 1})
    with pytest.raises(DataError, match="no motion-to-photon estimate"):
        empty.motion_to_photon_ms()


def test_json_csv_and_plots_round_trip(tmp_path):
    rec = _synthetic(50)
    doc = json.loads(rec.save_json(tmp_path / "t.json").read_text())
    assert doc["latency_ms"] == pytest.approx(14.5)
    assert doc["latency_stage"] == "motion_to_photon"
    assert doc["summary"]["motion_to_photon"]["max_ms"] == pytest.approx(19.5)
    back = FrameTimingRecorder.from_frames(doc["frames"])
    np.testing.assert_array_equal(back.timestamps(), rec.timestamps())
    rows = list(csv.DictReader(rec.save_csv(tmp_path / "t.csv").open()))
    assert len(rows) == 50
    assert float(rows[7]["motion_to_photon_ms"]) == pytest.approx(19.5)
    assert int(rows[3]["pose_sample_ns"]) == 1_000_000_000 + 3 * 11_111_111
    paths = [*rec.save_plots(tmp_path / "plots" / "timing"), rec.plot(tmp_path / "both.png")]
    assert len(paths) == 3
    for p in paths:
        assert p.stat().st_size > 5000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_json_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        FrameTimingRecorder.from_run_json(tmp_path / "nope.json")
    (tmp_path / "run.json").write_text(json.dumps({"frames": []}))
    with pytest.raises(DataError, match="no per-frame records"):
        FrameTimingRecorder.from_run_json(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"frames": [{"index": 0, "timing": {}}]}))
    with pytest.raises(DataError, match="no frame carries any of the timing keys"):
        FrameTimingRecorder.from_run_json(tmp_path)


def test_virtual_display_clock_reports_pose_to_gpu_done_not_motion_to_photon():
    rec = FrameTimingRecorder.from_frames(_synthetic(20).to_dict()["frames"], "virtual")
    s = rec.summary()
    assert not DISPLAY_STAGES & set(s)
    assert rec.headline()[0] == "pose_to_gpu_done"
    assert rec.to_dict()["latency_ms"] == pytest.approx(6.0)
    with pytest.raises(DataError, match="display times are virtual"):
        rec.motion_to_photon_ms()


def test_headless_backend_run_json_has_every_stage(tmp_path):
    """A real EGL run through the lead's headless backend: every key stamped, stages ordered."""
    from vrkit.app import load_scene, run_scene
    from vrkit.backends.base import RunConfig
    from vrkit.backends.headless import HeadlessBackend

    backend = HeadlessBackend(RunConfig(frames=6, out_dir=tmp_path, eye_size=(64, 64)))
    with backend:
        run_scene(backend, load_scene("examples/latency_gradient.py"))
    rec = FrameTimingRecorder.from_run_json(tmp_path / "run.json")
    assert len(rec) == 6
    assert rec.display_clock == "virtual"
    ts = rec.timestamps()
    col = {k: ts[:, rec.keys.index(k)] for k in TIMING_KEYS}
    for k in REQUIRED_KEYS:
        assert np.all(col[k] > 0), k
    s = rec.summary()
    assert set(s) == set(STAGES) - DISPLAY_STAGES - {"submit_to_present"}
    for stage in s:
        assert s[stage].negative == 0, stage
    # GPU completion (fence) comes after the CPU finished issuing the frame
    assert np.all(col["gpu_done_ns"] >= col["render_end_cpu_ns"])
    # The default timewarp late-latches the pose before the distortion pass: that is the pose
    # the panel shows, so its age is the headline.
    assert np.all(col["warp_pose_sample_ns"] >= col["render_end_cpu_ns"])
    assert rec.to_dict()["latency_stage"] == "warp_pose_to_submit"
