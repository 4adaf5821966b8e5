"""Lens models: round trips, frozen references, usable range, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from vrkit.core.errors import InputError, ProfileError
from vrkit.optics.models import (
    BrownConradyLens,
    GridLens,
    PanotoolsLens,
    RadialPolynomialLens,
    lens_model_from_dict,
)

DK1_UNIT = 0.14976 / 4 / 0.041  # half the eye viewport width over the eye-to-screen distance


def _disc(radius: float, n: int = 4000, seed: int = 0) -> np.ndarray:
    """Random points filling a disc, plus points on its rim and the centre."""
    rng = np.random.default_rng(seed)
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    a = rng.uniform(0, 2 * np.pi, n)
    rim_a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    pts = np.concatenate(
        [
            np.stack([r * np.cos(a), r * np.sin(a)], 1),
            radius * np.stack([np.cos(rim_a), np.sin(rim_a)], 1),
            [[0.0, 0.0]],
        ]
    )
    return pts


def _grid_lens() -> GridLens:
    x = np.linspace(-1.2, 1.2, 13)
    y = np.linspace(-1.0, 1.0, 11)
    gx, gy = np.meshgrid(x, y)
    r2 = gx**2 + gy**2
    # Aspheric, not radially symmetric, decentred: ideal - panel.
    base = np.stack([0.25 * gx * r2 + 0.03 * gy**2, 0.32 * gy * r2 + 0.02 * gx * gy], -1)
    return GridLens(x, y, np.stack([base * 0.97 + 0.001, base, base * 1.03 - 0.001]))


MODELS = {
    "cardboard_v1": lambda: RadialPolynomialLens([0.441, 0.156]),
    "radial_negative": lambda: RadialPolynomialLens([-0.3, 0.02], channel_scale=[0.99, 1, 1.01]),
    "dk1": lambda: PanotoolsLens([1.0, 0.22, 0.24, 0.0], [0.996, -0.004, 1.014, 0.0], DK1_UNIT),
    "panotools_abcd": lambda: PanotoolsLens([0.02, -0.05, 0.1, 0.93], unit=0.9, form="panotools"),
    "brown_conrady": lambda: BrownConradyLens([-0.28, 0.07, 0.0012, -0.0009, -0.006]),
    "brown_conrady_rational_rgb": lambda: BrownConradyLens(
        {
            "red": [0.1, -0.02, 0.0, 0.0, 0.003, 0.4, 0.05, 0.001],
            "green": [0.11, -0.02, 0.0005, 0.0, 0.003, 0.4, 0.05, 0.001],
            "blue": [0.12, -0.02, 0.0, 0.0005, 0.003, 0.4, 0.05, 0.001],
        }
    ),
    "grid": _grid_lens,
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("channel", [0, 1, 2])
def test_round_trip_over_usable_range(name, channel):
    model = MODELS[name]()
    ideal = _disc(model.max_radius)
    panel = model.distort(ideal, channel)
    assert np.max(np.abs(model.undistort(panel, channel) - ideal)) <= 1e-6
    # And the other way, from panel points inside the usable panel disc.
    panel2 = _disc(model.max_panel_radius * 0.999, seed=1)
    back = model.distort(model.undistort(panel2, channel), channel)
    assert np.max(np.abs(back - panel2)) <= 1e-6


@pytest.mark.parametrize("name", sorted(MODELS))
def test_out_of_range_raises_and_nan_when_not_strict(name):
    model = MODELS[name]()
    far = np.array([[0.0, 0.0], [model.max_radius * 1.5 + 0.5, 0.2]])
    if name != "grid" and model.max_radius >= 19.99:
        far = np.array([[0.0, 0.0], [25.0, 0.0]])
    with pytest.raises(InputError, match="outside the lens model's usable range"):
        model.distort(far, 1)
    out = model.distort(far, 1, strict=False)
    assert np.all(np.isfinite(out[0])) and np.all(np.isnan(out[1]))
    with pytest.raises(ValueError, match="usable range"):
        model.undistort([[0.0, 0.0], [model.max_panel_radius * 3 + 25.0, 0.0]], 1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_to_dict_round_trip(name):
    model = MODELS[name]()
    again = lens_model_from_dict(model.to_dict())
    pts = _disc(model.max_radius * 0.9, n=200)
    for c in range(3):
        assert np.array_equal(again.distort(pts, c), model.distort(pts, c))


def test_shapes_are_preserved():
    model = MODELS["cardboard_v1"]()
    pts = np.zeros((4, 5, 2)) + 0.1
    assert model.distort(pts).shape == (4, 5, 2)
    assert model.undistort(np.array([0.1, 0.2])).shape == (2,)


def test_cardboard_closed_form():
    # Cardboard SDK PolynomialRadialDistortion::Distort: p * (1 + K1 r^2 + K2 r^4), r = |p|.
    model = RadialPolynomialLens([0.441, 0.156])
    p = np.array([[0.3, -0.4]])
    r2 = 0.25
    np.testing.assert_allclose(model.undistort(p), p * (1 + 0.441 * r2 + 0.156 * r2**2), rtol=1e-15)


def test_negative_k_fold_defines_the_range():
    model = RadialPolynomialLens([-0.3, 0.02])
    # g(r) = r - 0.3 r^3 + 0.02 r^5; slope 1 - 0.9 r^2 + 0.1 r^4 falls to 0.01 at r_lim.
    r = model.max_panel_radius
    assert abs(1 - 0.9 * r**2 + 0.1 * r**4 - 0.01) < 1e-9
    assert model.max_radius == pytest.approx(r - 0.3 * r**3 + 0.02 * r**5, rel=1e-12)


def test_brown_conrady_matches_frozen_opencv_values():
    # Frozen with opencv-python-headless 5.0.0:
    #   D = np.array([-0.28, 0.07, 0.0012, -0.0009, -0.006])
    #   obj = np.c_[ideal, np.ones(4)]
    #   cv2.projectPoints(obj, np.zeros(3), np.zeros(3), np.eye(3), D)[0].reshape(-1, 2)
    ideal = np.array([[0.1, 0.2], [-0.5, 0.3], [0.7, -0.6], [-0.9, -0.1]])
    frozen_panel = np.array(
        [
            [0.09860242500000002, 0.19735485],
            [-0.457444088, 0.2746908528],
            [0.563568175, -0.48269415000000004],
            [-0.7347238128, -0.0805699792],
        ]
    )
    model = BrownConradyLens([-0.28, 0.07, 0.0012, -0.0009, -0.006])
    np.testing.assert_allclose(model.distort(ideal), frozen_panel, atol=1e-12)
    # cv2.undistortPoints(frozen_panel[:, None], np.eye(3), D, criteria=(COUNT|EPS, 200, 1e-15))
    # returns ideal to 1.4e-15; our damped Newton must do at least as well as 1e-12.
    np.testing.assert_allclose(model.undistort(frozen_panel), ideal, atol=1e-12)


def test_brown_conrady_rational_matches_frozen_opencv_values():
    # Frozen with opencv-python-headless 5.0.0, 8-coefficient rational model:
    #   D8 = np.array([0.1, -0.02, 0.0, 0.0, 0.003, 0.4, 0.05, 0.001])
    #   cv2.projectPoints(np.c_[ideal, np.ones(4)], np.zeros(3), np.zeros(3), np.eye(3), D8)
    ideal = np.array([[0.1, 0.2], [-0.5, 0.3], [0.7, -0.6], [-0.9, -0.1]])
    frozen = np.array(
        [
            [0.098512461890398, 0.197024923780796],
            [-0.451825393205999, 0.2710952359235994],
            [0.5452555599449533, -0.4673619085242457],
            [-0.7070956828392242, -0.07856618698213602],
        ]
    )
    model = BrownConradyLens([0.1, -0.02, 0.0, 0.0, 0.003, 0.4, 0.05, 0.001])
    np.testing.assert_allclose(model.distort(ideal), frozen, atol=1e-12)
    np.testing.assert_allclose(model.undistort(frozen), ideal, atol=1e-12)


def test_brown_conrady_against_live_opencv():
    cv2 = pytest.importorskip("cv2")
    D = np.array([-0.21, 0.04, -0.0015, 0.0011, 0.002])
    model = BrownConradyLens(D)
    ideal = _disc(model.max_radius * 0.8, n=500)
    obj = np.concatenate([ideal, np.ones((len(ideal), 1))], 1)
    proj, _ = cv2.projectPoints(obj, np.zeros(3), np.zeros(3), np.eye(3), D)
    np.testing.assert_allclose(model.distort(ideal), proj.reshape(-1, 2), atol=1e-12)


def test_dk1_distortion_scale_matches_libovr():
    # LibOVR 0.2 (Util_Render_Stereo.cpp, StereoConfig::updateDistortionOffsetAndScale) fits the
    # DK1 distortion to the left edge of the left eye's viewport: lens centre offset
    # 1 - 2 * 0.0635 / 0.14976 = 0.152003 normalised units, fit radius 1.152003, and
    # DistortionScale = f(1.152003^2) = 1 + 0.22 r^2 + 0.24 r^4 = 1.71461 (the value LibOVR reports
    # for the DK1, reproduced by hand here; tolerance 1e-5).
    model = PanotoolsLens([1.0, 0.22, 0.24, 0.0], [0.996, -0.004, 1.014, 0.0], DK1_UNIT)
    r_norm = 1 + (1 - 2 * 0.0635 / 0.14976)
    panel = np.array([[r_norm * DK1_UNIT, 0.0]])
    scale = model.undistort(panel)[0, 0] / panel[0, 0]
    assert scale == pytest.approx(1.71461, abs=1e-5)
    # Chromatic: red is scaled by 0.996 - 0.004 rho^2, blue by 1.014.
    red = model.undistort(panel, 0)[0, 0] / model.undistort(panel, 1)[0, 0]
    blue = model.undistort(panel, 2)[0, 0] / model.undistort(panel, 1)[0, 0]
    assert red == pytest.approx(0.996 - 0.004 * r_norm**2, rel=1e-12)
    assert blue == pytest.approx(1.014, rel=1e-12)


def test_grid_reproduces_its_knots():
    model = _grid_lens()
    gx, gy = np.meshgrid(model.x, model.y)
    knots = np.stack([gx, gy], -1)
    for c in range(3):
        np.testing.assert_allclose(
            model.undistort(knots, c), knots + model.displacement[c], atol=1e-12
        )


def test_grid_fold_is_refused():
    x = np.linspace(-1, 1, 6)
    y = np.linspace(-1, 1, 6)
    gx, gy = np.meshgrid(x, y)
    folding = np.stack([-1.5 * gx * (gx**2 + gy**2), np.zeros_like(gy)], -1)
    with pytest.raises(ProfileError, match="folds over"):
        GridLens(x, y, folding)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"kind": "radial", "k": [0.4, float("nan")]}, r"lens\.k\[1\] must be a finite number"),
        ({"kind": "radial", "k": [0.4, float("inf")]}, r"lens\.k\[1\]"),
        ({"kind": "radial", "k": "0.4"}, r"lens\.k must be a list of numbers"),
        ({"kind": "radial", "k": []}, r"lens\.k must have 1 to 16 values, got 0"),
        ({"kind": "radial", "k": [0.4], "channel_scale": [1, 0, 1]}, "channel_scale"),
        ({"kind": "fisheye", "k": [0.4]}, r"unknown lens model 'fisheye'"),
        ({"k": [0.4]}, r"unknown lens model null"),
        ({"kind": "radial"}, r"missing field\(s\) \['k'\]"),
        ({"kind": "radial", "k": [0.1], "kk": 1}, r"unknown field\(s\) \['kk'\]"),
        ({"kind": "brown_conrady", "coefficients": [0.1, 0.2, 0.3]}, "4 or 5 or 8 values"),
        (
            {"kind": "brown_conrady", "coefficients": {"red": [0, 0, 0, 0], "green": [0, 0, 0, 0]}},
            "exactly the keys",
        ),
        ({"kind": "panotools", "k": [1, 0.2, 0.2]}, r"lens\.k must have 4 values"),
        ({"kind": "panotools", "k": [1, 0.2, 0.2, 0], "unit": -1}, r"lens\.unit"),
        ({"kind": "panotools", "k": [1, 0.2, 0.2, 0], "form": "ptgui"}, r"form must be one of"),
        ({"kind": "panotools", "k": [0, 0.2, 0.2, 0]}, "slope 0 at the centre"),
        ({"kind": "grid", "x": [0, 1, 2], "y": [0, 1, 2, 3], "displacement": []}, "at least 4"),
        (
            {"kind": "grid", "x": [0, 1, 2, 3], "y": [0, 1, 3, 2], "displacement": []},
            "strictly increasing",
        ),
        (
            {"kind": "grid", "x": [0, 1, 2, 3], "y": [0, 1, 2, 3], "displacement": [[0]]},
            r"must have shape \(3, 4, 4, 2\)",
        ),
        ("radial", "must be an object"),
    ],
)
def test_bad_model_dicts(data, match):
    with pytest.raises(ProfileError, match=match):
        lens_model_from_dict(data)


def test_nan_in_grid_displacement_names_the_index():
    d = np.zeros((4, 4, 2))
    d[2, 1, 0] = np.nan
    with pytest.raises(ProfileError, match=r"displacement\[0, 2, 1, 0\]"):
        GridLens([0, 1, 2, 3], [0, 1, 2, 3], d)


def test_bad_points_and_channel():
    model = RadialPolynomialLens([0.2])
    with pytest.raises(ValueError, match="shape"):
        model.distort(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        model.undistort([[np.nan, 0.0]])
    with pytest.raises(ValueError, match="channel"):
        model.distort([[0.0, 0.0]], channel=3)


def test_brown_conrady_not_invertible_is_refused():
    with pytest.raises(ProfileError, match="not invertible"):
        BrownConradyLens([-500.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize(("k", "ideal_range"), [([0.441, 0.156], 1.57), ([0.34, 0.55], 1.7)])
def test_cardboard_inverse_over_the_sdk_test_range(k, ideal_range):
    # The Cardboard SDK's tests/polynomial_radial_distortion_test.cc checks its secant-method
    # DistortInverse for v1 up to radius 1.57 and v2 up to 1.7 (tan units, on a spiral point
    # (cos r * r, sin r * r)) with tolerance 1e-3; ours must hold 1e-9 on the same points.
    model = RadialPolynomialLens(k)
    r = np.arange(0.0, ideal_range, 0.01)
    spiral = np.stack([np.cos(r) * r, np.sin(r) * r], 1)
    # Cardboard's Distort is our undistort: undistort(distort(p)) must give p back.
    np.testing.assert_allclose(model.undistort(model.distort(spiral)), spiral, atol=1e-9)


def test_fitted_range_limit_is_enforced():
    # A calibration fit is only valid over the radius it was fitted on.
    model = lens_model_from_dict({"kind": "radial", "k": [0.3], "max_panel_radius": 0.5})
    assert model.max_panel_radius == 0.5
    assert model.max_radius == pytest.approx(0.5 * (1 + 0.3 * 0.25))
    model.undistort([[0.49, 0.0]])
    with pytest.raises(InputError, match=r"panel radius <= 0\.5"):
        model.undistort([[0.3, 0.45]])
    assert model.to_dict()["max_panel_radius"] == 0.5
