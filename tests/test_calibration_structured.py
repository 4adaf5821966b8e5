"""Gray-code structured light on an independent bench (tests/structured_gen.py).

The lens is a tabulated decentred, anamorphic f-theta-like mapping (not a vrkit model family),
the camera an equidistant fisheye written out in the generator, the captures blurred,
vignetted and noisy. vrkit only gets the pattern, the camera parameters and the images.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree
from structured_gen import StructuredBench

from vrkit.calibration.capture import write_captures_json, write_rgb
from vrkit.calibration.fit import ARCMIN, _rotation, fit_lens
from vrkit.calibration.graycode import decode_images, dense_observations, gray_to_binary
from vrkit.calibration.patterns import (
    PanelGeometry,
    PatternSet,
    make_structured_frames,
    render_frame,
)
from vrkit.cli import main
from vrkit.optics.profile import load_profile

PERIOD = 24


@pytest.fixture(scope="module")
def scene():
    bench = StructuredBench()
    panel = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)
    pattern = PatternSet(panel, make_structured_frames(panel, "white", PERIOD))
    images = {f.name: bench.capture(render_frame(panel, f)) for f in pattern.frames}
    maps = decode_images(images, pattern)
    return bench, panel, pattern, images, maps


def _truth_map(bench: StructuredBench, channel: int) -> np.ndarray:
    w, h = bench.camera.size
    ys, xs = np.mgrid[0:h, 0:w]
    px = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    tan, ok = bench.eye_tan(bench.camera.rays(px))
    out = np.full((len(px), 2), np.nan)
    out[ok] = bench.lens.panel_px(tan[ok], channel)
    x0, y0, vw, vh = bench.viewport
    inside = (out[:, 0] > x0) & (out[:, 0] < x0 + vw) & (out[:, 1] > y0) & (out[:, 1] < y0 + vh)
    out[~inside] = np.nan
    return out.reshape(h, w, 2)


def _model_error_arcmin(fit, bench: StructuredBench, panel: PanelGeometry) -> np.ndarray:
    """Angle between the true and the fitted eye direction of every visible field point."""
    truth = bench.truth_directions(1.0)
    R = bench.R_eye_cam @ _rotation(fit.rotation_vector).T  # fitted eye frame -> true eye frame
    t = np.concatenate([truth["tan"], -np.ones((len(truth["tan"]), 1))], axis=1)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    out = []
    for c in range(3):
        f = fit.lens.undistort(
            panel.px_to_tan(truth["panel_px"][c], fit.lens_centre_px), c, strict=False
        )
        d = np.concatenate([f, -np.ones((len(f), 1))], axis=1)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        out.append(np.arccos(np.clip(np.sum(t * (d @ R.T), axis=1), -1, 1)) / ARCMIN)
    return np.concatenate(out)


def test_gray_code_round_trip():
    s = np.arange(1 << 10)
    g = s ^ (s >> 1)
    bits = np.stack([(g >> (9 - b)) & 1 for b in range(10)]).astype(bool)
    assert np.array_equal(gray_to_binary(bits), s)


def test_dense_map_matches_the_truth(scene):
    bench, _, _, _, maps = scene
    assert [m.channel for m in maps] == [0, 1, 2]
    for m in maps:
        assert m.problems == []
        truth = _truth_map(bench, m.channel)
        seen = np.isfinite(truth[..., 0])
        v = m.valid
        assert not (v & ~seen).any()  # nothing decoded where the panel is not visible
        assert v.sum() > 0.95 * seen.sum()
        err = np.linalg.norm(m.panel_px[v] - truth[v], axis=1)
        # Per pixel, with noise 1.5 grey levels and blur 0.7 px: ~0.25 panel px RMS.
        assert np.sqrt(np.mean(err**2)) < 0.35
        assert np.percentile(err, 99.9) < 2.0


def test_grid_fit_to_dense_maps_and_wrong_model_flagged(scene):
    bench, panel, _, _, maps = scene
    obs = dense_observations(maps, 8)
    camera = bench.camera.to_vrkit()
    grid = fit_lens(obs, camera, panel, "grid", grid_knots=17)
    err = _model_error_arcmin(grid, bench, panel)
    assert np.sqrt(np.mean(err**2)) <= 0.5, np.sqrt(np.mean(err**2))
    assert grid.verdict().acceptable, grid.verdict().reasons
    # The grid's eye frame has the lens axis straight ahead: the lens centre undistorts to
    # (0, 0) (it was 0.39 deg off when the grid kept its radial base's rotation), and that axis
    # is the generator's (the radial base's centre was 1.1 panel px, 0.09 deg, off it).
    c = grid.lens_centre_px[None]
    ahead = grid.lens.undistort(panel.px_to_tan(c, grid.lens_centre_px), 1, strict=False)[0]
    assert np.degrees(np.hypot(*ahead)) < 0.02, np.degrees(ahead)
    axis = bench.R_eye_cam @ _rotation(grid.rotation_vector).T @ [0.0, 0.0, -1.0]
    assert np.degrees(np.arccos(-axis[2])) < 0.04, np.degrees(np.arccos(-axis[2]))
    # Radial on a decentred, anamorphic lens: never acceptable.
    radial = fit_lens(obs, camera, panel, "radial")
    v = radial.verdict()
    assert not v.acceptable and v.reasons[0].startswith("RMS ")
    # Dense covers the field: every point of the visible field's edge has a dense sample
    # within 2 degrees.
    cam_px, _ = maps[1].samples(8)
    tan, ok = bench.eye_tan(bench.camera.rays(cam_px))
    assert ok.all()
    samples = np.degrees(np.arctan(tan))
    truth = np.degrees(np.arctan(bench.truth_directions(0.5)["tan"]))
    tree = cKDTree(samples)
    edge = _edge_points(truth, 0.5)
    dist, _ = tree.query(edge)
    assert len(edge) > 100 and dist.max() < 2.0, dist.max()
    # And the centre is not biased: within 15 degrees the grid model is within 0.2 arcmin.
    truth_all = bench.truth_directions(1.0)
    r = np.degrees(np.arctan(np.hypot(*truth_all["tan"].T)))
    centre = np.tile(r < 15, 3)
    assert np.sqrt(np.mean(err[centre] ** 2)) < 0.2


def _edge_points(field_deg: np.ndarray, step: float) -> np.ndarray:
    """Grid points of a field sample that miss a 4-neighbour: the visible field's edge."""
    key = {tuple(np.round(p / step).astype(int)) for p in field_deg}
    edge = []
    for p in field_deg:
        i, j = np.round(p / step).astype(int)
        if any((i + a, j + b) not in key for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))):
            edge.append(p)
    return np.asarray(edge)


def test_missing_and_out_of_order_frames_are_named_and_nothing_is_decoded(scene):
    _, _, pattern, images, _ = scene
    missing = dict(images)
    missing["sl_white_x_g03"] = None
    for m in decode_images(missing, pattern):
        assert m.valid.sum() == 0
        assert any("sl_white_x_g03 missing" in p for p in m.problems), m.problems
    swapped = dict(images)
    for suffix in ("", "i"):
        a, b = f"sl_white_y_g03{suffix}", f"sl_white_y_g04{suffix}"
        swapped[a], swapped[b] = images[b], images[a]
    for m in decode_images(swapped, pattern):
        assert m.valid.sum() == 0
        named = [p for p in m.problems if "out of order" in p]
        assert any("sl_white_y_g03 " in p for p in named), m.problems
        assert any("sl_white_y_g04 " in p for p in named), m.problems


def test_camera_moved_between_patterns_is_named(scene):
    _, _, pattern, images, _ = scene
    moved = dict(images)
    names = [f.name for f in pattern.frames]
    # The camera slipped 3 pixels right before the y axis's fifth Gray-code frame.
    for n in names[names.index("sl_white_y_g02") :]:
        moved[n] = np.roll(images[n], 3, axis=1)
    for m in decode_images(moved, pattern):
        assert m.valid.sum() == 0
        assert any("the camera moved" in p for p in m.problems), m.problems


def test_shadow_region_is_named_and_masked_the_rest_stands(scene):
    bench, _, pattern, images, _ = scene
    h, w = images["sl_white_white"].shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    shade = np.hypot(xx - 380, yy - 200) < 22  # something in front of the lens
    shadowed = {k: np.where(shade[..., None], 0, v).astype(np.uint8) for k, v in images.items()}
    for m in decode_images(shadowed, pattern):
        assert not m.valid[shade].any()
        (p,) = [p for p in m.problems if "shadow" in p]
        n_px = int(re.search(r"shadow: (\d+) camera pixels", p).group(1))
        assert shade.sum() <= n_px < shade.sum() + 20, p
        assert "camera x 359..401, y 179..221" in p
        truth = _truth_map(bench, m.channel)
        err = np.linalg.norm(m.panel_px[m.valid] - truth[m.valid], axis=1)
        assert (
            np.sqrt(np.mean(err**2)) < 0.35
            and m.valid.sum() > 0.9 * np.isfinite(truth[..., 0]).sum()
        )


def _true_fov(bench: StructuredBench, channel: int = 1) -> dict[str, float]:
    """The generator's own visible field: inside the stop, the viewport and the camera."""
    x0, y0, vw, vh = bench.viewport
    w, h = bench.camera.size

    def visible(tan: np.ndarray) -> np.ndarray:
        p = bench.lens.panel_px(tan, channel)
        ok = bench.lens.inside_stop(tan)
        ok &= (p[:, 0] > x0) & (p[:, 0] < x0 + vw) & (p[:, 1] > y0) & (p[:, 1] < y0 + vh)
        cam = np.concatenate([tan, -np.ones((len(tan), 1))], axis=1) @ bench.R_eye_cam
        px = bench.camera.project(cam)
        return ok & (px[:, 0] > 0) & (px[:, 0] < w - 1) & (px[:, 1] > 0) & (px[:, 1] < h - 1)

    out = {}
    for name, phi in (("right", 0.0), ("up", np.pi / 2), ("left", np.pi), ("down", -np.pi / 2)):
        lo, hi = 0.0, 89.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            t = np.tan(np.radians(mid)) * np.array([[np.cos(phi), np.sin(phi)]])
            lo, hi = (mid, hi) if visible(t)[0] else (lo, mid)
        out[name] = lo
    hstep = np.tan(np.radians(0.04))
    g = np.arange(-1.6, 1.6, hstep) + hstep / 2
    gx, gy = np.meshgrid(g, g)
    tan = np.stack([gx.ravel(), gy.ravel()], axis=1)
    d_omega = hstep**2 / (1 + tan[:, 0] ** 2 + tan[:, 1] ** 2) ** 1.5
    out["solid_angle_sr"] = float(np.sum(d_omega[visible(tan)]))
    return out


def test_fov_measured_through_the_lens(scene):
    from vrkit.calibration.fovmeasure import binocular_overlap_deg, measure_fov

    bench, _, _, _, maps = scene
    green = maps[1]
    fov = measure_fov(green.contrast, bench.camera.to_vrkit(), bench.R_eye_cam)
    truth = _true_fov(bench, 1)
    for side in ("left", "right", "up", "down"):
        assert abs(getattr(fov, side) - truth[side]) < 0.2, (side, getattr(fov, side), truth)
    assert abs(fov.solid_angle_sr / truth["solid_angle_sr"] - 1) < 0.01
    # Parallel eyes, the right one the mirror image of the left: overlap = the inner edges.
    mirror = type(fov)(fov.right, fov.left, fov.up, fov.down, fov.solid_angle_sr, fov.contour_deg)
    t_overlap = truth["right"] + truth["right"]
    assert abs(binocular_overlap_deg(fov, mirror) - t_overlap) < 0.3


def _model_error_vectors_arcmin(fit, bench: StructuredBench, panel: PanelGeometry) -> np.ndarray:
    """(3, N, 2) fitted minus true eye direction of every visible field point, arcmin.

    The difference is taken in the plane normal to the true direction (x right, y up), so a
    mean over a region shows a bias that an RMS of angles would hide.
    """
    truth = bench.truth_directions(1.0)
    R = bench.R_eye_cam @ _rotation(fit.rotation_vector).T
    t = np.concatenate([truth["tan"], -np.ones((len(truth["tan"]), 1))], axis=1)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    out = []
    for c in range(3):
        f = fit.lens.undistort(
            panel.px_to_tan(truth["panel_px"][c], fit.lens_centre_px), c, strict=False
        )
        d = np.concatenate([f, -np.ones((len(f), 1))], axis=1)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        d = d @ R.T
        diff = d - t * np.sum(d * t, axis=1, keepdims=True)
        out.append(diff[:, :2] / ARCMIN)
    return np.stack(out)


def _dot_observations(bench: StructuredBench, panel: PanelGeometry):
    """Dot-grid captures of the same lens through the same camera, detected by vrkit."""
    from vrkit.calibration.detect import detect_frame
    from vrkit.calibration.fit import Observations
    from vrkit.calibration.patterns import make_pattern_set

    pattern = make_pattern_set(panel, ("dots",), ("red", "green", "blue"))
    cam, pan, ch, src = [], [], [], []
    for f in pattern.frames:
        img = bench.capture(render_frame(panel, f))
        for c in f.channels():
            det = detect_frame(img[..., c].astype(np.float32), f)
            cam.append(det.camera_px)
            pan.append(f.features[det.feature_index])
            ch.append(np.full(len(det.camera_px), c, np.int64))
            src.append(np.full(len(det.camera_px), f.name))
    return Observations(
        np.concatenate(cam), np.concatenate(pan), np.concatenate(ch), np.concatenate(src)
    )


def test_dense_vs_dots_on_the_same_lens(scene):
    """Dense reaches the visible edge where dots stop short, and agrees with dots at the centre."""
    bench, panel, _, _, maps = scene
    camera = bench.camera.to_vrkit()
    dense_obs = dense_observations(maps, 8)
    dots_obs = _dot_observations(bench, panel)
    # Coverage, in the true eye frame: the gap from each visible-edge point to the nearest
    # measured green sample.
    edge = _edge_points(np.degrees(np.arctan(bench.truth_directions(0.5)["tan"])), 0.5)
    gaps = {}
    for name, obs in (("dense", dense_obs), ("dots", dots_obs)):
        cam_px = obs.camera_px[obs.channel == 1]
        tan, ok = bench.eye_tan(bench.camera.rays(cam_px))
        assert ok.all()
        gaps[name] = cKDTree(np.degrees(np.arctan(tan))).query(edge)[0].max()
    assert len(edge) > 100
    assert gaps["dense"] < 2.0 and gaps["dots"] > gaps["dense"] + 1.0, gaps
    # Centre: the dense fit does not pull the centre (mean error vector within 10 degrees of
    # the axis), and dense and dots agree there.
    fits = {
        name: fit_lens(obs, camera, panel, "grid", grid_knots=17)
        for name, obs in (("dense", dense_obs), ("dots", dots_obs))
    }
    r = np.degrees(np.arctan(np.hypot(*bench.truth_directions(1.0)["tan"].T)))
    centre = r < 10
    vec = {k: _model_error_vectors_arcmin(f, bench, panel)[:, centre] for k, f in fits.items()}
    bias = {k: np.linalg.norm(v.reshape(-1, 2).mean(axis=0)) for k, v in vec.items()}
    agree = np.sqrt(np.mean(np.sum((vec["dense"] - vec["dots"]) ** 2, axis=-1)))
    assert bias["dense"] < 0.1 and agree < 0.3, (bias, agree, gaps)


def _right_eye_bench() -> StructuredBench:
    """The left eye's bench mirrored about the panel's centre line: a right eye."""
    from structured_gen import TabulatedLens

    left = TabulatedLens()
    lens = TabulatedLens(
        centre_px=(2880 - left.centre_px[0], left.centre_px[1]),
        prism=(-left.prism[0], left.prism[1]),
    )
    return StructuredBench(
        lens=lens, viewport=(1440, 0, 1440, 1600), rotation_deg=(0.5, 0.8, -0.3), seed=9
    )


def _true_overlap_deg(left: StructuredBench, right: StructuredBench) -> float:
    """Horizontal-meridian directions both eyes see (parallel axes, at infinity), brute force."""
    a = np.radians(np.arange(-70.0, 70.0, 0.005))
    tan = np.stack([np.tan(a), np.zeros_like(a)], axis=1)
    both = _visible(left, tan, 1) & _visible(right, tan, 1)
    return float(both.sum() * 0.005)


def _visible(bench: StructuredBench, tan: np.ndarray, channel: int) -> np.ndarray:
    x0, y0, vw, vh = bench.viewport
    w, h = bench.camera.size
    p = bench.lens.panel_px(tan, channel)
    ok = bench.lens.inside_stop(tan)
    ok &= (p[:, 0] > x0) & (p[:, 0] < x0 + vw) & (p[:, 1] > y0) & (p[:, 1] < y0 + vh)
    cam = np.concatenate([tan, -np.ones((len(tan), 1))], axis=1) @ bench.R_eye_cam
    px = bench.camera.project(cam)
    return ok & (px[:, 0] > 0) & (px[:, 0] < w - 1) & (px[:, 1] > 0) & (px[:, 1] < h - 1)


def test_calibrate_lens_both_eyes_in_one_run(scene, tmp_path, capsys):
    """Both eyes through the command, each against the generator's truth; the report's checks.

    Left: the scene's lens. Right: that lens mirrored, with another camera rotation.
    """
    left, _, _, left_images, _ = scene
    right = _right_eye_bench()
    profile = load_profile("generic-1440x1600")
    argv = ["calibrate", "lens", "--model", "grid,radial", "--grid-knots", "17"]
    for eye, bench in (("left", left), ("right", right)):
        panel = PanelGeometry.from_profile(profile, 0 if eye == "left" else 1)
        pattern = PatternSet(panel, make_structured_frames(panel, "white", PERIOD))
        pattern.save(tmp_path / f"pattern_{eye}")
        caps = tmp_path / f"captures_{eye}"
        caps.mkdir()
        files = {}
        for f in pattern.frames:
            img = left_images[f.name] if eye == "left" else bench.capture(render_frame(panel, f))
            write_rgb(caps / f"{f.name}.png", img)
            files[f.name] = f"{f.name}.png"
        if eye == "left":  # one frame lost first
            write_captures_json(caps, {k: v for k, v in files.items() if k != "sl_white_x_g05i"})
            left_files = files
        else:
            write_captures_json(caps, files)
        argv += ["--captures", str(caps), "--pattern", str(tmp_path / f"pattern_{eye}")]
    left.camera.to_vrkit().save(tmp_path / "camera.json")
    # The lens's field stop (52 deg) cuts inside the panel: the profile's FOV limits must stay
    # inside the measured field.
    base = json.loads(
        (Path(__file__).parents[1] / "calibration/profiles/generic-1440x1600.json").read_text()
    )
    base["fov_limits_deg"] = {"outer": 45, "inner": 45, "up": 45, "down": 45}
    (tmp_path / "base.json").write_text(json.dumps(base))
    argv += [
        "--camera",
        str(tmp_path / "camera.json"),
        "--base-profile",
        str(tmp_path / "base.json"),
    ]
    argv += ["--out", str(tmp_path / "p.json")]
    # One pattern short: named, nothing fitted.
    assert main(argv[:-8] + argv[-6:]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "--captures given 2 time(s) and --pattern 1 time(s); give one --captures and one "
            "--pattern per eye (at most two), in the same order"
        )
    )
    # A Gray-code frame missing: named, its map not decoded, nothing fitted or written.
    assert main(argv) == 1
    err = capsys.readouterr()
    assert "frame(s) sl_white_x_g05i missing: map not decoded" in err.out
    assert "no valid decoded pixels in the structured-light captures" in err.err
    assert not (tmp_path / "p.json").exists()
    write_captures_json(tmp_path / "captures_left", left_files)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "--- left eye" in out and "--- right eye" in out and "binocular overlap: measured" in out
    # The wrong model is flagged; the grid is written.
    assert "NOT acceptable" in out and "camera offset from the eye point: not measured" in out
    written = json.loads((tmp_path / "p.json").read_text())
    assert set(written["lenses"]) == {"left", "right"}
    report = json.loads((tmp_path / "p_report" / "report.json").read_text())
    got = {}
    for eye, bench in (("left", left), ("right", right)):
        rep = report["eyes"][eye]
        assert [d["channel"] for d in rep["dense_maps"]] == ["red", "green", "blue"]
        rows = {r["model"]: r for r in rep["comparison"]}
        assert rows["grid"]["acceptable"] and not rows["radial"]["acceptable"], eye
        # One camera position: the offset is not measured, and the report says what it can do.
        assert rep["viewpoint"]["measured"] is False
        assert "3.4 arcmin at 1 m" in rep["viewpoint"]["sensitivity"]
        fov = rep["fov_measured"]
        truth = _true_fov(bench, 1)
        got[eye] = {s: fov[f"{s}_deg"] - truth[s] for s in ("left", "right", "up", "down")}
        assert (tmp_path / "p_report" / f"fov_contour_{eye}.png").stat().st_size > 5_000
    truth_overlap = _true_overlap_deg(left, right)
    overlap = report["binocular"]["measured_overlap_deg"]
    assert report["binocular"]["predicted_overlap_deg"] > 0
    errors = [abs(e) for g in got.values() for e in g.values()]
    # Measured: left eye within 0.07 deg, right eye within 0.15 (its inner edge, of which 0.13
    # is the edge measurement itself: the same with the generator's own rotation); overlap
    # 0.14 off. The goal: 0.2 deg per edge, 0.3 deg overlap.
    assert max(errors) < 0.2 and abs(overlap - truth_overlap) < 0.3, (got, overlap, truth_overlap)
    # `vrkit fov --measured` on the left captures: the fitted rotation given by hand, or read
    # from the report, gives the report's FOV.
    fov = report["eyes"]["left"]["fov_measured"]
    plot = tmp_path / "fov.png"
    caps = tmp_path / "captures_left"
    argv = ["fov", "--measured", str(caps), "--pattern", str(tmp_path / "pattern_left"), "--json"]
    argv += ["--camera", str(tmp_path / "camera.json"), "--plot", str(plot)]
    rv = fov["camera_rotation_vector_rad"]  # the fit's, turned onto the lens axis
    assert main([*argv, "--camera-rotation=" + ",".join(f"{v:.9f}" for v in rv)]) == 0
    got_fov = json.loads(capsys.readouterr().out)
    assert got_fov["measured"]["solid_angle_sr"] == pytest.approx(fov["solid_angle_sr"])
    assert main([*argv, "--from-report", str(tmp_path / "p_report" / "report.json")]) == 0
    got_fov = json.loads(capsys.readouterr().out)
    assert got_fov["measured"]["solid_angle_sr"] == pytest.approx(fov["solid_angle_sr"])
    assert got_fov["eye"] == "left" and plot.stat().st_size > 5_000
    assert main(["fov", "--measured", str(caps)]) == 1
    assert capsys.readouterr().err.strip().endswith("--measured needs --pattern and --camera")
