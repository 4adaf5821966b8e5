"""The OpenXR graphics binding for a vrkit GL context (EGL or GLX).

With vrkit's headless EGL context the binding is ``XR_MNDX_egl_enable`` (Monado; no window, no X).
With a glfw window (GLX) it is ``XR_KHR_opengl_enable``'s Xlib binding, whose handles are read
with ctypes from libGLX for the context current on this thread (PyOpenGL's GLX module is not
usable while PyOpenGL runs on its EGL platform).
"""

from __future__ import annotations

import ctypes
from typing import Any

from vrkit.backends.openxr._xr import xr
from vrkit.core.errors import BackendUnavailableError

EGL_EXTENSION = "XR_MNDX_egl_enable"
OPENGL_EXTENSION = "XR_KHR_opengl_enable"


def _load(names: tuple[str, ...]) -> ctypes.CDLL:
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise BackendUnavailableError(f"none of {', '.join(names)} could be loaded")


class GraphicsBinding:
    """A graphics binding structure and what keeps its pointers alive.

    Attributes:
        kind: ``"egl"`` or ``"glx"``.
        extension: The instance extension it needs.
        struct: The ``xr.GraphicsBinding*`` structure to chain into ``XrSessionCreateInfo``.
    """

    def __init__(self, kind: str, extension: str, struct: Any, keep: tuple[Any, ...]) -> None:
        self.kind = kind
        self.extension = extension
        self.struct = struct
        self._keep = keep

    def pointer(self) -> ctypes.c_void_p:
        """The structure's address, for ``XrSessionCreateInfo.next``."""
        return ctypes.cast(ctypes.pointer(self.struct), ctypes.c_void_p)


def egl_binding(display: Any, config: Any, context: Any) -> GraphicsBinding:
    """``XrGraphicsBindingEGLMNDX`` for an EGL display, config and context.

    Args:
        display: The ``EGLDisplay``.
        config: The ``EGLConfig`` the context was created with.
        context: The ``EGLContext``.
    """
    libegl = _load(("libEGL.so.1", "libEGL.so"))
    get_proc = ctypes.cast(libegl.eglGetProcAddress, xr.PFN_xrEglGetProcAddressMNDX)
    struct = xr.GraphicsBindingEGLMNDX(
        get_proc_address=get_proc, display=display, config=config, context=context
    )
    return GraphicsBinding("egl", EGL_EXTENSION, struct, (libegl, get_proc))


def current_egl_binding() -> GraphicsBinding | None:
    """``XrGraphicsBindingEGLMNDX`` for the EGL context current on this thread, or None.

    vrkit's glfw windows create their contexts through EGL (also on X11); this finds the
    display, context and the config it was made with.
    """
    libegl = _load(("libEGL.so.1", "libEGL.so"))
    for fn in ("eglGetCurrentDisplay", "eglGetCurrentContext"):
        getattr(libegl, fn).restype = ctypes.c_void_p
    display = libegl.eglGetCurrentDisplay()
    context = libegl.eglGetCurrentContext()
    if not display or not context:
        return None
    egl_config_id, egl_none = 0x3028, 0x3038
    libegl.eglQueryContext.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_int)]  # fmt: skip
    config_id = ctypes.c_int(0)
    if not libegl.eglQueryContext(display, context, egl_config_id, ctypes.byref(config_id)):
        return None
    libegl.eglChooseConfig.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_int)]  # fmt: skip
    attribs = (ctypes.c_int * 3)(egl_config_id, config_id.value, egl_none)
    config, count = ctypes.c_void_p(), ctypes.c_int(0)
    if not libegl.eglChooseConfig(display, attribs, ctypes.byref(config), 1, ctypes.byref(count)):
        return None
    if count.value != 1:
        return None
    types = dict(xr.GraphicsBindingEGLMNDX._fields_)
    get_proc = ctypes.cast(libegl.eglGetProcAddress, xr.PFN_xrEglGetProcAddressMNDX)
    struct = xr.GraphicsBindingEGLMNDX(
        get_proc_address=get_proc,
        display=ctypes.cast(display, types["display"]),
        config=ctypes.cast(config, types["config"]),
        context=ctypes.cast(context, types["context"]),
    )
    return GraphicsBinding("egl", EGL_EXTENSION, struct, (libegl, get_proc))


def glx_binding() -> GraphicsBinding:
    """``XrGraphicsBindingOpenGLXlibKHR`` for the GLX context current on this thread.

    Raises:
        BackendUnavailableError: No GLX context is current.
    """
    libglx = _load(("libGLX.so.0", "libGL.so.1"))
    for fn in ("glXGetCurrentDisplay", "glXGetCurrentContext", "glXGetCurrentDrawable"):
        getattr(libglx, fn).restype = ctypes.c_void_p
    display = libglx.glXGetCurrentDisplay()
    context = libglx.glXGetCurrentContext()
    drawable = libglx.glXGetCurrentDrawable()
    if not display or not context:
        raise BackendUnavailableError(
            "no GLX context is current for the OpenXR OpenGL binding",
            "make the window's context current before opening the OpenXR session",
        )
    struct = xr.GraphicsBindingOpenGLXlibKHR()
    field_types = dict(xr.GraphicsBindingOpenGLXlibKHR._fields_)
    struct.x_display = ctypes.cast(display, field_types["x_display"])
    struct.glx_context = ctypes.cast(context, field_types["glx_context"])
    struct.glx_drawable = int(drawable or 0)
    return GraphicsBinding("glx", OPENGL_EXTENSION, struct, (libglx,))
