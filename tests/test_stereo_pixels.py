"""An object at a known 3D position lands where the projection predicts, in each eye."""

import math

import numpy as np
import pytest

from vrkit.core.types import LEFT, RIGHT, EyeView, Fov, FrameInfo, Pose
from vrkit.math.projection import project_to_pixels
from vrkit.math.stereo import eye_views
from vrkit.math.transforms import (
    invert_transform,
    quat_from_axis_angle,
    transform,
    transform_points,
)
from vrkit.render.meshes import quad
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Scene
from vrkit.render.targets import EyeTargets

W, H = 320, 240


def centroid(img):
    mask = img[..., 0].astype(float) > 127
    assert mask.sum() > 4, "the marker is not visible"
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5])  # pixel centres at i + 0.5


def marker_scene(T_world_marker):
    scene = Scene(clear_color=(0, 0, 0, 1))
    scene.add(quad(0.04, 0.04), T_world_marker, Material((1, 1, 1, 1), lit=False), "marker")
    return scene


def render_views(gl, scene, views):
    targets = EyeTargets(gl, [(W, H)] * len(views))
    renderer = StereoRenderer(gl)
    frame = FrameInfo(0, 0, 0, views, Pose())
    renderer.render(scene, frame, targets.targets)
    images = [fb.read_rgba() for fb in targets.framebuffers]
    renderer.release()
    targets.release()
    return images


ASYM = Fov.from_degrees(-50, 40, 35, -45)


@pytest.mark.parametrize(
    ("fov", "marker"),
    [
        (ASYM, (0.0, 1.6, -1.0)),
        (ASYM, (0.25, 1.75, -1.5)),
        (Fov.from_degrees(-45, 45, 45, -45), (-0.3, 1.4, -0.8)),
    ],
)
def test_marker_lands_on_predicted_pixel_in_each_eye(gl, fov, marker):
    head = Pose([0.0, 1.6, 0.0], quat_from_axis_angle([0, 1, 0], math.radians(5)))
    views = eye_views(head, fov, fov, ipd_m=0.064)
    # The marker faces the eyes (same orientation as the head), so its image is an affine
    # copy of it and the centroid of its pixels is the projection of its centre.
    T_world_marker = transform(head.matrix()[:3, :3], marker)
    images = render_views(gl, marker_scene(T_world_marker), views)
    for view, img in zip(views, images, strict=True):
        p_eye = transform_points(invert_transform(view.pose.matrix()), [marker])
        predicted = project_to_pixels(p_eye, view.fov, W, H)[0]
        np.testing.assert_allclose(centroid(img), predicted, atol=1.0)


@pytest.mark.parametrize("depth", [0.5, 1.0, 2.0])
def test_disparity_matches_ipd_and_depth(gl, depth):
    ipd = 0.064
    fov = Fov.from_degrees(-45, 45, 40, -40)
    head = Pose([0.0, 0.0, 0.0])
    views = eye_views(head, fov, fov, ipd_m=ipd)
    scene = marker_scene(transform(None, [0.0, 0.0, -depth]))
    left, right = render_views(gl, scene, views)
    fx = W / (math.tan(fov.angle_right) - math.tan(fov.angle_left))
    disparity = centroid(left)[0] - centroid(right)[0]
    assert disparity == pytest.approx(fx * ipd / depth, abs=1.0)
    assert views[LEFT].pose.position[0] < views[RIGHT].pose.position[0]


def test_depth_test_hides_farther_object(gl):
    fov = Fov.from_degrees(-30, 30, 30, -30)
    view = EyeView(LEFT, Pose(), fov)
    scene = Scene(clear_color=(0, 0, 0, 1))
    scene.add(quad(1, 1), transform(None, [0, 0, -2.0]), Material((1, 0, 0, 1), lit=False))
    scene.add(quad(1, 1), transform(None, [0, 0, -1.0]), Material((0, 0, 1, 1), lit=False))
    (img,) = render_views(gl, scene, [view])
    np.testing.assert_array_equal(img[H // 2, W // 2, :3], [0, 0, 255])
