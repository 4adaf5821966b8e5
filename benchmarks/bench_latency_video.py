"""Latency from high-speed video: analysis time per second of 240 fps video vs plain decoding.

A simulated 240 fps video (mp4v) is analysed by ``analyze_video`` (decode, motion statistics,
region finding, per-frame marker centroids, cross-correlation with confidence interval). The
baseline is the least any analysis of the file must do: decode every frame with OpenCV and
convert it to grey. Both run on the same file, alternating, and the ratio is analysis over
decode time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import cv2

from vrkit.measure.latency.simulate import simulate_video
from vrkit.measure.latency.video import analyze_video


def _decode(path: Path) -> int:
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
        t_an, t_dec = [], []
        est = None
        for _ in range(reps):
            s = time.perf_counter()
            est = analyze_video(path)
            t_an.append(time.perf_counter() - s)
            s = time.perf_counter()
            _decode(path)
            t_dec.append(time.perf_counter() - s)
    a, d = statistics.median(t_an) / duration, statistics.median(t_dec) / duration
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
        }
    ]
