"""Measuring-camera intrinsic calibration: closed loop on rendered boards, and real photographs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vrkit.calibration.intrinsics import calibrate_camera, load_image_folder
from vrkit.calibration.synth import board_poses, camera_pixel_rays, render_board_view
from vrkit.core.errors import DataError, InputError
from vrkit.vision.board import Board
from vrkit.vision.camera import CameraModel

DATA = Path(__file__).parent / "data" / "calibration" / "opencv_left"

TRUE_CAMERAS = {
    "pinhole": CameraModel(
        "pinhole",
        (640, 480),
        [[420.0, 0, 322.5], [0, 418.0, 237.2], [0, 0, 1]],
        [-0.28, 0.09, 0.001, -0.0005, -0.01],
    ),
    "fisheye": CameraModel(
        "fisheye",
        (640, 480),
        [[300.0, 0, 322.5], [0, 299.0, 237.2], [0, 0, 1]],
        [0.05, -0.02, 0.01, -0.003],
    ),
}


def _views(kind: str, board_text: str, n: int = 10, seed: int = 1, noise: float = 1.0):
    cam = TRUE_CAMERAS[kind]
    board = Board.parse(board_text)
    rng = np.random.default_rng(seed)
    rays = camera_pixel_rays(cam, 2)
    poses = board_poses(cam, board, n, rng)
    return (
        cam,
        board,
        [
            (
                f"view{i:02d}.png",
                render_board_view(cam, board, r, t, noise_sigma=noise, rng=rng, rays=rays),
            )
            for i, (r, t) in enumerate(poses)
        ],
    )


@pytest.mark.parametrize(
    ("kind", "board_text", "max_rms"),
    [
        ("pinhole", "checkerboard:9x6:0.03", 0.1),
        ("pinhole", "charuco:8x6:0.03:0.022:DICT_4X4_50", 0.3),
        ("fisheye", "checkerboard:9x6:0.03", 0.1),
        ("fisheye", "charuco:8x6:0.03:0.022:DICT_4X4_50", 0.3),
    ],
)
def test_recovers_known_intrinsics(kind, board_text, max_rms):
    truth, board, views = _views(kind, board_text)
    res = calibrate_camera(views, board, kind)
    cam = res.camera
    assert len(res.used) == len(views), [v.reason for v in res.rejected]
    assert cam.rms_px < max_rms
    np.testing.assert_allclose(cam.K[[0, 1], [0, 1]], truth.K[[0, 1], [0, 1]], rtol=0.005)
    np.testing.assert_allclose(cam.K[:2, 2], truth.K[:2, 2], atol=1.5)
    # Where the board was seen, the fitted camera maps rays to the same pixels as the truth
    # (to within the principal-point/pose trade-off, well under a pixel).
    px = np.concatenate(res.image_points)
    err = np.linalg.norm(cam.project(truth.pixels_to_rays(px)) - px, axis=1)
    assert np.sqrt(np.mean(err**2)) < 0.4
    assert err.max() < 0.8


def test_bad_views_are_named_and_skipped():
    _, board, views = _views("pinhole", "checkerboard:9x6:0.03", n=7, seed=3)
    blurred = cv2.GaussianBlur(views[2][1], (0, 0), 3.0)
    views[2] = ("blurred.png", blurred)
    views.append(("blank.png", np.full((480, 640), 120, np.uint8)))
    views.append(("small.png", cv2.resize(views[0][1], (320, 240))))
    res = calibrate_camera(views, board, "pinhole")
    reasons = {v.name: v.reason for v in res.rejected}
    assert set(reasons) == {"blurred.png", "blank.png", "small.png"}, reasons
    assert reasons["blurred.png"].startswith("blurred")
    assert "pattern not found" in reasons["blank.png"]
    assert "320x240" in reasons["small.png"]
    assert len(res.used) == 6
    assert any("rejected  blank.png: pattern not found" in line for line in res.report_lines())


def test_too_few_views_is_refused_with_reasons():
    _, board, views = _views("pinhole", "checkerboard:9x6:0.03", n=2, seed=4)
    views.append(("blank.png", np.zeros((480, 640), np.uint8)))
    with pytest.raises(DataError, match=r"only 2 usable views of 3.*blank.png: pattern not found"):
        calibrate_camera(views, board, "pinhole", min_views=4)


def test_camera_json_round_trip_and_validation(tmp_path):
    cam = TRUE_CAMERAS["fisheye"]
    path = tmp_path / "cam.json"
    cam.save(path)
    back = CameraModel.load(path)
    assert back.kind == "fisheye" and back.image_size == (640, 480)
    np.testing.assert_array_equal(back.K, cam.K)
    np.testing.assert_array_equal(back.dist, cam.dist)
    px = np.array([[10.0, 20.0], [320.0, 240.0], [630.0, 470.0]])
    np.testing.assert_allclose(back.project(back.pixels_to_rays(px)), px, atol=1e-6)
    with pytest.raises(
        DataError, match=r"capture a.png: image is 1280x720 but the camera file says 640x480"
    ):
        back.check_image_size((1280, 720), "capture a.png")
    bad = json.loads(path.read_text())
    bad["dist"] = [0.1, 0.2, 0.3]
    path.write_text(json.dumps(bad))
    with pytest.raises(
        InputError, match=r"cam\.json': \$\.dist: expected an array of 4 items, got 3 item"
    ):
        CameraModel.load(path)
    path.write_text(json.dumps({"format": "something"}))
    with pytest.raises(InputError, match=r"\$\.format: expected exactly 'vrkit\.camera', got 'som"):
        CameraModel.load(path)


# --- Real photographs ------------------------------------------------------------------------
# tests/data/calibration/opencv_left/ holds OpenCV's sample calibration photographs left01..14
# (640x480, 9x6 inner corners, 25 mm squares) and OpenCV's own result for them,
# left_intrinsics.yml, as shipped by Debian's opencv-doc 4.6.0 (Apache-2.0 / BSD-3-Clause);
# see README.md there. That result came from OpenCV's calibration sample: findChessboardCorners,
# cornerSubPix with an 11x11 half window, calibrateCamera with CALIB_FIX_ASPECT_RATIO.


def _opencv_reference():
    fs = cv2.FileStorage(str(DATA / "left_intrinsics.yml"), cv2.FILE_STORAGE_READ)
    K = fs.getNode("camera_matrix").mat()
    dist = fs.getNode("distortion_coefficients").mat().ravel()
    per_view = fs.getNode("per_view_reprojection_errors").mat().ravel()
    rms = fs.getNode("avg_reprojection_error").real()
    return K, dist, per_view, rms


def test_real_photographs_match_opencv_sample_result():
    images = load_image_folder(DATA)
    assert len(images) == 13
    K_ref, dist_ref, per_view_ref, rms_ref = _opencv_reference()
    res = calibrate_camera(
        images,
        Board.parse("checkerboard:9x6:0.025"),
        "pinhole",
        fix_aspect_ratio=True,
        subpix_window=11,
        max_view_rms_px=np.inf,
    )
    cam = res.camera
    assert len(res.used) == 13
    # Same settings as OpenCV's sample: the same camera to 0.1 % in focal length, 0.5 px in
    # principal point, and the same per-view error pattern (left02 is the worst view, ~1.2 px).
    np.testing.assert_allclose(cam.K[0, 0], K_ref[0, 0], rtol=1e-3)
    np.testing.assert_allclose(cam.K[:2, 2], K_ref[:2, 2], atol=0.5)
    np.testing.assert_allclose(cam.rms_px, rms_ref, atol=0.03)
    per_view = np.array([v.rms_px for v in res.views])
    assert np.argmax(per_view) == np.argmax(per_view_ref) == 1
    np.testing.assert_allclose(per_view, per_view_ref, atol=0.1)
    ref = CameraModel("pinhole", (640, 480), K_ref, dist_ref)
    px = np.concatenate(res.image_points)
    err = np.linalg.norm(cam.project(ref.pixels_to_rays(px)) - px, axis=1)
    assert err.max() < 0.5, err.max()


def test_real_photographs_default_settings_reject_the_bad_view():
    images = load_image_folder(DATA)
    res = calibrate_camera(images, Board.parse("checkerboard:9x6:0.025"), "pinhole")
    rejected = {v.name: v.reason for v in res.rejected}
    # The adaptive sub-pixel window halves the RMS of OpenCV's sample; no view is an outlier then.
    assert res.camera.rms_px < 0.25
    assert rejected == {}
    res = calibrate_camera(
        images, Board.parse("checkerboard:9x6:0.025"), "pinhole", subpix_window=11
    )
    rejected = {v.name: v.reason for v in res.rejected}
    assert list(rejected) == ["left02.jpg"]
    assert "reprojection RMS 1.2" in rejected["left02.jpg"]


def _opencv_calibrate(names: list[str]) -> tuple[float, np.ndarray, np.ndarray]:
    """OpenCV's own pipeline, live, as its calibration sample runs it: findChessboardCorners,
    cornerSubPix (11x11 half window), calibrateCamera with no flags."""
    obj = np.zeros((54, 3), np.float32)
    obj[:, :2] = np.mgrid[0:9, 0:6].T.reshape(-1, 2) * 0.025
    img_pts = []
    for name in names:
        gray = cv2.imread(str(DATA / name), cv2.IMREAD_GRAYSCALE)
        ok, corners = cv2.findChessboardCorners(gray, (9, 6))
        assert ok, name
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
        img_pts.append(cv2.cornerSubPix(gray, corners, (11, 11), (-1, -1), crit))
    rms, K, dist, _, _ = cv2.calibrateCamera([obj] * len(names), img_pts, (640, 480), None, None)
    return rms, K, dist.ravel()


def test_cli_camera_on_real_photographs_matches_cv2_calibrate_camera(tmp_path, capsys):
    """`vrkit calibrate camera` on OpenCV's sample photographs vs cv2.calibrateCamera live."""
    from vrkit.cli import main

    def calibrate(*extra: str) -> tuple[CameraModel, list[str], str]:
        out = tmp_path / "cam.json"
        argv = ["calibrate", "camera", "--images", str(DATA), "--out", str(out), *extra]
        assert main([*argv, "--board", "checkerboard:9x6:0.025"]) == 0
        used = json.loads(out.read_text())["meta"]["views_used"]
        return CameraModel.load(out), used, capsys.readouterr().out

    # Same corner refinement as OpenCV's sample: the same camera, to numerical precision, on
    # the views vrkit kept (it rejects left02, whose 1.2 px RMS is 3x the median view).
    cam, used, text = calibrate("--subpix-window", "11")
    assert "rejected  left02.jpg: reprojection RMS 1.22 px" in text
    assert len(used) == 12 and "left02.jpg" not in used
    rms, K, dist = _opencv_calibrate(used)
    np.testing.assert_allclose(cam.K, K, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(cam.dist, dist, atol=1e-4)
    assert cam.rms_px == pytest.approx(rms, abs=1e-4)

    # Defaults (adaptive refinement window, every view kept): the same camera as OpenCV's
    # sample pipeline on all 13 photographs to 1 % in focal length and 2 px in principal
    # point, with less than half its reprojection RMS.
    cam, used, _ = calibrate()
    assert len(used) == 13
    rms, K, dist = _opencv_calibrate(used)
    np.testing.assert_allclose(cam.K[[0, 1], [0, 1]], K[[0, 1], [0, 1]], rtol=0.01)
    np.testing.assert_allclose(cam.K[:2, 2], K[:2, 2], atol=2.0)
    assert cam.rms_px < 0.5 * rms


def test_folder_of_1x1_images_is_one_line(tmp_path):
    """Was: an OpenCV assertion (adaptiveThreshold) from 10,000 1x1 PNGs (issue 18)."""
    for i in range(40):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), np.full((1, 1), 128, np.uint8))
    with pytest.raises(InputError) as exc:
        load_image_folder(tmp_path)
    assert str(exc.value) == (
        f"image folder {str(tmp_path)!r}: 40 of 40 images are too small for board detection "
        "(under 32 px a side), first 00000.png (1x1); give the camera's full-resolution "
        "photographs of the board"
    )
