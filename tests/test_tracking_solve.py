import numpy as np
import pytest

from vrkit.core.errors import DataError, InputError
from vrkit.math import transforms as tf
from vrkit.tracking.scenarios import head_trajectory, inside_out_rig, outside_in_rig
from vrkit.tracking.solve import (
    Observation,
    _Problem,
    arrangement,
    pose_error,
    solve_pose,
    visible_projections,
)
from vrkit.tracking.target import headset_aruco, room_marker_map


def observe(rig, target, T, mode, noise_px, rng, cams=None):
    pts, nrm = target.points(), target.point_normals()
    obs = []
    for i in range(len(rig)) if cams is None else cams:
        px, ok = visible_projections(rig, i, pts, nrm, T, mode, target.view_cone_deg)
        px = px[ok] + rng.normal(0, noise_px, (ok.sum(), 2))
        obs.append(Observation(i, px, pts[ok], np.flatnonzero(ok)))
    return obs


@pytest.mark.parametrize("mode", ["outside_in", "inside_out"])
def test_jacobian_matches_finite_differences(mode):
    rig = outside_in_rig() if mode == "outside_in" else inside_out_rig()
    target = headset_aruco() if mode == "outside_in" else room_marker_map()
    T = head_trajectory(0.7e9)
    obs = observe(rig, target, T, mode, 0.0, np.random.default_rng(0))
    prob = _Problem(rig, obs, mode)
    T0 = tf.perturb(T, np.array([0.01, -0.02, 0.005, 0.02, -0.01, 0.03]))
    _, J = prob.jacobian(T0)
    num = np.zeros_like(J)
    for k in range(6):
        d = np.zeros(6)
        d[k] = 1e-7
        num[:, :, k] = (
            prob.residuals(tf.perturb(T0, d)) - prob.residuals(tf.perturb(T0, -d))
        ) / 2e-7
    np.testing.assert_allclose(J, num, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mode", ["outside_in", "inside_out"])
def test_joint_solve_recovers_pose_from_projected_points(mode):
    rng = np.random.default_rng(1)
    rig = outside_in_rig() if mode == "outside_in" else inside_out_rig()
    target = headset_aruco() if mode == "outside_in" else room_marker_map()
    assert arrangement(rig, target.frame) == mode
    errs = []
    for k in range(10):
        T = head_trajectory(k * 0.37e9)
        obs = observe(rig, target, T, mode, 0.1, rng)
        sol = solve_pose(rig, obs, mode)
        errs.append(pose_error(sol.T_world_head, T))
        assert sol.rms_px < 0.2
        assert len(sol.cameras_used) >= 2
    e = np.array(errs)
    assert np.sqrt(np.mean(e[:, 0] ** 2)) < 1e-3
    assert np.degrees(np.sqrt(np.mean(e[:, 1] ** 2))) < 0.1


def test_covariance_matches_scatter():
    """The reported covariance predicts the spread of repeated solves on fresh noise."""
    rng = np.random.default_rng(2)
    rig, target = outside_in_rig(), headset_aruco()
    T = head_trajectory(1.1e9)
    deltas, covs = [], []
    for _ in range(150):
        sol = solve_pose(rig, observe(rig, target, T, "outside_in", 0.3, rng), "outside_in")
        d = np.concatenate(
            [
                sol.T_world_head[:3, 3] - T[:3, 3],
                tf.rotation_vector_from_quat(
                    tf.quat_from_matrix(sol.T_world_head[:3, :3] @ T[:3, :3].T)
                ),
            ]
        )
        deltas.append(d)
        covs.append(sol.covariance)
    emp = np.cov(np.array(deltas).T)
    pred = np.mean(covs, axis=0)
    ratio = np.diag(emp) / np.diag(pred)
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


def test_outliers_rejected():
    rng = np.random.default_rng(3)
    rig, target = outside_in_rig(), headset_aruco()
    T = head_trajectory(2.0e9)
    obs = observe(rig, target, T, "outside_in", 0.1, rng)
    obs[0].pixels[:3] += 25.0  # three gross mismatches in camera 0
    sol = solve_pose(rig, obs, "outside_in")
    assert sol.n_outliers >= 3
    assert not sol.inlier_mask[0][:3].any()
    dp, dr = pose_error(sol.T_world_head, T)
    assert dp < 1e-3 and np.degrees(dr) < 0.1


def test_too_few_points_is_a_clear_error():
    rig, target = outside_in_rig(), headset_aruco()
    T = head_trajectory(0)
    obs = observe(rig, target, T, "outside_in", 0.0, np.random.default_rng(0))
    few = [Observation(o.camera, o.pixels[:1], o.model_points[:1]) for o in obs[:3]]
    with pytest.raises(DataError, match="too few target points visible: 3"):
        solve_pose(rig, few, "outside_in")


def test_mismatched_arrangement_is_rejected():
    with pytest.raises(InputError, match="does not fit"):
        arrangement(outside_in_rig(), "world")
