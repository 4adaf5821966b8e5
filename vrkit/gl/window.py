"""A glfw window with a GL context: the only module that imports glfw.

:func:`create_window_context` makes a :class:`WindowContext` (an OpenGL 3.3 core context made
through EGL, or the platform's own API, GLX on X11); it works under Xvfb. This module also
watches the X connection (a vanished display is reported, not fatal) and lists monitors.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

import glfw
import numpy as np
from numpy.typing import NDArray
from OpenGL import GL

from vrkit.core.errors import BackendUnavailableError, InputError
from vrkit.gl.context import GLContext
from vrkit.gl.platform import leave_other_api, see_glx_contexts

log = logging.getLogger(__name__)

_glfw_users = 0

#: glfw key/button actions, re-exported so callers need not import glfw.
PRESS, RELEASE, REPEAT = glfw.PRESS, glfw.RELEASE, glfw.REPEAT

_KEY_NAMES = {
    glfw.KEY_ESCAPE: "escape", glfw.KEY_SPACE: "space", glfw.KEY_TAB: "tab",
    glfw.KEY_ENTER: "enter", glfw.KEY_LEFT_SHIFT: "shift", glfw.KEY_RIGHT_SHIFT: "shift",
    glfw.KEY_LEFT_CONTROL: "ctrl", glfw.KEY_RIGHT_CONTROL: "ctrl", glfw.KEY_UP: "up",
    glfw.KEY_DOWN: "down", glfw.KEY_LEFT: "left", glfw.KEY_RIGHT: "right",
    **{getattr(glfw, f"KEY_F{i}"): f"f{i}" for i in range(1, 13)},
}  # fmt: skip


def key_name(key: int) -> str:
    """A layout-independent name for a glfw key code: ``"w"``, ``"7"``, ``"shift"``, ``"f1"``.

    Unknown keys give ``"key<code>"``.
    """
    if glfw.KEY_A <= key <= glfw.KEY_Z or glfw.KEY_0 <= key <= glfw.KEY_9:
        return chr(key).lower()
    return _KEY_NAMES.get(key, f"key{key}")


# --- losing the X server -------------------------------------------------------------------
# Xlib's default I/O error handler prints a line and calls exit(1) when the X connection
# breaks, so a vanished display would kill the process without vrkit's own message. These
# handlers record the loss and return; libX11 (>= 1.7) then marks the connection dead and
# later calls fail fast. Xlib only notices on its next call, and a driver may block inside a
# swap before that, so a watcher thread also polls the connection's socket for hang-up.
# Windows report ``display_lost``; the backends raise SessionLostError.
_x11_state: dict[str, Any] = {"lost": False, "callbacks": None, "generation": 0}


def _watch_x11_socket(fd: int, generation: int) -> None:
    """Flag the display as lost when the X server closes the connection (until terminate)."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError as exc:
        log.debug("cannot watch the X connection: %s", exc)
        return
    hangup = select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)
    poller = select.poll()
    poller.register(sock.fileno(), hangup)
    try:
        while _x11_state["generation"] == generation and not _x11_state["lost"]:
            if any(ev & hangup for _fd, ev in poller.poll(100)):
                if _x11_state["generation"] == generation:
                    _x11_state["lost"] = True
                break
    finally:
        sock.close()


def _install_x11_io_handlers() -> None:
    try:
        if glfw.get_platform() != glfw.PLATFORM_X11:
            return
        dpy = glfw.get_x11_display()
        lib = ctypes.util.find_library("X11") or "libX11.so.6"
        x11 = ctypes.CDLL(lib)
        set_exit = x11.XSetIOErrorExitHandler  # libX11 >= 1.7
    except (AttributeError, OSError, glfw.GLFWError) as exc:
        log.debug("cannot install X11 I/O error handlers: %s", exc)
        return
    io_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
    exit_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

    def on_io_error(_dpy: int) -> int:
        _x11_state["lost"] = True
        return 0

    def on_io_exit(_dpy: int, _data: int) -> None:
        _x11_state["lost"] = True

    callbacks = (io_type(on_io_error), exit_type(on_io_exit))
    x11.XSetIOErrorHandler.argtypes = [io_type]
    x11.XSetIOErrorHandler(callbacks[0])
    set_exit.argtypes = [ctypes.c_void_p, exit_type, ctypes.c_void_p]
    set_exit(ctypes.c_void_p(dpy), callbacks[1], None)
    _x11_state["callbacks"] = callbacks  # keep the ctypes thunks alive
    x11.XConnectionNumber.argtypes = [ctypes.c_void_p]
    fd = int(x11.XConnectionNumber(ctypes.c_void_p(dpy)))
    threading.Thread(
        target=_watch_x11_socket,
        args=(fd, _x11_state["generation"]),
        name="vrkit-x11-watch",
        daemon=True,
    ).start()


def _glfw_error(code: int, description: bytes) -> None:
    log.debug("glfw error 0x%x: %s", code, description.decode(errors="replace"))


def _init_glfw() -> None:
    global _glfw_users
    if _glfw_users == 0:
        glfw.set_error_callback(_glfw_error)
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise BackendUnavailableError(
                "no display (DISPLAY is not set)",
                "run on a desktop, or under Xvfb: xvfb-run -a vrkit ...",
            )
        if not glfw.init():
            raise BackendUnavailableError(
                f"glfw could not open the display {os.environ.get('DISPLAY')!r}",
                "check that the X server is running (or start Xvfb)",
            )
        _x11_state["lost"] = False
        _install_x11_io_handlers()
    _glfw_users += 1


def _done_glfw(terminate: bool = True) -> None:
    global _glfw_users
    _glfw_users -= 1
    if _glfw_users == 0:
        _x11_state["generation"] += 1  # stops the socket watcher
        if terminate:
            glfw.terminate()


def list_monitors() -> list[dict[str, Any]]:
    """Monitors glfw sees: index, name, current mode, physical size in millimetres.

    Raises:
        BackendUnavailableError: No display.
    """
    _init_glfw()
    try:
        out = []
        for i, mon in enumerate(glfw.get_monitors()):
            mode = glfw.get_video_mode(mon)
            w_mm, h_mm = glfw.get_monitor_physical_size(mon)
            out.append(
                {
                    "index": i,
                    "name": glfw.get_monitor_name(mon).decode(errors="replace"),
                    "width": mode.size.width,
                    "height": mode.size.height,
                    "refresh_hz": mode.refresh_rate,
                    "position": list(glfw.get_monitor_pos(mon)),
                    "physical_mm": [w_mm, h_mm],
                }
            )
        return out
    finally:
        _done_glfw()


def glfw_x11_window(ctx: WindowContext) -> int:
    """The X11 window id of a window context (for tools such as xdotool), 0 if not on X11."""
    try:
        return int(glfw.get_x11_window(ctx.window) or 0)
    except (AttributeError, glfw.GLFWError):
        return 0


#: ``context_api`` values: glfw's context creation API for each.
CONTEXT_APIS = {"egl": glfw.EGL_CONTEXT_API, "native": glfw.NATIVE_CONTEXT_API}


def check_context_api(context_api: str) -> str:
    """Validate a ``context_api`` name (``"egl"`` or ``"native"``) and return it.

    Raises:
        InputError: Any other value.
    """
    if context_api not in CONTEXT_APIS:
        raise InputError(
            f"context_api must be 'egl' or 'native' (GLX on X11), got {context_api!r}",
            "use 'egl' (the default) unless something needs the platform's own context API",
        )
    return context_api


def _find_monitor(spec: str | int) -> Any:
    monitors = glfw.get_monitors()
    names = [glfw.get_monitor_name(m).decode(errors="replace") for m in monitors]
    if isinstance(spec, int) or str(spec).isdigit():
        idx = int(spec)
        if 0 <= idx < len(monitors):
            return monitors[idx]
    else:
        for mon, name in zip(monitors, names, strict=True):
            if name == spec:
                return mon
    listing = ", ".join(f"{i}: {n}" for i, n in enumerate(names)) or "none"
    raise InputError(
        f"no monitor {spec!r} (monitors here: {listing})", "list them with `vrkit doctor`"
    )


class WindowContext(GLContext):
    """A glfw window and its OpenGL 3.3 core context.

    The context is made through EGL (``context_api="egl"``, the default) or the platform's own
    API (``"native"``: GLX on X11). PyOpenGL stays on its EGL platform either way: its GL
    entry points come from glvnd's libOpenGL, which dispatches to whichever context is current,
    however it was made current.

    Attributes:
        window: The glfw window handle.
        context_api: ``"egl"`` or ``"native"``.
    """

    kind = "window"

    def __init__(
        self,
        width: int,
        height: int,
        title: str = "vrkit",
        visible: bool = True,
        monitor: str | int | None = None,
        vsync: bool = True,
        resizable: bool = True,
        context_api: str = "egl",
    ) -> None:
        super().__init__()
        self.context_api = check_context_api(context_api)
        self._api = "glx" if context_api == "native" else "egl"
        if context_api == "native":
            see_glx_contexts()
        _init_glfw()
        try:
            mon = _find_monitor(monitor) if monitor is not None else None
            glfw.default_window_hints()
            glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
            glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
            glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
            glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
            glfw.window_hint(glfw.CONTEXT_CREATION_API, CONTEXT_APIS[context_api])
            glfw.window_hint(glfw.VISIBLE, visible)
            glfw.window_hint(glfw.RESIZABLE, resizable)
            if mon is not None:
                mode = glfw.get_video_mode(mon)
                width, height = mode.size.width, mode.size.height
                glfw.window_hint(glfw.REFRESH_RATE, mode.refresh_rate)
            # glfw makes the new context current while it reads its attributes.
            leave_other_api(self._api)
            self.window = glfw.create_window(width, height, title, mon, None)
            if not self.window:
                raise BackendUnavailableError(
                    f"glfw could not create a {width}x{height} OpenGL 3.3 window "
                    f"({context_api} context API)"
                )
        except BaseException:
            _done_glfw()
            raise
        self.monitor = mon
        self.make_current()
        glfw.swap_interval(1 if vsync else 0)

    def native_handles(self) -> dict[str, int]:
        """The window's platform handles as integers (0 when glfw has none of that kind).

        Keys: ``x11_display`` (``Display*``), ``x11_window``, and for a native context on X11
        ``glx_context`` (``GLXContext``) and ``glx_window`` (the ``GLXWindow`` drawable), for
        an EGL context ``egl_display``, ``egl_context`` and ``egl_surface``.
        """
        getters: dict[str, Callable[[], Any]] = {
            "x11_display": glfw.get_x11_display,
            "x11_window": lambda: glfw.get_x11_window(self.window),
        }
        if self.context_api == "native":
            getters["glx_context"] = lambda: glfw.get_glx_context(self.window)
            getters["glx_window"] = lambda: glfw.get_glx_window(self.window)
        else:
            getters["egl_display"] = glfw.get_egl_display
            getters["egl_context"] = lambda: glfw.get_egl_context(self.window)
            getters["egl_surface"] = lambda: glfw.get_egl_surface(self.window)
        out = {}
        for key, get in getters.items():
            try:
                value = get()
            except (AttributeError, glfw.GLFWError):
                value = None
            if isinstance(value, ctypes.c_void_p):
                value = value.value
            out[key] = int(value or 0)
        return out

    @property
    def display_lost(self) -> bool:
        """True once the connection to the X server broke (server killed, display gone)."""
        return bool(_x11_state["lost"])

    @property
    def refresh_hz(self) -> float:
        """Refresh rate of the window's monitor (or the primary one), 0 when unknown."""
        mon = self.monitor or glfw.get_primary_monitor()
        mode = glfw.get_video_mode(mon) if mon else None
        return float(mode.refresh_rate) if mode else 0.0

    @property
    def window_size(self) -> tuple[int, int]:
        """Window size in screen coordinates ``(width, height)``."""
        w, h = glfw.get_window_size(self.window)
        return int(w), int(h)

    def set_window_size(self, width: int, height: int) -> None:
        """Resize the window (screen coordinates); the framebuffer follows."""
        glfw.set_window_size(self.window, int(width), int(height))

    def set_cursor_captured(self, captured: bool) -> None:
        """Hide and lock the cursor for unbounded mouse-look, or give it back."""
        mode = glfw.CURSOR_DISABLED if captured else glfw.CURSOR_NORMAL
        glfw.set_input_mode(self.window, glfw.CURSOR, mode)

    def read_window_rgba(self, front: bool = False) -> NDArray[np.uint8]:
        """Read the window's default framebuffer as (H, W, 4) uint8, top row first.

        Args:
            front: Read the front (presented) buffer instead of the back buffer being drawn.
        """
        self.make_current()
        w, h = self.framebuffer_size
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
        GL.glReadBuffer(GL.GL_FRONT if front else GL.GL_BACK)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        GL.glReadBuffer(GL.GL_BACK)
        img = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 4)
        return img[::-1].copy()

    def make_current(self) -> None:
        """Make the window's context current on this thread."""
        leave_other_api(self._api)
        glfw.make_context_current(self.window)

    @property
    def framebuffer_size(self) -> tuple[int, int]:
        """Drawable size in pixels ``(width, height)``."""
        w, h = glfw.get_framebuffer_size(self.window)
        return int(w), int(h)

    @property
    def should_close(self) -> bool:
        """True once the user asked to close the window."""
        return bool(glfw.window_should_close(self.window))

    def request_close(self) -> None:
        """Ask the window to close (as if the user had)."""
        glfw.set_window_should_close(self.window, True)

    def swap_buffers(self) -> None:
        """Present the back buffer."""
        glfw.swap_buffers(self.window)

    def poll_events(self) -> None:
        """Process pending window and input events."""
        glfw.poll_events()

    def set_title(self, title: str) -> None:
        """Change the window title."""
        glfw.set_window_title(self.window, title)

    def on_key(self, callback: Callable[[int, int, int, int], None]) -> None:
        """Call ``callback(key, scancode, action, mods)`` on key events."""
        glfw.set_key_callback(self.window, lambda _w, *a: callback(*a))

    def on_cursor(self, callback: Callable[[float, float], None]) -> None:
        """Call ``callback(x, y)`` when the cursor moves (window pixels)."""
        glfw.set_cursor_pos_callback(self.window, lambda _w, x, y: callback(x, y))

    def on_focus(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(focused)`` when the window gains or loses input focus."""
        glfw.set_window_focus_callback(self.window, lambda _w, focused: callback(bool(focused)))

    def on_mouse_button(self, callback: Callable[[int, int, int], None]) -> None:
        """Call ``callback(button, action, mods)`` on mouse button events."""
        glfw.set_mouse_button_callback(self.window, lambda _w, *a: callback(*a))

    def release(self) -> None:
        """Release owned objects and the window; safe to call twice.

        After the display was lost, GL and glfw calls on the dead connection can crash the
        driver, so the objects are only forgotten (the process is about to end anyway).
        """
        if self.display_lost and not self.released:
            self.abandon()
            self.window = None
            _done_glfw(terminate=False)
            log.debug("window context abandoned: the display connection is gone")
            return
        super().release()

    def _destroy(self) -> None:
        glfw.destroy_window(self.window)
        self.window = None
        _done_glfw()


def create_window_context(
    width: int,
    height: int,
    title: str = "vrkit",
    visible: bool = True,
    monitor: str | int | None = None,
    vsync: bool = True,
    resizable: bool = True,
    context_api: str = "egl",
) -> WindowContext:
    """Create a glfw window with an OpenGL 3.3 core context (works under Xvfb).

    Args:
        width: Window width in pixels (ignored for full screen, which uses the monitor's mode).
        height: Window height in pixels.
        title: Window title.
        visible: Show the window.
        monitor: Full screen on this monitor (name or index), or None for a window.
        vsync: Swap interval 1 (wait for vertical blank) or 0.
        resizable: Let the user resize the window.
        context_api: ``"egl"`` (the context is made through EGL, also on X11) or ``"native"``
            (the platform's own API: GLX on X11), e.g. for an OpenXR runtime that binds GLX.

    Raises:
        BackendUnavailableError: No display, or the monitor does not exist.
        InputError: ``context_api`` is neither ``"egl"`` nor ``"native"``.
    """
    return WindowContext(width, height, title, visible, monitor, vsync, resizable, context_api)
