"""``vrkit latency ...`` end to end: real files, real backends, JSON with ``latency_ms``."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from xvfb import xvfb  # noqa: F401  (fixture)

from vrkit.cli import main
from vrkit.measure.latency.timing import REQUIRED_KEYS, FrameTimingRecorder

HAS_VIDEO = importlib.util.find_spec("vrkit.measure.latency.video") is not None
PNG = b"\x89PNG\r\n\x1a\n"


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_simulate_then_analyze_recovers_the_latency(tmp_path, capsys):
    log = tmp_path / "log.csv"
    sim = _json(
        capsys,
        ["latency", "simulate", "--latency-ms", "27", "--out", str(log), "--duration", "20",
         "--refresh-hz", "72", "--seed", "3", "--json", "--plot", str(tmp_path / "sim.png")],
    )  # fmt: skip
    assert log.read_text().startswith("t_s,motion,light\n")
    assert sim["samples"] == 20000
    assert abs(sim["latency_ms"] - 27.0) < 0.5  # pose jitter moves the realised mean a little
    got = _json(
        capsys,
        ["latency", "analyze", str(log), "--json", "--plot", str(tmp_path / "an.png"),
         "--max-latency-ms", "200"],
    )  # fmt: skip
    assert abs(got["latency_ms"] - sim["latency_ms"]) < 0.25
    lo, hi = got["ci95_ms"]
    assert lo < got["latency_ms"] < hi
    for name in ("sim.png", "an.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_analyze_onset_and_flash_modes(tmp_path, capsys):
    log = tmp_path / "flash.csv"
    sim = _json(
        capsys,
        ["latency", "simulate", "--latency-ms", "40", "--out", str(log), "--duration", "20",
         "--mode", "flash", "--json"],
    )  # fmt: skip
    # the onset threshold must be the app's flash trigger (the simulator's default: 1 degree)
    got = _json(
        capsys, ["latency", "analyze", str(log), "--mode", "flash", "--threshold", "1", "--json"]
    )
    assert got["flash"]["events"] >= 5
    assert abs(got["latency_ms"] - sim["true_onset_ms"]) < 1.0


def test_analyze_bad_input_is_one_line_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,motion,light\n" + "".join(f"{i / 1000},{i % 7},5\n" for i in range(3000)))
    assert main(["latency", "analyze", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("vrkit latency: error: light signal is constant")
    assert main(["latency", "analyze", str(tmp_path / "missing.csv")]) == 1
    assert "does not exist" in capsys.readouterr().err
    # a real (empty) pyserial transport: times out instead of hanging
    assert main(["latency", "analyze", "--serial", "loop://", "--timeout", "0.2"]) == 1
    assert "no data from loop:// for 0.2 s" in capsys.readouterr().err


def test_pipeline_headless_writes_summary_csv_and_plots(tmp_path, capsys):
    out = tmp_path / "pipe"
    doc = _json(
        capsys,
        ["latency", "pipeline", "examples/latency_gradient.py", "--backend", "headless",
         "--frames", "8", "--out", str(out), "--json", "--plot", str(tmp_path / "p.png"),
         "--warp", "off"],
    )  # fmt: skip
    assert doc["backend"] == "headless" and doc["frames"] == 8
    assert doc["display_clock"] == "virtual" and doc["latency_stage"] == "pose_to_gpu_done"
    assert doc["latency_ms"] == pytest.approx(doc["summary"]["pose_to_gpu_done"]["median_ms"])
    assert doc["latency_ms"] > 0
    saved = json.loads((out / "timing.json").read_text())
    assert len(saved["frames"]) == 8
    assert (out / "timing.csv").read_text().count("\n") == 9
    for png in (out / "timing_hist.png", out / "timing_series.png", tmp_path / "p.png"):
        assert png.read_bytes()[:8] == PNG
    # a recorded run.json (here: the per-frame records just saved, marked headless) reads back
    (out / "run.json").write_text(json.dumps({"backend": "headless", "frames": saved["frames"]}))
    again = _json(capsys, ["latency", "pipeline", str(out), "--json"])
    assert again["latency_ms"] == pytest.approx(doc["latency_ms"])
    # and so does the timing.json written by --out, still on its virtual display clock
    third = _json(capsys, ["latency", "pipeline", str(out / "timing.json"), "--json"])
    assert third["latency_stage"] == "pose_to_gpu_done"
    assert third["latency_ms"] == pytest.approx(doc["latency_ms"])


def test_pipeline_on_the_simulator_window_backend(xvfb, tmp_path):  # noqa: F811
    """The windowed backend under Xvfb: host display clock, GPU fence stamp, present time."""
    from vrkit.app import load_scene
    from vrkit.backends.base import RunConfig
    from vrkit.backends.simulator import SimulatorBackend
    from vrkit.cli.latency import record_pipeline

    xvfb(640, 480)
    cfg = RunConfig(
        frames=12, fps=60.0, eye_size=(64, 64), extra={"overlay": False, "window_size": (320, 160)}
    )
    backend = SimulatorBackend(cfg)
    backend.open()
    try:
        rec, _ = record_pipeline(backend, load_scene("examples/latency_gradient.py"))
    finally:
        backend.close()
    assert isinstance(rec, FrameTimingRecorder) and len(rec) == 12
    assert rec.display_clock == "host"
    ts = rec.timestamps()
    col = {k: ts[:, rec.keys.index(k)] for k in rec.keys}
    for k in (*REQUIRED_KEYS, "present_ns"):
        assert np.all(col[k] > 0), k
    assert np.all(col["render_end_cpu_ns"] <= col["gpu_done_ns"])
    assert np.all(col["gpu_done_ns"] <= col["submit_ns"])
    assert np.all(col["submit_ns"] <= col["present_ns"])
    s = rec.summary()
    # A frame late for its predicted display (Xvfb) submits, and late-latches, after it.
    late = {"submit_to_display", "motion_to_photon_warped"}
    assert all(v.negative == 0 for k, v in s.items() if k not in late), s
    assert rec.headline()[0] == "motion_to_photon_warped"  # the default timewarp
    assert s["motion_to_photon"].min_ms > 0
    assert s["motion_to_photon_warped"].median_ms < s["motion_to_photon"].median_ms


@pytest.mark.skipif(not HAS_VIDEO, reason="vrkit.measure.latency.video is on feat/latency-video")
def test_video_simulate_then_analyze(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    _json(
        capsys,
        ["latency", "simulate", "--latency-ms", "33", "--out", str(clip), "--duration", "4",
         "--json"],
    )  # fmt: skip
    plot = tmp_path / "v.png"
    got = _json(capsys, ["latency", "video", str(clip), "--json", "--plot", str(plot)])
    assert abs(got["latency_ms"] - 33.0) < 1.0
    assert plot.read_bytes()[:8] == PNG


def test_analyze_reports_steady_state_and_onsets_side_by_side(tmp_path, capsys):
    from latency_gen import Rig, generate

    g = generate(
        Rig(seed=3, latency_s=0.06, refresh_hz=90.0, pauses=8, pause_s=0.6, duration_s=30.0,
            threshold=8.0, stop_s=0.0, persistence="low", aperture="box")
    )  # fmt: skip
    log = tmp_path / "rig.csv"
    log.write_text(g.csv_text())
    argv = ["latency", "analyze", str(log), "--mode", "both", "--threshold", "8",
            "--max-latency-ms", "200"]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    header, steady, onset = lines[:3]
    assert header.split() == ["latency", "95", "%", "interval", "based", "on"]
    assert steady.startswith("steady state") and "segments" in steady
    assert onset.startswith("onset (median)") and "onsets used" in onset
    assert any(ln.startswith("display 90.0 Hz (detected), low persistence") for ln in lines)
    assert any("photodiode delay 0 ms (assumed)" in ln for ln in lines)
    assert any(ln.startswith("light follows motion: rank correlation") for ln in lines)
    doc = _json(capsys, [*argv, "--json"])
    assert doc["display"]["persistence"] == "low" and doc["format"] == "vrkit"
    assert doc["steady"]["significance"]["p_value"] < 1e-6
    assert abs(doc["latency_ms"] - g.truth_s * 1e3) < 0.5
    assert doc["onset"]["events"] >= 3 and doc["onset"]["onsets"] >= doc["onset"]["events"]
    assert all(v >= 0 for v in doc["onset"]["event_latencies_ms"])


def test_analyze_reads_latency_test_logs(tmp_path, capsys):
    from latency_gen import Rig, generate

    g = generate(Rig(seed=8, latency_s=0.035, refresh_hz=72.0))
    path = tmp_path / "measurements.csv"
    path.write_text(g.latency_test_text())
    auto = _json(capsys, ["latency", "analyze", str(path), "--json", "--max-latency-ms", "200"])
    told = _json(
        capsys,
        ["latency", "analyze", str(path), "--json", "--max-latency-ms", "200",
         "--format", "latency-test", "--gyro-axis", "z"],
    )  # fmt: skip
    assert auto["format"] == told["format"] == "latency-test"
    assert auto["latency_ms"] == pytest.approx(told["latency_ms"], abs=1e-6)
    assert abs(auto["latency_ms"] - g.truth_s * 1e3) < 0.25
    assert any("integrated gyro axis z" in n for n in auto["notes"])
    # read as the wrong format: one line naming the row
    assert main(["latency", "analyze", str(path), "--format", "vrkit"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("vrkit latency: error: ") and "header ['us', 'drx'" in err
    assert "--format" in err
