"""OpenXR swapchains whose GL images vrkit renders into.

One colour swapchain per view. Each runtime-owned image gets a vrkit framebuffer (created once, at
swapchain creation) with a depth renderbuffer, so the renderer draws straight into the image the
runtime composites: no copy per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from vrkit.backends.openxr._xr import xr
from vrkit.core.errors import BackendUnavailableError
from vrkit.gl.context import Framebuffer, GLContext, Texture
from vrkit.render.targets import RenderTarget

# GL internal formats (numbers from the GL registry; vrkit.gl is the only OpenGL importer).
GL_SRGB8_ALPHA8 = 0x8C43
GL_RGBA8 = 0x8058
GL_RGBA16F = 0x881A
GL_RGB10_A2 = 0x8059
FORMAT_NAMES = {
    GL_SRGB8_ALPHA8: "GL_SRGB8_ALPHA8",
    GL_RGBA8: "GL_RGBA8",
    GL_RGBA16F: "GL_RGBA16F",
    GL_RGB10_A2: "GL_RGB10_A2",
    0x805B: "GL_RGBA16",
    0x8CAC: "GL_DEPTH_COMPONENT32F",
    0x81A5: "GL_DEPTH_COMPONENT16",
    0x88F0: "GL_DEPTH24_STENCIL8",
    0x8CAD: "GL_DEPTH32F_STENCIL8",
}
#: Colour formats vrkit can render into, best first: sRGB so the compositor sees encoded values.
COLOR_PREFERENCE = (GL_SRGB8_ALPHA8, GL_RGBA8, GL_RGB10_A2, GL_RGBA16F)
SRGB_FORMATS = frozenset({GL_SRGB8_ALPHA8})


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


class _RuntimeTexture(Texture):
    """A texture the runtime owns (a swapchain image): vrkit binds it but never deletes it."""

    def __init__(self, ctx: GLContext, name: int, width: int, height: int, fmt: int) -> None:
        self.width, self.height, self.internal_format = int(width), int(height), fmt
        super(Texture, self).__init__(ctx, name)

    def _delete(self) -> None:
        """The runtime deletes its images when the swapchain is destroyed."""


class ViewSwapchain:
    """The colour swapchain of one view and a framebuffer per image.

    Args:
        session: The running ``XrSession``.
        ctx: The GL context bound to the session (current on this thread).
        width: Image width in pixels.
        height: Image height in pixels.
        fmt: GL internal format from :func:`choose_color_format`.
        samples: Sample count (1: vrkit resolves nothing itself).

    Attributes:
        handle: The ``XrSwapchain``.
        framebuffers: One vrkit framebuffer per swapchain image (image as colour, own depth).
        acquired: Index of the image acquired for the current frame, or None.
    """

    def __init__(
        self, session: object, ctx: GLContext, width: int, height: int, fmt: int, samples: int = 1
    ) -> None:
        self.width, self.height, self.format = int(width), int(height), fmt
        self.srgb = fmt in SRGB_FORMATS
        info = xr.SwapchainCreateInfo(
            usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT
            | xr.SwapchainUsageFlags.SAMPLED_BIT
            | xr.SwapchainUsageFlags.TRANSFER_SRC_BIT,
            format=fmt,
            sample_count=samples,
            width=self.width,
            height=self.height,
            face_count=1,
            array_size=1,
            mip_count=1,
        )
        self.handle = xr.create_swapchain(session, info)
        self.framebuffers: list[Framebuffer] = []
        self.acquired: int | None = None
        try:
            images = xr.enumerate_swapchain_images(self.handle, xr.SwapchainImageOpenGLKHR)
            for img in images:
                tex = _RuntimeTexture(ctx, int(img.image), self.width, self.height, fmt)
                self.framebuffers.append(
                    Framebuffer(ctx, self.width, self.height, depth=True, color=tex)
                )
        except BaseException:
            self.destroy()
            raise
        self.targets = [
            RenderTarget(fb.fbo, self.width, self.height, framebuffer=fb, srgb=self.srgb)
            for fb in self.framebuffers
        ]

    def acquire(self, timeout_ns: int) -> RenderTarget:
        """Acquire and wait for the next image; the target to draw this frame's view into.

        Args:
            timeout_ns: Longest wait for the image in ``xrWaitSwapchainImage``.
        """
        index = xr.acquire_swapchain_image(self.handle, xr.SwapchainImageAcquireInfo())
        self.acquired = int(index)
        xr.wait_swapchain_image(self.handle, xr.SwapchainImageWaitInfo(timeout=int(timeout_ns)))
        return self.targets[self.acquired]

    def release_image(self) -> None:
        """Hand the acquired image back to the runtime (before ``xrEndFrame``)."""
        if self.acquired is not None:
            self.acquired = None
            xr.release_swapchain_image(self.handle, xr.SwapchainImageReleaseInfo())

    def destroy(self, call_runtime: bool = True) -> None:
        """Release the framebuffers, then destroy the swapchain; safe to call twice.

        Args:
            call_runtime: False when the runtime is gone or hung: skip ``xrDestroySwapchain``.
        """
        for fb in reversed(self.framebuffers):
            fb.color.release()
            fb.release()
        self.framebuffers.clear()
        if self.handle is not None:
            handle, self.handle = self.handle, None
            if call_runtime:
                try:
                    xr.destroy_swapchain(handle)
                except xr.exception.XrException:
                    pass
