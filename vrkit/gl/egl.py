"""Headless OpenGL on EGL's surfaceless platform (Mesa): no display, no window system.

The context vrkit renders into for the headless backend, the tests, the benchmarks and the
OpenXR backend's EGL binding (XR_MNDX_egl_enable).
"""

from __future__ import annotations

import ctypes
import logging

from OpenGL import EGL

from vrkit.core.errors import BackendUnavailableError, GLError
from vrkit.gl.context import GLContext
from vrkit.gl.platform import leave_other_api

log = logging.getLogger(__name__)

EGL_PLATFORM_SURFACELESS_MESA = 0x31DD


class EGLContext(GLContext):
    """A headless OpenGL 3.3 core context on EGL's surfaceless platform (Mesa).

    Attributes:
        display: The EGLDisplay.
        context: The EGLContext.
    """

    kind = "egl"

    def __init__(self, major: int = 3, minor: int = 3) -> None:
        super().__init__()
        try:
            get_platform_display = EGL.eglGetPlatformDisplayEXT
            self.display = get_platform_display(
                EGL_PLATFORM_SURFACELESS_MESA, EGL.EGL_DEFAULT_DISPLAY, None
            )
        except Exception:  # no EGL_EXT_platform_base: use the default display
            self.display = EGL.EGL_NO_DISPLAY
        if not self.display:
            self.display = EGL.eglGetDisplay(EGL.EGL_DEFAULT_DISPLAY)
        major_v, minor_v = EGL.EGLint(), EGL.EGLint()
        if not self.display or not EGL.eglInitialize(
            self.display, ctypes.pointer(major_v), ctypes.pointer(minor_v)
        ):
            raise BackendUnavailableError(
                "EGL could not be initialised",
                "install Mesa's EGL (apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)",
            )
        attribs = (EGL.EGLint * 5)(
            EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_RENDERABLE_TYPE,
            EGL.EGL_OPENGL_BIT, EGL.EGL_NONE,
        )  # fmt: skip
        config, count = EGL.EGLConfig(), EGL.EGLint()
        if (
            not EGL.eglChooseConfig(
                self.display, attribs, ctypes.pointer(config), 1, ctypes.pointer(count)
            )
            or count.value < 1
        ):
            raise BackendUnavailableError("EGL has no OpenGL-capable config")
        self.config = config
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        ctx_attribs = (EGL.EGLint * 7)(
            EGL.EGL_CONTEXT_MAJOR_VERSION, major, EGL.EGL_CONTEXT_MINOR_VERSION, minor,
            EGL.EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
            EGL.EGL_NONE,
        )  # fmt: skip
        self.context = EGL.eglCreateContext(self.display, config, EGL.EGL_NO_CONTEXT, ctx_attribs)
        if not self.context:
            raise BackendUnavailableError(f"EGL could not create an OpenGL {major}.{minor} context")
        self.make_current()
        log.debug("EGL context: %s", self.info())

    def make_current(self) -> None:
        """Make the context current with no surface (surfaceless)."""
        leave_other_api("egl")
        if not EGL.eglMakeCurrent(
            self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, self.context
        ):
            raise GLError("eglMakeCurrent failed")

    def _destroy(self) -> None:
        EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
        EGL.eglDestroyContext(self.display, self.context)
        # The display stays initialised: Mesa shares it per process and other contexts may use it.


def create_headless_context(major: int = 3, minor: int = 3) -> EGLContext:
    """Create a headless OpenGL core context (EGL surfaceless; no display needed).

    Raises:
        BackendUnavailableError: EGL or an OpenGL context is not available here.
    """
    return EGLContext(major, minor)
