"""View geometry files, hmdq output files, and comparing headsets with `vrkit fov`."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import DataError
from vrkit.core.types import Fov, Pose
from vrkit.interop.hmdq import hmdq_figures, read_hmdq
from vrkit.interop.views import views_from_json, views_to_json
from vrkit.math.stereo import eye_views

DATA = Path(__file__).parent / "data" / "interop" / "hmdq"
FOCUS3 = DATA / "ViveFocus3_Native_R90.hmdq.json"


def _views():
    return eye_views(Pose([0, 1.6, 0]), Fov.from_degrees(-50, 45, 48, -52),
                     Fov.from_degrees(-45, 50, 48, -52), ipd_m=0.064)  # fmt: skip


def test_views_json_round_trip_and_fov(tmp_path, capsys):
    views = _views()
    data = views_to_json(views, source="test")
    assert data["views"][0]["eye"] == "left" and set(data["views"][0]["fov"]) == {
        "angle_left", "angle_right", "angle_up", "angle_down"
    }  # fmt: skip
    back = views_from_json(json.loads(json.dumps(data)))
    for a, b in zip(views, back, strict=True):
        assert a.fov == b.fov
        np.testing.assert_allclose(a.pose.position, b.pose.position)
        np.testing.assert_allclose(a.pose.orientation, b.pose.orientation)
    path = tmp_path / "views.json"
    path.write_text(json.dumps(data))
    assert main(["fov", "--views", str(path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["total_horizontal"] == pytest.approx(100.0) and rep["ipd_m"] == pytest.approx(0.064)
    assert main(["fov", "--views", str(path)]) == 0
    assert "Field of view (views.json)" in capsys.readouterr().out


def test_openxr_json_writes_views_that_read_back(tmp_path, capsys, monkeypatch):
    views = _views()
    fake = types.ModuleType("vrkit.backends.openxr.info")
    fake.locate_views = lambda: views
    pkg = types.ModuleType("vrkit.backends.openxr")
    pkg.info = fake
    monkeypatch.setitem(sys.modules, "vrkit.backends.openxr", pkg)
    monkeypatch.setitem(sys.modules, "vrkit.backends.openxr.info", fake)
    assert main(["fov", "--openxr", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    saved = tmp_path / "runtime-views.json"
    saved.write_text(json.dumps({"views": rep["views"]}))
    assert main(["fov", "--views", str(saved), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    for key in ("total_horizontal", "binocular_overlap", "binocular_vertical", "ipd_m"):
        assert again[key] == pytest.approx(rep[key], abs=1e-9)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["views"].pop(), r"\$.views: expected an array of 2 items, got 1 item"),
        (lambda d: d["views"][1].update(eye="left"), "two left views"),
        (
            lambda d: d["views"][0].update(eye="middle"),
            r"\$.views\[0\].eye: expected one of \['left', 'right'\], got 'middle'",
        ),
        (lambda d: d["views"][1]["pose"].update(orientation=[0, 0, 0, 2]), "not a unit quaternion"),
        (
            lambda d: d["views"][0]["fov"].pop("angle_up"),
            r"\$.views\[0\].fov: expected required field\(s\) \['angle_up'\]",
        ),
        (lambda d: d["views"][0]["fov"].update(angle_left=1.0), "angle_left < angle_right"),
    ],
)
def test_bad_views_files_fail_in_one_line(tmp_path, capsys, edit, message):
    data = views_to_json(_views())
    edit(data)
    path = tmp_path / "views.json"
    path.write_text(json.dumps(data))
    assert main(["fov", "--views", str(path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and __import__("re").search(message, err), err


def test_hmdq_figures_equal_what_hmdq_recorded():
    # ViveFocus3_Native_R90: numbers from hmdq 2.1.4 as published in the HMD geometry database
    # (risa2000/hmdgdb hmd_cfgs/ViveFocus3_Native_R90.md; see tests/data/interop/README.md).
    data = json.loads(FOCUS3.read_text())
    got = read_hmdq(data)
    figs = hmdq_figures(got["views"])
    rec = got["recorded"]
    for eye in ("Left", "Right"):
        for key, value in rec["fov_head"][eye].items():
            assert figs["fov_head"][eye][key] == pytest.approx(value, abs=0.006), (eye, key)
    for key in ("fov_hor", "fov_ver", "overlap"):
        assert figs["fov_tot"][key] == pytest.approx(rec["fov_tot"][key], abs=0.006), key
    # hmdq's recorded diagonal used the headset's (degenerate, 3-vertex) hidden-area mesh,
    # which is not in the published numbers; without it the corners give 0.1 deg more.
    assert figs["fov_tot"]["fov_diag"] == pytest.approx(rec["fov_tot"]["fov_diag"], abs=0.15)
    assert figs["view_geom"]["ipd"] == pytest.approx(0.064)


def test_hmdq_canted_views_head_frame_definitions():
    # Valve Index eye-to-head matrices and raw tangents (hmdgdb Index_Native_R144): canted 5 deg.
    data = json.loads((DATA / "Index_Native_R144.v3.hmdq.json").read_text())
    geom = data["geometry"]
    data = {"misc": {"log_ver": 5}, "openvr": {"geometry": geom}}
    got = read_hmdq(data)
    figs = hmdq_figures(got["views"])
    assert figs["view_geom"]["left_rot"] == pytest.approx(-5.0, abs=0.01)
    assert figs["view_geom"]["right_rot"] == pytest.approx(5.0, abs=0.01)
    assert figs["view_geom"]["ipd"] == pytest.approx(0.058)
    tl = geom["raw_eye"]["Left"]["tan_left"]
    # hmdq's left angle is where the canted frustum crosses the head's horizontal plane.
    assert figs["fov_head"]["Left"]["deg_left"] == pytest.approx(
        -math.degrees(math.atan(-tl)) - 5.0, abs=0.01
    )
    from vrkit.measure.fov import fov_report_from_views

    rep = fov_report_from_views(got["views"])
    assert rep["canting"] == pytest.approx(5.0, abs=0.01)
    # Total horizontal agrees between the two definitions; the vertical does not.
    assert rep["total_horizontal"] == pytest.approx(figs["fov_tot"]["fov_hor"], abs=1e-9)
    assert rep["binocular_vertical"] != pytest.approx(figs["fov_tot"]["fov_ver"], abs=0.05)


def test_hmdq_of_another_version_fails_in_one_line(tmp_path, capsys):
    code = main(["fov", "--hmdq", str(DATA / "Index_Native_R144.v3.hmdq.json")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "$.misc.log_ver: expected exactly 5, got 3" in err
    with pytest.raises(DataError, match=r"version 3 \(hmdq 1.2.2\); vrkit reads version 5"):
        read_hmdq({"misc": {"log_ver": 3, "hmdq_ver": "1.2.2"}})
    with pytest.raises(DataError, match="no geometry"):
        read_hmdq({"misc": {"log_ver": 5}})


def test_cli_hmdq_shows_both_definitions(capsys):
    assert main(["fov", "--hmdq", str(FOCUS3)]) == 0
    out = capsys.readouterr().out
    assert "hmdq's figures" in out and "126.18" in out  # recorded diagonal, beside vrkit's
    assert "per eye (hmdq: across both eyes)" in out and "mean of the eyes" in out


def test_compare_table_json_and_plot(tmp_path, capsys):
    views = tmp_path / "proto-views.json"
    views.write_text(json.dumps(views_to_json(_views())))
    plot = tmp_path / "cmp.png"
    args = ["fov", "--compare", "cardboard-v1", str(views), str(FOCUS3), "--plot", str(plot)]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["headsets"]
    assert [r["name"] for r in rows] == [
        "cardboard-v1",
        "proto-views",
        "ViveFocus3_Native_R90.hmdq",
    ]
    assert rows[1]["total_horizontal"] == pytest.approx(100.0)
    assert "hmdq" in rows[2] and "hmdq" not in rows[0]
    assert rows[2]["hmdq"]["fov_diag"] == 126.18
    from PIL import Image

    img = np.asarray(Image.open(plot).convert("RGB"))
    assert img.shape[0] > 300 and len(np.unique(img.reshape(-1, 3), axis=0)) > 10
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "cardboard-v1" in text and "hmdq's figures" in text
    assert main(["fov", "--compare", "no-such-headset"]) == 1
    assert "unknown headset profile" in capsys.readouterr().err
