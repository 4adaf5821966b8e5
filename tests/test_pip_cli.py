"""A pip-installed vrkit is complete, and every command fails cleanly (issue 14).

Shipped data found by name, the printable board target measured at its true size, parse-time
range checks naming the option, a closed stdout, native-library chatter, doctor's advice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vrkit.cli import main
from vrkit.resources import find_shipped, resolve_file, shipped_names

ROOT = Path(__file__).resolve().parents[1]
STEREO = Path(__file__).parent / "data" / "tracking" / "opencv_stereo"


def _vrkit(*argv: str, cwd: Path, stdout=subprocess.PIPE, env: dict | None = None):
    """Run ``python -m vrkit`` as a user would, from ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "vrkit", *argv],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


# ---------------------------------------------------------------- shipped data by name


def test_shipped_files_are_found_by_every_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a checkout: documented relative paths do not exist here
    board = ROOT / "calibration" / "tracking-board-checkerboard-10x7.json"
    for text in (
        "checkerboard-10x7",
        "tracking-board-checkerboard-10x7",
        "tracking-board-checkerboard-10x7.json",
        "calibration/tracking-board-checkerboard-10x7.json",
    ):
        assert find_shipped("board", text).resolve() == board.resolve()
    assert find_shipped("scene", "optics_pattern").name == "optics_pattern.py"
    assert find_shipped("scene", "examples/room.py").name == "room.py"
    assert find_shipped("rig", "outside-in-4cam").name == "tracking-rig-outside-in-4cam.json"
    # A missing file in another folder is never swapped for a shipped one.
    assert find_shipped("board", "elsewhere/checkerboard-10x7.json") is None
    assert resolve_file("board", "nope") == Path("nope")
    # A local file of a shipped name wins over the shipped one.
    (tmp_path / "room").write_text("local")
    assert resolve_file("scene", "room") == Path("room")


def test_data_list_names_every_kind(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for kind in ("scenes", "profiles", "boards", "rigs", "targets"):
        assert f"{kind} (" in out
    for name in ("room", "optics-pattern", "latency-gradient", "cardboard-v1", "charuco-9x7"):
        assert f"  {name}\n" in out
    assert main(["run", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == ["latency-gradient", "optics-pattern", "room"] == shipped_names("scene")


@pytest.mark.parametrize(
    ("argv", "name"),
    [(["room"], "room"), (["optics-pattern", "--profile", "oculus-dk1"], "optics_pattern")],
)
def test_shipped_scenes_run_by_name_from_any_folder(tmp_path, capsys, monkeypatch, argv, name):
    monkeypatch.chdir(tmp_path)
    common = ["--backend", "headless", "--frames", "1", "--eye-size", "32x32", "--json"]
    assert main(["run", *argv, *common]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["scene"] == name and summary["frames"] == 1
    assert "frame/s" not in err  # no progress bar when stderr is not a terminal
    assert (tmp_path / "out" / argv[0] / "run.json").is_file()


def test_unknown_names_are_one_line_with_the_shipped_ones(tmp_path, capsys):
    out = str(tmp_path / "r.json")
    argv = ["track", "calibrate-rig", "--board", "no-such-board", "--source", "images:a,b"]
    assert main([*argv, "--out", out]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("vrkit track: error: board 'no-such-board' is neither a board spec")
    assert "(charuco-9x7, checkerboard-10x7)" in err and "\n" not in err
    assert main(["run", "no-such-scene"]) == 1
    assert capsys.readouterr().err == (
        "vrkit run: error: scene 'no-such-scene' is neither a file nor a shipped scene; "
        "shipped scenes: latency-gradient, optics-pattern, room (`vrkit run --list`)\n"
    )
    run = ["track", "run", "--source", str(tmp_path), "--out", str(tmp_path / "p.csv")]
    assert main([*run, "--rig", "no-rig.json", "--target", "headset-leds"]) == 1
    assert capsys.readouterr().err == (
        "vrkit track: error: rig file 'no-rig.json' does not exist; give a file path, or a "
        "shipped rig: inside-out-4cam, outside-in-4cam\n"
    )
    assert not (tmp_path / "p.csv").exists()


def test_documented_board_path_works_outside_a_checkout(tmp_path, capsys, monkeypatch):
    """README's `--board calibration/tracking-board-...json`, run from an empty folder."""
    monkeypatch.chdir(tmp_path)
    argv = [
        "track",
        "calibrate-rig",
        "--board",
        "calibration/tracking-board-checkerboard-10x7.json",
    ]
    argv += ["--source", f"images:{STEREO / 'left'},{STEREO / 'right'}", "--names", "left,right"]
    assert main([*argv, "--out", "rig.json"]) == 0
    assert "pair left-right: RMS 0.233 px" in capsys.readouterr().out


def test_pip_user_help_points_at_nothing_repo_only(capsys):
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    text = capsys.readouterr().out
    assert "calibration/schema" not in text and "docs/" not in text


# ---------------------------------------------------------------- doctor


def test_doctor_advice_follows_the_distribution_and_the_install(tmp_path):
    from vrkit.cli.doctor import runtime_advice

    trixie = runtime_advice({"ID": "debian", "VERSION_ID": "13"}, None)
    assert "`sudo apt install monado-service`" in trixie and "SteamVR" in trixie
    assert "xr-sim" not in trixie
    noble = runtime_advice({"ID": "ubuntu", "VERSION_ID": "24.04"}, None)
    assert "`sudo apt install monado-service`" in noble
    jammy = runtime_advice({"ID": "ubuntu", "VERSION_ID": "22.04"}, None)
    assert "apt install" not in jammy and "build it from source" in jammy
    bookworm = runtime_advice({"ID": "debian", "VERSION_ID": "12"}, None)
    assert "apt install" not in bookworm
    checkout = runtime_advice({"ID": "debian", "VERSION_ID": "12"}, tmp_path)
    assert f"`{tmp_path / 'scripts' / 'xr-sim'} CMD`" in checkout


# ---------------------------------------------------------------- parse-time range checks


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["track", "record", "--source", "x", "--out", "y", "--frames", "-1"],
            "vrkit track record: error: argument --frames: expected an integer >= 1, got '-1'",
        ),
        (
            ["latency", "simulate", "--out", "x.csv", "--latency-ms", "-5"],
            "vrkit latency simulate: error: argument --latency-ms: expected a number >= 0, "
            "got '-5'",
        ),
        (
            ["latency", "simulate", "--out", "x.csv", "--latency-ms", "5", "--duration", "0"],
            "vrkit latency simulate: error: argument --duration: expected a number > 0, got '0'",
        ),
        (
            ["track", "synth", "out", "--cameras", "two"],
            "vrkit track synth: error: argument --cameras: expected an integer, got 'two'",
        ),
        (
            ["calibrate", "capture", "--source", "x", "--pattern", "p", "--out", "o",
             "--average", "0"],
            "vrkit calibrate capture: error: argument --average: expected an integer >= 1, "
            "got '0'",
        ),
        (
            ["calibrate", "board", "charuco-9x7", "--out", "b.png", "--dpi", "inf"],
            "vrkit calibrate board: error: argument --dpi: expected a finite number, got 'inf'",
        ),
    ],
)  # fmt: skip
def test_numeric_options_are_checked_while_parsing(argv, line, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    sub = " ".join(a for a in argv[:2] if not a.startswith("-"))
    assert capsys.readouterr().err == f"{line} (see `vrkit {sub} --help`)\n"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- stdout, native chatter


def test_a_closed_stdout_ends_quietly(tmp_path):
    """`vrkit fov --json | head -1`: the reader is gone before vrkit writes."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = _vrkit("fov", "--profile", "cardboard-v1", "--json", cwd=tmp_path, stdout=write)
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_native_libraries_print_nothing_ahead_of_the_error(tmp_path):
    """A broken video: FFmpeg's `moov atom not found` stays out; vrkit's line is all there is."""
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    env = {"OPENCV_LOG_LEVEL": "", "OPENCV_FFMPEG_LOGLEVEL": ""}
    env = {k: v for k, v in os.environ.items() if k not in env}
    proc = subprocess.run(
        [sys.executable, "-m", "vrkit", "latency", "video", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()  # FFmpeg's own `moov atom not found` would come first
    assert line.startswith(f"vrkit latency: error: cannot read {bad} as a video")
    assert "check that the file is a complete video" in line


def test_a_missing_camera_is_one_line_without_opencvs_warnings(tmp_path):
    """OpenCV's `[ WARN:0@...] cap_v4l ... can't open camera by index` stays out."""
    from vrkit.calibration.patterns import PanelGeometry, make_pattern_set
    from vrkit.optics.profile import load_profile

    panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
    make_pattern_set(panel, ("dots",), ("green",), spacing_px=60).save(tmp_path, images=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    proc = subprocess.run(
        [sys.executable, "-m", "vrkit", "calibrate", "capture", "--source", "camera:57",
         "--pattern", str(tmp_path), "--out", str(tmp_path / "caps")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("vrkit calibrate: error:") and "57" in line


def test_folder_capture_names_average_before_it_starts(tmp_path, capsys):
    from vrkit.calibration.patterns import PanelGeometry, make_pattern_set
    from vrkit.optics.profile import load_profile

    panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
    ps = make_pattern_set(panel, ("dots",), ("red", "green", "blue"), spacing_px=60)
    ps.save(tmp_path / "pattern", images=False)
    shots = tmp_path / "shots"
    shots.mkdir()
    for i in range(3):
        cv2.imwrite(str(shots / f"{i}.png"), np.zeros((8, 8, 3), np.uint8))
    out = tmp_path / "caps"
    argv = ["calibrate", "capture", "--pattern", str(tmp_path / "pattern"), "--out", str(out)]
    assert main([*argv, "--source", f"folder:{shots}"]) == 1
    assert capsys.readouterr().err == (
        "vrkit calibrate: error: folder shots holds 3 images, but 3 pattern frames at "
        "--average 8 need 24; pass --average 1 (1 when each image is one pattern frame)\n"
    )
    assert not out.exists()


# ---------------------------------------------------------------- printable board targets


def _pitch_px(image: np.ndarray, inner: tuple[int, int]) -> float:
    """Mean distance between neighbouring inner corners, found by OpenCV on its own."""
    found, corners = cv2.findChessboardCornersSB(image, inner, flags=cv2.CALIB_CB_ACCURACY)
    assert found
    grid = corners.reshape(inner[1], inner[0], 2)
    steps = np.concatenate(
        [
            np.linalg.norm(np.diff(grid, axis=1), axis=2).ravel(),
            np.linalg.norm(np.diff(grid, axis=0), axis=2).ravel(),
        ]
    )
    return float(steps.mean())


@pytest.mark.parametrize(
    ("dpi", "board"), [(150, "checkerboard-10x7"), (97, "checkerboard:6x4:0.031")]
)
def test_printed_squares_have_the_boards_size(tmp_path, capsys, dpi, board):
    from vrkit.vision.board import load_board

    b = load_board(board)
    out = tmp_path / "target.png"
    assert main(["calibrate", "board", board, "--out", str(out), "--dpi", str(dpi)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    im = Image.open(out)
    # PNG stores pixels per metre as an integer: 150 dpi reads back as 150.0124.
    assert im.info["dpi"] == pytest.approx((dpi, dpi), abs=0.02)
    # The page is the paper at that DPI (A4, either way round).
    assert sorted(im.size) == [round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)]
    want = b.square_size / 0.0254 * dpi
    assert _pitch_px(np.asarray(im.convert("L")), b.inner_corners) == pytest.approx(want, rel=0.01)


def test_pdf_target_is_the_papers_size(tmp_path):
    import re

    out = tmp_path / "target.pdf"
    assert main(["calibrate", "board", "charuco-9x7", "--out", str(out), "--paper", "a3"]) == 0
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", out.read_bytes())
    w, h = (float(v) / 72 * 25.4 for v in box.groups())
    assert (w, h) == (pytest.approx(420, abs=0.01), pytest.approx(297, abs=0.01))


def test_a_board_too_big_for_the_paper_is_refused(tmp_path, capsys):
    out = tmp_path / "target.pdf"
    assert main(["calibrate", "board", "charuco-9x7", "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        "vrkit calibrate: error: board charuco:9x7squares:0.035:0.026:DICT_4X4_50 is 315 x 245 "
        "mm and does not fit on a4 paper (210 x 297 mm, 10 mm margins, caption 12 mm); use "
        "--paper a3\n"
    )
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- benchmark goals


def _bench_runner():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_runner", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_goals_are_read_from_rows_and_notes():
    runner = _bench_runner()
    assert runner.goal({"name": "a", "value": 2.0, "ratio": 1.3, "note": "goal <= 1.25; x"}) == (
        "ratio", "<=", 1.25,
    )  # fmt: skip
    assert runner.goal({"name": "b", "value": 12, "ratio": 2, "note": "4 cams; goal <= 11 ms"}) == (
        "value", "<=", 11.0,
    )  # fmt: skip
    assert runner.goal({"name": "c", "value": 95, "goal": "value >= 90"}) == ("value", ">=", 90)
    assert runner.goal({"name": "d", "value": 1.0, "note": "no target"}) is None
    assert (
        runner.goal_met({"name": "a", "value": 2.0, "ratio": 1.3, "note": "goal <= 1.25"}) is False
    )
    assert runner.goal_met({"name": "c", "value": 95, "goal": "value >= 90"}) is True


def test_benchmark_check_fails_on_a_missed_goal(tmp_path, capsys, monkeypatch):
    runner = _bench_runner()
    bench = tmp_path / "bench_fake.py"
    bench.write_text(
        "def run(quick):\n"
        "    return [{'name': 'fast', 'value': 1.0, 'unit': 'ms', 'baseline': 1.0, 'ratio': 1.0,\n"
        "             'note': 'goal <= 1.10'},\n"
        "            {'name': 'slow', 'value': 3.0, 'unit': 'ms', 'baseline': 1.0, 'ratio': 3.0,\n"
        "             'note': 'goal <= 1.25'}]\n"
    )
    monkeypatch.setattr(runner, "discover", lambda names: [bench])
    assert runner.main([]) == 0  # marks, does not fail without --check
    out, err = capsys.readouterr()
    assert "met ratio <= 1.1" in out and "MISSED ratio <= 1.25" in out
    assert err == "1 figure(s) missed their goal: slow (ratio 3.000, goal <= 1.25)\n"
    assert runner.main(["--check"]) == 1
