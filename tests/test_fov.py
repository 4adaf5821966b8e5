"""FOV from profiles (Cardboard SDK definition) and from runtime views."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import InputError
from vrkit.core.types import Fov, Pose
from vrkit.math.stereo import eye_views
from vrkit.measure.fov import fov_report, fov_report_from_views
from vrkit.optics.fov import eye_summary_deg
from vrkit.optics.profile import load_profile, profile_from_dict


def _cardboard_angle(distance_m: float, screen_to_lens: float, k: list[float]) -> float:
    """Cardboard SDK CalculateFov, written out: atan(Distort(d / s)) in degrees."""
    r = distance_m / screen_to_lens
    factor = 1.0 + sum(ki * r ** (2 * (i + 1)) for i, ki in enumerate(k))
    return math.degrees(math.atan(r * factor))


def test_cardboard_v1_matches_the_sdk_definition():
    p = load_profile("cardboard-v1")
    k, s = [0.441, 0.156], 0.042
    outer = _cardboard_angle((0.110 - 0.060) / 2, s, k)  # 34.99
    inner = _cardboard_angle(0.060 / 2, s, k)  # 42.11 -> clamped to 40
    bottom = _cardboard_angle(0.035 - 0.003, s, k)  # 44.91 -> 40
    top = _cardboard_angle(0.062 - 0.032, s, k)  # 42.11 -> 40
    ef = p.eye_fovs[0]
    assert ef.unclamped_deg == pytest.approx(
        {"left": -outer, "right": inner, "up": top, "down": -bottom}, abs=1e-9
    )
    assert ef.fov.degrees() == pytest.approx(
        {"left": -outer, "right": 40, "up": 40, "down": -40}, abs=1e-9
    )
    assert set(ef.clamped) == {"right", "up", "down"}
    # Right eye is the mirror image (Cardboard mirrors the left eye's Fov).
    right = p.eye_fovs[1].fov.degrees()
    assert right == pytest.approx({"left": -40, "right": outer, "up": 40, "down": -40}, abs=1e-9)
    assert p.eye_fov(1) == p.eye_fovs[1].fov


def test_cardboard_v2_unclamped_within_limits():
    p = load_profile("cardboard-v2")
    k, s = [0.34, 0.55], 0.039
    d = p.eye_fovs[0].fov.degrees()
    assert d["left"] == pytest.approx(-_cardboard_angle((0.110 - 0.064) / 2, s, k), abs=1e-9)
    assert d["right"] == pytest.approx(_cardboard_angle(0.032, s, k), abs=1e-9)
    assert d["down"] == pytest.approx(-_cardboard_angle(0.032, s, k), abs=1e-9)


def test_dk1_outer_angle_uses_libovr_distortion_scale():
    # Outer edge: 1.152003 normalised units from the lens centre; LibOVR's DistortionScale for
    # that radius is 1.71461 (see test_optics_models), so tan(outer) = 1.71461 * 1.152003 *
    # (0.03744 / 0.041). Tolerance 1e-3 deg.
    p = load_profile("oculus-dk1")
    expected = math.degrees(math.atan(1.71461 * 1.152003 * 0.03744 / 0.041))
    assert -p.eye_fovs[0].fov.degrees()["left"] == pytest.approx(expected, abs=1e-3)


def test_report_totals_and_overlap():
    rep = fov_report(load_profile("cardboard-v1"))
    left = rep["eyes"]["left"]
    assert left["horizontal"] == pytest.approx(left["right"] - left["left"])
    assert rep["total_horizontal"] == pytest.approx(80.0)  # both outer edges are clamped to 40
    assert rep["binocular_overlap"] == pytest.approx(2 * 34.99, abs=0.01)
    assert left["viewport_px"] == [0, 0, 960, 1080]
    assert left["unclamped_horizontal"] > left["horizontal"]


def test_canting_widens_total_and_narrows_overlap():
    base = load_profile("generic-1440x1600")
    data = base.to_dict()
    data["optics"]["canting_deg"] = 10.0
    canted = profile_from_dict(data)
    a, b = fov_report(base), fov_report(canted)
    assert b["total_horizontal"] == pytest.approx(a["total_horizontal"] + 20)
    assert b["binocular_overlap"] == pytest.approx(a["binocular_overlap"] - 20)
    assert b["canting"] == 10.0


def test_diagonal_of_a_symmetric_fov():
    # 90 x 90 degrees: corner rays (+-1, +-1, -1) are 2 * atan(sqrt(2)) = 109.47 deg apart.
    s = eye_summary_deg(Fov.symmetric(math.pi / 2, math.pi / 2))
    assert s["diagonal"] == pytest.approx(math.degrees(2 * math.atan(math.sqrt(2))))
    assert s["horizontal"] == pytest.approx(90) and s["vertical"] == pytest.approx(90)


def test_views_report_recovers_canting_and_ipd():
    fov_l = Fov.from_degrees(-52, 44, 50, -54)
    fov_r = Fov.from_degrees(-44, 52, 50, -54)
    head = Pose([0.3, 1.6, -0.2], [0.1, 0.2, 0.05, 0.97])  # any head pose
    views = eye_views(head, fov_l, fov_r, ipd_m=0.0645, cant_rad=math.radians(7.5))
    rep = fov_report_from_views(views)
    assert rep["canting"] == pytest.approx(7.5, abs=1e-9)
    assert rep["ipd_m"] == pytest.approx(0.0645, abs=1e-12)
    assert rep["eyes"]["left"]["left"] == pytest.approx(-52)
    # Head frame: left eye spans [-52 - 7.5, 44 - 7.5], right eye [-44 + 7.5, 52 + 7.5].
    assert rep["total_horizontal"] == pytest.approx(52 + 52 + 15)
    assert rep["binocular_overlap"] == pytest.approx((44 - 7.5) - (-44 + 7.5))


def test_views_report_needs_both_eyes():
    views = eye_views(Pose(), Fov.symmetric(1, 1), Fov.symmetric(1, 1))
    with pytest.raises(InputError, match="one left and one right view"):
        fov_report_from_views(views[:1])
    with pytest.raises(InputError, match="one left and one right view"):
        fov_report_from_views([views[0], views[0]])


def test_cli_fov_json_and_plot(capsys, tmp_path):
    out = tmp_path / "fov.png"
    assert main(["fov", "--profile", "cardboard-v2", "--json", "--plot", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["profile"] == "cardboard-v2" and set(rep["eyes"]) == {"left", "right"}
    from PIL import Image

    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[0] > 100 and len(np.unique(img.reshape(-1, 3), axis=0)) > 10


def test_cli_fov_openxr_without_runtime_is_one_clear_line(capsys):
    rc = main(["fov", "--openxr"])
    err = capsys.readouterr().err.strip()
    if rc == 0:  # a runtime is running here: the report printed
        pytest.skip("an OpenXR runtime answered")
    assert rc == 1 and len(err.splitlines()) == 1 and "internal error" not in err
    assert "OpenXR" in err or "openxr" in err


def test_cli_fov_openxr_runtime_failure_is_one_clear_line(capsys, monkeypatch):
    # When the OpenXR helper's locate_views() fails with a foreign exception, still one line.
    import sys
    import types

    fake = types.ModuleType("vrkit.backends.openxr.info")

    def locate_views():
        raise RuntimeError("XR_ERROR_RUNTIME_UNAVAILABLE")

    fake.locate_views = locate_views
    pkg = types.ModuleType("vrkit.backends.openxr")
    pkg.info = fake
    monkeypatch.setitem(sys.modules, "vrkit.backends.openxr", pkg)
    monkeypatch.setitem(sys.modules, "vrkit.backends.openxr.info", fake)
    assert main(["fov", "--openxr"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "OpenXR views could not be located: RuntimeError: XR_ERROR_RUNTIME_UNAVAILABLE" in err


def test_cli_fov_openxr_with_views_reports(capsys, monkeypatch):
    # The --openxr path end to end with views from a stand-in locate_views (no runtime here).
    import sys
    import types

    views = eye_views(Pose([0, 1.6, 0]), Fov.from_degrees(-50, 45, 48, -52),
                      Fov.from_degrees(-45, 50, 48, -52), ipd_m=0.064)  # fmt: skip
    fake = types.ModuleType("vrkit.backends.openxr.info")
    fake.locate_views = lambda: views
    pkg = types.ModuleType("vrkit.backends.openxr")
    pkg.info = fake
    monkeypatch.setitem(sys.modules, "vrkit.backends.openxr", pkg)
    monkeypatch.setitem(sys.modules, "vrkit.backends.openxr.info", fake)
    assert main(["fov", "--openxr", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["source"] == "views" and rep["ipd_m"] == pytest.approx(0.064)
    assert rep["total_horizontal"] == pytest.approx(100.0)


def test_a_profile_computes_its_eye_fovs_once(monkeypatch):
    import vrkit.optics.profile as profile_module

    calls = []
    real = profile_module.fov_through_lens

    def counting(*args):
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(profile_module, "fov_through_lens", counting)
    p = load_profile("wide-canted-5deg")
    assert calls == ["left", "right"]  # while loading (which also checks the lens covers them)
    for _ in range(3):
        p.eye_fov(0), p.eye_fov(1), fov_report(p), p.recommended_eye_size(1)
    assert calls == ["left", "right"]
    assert p.eye_fovs is p.eye_fovs
