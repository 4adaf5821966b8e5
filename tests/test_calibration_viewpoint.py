"""The camera's offset from the eye point, on the independent bench (tests/structured_gen.py).

The generator puts the camera's entrance pupil a few millimetres off the eye point, its lens
forms a virtual image 1.5 m away and its field stop is a real aperture 16 mm in front of the
eye point. vrkit gets Gray-code captures from a base position and from two known stage
positions, and must recover the offset, the image distance, and the lens as the eye sees it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from structured_gen import StructuredBench
from test_calibration_structured import PERIOD, _model_error_arcmin

from vrkit.calibration.fit import fit_lens
from vrkit.calibration.graycode import decode_images, dense_observations
from vrkit.calibration.patterns import (
    PanelGeometry,
    PatternSet,
    make_structured_frames,
    render_frame,
)
from vrkit.calibration.synth import ideal_from_camera_rays
from vrkit.calibration.viewpoint import StageSet, Viewpoint, measure_viewpoint
from vrkit.core.errors import DataError
from vrkit.optics.profile import load_profile

OFFSET = np.array([2.5e-3, -1.5e-3, 3.0e-3])  # camera minus eye point, eye frame, metres
STAGE = {"x3": (3e-3, 0.0, 0.0), "y3z4": (0.0, 3e-3, 4e-3)}


def _shoot(offset, pattern: PatternSet, seed: int):
    bench = StructuredBench(camera_offset_m=tuple(offset), seed=seed)
    images = {f.name: bench.capture(render_frame(pattern.panel, f)) for f in pattern.frames}
    return bench, decode_images(images, pattern)


@pytest.fixture(scope="module")
def offset_scene():
    panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
    white = PatternSet(panel, make_structured_frames(panel, "white", PERIOD))
    green = PatternSet(panel, make_structured_frames(panel, "green", PERIOD))
    bench, maps = _shoot(OFFSET, white, 5)
    base = StageSet("base", np.zeros(3), maps[1], maps[1].contrast)
    sets = []
    for i, (name, s) in enumerate(STAGE.items()):
        _, m = _shoot(OFFSET + np.asarray(s), green, 6 + i)
        sets.append(StageSet(name, np.asarray(s), m[0], m[0].contrast))
    camera = bench.camera.to_vrkit()
    obs = dense_observations(maps, 6)
    fit0 = fit_lens(obs, camera, panel, "grid", grid_knots=17)
    return bench, panel, camera, obs, fit0, base, sets


def _seen_by_camera(bench: StructuredBench) -> np.ndarray:
    """Truth directions whose virtual image point the offset camera sees past the stop."""
    tan = bench.truth_directions(1.0)["tan"]
    D = bench.image_distance_m
    V = np.concatenate([D * tan, -D * np.ones((len(tan), 1))], axis=1)
    return bench.lens.passes_stop(OFFSET, V - OFFSET[None])


def test_eye_tan_matches_the_generators_geometry():
    """Viewpoint.eye_tan against the generator's own ray / virtual-image intersection."""
    bench = StructuredBench(camera_offset_m=tuple(OFFSET), supersample=1)
    rng = np.random.default_rng(1)
    px = rng.uniform([40, 40], [600, 440], size=(500, 2))
    rays = bench.camera.rays(px)
    truth, ok = bench.eye_tan(rays)
    tan_cam, _ = ideal_from_camera_rays(rays, bench.R_eye_cam)
    got = Viewpoint.given(OFFSET, bench.image_distance_m).eye_tan(tan_cam)
    assert ok.sum() > 150
    assert np.max(np.abs(got[ok] - truth[ok])) < 1e-12
    # Collimated: the offset does not move what the eye sees.
    assert np.array_equal(Viewpoint.given(OFFSET, math.inf).eye_tan(tan_cam), tan_cam)


def test_camera_offset_recovered_and_lens_fitted_from_the_eye_point(offset_scene):
    bench, panel, camera, obs, fit0, base, sets = offset_scene
    vp = measure_viewpoint(fit0, panel, camera, base, sets, bench.lens.stop_distance_m)
    err_mm = np.abs(vp.camera_offset_m - OFFSET) * 1e3
    assert np.all(err_mm <= 0.5), (vp.camera_offset_m * 1e3, err_mm)
    # The image distance (eye point to virtual image) from the parallax of the stage moves.
    assert abs(vp.image_distance_m - bench.image_distance_m) < 0.02 * bench.image_distance_m
    true_radius = bench.lens.stop_distance_m * math.tan(math.radians(bench.lens.field_stop_deg))
    assert abs(vp.rim_radius_m - true_radius) < 0.3e-3
    # The reported uncertainty is an honest one: finite, and not far below the real error.
    assert np.all(np.isfinite(vp.offset_sigma_m)) and np.all(vp.offset_sigma_m > 0)
    sens = vp.sensitivity()
    assert abs(sens["lens_arcmin_per_mm_lateral"] - 1e-3 / 1.5 / (math.pi / 10800)) < 0.05

    seen = _seen_by_camera(bench)
    assert seen.mean() > 0.6

    def rms(fit) -> float:
        e = _model_error_arcmin(fit, bench, panel).reshape(3, -1)[:, seen]
        return float(np.sqrt(np.mean(e**2)))

    # Taken at the eye point, the offset camera's lens is several arcmin off...
    assert rms(fit0) > 3.0, rms(fit0)
    # ...refitted from the measured eye point, within 0.5 arcmin RMS over the field it saw.
    fit1 = fit_lens(obs, camera, panel, "grid", grid_knots=17, viewpoint=vp)
    assert rms(fit1) <= 0.5, rms(fit1)
    assert fit1.verdict().acceptable


def test_one_position_or_no_move_is_refused(offset_scene):
    bench, panel, camera, _, fit0, base, _ = offset_scene
    with pytest.raises(DataError, match="two or more stage positions"):
        measure_viewpoint(fit0, panel, camera, base, [], bench.lens.stop_distance_m)
    still = [StageSet("same", np.zeros(3), base.green, base.contrast)]
    with pytest.raises(DataError, match="fewer than two stage positions"):
        measure_viewpoint(fit0, panel, camera, base, still, bench.lens.stop_distance_m)
