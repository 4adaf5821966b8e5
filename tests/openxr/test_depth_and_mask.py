"""Depth submission (XR_KHR_composition_layer_depth) and the visibility mask on a real runtime."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.backends.openxr.swapchain import DEPTH_PREFERENCE
from vrkit.math.projection import projection_from_fov
from vrkit.render import meshes
from vrkit.render.renderer import FAR_M, NEAR_M, StereoRenderer
from vrkit.render.scene import Material, Scene

W, H = 160, 120
DIST_M = 1.5  # the wall's distance in front of the left eye


def _addr(handle) -> int:
    return ctypes.cast(handle, ctypes.c_void_p).value


def _metres(depth: np.ndarray, near: float = NEAR_M, far: float = FAR_M) -> np.ndarray:
    """Window depth (0 near .. 1 far, vrkit's projection) back to distance along -z, metres."""
    z_ndc = 2.0 * depth.astype(np.float64) - 1.0
    return 2.0 * far * near / ((far + near) - z_ndc * (far - near))


def _wall_frames(backend: OpenXRBackend, n_reads: int, max_frames: int = 200):
    """Render a big red wall DIST_M ahead of the left eye, facing it; read both eyes back.

    Returns:
        [(frame, [(rgba, depth) per view], [target per view])] for ``n_reads`` focused frames.
    """
    scene = Scene(clear_color=(0.0, 0.0, 0.0, 1.0))
    wall = scene.add(meshes.quad(40.0, 40.0), np.eye(4), Material((1.0, 0.0, 0.0, 1.0), False))
    renderer = StereoRenderer(backend.gl)
    reads = []
    try:
        for _ in range(max_frames):
            if len(reads) >= n_reads:
                break
            frame = backend.begin_frame()
            assert frame is not None, f"session ended in {backend.lifecycle.state.name}"
            if frame.should_render:
                T = frame.views[0].pose.matrix().copy()
                T[:3, 3] += T[:3, :3] @ np.array([0.0, 0.0, -DIST_M])
                wall.transform = T
                targets = backend.eye_targets(frame)
                renderer.render(scene, frame, targets)
                if backend.lifecycle.focused:
                    images = [
                        (t.framebuffer.read_rgba(), t.framebuffer.read_depth()) for t in targets
                    ]
                    reads.append((frame, images, targets))
            backend.end_frame(frame)
    finally:
        renderer.release()
    assert len(reads) == n_reads, f"only {len(reads)} focused frames"
    return reads


def test_depth_swapchains_are_submitted_and_hold_the_wall_distance():
    """Closed loop: a wall at a known distance; the depth swapchain image says that distance."""
    backend = OpenXRBackend(RunConfig(eye_size=(W, H)))
    backend.open()
    try:
        if "XR_KHR_composition_layer_depth" not in backend.enabled_extensions:
            pytest.skip("the runtime does not offer XR_KHR_composition_layer_depth")
        assert backend.depth_format in DEPTH_PREFERENCE
        for i, sc in enumerate(backend.swapchains):
            assert sc.depth_handle is not None and len(sc.depth_images) >= 1
            info = backend.layer.depth_infos[i]
            assert (info.min_depth, info.max_depth) == (0.0, 1.0)
            assert info.near_z == pytest.approx(NEAR_M) and info.far_z == pytest.approx(FAR_M)
            # Chained into the projection view, naming this view's depth swapchain.
            assert backend.layer.projection_views[i].next == ctypes.addressof(info)
            assert _addr(info.sub_image.swapchain) == _addr(sc.depth_handle)
            assert (
                info.sub_image.image_rect.extent.width,
                info.sub_image.image_rect.extent.height,
            ) == (W, H)
        reads = _wall_frames(backend, 3)
        submitted = backend.frames_submitted
        for _frame, images, targets in reads:
            for sc, t in zip(backend.swapchains, targets, strict=True):
                # The depth attachment drawn into is one of the runtime's depth images.
                assert any(t.framebuffer.depth_texture is img for img in sc.depth_images)
            _rgba, depth = images[0]
            wall = depth > 0.0  # depth 0: the visibility mask at the near plane
            assert wall.mean() > 0.5
            dist = _metres(depth[wall])
            np.testing.assert_allclose(dist, DIST_M, atol=0.003)
    finally:
        backend.close()
    assert submitted >= 3
    assert backend.lifecycle.lost is None and backend.session is None


def _rasterise(vertices: np.ndarray, indices: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """(H, W) bool, top row first: pixel centres inside any mask triangle (numpy, no GL)."""
    v = np.column_stack([vertices, -np.ones(len(vertices)), np.ones(len(vertices))]) @ proj.T
    ndc = v[:, :2] / v[:, 3:4]
    xs = -1.0 + 2.0 * (np.arange(W) + 0.5) / W
    ys = 1.0 - 2.0 * (np.arange(H) + 0.5) / H
    px, py = np.meshgrid(xs, ys)
    inside = np.zeros((H, W), bool)
    for a, b, c in ndc[indices.reshape(-1, 3)]:

        def edge(p, q):
            return (q[0] - p[0]) * (py - p[1]) - (q[1] - p[1]) * (px - p[0])

        e = np.stack([edge(a, b), edge(b, c), edge(c, a)])
        inside |= np.all(e >= 0, axis=0) | np.all(e <= 0, axis=0)
    return inside


def test_visibility_mask_keeps_hidden_pixels_at_the_clear_colour():
    """The runtime's hidden-area mesh, rasterised in numpy, matches the pixels left black."""
    # Single-sampled, so that every pixel is either hidden or drawn (MSAA, on by default,
    # would blend the mask's edge pixels).
    backend = OpenXRBackend(RunConfig(eye_size=(W, H), msaa=0))
    backend.open()
    try:
        if "XR_KHR_visibility_mask" not in backend.enabled_extensions:
            pytest.skip("the runtime does not offer XR_KHR_visibility_mask")
        masks = [sc.hidden_area for sc in backend.swapchains]
        if any(m is None for m in masks):
            pytest.skip(
                f"the runtime's hidden-area meshes are empty ({backend.visibility_mask_sizes}); "
                "tests/test_visibility_mask.py proves the pass with a synthetic mask"
            )
        reads = _wall_frames(backend, 2)
    finally:
        backend.close()
    for frame, images, _targets in reads:
        for view, mask, (rgba, depth) in zip(frame.views, masks, images, strict=True):
            proj = projection_from_fov(view.fov, NEAR_M, FAR_M)
            expect = _rasterise(mask.positions[:, :2], mask.indices, proj)
            assert expect.any(), "the mask covers no pixel of the image"
            black = np.all(rgba[:, :, :3] == 0, axis=-1)
            red = np.all(rgba[:, :, :3] == [255, 0, 0], axis=-1)
            assert np.all(black | red)
            # Pixel centres on a triangle edge may go either way: allow 1 % disagreement.
            assert np.mean(black != expect) < 0.01, (black.sum(), expect.sum())
            assert np.all(depth[black] == 0.0)
            assert red[H // 2, W // 2]


def test_visibility_mask_changed_event_fetches_the_view_mask_again():
    """An XrEventDataVisibilityMaskChangedKHR (built here: Monado's simulated HMD never sends
    one) makes the backend read that view's mask again; the next frame's target carries it."""
    from vrkit.backends.openxr._xr import xr

    backend = OpenXRBackend(RunConfig(eye_size=(64, 64)))
    backend.open()
    try:
        if "XR_KHR_visibility_mask" not in backend.enabled_extensions:
            pytest.skip("the runtime does not offer XR_KHR_visibility_mask")
        before = [sc.hidden_area for sc in backend.swapchains]
        if before[1] is None:
            sizes = backend.visibility_mask_sizes
            pytest.skip(f"the runtime's hidden-area meshes are empty ({sizes})")
        buf = xr.EventDataBuffer()
        ev = ctypes.cast(
            ctypes.byref(buf), ctypes.POINTER(xr.EventDataVisibilityMaskChangedKHR)
        ).contents
        ev._type = xr.StructureType.EVENT_DATA_VISIBILITY_MASK_CHANGED_KHR.value
        ev.view_index = 1
        backend._on_event(buf)
        after = backend.swapchains[1].hidden_area
        assert after is not before[1] and backend.swapchains[0].hidden_area is before[0]
        np.testing.assert_array_equal(after.positions, before[1].positions)
        np.testing.assert_array_equal(after.indices, before[1].indices)
        for _ in range(200):
            frame = backend.begin_frame()
            assert frame is not None
            if frame.should_render:
                targets = backend.eye_targets(frame)
                assert targets[1].hidden_area is after and targets[0].hidden_area is before[0]
                backend.end_frame(frame)
                break
            backend.end_frame(frame)
        else:
            pytest.fail("no frame to render within 200 frames")
    finally:
        backend.close()


def test_depth_can_be_turned_off_and_frames_still_submit():
    """``openxr_depth=False``: no depth swapchains, nothing chained, the renderbuffer path."""
    # Single-sampled: the depth renderbuffer read back here is the image's own (with MSAA the
    # depth stays in the multisampled framebuffer, which nothing reads without a depth layer).
    backend = OpenXRBackend(RunConfig(eye_size=(W, H), msaa=0, extra={"openxr_depth": False}))
    backend.open()
    try:
        assert backend.depth_format is None
        assert all(sc.depth_handle is None and not sc.depth_images for sc in backend.swapchains)
        assert all(pv.next is None for pv in backend.layer.projection_views)
        reads = _wall_frames(backend, 2)
        for _frame, images, targets in reads:
            assert all(t.framebuffer.depth_texture is None for t in targets)
            depth = images[0][1]
            np.testing.assert_allclose(_metres(depth[depth > 0]), DIST_M, atol=0.003)
        submitted = backend.frames_submitted
    finally:
        backend.close()
    assert submitted >= 2 and backend.lifecycle.lost is None
