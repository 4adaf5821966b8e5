import math
import subprocess
import sys

import numpy as np
import pytest
from pyglm import glm

from vrkit.core.types import Fov, Pose
from vrkit.math import transforms as tf
from vrkit.math.glm_bridge import from_glm_mat4, from_glm_quat, to_glm_mat4, to_glm_quat
from vrkit.math.projection import project_to_pixels, projection_from_fov, projection_from_intrinsics
from vrkit.math.stereo import eye_poses_in_head, eye_views

rng = np.random.default_rng(7)


def random_pose():
    q = tf.quat_normalize(rng.normal(size=4))
    return Pose(rng.normal(size=3), q)


def test_projection_matches_glm_frustum():
    # Reference: glm.frustum (an independent implementation of the OpenGL frustum matrix)
    # with the near-plane extents of the four XrFovf angles.
    fov = Fov.from_degrees(-52, 43, 48, -55)
    n, f = 0.1, 50.0
    tl, tr, tu, td = fov.tangents()
    ref = from_glm_mat4(glm.frustum(n * tl, n * tr, n * td, n * tu, n, f))
    np.testing.assert_allclose(projection_from_fov(fov, n, f), ref, rtol=1e-6, atol=1e-7)


def test_projection_sends_fov_edges_to_ndc_edges():
    fov = Fov.from_degrees(-40, 30, 35, -45)
    P = projection_from_fov(fov)
    tl, tr, tu, td = fov.tangents()
    corners = np.array([[tl, tu, -1, 1], [tr, td, -1, 1]]) * 2.0
    corners[:, 3] = 1
    clip = corners @ P.T
    ndc = clip[:, :2] / clip[:, 3:]
    np.testing.assert_allclose(ndc, [[-1, 1], [1, -1]], atol=1e-12)


def test_project_to_pixels_corners():
    fov = Fov.from_degrees(-40, 30, 35, -45)
    tl, tr, tu, td = fov.tangents()
    uv = project_to_pixels([[tl, tu, -1], [tr, td, -1], [0, 0, -1]], fov, 200, 100)
    np.testing.assert_allclose(uv[:2], [[0, 0], [200, 100]], atol=1e-9)
    assert 0 < uv[2, 0] < 200 and 0 < uv[2, 1] < 100
    with pytest.raises(ValueError, match="in front of the eye"):
        project_to_pixels([[0, 0, 1]], fov, 10, 10)


def test_projection_from_intrinsics_matches_pinhole():
    K = np.array([[500.0, 0, 310], [0, 510, 245], [0, 0, 1]])
    P = projection_from_intrinsics(K, 640, 480)
    p_cv = np.array([0.1, -0.05, 1.2])  # OpenCV camera frame: y down, z forward
    p_gl = p_cv * [1, -1, -1]
    clip = P @ np.append(p_gl, 1)
    ndc = clip[:2] / clip[3]
    u, v = (ndc[0] + 1) / 2 * 640, (1 - ndc[1]) / 2 * 480
    expected = K @ p_cv
    np.testing.assert_allclose([u, v], expected[:2] / expected[2], atol=1e-9)


def test_fov_validation_names_the_values():
    with pytest.raises(ValueError, match="angle_left < angle_right"):
        Fov(0.5, -0.5, 0.5, -0.5)
    with pytest.raises(ValueError, match="finite"):
        Fov(float("nan"), 0.5, 0.5, -0.5)


def test_quaternion_matrix_roundtrip_and_composition():
    for _ in range(20):
        a, b = random_pose(), random_pose()
        np.testing.assert_allclose((a @ b).matrix(), a.matrix() @ b.matrix(), atol=1e-12)
        np.testing.assert_allclose((a @ a.inverse()).matrix(), np.eye(4), atol=1e-12)
        R = tf.matrix_from_quat(a.orientation)
        q = tf.quat_from_matrix(R)
        assert min(np.abs(q - a.orientation).max(), np.abs(q + a.orientation).max()) < 1e-12
        r = tf.rotation_vector_from_quat(a.orientation)
        np.testing.assert_allclose(
            tf.matrix_from_quat(tf.quat_from_rotation_vector(r)), R, atol=1e-12
        )


def test_quaternions_agree_with_glm():
    q = tf.quat_from_axis_angle([0.2, 1.0, -0.3], 0.7)
    gq = glm.angleAxis(0.7, glm.normalize(glm.vec3(0.2, 1.0, -0.3)))
    np.testing.assert_allclose(from_glm_quat(gq), q, atol=1e-6)
    np.testing.assert_allclose(from_glm_quat(to_glm_quat(q)), q, atol=1e-7)
    M = random_pose().matrix()
    np.testing.assert_allclose(from_glm_mat4(to_glm_mat4(M)), M, atol=1e-6)


def test_as_array_reports_shape():
    with pytest.raises(ValueError, match=r"expected shape \(N, 3\), got \(4, 2\)"):
        tf.as_array(np.zeros((4, 2)), (None, 3), "points")


def test_eye_poses_from_head_and_ipd():
    left, right = eye_poses_in_head(0.064)
    np.testing.assert_allclose(right.position - left.position, [0.064, 0, 0])
    head = Pose([1, 1.7, 2], tf.quat_from_axis_angle([0, 1, 0], math.pi / 2))
    views = eye_views(head, Fov.symmetric(1.5, 1.5), Fov.symmetric(1.5, 1.5), 0.064)
    # Head turned 90 degrees left (+Y): the eyes' baseline now runs along -Z.
    np.testing.assert_allclose(
        views[1].pose.position - views[0].pose.position, [0, 0, -0.064], atol=1e-12
    )
    cl, cr = eye_poses_in_head(0.064, cant_rad=math.radians(10))
    fwd_l = tf.quat_rotate(cl.orientation, [0, 0, -1])
    fwd_r = tf.quat_rotate(cr.orientation, [0, 0, -1])
    assert fwd_l[0] < 0 < fwd_r[0]  # canted outward
    with pytest.raises(ValueError, match="ipd_m"):
        eye_poses_in_head(0.5)


def test_importing_xr_inside_keep_platform_keeps_egl_working():
    # pyopenxr switches PyOpenGL to GLX on import; vrkit.gl.platform.keep_platform undoes that.
    code = (
        "import vrkit, OpenGL.platform as p\n"
        "from vrkit.gl.platform import keep_platform, platform_name\n"
        "with keep_platform():\n"
        "    import xr\n"
        "from vrkit.gl.egl import create_headless_context\n"
        "ctx = create_headless_context()\n"
        "fb = ctx.framebuffer(4, 4)\n"
        "ctx.bind_framebuffer(fb.fbo, (0, 0, 4, 4))\n"
        "ctx.clear((0, 1, 0, 1))\n"
        "print(platform_name(), fb.read_rgba()[0, 0].tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EGLPlatform", "[0,", "255,", "0,", "255]"]


def test_importing_xr_alone_switches_to_glx():
    # The hazard keep_platform exists for; if pyopenxr stops doing this, this test says so.
    code = "import vrkit, xr\nfrom vrkit.gl.platform import platform_name\nprint(platform_name())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "GLXPlatform"
