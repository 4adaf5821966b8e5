"""Rig calibration: synthetic GL-rendered board views with known extrinsics, and real photos."""

from pathlib import Path

import numpy as np
import pytest

from vrkit.core.errors import DataError
from vrkit.math import transforms as tf
from vrkit.tracking.rigcal import Board, calibrate_rig, detect_views
from vrkit.tracking.scenarios import calibration_views, outside_in_rig
from vrkit.tracking.solve import pose_error

DATA = Path(__file__).parent / "data" / "tracking" / "opencv_stereo"
PAIRS = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "11", "12", "13", "14"]


@pytest.fixture(scope="module")
def stereo():
    import cv2

    imgs = [
        [
            cv2.imread(str(DATA / side / f"{side}{i}.jpg"), cv2.IMREAD_GRAYSCALE)
            for side in ("left", "right")
        ]
        for i in PAIRS
    ]
    board = Board("checkerboard", (10, 7), 0.025)
    return board, detect_views(board, imgs)


def test_real_stereo_rms_matches_opencv_stereo_calibrate(stereo):
    """Issue #8 proof: on OpenCV's real stereo checkerboard photos (13 pairs, 640x480, from
    Debian's opencv-doc) the joint extrinsics reach the same RMS as cv2.stereoCalibrate on the
    same detections and intrinsics.

    Measured (OpenCV 5.0): ours 0.44685 px, cv2.stereoCalibrate(CALIB_FIX_INTRINSIC) 0.44685 px,
    baselines equal to 0.1 um (83.6 mm); cv2.stereoCalibrate refining the intrinsics too gets
    0.4439 px. Asserted: within 2 % of stereoCalibrate, translation within 0.2 mm.
    """
    import cv2

    board, det = stereo
    assert all(all(d is not None and len(d[0]) == 54 for d in row) for row in det.views)
    cal = calibrate_rig(board, det, names=["left", "right"])
    ours = cal.report["pair_rms_px"]["left-right"]
    obj = [board.object_points().astype(np.float32)] * len(det.views)
    left = [row[0][1].astype(np.float32) for row in det.views]
    right = [row[1][1].astype(np.float32) for row in det.views]
    L, R = cal.rig.cameras
    ref = cv2.stereoCalibrate(
        obj,
        left,
        right,
        L.K.copy(),
        L.dist.copy(),
        R.K.copy(),
        R.dist.copy(),
        (640, 480),
        flags=cv2.CALIB_FIX_INTRINSIC,
    )
    rms_cv, T_cv = ref[0], ref[6].ravel()
    assert abs(ours - rms_cv) / rms_cv < 0.02, (ours, rms_cv)
    assert 0.2 < ours < 1.0  # real photos: a few tenths of a pixel
    T_rl = tf.invert_transform(R.T_rig_cam) @ L.T_rig_cam  # maps left-camera points to right
    np.testing.assert_allclose(T_rl[:3, 3], T_cv, atol=2e-4)  # baseline ~84 mm (square 25 mm)


def test_opencv_multiview_path_agrees(stereo):
    """method='opencv' (cv2.calibrateMultiview) gives the same baseline as the own BA."""
    import cv2

    if not hasattr(cv2, "calibrateMultiview"):
        pytest.skip("this OpenCV has no calibrateMultiview")
    board, det = stereo
    a = calibrate_rig(board, det, method="bundle")
    b = calibrate_rig(board, det, method="opencv")
    assert b.report["method"] == "opencv-calibrateMultiview"
    Ta = tf.invert_transform(a.rig.cameras[1].T_rig_cam) @ a.rig.cameras[0].T_rig_cam
    Tb = tf.invert_transform(b.rig.cameras[1].T_rig_cam) @ b.rig.cameras[0].T_rig_cam
    dp, dr = pose_error(Ta, Tb)
    assert dp < 2e-4 and np.degrees(dr) < 0.05
    assert b.report["pair_rms_px"]["cam0-cam1"] < 1.1 * a.report["pair_rms_px"]["cam0-cam1"]


def test_camera_without_shared_views_is_a_clear_error(stereo):
    """A third camera whose only board view is seen by no other camera: named in the error."""
    from vrkit.tracking.camera import Camera, intrinsics_from_fov
    from vrkit.tracking.rigcal import Detections

    board, det = stereo
    views = [[*row, None] for row in det.views]
    views[0] = [None, None, det.views[0][0]]
    sizes = [*det.image_sizes, (640, 480)]
    K = intrinsics_from_fov(640, 480, 60.0)
    known = [Camera(f"cam{c}", 640, 480, K) for c in range(3)]
    with pytest.raises(DataError, match=r"cameras \['cam2'\] share no board view"):
        calibrate_rig(board, Detections(sizes, views), intrinsics=known)
    with pytest.raises(DataError, match="camera 2: the board is visible in 1 views, need >= 5"):
        calibrate_rig(board, Detections(sizes, views))


def _relative_errors(rig, cal_rig):
    """(position m, angle rad) error of cameras 1..N relative to camera 0, calibrated vs true."""
    T0_true, T0_est = rig.cameras[0].T_rig_cam, cal_rig.cameras[0].T_rig_cam
    errs = []
    for c in range(1, len(rig)):
        T_true = tf.invert_transform(T0_true) @ rig.cameras[c].T_rig_cam
        T_est = tf.invert_transform(T0_est) @ cal_rig.cameras[c].T_rig_cam
        errs.append(pose_error(T_est, T_true))
    return np.array(errs)


@pytest.mark.slow
def test_synthetic_rig_calibration_recovers_extrinsics(_gl_session):
    """Issue #8 proof: GL-rendered ChArUco views (noise, lens distortion) from a 4-camera rig.

    With the cameras' lenses known, the bundle adjustment recovers every camera's pose relative
    to camera 0 within the issue's 1 mm and 0.05 deg (measured 0.07-0.26 mm, 0.009-0.026 deg).
    When the same 72 views also calibrate the intrinsics, the intrinsic errors (focal length
    and principal point off by up to ~0.8 px) limit the extrinsics to about 1.4 mm and
    0.11 deg: weaker than the issue asks, asserted at that level.
    """
    from vrkit.tracking.synth import SyntheticRenderer

    rig = outside_in_rig()
    board = Board("charuco", (9, 7), 0.035, 0.026, "DICT_4X4_50")
    poses = calibration_views(rig, board.outline(), np.random.default_rng(0), 12, 8)
    sr = SyntheticRenderer(rig, board, _gl_session, noise_sigma=1.0)
    images = [sr.render(lambda t, T=T: T, 0) for T in poses]
    sr.release()
    det = detect_views(board, images)

    known = calibrate_rig(board, det, intrinsics=rig.cameras)
    e = _relative_errors(rig, known.rig)
    assert np.all(e[:, 0] <= 1e-3), e
    assert np.all(np.degrees(e[:, 1]) <= 0.05), np.degrees(e[:, 1])

    cal = calibrate_rig(board, det)
    rep = cal.report
    assert set(rep["camera_rms_px"]) == {"cam0", "cam1", "cam2", "cam3"}
    assert set(rep["intrinsics_rms_px"]) == {"cam0", "cam1", "cam2", "cam3"}
    assert "cam0-cam1" in rep["pair_rms_px"]
    assert rep["total_rms_px"] < 0.3
    e = _relative_errors(rig, cal.rig)
    assert np.all(e[:, 0] <= 1.6e-3), e
    assert np.all(np.degrees(e[:, 1]) <= 0.13), np.degrees(e[:, 1])
