"""Latency from high-speed video: analysis time per second of 240 fps video vs plain decoding.

A simulated 240 fps video (mp4v) is analysed by ``analyze_video`` (decode, motion statistics,
region finding, per-frame marker centroids, cross-correlation with confidence interval). The
baseline is the least any analysis of the file must do: decode every frame with the reader the
analysis uses (``vrkit.vision.video.VideoReader``, PyAV) and convert it to grey. Both run on the
same file, alternating, and the ratio is analysis over decode time. A second row compares that
reader with OpenCV's ``cv2.VideoCapture`` on the same file (decode to BGR, then grey).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import cv2

from vrkit.measure.latency.simulate import simulate_video
from vrkit.measure.latency.video import analyze_video
from vrkit.vision.video import VideoReader


def _decode(path: Path) -> int:
    n = 0
    with VideoReader(path, colour="bgr") as reader:
        for f in reader:
            cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY)
            n += 1
    return n


def _decode_cv2(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        n += 1
    cap.release()
    return n


def run(quick: bool) -> list[dict]:
    size, duration, reps = ((320, 240), 4.0, 2) if quick else ((640, 360), 8.0, 4)
    with tempfile.TemporaryDirectory() as tmp:
        path = simulate_video(
            Path(tmp) / "bench.mp4",
            latency_s=0.025,
            duration_s=duration,
            size=size,
            amplitude_px=0.23 * size[0],
            marker_sigma_px=size[0] / 100,
        )
        t_an, t_dec, t_cv = [], [], []
        est = None
        for _ in range(reps):
            s = time.perf_counter()
            est = analyze_video(path)
            t_an.append(time.perf_counter() - s)
            s = time.perf_counter()
            _decode(path)
            t_dec.append(time.perf_counter() - s)
            s = time.perf_counter()
            _decode_cv2(path)
            t_cv.append(time.perf_counter() - s)
    a, d = statistics.median(t_an) / duration, statistics.median(t_dec) / duration
    c = statistics.median(t_cv) / duration
    note = (
        f"{size[0]}x{size[1]} mp4v, {duration:g} s at 240 fps; estimate "
        f"{est.latency_ms:.2f} ms for 25 ms injected"
    )
    return [
        {
            "name": "video latency analysis per s of 240 fps video",
            "value": a * 1e3,
            "unit": "ms",
            "baseline": d * 1e3,
            "ratio": a / d,
            "note": note,
        },
        {
            "name": "PyAV reader decode per s of 240 fps video",
            "value": d * 1e3,
            "unit": "ms",
            "baseline": c * 1e3,
            "ratio": d / c,
            "note": f"{size[0]}x{size[1]} mp4v; baseline cv2.VideoCapture + cvtColor",
        },
    ]
