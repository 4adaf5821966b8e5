"""Put pattern frames on the panel through vrkit's own display path.

The pattern generator makes the panel image in numpy; this module hands each eye's part of it
to :class:`~vrkit.render.panel.PanelCompositor` as that eye's image, drawn through the identity
mesh (no lens pre-distortion: the pattern must reach the panel pixel for pixel). The same
compositor draws into an offscreen panel framebuffer (headless: read back and compared, or
written as PNG) or into a full-screen window on the headset's panel (``--show``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.patterns import PanelGeometry


class PanelPresenter:
    """Draws full-panel RGB images through the panel compositor.

    Args:
        ctx: A GL context (headless or window) that owns the GPU objects.
        panel: Panel geometry (its size; both halves are drawn as the two eye viewports).
    """

    def __init__(self, ctx: Any, panel: PanelGeometry) -> None:
        from vrkit.render.panel import DEFAULT_FOV, PanelCompositor, PanelLayout, identity_mesh

        self.ctx = ctx
        w, h = panel.width_px, panel.height_px
        half = w // 2
        self.viewports = [(0, 0, half, h), (half, 0, w - half, h)]
        layout = PanelLayout(
            (w, h),
            self.viewports,
            [DEFAULT_FOV, DEFAULT_FOV],
            [(vw, vh) for _, _, vw, vh in self.viewports],
            [identity_mesh(), identity_mesh()],
        )
        self.compositor = PanelCompositor(ctx, layout)
        self._textures: list[Any] = []

    def _upload(self, panel_rgb: NDArray[np.uint8]) -> list[Any]:
        for t in self._textures:
            t.release()
        self._textures = []
        for x, y, w, h in self.viewports:
            eye = np.ascontiguousarray(panel_rgb[y : y + h, x : x + w][::-1])  # GL rows bottom-up
            self._textures.append(self.ctx.texture(w, h, data=eye))
        return self._textures

    def compose(self, panel_rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Draw a panel image offscreen and read the panel back, (H, W, 3) uint8, top row first."""
        self.compositor.compose(self._upload(panel_rgb))
        self.ctx.check_error("pattern compose")
        return self.compositor.read_panel()[..., :3]

    def show(self, panel_rgb: NDArray[np.uint8]) -> None:
        """Draw a panel image into the window's back buffer (fbo 0) and swap."""
        self.compositor.compose(self._upload(panel_rgb), fbo=0)
        self.ctx.check_error("pattern show")
        self.ctx.swap_buffers()

    def release(self) -> None:
        """Release GPU objects; safe to call twice."""
        for t in self._textures:
            t.release()
        self._textures = []
        self.compositor.release()
