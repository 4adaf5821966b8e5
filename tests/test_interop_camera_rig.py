"""Camera rigs: Kalibr camchain.yaml in and out, OpenCV multi-view detection files in."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import DataError, InputError
from vrkit.interop.kalibr import camchain_from_rig, read_camchain, rig_from_camchain
from vrkit.interop.opencv_multiview import PointPattern, read_detection_file
from vrkit.tracking.camera import Rig

MULTIVIEW = Path(__file__).parent / "data" / "interop" / "opencv-3cams-one-line"

# The EuRoC MAV dataset's camera chain as Kalibr writes it (ethz-asl/kalibr wiki, "Multiple
# camera calibration", and the EuRoC sensor.yaml files): two pinhole/radtan cameras, 11 cm apart.
EUROC = """\
cam0:
  camera_model: pinhole
  intrinsics: [458.654, 457.296, 367.215, 248.375]
  distortion_model: radtan
  distortion_coeffs: [-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05]
  resolution: [752, 480]
  rostopic: /cam0/image_raw
cam1:
  camera_model: pinhole
  intrinsics: [457.587, 456.134, 379.999, 255.238]
  distortion_model: radtan
  distortion_coeffs: [-0.28368365, 0.07451284, -0.00010473, -3.55590700e-05]
  resolution: [752, 480]
  rostopic: /cam1/image_raw
  cam_overlaps: [0]
  T_cn_cnm1:
  - [0.9999972563, -0.0023175421, 0.0003760010, -0.1100739988]
  - [0.0023120691, 0.9998980485, 0.0140898358, -0.0002127766]
  - [-0.0004086140, -0.0140889713, 0.9999006631, 0.0008097633]
  - [0.0, 0.0, 0.0, 1.0]
"""


def _camchain(tmp_path: Path, text: str = EUROC) -> Path:
    path = tmp_path / "camchain.yaml"
    path.write_text(text)
    return path


def test_kalibr_camchain_round_trip(tmp_path):
    data = read_camchain(EUROC)
    rig = Rig.from_dict(rig_from_camchain(data))
    cam0, cam1 = rig.cameras
    assert (cam1.width, cam1.height, cam1.kind) == (752, 480, "pinhole")
    np.testing.assert_allclose(cam1.K, [[457.587, 0, 379.999], [0, 456.134, 255.238], [0, 0, 1]])
    # cam1 sits 11 cm to the right of cam0 (OpenCV x): p_cam1 = T_cn_cnm1 p_cam0
    T = np.asarray(data["cam1"]["T_cn_cnm1"])
    centre_in_cam0 = np.linalg.inv(T)[:3, 3]  # (R is orthonormal to the 10 digits written)
    T_cam0_cam1 = np.linalg.inv(cam0.T_rig_cam) @ cam1.T_rig_cam
    np.testing.assert_allclose(T_cam0_cam1[:3, 3], centre_in_cam0, atol=1e-12)
    assert centre_in_cam0[0] == pytest.approx(0.110, abs=1e-3)
    back, notes = camchain_from_rig(rig.to_dict())
    assert notes == ["the rig frame itself is not part of a camchain: cam0 is the reference"]
    for name in ("cam0", "cam1"):
        for key in ("intrinsics", "distortion_coeffs", "resolution"):
            np.testing.assert_allclose(back[name][key], data[name][key], rtol=0, atol=1e-12)
        assert back[name]["distortion_model"] == "radtan"
    np.testing.assert_allclose(back["cam1"]["T_cn_cnm1"], T, atol=1e-12)

    # through the CLI: camchain -> rig JSON -> camchain
    src = _camchain(tmp_path)
    assert main(["track", "convert-rig", str(src), str(tmp_path / "rig.json")]) == 0
    rig_json, out = tmp_path / "rig.json", tmp_path / "out.yaml"
    assert main(["track", "convert-rig", str(rig_json), str(out)]) == 0
    again = read_camchain(out.read_text())
    np.testing.assert_allclose(again["cam1"]["T_cn_cnm1"], T, atol=1e-12)
    dist0 = data["cam0"]["distortion_coeffs"]
    np.testing.assert_allclose(again["cam0"]["distortion_coeffs"], dist0)


def test_kalibr_equidistant_is_a_fisheye_camera():
    text = EUROC.replace("distortion_model: radtan", "distortion_model: equidistant")
    rig = Rig.from_dict(rig_from_camchain(read_camchain(text)))
    assert [c.kind for c in rig.cameras] == ["fisheye", "fisheye"]
    back, _ = camchain_from_rig(rig.to_dict())
    assert back["cam1"]["distortion_model"] == "equidistant"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("camera_model: pinhole", "camera_model: omni", 1), "cam0.camera_model is 'omni'"),
        (("distortion_model: radtan", "distortion_model: fov", 1), "distortion_model is 'fov'"),
        (("  T_cn_cnm1:\n", "  T_old:\n", 1), "cam1 has no T_cn_cnm1"),
        (("cam1:", "cam2:", 1), "must be cam0, cam1, ... in order"),
        (("[752, 480]", "[752]", 1), "cam0.resolution must be 2 numbers"),
        (("[0.9999972563, -0.0023175421", "[0.5, -0.0023175421", 1), "not a rigid transform"),
        (("cam_overlaps: [0]", "cam_overlaps: [0", 1), "is not valid YAML at line"),
    ],
)
def test_bad_camchain_fails_in_one_line(tmp_path, capsys, edit, message):
    old, new, count = edit
    src = _camchain(tmp_path, EUROC.replace(old, new, count))
    out = tmp_path / "rig.json"
    assert main(["track", "convert-rig", str(src), str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not out.exists()


def test_rig_kalibr_cannot_hold_is_refused(tmp_path, capsys):
    rig = rig_from_camchain(read_camchain(EUROC))
    rig["cameras"][0]["dist"] = [0.1, 0.01, 0.0, 0.0, 0.002]
    with pytest.raises(InputError, match="Kalibr's radtan holds k1 k2 p1 p2 only"):
        camchain_from_rig(rig)
    rig["cameras"][0]["dist"] = [0.1, 0.01, 0.0, 0.0, 0.0]  # a zero k3 is fine
    assert camchain_from_rig(rig)[0]["cam0"]["distortion_coeffs"] == [0.1, 0.01, 0.0, 0.0]


def test_opencv_pattern_points_are_opencvs():
    # modules/calib/test/test_multiview_calib.cpp, genAsymmetricObjectPoints(Size(8, 11), 0.04):
    # row i < 11, column j < 8, point ((2 j + i % 2) s, i s, 0)
    pts = PointPattern.parse("acircles:8x11:0.04").object_points()
    expected = [((2 * j + i % 2) * 0.04, i * 0.04, 0.0) for i in range(11) for j in range(8)]
    np.testing.assert_allclose(pts, expected)
    assert len(PointPattern.parse("chessboard:9x6:0.025").object_points()) == 54


def test_opencv_detection_file_reads_as_cv2_filestorage():
    frames = read_detection_file(MULTIVIEW / "cam_0.json")
    assert sorted(frames) == [1, 2, 4, 6, 10, 11, 12, 13, 15, 18, 21, 25, 27, 29, 30, 31]
    assert frames[1].shape == (88, 2)
    # the first value of opencv_extra's cam_0.json, as written there
    np.testing.assert_allclose(frames[1][0], [1328.02881, 82.8134308], rtol=0, atol=1e-4)


def _angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, (np.trace(Ra.T @ Rb) - 1) / 2))))


def test_rig_from_opencv_3cams_one_line_detections(tmp_path, capsys):
    """OpenCV's MultiViewTest.OneLine: the cameras' poses within its tolerance.

    Reference values from opencv/opencv modules/calib/test/test_multiview_calib.cpp
    (TEST_F(MultiViewTest, OneLine)): R and T of cam_1 and cam_3 relative to cam_0, checked
    there with validateCameraPose: rotation within 1 degree, camera centre (R^T T) within
    0.01 m, RMS <= 0.3 px, intrinsics with CALIB_RATIONAL_MODEL. The test data here are the
    first 32 of the 96 frames (tests/data/interop/README.md).
    """
    R_gt = {
        1: [[0.9996914489704484, -0.01160060078752197, -0.02196435559568884],
            [0.012283315339906, 0.9994374509454836, 0.03120739995344806],
            [0.02158997497973892, -0.03146756598408248, 0.9992715673286274]],
        2: [[0.9988848194142131, -0.0255827884561986, -0.03968171466355882],
            [0.0261796234191418, 0.999550713317242, 0.0145944792515729],
            [0.03929051872229011, -0.0156170561181697, 0.9991057815350362]],
    }  # fmt: skip
    T_gt = {
        1: [0.5078811293323259, 0.002753469433719865, 0.02413521839310227],
        2: [1.007213763725429, 0.01645068247976361, 0.05394643957910365],
    }
    files = ",".join(str(MULTIVIEW / f"cam_{i}.json") for i in (0, 1, 3))
    out = tmp_path / "rig.json"
    args = ["track", "calibrate-rig", "--detections", files, "--pattern", "acircles:8x11:0.04",
            "--image-size", "1920x1080", "--rational", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "calibrated 3 cameras" in capsys.readouterr().out
    rig = json.loads(out.read_text())
    assert [c["name"] for c in rig["cameras"]] == ["cam_0", "cam_1", "cam_3"]
    assert rig["report"]["total_rms_px"] <= 0.3
    T = [np.asarray(c["T_rig_cam"]) for c in rig["cameras"]]
    for c in (1, 2):
        T_c_c0 = np.linalg.inv(T[c]) @ T[0]  # OpenCV's R, T: p_c = R p_c0 + T
        R, t = T_c_c0[:3, :3], T_c_c0[:3, 3]
        Rg, tg = np.asarray(R_gt[c]), np.asarray(T_gt[c])
        assert _angle_deg(Rg, R) < 1.0
        assert np.linalg.norm(Rg.T @ tg - R.T @ t) < 0.01

    # a rational-model rig does not fit in a camchain: refused, nothing written
    assert main(["track", "convert-rig", str(out), str(tmp_path / "rig.yaml")]) == 1
    assert "Kalibr's radtan holds k1 k2 p1 p2 only" in capsys.readouterr().err
    assert not (tmp_path / "rig.yaml").exists()


def _fs_file(path: Path, frames: dict[int, np.ndarray]) -> Path:
    import cv2

    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE | cv2.FILE_STORAGE_FORMAT_JSON)
    for k, pts in frames.items():
        fs.write(f"frame_{k}", np.asarray(pts, np.float32).reshape(-1, 1, 2))
    fs.release()
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("garbage", "is not valid JSON: Expecting value at line 1"),
        ("garbage-yaml", "is not an OpenCV FileStorage file: Parsing error"),
        ("no-frames", "$: expected field names a string matching ^frame_"),
        ("short", "frame_1 has 10 points; the pattern acircles:8x11 has 88"),
        ("no-shared", "no view is seen by two cameras"),
        ("bad-pattern", "is not KIND:COLSxROWS:SPACING"),
        ("no-size", "--detections needs --pattern"),
    ],
)
def test_bad_detection_inputs_fail_in_one_line(tmp_path, capsys, case, message):
    real = MULTIVIEW / "cam_0.json"
    other = MULTIVIEW / "cam_1.json"
    pattern, size = "acircles:8x11:0.04", ["--image-size", "1920x1080"]
    if case == "garbage":
        first = tmp_path / "cam_a.json"
        first.write_text('{"frame_1": {"type_id": "opencv-matrix", "rows": ')
    elif case == "garbage-yaml":
        first = tmp_path / "cam_a.yml"
        first.write_text("%YAML:1.0\nframe_1: !!opencv-matrix\n   rows: [1, 2\n")
    elif case == "no-frames":
        first = tmp_path / "cam_a.json"
        first.write_text('{"camera": 1}')
    elif case == "short":
        first = _fs_file(tmp_path / "cam_a.json", {1: np.ones((10, 2))})
    elif case == "no-shared":
        first, other = real, _fs_file(tmp_path / "cam_b.json", {95: np.ones((88, 2))})
    elif case == "bad-pattern":
        first, pattern = real, "asymmetric 8x11"
    else:
        first, size = real, []
    out = tmp_path / "rig.json"
    args = ["track", "calibrate-rig", "--detections", f"{first},{other}", "--pattern", pattern,
            *size, "--out", str(out)]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
    assert not out.exists()


def test_track_run_reads_a_camchain_rig(tmp_path):
    from vrkit.cli.track import _load_rig

    rig = _load_rig(str(_camchain(tmp_path)), mounting="head")
    assert rig.mounting == "head" and [c.name for c in rig.cameras] == ["cam0", "cam1"]
    with pytest.raises(DataError, match="cam1 has no T_cn_cnm1"):
        _load_rig(str(_camchain(tmp_path, EUROC.replace("  T_cn_cnm1:\n", "  T_x:\n"))))
