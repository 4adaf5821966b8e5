"""Every writing command on a full disk: exit non-zero naming the path, nothing truncated kept.

A 2 MiB tmpfs is mounted inside the test (skipped where mounting is not permitted, e.g. without
root). Each command is run as a user would, in a subprocess; afterwards every file under a final
name (not a dot-file) must be whole: non-empty, PNGs decode, JSON parses, CSV ends in a newline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def disk(tmp_path) -> Iterator[Path]:
    """A fresh 2 MiB tmpfs."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                              capture_output=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


def _vrkit(*argv: str, cwd: Path = ROOT) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "vrkit", *argv], capture_output=True, text=True,
                       timeout=600, env=env, cwd=cwd)  # fmt: skip
    return p.returncode, p.stdout, p.stderr


def _fill(disk: Path, leave: int = 0) -> None:
    """Leave the tmpfs with about ``leave`` bytes free (0: none at all)."""
    st = os.statvfs(disk)
    todo = max(0, st.f_bavail * st.f_frsize - leave)
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 512, 1):
            while todo >= size or (not leave and size):
                try:
                    todo -= os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)


def _assert_whole(root: Path) -> None:
    for p in root.rglob("*"):
        if not p.is_file() or p.name.startswith(".") or p.name.startswith("filler"):
            continue
        assert p.stat().st_size > 0, f"zero-byte {p}"
        if p.suffix == ".png":
            assert cv2.imread(str(p), cv2.IMREAD_UNCHANGED) is not None, f"truncated {p}"
        elif p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".csv":
            assert p.read_text().endswith("\n"), f"truncated {p}"


def _assert_failed_naming(rc: int, out: str, err: str, disk: Path, command: str) -> None:
    lines = err.strip().splitlines()
    assert rc == 1, (rc, err[-2000:])
    assert lines and lines[-1].startswith(f"vrkit {command}: error: "), err[-2000:]
    assert str(disk) in lines[-1], lines[-1]
    assert "internal error" not in err and "wrote" not in out, (out, err[-2000:])


def test_run_headless(disk):
    out = disk / "run"
    rc, so, se = _vrkit("run", "examples/room.py", "--backend", "headless", "--frames", "3000",
                        "--eye-size", "200x200", "--msaa", "0", "--out", str(out))  # fmt: skip
    _assert_failed_naming(rc, so, se, disk, "run")
    assert "failed: no space left on the device" in se
    _assert_whole(disk)
    panels = len(list(out.glob("frame_*_panel.png")))
    assert panels > 0  # the frames written before the disk filled are kept
    # The half-written frame's images were removed, which made room for run.json: it records
    # exactly the frames on disk.
    doc = json.loads((out / "run.json").read_text())
    n = doc["frames_rendered"]
    assert len(doc["frames"]) == n == panels
    for eye in ("left", "right", "panel"):
        names = sorted(p.name for p in out.glob(f"frame_*_{eye}.png"))
        assert names == [f"frame_{k:05d}_{eye}.png" for k in range(n)]


def test_track_synth(disk):
    out = disk / "rec"
    rc, so, se = _vrkit("track", "synth", str(out), "--frames", "240", "--cameras", "4")
    _assert_failed_naming(rc, so, se, disk, "track")
    assert "libpng" not in se
    _assert_whole(disk)
    if (out / "index.json").exists():
        index = json.loads((out / "index.json").read_text())
        for frame in index["frames"]:
            assert all(f is None or (out / f).is_file() for f in frame["files"])


def test_latency_simulate(disk):
    out = disk / "log.csv"
    rc, so, se = _vrkit("latency", "simulate", "--latency-ms", "20", "--duration", "120",
                        "--rate-hz", "2000", "--out", str(out))  # fmt: skip
    _assert_failed_naming(rc, so, se, disk, "latency")
    assert not out.exists()
    _assert_whole(disk)


def test_calibrate_pattern_and_capture(disk, tmp_path):
    many = ("--kinds", "dots,checkerboard", "--channels", "red,green,blue,white", "--spacing",
            "24")  # 8 images, about 3.8 MB  # fmt: skip
    rc, so, se = _vrkit("calibrate", "pattern", "--profile", "generic-1440x1600", *many,
                        "--out", str(disk / "pattern"))  # fmt: skip
    _assert_failed_naming(rc, so, se, disk, "calibrate")
    _assert_whole(disk)
    assert not (disk / "pattern" / "pattern.json").exists()
    # capture: a pattern made elsewhere, its own images as the "camera".
    pat = tmp_path / "pattern"
    rc, _, se = _vrkit("calibrate", "pattern", "--profile", "generic-1440x1600", *many,
                       "--out", str(pat))  # fmt: skip
    assert rc == 0, se
    for p in disk.iterdir():  # the first half's leftovers (kept frames) go
        subprocess.run(["rm", "-rf", str(p)], check=True)
    _fill(disk, leave=1_100_000)  # passes the preflight (1 MB), too little for 8 captures
    rc, so, se = _vrkit("calibrate", "capture", "--pattern", str(pat), "--source",
                        f"folder:{pat}", "--average", "1", "--out", str(disk / "cap"))  # fmt: skip
    _assert_failed_naming(rc, so, se, disk, "calibrate")
    _assert_whole(disk)


@pytest.mark.parametrize(
    "argv",
    [
        ["profile", "export", "generic-1440x1600", "--format", "openhmd", "--out", "{d}/x.json"],
        ["calibrate", "lens", "--pattern", "none", "--captures", "none", "--camera", "none",
         "--out", "{d}/lens.json"],
        ["fov", "--profile", "generic-1440x1600", "--plot", "{d}/fov.png"],
        ["run", "examples/room.py", "--backend", "headless", "--out", "{d}/run"],
    ],
    ids=lambda a: " ".join(a[:2]),
)  # fmt: skip
def test_full_disk_is_refused_before_work(disk, argv):
    _fill(disk)
    rc, so, se = _vrkit(*(a.format(d=disk) for a in argv))
    _assert_failed_naming(rc, so, se, disk, argv[0])
    assert "MB free" in se
    _assert_whole(disk)
