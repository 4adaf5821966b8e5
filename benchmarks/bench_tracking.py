"""Multi-camera tracking: 4 cameras x 640x480, detection + joint solve + filter, per frame.

Frames are rendered once by vrkit's GL renderer (synthetic outside-in rig, headset with ArUco
markers, and the LED constellation; moving head, 2 ms motion blur, noise), kept in memory, then
fed to :class:`vrkit.tracking.tracker.Tracker` as if they came from cameras (frame decoding is
not timed). Reported per target: poses per second over the whole sequence, and per-frame
latency median and p99 (``time.perf_counter_ns`` around ``Tracker.process``).

Baseline in the same run, same frames: plain ``cv2.aruco`` detection of all 4 full images one
after the other (no ROI, no threads, no refinement, no solve) -- "what detection alone costs";
for LEDs, threshold + connected components of the 4 full images. ``ratio`` = tracker latency /
baseline latency (lower is better; < 1 means the tracker with ROI prediction and threads is
cheaper than a naive detector alone).

Goal from issue #8: >= 90 poses/s and p99 <= 11 ms on the 2-core machine.
"""

from __future__ import annotations

import time

import numpy as np

from vrkit.tracking.scenarios import head_trajectory, outside_in_rig
from vrkit.tracking.synth import SyntheticRenderer
from vrkit.tracking.target import headset_aruco, headset_leds
from vrkit.tracking.tracker import Tracker, TrackerConfig


def _frames(rig, target, n: int) -> list[tuple[int, list[np.ndarray]]]:
    sr = SyntheticRenderer(rig, target, noise_sigma=1.5, exposure_ns=2_000_000, subframes=3)
    try:
        period = 11_111_111  # 90 Hz
        return [(i * period, sr.render(head_trajectory, i * period)) for i in range(n)]
    finally:
        sr.release()


def _pipeline(rig, target, frames) -> tuple[list[float], float, int]:
    from vrkit.tracking.frames import FrameSet

    lat = []
    lost = 0
    with Tracker(rig, target, TrackerConfig(threads=2)) as tr:
        # warm-up (thread pool, first full-image acquisition) is not timed
        tr.process(FrameSet(0, frames[0][0], frames[0][1]))
        t_start = time.perf_counter_ns()
        for i, (t, imgs) in enumerate(frames[1:], start=1):
            t0 = time.perf_counter_ns()
            r = tr.process(FrameSet(i, t, imgs))
            lat.append((time.perf_counter_ns() - t0) * 1e-6)
            lost += r.status != "tracking"
        total_s = (time.perf_counter_ns() - t_start) * 1e-9
    return lat, (len(frames) - 1) / total_s, lost


def _baseline_aruco(target, frames) -> list[float]:
    import cv2

    from vrkit.vision.board import aruco_dictionary

    det = cv2.aruco.ArucoDetector(aruco_dictionary(target.dictionary),
                                  cv2.aruco.DetectorParameters())  # fmt: skip
    lat = []
    for _, imgs in frames:
        t0 = time.perf_counter_ns()
        for img in imgs:
            det.detectMarkers(img)
        lat.append((time.perf_counter_ns() - t0) * 1e-6)
    return lat


def _baseline_blobs(frames) -> list[float]:
    import cv2

    lat = []
    for _, imgs in frames:
        t0 = time.perf_counter_ns()
        for img in imgs:
            _, mask = cv2.threshold(img, 96, 255, cv2.THRESH_BINARY)
            cv2.connectedComponentsWithStats(mask)
        lat.append((time.perf_counter_ns() - t0) * 1e-6)
    return lat


def run(quick: bool) -> list[dict]:
    """Benchmark rows (see the module docstring)."""
    n = 60 if quick else 300
    rig = outside_in_rig(4, 640, 480)
    rows = []
    for label, target in (("aruco", headset_aruco()), ("leds", headset_leds())):
        frames = _frames(rig, target, n)
        lat, pps, lost = _pipeline(rig, target, frames)
        base = _baseline_aruco(target, frames) if label == "aruco" else _baseline_blobs(frames)
        med, p99 = float(np.median(lat)), float(np.percentile(lat, 99))
        bmed, bp99 = float(np.median(base)), float(np.percentile(base, 99))
        note = f"4 cams 640x480, {n} frames, {lost} lost"
        rows += [
            {"name": f"track_{label}_poses_per_s", "value": pps, "unit": "poses/s",
             "baseline": 1e3 / float(np.mean(base)), "ratio": (1e3 / float(np.mean(base))) / pps,
             "note": note + "; baseline = detection alone, sequential"},
            {"name": f"track_{label}_latency_median", "value": med, "unit": "ms",
             "baseline": bmed, "ratio": med / bmed, "note": note},
            {"name": f"track_{label}_latency_p99", "value": p99, "unit": "ms",
             "baseline": bp99, "ratio": p99 / bp99, "note": note + "; goal <= 11 ms"},
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
