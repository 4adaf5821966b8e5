"""Project North Star v2 calibrations and Monado's north_star config: import, export, drawing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import DataError
from vrkit.core.types import Fov
from vrkit.interop.formats import export_profile, import_profile
from vrkit.interop.northstar import profile_from_northstar
from vrkit.optics.profile import load_profile, profile_from_dict

DATA = Path(__file__).parent / "data" / "interop" / "northstar"
FILES = sorted(DATA.glob("*.json"))
KEYS = ("left_uv_to_rect_x", "left_uv_to_rect_y", "right_uv_to_rect_x", "right_uv_to_rect_y")


def monado_ns_p2d(cal: dict, view: int, u: float, v: float, fov: Fov) -> tuple[float, float]:
    """Monado's u_compute_distortion_ns_p2d written out from its source (not from vrkit).

    ns_p2d_parse stores left_uv_to_rect_x in y_coefficients_right, left_uv_to_rect_y in
    x_coefficients_right, right_* in the *_left arrays; view 0 reads the *_right arrays.
    u_ns_polyval2d(X, Y, C) = sum over i, j of C[4 i + j] X^i Y^j. (u, v): Monado's viewport
    coordinates; the result is the eye-texture coordinate for an eye rendered with ``fov``.
    """
    eye = "left" if view == 0 else "right"
    x_coeffs = cal[f"{eye}_uv_to_rect_y"]
    y_coeffs = cal[f"{eye}_uv_to_rect_x"]
    v = 1.0 - v

    def polyval2d(X, Y, C):
        return sum(C[4 * i + j] * X**i * Y**j for i in range(4) for j in range(4))

    x_ray = polyval2d(u, v, x_coeffs)
    y_ray = polyval2d(u, v, y_coeffs)
    left, right = math.tan(fov.angle_left), math.tan(fov.angle_right)
    up, down = math.tan(fov.angle_up), math.tan(fov.angle_down)
    # math_map_ranges(value, from_low, from_high, to_low, to_high)
    return (x_ray - left) / (right - left), (y_ray - down) / (up - down)


@pytest.fixture(scope="module")
def ns64():
    return import_profile(str(DATA / "25cm-64mm-NorthStarCalibration.json"))


def test_every_public_calibration_imports(ns64):
    for path in FILES:
        result = import_profile(str(path))
        prof = result.profile
        assert result.fmt == "northstar" and prof.lens(0).kind == "north_star"
        assert prof.lens(0).axis_signs == (1, -1)  # the combiner shows the panel upside down
        for eye in (0, 1):
            fov = prof.eye_fov(eye).degrees()
            assert 15 < fov["right"] - fov["left"] < 90 and 20 < fov["up"] - fov["down"] < 90
    assert ns64.profile.ipd_default_m == 0.064
    assert ns64.profile.resolution_px == (2880, 1600)


def test_lens_equals_monados_formula_at_sample_points(ns64):
    cal = json.loads((DATA / "25cm-64mm-NorthStarCalibration.json").read_text())
    prof = ns64.profile
    rng = np.random.default_rng(3)
    uv = rng.uniform(0, 1, (200, 2))
    for eye in (0, 1):
        lens = prof.lens(eye)
        left, right, bottom, top = prof.viewport_extent_tan(eye)
        panel = np.stack([left + uv[:, 0] * (right - left), bottom + uv[:, 1] * (top - bottom)], 1)
        fov = Fov(-0.7, 0.7, 0.7, -0.7)  # Monado's default when the file has no fov
        ideal = lens.undistort(panel)
        tl, tr, tu, td = fov.tangents()
        ours = np.stack([(ideal[:, 0] - tl) / (tr - tl), (ideal[:, 1] - td) / (tu - td)], 1)
        theirs = np.array([monado_ns_p2d(cal, eye, u, v, fov) for u, v in uv])
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_baked_mesh_matches_monado(ns64):
    # The mesh vrkit's panel pass draws holds, at every vertex, the texture coordinate Monado's
    # compute_distortion gives for that point of the viewport (float32 mesh).
    from vrkit.optics.mesh import bake_eye_mesh

    cal = json.loads((DATA / "25cm-64mm-NorthStarCalibration.json").read_text())
    prof = ns64.profile
    fov = Fov(-0.35, 0.3, 0.33, -0.36)  # within the lens range bake_eye_mesh accepts
    for eye in (0, 1):
        uv_map = lambda e, uv: prof.panel_to_eye_uv(e, uv, fov)  # noqa: E731
        mesh = bake_eye_mesh(uv_map, eye, (12, 10), skip_black=False)
        for vx, vy, u_tex, v_tex in mesh.vertices[:, :4].astype(float):
            want = monado_ns_p2d(cal, eye, (vx + 1) / 2, (vy + 1) / 2, fov)
            assert (u_tex, v_tex) == pytest.approx(want, abs=2e-6)


def test_fov_key_becomes_the_lens_limits(tmp_path):
    cal = json.loads((DATA / "25cm-64mm-NorthStarCalibration.json").read_text())
    cal["fov"] = [-0.45, 0.4, 0.42, -0.47]  # Monado's LRTB radians
    data, _ = profile_from_northstar(cal)
    lim = data["fov_limits_deg"]
    assert lim["outer"] == pytest.approx(math.degrees(0.45))
    assert lim["inner"] == pytest.approx(math.degrees(0.4))
    assert lim["up"] == pytest.approx(math.degrees(0.42))
    assert lim["down"] == pytest.approx(math.degrees(0.47))
    cal["fov"] = 0.5  # one half-angle
    data, _ = profile_from_northstar(cal)
    assert list(data["fov_limits_deg"].values()) == pytest.approx([math.degrees(0.5)] * 4)


def test_round_trip_is_exact(ns64, tmp_path):
    cal = json.loads((DATA / "25cm-64mm-NorthStarCalibration.json").read_text())
    exported = json.loads(export_profile(ns64.profile, "northstar").text)
    for key in KEYS:
        assert exported[key] == cal[key]  # coefficients pass through untouched
    assert exported["baseline"] == cal["baseline"]
    path = tmp_path / "ns.json"
    path.write_text(json.dumps(exported))
    again = import_profile(str(path)).profile.to_dict()
    first = ns64.profile.to_dict()
    again.pop("source"), first.pop("source")  # names the file it came from
    assert again == first


def test_monado_config_of_a_north_star_profile(ns64):
    cfg = json.loads(export_profile(ns64.profile, "monado").text)
    assert all(k in cfg for k in KEYS) and cfg["baseline"] == 64.0
    left, right, up, down = cfg["fov"]
    fovs = [ns64.profile.eye_fov(e) for e in (0, 1)]
    assert left == min(f.angle_left for f in fovs) and right == max(f.angle_right for f in fovs)
    assert up == max(f.angle_up for f in fovs) and down == min(f.angle_down for f in fovs)


def test_monado_mesh_grid_of_another_lens():
    # A Cardboard lens has no North Star cubic form, so Monado gets Moses Turner's mesh grid:
    # rows from the viewport's bottom, [x, y] ray tangents, bilinear in between.
    prof = load_profile("cardboard-v1")
    exp = export_profile(prof, "monado")
    cfg = json.loads(exp.text)
    assert cfg["type"] == "Moses Turner's distortion correction" and cfg["version"] == 2
    n = cfg["num_grid_points_x"]
    grid = np.array(cfg["left"]["grid"])
    assert grid.shape == (cfg["num_grid_points_y"], n, 2)
    left, right, bottom, top = prof.viewport_extent_tan(0)
    for iv, iu in ((0, 0), (n // 2, n // 3), (n - 1, n - 1), (n // 4, n - 2)):
        u, v = iu / (n - 1), iv / (n - 1)
        p = np.array([[left + u * (right - left), bottom + v * (top - bottom)]])
        want = prof.lens(0).undistort(p, 1, strict=False)[0]
        if np.all(np.isfinite(want)):
            np.testing.assert_allclose(grid[iv, iu], want, atol=1e-8)
    assert any("mesh grid" in note and "arcmin" in note for note in exp.notes)


def test_other_lenses_export_to_the_calibrator_format_or_are_refused():
    with pytest.raises(DataError, match=r"no North Star cubic form within 1\.0 arcmin"):
        export_profile(load_profile("cardboard-v1"), "northstar")
    # A mild lens is within reach of the cubics; the fit error is reported.
    data = load_profile("cardboard-v1").to_dict()
    data["lenses"]["left"] = {"kind": "radial", "k": [0.02]}
    exp = export_profile(profile_from_dict(data), "northstar")
    assert any("fitted with the cubics, error" in n for n in exp.notes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["left_uv_to_rect_x"].pop(),
         r"\$.left_uv_to_rect_x: expected an array of 16 items, got 15"),
        (lambda d: d.pop("right_uv_to_rect_y"), r"required field\(s\) \['right_uv_to_rect_y'\]"),
        (lambda d: d.update(baseline="64"),
         r"\$.baseline: expected a number >= 10 <= 250, got '64'"),
        (lambda d: d.update(baseline=6400),
         r"\$.baseline: expected a number >= 10 <= 250, got 6400"),
        (lambda d: d.update(fov=[0.5, -0.5, 0.5, -0.5]), "is not \\[left, right, up, down\\]"),
    ],
)  # fmt: skip
def test_bad_files_fail_in_one_line_and_write_nothing(tmp_path, capsys, edit, message):
    cal = json.loads((DATA / "25cm-64mm-NorthStarCalibration.json").read_text())
    edit(cal)
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(cal))
    out = tmp_path / "p.json"
    code = main(["profile", "import", str(src), "--format", "northstar", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and __import__("re").search(message, err), err


@pytest.mark.slow
def test_north_star_profile_runs_headless(tmp_path, capsys):
    # `vrkit run --profile` with an imported North Star profile: the panel pass uses it.
    prof_path = tmp_path / "ns.json"
    assert main(["profile", "import", str(FILES[1]), "--out", str(prof_path)]) == 0
    run_dir = tmp_path / "run"
    scene = Path(__file__).resolve().parents[1] / "examples" / "optics_pattern.py"
    code = main(
        ["run", str(scene), "--profile", str(prof_path), "--backend", "headless",
         "--frames", "1", "--out", str(run_dir)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    run = json.loads((run_dir / "run.json").read_text())
    assert run["distorted"] and run["frames_rendered"] == 1
    want = load_profile(prof_path).eye_fov(0).to_dict()
    for key, value in want.items():
        assert run["fov"][0][key] == pytest.approx(value, abs=1e-9)


@pytest.mark.slow
def test_closed_loop_through_the_north_star_mesh(gl, ns64):
    # The closed loop of test_distortion_pass with an imported North Star profile: dots drawn
    # in the eye image, composed onto the panel through the baked mesh (real GL), undone with
    # the lens model's numpy inverse, land within half a panel pixel of where they were drawn,
    # the flipped vertical axis included.
    from test_distortion_pass import (
        compose,
        dot_grid,
        measured_centres,
        panel_px_error,
        undistort_panel,
    )

    profile = ns64.profile
    eye_size = (720, 832)  # about half the panel's density: keeps the numpy inverse quick
    img, centres = dot_grid(*eye_size)
    panel, layout = compose(gl, profile, [img, img])
    for eye in (0, 1):
        fov = layout.fovs[eye]
        rebuilt = undistort_panel(profile, eye, panel, fov, eye_size, channel=1)
        truth, found = measured_centres(rebuilt, centres, profile, eye, fov, eye_size)
        assert len(truth) > 100, f"only {len(truth)} dots on the panel"
        err = panel_px_error(profile, eye, fov, eye_size, found, truth)
        assert err.max() < 0.5, f"eye {eye}: worst dot off by {err.max():.3f} panel px"
    # Undone without the flip (the same polynomial mirrored top to bottom), dots land far off.
    flipped = profile.to_dict()
    for lens in flipped["lenses"].values():
        c = np.array(lens["uv_to_rect_x"]).reshape(4, 4)
        lens["uv_to_rect_x"] = (-c).ravel().tolist()
    wrong = profile_from_dict(flipped)
    fov = layout.fovs[0]
    rebuilt = undistort_panel(wrong, 0, panel, fov, eye_size, channel=1)
    truth, found = measured_centres(rebuilt, centres, profile, 0, fov, eye_size)
    ok = np.all(np.isfinite(found), 1)
    assert not ok.all() or np.nanmax(np.linalg.norm(found[ok] - truth[ok], axis=1)) > 5
