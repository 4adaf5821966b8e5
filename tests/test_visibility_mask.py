"""The hidden-area (visibility mask) pass of the renderer, on real pixels (headless EGL)."""

from __future__ import annotations

import numpy as np
import pytest

from vrkit.backends.openxr.hidden_area import hidden_area_mesh
from vrkit.core.types import EyeView, Fov, FrameInfo, Pose
from vrkit.render import meshes
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Scene
from vrkit.render.targets import RenderTarget

W, H = 80, 60
CLEAR = (0.0, 0.0, 1.0, 1.0)


def _frame(fov: Fov) -> FrameInfo:
    view = EyeView(0, Pose([0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]), fov)
    return FrameInfo(
        index=0,
        predicted_display_time_ns=0,
        period_ns=1,
        views=[view],
        head_pose=view.pose,
        should_render=True,
    )


def _render(gl, fov: Fov, hidden):
    """A red wall 2 m ahead filling the view, drawn into an 80x60 target; (colour, depth)."""
    fb = gl.framebuffer(W, H)
    scene = Scene(clear_color=CLEAR)
    T = np.eye(4)
    T[2, 3] = -2.0
    scene.add(meshes.quad(50.0, 50.0), T, Material((1.0, 0.0, 0.0, 1.0), False))
    renderer = StereoRenderer(gl)
    target = RenderTarget(fb.fbo, W, H, framebuffer=fb, hidden_area=hidden)
    try:
        renderer.render(scene, _frame(fov), [target])
        return fb.read_rgba(), fb.read_depth()
    finally:
        renderer.release()
        fb.release()


def test_hidden_area_mesh_puts_the_mask_on_the_z_minus_one_plane():
    mesh = hidden_area_mesh([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [0, 1, 2])
    np.testing.assert_array_equal(mesh.positions, [[0, 0, -1], [1, 0, -1], [0, 1, -1]])
    assert hidden_area_mesh(np.zeros((0, 2)), []) is None
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        hidden_area_mesh([[0.0, 0.0, 1.0]], [0, 0, 0])
    with pytest.raises(ValueError, match="indices"):
        hidden_area_mesh([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [0, 1, 5])


def test_masked_pixels_keep_the_clear_colour_and_the_rest_shows_the_scene(gl):
    """Closed loop: a synthetic mask of the left half (in tangent units) on an asymmetric FOV.

    The FOV spans tan = -1..+0.5 horizontally, so the boundary x = -0.25 (tangent) lands at
    (−0.25 + 1) / 1.5 = half the width: columns 0..39 masked, 40..79 red.
    """
    fov = Fov(-np.arctan(1.0), np.arctan(0.5), np.arctan(0.6), -np.arctan(0.6))
    verts = [[-5.0, -5.0], [-0.25, -5.0], [-0.25, 5.0], [-5.0, 5.0]]
    mask = hidden_area_mesh(verts, [0, 1, 2, 0, 2, 3])
    rgba, depth = _render(gl, fov, mask)
    blue = np.all(rgba[:, :, :3] == [0, 0, 255], axis=-1)
    red = np.all(rgba[:, :, :3] == [255, 0, 0], axis=-1)
    assert blue[:, :40].all() and red[:, 40:].all(), (blue.sum(0), red.sum(0))
    # The mask sits at the near plane (depth 0); the wall's depth is that of 2 m.
    assert np.all(depth[:, :40] == 0.0)
    n, f = 0.05, 100.0
    z_ndc = 2.0 * depth[:, 40:].astype(np.float64) - 1.0
    dist = 2 * f * n / ((f + n) - z_ndc * (f - n))
    np.testing.assert_allclose(dist, 2.0, atol=1e-3)


def test_without_a_mask_every_pixel_shows_the_scene(gl):
    fov = Fov(-np.arctan(1.0), np.arctan(0.5), np.arctan(0.6), -np.arctan(0.6))
    rgba, _depth = _render(gl, fov, None)
    assert np.all(rgba[:, :, :3] == [255, 0, 0])


def test_a_new_mask_replaces_the_old_gpu_copy(gl):
    """A changed mask (a runtime's visibility-mask event) is drawn; the old copy is released."""
    fov = Fov(-np.arctan(1.0), np.arctan(1.0), np.arctan(0.75), -np.arctan(0.75))
    left = hidden_area_mesh([[-5, -5], [0, -5], [0, 5], [-5, 5]], [0, 1, 2, 0, 2, 3])
    right = hidden_area_mesh([[0, -5], [5, -5], [5, 5], [0, 5]], [0, 1, 2, 0, 2, 3])
    fb = gl.framebuffer(W, H)
    scene = Scene(clear_color=CLEAR)
    T = np.eye(4)
    T[2, 3] = -2.0
    scene.add(meshes.quad(50.0, 50.0), T, Material((1.0, 0.0, 0.0, 1.0), False))
    renderer = StereoRenderer(gl)
    target = RenderTarget(fb.fbo, W, H, framebuffer=fb, hidden_area=left)
    try:
        renderer.render(scene, _frame(fov), [target])
        objects = gl.live_objects
        assert np.all(fb.read_rgba()[:, : W // 2, 2] == 255)
        target.hidden_area = right
        renderer.render(scene, _frame(fov), [target])
        img = fb.read_rgba()
        assert np.all(img[:, W // 2 :, :3] == [0, 0, 255])
        assert np.all(img[:, : W // 2, :3] == [255, 0, 0])
        assert gl.live_objects == objects  # the left mask's buffers went with it
    finally:
        renderer.release()
        fb.release()
