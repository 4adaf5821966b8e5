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


def _shoot(offset, pattern: PatternSet, seed: int, frames: dict):
    bench = StructuredBench(camera_offset_m=tuple(offset), seed=seed)
    images = {name: bench.capture(img) for name, img in frames.items()}
    return bench, images, decode_images(images, pattern)


@pytest.fixture(scope="module")
def offset_scene():
    panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
    white = PatternSet(panel, make_structured_frames(panel, "white", PERIOD))
    frames = {f.name: render_frame(panel, f) for f in white.frames}
    bench, images, maps = _shoot(OFFSET, white, 5, frames)
    base = StageSet("base", np.zeros(3), maps[1], maps[1].contrast)
    sets, stage_images = [], {}
    for i, (name, s) in enumerate(STAGE.items()):
        _, stage_images[name], m = _shoot(OFFSET + np.asarray(s), white, 6 + i, frames)
        sets.append(StageSet(name, np.asarray(s), m[1], m[1].contrast))
    camera = bench.camera.to_vrkit()
    obs = dense_observations(maps, 6)
    fit0 = fit_lens(obs, camera, panel, "grid", grid_knots=17)
    _IMAGES.update(base=images, pattern=white, **stage_images)
    return bench, panel, camera, obs, fit0, base, sets


_IMAGES: dict = {}  # the captures, for the command-line test


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
    # The reported uncertainty: finite, and the real error within 5 sigma (or 0.1 mm).
    assert np.all(np.isfinite(vp.offset_sigma_m)) and np.all(vp.offset_sigma_m > 0)
    assert np.all(err_mm <= np.maximum(5e3 * vp.offset_sigma_m, 0.1)), (err_mm, vp.offset_sigma_m)
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

    # The FOV through the lens, judged from the eye point.
    from test_calibration_structured import _true_fov

    from vrkit.calibration.fovmeasure import lens_axis_rotation, measure_fov

    truth = _true_fov(bench, 1)
    # Taken at the eye point, the offset camera sees the stop (16 mm away) shifted by degrees.
    naive = measure_fov(base.contrast, camera, lens_axis_rotation(fit0, panel))
    assert max(abs(naive.up - truth["up"]), abs(naive.down - truth["down"])) > 1.0
    fov = measure_fov(
        base.contrast,
        camera,
        lens_axis_rotation(fit1, panel),
        viewpoint=vp,
        stage_views=[(s.offset_m, s.contrast) for s in sets],
    )
    # Every edge it gives is right; the ones no capture position could see (here: behind the
    # stop's near side, 3 mm off) are not measured, never guessed.
    measured = []
    for side in ("left", "right", "up", "down"):
        got = getattr(fov, side)
        if np.isfinite(got):
            measured.append(side)
            assert abs(got - truth[side]) < 0.2, (side, got, truth)
    assert measured, "no edge measured"
    assert len(measured) < 4 and np.isnan(fov.solid_angle_sr)
    # The stop itself, seen from the eye point: the field stop's angle (52 degrees).
    stop_deg = math.degrees(math.atan(vp.rim_radius_m / vp.stop_to_eye_m))
    assert abs(stop_deg - bench.lens.field_stop_deg) < 0.2, stop_deg
    assert vp.to_dict()["stop_half_angle_deg"] == pytest.approx(stop_deg, abs=1e-3)


def test_one_position_or_no_move_is_refused(offset_scene):
    bench, panel, camera, _, fit0, base, _ = offset_scene
    with pytest.raises(DataError, match="two or more stage positions"):
        measure_viewpoint(fit0, panel, camera, base, [], bench.lens.stop_distance_m)
    still = [StageSet("same", np.zeros(3), base.green, base.contrast)]
    with pytest.raises(DataError, match="fewer than two stage positions"):
        measure_viewpoint(fit0, panel, camera, base, still, bench.lens.stop_distance_m)


def _write_captures(folder, images) -> None:
    from vrkit.calibration.capture import write_captures_json, write_rgb

    folder.mkdir()
    for name, img in images.items():
        write_rgb(folder / f"{name}.png", img)
    write_captures_json(folder, {name: f"{name}.png" for name in images})


def test_calibrate_lens_cli_with_stage_captures(offset_scene, tmp_path, capsys):
    import json

    from vrkit.cli import main

    bench = offset_scene[0]
    _IMAGES["pattern"].save(tmp_path / "pattern")
    bench.camera.to_vrkit().save(tmp_path / "camera.json")
    _write_captures(tmp_path / "base", _IMAGES["base"])
    argv = ["calibrate", "lens", "--captures", str(tmp_path / "base"), "--model", "grid"]
    argv += ["--camera", str(tmp_path / "camera.json"), "--pattern", str(tmp_path / "pattern")]
    argv += ["--out", str(tmp_path / "p.json"), "--grid-knots", "17", "--dense-step", "6"]
    for name, s in STAGE.items():
        _write_captures(tmp_path / name, _IMAGES[name])
        argv += ["--stage", f"{tmp_path / name}=" + ",".join(f"{v * 1e3:g}" for v in s)]
    argv += ["--stop-to-eye", "16"]
    # The offset camera sees less of the field than the eye: keep the profile's FOV limits
    # inside what it measured (the lens is written only over measured ground).
    from pathlib import Path

    base = json.loads(
        (Path(__file__).parents[1] / "calibration/profiles/generic-1440x1600.json").read_text()
    )
    base["fov_limits_deg"] = {"outer": 40, "inner": 40, "up": 40, "down": 40}
    (tmp_path / "base.json").write_text(json.dumps(base))
    argv += ["--base-profile", str(tmp_path / "base.json")]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "camera offset from the eye point (x right, y up, z away from the lens)" in out
    assert "not measured" in out  # FOV edges behind the stop's near side
    report = json.loads((tmp_path / "p_report" / "report.json").read_text())
    vp = report["viewpoint"]
    assert np.allclose(vp["camera_offset_mm"], OFFSET * 1e3, atol=0.5), vp
    assert abs(vp["image_distance_m"] - bench.image_distance_m) < 0.03
    assert vp["sensitivity"]["lens_arcmin_per_mm_lateral"] > 2.0
    fov = report["fov_measured"]
    assert fov["solid_angle_sr"] is None and None in [fov[f"{k}_deg"] for k in ("left", "right")]
    # `vrkit fov --measured` with that report: the same rotation and offset, from the eye point
    # (only the base captures: what they cannot see is not measured; here, no whole edge).
    argv_fov = ["fov", "--measured", str(tmp_path / "base"), "--pattern", str(tmp_path / "pattern")]
    argv_fov += ["--camera", str(tmp_path / "camera.json")]
    argv_fov += ["--from-report", str(tmp_path / "p_report" / "report.json")]
    assert main([*argv_fov, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["measured"]
    for k in ("left_deg", "right_deg", "up_deg", "down_deg"):
        if got[k] is not None and fov[k] is not None:
            assert got[k] == pytest.approx(fov[k], abs=0.05), (k, got, fov)
    assert got["solid_angle_sr"] is None  # the base position alone saw no whole edge here
    assert main(argv_fov) == 0
    text = capsys.readouterr().out
    assert "from the eye point" in text and "solid angle not measured" in text
    assert main([*argv_fov, "--camera-rotation=0,0,0"]) == 1
    assert "not both" in capsys.readouterr().err
    # A stage spec without an offset, and one for an eye without a pattern: one line each.
    bad = [*argv[: argv.index("--stage")], "--stage", str(tmp_path / "x3")]
    assert main(bad) == 1
    assert "is not FOLDER=X,Y,Z" in capsys.readouterr().err
    bad = [*argv[: argv.index("--stage")], "--stage", f"right:{tmp_path / 'x3'}=1,0,0"]
    assert main(bad) == 1
    assert "no --pattern is for it" in capsys.readouterr().err
