"""Does a finite camera entrance pupil (the lens stop out of focus) bias the offset fit?

An accuracy experiment, not a test (about 2-3 minutes): the independent generator's captures
are averaged over 13 points across the camera's entrance pupil, so the stop 16 mm away is
defocused the way a real camera focused on the virtual image sees it. Run:

    python tests/experiments/stop_defocus.py 0.001    # pupil diameter, metres

docs/calibration.md (Limits) quotes its results for 1 mm and 3 mm.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np
from structured_gen import StructuredBench

from vrkit.calibration.fit import fit_lens
from vrkit.calibration.graycode import decode_images, dense_observations
from vrkit.calibration.patterns import (
    PanelGeometry,
    PatternSet,
    make_structured_frames,
    render_frame,
)
from vrkit.calibration.viewpoint import StageSet, measure_viewpoint
from vrkit.optics.profile import load_profile

PUPIL = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0e-3
T = np.array([2.5e-3, -1.5e-3, 3.0e-3])
panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
white = PatternSet(panel, make_structured_frames(panel, "white", 24))
frames = {f.name: render_frame(panel, f) for f in white.frames}
ring = [(0, 0)] + [(0.5 * np.cos(a), 0.5 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 7)[:-1]]
ring += [(0.25 * np.cos(a), 0.25 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 7)[:-1] + 0.5]


def shoot(offset, seed):
    benches = [
        StructuredBench(
            camera_offset_m=tuple(offset + PUPIL * np.array([px, py, 0])),
            seed=seed,
            blur_sigma_px=0,
            noise_sigma=0,
            supersample=1,
        )
        for px, py in ring
    ]
    rng = np.random.default_rng(seed)
    out = {}
    for n, im in frames.items():
        acc = np.mean([b.capture(im).astype(np.float32) for b in benches], axis=0)
        acc = cv2.GaussianBlur(acc, (0, 0), 0.7) + rng.normal(0, 1.5, acc.shape)
        out[n] = np.clip(np.rint(acc), 0, 255).astype(np.uint8)
    return benches[0], decode_images(out, white)


t0 = time.time()
bench, maps = shoot(T, 5)
camera = bench.camera.to_vrkit()
obs = dense_observations(maps, 6)
fit0 = fit_lens(obs, camera, panel, "grid", grid_knots=17)
base = StageSet("base", np.zeros(3), maps[1], maps[1].contrast)
sets = []
for i, s in enumerate([(3e-3, 0, 0), (0, 3e-3, 4e-3)]):
    _, m = shoot(T + np.asarray(s), 6 + i)
    sets.append(StageSet(str(i), np.asarray(s), m[1], m[1].contrast))
vp = measure_viewpoint(fit0, panel, camera, base, sets, bench.lens.stop_distance_m)
print("pupil", PUPIL, "\n".join(vp.lines()))
print(
    "error mm",
    (vp.camera_offset_m - T) * 1e3,
    "radius",
    vp.rim_radius_m * 1e3,
    "true",
    16 * np.tan(np.radians(52)),
    time.time() - t0,
)
