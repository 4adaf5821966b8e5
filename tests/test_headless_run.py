"""The headless backend and `vrkit run`: files, timing, fallback, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vrkit.app import load_scene, run_scene
from vrkit.backends.base import RunConfig
from vrkit.backends.headless import HeadlessBackend
from vrkit.backends.registry import open_backend
from vrkit.cli import main
from vrkit.core.errors import InputError
from vrkit.core.types import Pose
from vrkit.math.projection import project_to_pixels
from vrkit.math.transforms import invert_transform, transform_points
from vrkit.poses.base import StaticPose

ROOT = Path(__file__).resolve().parents[1]
ROOM = ROOT / "examples" / "room.py"
PATTERN = ROOT / "examples" / "optics_pattern.py"


def run_headless(tmp_path, scene=ROOM, frames=3, **kw):
    config = RunConfig(frames=frames, out_dir=tmp_path, eye_size=(320, 360), **kw)
    backend = HeadlessBackend(config)
    backend.open()
    try:
        summary = run_scene(backend, load_scene(scene))
    finally:
        backend.close()
    return summary


def test_headless_writes_eye_and_panel_pngs_and_run_json(tmp_path):
    summary = run_headless(tmp_path, frames=3)
    assert summary["frames"] == 3
    for k in range(3):
        left = cv2.imread(str(tmp_path / f"frame_{k:05d}_left.png"))
        right = cv2.imread(str(tmp_path / f"frame_{k:05d}_right.png"))
        panel = cv2.imread(str(tmp_path / f"frame_{k:05d}_panel.png"))
        assert left.shape == right.shape == (360, 320, 3)
        assert panel.shape == (360, 640, 3)
        # The panel without a lens is the two eye images side by side.
        np.testing.assert_array_equal(panel[:, :320], left)
        np.testing.assert_array_equal(panel[:, 320:], right)
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["frames_rendered"] == 3 and len(doc["frames"]) == 3
    for rec in doc["frames"]:
        t = rec["timing"]
        assert t["pose_sample_ns"] <= t["render_start_ns"] <= t["render_end_cpu_ns"]
        assert t["render_end_cpu_ns"] <= t["submit_ns"] <= t["gpu_done_ns"]
    times = [r["display_time_ns"] for r in doc["frames"]]
    assert np.all(np.diff(times) == doc["period_ns"])


def test_scripted_head_motion_moves_the_view(tmp_path):
    run_headless(tmp_path, frames=20, fps=10.0)  # 2 s of the 4 s look-around sweep
    doc = json.loads((tmp_path / "run.json").read_text())
    yaws = [Pose.from_dict(r["head_pose"]).orientation[1] for r in doc["frames"]]
    assert max(yaws) - min(yaws) > 0.1
    first = cv2.imread(str(tmp_path / "frame_00000_left.png")).astype(int)
    later = cv2.imread(str(tmp_path / "frame_00005_left.png")).astype(int)
    assert np.abs(first - later).mean() > 2.0


def test_room_object_lands_where_projected_in_headless_output(tmp_path):
    """End to end through the CLI path: the red box centre projects onto red pixels."""
    run_headless(tmp_path, frames=1, pose_source=StaticPose(Pose([0, 1.6, 0])))
    doc = json.loads((tmp_path / "run.json").read_text())
    from vrkit.core.types import Fov
    from vrkit.math.stereo import eye_views

    fov = Fov(**doc["fov"][0])
    head = Pose.from_dict(doc["frames"][0]["head_pose"])
    for view, name in zip(eye_views(head, fov, fov, doc["ipd_m"]), ("left", "right"), strict=True):
        img = cv2.imread(str(tmp_path / f"frame_00000_{name}.png"))
        b, g, r = (img[..., i].astype(int) for i in range(3))
        red = (r > 100) & (r > 2 * g) & (r > 2 * b)
        p = transform_points(invert_transform(view.pose.matrix()), [[0.0, 1.6, -2.0]])
        u, v = project_to_pixels(p, fov, 320, 360)[0]
        assert red[int(v), int(u)], f"{name} eye: red box not at projected pixel {(u, v)}"


def test_video_is_written(tmp_path):
    run_headless(tmp_path, frames=4, video=True)
    cap = cv2.VideoCapture(str(tmp_path / "panel.mp4"))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 4


def test_auto_falls_back_to_headless_and_says_why(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "no-such-runtime.json"))
    caplog.set_level("INFO")
    backend = open_backend("auto", RunConfig(frames=1, eye_size=(64, 64)))
    backend.close()
    assert backend.name == "headless"
    assert "using backend headless" in caplog.text
    assert caplog.text.count("skipping backend") >= 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "no/such/scene.py"], "is neither a file nor a shipped scene"),
        (["run", str(ROOM), "--backend", "warp-drive"], "unknown backend 'warp-drive'"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(argv, needle, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert any(needle in line for line in err)
    assert not any("Traceback" in line for line in err)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--frames", "0"], "argument --frames: expected an integer >= 1, got '0'"),
        (["--frames", "-1"], "argument --frames: expected an integer >= 1, got '-1'"),
        (["--ipd", "2"], "argument --ipd: expected a number >= 0 and <= 0.2, got '2'"),
        (["--fps", "nan"], "argument --fps: expected a finite number, got 'nan'"),
    ],
)
def test_numeric_options_are_refused_while_parsing(argv, line, capsys, monkeypatch):
    """Before any backend is probed: the probe would fail the test."""
    import vrkit.backends.registry as registry

    monkeypatch.setattr(registry, "open_backend", lambda *a: pytest.fail("probed backends"))
    with pytest.raises(SystemExit) as exc:
        main(["run", "room", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == f"vrkit run: error: {line} (see `vrkit run --help`)\n"


def test_scene_that_raises_is_named_with_its_line(tmp_path, capsys):
    bad = tmp_path / "bad_scene.py"
    bad.write_text("def build_scene():\n    return 1 / 0\n")
    assert main(["run", str(bad), "--backend", "headless", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and "ZeroDivisionError" in err


def test_scene_without_build_scene_and_wrong_return(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    with pytest.raises(InputError, match="no build_scene"):
        load_scene(a)
    b = tmp_path / "b.py"
    b.write_text("def build_scene():\n    return 'room'\n")
    with pytest.raises(InputError, match="not a Scene"):
        load_scene(b)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; use a path under a file")
def test_unwritable_output_folder_nonroot(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    assert main(["run", str(ROOM), "--backend", "headless", "--out", str(ro / "x")]) == 1


def test_output_folder_that_cannot_exist(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", str(ROOM), "--backend", "headless", "--out", str(blocker / "out")]) == 1
    err = capsys.readouterr().err
    assert "cannot create output folder" in err and str(blocker / "out") in err


def test_cli_subprocess_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "vrkit", "run", str(tmp_path / "missing.py")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("vrkit run: error:")


def test_optics_pattern_scene_renders_its_rings_where_the_pattern_puts_them(tmp_path):
    """examples/optics_pattern.py: a wall 1 m ahead of the eyes (at 1.6 m) with pure red, green
    and blue rings 20, 30 and 40 degrees off the wall's axis, 0.7 degrees wide. In each eye
    image, every pure-red pixel must see the wall at 20 +- 0.6 degrees off axis (green 30, blue
    40; measured: within 0.42), and each ring must go all the way round. The angle of a pixel
    is worked out here from the recorded Fov and IPD with plain trigonometry (ray from the eye
    through the pixel, onto the wall plane)."""
    run_headless(tmp_path, scene=PATTERN, frames=1, pose_source=StaticPose(Pose([0, 1.6, 0])))
    doc = json.loads((tmp_path / "run.json").read_text())
    from vrkit.core.types import Fov

    for eye, name in ((0, "left"), (1, "right")):
        bgr = cv2.imread(str(tmp_path / f"frame_00000_{name}.png")).astype(int)
        rgb = bgr[..., ::-1]
        h, w = rgb.shape[:2]
        # The wall's axis lines are white, its background dark.
        assert rgb.max() == 255 and np.median(rgb) < 60
        tl, tr, tu, td = Fov(**doc["fov"][eye]).tangents()
        tx = tl + (np.arange(w) + 0.5) / w * (tr - tl)
        ty = tu - (np.arange(h) + 0.5) / h * (tu - td)
        eye_x = (-0.5 if eye == 0 else 0.5) * doc["ipd_m"]
        X, Y = np.meshgrid(eye_x + tx * 1.0, ty * 1.0)  # where each pixel's ray meets the wall
        off_axis = np.degrees(np.arctan(np.hypot(X, Y) / 1.0))
        azimuth = np.degrees(np.arctan2(Y, X))
        for channel, ring_deg in ((0, 20.0), (1, 30.0), (2, 40.0)):
            others = np.delete(rgb, channel, axis=2).max(axis=2)
            pure = (rgb[..., channel] > 120) & (others < rgb[..., channel] // 3)
            where = off_axis[pure]
            assert where.size > 100, f"{name} eye: no {'RGB'[channel]} ring"
            assert np.all(np.abs(where - ring_deg) < 0.6), (
                f"{name} eye: {'RGB'[channel]} pixels at {where.min():.2f} to {where.max():.2f} "
                f"deg off axis, expected {ring_deg} +- 0.6"
            )
            bins = np.unique((azimuth[pure] // 15).astype(int))
            assert bins.size == 24, f"{name} eye: {'RGB'[channel]} ring has gaps: {bins}"


def test_cli_run_headless_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(ROOM), "--backend", "headless", "--frames", "2", "--out", str(out),
                 "--eye-size", "64x72", "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 2 and summary["backend"] == "headless"
    assert cv2.imread(str(out / "frame_00001_panel.png")).shape == (72, 128, 3)


def _manual_run(out, start_ns, frames=3, step_ns=7_000_000):
    """A headless run of the room through the DK1 lens under a manual clock.

    After each frame the clock moves on by ``step_ns`` (the frame loop's own stamps then differ
    from frame to frame, as on a real clock); nothing else moves it.
    """
    from vrkit.core.clock import ManualClock
    from vrkit.optics.profile import load_profile
    from vrkit.poses.factory import make_pose_source

    clock = ManualClock(start_ns)
    config = RunConfig(
        frames=frames,
        out_dir=out,
        eye_size=(192, 200),
        profile=load_profile("oculus-dk1"),
        pose_source=make_pose_source("scripted"),
        clock=clock,
    )
    backend = HeadlessBackend(config)
    backend.open()
    try:
        run_scene(backend, load_scene(ROOM), on_frame=lambda _f: clock.advance(step_ns))
    finally:
        backend.close()
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_two_headless_runs_under_a_manual_clock_are_byte_identical(tmp_path):
    a = _manual_run(tmp_path / "a", start_ns=5_000_000_000)
    b = _manual_run(tmp_path / "b", start_ns=5_000_000_000)
    assert sorted(a) == sorted(b) and "run.json" in a and len(a) == 1 + 3 * 3
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs under the same manual clock"
    # The record is the manual clock's: the stamps are exact, and nothing read the host clock.
    doc = json.loads(a["run.json"])
    assert "ManualClock" in doc["clock"]
    for k, rec in enumerate(doc["frames"]):
        t = rec["timing"]
        assert t["pose_sample_ns"] == t["render_end_cpu_ns"] == 5_000_000_000 + k * 7_000_000
        assert rec["display_time_ns"] == 5_000_000_000 + (k + 1) * doc["period_ns"]
    # The comparison can fail: the head moves, so frames differ from each other ...
    assert a["frame_00000_left.png"] != a["frame_00002_left.png"]
    # ... a run that starts at another time keeps the pixels (time in a run is relative) but not
    # the record, and a run on the host clock records other times.
    c = _manual_run(tmp_path / "c", start_ns=9_000_000_000)
    assert all(c[n] == a[n] for n in a if n.endswith(".png"))
    assert c["run.json"] != a["run.json"]
    run_headless(tmp_path / "host", frames=1)
    host = json.loads((tmp_path / "host" / "run.json").read_text())
    assert "host CLOCK_MONOTONIC" in host["clock"]
    assert host["frames"][0]["timing"]["pose_sample_ns"] != 5_000_000_000


def test_frame_loop_leaves_no_gl_objects_behind(tmp_path):
    """The renderer's meshes, textures and programs go with it: after run_scene the backend's
    context owns exactly what the backend made at open (eye targets and compositor)."""
    backend = HeadlessBackend(RunConfig(frames=3, eye_size=(64, 64), out_dir=tmp_path))
    backend.open()
    try:
        at_open = {id(o) for o in backend.gl.owned()}
        run_scene(backend, load_scene(ROOM))
        left = [o for o in backend.gl.owned() if id(o) not in at_open]
        assert not left, [type(o).__name__ for o in left]
        assert backend.gl.live_objects == len(at_open) > 0
    finally:
        backend.close()
