"""Headset profiles: shipped numbers, schema and loader agreement, every kind of bad input."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import ProfileError
from vrkit.optics.models import PanotoolsLens, RadialPolynomialLens
from vrkit.optics.profile import (
    MirroredLens,
    load_profile,
    load_schema,
    profile_from_dict,
    shipped_profile_names,
)


def _base() -> dict:
    return json.loads(json.dumps(load_profile("cardboard-v1").data))


def test_shipped_profiles_load_with_the_public_numbers():
    assert shipped_profile_names() == [
        "cardboard-v1",
        "cardboard-v2",
        "generic-1440x1600",
        "oculus-dk1",
        "wide-canted-5deg",
    ]
    v1 = load_profile("cardboard-v1")
    assert (v1.screen_to_lens_m, v1.lens_separation_m, v1.tray_to_lens_m) == (0.042, 0.060, 0.035)
    assert v1.vertical_alignment == "bottom" and v1.size_m == (0.110, 0.062)
    assert v1.resolution_px == (1920, 1080)
    assert isinstance(v1.lens(0), RadialPolynomialLens) and v1.lens(0).k.tolist() == [0.441, 0.156]
    assert v1.fov_limits_deg == {"outer": 40, "inner": 40, "up": 40, "down": 40}
    v2 = load_profile("cardboard-v2")
    assert (v2.screen_to_lens_m, v2.lens_separation_m) == (0.039, 0.064)
    assert v2.lens(0).k.tolist() == [0.34, 0.55] and v2.fov_limits_deg["outer"] == 60
    dk1 = load_profile("oculus-dk1")
    assert dk1.resolution_px == (1280, 800) and dk1.size_m == (0.14976, 0.0936)
    assert (dk1.lens_separation_m, dk1.screen_to_lens_m) == (0.0635, 0.041)
    lens = dk1.lens(0)
    assert isinstance(lens, PanotoolsLens)
    assert lens.k.tolist() == [1.0, 0.22, 0.24, 0.0]
    assert lens.chroma.tolist() == [0.996, -0.004, 1.014, 0.0]
    wide = load_profile("wide-canted-5deg")
    assert (wide.canting_deg, wide.ipd_default_m, wide.screen_to_lens_m) == (5.0, 0.064, 0.028)
    assert wide.fov_limits_deg == {"outer": 60, "inner": 50, "up": 55, "down": 55}
    gen = load_profile("generic-1440x1600")
    assert gen.resolution_px == (2880, 1600)
    assert gen.eye_viewport(0) == (0, 0, 1440, 1600) and gen.eye_viewport(1) == (
        1440,
        0,
        1440,
        1600,
    )


def test_load_by_path_equals_load_by_name(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_base()))
    a, b = load_profile(path), load_profile("cardboard-v1")
    assert a.path == path and a.name == b.name and a.eye_fov(0) == b.eye_fov(0)


def test_geometry_follows_cardboard_device_params():
    p = load_profile("cardboard-v1")
    # Bottom-aligned: lens height = tray_to_lens - 3 mm default border (Cardboard SDK).
    assert p.lens_height_m == pytest.approx(0.032)
    assert p.lens_center_m(0) == pytest.approx((0.025, 0.032))
    assert p.lens_center_m(1) == pytest.approx((0.085, 0.032))
    left, right, bottom, top = p.viewport_extent_m(0)
    assert (left, right, bottom, top) == pytest.approx((-0.025, 0.030, -0.032, 0.030))


def test_right_lens_defaults_to_the_mirrored_left():
    p = load_profile("generic-1440x1600")
    assert isinstance(p.lens(1), MirroredLens)
    pts = np.array([[0.3, 0.2], [-0.5, -0.1]])
    flipped = pts * [-1, 1]
    for c in range(3):
        np.testing.assert_array_equal(
            p.lens(1).undistort(pts, c), p.lens(0).undistort(flipped, c) * [-1, 1]
        )


def test_schema_and_loader_agree_on_required_fields():
    schema = load_schema()
    base = _base()
    # Every field the schema requires (at the top and in each section) is refused when missing.
    sections = [("", schema)] + [
        (name, schema["properties"][name]) for name in ("panel", "optics", "fov_limits_deg")
    ]
    count = 0
    for section, node in sections:
        for field in node["required"]:
            data = copy.deepcopy(base)
            (data[section] if section else data).pop(field)
            with pytest.raises(ProfileError, match=rf"expected required field\(s\) \['{field}'\]"):
                profile_from_dict(data)
            count += 1
    assert count >= 15
    # And every property the schema documents is read into the profile.
    props = set(schema["properties"]) | {
        f for s in ("panel", "optics") for f in schema["properties"][s]["properties"]
    }
    loaded = {
        "schema_version", "name", "description", "source", "panel", "optics", "lenses",
        "fov_limits_deg", "ipd_default_m", "resolution_px", "size_m", "refresh_hz",
        "lens_separation_m", "screen_to_lens_m", "eye_relief_m", "vertical_alignment",
        "tray_to_lens_m", "screen_border_m", "canting_deg", "device",
    }  # fmt: skip
    assert props == loaded


def _set(data: dict, path: str, value) -> dict:
    keys = path.split(".")
    node = data
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is _DROP:
        node.pop(last)
    else:
        node[last] = value
    return data


_DROP = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (
            "panel.size_m.0",
            0.0,
            r"profile: \$\.panel\.size_m\[0\]: expected a number > 0\.005 <= 1\.0, got 0\.0",
        ),
        ("panel.size_m.1", float("nan"), r"panel\.size_m\[1\]: expected a finite number"),
        ("panel.resolution_px.0", 1920.5, r"panel\.resolution_px\[0\]: expected an integer"),
        ("panel.resolution_px", [1920], r"panel\.resolution_px: expected an array .*of 2 items"),
        ("panel.refresh_hz", True, r"panel\.refresh_hz: expected a number"),
        ("panel.refresh_hz", 0, r"panel\.refresh_hz: expected a number >= 1 <= 1000, got 0"),
        ("optics.screen_to_lens_m", 4.2, r"optics\.screen_to_lens_m: .*<= 0\.2, got 4\.2"),
        ("optics.lens_separation_m", "60mm", r"optics\.lens_separation_m: expected a number"),
        (
            "optics.vertical_alignment",
            "middle",
            r"one of \['bottom', 'center', 'top'\], got 'middle'",
        ),
        ("optics.tray_to_lens_m", _DROP, r"tray_to_lens_m is required when vertical_alignment"),
        ("optics.tray_to_lens_m", 0.09, r"lens centre height 0\.0870 m .* outside the panel"),
        ("optics.canting_deg", -3, r"optics\.canting_deg: expected a number >= 0"),
        ("fov_limits_deg.up", 95, r"fov_limits_deg\.up: expected a number > 0 <= 89, got 95"),
        ("schema_version", 2, r"schema_version: expected exactly 1, got 2"),
        ("name", "Cardboard V1", r"name: expected a string matching"),
        (
            "extra",
            1,
            r"profile: \$: expected only the fields .*, got unknown field\(s\) \['extra'\]",
        ),
        (
            "lenses.left",
            {"kind": "zernike"},
            r"\$\.lenses\.left\.kind: expected one of \[.*'radial'.*\], got 'zernike'",
        ),
        (
            "lenses.left.k",
            [0.4, float("nan")],
            r"\$\.lenses\.left\.k\[1\]: expected a finite number .*, got nan",
        ),
        ("lenses.left.k", [0.4, "x"], r"\$\.lenses\.left\.k\[1\]: expected a number .*, got 'x'"),
        ("ipd_default_m", 0.5, r"ipd_default_m: expected a number >= 0\.04 <= 0\.09, got 0\.5"),
    ],
)
def test_bad_field_is_named_with_value_and_range(path, value, match):
    with pytest.raises(ProfileError, match=match):
        profile_from_dict(_set(_base(), path, value))


def test_lens_separation_wider_than_panel():
    data = _base()
    data["panel"]["size_m"] = [0.05, 0.03]
    data["panel"]["resolution_px"] = [960, 576]
    data["optics"]["lens_separation_m"] = 0.06
    data["optics"]["tray_to_lens_m"] = 0.02
    with pytest.raises(ProfileError, match=r"lens_separation_m = 0\.06 puts the lenses outside"):
        profile_from_dict(data)


def test_swapped_width_and_height_is_caught():
    data = _base()
    data["panel"]["size_m"] = [0.062, 0.110]
    with pytest.raises(ProfileError, match="pixel aspect ratio"):
        profile_from_dict(data)


def test_lens_whose_inverse_does_not_exist_over_the_panel():
    data = _base()
    # g(r) = r (1 - 0.8 r^2) folds at r = 0.64 (slope 1 %), before the panel edges (0.6-0.76).
    data["lenses"]["left"] = {"kind": "radial", "k": [-0.8]}
    data["fov_limits_deg"] = {"outer": 60, "inner": 60, "up": 60, "down": 60}
    with pytest.raises(ProfileError, match="inverse does not exist over the panel"):
        profile_from_dict(data)


def test_malformed_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "name": ')
    with pytest.raises(ProfileError, match=r"not valid JSON: .* line 1"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "missing.json")
    with pytest.raises(ProfileError, match=r"unknown headset profile 'rift-cv9'.*cardboard-v1"):
        load_profile("rift-cv9")
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    with pytest.raises(
        ProfileError, match=r"list\.json: profile: \$: expected an object, got \[1, 2\]"
    ):
        load_profile(lst)


def test_cli_profile(capsys, tmp_path):
    assert main(["profile", "list"]) == 0
    assert "cardboard-v1" in capsys.readouterr().out
    assert main(["profile", "show", "oculus-dk1"]) == 0
    out = capsys.readouterr().out
    assert "1280 x 800 px" in out and "Field of view" in out
    assert main(["profile", "show", "cardboard-v2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "cardboard-v2"
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_base()))
    assert main(["profile", "validate", str(good)]) == 0
    assert "ok (cardboard-v1" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_set(_base(), "panel.refresh_hz", -60)))
    assert main(["profile", "validate", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "panel.refresh_hz: expected a number >= 1 <= 1000, got -60" in err
