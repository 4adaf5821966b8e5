"""Lighthouse (Vive / Index) configs, OSVR display descriptors and OpenHMD properties."""

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
from vrkit.interop.lighthouse import profile_from_lighthouse
from vrkit.interop.openhmd import profile_from_openhmd
from vrkit.optics.profile import load_profile, profile_from_dict

DATA = Path(__file__).parent / "data" / "interop"
VIVE = DATA / "lighthouse-synthetic-vive.json"


def monado_vive_fov(eye_json: dict) -> Fov:
    """Monado's vive_config.c _calculate_fov, written out from its source (radians)."""
    width, height = 1080.0, 1200.0  # any size: it cancels
    scale = eye_json["grow_for_undistort"] + 1.0
    K = eye_json["intrinsics"]
    fx, fy, cx, cy = K[0][0] / scale, K[1][1] / scale, K[0][2] / scale, K[1][2] / scale
    focus_x, focus_y = fx * width / 2, fy * height / 2
    center_x = (cx - 1.0) * -1.0 * width / 2
    center_y = (cy + 1.0) * height / 2
    return Fov(
        -math.atan(center_x / focus_x),
        math.atan((width - center_x) / focus_x),
        math.atan(center_y / focus_y),
        -math.atan((height - center_y) / focus_y),
    )


def monado_vive_uv(cfg: dict, eye_json: dict, channel: int, u: float, v: float):
    """Monado's u_compute_distortion_vive, written out from its source: viewport (u, v) to the
    eye-texture coordinate of one channel (0 red, 1 green, 2 blue)."""
    aspect = cfg["device"]["physical_aspect_x_over_y"]
    grow = eye_json["grow_for_undistort"]
    block = eye_json[("distortion_red", "distortion", "distortion_blue")[channel]]
    center = (block["center_x"], block["center_y"])
    k1, k2, k3, k4 = (block["coeffs"] + [0.0] * 4)[:4]
    factor = (0.5 / (1.0 + grow), 0.5 / (1.0 + grow) * aspect)
    tx, ty = 2 * u - 1, 2 * v - 1
    ty /= aspect
    tx -= center[0]
    ty -= center[1]
    r2 = tx * tx + ty * ty
    d = 1.0 / (1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))) + k4
    return (
        0.5 + (tx * d + center[0]) * factor[0],
        0.5 + (ty * d + center[1]) * factor[1],
    )


def test_vive_fov_and_distortion_equal_monados_formulas():
    cfg = json.loads(VIVE.read_text())
    data, _, extra = profile_from_lighthouse(cfg)
    prof = profile_from_dict(data)
    rng = np.random.default_rng(7)
    uv = rng.uniform(0.05, 0.95, (300, 2))
    for eye in (0, 1):
        eye_json = cfg["tracking_to_eye_transform"][eye]
        fov = monado_vive_fov(eye_json)
        # The frustum Monado renders each eye with, as the importer reports it.
        for key, value in fov.to_dict().items():
            assert extra["monado_fov"][eye][key] == pytest.approx(value, abs=1e-12)
        # Fov limits are that frustum in degrees (left eye: outer = left).
        if eye == 0:
            lim = prof.fov_limits_deg
            assert lim["outer"] == pytest.approx(-math.degrees(fov.angle_left))
            assert lim["up"] == pytest.approx(math.degrees(fov.angle_up))
        left, right, bottom, top = prof.viewport_extent_tan(eye)
        panel = np.stack([left + uv[:, 0] * (right - left), bottom + uv[:, 1] * (top - bottom)], 1)
        tl, tr, tu, td = fov.tangents()
        for c in range(3):
            ideal = prof.lens(eye).undistort(panel, c, strict=False)
            ok = np.all(np.isfinite(ideal), axis=1)
            assert ok.mean() > 0.8  # outside undistort_r2_cutoff is refused (drawn black)
            ours = np.stack([(ideal[:, 0] - tl) / (tr - tl), (ideal[:, 1] - td) / (tu - td)], 1)
            theirs = np.array([monado_vive_uv(cfg, eye_json, c, u, v) for u, v in uv])
            np.testing.assert_allclose(ours[ok], theirs[ok], atol=1e-12)


def test_vive_import_details_and_round_trip_of_the_model():
    result = import_profile(str(VIVE))
    prof = result.profile
    assert result.fmt == "lighthouse" and prof.name == "vive-mv"
    assert prof.resolution_px == (2160, 1200) and prof.ipd_default_m == pytest.approx(0.0623)
    lens = prof.lens(0)
    assert lens.kind == "lighthouse" and lens.axis_signs == (1, 1)
    # The model inverts itself to 1e-9 over the usable region, every channel.
    left, right, bottom, top = prof.viewport_extent_tan(0)
    g = np.linspace(0.02, 0.98, 25)
    uu, vv = np.meshgrid(g, g)
    panel = np.stack([left + uu.ravel() * (right - left), bottom + vv.ravel() * (top - bottom)], 1)
    for c in range(3):
        ideal = lens.undistort(panel, c, strict=False)
        ok = np.all(np.isfinite(ideal), axis=1)
        np.testing.assert_allclose(lens.distort(ideal[ok], c), panel[ok], atol=1e-9)
    # The profile JSON reloads to the same lens.
    again = profile_from_dict(json.loads(json.dumps(result.data)))
    np.testing.assert_array_equal(again.lens(1).undistort(panel, 1, strict=False),
                                  prof.lens(1).undistort(panel, 1, strict=False))  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("tracking_to_eye_transform"),
         r"field\(s\) \['tracking_to_eye_transform'\]"),
        (lambda d: d["tracking_to_eye_transform"][1].pop("distortion"),
         r"\$.tracking_to_eye_transform\[1\]: expected required field\(s\) \['distortion'\]"),
        (lambda d: d["tracking_to_eye_transform"][0].pop("intrinsics"),
         r"\[0\]: expected required field\(s\) \['intrinsics'\]"),
        (lambda d: d["tracking_to_eye_transform"][0]["distortion"].update(type="DISTORT_POLY3"),
         r"distortion.type: expected exactly 'DISTORT_DPOLY3', got 'DISTORT_POLY3'"),
        (lambda d: d["tracking_to_eye_transform"][0]["distortion"].update(coeffs=[0.1]),
         r"distortion.coeffs: expected an array of 3 to 8 items, got 1 item"),
    ],
)  # fmt: skip
def test_bad_lighthouse_configs_fail_in_one_line(tmp_path, capsys, edit, message):
    cfg = json.loads(VIVE.read_text())
    edit(cfg)
    src = tmp_path / "config.json"
    src.write_text(json.dumps(cfg))
    out = tmp_path / "p.json"
    code = main(["profile", "import", str(src), "--format", "lighthouse", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and __import__("re").search(message, err), err


def osvr_render_manager(desc: dict, eye: int, channel: int, u: float, v: float):
    """OSVR-RenderManager DistortionCorrectRGBSymmetricPolynomials and ConstructProjection,
    written out from their source: screen (u, v) of an eye -> the direction (tan) it shows."""
    hmd = desc["hmd"]
    dist = hmd["distortion"]
    D = (dist.get("distance_scale_x", 1.0), dist.get("distance_scale_y", 1.0))
    e = hmd["eyes"][eye]
    cop = (e["center_proj_x"], e["center_proj_y"])
    coeffs = dist[
        ("polynomial_coeffs_red", "polynomial_coeffs_green", "polynomial_coeffs_blue")[channel]
    ]
    xd, yd = u * D[0] - cop[0], v * D[1] - cop[1]
    r = math.hypot(xd, yd)
    if r == 0:
        s, t = u, v
    else:
        r_new = sum(c * r**i for i, c in enumerate(coeffs))
        s = (cop[0] + r_new * xd / r) / D[0]
        t = (cop[1] + r_new * yd / r) / D[1]
    # The projection: tan half-angles of the monocular FOV, shifted so the COP is the axis.
    th = math.tan(math.radians(hmd["field_of_view"]["monocular_horizontal"]) / 2)
    tv = math.tan(math.radians(hmd["field_of_view"]["monocular_vertical"]) / 2)
    left, bottom = -th + (0.5 - cop[0]) * 2 * th, -tv + (0.5 - cop[1]) * 2 * tv
    return left + s * 2 * th, bottom + t * 2 * tv


def test_osvr_hdk_polynomial_equals_render_manager():
    desc = json.loads((DATA / "osvr" / "OSVR_HDK_1_3.json").read_text())
    result = import_profile(str(DATA / "osvr" / "OSVR_HDK_1_3.json"))
    prof = result.profile
    assert result.fmt == "osvr" and prof.resolution_px == (1920, 1080)
    uv = np.random.default_rng(2).uniform(0.1, 0.9, (200, 2))
    for eye in (0, 1):
        left, right, bottom, top = prof.viewport_extent_tan(eye)
        panel = np.stack([left + uv[:, 0] * (right - left), bottom + uv[:, 1] * (top - bottom)], 1)
        ours = prof.lens(eye).undistort(panel, 1)
        theirs = np.array([osvr_render_manager(desc, eye, 1, u, v) for u, v in uv])
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_osvr_older_files_and_refusals(tmp_path, capsys):
    dk1 = import_profile(str(DATA / "osvr" / "Oculus_Rift_DK1.json"))
    assert dk1.profile.canting_deg == pytest.approx(99 * 0.07 / 2)  # overlap 93 %
    assert any("k1" in n and "OSVR-Unity" in n for n in dk1.notes)
    assert any("right eye mirrors" in n for n in dk1.notes)
    out = tmp_path / "p.json"
    code = main(["profile", "import", str(DATA / "osvr" / "OSVR_HDK_2_0.json"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists() and "point-sample distortion meshes" in err
    assert len(err.strip().splitlines()) == 1


def openhmd_shader(props: dict, u: float, v: float, channel: int):
    """OpenHMD's universal distortion (its examples' set-up) and default projection, written
    out from the source: left-eye screen (u, v) -> the direction (tan) it shows."""
    hs, vs = props["screen_horizontal_size"] / 2, props["screen_vertical_size"]
    sep = props["lens_horizontal_separation"]
    lc = (hs - sep / 2, props["lens_vertical_position"])
    warp = max(hs - sep / 2, sep / 2)
    a, b, c, d = props["universal_distortion_k"]
    rx, ry = (u * hs - lc[0]) / warp, (v * vs - lc[1]) / warp
    rm = math.hypot(rx, ry)
    f = d + c * rm + b * rm * rm + a * rm**3
    ab = props["universal_aberration_k"][channel]
    mx, my = rx * f * warp * ab, ry * f * warp * ab  # metres from the lens centre
    # ohmd_calc_default_proj_matrices: a perspective of vertical angle left_eye_fov about the
    # lens centre, spanning the viewport: metres -> tan by 2 tan(fov / 2) / vsize.
    k = 2 * math.tan(props["left_eye_fov"] / 2) / vs
    return mx * k, my * k


def test_openhmd_in_equals_its_shader_and_round_trips(tmp_path):
    props = {
        "screen_horizontal_size": 0.14976,
        "screen_vertical_size": 0.0936,
        "screen_horizontal_resolution": 1280,
        "screen_vertical_resolution": 800,
        "lens_horizontal_separation": 0.0635,
        "lens_vertical_position": 0.0468,
        "universal_distortion_k": [0.098, 0.324, -0.241, 0.819],
        "universal_aberration_k": [0.995, 1.0, 1.008],
        "left_eye_fov": 1.78,
    }
    data, _ = profile_from_openhmd(props)
    prof = profile_from_dict(data)
    left, right, bottom, top = prof.viewport_extent_tan(0)
    uv = np.random.default_rng(4).uniform(0.1, 0.9, (100, 2))
    panel = np.stack([left + uv[:, 0] * (right - left), bottom + uv[:, 1] * (top - bottom)], 1)
    for c in range(3):
        ours = prof.lens(0).undistort(panel, c)
        theirs = np.array([openhmd_shader(props, u, v, c) for u, v in uv])
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
    out = json.loads(export_profile(prof, "openhmd").text)
    for key, value in props.items():
        assert out[key] == pytest.approx(value, rel=2e-7), key
    path = tmp_path / "ohmd.json"
    path.write_text(json.dumps(out))
    again = import_profile(str(path)).profile
    np.testing.assert_allclose(again.lens(0).undistort(panel, 2), prof.lens(0).undistort(panel, 2))


def test_openhmd_refusals():
    with pytest.raises(DataError, match="lack"):
        profile_from_openhmd({"universal_distortion_k": [0, 0, 0, 1]})
    with pytest.raises(DataError, match="no OpenHMD universal distortion within"):
        export_profile(load_profile("cardboard-v2"), "openhmd")


def test_detection_is_unambiguous_or_asks(tmp_path, capsys):
    for path, fmt in (
        (VIVE, "lighthouse"),
        (DATA / "osvr" / "OSVR_HDK_1_3.json", "osvr"),
        (DATA / "northstar" / "50cm-NorthStarCalibration.json", "northstar"),
    ):
        assert import_profile(str(path)).fmt == fmt
    both = tmp_path / "both.json"
    cfg = json.loads(VIVE.read_text())
    cfg["universal_distortion_k"] = [0, 0, 0, 1]
    both.write_text(json.dumps(cfg))
    code = main(["profile", "import", str(both), "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert code == 1 and "fits several formats (lighthouse, openhmd); pass --format" in err
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    code = main(["profile", "import", str(other), "--out", str(tmp_path / "p.json")])
    assert code == 1 and "is not a format vrkit imports" in capsys.readouterr().err
