"""Direct-display backend: the headset's own panel as a full-screen monitor (DK1-style).

The panel is an ordinary monitor (HDMI/DP) to the OS. This backend opens a full-screen window
on it (``--monitor NAME|INDEX``; ``vrkit doctor`` lists monitors) and shows the panel image at
the panel's native resolution, pre-distorted with the profile's lens model, with the head pose
from a pose source: ``--pose-source tracker`` (the tracking module), ``replay:FILE`` (a
recording), or by default the mouse and keyboard (cursor captured while the window has focus).

Resolution policy: the image is drawn 1:1 at the panel resolution and never scaled up. If the
monitor's mode is not the profile's panel resolution, a warning names both sizes and the image
is centred (letterboxed); if the monitor is smaller it is scaled down to fit, which also
scales the lens pre-distortion, so the warning says the optics will be wrong.

Without ``--monitor`` the first monitor whose mode equals the panel size is used, else
monitor 0 (with a warning). Esc quits. If the window closes any other way, or the X server
goes away (panel unplugged, server killed), the run ends with :class:`SessionLostError`.
"""

from __future__ import annotations

import logging
from typing import Any

from vrkit.backends.base import Capabilities
from vrkit.backends.windowed import WindowBackend
from vrkit.core.errors import SessionLostError
from vrkit.gl.window import WindowContext, create_window_context, list_monitors
from vrkit.render.panel import PanelLayout

log = logging.getLogger(__name__)


def choose_monitor(
    monitors: list[dict[str, Any]], panel_size: tuple[int, int], spec: str | int | None
) -> str | int:
    """The monitor to use: ``spec`` when given, else one whose mode is the panel size, else 0.

    Args:
        monitors: As from :func:`vrkit.gl.window.list_monitors`.
        panel_size: ``(width, height)`` of the panel in pixels.
        spec: ``--monitor`` value (name or index) or None.
    """
    if spec is not None:
        return spec
    for m in monitors:
        if (m["width"], m["height"]) == tuple(panel_size):
            return int(m["index"])
    if monitors:
        log.warning(
            "display: no monitor runs at the panel's %dx%d; using monitor 0 (%s, %dx%d). "
            "Pick one with --monitor NAME|INDEX (see `vrkit doctor`)",
            *panel_size,
            monitors[0]["name"],
            monitors[0]["width"],
            monitors[0]["height"],
        )
    return 0


class DisplayBackend(WindowBackend):
    """Full screen on a chosen monitor at the panel's native resolution.

    ``config.extra`` options: ``overlay`` (default False: it would cover the panel image),
    ``capture_window`` (keep each presented image in ``last_window``, for tests).
    """

    name = "display"
    capabilities = Capabilities(
        shows_panel=True, interactive=True, input_kinds=frozenset({"mouse_keyboard"})
    )
    upscale = False
    overlay_default = False

    def _create_window(self, layout: PanelLayout) -> WindowContext:
        monitors = list_monitors()
        spec = choose_monitor(monitors, layout.panel_size, self.config.monitor)
        ctx = create_window_context(
            *layout.panel_size,
            title="vrkit panel",
            monitor=spec,
            vsync=self.config.vsync,
            resizable=False,
        )
        screen = ctx.framebuffer_size
        self.monitor_size = screen
        if screen != tuple(layout.panel_size):
            smaller = screen[0] < layout.panel_size[0] or screen[1] < layout.panel_size[1]
            log.warning(
                "display: monitor %r runs at %dx%d but the panel is %dx%d: %s",
                spec,
                *screen,
                *layout.panel_size,
                "scaling the image DOWN to fit, so the lens pre-distortion is scaled too and "
                "the optics will be wrong; set the panel's native mode"
                if smaller
                else "drawing 1:1, centred, with black borders",
            )
        return ctx

    def open(self) -> None:
        """Open full screen; with the mouse pose the cursor is captured for mouse-look."""
        super().open()
        if self.mouse is not None:
            self.set_cursor_captured(True)

    def _window_closed(self) -> None:
        raise SessionLostError(
            f"the panel window closed unexpectedly after {self.frames_presented} frames "
            "(monitor disconnected or window closed by the desktop)",
            "press Esc to quit normally; check the panel's connection",
        )
