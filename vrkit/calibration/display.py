"""Put pattern frames on the panel through vrkit's own display path.

The pattern generator makes the panel image in numpy; this module hands each eye's part of it
to :class:`~vrkit.render.panel.PanelCompositor` as that eye's image, drawn through the identity
mesh (no lens pre-distortion: the pattern must reach the panel pixel for pixel).

* :class:`PanelPresenter` draws into an offscreen panel framebuffer (read back and compared).
* :class:`DisplayPatterns` shows the frames full screen on the headset's panel through the
  direct-display backend (:class:`vrkit.backends.display.DisplayBackend`, distortion off, eye
  targets the size of the eye viewports), which picks the monitor whose mode is the panel size
  unless one is named.
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
            eye = np.ascontiguousarray(panel_rgb[y : y + h, x : x + w])  # top row first
            self._textures.append(self.ctx.texture(w, h, data=eye))
        return self._textures

    def compose(self, panel_rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Draw a panel image offscreen and read the panel back, (H, W, 3) uint8, top row first."""
        self.compositor.compose(self._upload(panel_rgb))
        self.ctx.check_error("pattern compose")
        return self.compositor.read_panel()[..., :3]

    def release(self) -> None:
        """Release GPU objects; safe to call twice."""
        for t in self._textures:
            t.release()
        self._textures = []
        self.compositor.release()


class DisplayPatterns:
    """Panel images full screen on the headset panel, through the direct-display backend.

    Args:
        profile: The headset profile (``HeadsetProfile``) whose panel shows the patterns.
        monitor: Monitor name or index (None: the one whose mode is the panel size).
        vsync: Wait for vertical blank when presenting.
        capture: Keep each presented window image in ``backend.last_window`` (tests).

    Raises:
        BackendUnavailableError: No display to open a window on.
        InputError: The profile's two eye viewports differ in size, or the monitor does not
            exist.
    """

    def __init__(
        self,
        profile: Any,
        monitor: str | int | None = None,
        *,
        vsync: bool = True,
        capture: bool = False,
    ) -> None:
        from vrkit.backends.base import RunConfig
        from vrkit.backends.display import DisplayBackend
        from vrkit.core.errors import BackendUnavailableError, InputError
        from vrkit.poses.base import StaticPose

        sizes = {tuple(profile.eye_viewport(e)[2:]) for e in (0, 1)}
        if len(sizes) != 1:
            raise InputError(
                f"profile {profile.name!r} has eye viewports of different sizes {sorted(sizes)}",
                "show the pattern PNGs with an image viewer instead",
            )
        reason = DisplayBackend.unavailable_reason()
        if reason:
            raise BackendUnavailableError(reason)
        config = RunConfig(
            profile=profile,
            distortion=False,
            eye_size=sizes.pop(),
            monitor=None if monitor is None else str(monitor),
            vsync=vsync,
            pose_source=StaticPose(),
            extra={"overlay": False, "capture_window": capture},
        )
        self.backend = DisplayBackend(config)
        self._blit: Any = None
        try:
            self.backend.open()
            self._blit = self.backend.gl.program("blit.vert", "blit.frag")
        except BaseException:
            self.release()
            raise
        self.closed = False

    def show(self, panel_rgb: NDArray[np.uint8], seconds: float = 0.0) -> bool:
        """Present a panel image, and keep presenting it for ``seconds``.

        Args:
            panel_rgb: (H, W, 3) uint8 panel image, top row first, of the panel's size.
            seconds: How long to keep it up (0: present once).

        Returns:
            False when the user closed the window with Esc (stop showing), else True.
        """
        import time

        from vrkit.core.errors import InputError

        b = self.backend
        assert b.layout is not None
        want = (b.layout.panel_size[1], b.layout.panel_size[0], 3)
        if panel_rgb.shape != want:
            raise InputError(f"panel image is {panel_rgb.shape}, the panel needs {want}")
        ctx = b.gl
        textures = []
        try:
            for x, y, w, h in b.layout.viewports:
                # Viewports count from the panel's top-left, as images do.
                part = panel_rgb[y : y + h, x : x + w]
                textures.append(ctx.texture(w, h, data=np.ascontiguousarray(part)))
            deadline = time.monotonic() + seconds
            while True:
                frame = b.begin_frame()
                if frame is None:
                    self.closed = True
                    return False
                for target, tex in zip(b.eye_targets(frame), textures, strict=True):
                    ctx.bind_framebuffer(target.fbo, (0, 0, target.width, target.height))
                    ctx.set_state(depth_test=False)
                    self._blit.use()
                    self._blit.set_int("u_image", 0)
                    tex.bind(0)
                    ctx.draw_fullscreen_triangle()
                b.end_frame(frame)
                if time.monotonic() >= deadline:
                    return True
        finally:
            for t in textures:
                t.release()

    def release(self) -> None:
        """Close the window and release GPU objects; safe to call twice."""
        if self._blit is not None:
            self._blit.release()
            self._blit = None
        self.backend.close()
