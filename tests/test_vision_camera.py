"""The one camera model: projection against OpenCV and an independent formula, files of every
form vrkit reads (its JSON, OpenCV FileStorage YAML/XML/JSON as cv2.FileStorage writes them, ROS
camera_info YAML), and refusal of what the model cannot represent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import DataError, ProfileError
from vrkit.math import transforms as tf
from vrkit.tracking.camera import Camera, Rig
from vrkit.vision.camera import CameraModel, load_camera

DATA = Path(__file__).parent / "data" / "calibration" / "opencv_left"
K0 = np.array([[612.5, 0.0, 331.25], [0.0, 608.75, 244.5], [0.0, 0.0, 1.0]])
DIST = {
    4: [-0.21, 0.06, 0.0012, -0.0008],
    5: [-0.21, 0.06, 0.0012, -0.0008, -0.011],
    8: [0.3, -0.05, 0.0012, -0.0008, 0.002, 0.55, -0.02, 0.01],
    12: [0.3, -0.05, 0.0012, -0.0008, 0.002, 0.55, -0.02, 0.01, 0.001, -0.0005, 0.0007, 0.0002],
    14: [-0.2, 0.05, 0.001, -0.001, 0.0, 0.0, 0.0, 0.0, 0.001, 0.0, -0.0005, 0.0, 0.01, -0.02],
}
FISHEYE_DIST = [0.05, -0.02, 0.01, -0.003]


def _points(rng: np.random.Generator, n: int = 200, half_angle_deg: float = 35.0) -> np.ndarray:
    """Random points (n, 3) in front of the camera within a cone, 0.3-5 m away."""
    theta = np.radians(half_angle_deg) * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    d = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1)
    return d * rng.uniform(0.3, 5.0, (n, 1))


def _brown5(K: np.ndarray, dist: list[float], P: np.ndarray) -> np.ndarray:
    """OpenCV's 5-coefficient pinhole model written out from its documentation (not vrkit)."""
    k1, k2, p1, p2, k3 = dist
    x, y = P[:, 0] / P[:, 2], P[:, 1] / P[:, 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], axis=1)


def _equidistant(K: np.ndarray, dist: list[float], P: np.ndarray) -> np.ndarray:
    """cv2.fisheye's equidistant model written out from its documentation (not vrkit)."""
    a, b = P[:, 0] / P[:, 2], P[:, 1] / P[:, 2]
    r = np.hypot(a, b)
    th = np.arctan(r)
    k1, k2, k3, k4 = dist
    th_d = th * (1 + k1 * th**2 + k2 * th**4 + k3 * th**6 + k4 * th**8)
    s = np.where(r > 0, th_d / np.maximum(r, 1e-300), 1.0)
    return np.stack([K[0, 0] * a * s + K[0, 2], K[1, 1] * b * s + K[1, 2]], axis=1)


# --- projection ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 5, 8, 12, 14])
def test_pinhole_projection_equals_cv2_project_points(n):
    """Random points through a non-trivial pose: cv2.projectPoints (called here, the
    reference) and CameraModel.project of the same points moved into the camera frame."""
    rng = np.random.default_rng(n)
    cam = CameraModel("pinhole", (640, 480), K0, DIST[n])
    X_world = rng.uniform(-1, 1, (300, 3))
    rvec, tvec = np.array([0.1, -0.2, 0.05]), np.array([0.05, -0.1, 3.0])
    ref, _ = cv2.projectPoints(X_world, rvec, tvec, K0, np.array(DIST[n]))
    T = tf.transform_from_vector(np.concatenate([rvec, tvec]))
    ours = cam.project(tf.transform_points(T, X_world))
    np.testing.assert_allclose(ours, ref.reshape(-1, 2), rtol=0, atol=1e-9)
    if n == 5:
        P = tf.transform_points(T, X_world)
        np.testing.assert_allclose(ours, _brown5(K0, DIST[5], P), rtol=0, atol=1e-9)
    # undistortion inverts projection (inside the image, where the lens is monotonic)
    px = cam.project(_points(rng, 200, 25.0))
    xy = cam.undistort_points(px)
    back = cam.project(np.c_[xy, np.ones(len(xy))])
    np.testing.assert_allclose(back, px, atol=1e-6)


def test_fisheye_projection_equals_cv2_fisheye_project_points():
    rng = np.random.default_rng(7)
    K = np.array([[300.0, 0.0, 322.5], [0.0, 299.0, 237.2], [0.0, 0.0, 1.0]])
    cam = CameraModel("fisheye", (640, 480), K, FISHEYE_DIST)
    P = _points(rng, 300, 80.0)  # up to 80 degrees off axis
    ref, _ = cv2.fisheye.projectPoints(P.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K,
                                       np.array(FISHEYE_DIST))  # fmt: skip
    ours = cam.project(P)
    np.testing.assert_allclose(ours, ref.reshape(-1, 2), atol=1e-9)
    np.testing.assert_allclose(ours, _equidistant(K, FISHEYE_DIST, P), atol=1e-9)
    rays = cam.pixels_to_rays(ours)
    np.testing.assert_allclose(rays, P / np.linalg.norm(P, axis=1, keepdims=True), atol=1e-9)


def test_points_behind_the_camera_project_to_nan():
    cam = CameraModel("pinhole", (640, 480), K0, DIST[5])
    px = cam.project([[0.1, 0.0, 1.0], [0.1, 0.0, -1.0], [0.0, 0.0, 0.0]])
    assert np.all(np.isfinite(px[0])) and np.all(np.isnan(px[1:]))


# --- files -----------------------------------------------------------------------------------


def _write_with_cv2(path: Path, K, dist, size, **extra) -> None:
    """A camera file as OpenCV's calibration sample writes it, by cv2.FileStorage itself."""
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", size[0])
    fs.write("image_height", size[1])
    for key, value in extra.items():
        fs.write(key, value)
    fs.write("camera_matrix", np.asarray(K, dtype=np.float64))
    fs.write("distortion_coefficients", np.asarray(dist, dtype=np.float64).reshape(-1, 1))
    fs.release()


@pytest.mark.parametrize("suffix", [".yml", ".yaml", ".xml", ".json"])
def test_opencv_filestorage_files_written_by_cv2_load(tmp_path, suffix):
    path = tmp_path / f"cam{suffix}"
    _write_with_cv2(path, K0, DIST[8], (640, 480), avg_reprojection_error=0.21)
    cam = load_camera(path)
    assert (cam.kind, cam.image_size, cam.rms_px) == ("pinhole", (640, 480), 0.21)
    np.testing.assert_array_equal(cam.K, K0)
    np.testing.assert_array_equal(cam.dist, DIST[8])
    fish = tmp_path / f"fish{suffix}"
    _write_with_cv2(fish, K0, FISHEYE_DIST, (1280, 960), fisheye_model=1)
    cam = CameraModel.load(fish)
    assert (cam.kind, cam.image_size) == ("fisheye", (1280, 960))
    np.testing.assert_array_equal(cam.dist, FISHEYE_DIST)


@pytest.mark.parametrize("suffix", [".yml", ".xml"])
@pytest.mark.parametrize("kind", ["pinhole", "fisheye"])
def test_vrkit_writes_opencv_files_that_cv2_filestorage_reads(tmp_path, suffix, kind):
    dist = DIST[5] if kind == "pinhole" else FISHEYE_DIST
    cam = CameraModel(kind, (640, 480), K0, dist, rms_px=0.3)
    path = tmp_path / f"cam{suffix}"
    cam.save(path)
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    np.testing.assert_array_equal(fs.getNode("camera_matrix").mat(), K0)
    np.testing.assert_array_equal(fs.getNode("distortion_coefficients").mat().ravel(), dist)
    assert fs.getNode("image_width").real() == 640 and fs.getNode("image_height").real() == 480
    assert fs.getNode("fisheye_model").real() == (kind == "fisheye")
    fs.release()
    back = load_camera(path)
    assert (back.kind, back.image_size, back.rms_px) == (kind, (640, 480), 0.3)
    np.testing.assert_array_equal(back.K, cam.K)
    np.testing.assert_array_equal(back.dist, cam.dist)
    # FileStorage JSON on request, vrkit's JSON by default
    cam.save(tmp_path / "cv.json", fmt="opencv")
    assert "camera_matrix" in json.loads((tmp_path / "cv.json").read_text())
    assert load_camera(tmp_path / "cv.json").kind == kind
    cam.save(tmp_path / "vr.json")
    assert json.loads((tmp_path / "vr.json").read_text())["format"] == "vrkit.camera"
    assert list(tmp_path.glob(".*")) == []  # no temporary files left behind


def test_opencv_sample_result_file_loads():
    """OpenCV's own left_intrinsics.yml (%YAML:1.0, OpenCV 4 sample), refused before as JSON."""
    cam = load_camera(DATA / "left_intrinsics.yml")
    fs = cv2.FileStorage(str(DATA / "left_intrinsics.yml"), cv2.FILE_STORAGE_READ)
    np.testing.assert_array_equal(cam.K, fs.getNode("camera_matrix").mat())
    np.testing.assert_array_equal(cam.dist, fs.getNode("distortion_coefficients").mat().ravel())
    assert cam.rms_px == pytest.approx(fs.getNode("avg_reprojection_error").real())
    fs.release()
    assert (cam.kind, cam.image_size) == ("pinhole", (640, 480))
    assert cam.K[0, 0] == pytest.approx(535.91573396163199)


def test_ros_camera_info_yaml_loads(tmp_path):
    """ROS camera_info YAML (no %YAML header, matrices as rows/cols/data maps)."""
    text = (
        "image_width: 752\nimage_height: 480\ncamera_name: cam0\n"
        "camera_matrix:\n  rows: 3\n  cols: 3\n"
        "  data: [420.5, 0.0, 376.0, 0.0, 419.25, 240.5, 0.0, 0.0, 1.0]\n"
        "distortion_model: {model}\n"
        "distortion_coefficients:\n  rows: 1\n  cols: {n}\n  data: [{d}]\n"
    )
    path = tmp_path / "ost.yaml"
    path.write_text(text.format(model="plumb_bob", n=5, d="-0.28, 0.07, 0.0002, 0.0001, 0.0"))
    cam = load_camera(path)
    assert (cam.kind, cam.image_size) == ("pinhole", (752, 480))
    assert cam.K[1, 1] == 419.25 and cam.dist.tolist() == [-0.28, 0.07, 0.0002, 0.0001, 0.0]
    path.write_text(text.format(model="equidistant", n=4, d="0.01, -0.002, 0.0003, 0.0"))
    assert load_camera(path).kind == "fisheye"
    path.write_text(text.format(model="mei", n=4, d="0.01, -0.002, 0.0003, 0.0"))
    with pytest.raises(ProfileError, match="distortion_model 'mei' is not a model vrkit knows"):
        load_camera(path)


def test_vrkit_json_round_trip_and_rig_entries(tmp_path):
    cam = CameraModel("pinhole", (640, 480), K0, DIST[14], rms_px=0.12, meta={"board": "x"})
    cam.save(tmp_path / "cam.json")
    back = load_camera(tmp_path / "cam.json")
    np.testing.assert_array_equal(back.K, cam.K)
    np.testing.assert_array_equal(back.dist, cam.dist)
    assert (back.rms_px, back.meta) == (0.12, {"board": "x"})
    # A rig camera entry is a camera file plus name and pose: cut out, it loads as one.
    T = tf.transform(tf.matrix_from_rotation_vector([0.1, 0.2, 0.3]), [0.1, 0.0, 1.0])
    rig = Rig([Camera("front", cam, T)])
    rig.save(tmp_path / "rig.json")
    entry = json.loads((tmp_path / "rig.json").read_text())["cameras"][0]
    assert CameraModel.from_dict(entry).image_size == (640, 480)
    loaded = Rig.load(tmp_path / "rig.json")
    np.testing.assert_array_equal(loaded.cameras[0].T_rig_cam, T)
    np.testing.assert_array_equal(loaded.cameras[0].K, K0)
    # The layout rig files had before (width/height at the top of the entry) still loads.
    old = {"schema": "vrkit.tracking.rig/1", "mounting": "world", "cameras": [
        {"name": "c", "width": 640, "height": 480, "model": "pinhole", "K": K0.tolist(),
         "dist": DIST[5], "T_rig_cam": np.eye(4).tolist()}]}  # fmt: skip
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert Rig.load(tmp_path / "old.json").cameras[0].intrinsics.image_size == (640, 480)


# --- refusals --------------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


@pytest.mark.parametrize(
    ("K", "message"),
    [
        ([[600, 0.5, 320], [0, 600, 240], [0, 0, 1]], r"K\[0\]\[1\] \(skew\) is 0.5, but vrkit's"),
        ([[600, 0, 320], [0, 600, 240], [0, 0, 2]], r"third row is \[0.0, 0.0, 2.0\], expected"),
        ([[600, 0, 320], [0, 600, 240], [0.001, 0, 1]], r"third row is \[0.001, 0.0, 1.0\]"),
        ([[600, 0, 320], [3, 600, 240], [0, 0, 1]], r"K\[1\]\[0\] is 3, expected 0"),
        ([[-600, 0, 320], [0, 600, 240], [0, 0, 1]], r"focal lengths must be 1 to 1e\+06 pixels"),
        ([[600, 0, 320], [0, 0, 240], [0, 0, 1]], r"fy=0"),
        ([[600, 0, float("nan")], [0, 600, 240], [0, 0, 1]], r"K holds NaN or infinite"),
        ([[600, 0, 1920], [0, 600, 240], [0, 0, 1]], r"principal point \(1920, 240\) px lies"),
        ([[600, 0, 320], [0, 600, -200], [0, 0, 1]], r"far outside the 640x480 image"),
        ([[600, 0], [0, 600]], r"K must be a \(3, 3\) matrix, got shape \(2, 2\)"),
    ],
)
def test_impossible_intrinsics_are_refused_at_load(tmp_path, K, message):
    with pytest.raises(ProfileError, match=message):
        CameraModel("pinhole", (640, 480), K, DIST[5])
    path = tmp_path / "cam.yml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 640)
    fs.write("image_height", 480)
    fs.write("camera_matrix", np.array(K, dtype=np.float64))
    fs.write("distortion_coefficients", np.array(DIST[5]))
    fs.release()
    with pytest.raises(ProfileError, match=message) as exc:
        load_camera(path)
    assert _one_line(exc).startswith(f"camera file {str(path)!r}: camera ")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("trunc.yml", "%YAML:1.0\n---\ncamera_matrix: !!opencv-matrix\n  rows: 3\n  cols: [\n",
         r"OpenCV FileStorage file \(YAML, XML, JSON\): line \d+: "),
        ("trunc.xml", '<?xml version="1.0"?>\n<opencv_storage>\n<image_width>640</image_width>\n'
         "<camera_matrix type_id=\"opencv-matrix\">\n  <rows>3", r"OpenCV FileStorage file"),
        ("empty.yml", "", "it is empty or not a text file"),
        ("broken.json", '{"format": "vrkit.camera", "K": [1, 2', "is not valid JSON: .* line 1"),
        ("nokeys.yml", "%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\n",
         "has no camera matrix .*camera_matrix, cameraMatrix, K"),
        ("nodist.yml", "%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\n"
         "K: [600.0, 0.0, 320.0, 0.0, 600.0, 240.0, 0.0, 0.0, 1.0]\n",
         "has no distortion coefficients"),
        ("nosize.yml", "%YAML:1.0\n---\nK: [600.0, 0.0, 320.0, 0.0, 600.0, 240.0, 0.0, 0.0, 1.0]\n"
         "D: [0.0, 0.0, 0.0, 0.0]\n", r"has no image size \(image_width and image_height\)"),
        ("sevendist.yml", "%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\n"
         "K: [600.0, 0.0, 320.0, 0.0, 600.0, 240.0, 0.0, 0.0, 1.0]\nD: [0, 0, 0, 0, 0, 0, 0]\n",
         "a pinhole camera needs 4, 5, 8, 12 or 14 distortion coefficients, got 7"),
        ("version.json", '{"format": "vrkit.camera", "version": 9}',
         r"\$\.version: expected exactly 1, got 9"),
        ("strings.json", '{"format": "vrkit.camera", "version": 1, "model": "pinhole", '
         '"image_size": [640, 480], "K": "eye", "dist": [0, 0, 0, 0]}',
          r"\$\.K: expected an array of 3 items, got 'eye'"),
        ("size.json", '{"format": "vrkit.camera", "version": 1, "model": "pinhole", '
         '"image_size": [640.5, 480], "K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], '
         '"dist": [0, 0, 0, 0]}',
          r"\$\.image_size\[0\]: expected an integer >= 1 <= 65536, got 640\.5"),
    ],
)  # fmt: skip
def test_broken_camera_files_are_one_line_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ProfileError, match=message) as exc:
        load_camera(path)
    assert str(path) in _one_line(exc)
    with pytest.raises(ProfileError, match="does not exist"):
        load_camera(tmp_path / "missing.yml")


def test_image_size_mismatch_names_both_sizes():
    cam = CameraModel("pinhole", (640, 480), K0, DIST[5])
    with pytest.raises(
        DataError, match=r"shot\.png: image is 1280x720 but the camera file says 640x"
    ):
        cam.check_image_size((1280, 720), "shot.png")


# --- where vrkit takes camera files ----------------------------------------------------------


def test_calibrate_camera_writes_an_opencv_yaml_that_cv2_reads(tmp_path, capsys):
    """`vrkit calibrate camera --out cam.yml`: OpenCV's sample keys, read back by cv2 itself."""
    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("left01.jpg", "left03.jpg", "left04.jpg", "left05.jpg", "left06.jpg"):
        shutil.copy(DATA / name, shots / name)
    out = tmp_path / "cam.yml"
    argv = ["calibrate", "camera", "--images", str(shots), "--board", "checkerboard:9x6:0.025"]
    assert main([*argv, "--out", str(out)]) == 0
    report = json.loads((tmp_path / "cam.report.json").read_text())["camera"]
    fs = cv2.FileStorage(str(out), cv2.FILE_STORAGE_READ)
    np.testing.assert_allclose(fs.getNode("camera_matrix").mat(), report["K"], rtol=1e-12)
    assert fs.getNode("image_width").real() == 640
    fs.release()
    assert "wrote" in capsys.readouterr().out
