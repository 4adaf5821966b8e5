"""Fuzz every file format vrkit reads with a fixed-seed sample of mutated files (issue 18).

For each format a few hundred mutants of the shipped and test files (``tests/fuzz/mutate.py``)
go through the loader the commands use, in-process (subprocess start-up would cost seconds per
case). Each case must end in success or a :class:`~vrkit.core.errors.VrkitError` whose text is
one bounded line, never another exception, and must finish well inside 10 s (an interval timer
stops a case that does not). A profile that loads must also give what ``vrkit run`` needs
(the panel layout with its meshes, no GL) and a usable field of view; a small sample goes
through the real commands in a subprocess, ``vrkit run`` included.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from mutate import Mutator

from vrkit.core.errors import VrkitError

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent / "seeds"
#: Wall-clock limit of one case (the issue's "no run over 10 s").
CASE_LIMIT_S = 10.0
#: Longest error line accepted (a file name, a JSON path, a value cut short and a hint).
MAX_ERROR_CHARS = 1500
#: Smallest usable field of view per axis that an accepted profile may give (degrees).
MIN_FOV_DEG = 5.0

# A NaN made silently (numpy's "invalid value" warning) is a wrong number on its way: an error.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


class _CaseTimeoutError(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _CaseTimeoutError


def _render_check(profile: object) -> None:
    """What ``vrkit run`` computes from a profile before the first GL call, and the FOV."""
    from vrkit.optics.fov import eye_summary_deg
    from vrkit.render.distortion import layout_for_profile

    layout = layout_for_profile(profile, eye_size=(16, 16), resolution=(8, 8))
    for eye in (0, 1):
        s = eye_summary_deg(profile.eye_fov(eye))
        assert s["horizontal"] >= MIN_FOV_DEG and s["vertical"] >= MIN_FOV_DEG, s
        assert np.all(np.isfinite(layout.meshes[eye].vertices)), "mesh with NaN coordinates"
        w, h = profile.recommended_eye_size(eye)
        assert 16 <= w <= 4096 and 16 <= h <= 4096


def _load_profile(path: Path) -> None:
    from vrkit.optics.profile import load_profile

    _render_check(load_profile(path))


def _load_rig(path: Path) -> None:
    from vrkit.tracking.camera import Rig

    Rig.load(path)


def _load_target(path: Path) -> None:
    from vrkit.tracking.target import Target

    Target.load(path)


def _load_board(path: Path) -> None:
    from vrkit.vision.board import Board

    Board.load(path)


def _load_recording(path: Path) -> None:
    from vrkit.tracking.record import RecordingSource

    src = RecordingSource(path.parent)
    for _ in range(4):  # the first frames (each frame reads its images)
        if src.read() is None:
            break


def _load_tracker_poses(path: Path) -> None:
    from vrkit.tracking.poses import read_poses

    read_poses(path)


def _load_tracker_config(path: Path) -> None:
    from vrkit.tracking.poses import tracker_pose_source

    tracker_pose_source(f"tracker:live:{path}").close()


def _load_pose_file(path: Path) -> None:
    from vrkit.poses.replay import load_pose_file

    load_pose_file(path)


def _load_camera(path: Path) -> None:
    from vrkit.vision.camera import load_camera

    load_camera(path)


def _load_pattern(path: Path) -> None:
    from vrkit.calibration.patterns import PatternSet

    PatternSet.load(path)


def _load_captures(path: Path) -> None:
    from vrkit.calibration.capture import capture_files
    from vrkit.calibration.patterns import PatternSet

    capture_files(path.parent, PatternSet.load(SEEDS / "pattern.json"))


def _load_run(path: Path) -> None:
    from vrkit.measure.latency.timing import FrameTimingRecorder
    from vrkit.poses.replay import load_pose_file

    FrameTimingRecorder.from_run_json(path)
    load_pose_file(path)


def _load_interop(fmt: str) -> Callable[[Path], None]:
    def load(path: Path) -> None:
        from vrkit.interop.formats import import_profile

        _render_check(import_profile(str(path), fmt).profile)

    return load


def _load_hmdq(path: Path) -> None:
    from vrkit.interop.hmdq import load_hmdq

    load_hmdq(path)


def _load_detections(path: Path) -> None:
    from vrkit.interop.opencv_multiview import read_detection_file

    read_detection_file(path)


#: format -> (seed files relative to the repository, file name in the work folder, loader,
#: number of mutants). The work folder is a copy of tests/fuzz/seeds, so relative names
#: (a recording's images, a tracker config's rig) resolve.
FORMATS: dict[str, tuple[list[str], str, Callable[[Path], None], int]] = {
    "headset-profile": (
        [
            f"calibration/profiles/{n}.json"
            for n in ("cardboard-v1", "oculus-dk1", "wide-canted-5deg")
        ],
        "profile.json",
        _load_profile,
        300,
    ),
    "rig": (
        ["calibration/tracking-rig-outside-in-4cam.json", "tests/fuzz/seeds/recording/rig.json"],
        "rig.json",
        _load_rig,
        250,
    ),
    "target": (
        [
            "calibration/tracking-target-headset-aruco.json",
            "calibration/tracking-target-headset-leds.json",
            "calibration/tracking-target-room-map.json",
        ],
        "target.json",
        _load_target,
        250,
    ),
    "board": (
        [
            "calibration/tracking-board-charuco-9x7.json",
            "calibration/tracking-board-checkerboard-10x7.json",
        ],
        "board.json",
        _load_board,
        200,
    ),
    "recording": (
        ["tests/fuzz/seeds/recording/index.json"],
        "recording/index.json",
        _load_recording,
        200,
    ),
    "tracker-poses": (
        ["tests/fuzz/seeds/tracker-poses.json"],
        "tracker-poses.json",
        _load_tracker_poses,
        200,
    ),
    "tracker-config": (
        ["tests/fuzz/seeds/tracker-config.json"],
        "tracker-config.json",
        _load_tracker_config,
        100,
    ),
    "pose-file": (["tests/fuzz/seeds/pose-file.json"], "pose-file.json", _load_pose_file, 200),
    "camera": (
        ["tests/fuzz/seeds/camera.json", "tests/data/interop/opencv-3cams-one-line/cam_0.json"],
        "camera.json",
        _load_camera,
        250,
    ),
    "pattern": (["tests/fuzz/seeds/pattern.json"], "pattern.json", _load_pattern, 200),
    "captures": (
        ["tests/fuzz/seeds/captures/captures.json"],
        "captures/captures.json",
        _load_captures,
        150,
    ),
    "run": (["tests/fuzz/seeds/run.json"], "run.json", _load_run, 200),
    "north-star": (
        ["tests/data/interop/northstar/50cm-NorthStarCalibration.json"],
        "NorthStarCalibration.json",
        _load_interop("northstar"),
        40,
    ),
    "lighthouse": (
        ["tests/data/interop/lighthouse-synthetic-vive.json"],
        "lighthouse.json",
        _load_interop("lighthouse"),
        60,
    ),
    "osvr-display": (
        ["tests/data/interop/osvr/OSVR_HDK_1_3.json"],
        "osvr.json",
        _load_interop("osvr"),
        60,
    ),
    "hmdq": (
        ["tests/data/interop/hmdq/Index_Native_R144.v3.hmdq.json"],
        "index.hmdq.json",
        _load_hmdq,
        60,
    ),
    "opencv-detections": (
        ["tests/data/interop/opencv-3cams-one-line/cam_0.json"],
        "cam_0.json",
        _load_detections,
        100,
    ),
}


def _check_error(exc: VrkitError, desc: str) -> str | None:
    text = str(exc)
    if "\n" in text:
        return f"{desc}: error of {text.count(chr(10)) + 1} lines: {text[:300]!r}"
    if len(text) > MAX_ERROR_CHARS:
        return f"{desc}: error line of {len(text)} characters: {text[:300]!r}"
    return None


def _run_case(load: Callable[[Path], None], path: Path, desc: str) -> str | None:
    """None when the case ends well, else what went wrong."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_LIMIT_S)
    try:
        load(path)
    except _CaseTimeoutError:
        return f"{desc}: still running after {CASE_LIMIT_S} s"
    except VrkitError as exc:
        return _check_error(exc, desc)
    except AssertionError as exc:
        return f"{desc}: accepted, but what `run` needs from it is wrong: {exc}"
    except Exception as exc:
        return f"{desc}: internal error {type(exc).__name__}: {str(exc)[:300]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(SEEDS, d, dirs_exist_ok=True)
    return d


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_mutants_load_or_fail_in_one_line(fmt: str, workdir: Path) -> None:
    seeds, name, load, count = FORMATS[fmt]
    target = workdir / name
    texts = [(ROOT / s).read_text(encoding="utf-8") for s in seeds]
    for text in texts:  # the seeds themselves load
        target.write_text(text, encoding="utf-8")
        assert _run_case(load, target, "seed") is None
    mutator = Mutator(seed=18 + sum(map(ord, fmt)))
    failures = []
    for i in range(count):
        data, desc = mutator.mutate(texts[i % len(texts)])
        target.write_bytes(data)
        problem = _run_case(load, target, f"{fmt} mutant {i} ({desc})")
        if problem:
            failures.append(problem)
    target.write_text(texts[0], encoding="utf-8")
    assert not failures, f"{len(failures)} of {count} mutants:\n" + "\n".join(failures[:15])


# --------------------------------------------------------------------------------------------
# a sample through the real commands


def _vrkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "VRKIT_XR_SIM": "0"}
    return subprocess.run(
        [sys.executable, "-m", "vrkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )


def _assert_clean(r: subprocess.CompletedProcess, desc: str) -> None:
    err = r.stderr.strip().splitlines()
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, (desc, r.stderr[-600:])
    if r.returncode:
        assert r.returncode == 1 and err, (desc, r.returncode, r.stderr[-600:])
        assert len(err[-1]) <= MAX_ERROR_CHARS, (desc, len(err[-1]))


@pytest.mark.slow
def test_sample_through_the_commands(workdir: Path) -> None:
    """A few mutants per command; every profile `profile validate` accepts renders in `run`."""
    mutator = Mutator(seed=1818)
    profile = (ROOT / "calibration/profiles/cardboard-v1.json").read_text(encoding="utf-8")
    accepted = 0
    for i in range(8):
        path = workdir / f"sample-profile-{i}.json"
        data, desc = mutator.mutate(profile)
        path.write_bytes(data)
        r = _vrkit("profile", "validate", str(path), cwd=workdir)
        _assert_clean(r, desc)
        if r.returncode == 0 and accepted < 2:
            accepted += 1
            out = workdir / f"run-{i}"
            r = _vrkit(
                "run", str(ROOT / "examples/optics_pattern.py"), "--backend", "headless",
                "--frames", "1", "--eye-size", "16x16", "--profile", str(path), "--out", str(out),
                cwd=workdir,
            )  # fmt: skip
            assert r.returncode == 0, (desc, r.stderr[-600:])
    rig = (ROOT / "calibration/tracking-rig-outside-in-4cam.json").read_text(encoding="utf-8")
    for i in range(3):
        data, desc = mutator.mutate(rig)
        (workdir / "sample-rig.json").write_bytes(data)
        r = _vrkit(
            "track", "run", "--rig", "sample-rig.json", "--target", "recording/target.json",
            "--source", "rec:recording", "--out", f"sample-poses-{i}.json", cwd=workdir,
        )  # fmt: skip
        _assert_clean(r, desc)
