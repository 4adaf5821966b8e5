"""Structured light: Gray-code decode time per channel, and dense fit time.

* Decode of one colour channel of a 10-bit Gray-code set (10 bits + inverses per axis, 4 phase
  steps per axis, full-on and full-off: 50 frames) at 1280x960, against the floor any decoder
  pays: converting the same 50 frames to float and one comparison per frame pair.
  The camera images are formed analytically (a smooth warp of the panel, blur-free, 8-bit), so
  the benchmark measures the decoder only.
* The grid model's fit to a dense map subsampled every 8 camera pixels (the synthetic bench's
  lens, 1280x960 camera) against the ``radial2`` fit to the same observations.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from vrkit.calibration.bench import DEFAULT_CAMERA, _rotation_from_deg
from vrkit.calibration.fit import fit_lens
from vrkit.calibration.graycode import decode_channel, decode_images, dense_observations
from vrkit.calibration.patterns import (
    PanelGeometry,
    PatternSet,
    make_structured_frames,
    render_frame,
)
from vrkit.calibration.synth import LensImaging
from vrkit.optics.profile import load_profile


def _ten_bit_set() -> tuple[dict[str, np.ndarray], list, tuple[int, int, int, int]]:
    stripe = 2
    size = 1024 * stripe  # 10 bits per axis
    panel = PanelGeometry(size, size, (5e-5, 5e-5), 0.03, (0, 0, size, size), (size / 2, size / 2))
    frames = make_structured_frames(panel, "green", 2 * stripe)
    h, w = 960, 1280
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u = 20 + 1.55 * xx + 2e-4 * (xx - 640) ** 2 + 0.03 * yy
    v = 30 + 2.05 * yy + 1e-4 * (yy - 480) ** 2 + 0.02 * xx
    images = {}
    for f in frames:
        e = f.extra
        if f.kind == "flat":
            val = np.full((h, w), float(e["level"]))
        else:
            c = u if e["axis"] == "x" else v
            if f.kind == "graycode":
                s = np.floor(c / e["stripe_px"]).astype(np.int64)
                val = (((s ^ (s >> 1)) >> (e["n_bits"] - 1 - e["bit"])) & 1).astype(np.float64)
                val = 1 - val if e["inverse"] else val
            else:
                val = 0.5 + 0.5 * np.cos(2 * np.pi * c / e["period_px"] - 2 * np.pi * e["step"] / 4)
        images[f.name] = np.clip(np.rint(20 + 200 * val), 0, 255).astype(np.uint8)
    return images, frames, panel.viewport_px


def run(quick: bool) -> list[dict]:
    rounds = 2 if quick else 5
    images, frames, viewport = _ten_bit_set()
    names = [f.name for f in frames]
    pairs = [
        (f.name, f.name + "i") for f in frames if f.kind == "graycode" and not f.extra["inverse"]
    ]

    def floor() -> None:
        f = {n: images[n].astype(np.float32) for n in names}
        for a, b in pairs:
            np.greater(f[a], f[b])

    times: dict[str, list[float]] = {"decode": [], "floor": [], "grid": [], "radial2": []}
    m = decode_channel(images, frames, viewport, 1)
    assert m.valid.mean() > 0.9, m.counts()
    for _ in range(rounds):
        s = time.perf_counter()
        decode_channel(images, frames, viewport, 1)
        times["decode"].append(time.perf_counter() - s)
        s = time.perf_counter()
        floor()
        times["floor"].append(time.perf_counter() - s)

    # Dense fit: the bench's lens photographed with the structured set, every 8th pixel.
    prof = load_profile("generic-1440x1600")
    panel = PanelGeometry.from_profile(prof, 0)
    pattern = PatternSet(panel, make_structured_frames(panel, "white", 24))
    imaging = LensImaging(
        DEFAULT_CAMERA,
        panel,
        prof.lens(0),
        _rotation_from_deg((0.6, -0.9, 0.4)),
        np.asarray(panel.lens_centre_px) + np.array([6.0, -4.0]),
        1,
    )
    caps = {f.name: imaging.capture(render_frame(panel, f)) for f in pattern.frames}
    obs = dense_observations(decode_images(caps, pattern), 8)
    for _ in range(max(1, rounds // 2)):
        for model in ("grid", "radial2"):
            s = time.perf_counter()
            fit_lens(obs, DEFAULT_CAMERA, panel, model, grid_knots=17)
            times[model].append(time.perf_counter() - s)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return [
        {
            "name": "Gray-code decode, 10 bits + 4 phase steps per axis, one 1280x960 channel, "
            "vs float conversion + bit comparisons",
            "value": med["decode"],
            "unit": "ms",
            "baseline": med["floor"],
            "ratio": med["decode"] / med["floor"],
            "note": f"{len(frames)} frames, {int(m.valid.sum())} valid pixels",
        },
        {
            "name": "dense grid fit (17 knots) vs radial2 on the same dense observations",
            "value": med["grid"],
            "unit": "ms",
            "baseline": med["radial2"],
            "ratio": med["grid"] / med["radial2"],
            "note": f"{len(obs)} observations (every 8th camera pixel and the field's border), "
            "3 channels",
        },
    ]
