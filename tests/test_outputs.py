"""Outputs (issues 14 and 18): atomic checked writes, preflight, folder reuse, names from files."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from vrkit.backends.runrecord import FRAMES_SIDECAR, RunRecord, prepare_out_dir
from vrkit.cli import main
from vrkit.core.errors import InputError
from vrkit.core.outputs import (
    OutputError,
    inside,
    open_atomic,
    preflight,
    safe_name,
    write_bytes,
    write_json,
)
from vrkit.core.types import Fov, FrameInfo, Pose
from vrkit.math.stereo import eye_views

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = "/proc/vrkit-forbidden"


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- atomic writes ------------------------------------------------------------------------------


def test_write_bytes_replaces_whole_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    assert json.loads(target.read_text()) == {"v": 1}
    write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2} and _names(tmp_path) == ["a.json"]
    # A PNG that is not whole is refused before the rename: the old file stays.
    png = tmp_path / "x.png"
    with pytest.raises(OutputError, match=rf"^writing {png} failed: not a complete PNG"):
        write_bytes(png, b"\x89PNG\r\n\x1a\n truncated")
    assert _names(tmp_path) == ["a.json"]
    with pytest.raises(OutputError, match="the file is empty after writing"):
        write_bytes(tmp_path / "empty.bin", b"")
    assert _names(tmp_path) == ["a.json"]


def test_open_atomic_error_in_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"), open_atomic(target) as fh:
        fh.write("half a row")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n" and _names(tmp_path) == ["t.csv"]


def test_enospc_is_one_line_naming_the_path_and_what_was_kept(tmp_path, monkeypatch):
    real_write = os.write

    def full(fd, data):  # the device fills after the first 10 bytes
        if len(data) > 10:
            real_write(fd, bytes(data[:10]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    path = tmp_path / "frame.png"
    with pytest.raises(OutputError) as err:
        write_bytes(path, b"x" * 100, kept="frames 0-4 are kept")
    assert str(err.value) == (
        f"writing {path} failed: no space left on the device; frames 0-4 are kept; free some "
        "space or choose another output"
    )
    assert _names(tmp_path) == []


# --- preflight --------------------------------------------------------------------------------


def test_preflight_refuses_by_name(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match=f"^--out {blocker} is a file, expected a folder"):
        preflight(blocker, folder=True)
    with pytest.raises(OutputError, match=f"^--plot {tmp_path} is a folder, expected a file"):
        preflight(tmp_path, option="--plot")
    with pytest.raises(OutputError, match=f"cannot create output folder {FORBIDDEN}"):
        preflight(FORBIDDEN, folder=True)
    with pytest.raises(OutputError, match=r"has only [0-9.]+ MB free \(at least 1000000000000\.00"):
        preflight(tmp_path / "new", folder=True, min_free_bytes=10**18)
    assert preflight(tmp_path / "new" / "deeper", folder=True) == tmp_path / "new" / "deeper"
    assert _names(tmp_path) == ["file"]  # nothing created, the probe is gone
    with pytest.raises(OutputError, match=f"^cannot create output folder {blocker / 'x'}: "
                       f"{blocker} is a file"):  # fmt: skip
        preflight(blocker / "x" / "y.json")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "examples/room.py", "--backend", "headless", "--out", FORBIDDEN],
        ["latency", "simulate", "--latency-ms", "20", "--out", f"{FORBIDDEN}/log.csv"],
        ["fov", "--profile", "generic-1440x1600", "--plot", f"{FORBIDDEN}/fov.png"],
        [
            "profile",
            "export",
            "generic-1440x1600",
            "--format",
            "openhmd",
            "--out",
            f"{FORBIDDEN}/x.json",
        ],
        ["track", "synth", FORBIDDEN, "--frames", "1"],
        ["track", "record", "--source", "nowhere", "--out", FORBIDDEN],
        ["calibrate", "pattern", "--profile", "generic-1440x1600", "--out", FORBIDDEN],
        # These would first spend seconds on a fit or a capture: refused before reading inputs.
        [
            "calibrate",
            "lens",
            "--pattern",
            "none",
            "--captures",
            "none",
            "--camera",
            "none",
            "--out",
            f"{FORBIDDEN}/p.json",
        ],
        [
            "calibrate",
            "capture",
            "--pattern",
            "none",
            "--source",
            "folder:none",
            "--out",
            FORBIDDEN,
        ],
        [
            "calibrate",
            "camera",
            "--board",
            "none",
            "--images",
            "none",
            "--out",
            f"{FORBIDDEN}/cam.json",
        ],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_unwritable_output_is_one_line_before_any_work(argv, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert FORBIDDEN in err[0] and "internal error" not in err[0], err[0]
    assert err[0].startswith(f"vrkit {argv[0]}: error: "), err[0]


# --- output folder reuse ----------------------------------------------------------------------


def _frame(k: int) -> FrameInfo:
    head = Pose([0.0, 1.6, 0.1 * k])
    fov = Fov.from_degrees(-45, 45, 50, -50)
    return FrameInfo(k, 1_000 + k, 16, eye_views(head, fov, fov, 0.063), head)


def test_run_record_streams_and_writes_the_text_json_dumps_would(tmp_path):
    rec = RunRecord(tmp_path, "headless")
    for k in range(5):
        rec.add(_frame(k), submitted=k % 2 == 0)
    sidecar = tmp_path / FRAMES_SIDECAR
    assert len(sidecar.read_text().splitlines()) == 5  # on disk as they come, not in memory
    expected = json.dumps(rec.document("c", frames_rendered=5), indent=1)
    rec.write("c", frames_rendered=5)
    assert (tmp_path / "run.json").read_text() == expected
    assert not sidecar.exists()
    # limit: only the frames whose images reached the disk.
    rec2 = RunRecord(tmp_path / "b", "headless")
    (tmp_path / "b").mkdir()
    for k in range(4):
        rec2.add(_frame(k))
    doc = json.loads(rec2.write("c", limit=2, frames_rendered=2).read_text())
    assert [f["index"] for f in doc["frames"]] == [0, 1]
    empty = RunRecord(tmp_path / "c", "headless")
    (tmp_path / "c").mkdir()
    assert json.loads(empty.write("c").read_text())["frames"] == []


def test_folder_with_a_run_is_refused_and_overwrite_clears_only_its_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for k in range(120):
        for eye in ("left", "right", "panel"):
            (out / f"frame_{k:05d}_{eye}.png").write_bytes(b"png")
    (out / "run.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    (out / ".frame_00003_left.png.999.partial").write_bytes(b"")
    with pytest.raises(OutputError) as err:
        prepare_out_dir(out)
    assert str(err.value) == (
        f"output folder {out} already holds a vrkit run (run.json); pass --overwrite to replace "
        "it, or choose another --out"
    )
    prepare_out_dir(out, overwrite=True)
    assert _names(out) == ["notes.txt"]
    # A run that was killed left only its frame sidecar: still a run.
    (out / FRAMES_SIDECAR).write_text("{}\n")
    with pytest.raises(OutputError, match="already holds a vrkit run"):
        prepare_out_dir(out)


def test_a_short_run_into_a_long_runs_folder(tmp_path, capsys):
    out = tmp_path / "out"
    common = ["run", str(ROOT / "examples/latency_gradient.py"), "--backend", "headless",
              "--eye-size", "16x16", "--msaa", "0", "--out", str(out)]  # fmt: skip
    assert main([*common, "--frames", "120"]) == 0
    assert len(list(out.glob("frame_*_panel.png"))) == 120
    capsys.readouterr()
    assert main([*common, "--frames", "10"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"vrkit run: error: output folder {out} already holds a vrkit run (run.json); pass "
        "--overwrite to replace it, or choose another --out"
    ]
    assert len(list(out.glob("frame_*_panel.png"))) == 120  # untouched
    assert main([*common, "--frames", "10", "--overwrite"]) == 0
    doc = json.loads((out / "run.json").read_text())
    assert doc["frames_rendered"] == 10 and len(doc["frames"]) == 10
    pngs = sorted(p.name for p in out.glob("frame_*.png"))
    assert pngs == sorted(f"frame_{k:05d}_{e}.png" for k in range(10)
                          for e in ("left", "right", "panel"))  # fmt: skip
    assert _names(out) == sorted([*pngs, "run.json"])


def test_recording_folder_reuse(tmp_path):
    from vrkit.tracking.frames import FrameSet
    from vrkit.tracking.record import Recorder

    img = np.zeros((8, 8), np.uint8)
    with Recorder(tmp_path, ["c0", "c1"]) as rec:
        for i in range(3):
            rec.write(FrameSet(i, i, [img, img], [None, None]))
    with pytest.raises(OutputError, match=r"already holds a vrkit run \(index\.json\)"):
        Recorder(tmp_path, ["c0", "c1"])
    with Recorder(tmp_path, ["c0", "c1"], overwrite=True) as rec:
        rec.write(FrameSet(0, 0, [img, img], [None, None]))
    assert _names(tmp_path / "c0") == ["000000.png"]


# --- names and paths that come from input files -----------------------------------------------


@pytest.mark.parametrize(
    "bad", ["../../pwned", "/etc/passwd", "a/b", "a\\b", "..", ".", "", "x\x00y", "~root", 7]
)
def test_safe_name_refuses_what_could_leave_the_folder(bad):
    with pytest.raises(InputError, match=r"^camera name"):
        safe_name(bad, "camera name")


def test_safe_name_keeps_ordinary_names():
    for ok in ("cam0", "left-eye_1", "frame.red", "Kamera Ä"):
        assert safe_name(ok, "name") == ok


def test_inside_refuses_absolute_and_dotdot_unless_allowed(tmp_path):
    (tmp_path / "rec").mkdir()
    assert inside(tmp_path / "rec", "c0/000.png", "file") == tmp_path / "rec/c0/000.png"
    for bad in ("/etc/passwd", "../outside.png", "c0/../../outside.png"):
        with pytest.raises(InputError, match=r"is outside .*pass --allow-outside"):
            inside(tmp_path / "rec", bad, "file")
        assert inside(tmp_path / "rec", bad, "file", allow_outside=True)
    (tmp_path / "rec" / "link").symlink_to(tmp_path)
    with pytest.raises(InputError, match="is outside"):
        inside(tmp_path / "rec", "link/x.png", "file")


def test_pattern_frame_name_cannot_escape_the_output(tmp_path, capsys, monkeypatch):
    from vrkit.calibration.patterns import PanelGeometry, PatternSet, make_pattern_set
    from vrkit.optics.profile import load_profile

    monkeypatch.chdir(tmp_path)
    panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
    ps = make_pattern_set(panel, ("dots",), ("green",), 200.0)
    doc = ps.to_dict()
    doc["frames"][0]["name"] = "../../pwned_capture"
    (tmp_path / "pat").mkdir()
    (tmp_path / "pat" / "pattern.json").write_text(json.dumps(doc))
    with pytest.raises(
        InputError, match=r"\$\.frames\[0\]\.name: .* got '\.\./\.\./pwned_capture'"
    ):
        PatternSet.load(tmp_path / "pat")
    out = tmp_path / "a" / "b" / "cap"
    argv = ["calibrate", "capture", "--pattern", str(tmp_path / "pat"), "--source",
            f"folder:{tmp_path}", "--out", str(out)]  # fmt: skip
    assert main(argv) == 1
    assert "got '../../pwned_capture'" in capsys.readouterr().err
    assert not list(tmp_path.rglob("pwned_capture*"))
    assert not list(tmp_path.parent.glob("pwned_capture*"))


def test_captures_json_cannot_name_files_outside(tmp_path):
    from vrkit.calibration.capture import capture_files, write_captures_json
    from vrkit.calibration.patterns import PanelGeometry, make_pattern_set
    from vrkit.optics.profile import load_profile

    panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
    ps = make_pattern_set(panel, ("dots",), ("green",), 200.0)
    name = ps.frames[0].name
    (tmp_path / "secret.png").write_bytes(b"x")
    cap = tmp_path / "cap"
    cap.mkdir()
    write_captures_json(cap, {name: "../secret.png"})
    with pytest.raises(InputError, match=r"capture of frame .* '\.\./secret\.png' is outside"):
        capture_files(cap, ps)
    assert capture_files(cap, ps, allow_outside=True)[name] == cap / "../secret.png"


def test_recording_camera_name_and_files_cannot_escape(tmp_path, capsys):
    from vrkit.tracking.record import Recorder, RecordingSource

    with pytest.raises(InputError, match=r"camera name '\.\./\.\./pwned_record' cannot be"):
        Recorder(tmp_path / "rec", ["c0", "../../pwned_record"])
    assert not list(tmp_path.parent.glob("pwned_record*"))
    # A recording whose index names files outside it: refused unless --allow-outside.
    rec = tmp_path / "rec2"
    rec.mkdir()
    (tmp_path / "elsewhere.png").write_bytes(b"x")
    index = {"schema": "vrkit.tracking.recording/1", "cameras": ["c0"],
             "frames": [{"index": 0, "t_ns": 0, "files": [str(tmp_path / "elsewhere.png")]},
                        {"index": 1, "t_ns": 1, "files": ["../elsewhere.png"]}]}  # fmt: skip
    (rec / "index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match=r"frame 0 file 0 '/.*elsewhere\.png' is outside"):
        RecordingSource(rec)
    assert len(RecordingSource(rec, allow_outside=True)) == 2
    assert main(["track", "record", "--source", str(rec), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is outside" in err[0] and "--allow-outside" in err[0]


def test_track_record_refuses_a_source_camera_name_with_separators(tmp_path):
    from vrkit.tracking.frames import FrameSet, FrameSource
    from vrkit.tracking.record import record

    class Evil(FrameSource):
        def __init__(self) -> None:
            self.camera_names = ["../../pwned_record"]

        def read(self):
            return FrameSet(0, 0, [np.zeros((4, 4), np.uint8)], [None])

    with pytest.raises(InputError, match="cannot be used as a file name"):
        record(Evil(), tmp_path / "out", 1)
    assert not list(tmp_path.parent.glob("pwned_record*"))


# --- signals ----------------------------------------------------------------------------------


def _kill(sig: int) -> None:
    os.kill(os.getpid(), sig)
    for _ in range(100):  # the handler runs at the next bytecode boundary
        pass


def test_interrupts_outside_a_loop_raise_once_then_let_the_cleanup_finish():
    import signal

    from vrkit.core import interrupts

    cleaned = False
    with interrupts.handlers(), pytest.raises(interrupts.Interrupted) as err:
        try:
            _kill(signal.SIGINT)
            pytest.fail("not interrupted")
        finally:
            _kill(signal.SIGINT)  # a second Ctrl-C while cleaning up: ignored
            cleaned = True
    assert cleaned and err.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_interrupts_in_a_frame_loop_wait_for_the_frame_boundary():
    import signal

    from vrkit.core import interrupts

    frames_done = 0
    with interrupts.handlers():
        with pytest.raises(interrupts.Interrupted) as err, interrupts.deferred():
            for _ in range(10):
                _kill(signal.SIGTERM if frames_done == 2 else signal.SIGCONT)
                if frames_done == 2:
                    _kill(signal.SIGINT)  # the impatient second signal: no effect mid-frame
                frames_done += 1  # the frame in flight ends
                interrupts.check()
        assert frames_done == 3 and err.value.exit_code == 143
        with pytest.raises(interrupts.Interrupted):  # a third signal forces the exit
            _kill(signal.SIGINT)


def test_no_module_writes_around_core_outputs():
    """Every writer goes through vrkit.core.outputs (temporary name, check, rename)."""
    import re

    banned = re.compile(r"cv2\.imwrite\(|\.write_text\(|\.write_bytes\(|\.savefig\(|json\.dump\(")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sorted((ROOT / "vrkit").rglob("*.py"))
        if p.name != "outputs.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if banned.search(line) and not line.lstrip().startswith(("#", '"', "``"))
        and "savefig(buf" not in line
    ]  # fmt: skip
    assert offenders == []


def test_interrupts_linger_ignores_a_late_signal_for_the_exiting_process():
    import signal

    from vrkit.core import interrupts

    old = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(interrupts.Interrupted), interrupts.handlers(linger=True):
            _kill(signal.SIGTERM)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        _kill(signal.SIGINT)  # the late second Ctrl-C: nothing happens
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])
    with interrupts.handlers(linger=True):  # no signal came: the handlers are restored
        pass
    assert signal.getsignal(signal.SIGINT) is old[0]
