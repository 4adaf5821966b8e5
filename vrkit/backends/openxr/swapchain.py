"""OpenXR swapchains whose GL images vrkit renders into.

One colour swapchain per view, plus one depth swapchain per view when the runtime takes depth
(XR_KHR_composition_layer_depth). Each runtime-owned colour image gets a vrkit framebuffer with,
as depth attachment, a depth renderbuffer or the depth swapchain's image, so the renderer draws
straight into the images the runtime composites: no copy per frame. Colour and depth images are
acquired independently (their indices may differ), so there is one framebuffer per (colour,
depth) image pair, made on first use.

With MSAA (``samples`` > 1) the view is drawn into one multisampled framebuffer per view
(colour in the swapchain's format, depth in the depth swapchain's) and resolved into the
acquired image(s) at the end of the view: the swapchains stay single-sampled, which every
runtime accepts, and an sRGB swapchain's samples are averaged in linear light.
"""

from __future__ import annotations

from collections.abc import Sequence

from vrkit.backends.openxr._xr import xr
from vrkit.core.errors import BackendUnavailableError
from vrkit.gl.context import Framebuffer, GLContext, Texture
from vrkit.gl.resources import MultisampleFramebuffer
from vrkit.render.scene import Mesh
from vrkit.render.targets import RenderTarget

# GL internal formats (numbers from the GL registry; vrkit.gl is the only OpenGL importer).
GL_SRGB8_ALPHA8 = 0x8C43
GL_RGBA8 = 0x8058
GL_RGBA16F = 0x881A
GL_RGB10_A2 = 0x8059
GL_DEPTH_COMPONENT16 = 0x81A5
GL_DEPTH_COMPONENT24 = 0x81A6
GL_DEPTH_COMPONENT32F = 0x8CAC
GL_DEPTH24_STENCIL8 = 0x88F0
GL_DEPTH32F_STENCIL8 = 0x8CAD
FORMAT_NAMES = {
    GL_SRGB8_ALPHA8: "GL_SRGB8_ALPHA8",
    GL_RGBA8: "GL_RGBA8",
    GL_RGBA16F: "GL_RGBA16F",
    GL_RGB10_A2: "GL_RGB10_A2",
    0x805B: "GL_RGBA16",
    0x81A6: "GL_DEPTH_COMPONENT24",
    0x8CAC: "GL_DEPTH_COMPONENT32F",
    0x81A5: "GL_DEPTH_COMPONENT16",
    0x88F0: "GL_DEPTH24_STENCIL8",
    0x8CAD: "GL_DEPTH32F_STENCIL8",
}
#: Colour formats vrkit can render into, best first: sRGB so the compositor sees encoded values.
COLOR_PREFERENCE = (GL_SRGB8_ALPHA8, GL_RGBA8, GL_RGB10_A2, GL_RGBA16F)
SRGB_FORMATS = frozenset({GL_SRGB8_ALPHA8})
#: Depth formats vrkit renders into, best first (16-bit last: too coarse far from the eye).
DEPTH_PREFERENCE = (
    GL_DEPTH_COMPONENT24,
    GL_DEPTH_COMPONENT32F,
    GL_DEPTH24_STENCIL8,
    GL_DEPTH32F_STENCIL8,
    GL_DEPTH_COMPONENT16,
)


def choose_color_format(offered: Sequence[int], prefer_srgb: bool = True) -> int:
    """Pick the colour format for the swapchains from what the runtime offers.

    Args:
        offered: GL internal formats from ``xrEnumerateSwapchainFormats``, runtime's order.
        prefer_srgb: Prefer ``GL_SRGB8_ALPHA8`` (else plain ``GL_RGBA8`` first).

    Raises:
        BackendUnavailableError: None of the formats vrkit renders into is offered.
    """
    order = COLOR_PREFERENCE if prefer_srgb else (GL_RGBA8, *COLOR_PREFERENCE)
    for fmt in order:
        if fmt in offered:
            return fmt
    names = [FORMAT_NAMES.get(f, hex(f)) for f in offered]
    raise BackendUnavailableError(f"the OpenXR runtime offers no usable colour format: {names}")


def choose_depth_format(offered: Sequence[int]) -> int | None:
    """Pick the depth swapchain format from what the runtime offers, or None (no depth).

    Args:
        offered: GL internal formats from ``xrEnumerateSwapchainFormats``, runtime's order.
    """
    for fmt in DEPTH_PREFERENCE:
        if fmt in offered:
            return fmt
    return None


class _RuntimeTexture(Texture):
    """A texture the runtime owns (a swapchain image): vrkit binds it but never deletes it."""

    def __init__(self, ctx: GLContext, name: int, width: int, height: int, fmt: int) -> None:
        self.width, self.height, self.internal_format = int(width), int(height), fmt
        super(Texture, self).__init__(ctx, name)

    def _delete(self) -> None:
        """The runtime deletes its images when the swapchain is destroyed."""


def _images(handle: object, ctx: GLContext, w: int, h: int, fmt: int) -> list[_RuntimeTexture]:
    images = xr.enumerate_swapchain_images(handle, xr.SwapchainImageOpenGLKHR)
    return [_RuntimeTexture(ctx, int(img.image), w, h, fmt) for img in images]


def _create(session: object, usage: object, fmt: int, w: int, h: int, samples: int) -> object:
    info = xr.SwapchainCreateInfo(
        usage_flags=usage,
        format=fmt,
        sample_count=samples,
        width=w,
        height=h,
        face_count=1,
        array_size=1,
        mip_count=1,
    )
    return xr.create_swapchain(session, info)


class ViewSwapchain:
    """The colour (and depth) swapchain of one view and a framebuffer per image pair.

    Args:
        session: The running ``XrSession``.
        ctx: The GL context bound to the session (current on this thread).
        width: Image width in pixels.
        height: Image height in pixels.
        fmt: GL internal format from :func:`choose_color_format`.
        samples: MSAA samples per pixel vrkit draws with (1: straight into the images;
            more: a multisampled framebuffer resolved into them). The swapchains themselves
            are single-sampled.
        depth_format: GL depth format from :func:`choose_depth_format` for a depth swapchain
            (submitted with XR_KHR_composition_layer_depth), or None: a depth renderbuffer.

    Attributes:
        handle: The colour ``XrSwapchain``.
        depth_handle: The depth ``XrSwapchain``, or None.
        color_images: The colour swapchain's images.
        depth_images: The depth swapchain's images (empty without depth).
        hidden_area: This view's hidden-area mesh, handed to the renderer with each target.
        acquired: Index of the colour image acquired for the current frame, or None.
        acquired_depth: Index of the depth image acquired for the current frame, or None.
    """

    def __init__(
        self,
        session: object,
        ctx: GLContext,
        width: int,
        height: int,
        fmt: int,
        samples: int = 1,
        depth_format: int | None = None,
    ) -> None:
        self.width, self.height, self.format = int(width), int(height), fmt
        self.depth_format = depth_format
        self.srgb = fmt in SRGB_FORMATS
        self._ctx = ctx
        self.handle: object | None = None
        self.depth_handle: object | None = None
        self.color_images: list[_RuntimeTexture] = []
        self.depth_images: list[_RuntimeTexture] = []
        self._targets: dict[tuple[int, int], RenderTarget] = {}
        self.samples = max(1, int(samples))
        self.msaa: MultisampleFramebuffer | None = None
        self.hidden_area: Mesh | None = None
        self.acquired: int | None = None
        self.acquired_depth: int | None = None
        # Per-frame call structures, built once.
        self._acquire_info = xr.SwapchainImageAcquireInfo()
        self._release_info = xr.SwapchainImageReleaseInfo()
        self._wait_info = xr.SwapchainImageWaitInfo(timeout=0)
        flags = xr.SwapchainUsageFlags
        self.handle = _create(
            session,
            flags.COLOR_ATTACHMENT_BIT | flags.SAMPLED_BIT | flags.TRANSFER_SRC_BIT,
            fmt, self.width, self.height, 1,
        )  # fmt: skip
        try:
            self.color_images = _images(self.handle, ctx, self.width, self.height, fmt)
            if depth_format is not None:
                self.depth_handle = _create(
                    session,
                    flags.DEPTH_STENCIL_ATTACHMENT_BIT | flags.SAMPLED_BIT,
                    depth_format, self.width, self.height, 1,
                )  # fmt: skip
                self.depth_images = _images(
                    self.depth_handle, ctx, self.width, self.height, depth_format
                )
            if self.samples > 1:
                self.msaa = ctx.multisample_framebuffer(
                    self.width, self.height, self.samples, fmt,
                    depth_format if depth_format is not None else GL_DEPTH_COMPONENT24,
                )  # fmt: skip
            # Build the framebuffers now (the pairs a lock-step runtime uses; others on demand).
            for i in range(len(self.color_images)):
                self._target(i, i if self.depth_images else -1)
        except BaseException:
            self.destroy()
            raise

    @property
    def framebuffers(self) -> list[Framebuffer]:
        """The framebuffers made so far, one per (colour, depth) image pair."""
        return [t.framebuffer for t in self._targets.values() if t.framebuffer is not None]

    def _target(self, color: int, depth: int) -> RenderTarget:
        target = self._targets.get((color, depth))
        if target is None:
            fb = Framebuffer(
                self._ctx,
                self.width,
                self.height,
                depth=depth < 0 and self.msaa is None,
                color=self.color_images[color],
                depth_texture=self.depth_images[depth] if depth >= 0 else None,
            )
            target = RenderTarget(
                fb.fbo,
                self.width,
                self.height,
                framebuffer=fb,
                srgb=self.srgb,
                msaa=self.msaa,
                resolve_depth=depth >= 0,
            )
            self._targets[(color, depth)] = target
        return target

    def acquire(self, timeout_ns: int) -> RenderTarget:
        """Acquire and wait for the next image(s); the target to draw this frame's view into.

        Args:
            timeout_ns: Longest wait for an image in ``xrWaitSwapchainImage``.
        """
        wait = self._wait_info
        wait.timeout = int(timeout_ns)
        self.acquired = int(xr.acquire_swapchain_image(self.handle, self._acquire_info))
        xr.wait_swapchain_image(self.handle, wait)
        depth = -1
        if self.depth_handle is not None:
            depth = int(xr.acquire_swapchain_image(self.depth_handle, self._acquire_info))
            self.acquired_depth = depth
            xr.wait_swapchain_image(self.depth_handle, wait)
        target = self._target(self.acquired, depth)
        target.hidden_area = self.hidden_area
        return target

    def release_image(self) -> None:
        """Hand the acquired image(s) back to the runtime (before ``xrEndFrame``)."""
        if self.acquired is not None:
            self.acquired = None
            xr.release_swapchain_image(self.handle, self._release_info)
        if self.acquired_depth is not None:
            self.acquired_depth = None
            xr.release_swapchain_image(self.depth_handle, self._release_info)

    def destroy(self, call_runtime: bool = True) -> None:
        """Release the framebuffers, then destroy the swapchains; safe to call twice.

        Args:
            call_runtime: False when the runtime is gone or hung: skip ``xrDestroySwapchain``.
        """
        for target in reversed(list(self._targets.values())):
            if target.framebuffer is not None:
                target.framebuffer.release()
        self._targets.clear()
        if self.msaa is not None:
            self.msaa.release()
            self.msaa = None
        for tex in (*self.depth_images, *self.color_images):
            tex.release()
        self.depth_images, self.color_images = [], []
        for attr in ("depth_handle", "handle"):
            handle = getattr(self, attr)
            setattr(self, attr, None)
            if handle is not None and call_runtime:
                try:
                    xr.destroy_swapchain(handle)
                except xr.exception.XrException:
                    pass
