"""The OpenXR graphics binding for a vrkit GL context (EGL or GLX).

With vrkit's headless EGL context, or a glfw window made through EGL, the binding is
``XR_MNDX_egl_enable`` (Monado). With a glfw window whose context is native (GLX on X11) it is
``XR_KHR_opengl_enable``'s Xlib binding (SteamVR and most Linux runtimes), built from glfw's
native handles plus the context's FBConfig and visual read with ctypes from libGLX (PyOpenGL's
GLX module is not usable while PyOpenGL runs on its EGL platform).
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


#: GLX attribute names (GL/glx.h).
_GLX_VISUAL_ID, _GLX_SCREEN, _GLX_FBCONFIG_ID = 0x800B, 0x800C, 0x8013


def glx_binding(handles: dict[str, int]) -> GraphicsBinding:
    """``XrGraphicsBindingOpenGLXlibKHR`` for a glfw window with a native (GLX) context.

    ``xDisplay``, ``glxDrawable`` and ``glxContext`` come from glfw's native accessors; the
    context's ``GLXFBConfig`` and its X visual id are asked of libGLX (``glXQueryContext``
    for the config id and screen, ``glXChooseFBConfig`` by that id).

    Args:
        handles: ``WindowContext.native_handles()`` of a ``context_api="native"`` window:
            ``x11_display``, ``glx_context``, ``glx_window``.

    Raises:
        BackendUnavailableError: The window has no GLX context, or its config is not found.
    """
    display, context = handles.get("x11_display", 0), handles.get("glx_context", 0)
    drawable = handles.get("glx_window", 0)
    if not display or not context or not drawable:
        raise BackendUnavailableError(
            f"the window has no GLX context for the OpenXR Xlib binding (handles {handles})",
            "create the window with context_api='native' on an X11 display",
        )
    libglx = _load(("libGLX.so.0", "libGL.so.1"))
    libglx.glXQueryContext.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_int)]  # fmt: skip
    config_id, screen = ctypes.c_int(0), ctypes.c_int(0)
    dpy, ctx = ctypes.c_void_p(display), ctypes.c_void_p(context)
    if libglx.glXQueryContext(dpy, ctx, _GLX_FBCONFIG_ID, ctypes.byref(config_id)) != 0:
        raise BackendUnavailableError("glXQueryContext could not read the context's FBConfig id")
    libglx.glXQueryContext(dpy, ctx, _GLX_SCREEN, ctypes.byref(screen))
    libglx.glXChooseFBConfig.restype = ctypes.POINTER(ctypes.c_void_p)
    libglx.glXChooseFBConfig.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int),
                                         ctypes.POINTER(ctypes.c_int)]  # fmt: skip
    attribs = (ctypes.c_int * 3)(_GLX_FBCONFIG_ID, config_id.value, 0)
    count = ctypes.c_int(0)
    configs = libglx.glXChooseFBConfig(dpy, screen.value, attribs, ctypes.byref(count))
    if not configs or count.value < 1:
        raise BackendUnavailableError(
            f"GLX has no FBConfig with the window context's id 0x{config_id.value:x}"
        )
    fbconfig = configs[0]
    libx11 = _load(("libX11.so.6", "libX11.so"))
    libx11.XFree.argtypes = [ctypes.c_void_p]
    libx11.XFree(configs)  # the array; the config itself belongs to the display
    libglx.glXGetFBConfigAttrib.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                            ctypes.POINTER(ctypes.c_int)]  # fmt: skip
    visual_id = ctypes.c_int(0)
    libglx.glXGetFBConfigAttrib(dpy, ctypes.c_void_p(fbconfig), _GLX_VISUAL_ID,
                                ctypes.byref(visual_id))  # fmt: skip
    types = dict(xr.GraphicsBindingOpenGLXlibKHR._fields_)
    struct = xr.GraphicsBindingOpenGLXlibKHR(
        x_display=ctypes.cast(ctypes.c_void_p(display), types["x_display"]),
        visualid=visual_id.value,
        glx_fbconfig=ctypes.cast(ctypes.c_void_p(fbconfig), types["glx_fbconfig"]),
        glx_drawable=int(drawable),
        glx_context=ctypes.cast(ctypes.c_void_p(context), types["glx_context"]),
    )
    return GraphicsBinding("glx", OPENGL_EXTENSION, struct, (libglx, libx11))
