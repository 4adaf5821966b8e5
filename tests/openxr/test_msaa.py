"""MSAA on the OpenXR path: the view is drawn multisampled and resolved into the runtime's
swapchain image, in linear light on an sRGB swapchain (Monado's simulated HMD)."""

from __future__ import annotations

import numpy as np

from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.render import meshes
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Scene


def _srgb_decode(code):
    c = np.asarray(code, float) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _read_swapchain(msaa: int):
    backend = OpenXRBackend(RunConfig(eye_size=(160, 120), msaa=msaa))
    backend.open()
    scene = Scene(clear_color=(0.0, 0.0, 0.0, 1.0))
    card = scene.add(meshes.quad(0.5, 0.5), np.eye(4), Material((1.0, 1.0, 1.0, 1.0), False))
    renderer = StereoRenderer(backend.gl)
    reads = []
    try:
        assert backend.summary()["msaa_samples"] == max(msaa, 1)
        assert all(sc.samples == max(msaa, 1) for sc in backend.swapchains)
        while len(reads) < 2:
            frame = backend.begin_frame()
            assert frame is not None
            if frame.should_render:
                # 1 m in front of the left eye, turned 5 degrees about the view axis: every row
                # crosses its slanted edges at a different sub-pixel position.
                c, s = np.cos(np.radians(5)), np.sin(np.radians(5))
                turn = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, -1.0], [0, 0, 0, 1]])
                card.transform = frame.views[0].pose.matrix() @ turn
                targets = backend.eye_targets(frame)
                renderer.render(scene, frame, targets)
                if backend.lifecycle.focused:
                    reads.append(targets[0].framebuffer.read_rgba())
            backend.end_frame(frame)
        srgb = backend.swapchains[0].srgb
    finally:
        renderer.release()
        backend.close()
    return reads[-1], srgb


def test_msaa_resolves_into_the_swapchain_image():
    off, srgb = _read_swapchain(0)
    on, _ = _read_swapchain(4)
    rows = slice(50, 70)
    assert set(np.unique(off[rows, :, 0])) == {0, 255}  # binary without MSAA
    partial = (on[rows, :, 0] > 0) & (on[rows, :, 0] < 255)
    assert partial.sum() >= 20  # both side edges ramp in most rows
    # The covered width of each row is the same with and without MSAA (to within a pixel),
    # counted in linear light: the resolve averaged the samples as light, not as codes.
    light = _srgb_decode(on[rows, :, 0]) if srgb else on[rows, :, 0] / 255.0
    width_on = light.sum(axis=1)
    width_off = (off[rows, :, 0] == 255).sum(axis=1)
    np.testing.assert_allclose(width_on, width_off, atol=1.0)
