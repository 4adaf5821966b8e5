"""Soak: memory and GL objects over a long headless run (issue 18: nothing grows with run length).

A headless run with an output folder (run.json streams its frame records, the frame writer
writes three PNGs a frame) of a scene that gives a node a new Mesh every frame, the case that
leaked GPU objects when meshes were cached by identity forever. Every ``--sample`` frames it
reads the process's resident set size (``/proc/self/statm``) and the GL context's live object
count. After the warm-up (the first tenth of the run) it fits a line to RSS against frames and
reports the slope in MB per 1,000 frames, and the GL object count's range.

Goal: slope under 0.05 MB per 1,000 frames, a flat GL object count (max - min of the samples
after warm-up at most a few objects: the frame's own transient mesh).

    .venv/bin/python benchmarks/soak.py                # 100,000 frames (tens of minutes)
    .venv/bin/python benchmarks/soak.py --frames 5000  # a quick look

``tests/test_outputs_soak.py`` runs a short version of :func:`soak` in CI and asserts both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

GOAL_MB_PER_1000 = 0.05


def rss_mb() -> float:
    """Resident set size of this process, MB (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def churn_scene() -> Any:
    """A floor and a box whose Mesh object is replaced by a new one every frame."""
    from vrkit.render.meshes import box, plane
    from vrkit.render.scene import Scene

    scene = Scene(name="soak")
    scene.add(plane(4.0, 4.0), name="floor")
    node = scene.add(box((0.3, 0.3, 0.3)), np.diag([1.0, 1.0, 1.0, 1.0]), name="churn")
    node.transform[:3, 3] = [0.0, 1.6, -1.0]

    def update(_scene: Any, _t_s: float) -> None:
        node.mesh = box((0.3, 0.3, 0.3))  # a new object every frame, the old one dropped

    scene.on_update = update
    return scene


def soak(
    frames: int, out_dir: Path | None, sample: int = 250, eye: int = 16, warmup: float = 0.1
) -> dict[str, Any]:
    """Run ``frames`` headless frames and measure RSS and GL objects.

    Args:
        frames: Frames to render.
        out_dir: Output folder (PNGs and run.json), or None to write nothing.
        sample: Frames between two measurements.
        eye: Eye render size in pixels (square).
        warmup: Fraction of the run left out of the fit (allocators and caches settle).

    Returns:
        ``frames``, ``rss_slope_mb_per_1000`` (least-squares slope after warm-up),
        ``rss_mb`` (first and last sample), ``gl_objects`` (min and max after warm-up),
        ``cached_meshes`` (at the end) and the samples.
    """
    from vrkit.backends.base import RunConfig
    from vrkit.backends.headless import HeadlessBackend
    from vrkit.core.clock import ManualClock
    from vrkit.render.renderer import StereoRenderer

    config = RunConfig(frames=frames, out_dir=out_dir, eye_size=(eye, eye), msaa=0,
                       clock=ManualClock(0), overwrite=True)  # fmt: skip
    backend = HeadlessBackend(config)
    backend.open()
    scene = churn_scene()
    samples: list[tuple[int, float, int]] = []
    try:
        renderer = StereoRenderer(backend.gl)
        k = 0
        while (frame := backend.begin_frame()) is not None:
            scene.update(k / 60.0)
            renderer.render(scene, frame, backend.eye_targets(frame))
            backend.end_frame(frame)
            k += 1
            if k % sample == 0:
                samples.append((k, rss_mb(), backend.gl.live_objects))
        cached = renderer.cached_meshes
        renderer.release()
    finally:
        backend.close()
    arr = np.array(samples, dtype=np.float64)
    steady = arr[arr[:, 0] > warmup * frames] if len(arr) else arr
    slope = float(np.polyfit(steady[:, 0], steady[:, 1], 1)[0] * 1000) if len(steady) > 2 else 0.0
    return {
        "frames": frames,
        "rss_slope_mb_per_1000": slope,
        "rss_mb": [float(arr[0, 1]), float(arr[-1, 1])] if len(arr) else [],
        "gl_objects": [int(steady[:, 2].min()), int(steady[:, 2].max())] if len(steady) else [],
        "cached_meshes": cached,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print the figures; exit 1 when a goal is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=1000, help="frames between measurements")
    ap.add_argument("--eye", type=int, default=16, help="eye size in pixels")
    ap.add_argument("--no-files", action="store_true", help="write no PNGs and no run.json")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vrkit-soak-") as tmp:
        out = None if args.no_files else Path(tmp) / "run"
        res = soak(args.frames, out, args.sample, args.eye)
    gl_flat = res["gl_objects"][1] - res["gl_objects"][0] <= 4
    ok = res["rss_slope_mb_per_1000"] < GOAL_MB_PER_1000 and gl_flat
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k != "samples"}))
    else:
        print(
            f"soak: {res['frames']} frames; RSS {res['rss_mb'][0]:.1f} -> {res['rss_mb'][1]:.1f} "
            f"MB, slope {res['rss_slope_mb_per_1000']:+.4f} MB / 1000 frames (goal < "
            f"{GOAL_MB_PER_1000}); GL objects {res['gl_objects'][0]}..{res['gl_objects'][1]}; "
            f"cached meshes at the end {res['cached_meshes']}" + ("" if ok else "  MISSED")
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
