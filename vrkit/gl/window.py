"""A glfw window with a GL context: the only module that imports glfw."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import glfw

from vrkit.core.errors import BackendUnavailableError, InputError
from vrkit.gl.context import GLContext

log = logging.getLogger(__name__)

_glfw_users = 0


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
    _glfw_users += 1


def _done_glfw() -> None:
    global _glfw_users
    _glfw_users -= 1
    if _glfw_users == 0:
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

    Attributes:
        window: The glfw window handle.
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
    ) -> None:
        super().__init__()
        _init_glfw()
        try:
            mon = _find_monitor(monitor) if monitor is not None else None
            glfw.default_window_hints()
            glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
            glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
            glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
            glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
            glfw.window_hint(glfw.VISIBLE, visible)
            glfw.window_hint(glfw.RESIZABLE, resizable)
            if mon is not None:
                mode = glfw.get_video_mode(mon)
                width, height = mode.size.width, mode.size.height
                glfw.window_hint(glfw.REFRESH_RATE, mode.refresh_rate)
            self.window = glfw.create_window(width, height, title, mon, None)
            if not self.window:
                raise BackendUnavailableError(
                    f"glfw could not create a {width}x{height} OpenGL 3.3 window"
                )
        except BaseException:
            _done_glfw()
            raise
        self.monitor = mon
        self.make_current()
        glfw.swap_interval(1 if vsync else 0)

    def make_current(self) -> None:
        """Make the window's context current on this thread."""
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

    def on_mouse_button(self, callback: Callable[[int, int, int], None]) -> None:
        """Call ``callback(button, action, mods)`` on mouse button events."""
        glfw.set_mouse_button_callback(self.window, lambda _w, *a: callback(*a))

    def _destroy(self) -> None:
        glfw.destroy_window(self.window)
        self.window = None
        _done_glfw()
