"""Process-wide GL platform state: PyOpenGL's platform object and libglvnd's current context.

Everything here acts on state shared by the whole process, which is why it sits in one module:

* PyOpenGL picks its platform once; pyopenxr's ``xr.platform.linux`` replaces
  ``OpenGL.platform.PLATFORM`` with a GLX platform when it is imported, and GL entry points made
  after that would resolve through GLX, which breaks EGL (headless) contexts. The OpenXR backend
  imports ``xr`` inside :func:`keep_platform`.
* libglvnd keeps one current context per thread across EGL and GLX; :func:`leave_other_api`
  releases the other API's context before one is made current.
* PyOpenGL asks its (EGL) platform for the current context; :func:`see_glx_contexts` lets it
  see a current GLX context too (a ``context_api="native"`` window).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Iterator
from typing import Any

import OpenGL.platform

log = logging.getLogger(__name__)

#: True once a GLX context exists in this process (a ``context_api="native"`` window).
_glx_contexts = {"used": False}
_libs: dict[str, Any] = {}


@contextlib.contextmanager
def keep_platform() -> Iterator[None]:
    """Restore PyOpenGL's platform object after the ``with`` block, whatever it did."""
    saved = OpenGL.platform.PLATFORM
    try:
        yield
    finally:
        OpenGL.platform.PLATFORM = saved


def platform_name() -> str:
    """Class name of PyOpenGL's current platform, e.g. ``"EGLPlatform"``."""
    return type(OpenGL.platform.PLATFORM).__name__


def glvnd_lib(api: str) -> Any:
    """Load libEGL or libGLX (glvnd) once, with its current-context getters typed.

    Args:
        api: ``"egl"`` or ``"glx"``.

    Returns:
        The ``ctypes.CDLL``, shared by every caller in the process.
    """
    if api not in _libs:
        soname, prefix = {"egl": ("libEGL.so.1", "egl"), "glx": ("libGLX.so.0", "glX")}[api]
        lib = ctypes.CDLL(soname)
        for fn in ("GetCurrentContext", "GetCurrentDisplay"):
            getattr(lib, prefix + fn).restype = ctypes.c_void_p
        _libs[api] = lib
    return _libs[api]


def leave_other_api(api: str) -> None:
    """Release this thread's current context of the other API before one of ``api`` is made current.

    libglvnd keeps one current context per thread across EGL and GLX: ``glXMakeCurrent`` while an
    EGL context is current fails with BadAccess (an X error, which Xlib's default handler turns
    into process exit) and ``eglMakeCurrent`` while a GLX one is current fails with
    EGL_BAD_ACCESS. Making a context current replaces the previous one anyway; this keeps that
    meaning across the two APIs. Costs one ctypes call when nothing is to be released.

    Args:
        api: ``"egl"`` or ``"glx"``, the API about to be made current.
    """
    if api == "glx":
        _glx_contexts["used"] = True
        egl = glvnd_lib("egl")
        if egl.eglGetCurrentContext():
            egl.eglMakeCurrent(ctypes.c_void_p(egl.eglGetCurrentDisplay()), None, None, None)
    elif _glx_contexts["used"]:
        glx = glvnd_lib("glx")
        if glx.glXGetCurrentContext():
            glx.glXMakeCurrent(ctypes.c_void_p(glx.glXGetCurrentDisplay()), ctypes.c_ulong(0),
                               None)  # fmt: skip


def see_glx_contexts() -> None:
    """Let PyOpenGL see a GLX context as current while it stays on its EGL platform.

    GL calls themselves reach a GLX context (glvnd's libOpenGL dispatches by the current
    context), but PyOpenGL asks its platform for "the current context" to key per-context data:
    ``glVertexAttribPointer`` stores its pointer there and raises "Attempt to retrieve context
    when no valid context" when ``eglGetCurrentContext`` returns none. This replaces the
    platform's answer with the current EGL context, else the current GLX one (both are
    distinct pointers, so per-context data stays separate). Idempotent.
    """
    platform = OpenGL.platform.PLATFORM
    if getattr(platform, "_vrkit_any_context", False):
        return
    egl_current = platform.GetCurrentContext  # the platform's own (ctypes) function
    glx_current = glvnd_lib("glx").glXGetCurrentContext

    def any_current_context() -> int | None:
        return egl_current() or glx_current()

    for target in (platform, OpenGL.platform):
        target.GetCurrentContext = any_current_context
        target.CurrentContextIsValid = any_current_context
    platform._vrkit_any_context = True
    log.debug("PyOpenGL (%s) sees EGL or GLX contexts as current", type(platform).__name__)
