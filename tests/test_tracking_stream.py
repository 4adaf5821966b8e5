"""`vrkit track run` streams its pose rows to disk (issue 18): an interrupted run keeps them.

The frames are the small synthetic recording's images (tests/fuzz/seeds/recording, 2 cameras
320x240) repeated as an image-folder source long enough to be stopped part way.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vrkit.tracking.poses import PoseWriter, read_poses

ROOT = Path(__file__).resolve().parents[1]
REC = ROOT / "tests" / "fuzz" / "seeds" / "recording"
FRAMES = 3000


def _image_folders(tmp: Path) -> str:
    for cam in ("cam0", "cam1"):
        d = tmp / "images" / cam
        d.mkdir(parents=True)
        src = sorted((REC / cam).iterdir())
        for i in range(FRAMES):
            (d / f"{i:06d}.png").symlink_to(src[i % len(src)])
    return f"images:{tmp / 'images' / 'cam0'},{tmp / 'images' / 'cam1'}"


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_sigterm_keeps_the_rows_done(tmp_path: Path, suffix: str) -> None:
    source = _image_folders(tmp_path)
    out = tmp_path / "out" / f"poses{suffix}"
    out.parent.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrkit", "track", "run", "--rig", str(REC / "rig.json"),
         "--target", str(REC / "target.json"), "--source", source, "--out", str(out),
         "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    # wait until rows are on disk (the temporary file or sidecar has grown)
    while not any(p.stat().st_size > 2000 for p in out.parent.iterdir()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run did not start: {proc.communicate()[1].decode()[-2000:]}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 128 + signal.SIGTERM, text[-2000:]
    assert text.rstrip().splitlines()[-1] == "vrkit track: interrupted", text[-2000:]
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left
    if suffix == ".csv":
        with out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    else:
        doc = json.loads(out.read_text())
        rows = doc["frames"]
        assert doc["summary"]["interrupted"] is True
        assert doc["summary"]["frames"] == len(rows)
    n = len(rows)
    assert 0 < n < FRAMES
    assert [int(r["index"]) for r in rows] == list(range(n))
    assert all(r["status"] == "tracking" for r in rows)
    assert f"interrupted: {n} frames done, their poses written to {out}" in text
    assert len(read_poses(out)[0]) == n  # and it replays


def test_pose_writer_discards_on_error(tmp_path: Path) -> None:
    for name in ("p.csv", "p.json"):
        with pytest.raises(RuntimeError), PoseWriter(tmp_path / name) as w:
            w.write({"index": 0, "t_ns": 0, "status": "lost"})
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_latency_pipeline_sigterm_keeps_the_timing_done(tmp_path: Path) -> None:
    """`vrkit latency pipeline --out` streams timing.csv; SIGTERM keeps the frames done."""
    out = tmp_path / "timing"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrkit", "latency", "pipeline", "examples/latency_gradient.py",
         "--backend", "headless", "--frames", "1000000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(p.stat().st_size > 2000 for p in out.iterdir())):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run did not start: {proc.communicate()[1].decode()[-2000:]}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 128 + signal.SIGTERM, text[-2000:]
    assert text.rstrip().splitlines()[-1] == "vrkit latency: interrupted", text[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["timing.csv", "timing.json"]
    with (out / "timing.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    doc = json.loads((out / "timing.json").read_text())
    n = doc["frames_recorded"]
    assert n == len(rows) > 0
    assert [int(r["index"]) for r in rows] == [f["index"] for f in doc["frames"]]
    assert all(r["render_start_ns"] and r["cpu_render_ms"] for r in rows)
    assert f"interrupted: {n} frames recorded, timing saved to {out}" in text
