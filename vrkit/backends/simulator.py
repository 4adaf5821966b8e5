"""Desktop simulator backend: the headset's panel in a resizable glfw window.

The window shows both eyes exactly as the panel would (the panel composition, pre-distorted and
chromatically corrected when the profile has a lens), letterboxed to keep the panel's aspect.
Mouse-look (drag with the left button, or press C to capture the cursor) and keyboard movement
(WASD, Q/E down/up, shift faster, R reset) drive a :class:`~vrkit.poses.mouse.MouseKeyboardPose`
unless another pose source was given. L toggles lens distortion, F1 or O the frame-time overlay
(:mod:`.overlay`), Esc quits.

Pacing (:mod:`.pacing`) keeps a vertical-blank grid on the run's clock, anchored at swaps that
really blocked, or at its own estimate where the display does not block (as under Xvfb). The
window machinery is shared with the direct-display backend (:mod:`.windowed`).
"""

from __future__ import annotations

from vrkit.backends.base import Capabilities
from vrkit.backends.windowed import WindowBackend
from vrkit.gl.window import WindowContext, create_window_context
from vrkit.render.panel import PanelLayout


class SimulatorBackend(WindowBackend):
    """The panel in a resizable desktop window with mouse/keyboard head motion.

    ``config.extra`` options: ``window_size`` ``(w, h)`` initial window size (default: the
    panel scaled to fit 1600x900), ``overlay`` (default True), ``capture_window`` (keep each
    presented window image in ``last_window``, for tests).
    """

    name = "sim"
    capabilities = Capabilities(
        shows_panel=True, interactive=True, input_kinds=frozenset({"mouse_keyboard"})
    )
    MAX_INITIAL = (1600, 900)

    def _create_window(self, layout: PanelLayout) -> WindowContext:
        size = self.config.extra.get("window_size")
        if size is None:
            pw, ph = layout.panel_size
            scale = min(1.0, self.MAX_INITIAL[0] / pw, self.MAX_INITIAL[1] / ph)
            size = (max(16, round(pw * scale)), max(16, round(ph * scale)))
        return create_window_context(
            int(size[0]),
            int(size[1]),
            title="vrkit simulator - drag: look, WASD/QE: move, R: reset, L: lens, F1: overlay",
            vsync=self.config.vsync,
            resizable=True,
        )
