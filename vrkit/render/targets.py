"""Render targets: where one eye's view is drawn, multisampled or not, and how it is resolved."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from vrkit.core.errors import InputError
from vrkit.gl.context import GLContext
from vrkit.gl.resources import (
    DEPTH24,
    FILTERS,
    SRGB8_ALPHA8,
    Framebuffer,
    MultisampleFramebuffer,
    Texture,
)
from vrkit.render.scene import Mesh

log = logging.getLogger(__name__)

#: Samples per pixel when a run does not say (``--msaa``): 4, as VR renderers use.
DEFAULT_MSAA = 4
#: Sample counts ``--msaa`` accepts (0 and 1 both mean off).
MSAA_CHOICES = (0, 1, 2, 4, 8, 16)


def choose_samples(requested: int | None, max_samples: int) -> int:
    """The MSAA samples per pixel a run uses: ``requested``, or the default where supported.

    Args:
        requested: ``--msaa`` (0 or 1: off), or None for :data:`DEFAULT_MSAA` capped at what
            the GL supports.
        max_samples: The GL's ``GL_MAX_SAMPLES``.

    Returns:
        1 (off) or a sample count from :data:`MSAA_CHOICES`.

    Raises:
        InputError: ``requested`` is not a choice, or more than this GL supports.
    """
    if requested is None:
        samples = DEFAULT_MSAA
        while samples > max_samples:
            samples //= 2
        return max(samples, 1)
    if requested not in MSAA_CHOICES:
        raise InputError(
            f"--msaa must be one of {', '.join(map(str, MSAA_CHOICES))}, got {requested}"
        )
    if requested > max_samples:
        raise InputError(
            f"--msaa {requested} is more than this GL supports ({max_samples} samples per pixel)",
            f"use --msaa {max_samples} or fewer",
        )
    return max(requested, 1)


@dataclass
class RenderTarget:
    """A framebuffer region to draw one view into.

    When ``msaa`` is set the view is drawn into that multisampled framebuffer and
    :meth:`finish` resolves it into ``fbo`` (averaging the samples in linear light when
    ``srgb``), so whatever reads ``fbo`` next (the panel's lens pass, a runtime's compositor)
    sees the anti-aliased image.

    Attributes:
        fbo: GL framebuffer name the finished image ends up in.
        width: Pixels.
        height: Pixels.
        viewport: ``(x, y, w, h)`` in the framebuffer, bottom-left origin (GL convention).
        framebuffer: The vrkit Framebuffer when vrkit owns it (None for runtime swapchains).
        srgb: The colour attachment is sRGB: shader output (linear) is encoded on write
            (GL_FRAMEBUFFER_SRGB) and the MSAA resolve averages in linear light.
        hidden_area: Triangles covering the pixels the lens hides (a runtime's visibility mask,
            positions on the view's z = -1 plane), or None when every pixel is visible; the
            renderer marks them at the near plane in the depth buffer before drawing the scene.
        msaa: Multisampled framebuffer of the view's size to draw into, or None.
        resolve_depth: Copy depth along with colour when resolving (a depth swapchain).
    """

    fbo: int
    width: int
    height: int
    viewport: tuple[int, int, int, int] | None = None
    framebuffer: Framebuffer | None = None
    srgb: bool = False
    hidden_area: Mesh | None = None
    msaa: MultisampleFramebuffer | None = None
    resolve_depth: bool = False

    @property
    def samples(self) -> int:
        """Samples per pixel drawn (1 without MSAA)."""
        return self.msaa.samples if self.msaa is not None else 1

    def bind(self, ctx: GLContext) -> None:
        """Bind the framebuffer to draw into, set the viewport and sRGB encoding in ``ctx``."""
        if self.msaa is not None:
            ctx.bind_framebuffer(self.msaa.fbo, (0, 0, self.width, self.height), self.srgb)
        else:
            ctx.bind_framebuffer(
                self.fbo, self.viewport or (0, 0, self.width, self.height), self.srgb
            )

    def finish(self) -> None:
        """Resolve the multisampled image into ``fbo`` (nothing to do without MSAA)."""
        if self.msaa is not None:
            origin = self.viewport[:2] if self.viewport else (0, 0)
            self.msaa.resolve(self.fbo, self.srgb, self.resolve_depth, origin)


class EyeTargets:
    """A colour (+ depth) framebuffer per eye, owned by the context, optionally multisampled.

    The colour textures are ``GL_SRGB8_ALPHA8``: the scene shader's linear output is encoded
    on write and decoded when the panel's lens pass samples it, so eye images read back as
    sRGB bytes (what a PNG holds) while every blend, resolve and filter works in linear light.
    With ``samples`` > 1 each eye is drawn into a multisampled framebuffer and resolved into
    its texture before anything samples it.

    Args:
        ctx: The owning GL context.
        sizes: ``[(width, height), ...]`` per eye in pixels.
        samples: MSAA samples per pixel (1: off); see :func:`choose_samples`.
        depth_textures: Give each eye a sampleable ``GL_DEPTH_COMPONENT24`` depth texture
            (:attr:`depth_textures`; with MSAA the depth is resolved into it along with the
            colour), for the positional warp; else a depth renderbuffer (or none with MSAA).
    """

    def __init__(
        self,
        ctx: GLContext,
        sizes: list[tuple[int, int]],
        samples: int = 1,
        depth_textures: bool = False,
    ) -> None:
        self.samples = int(samples)
        self.framebuffers: list[Framebuffer] = []
        self.multisampled: list[MultisampleFramebuffer] = []
        self.targets: list[RenderTarget] = []
        #: Per eye window-depth texture (in [0, 1], the renderer's near and far), or empty.
        self.depth_textures: list[Texture] = []
        try:
            for w, h in sizes:
                ms = ctx.multisample_framebuffer(w, h, samples) if samples > 1 else None
                depth = None
                if depth_textures:
                    depth = Texture(ctx, w, h, DEPTH24, filter=FILTERS["nearest"])
                    self.depth_textures.append(depth)
                fb = Framebuffer(ctx, w, h, ms is None, SRGB8_ALPHA8, depth_texture=depth)
                self.framebuffers.append(fb)
                if ms is not None:
                    self.multisampled.append(ms)
                self.targets.append(
                    RenderTarget(
                        fb.fbo,
                        fb.width,
                        fb.height,
                        framebuffer=fb,
                        srgb=True,
                        msaa=ms,
                        resolve_depth=depth is not None,
                    )
                )
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Release the framebuffers; safe to call twice."""
        for fb in (*self.multisampled, *self.framebuffers, *self.depth_textures):
            fb.release()
