"""Render targets: where one eye's view is drawn."""

from __future__ import annotations

from dataclasses import dataclass

from vrkit.gl.context import GLContext
from vrkit.gl.resources import Framebuffer
from vrkit.render.scene import Mesh


@dataclass
class RenderTarget:
    """A framebuffer region to draw one view into.

    Attributes:
        fbo: GL framebuffer name.
        width: Pixels.
        height: Pixels.
        viewport: ``(x, y, w, h)`` in the framebuffer, bottom-left origin (GL convention).
        framebuffer: The vrkit Framebuffer when vrkit owns it (None for runtime swapchains).
        srgb: Enable GL_FRAMEBUFFER_SRGB while drawing (sRGB swapchain images).
        hidden_area: Triangles covering the pixels the lens hides (a runtime's visibility mask,
            positions on the view's z = -1 plane), or None when every pixel is visible; the
            renderer marks them at the near plane in the depth buffer before drawing the scene.
    """

    fbo: int
    width: int
    height: int
    viewport: tuple[int, int, int, int] | None = None
    framebuffer: Framebuffer | None = None
    srgb: bool = False
    hidden_area: Mesh | None = None

    def bind(self, ctx: GLContext) -> None:
        """Bind the framebuffer and set the viewport (and sRGB encoding) in ``ctx``."""
        ctx.bind_framebuffer(self.fbo, self.viewport or (0, 0, self.width, self.height), self.srgb)


class EyeTargets:
    """A colour + depth framebuffer per eye, owned by the context.

    Args:
        ctx: The owning GL context.
        sizes: ``[(width, height), ...]`` per eye in pixels.
    """

    def __init__(self, ctx: GLContext, sizes: list[tuple[int, int]]) -> None:
        self.framebuffers = [ctx.framebuffer(w, h, depth=True) for w, h in sizes]
        self.targets = [
            RenderTarget(fb.fbo, fb.width, fb.height, framebuffer=fb) for fb in self.framebuffers
        ]

    def release(self) -> None:
        """Release the framebuffers; safe to call twice."""
        for fb in self.framebuffers:
            fb.release()
