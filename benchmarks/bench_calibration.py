"""Lens calibration: feature detection per capture and model fit time per model.

The synthetic bench's noise-free captures (generic-1440x1600 left eye, 44 px dot pitch, about
1000 dots per channel, 1280x960 fisheye camera) are written once to a temporary folder; then,
round-robin so that load from other processes hits every variant alike:

* detection of one capture channel (threshold, components, centroids, grid walk) against one
  ``cv2.connectedComponentsWithStats`` pass over the same image, the floor any blob detector
  pays;
* each model's fit (robust fit, outlier rejection, refit) against the ``radial2`` fit, the
  simplest model, on the same observations.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from vrkit.calibration.bench import BenchConfig, make_captures
from vrkit.calibration.capture import read_rgb
from vrkit.calibration.detect import detect_frame
from vrkit.calibration.fit import fit_lens
from vrkit.calibration.lens import measure_captures
from vrkit.calibration.patterns import PatternSet
from vrkit.vision.camera import CameraModel


def run(quick: bool) -> list[dict]:
    import cv2

    models = ("radial2", "panotools") if quick else ("radial2", "radial", "panotools", "openhmd")
    rounds = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="vrkit-bench-cal-") as tmp:
        out = Path(tmp)
        make_captures(BenchConfig(), out)
        pattern = PatternSet.load(out / "pattern")
        camera = CameraModel.load(out / "camera.json")
        obs, _ = measure_captures(out / "captures", pattern, camera)
        green = read_rgb(out / "captures" / "dots_green.png")[..., 1].astype(np.float32)
    frame = pattern.frame("dots_green")
    binary = (green > 0.5 * green.max()).astype(np.uint8)

    times: dict[str, list[float]] = {k: [] for k in ("detect", "components", *models)}
    for _ in range(rounds):
        for _ in range(3):
            s = time.perf_counter()
            detect_frame(green, frame)
            times["detect"].append(time.perf_counter() - s)
            s = time.perf_counter()
            cv2.connectedComponentsWithStats(binary, connectivity=8)
            times["components"].append(time.perf_counter() - s)
        for m in models:
            s = time.perf_counter()
            fit_lens(obs, camera, pattern.panel, m)
            times[m].append(time.perf_counter() - s)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    rows = [
        {
            "name": "dot detection, one 1280x960 capture channel, vs connected components",
            "value": med["detect"],
            "unit": "ms",
            "baseline": med["components"],
            "ratio": med["detect"] / med["components"],
            "note": f"{len(frame.features)} dots in the pattern frame",
        }
    ]
    for m in models[1:]:
        rows.append(
            {
                "name": f"lens fit '{m}' vs 'radial2'",
                "value": med[m],
                "unit": "ms",
                "baseline": med["radial2"],
                "ratio": med[m] / med["radial2"],
                "note": f"{len(obs)} observations, 3 channels, centre + rotation fitted; "
                f"radial2 itself {med['radial2']:.0f} ms",
            }
        )
    return rows
