import numpy as np
import pytest

from vrkit.core.errors import InputError
from vrkit.math import transforms as tf
from vrkit.tracking.filter import FilterConfig, PoseFilter
from vrkit.tracking.scenarios import head_trajectory
from vrkit.tracking.solve import pose_error

POS_SIGMA = 0.0007  # m, a typical single-frame optical solve
ROT_SIGMA = np.radians(0.15)
AMP = 3.0  # trajectory amplitude: up to ~0.25 m/s and ~90 deg/s
MEAS_COV = np.diag([POS_SIGMA**2] * 3 + [ROT_SIGMA**2] * 3)


def noisy(T, rng):
    R = tf.matrix_from_quat(tf.quat_from_rotation_vector(rng.normal(0, ROT_SIGMA, 3))) @ T[:3, :3]
    return tf.transform(R, T[:3, 3] + rng.normal(0, POS_SIGMA, 3))


def body_rate(t_ns, h=1e5):
    Ra, Rb = head_trajectory(t_ns - h, AMP)[:3, :3], head_trajectory(t_ns + h, AMP)[:3, :3]
    return tf.rotation_vector_from_quat(tf.quat_from_matrix(Ra.T @ Rb)) / (2 * h * 1e-9)


def run(rng, gyro_bias=None, period_ns=16_666_667, seconds=4.0):
    # noise densities matched to this trajectory's accelerations (< 0.5 m/s^2, < 4 rad/s^2)
    f = PoseFilter(FilterConfig(accel_noise=0.5, angular_accel_noise=3.0))
    errs_f, errs_m, errs_pred, errs_hold = [], [], [], []
    n = int(seconds * 1e9 / period_ns)
    for k in range(n):
        t = k * period_ns
        if gyro_bias is not None:
            for j in range(8):  # 480 Hz gyro between optical frames
                tg = t - period_ns + (j + 1) * period_ns // 8
                if tg > 0:
                    f.update_gyro(tg, body_rate(tg) + gyro_bias + rng.normal(0, 0.005, 3))
        T_true = head_trajectory(t, AMP)
        T_meas = noisy(T_true, rng)
        f.update_pose(t, T_meas, MEAS_COV)
        if k > 60:
            errs_m.append(pose_error(T_meas, T_true))
            errs_f.append(pose_error(f.pose_at(t)[0], T_true))
            ahead = t + 30_000_000  # predict 30 ms ahead (a display time)
            errs_pred.append(pose_error(f.pose_at(ahead)[0], head_trajectory(ahead, AMP)))
            errs_hold.append(pose_error(T_meas, head_trajectory(ahead, AMP)))
    rms = lambda e: np.sqrt(np.mean(np.array(e) ** 2, axis=0))  # noqa: E731
    return f, rms(errs_f), rms(errs_m), rms(errs_pred), rms(errs_hold)


def test_filter_smooths_noisy_optical_poses():
    _, filt, meas, _, _ = run(np.random.default_rng(0))
    # at 60 Hz with a fast-moving head the constant-velocity model only smooths a little
    assert filt[0] < 0.92 * meas[0]
    assert filt[1] < 0.95 * meas[1]


def test_prediction_to_display_time_beats_holding_the_last_pose():
    _, _, _, pred, hold = run(np.random.default_rng(1))
    assert pred[0] < 0.5 * hold[0]
    assert pred[1] < 0.5 * hold[1]


def test_gyro_fusion_estimates_bias_and_improves_orientation():
    bias = np.array([0.02, -0.015, 0.01])
    f, filt_gyro, _, pred_gyro, _ = run(np.random.default_rng(2), gyro_bias=bias)
    _, filt, _, pred, _ = run(np.random.default_rng(2))
    np.testing.assert_allclose(f.b, bias, atol=0.004)
    assert filt_gyro[1] < 0.5 * filt[1]
    assert pred_gyro[1] < 0.5 * pred[1]


def test_gate_reinitialises_on_a_jump():
    f = PoseFilter()
    T = head_trajectory(0)
    f.update_pose(0, T, MEAS_COV)
    f.update_pose(10_000_000, T, MEAS_COV)
    far = T.copy()
    far[:3, 3] += [0.5, 0, 0]
    assert f.update_pose(20_000_000, far, MEAS_COV) is False
    assert f.resets == 1
    np.testing.assert_allclose(f.pose_at(20_000_000)[0][:3, 3], far[:3, 3])


def test_pose_before_init_is_an_error():
    with pytest.raises(InputError, match="no pose yet"):
        PoseFilter().pose_at(0)
