"""A glfw window with a native (GLX) context renders like an EGL one (host, under Xvfb).

PyOpenGL stays on its EGL platform (``vrkit/__init__.py``); GL calls reach a GLX context
through glvnd's libOpenGL, which dispatches by the current context. These tests check that on
pixels: the same scene and the same texture copy give identical images in both context APIs.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from OpenGL import GL
from xvfb import xvfb  # noqa: F401  (fixture)

from vrkit.core.errors import InputError
from vrkit.core.types import EyeView, Fov, FrameInfo, Pose
from vrkit.gl.window import create_window_context
from vrkit.render.meshes import box
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Scene
from vrkit.render.targets import EyeTargets

W, H = 96, 64


def _current_contexts() -> tuple[int, int]:
    """(GLX context, EGL context) current on this thread, 0 for none, read from libglvnd."""
    glx = ctypes.CDLL("libGLX.so.0")
    egl = ctypes.CDLL("libEGL.so.1")
    glx.glXGetCurrentContext.restype = ctypes.c_void_p
    egl.eglGetCurrentContext.restype = ctypes.c_void_p
    return int(glx.glXGetCurrentContext() or 0), int(egl.eglGetCurrentContext() or 0)


def _render(context_api: str) -> tuple[dict[str, int], tuple[int, int], list, np.ndarray]:
    """Render a lit box in two views and copy a known texture to the window, in one context."""
    ctx = create_window_context(W, H, visible=False, context_api=context_api)
    try:
        handles = ctx.native_handles()
        current = _current_contexts()
        scene = Scene(clear_color=(0.1, 0.2, 0.3, 1.0))
        scene.add(box((0.4, 0.4, 0.4)), np.eye(4), Material((0.9, 0.5, 0.1, 1.0), lit=True), "box")
        fov = Fov.from_degrees(-40, 35, 30, -38)
        views = [
            EyeView(0, Pose([0.3, 0.4, 1.2], [0.0, 0.0, 0.0, 1.0]), fov),
            EyeView(1, Pose([-0.2, 0.1, 0.9], [0.0, 0.0, 0.0, 1.0]), fov),
        ]
        targets = EyeTargets(ctx, [(W, H)] * 2)
        renderer = StereoRenderer(ctx)
        renderer.render(scene, FrameInfo(0, 0, 0, views, Pose()), targets.targets)
        eyes = [fb.read_rgba() for fb in targets.framebuffers]
        renderer.release()
        targets.release()
        # Known random pixels, copied to the window's default framebuffer by a shader.
        rng = np.random.default_rng(4)
        image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        tex = ctx.texture(W, H, data=image, filter=0x2600)  # GL_NEAREST: exact texels
        prog = ctx.program("blit.vert", "blit.frag")
        w, h = ctx.framebuffer_size
        ctx.bind_framebuffer(0, (0, 0, w, h))
        ctx.set_state(depth_test=False)
        prog.use()
        tex.bind(0)
        prog.set_int("u_image", 0)
        ctx.draw_fullscreen_triangle()
        window = ctx.read_window_rgba()
        ctx.swap_buffers()
        ctx.check_error(f"rendering in a {context_api} window")
        assert (w, h) == (W, H)
        np.testing.assert_array_equal(window[..., :3], image)
    finally:
        ctx.release()
    return handles, current, eyes, window


def test_native_window_renders_the_same_pixels_as_an_egl_window(xvfb):  # noqa: F811
    xvfb(320, 240)
    handles, (glx_ctx, egl_ctx), native_eyes, _ = _render("native")
    # The native context really is GLX (and no EGL context is current).
    assert handles["glx_context"] != 0 and handles["glx_window"] != 0
    assert handles["x11_display"] != 0
    assert glx_ctx == handles["glx_context"] and egl_ctx == 0
    handles, (glx_ctx, egl_ctx), egl_eyes, _ = _render("egl")
    assert handles["egl_context"] != 0 and egl_ctx == handles["egl_context"] and glx_ctx == 0
    for native, egl in zip(native_eyes, egl_eyes, strict=True):
        # Both eyes show the box (orange-ish, lit) and the clear colour, identically. The eye
        # images hold sRGB bytes: the linear clear colour (0.1, 0.2, 0.3), encoded.
        clear = np.all(native[..., :3] == (89, 124, 149), axis=-1)
        assert 0.05 < 1.0 - clear.mean() < 0.95
        np.testing.assert_array_equal(native, egl)


def test_context_api_is_validated_before_any_display_is_needed(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(InputError, match=r"context_api must be 'egl' or 'native'.*'glx'"):
        create_window_context(64, 64, context_api="glx")


def test_egl_and_glx_contexts_take_turns_on_one_thread(xvfb):  # noqa: F811
    """glvnd allows one current context per thread across EGL and GLX; switching must work both
    ways (a GLX make-current over a current EGL context is an X BadAccess that exits Xlib's
    default handler, an EGL one over GLX fails with EGL_BAD_ACCESS)."""
    from vrkit.gl.egl import create_headless_context

    xvfb(320, 240)
    headless = create_headless_context()
    try:
        headless.make_current()
        assert _current_contexts()[1] != 0
        window = create_window_context(W, H, visible=False, context_api="native")
        try:
            for ctx, rgb in ((window, (255, 0, 0)), (headless, (0, 0, 255)), (window, (0, 255, 0))):
                ctx.make_current()
                fb = ctx.framebuffer(W, H)
                fb.bind()
                GL.glClearColor(*(c / 255 for c in rgb), 1.0)
                GL.glClear(GL.GL_COLOR_BUFFER_BIT)
                img = fb.read_rgba()
                ctx.check_error("clearing after a context switch")
                fb.release()
                assert np.all(img[..., :3] == rgb)
                glx_ctx, egl_ctx = _current_contexts()
                assert (glx_ctx != 0) == (ctx is window) and (egl_ctx != 0) == (ctx is headless)
        finally:
            window.release()
    finally:
        headless.release()
