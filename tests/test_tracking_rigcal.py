"""Rig calibration: synthetic GL-rendered board views with known extrinsics, and real photos."""

from pathlib import Path

import numpy as np
import pytest

from vrkit.core.errors import DataError
from vrkit.math import transforms as tf
from vrkit.tracking.rigcal import calibrate_rig, detect_views
from vrkit.tracking.scenarios import calibration_views, outside_in_rig
from vrkit.tracking.solve import pose_error
from vrkit.vision.board import Board
from vrkit.vision.camera import CameraModel, intrinsics_from_fov

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
    from vrkit.tracking.rigcal import Detections

    board, det = stereo
    views = [[*row, None] for row in det.views]
    views[0] = [None, None, det.views[0][0]]
    sizes = [*det.image_sizes, (640, 480)]
    K = intrinsics_from_fov(640, 480, 60.0)
    known = [CameraModel("pinhole", (640, 480), K) for _ in range(3)]
    with pytest.raises(DataError, match=r"cameras \['cam2'\] share no board view"):
        calibrate_rig(board, Detections(sizes, views), intrinsics=known)
    with pytest.raises(DataError, match="camera 2: the board is visible in 1 views, need >= 5"):
        calibrate_rig(board, Detections(sizes, views))


def test_refining_fisheye_intrinsics_in_the_bundle_adjustment_is_a_clear_error(stereo):
    from vrkit.core.errors import InputError

    board, det = stereo
    K = np.array([[540.0, 0, 320], [0, 540, 240], [0, 0, 1]])
    fish = [CameraModel("fisheye", (640, 480), K, np.zeros(4)) for _ in range(2)]
    with pytest.raises(InputError, match="needs pinhole cameras"):
        calibrate_rig(board, det, intrinsics=fish, refine_intrinsics=True)


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

    Nothing but the board is known: the same 72 views calibrate each camera's intrinsics and
    then the joint extrinsics, which match the truth within the issue's 1 mm and 0.05 deg
    (measured 0.21-0.39 mm, 0.016-0.025 deg; focal lengths within 0.07 px, principal points
    within 0.31 px). With the true lenses given instead: 0.03-0.08 mm, 0.003-0.006 deg.
    Corners against the truth: median 0.019 px, p99 0.082 px, mean (0.003, -0.001) px. Other
    view seeds (1-5, same design): 0.10-0.64 mm, 0.010-0.040 deg; corner p99 0.07-0.115 px.

    Before the saddle-point corner refinement (``refine_saddle_corners``) the ChArUco
    detector's own corners were off by 0.072 px median, p99 0.65 px, up to 1.8 px on small
    or steep squares; the principal points came out up to 0.5 px wrong and the extrinsics
    1.35 mm / 0.107 deg (the known-lens case 0.26 mm / 0.026 deg).
    """
    from vrkit.tracking.synth import SyntheticRenderer

    rig = outside_in_rig()
    board = Board("charuco", (9, 7), 0.035, 0.026, "DICT_4X4_50")
    poses = calibration_views(rig, board.outline(), np.random.default_rng(0), 12, 8)
    sr = SyntheticRenderer(rig, board, _gl_session, noise_sigma=1.0)
    images = [sr.render(lambda t, T=T: T, 0) for T in poses]
    sr.release()
    det = detect_views(board, images)

    # the detected corners against the truth: no bias, no tail (p99 was 0.65 px before)
    obj = board.object_points()
    err = np.concatenate([
        d[1] - cam.project_rig(tf.transform_points(T, obj[d[0]]))
        for T, row in zip(poses, det.views, strict=True)
        for cam, d in zip(rig.cameras, row, strict=True) if d is not None
    ])  # fmt: skip
    dist = np.linalg.norm(err, axis=1)
    assert len(dist) > 4000
    assert np.median(dist) < 0.03 and np.percentile(dist, 99) < 0.15, np.percentile(dist, [50, 99])
    assert np.all(np.abs(err.mean(axis=0)) < 0.01), err.mean(axis=0)

    known = calibrate_rig(board, det, intrinsics=[c.intrinsics for c in rig.cameras])
    e = _relative_errors(rig, known.rig)
    assert np.all(e[:, 0] <= 0.3e-3), e
    assert np.all(np.degrees(e[:, 1]) <= 0.03), np.degrees(e[:, 1])

    cal = calibrate_rig(board, det)
    rep = cal.report
    assert set(rep["camera_rms_px"]) == {"cam0", "cam1", "cam2", "cam3"}
    assert set(rep["intrinsics_rms_px"]) == {"cam0", "cam1", "cam2", "cam3"}
    assert "cam0-cam1" in rep["pair_rms_px"]
    assert rep["total_rms_px"] < 0.06
    for est, true in zip(cal.rig.cameras, rig.cameras, strict=True):
        dk = est.K[[0, 1, 0, 1], [0, 1, 2, 2]] - true.K[[0, 1, 0, 1], [0, 1, 2, 2]]
        assert np.all(np.abs(dk) < 0.5), (est.name, dk)  # fx fy cx cy, pixels
    e = _relative_errors(rig, cal.rig)
    assert np.all(e[:, 0] <= 1e-3), e  # the numbers
    assert np.all(np.degrees(e[:, 1]) <= 0.05), np.degrees(e[:, 1])

    # intrinsics refined jointly with the extrinsics over all views: at least as good
    # (measured 0.17-0.28 mm, 0.010-0.022 deg, f within 0.09 px, principal points 0.15 px)
    joint = calibrate_rig(board, det, refine_intrinsics=True)
    assert joint.report["total_rms_px"] <= rep["total_rms_px"]
    for est, true in zip(joint.rig.cameras, rig.cameras, strict=True):
        dk = est.K[[0, 1, 0, 1], [0, 1, 2, 2]] - true.K[[0, 1, 0, 1], [0, 1, 2, 2]]
        assert np.all(np.abs(dk) < 0.3), (est.name, dk)
    ej = _relative_errors(rig, joint.rig)
    assert np.all(ej[:, 0] <= 1e-3), ej
    assert np.all(np.degrees(ej[:, 1]) <= 0.05), np.degrees(ej[:, 1])


def test_saddle_refinement_finds_a_sheared_corner_and_rejects_flat_patches():
    """refine_saddle_corners: a blurred, sheared X-junction at a known sub-pixel point is found
    to 0.02 px from 1.5 px away; a flat patch is reported as not converged; radius < 2 raises."""
    import cv2

    from vrkit.core.errors import InputError
    from vrkit.vision.corners import refine_saddle_corners

    s = 8  # supersampling of the drawn junction
    x0, y0 = 40.3, 31.7  # truth, pixels
    yy, xx = np.mgrid[0 : 64 * s, 0 : 80 * s]
    u = (xx + 0.5) / s - 0.5 - x0
    v = (yy + 0.5) / s - 0.5 - y0
    a = u - 0.4 * v  # two edges crossing at 68 deg, as on a tilted board
    hi = np.where((a > 0) == (0.3 * u + v > 0), 230.0, 25.0).astype(np.float32)
    img = cv2.resize(hi, (80, 64), interpolation=cv2.INTER_AREA)
    img = np.clip(np.rint(cv2.GaussianBlur(img, (0, 0), 0.6)), 0, 255).astype(np.uint8)
    start = np.array([[x0 + 1.2, y0 - 0.9], [10.0, 10.0]])
    img[:20, :20] = 128  # flat around the second point
    p, ok = refine_saddle_corners(img, start, radius=3)
    assert ok.tolist() == [True, False]
    assert np.linalg.norm(p[0] - [x0, y0]) < 0.02, p[0]
    np.testing.assert_array_equal(p[1], start[1])
    with pytest.raises(InputError, match="radius must be >= 2 pixels, got 1"):
        refine_saddle_corners(img, start, radius=1)
