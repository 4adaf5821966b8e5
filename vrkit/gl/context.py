"""The GL context: owns every GL object it creates, and the fixed-function state presets.

:class:`GLContext` is the platform-neutral part; :mod:`vrkit.gl.egl` (headless, EGL surfaceless)
and :mod:`vrkit.gl.window` (a glfw window) make the platform context. A context creates and owns
every buffer, texture, framebuffer, program and vertex array (:mod:`vrkit.gl.resources`);
``release()`` on an object or on the context is safe to call twice, and the context releases what
it owns in reverse creation order.

Dependencies point one way: ``resources`` <- ``context`` <- ``egl`` / ``window``; the process-wide
glvnd and PyOpenGL platform state lives in :mod:`vrkit.gl.platform`.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numpy.typing import ArrayLike, NDArray
from OpenGL import GL

from vrkit.core.errors import GLError
from vrkit.gl.resources import (
    Buffer,
    Framebuffer,
    GLResource,
    MultisampleFramebuffer,
    Program,
    Texture,
    TextureSampler,
    VertexArray,
)

_GL_ERRORS = {
    GL.GL_INVALID_ENUM: "GL_INVALID_ENUM",
    GL.GL_INVALID_VALUE: "GL_INVALID_VALUE",
    GL.GL_INVALID_OPERATION: "GL_INVALID_OPERATION",
    GL.GL_INVALID_FRAMEBUFFER_OPERATION: "GL_INVALID_FRAMEBUFFER_OPERATION",
    GL.GL_OUT_OF_MEMORY: "GL_OUT_OF_MEMORY",
}


class GLContext:
    """A current GL 3.3+ core context and the objects it owns.

    Subclasses create the platform context; this class holds the shared object factory.
    """

    kind = "gl"

    def __init__(self) -> None:
        self._owned: dict[int, GLResource] = {}
        self._empty_vao = 0
        self.released = False

    # --- ownership -------------------------------------------------------------------------
    def own(self, res: GLResource) -> None:
        """Register a new GL object (called by :class:`~vrkit.gl.resources.GLResource`).

        Raises:
            GLError: The context is released.
        """
        if self.released:
            raise GLError(
                f"cannot create {type(res).__name__}: the {self.kind} context is released"
            )
        self._owned[id(res)] = res

    def forget(self, res: GLResource) -> None:
        """Unregister a released GL object."""
        self._owned.pop(id(res), None)

    @property
    def live_objects(self) -> int:
        """Number of GL objects this context still owns."""
        return len(self._owned)

    def owned(self) -> list[GLResource]:
        """The GL objects this context still owns, oldest first."""
        return list(self._owned.values())

    # --- factory ---------------------------------------------------------------------------
    def buffer(
        self,
        data: ArrayLike,
        target: int = GL.GL_ARRAY_BUFFER,
        usage: int = GL.GL_STATIC_DRAW,
    ) -> Buffer:
        """Create a buffer object from a numpy array."""
        return Buffer(self, np.asarray(data), target, usage)

    def index_buffer(self, indices: ArrayLike) -> Buffer:
        """Create an element buffer of uint32 indices."""
        return Buffer(
            self, np.asarray(indices, np.uint32), GL.GL_ELEMENT_ARRAY_BUFFER, GL.GL_STATIC_DRAW
        )

    def texture(
        self,
        width: int,
        height: int,
        internal_format: int = GL.GL_RGBA8,
        data: NDArray[np.uint8] | None = None,
        filter: int = GL.GL_LINEAR,
    ) -> Texture:
        """Create a 2-D RGBA texture, optionally with an initial (H, W, 3|4) uint8 image."""
        return Texture(self, width, height, internal_format, data, filter)

    def framebuffer(
        self, width: int, height: int, depth: bool = True, internal_format: int = GL.GL_RGBA8
    ) -> Framebuffer:
        """Create a framebuffer with a colour texture and (optionally) a depth buffer."""
        return Framebuffer(self, width, height, depth, internal_format)

    def texture_sampler(self, filter: str = "nearest", wrap: str = "clamp") -> TextureSampler:
        """Create a sampler object (filtering and wrapping bound per texture unit)."""
        return TextureSampler(self, filter, wrap)

    def multisample_framebuffer(
        self,
        width: int,
        height: int,
        samples: int,
        color_format: int = GL.GL_SRGB8_ALPHA8,
        depth_format: int = GL.GL_DEPTH_COMPONENT24,
    ) -> MultisampleFramebuffer:
        """Create a multisampled framebuffer (colour and depth renderbuffers) to resolve later."""
        return MultisampleFramebuffer(self, width, height, samples, color_format, depth_format)

    @property
    def max_samples(self) -> int:
        """The most samples per pixel a multisampled framebuffer may have here (1: no MSAA)."""
        return max(1, int(GL.glGetIntegerv(GL.GL_MAX_SAMPLES)))

    def program(self, vert: str, frag: str, defines: dict[str, object] | None = None) -> Program:
        """Compile and link a program from two files in ``shaders/``.

        Raises:
            ShaderError: Naming the file and line of the first compile error.
        """
        return Program(self, vert, frag, defines)

    def vertex_array(
        self,
        program: Program,
        attributes: dict[str, tuple[Buffer, int, int, int]],
        index_buffer: Buffer | None,
        count: int,
        mode: int = GL.GL_TRIANGLES,
    ) -> VertexArray:
        """Create a vertex array; see :class:`VertexArray`."""
        return VertexArray(self, program, attributes, index_buffer, count, mode)

    # --- state -----------------------------------------------------------------------------
    def make_current(self) -> None:
        """Make this context current on the calling thread."""
        raise NotImplementedError

    def check_error(self, where: str) -> None:
        """Raise GLError if GL has recorded an error since the last check.

        Args:
            where: What was being done, for the message.
        """
        errors = []
        while (err := GL.glGetError()) != GL.GL_NO_ERROR:
            errors.append(_GL_ERRORS.get(err, hex(err)))
            if len(errors) > 16:
                break
        if errors:
            raise GLError(f"GL error during {where}: {', '.join(errors)}")

    def info(self) -> dict[str, str]:
        """Vendor, renderer and version strings of the current context."""
        return {
            "vendor": GL.glGetString(GL.GL_VENDOR).decode(),
            "renderer": GL.glGetString(GL.GL_RENDERER).decode(),
            "version": GL.glGetString(GL.GL_VERSION).decode(),
        }

    def bind_framebuffer(
        self, fbo: int, viewport: tuple[int, int, int, int], srgb: bool = False
    ) -> None:
        """Bind a framebuffer for drawing with a viewport ``(x, y, w, h)`` (bottom-left origin).

        Args:
            fbo: Framebuffer name (0 is the window's default framebuffer).
            viewport: Pixel rectangle to draw into.
            srgb: Encode to sRGB on write (for sRGB colour attachments).
        """
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glViewport(*viewport)
        (GL.glEnable if srgb else GL.glDisable)(GL.GL_FRAMEBUFFER_SRGB)

    def clear(self, color: tuple[float, float, float, float], depth: bool = True) -> None:
        """Clear the bound framebuffer's colour (and depth)."""
        GL.glClearColor(*color)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | (GL.GL_DEPTH_BUFFER_BIT if depth else 0))

    def set_state(self, depth_test: bool, blend: bool = False, cull: bool = False) -> None:
        """Set the fixed-function state vrkit's passes use."""
        (GL.glEnable if depth_test else GL.glDisable)(GL.GL_DEPTH_TEST)
        (GL.glEnable if blend else GL.glDisable)(GL.GL_BLEND)
        (GL.glEnable if cull else GL.glDisable)(GL.GL_CULL_FACE)
        if blend:
            GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glFrontFace(GL.GL_CCW)

    def set_culling(self, cull: bool, front_ccw: bool = True) -> None:
        """Cull back faces (or not); ``front_ccw`` False for a mirroring transform."""
        (GL.glEnable if cull else GL.glDisable)(GL.GL_CULL_FACE)
        GL.glFrontFace(GL.GL_CCW if front_ccw else GL.GL_CW)

    def set_blending(self, blend: bool) -> None:
        """Alpha blending over the target with depth writes off (True), or opaque (False)."""
        (GL.glEnable if blend else GL.glDisable)(GL.GL_BLEND)
        if blend:
            GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glDepthMask(GL.GL_FALSE if blend else GL.GL_TRUE)

    def set_color_write(self, enabled: bool) -> None:
        """Enable or disable writes to the colour buffer (depth-only passes disable them)."""
        GL.glColorMask(enabled, enabled, enabled, enabled)

    def draw_fullscreen_triangle(self) -> None:
        """Draw three vertices with no buffers (for shaders that use gl_VertexID)."""
        if not self._empty_vao:
            self._empty_vao = int(GL.glGenVertexArrays(1))
        GL.glBindVertexArray(self._empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindVertexArray(0)

    def fence(self) -> int:
        """Insert a fence after the commands issued so far; returns its handle."""
        return GL.glFenceSync(GL.GL_SYNC_GPU_COMMANDS_COMPLETE, 0)

    def wait_fence(self, fence: int, timeout_ns: int = 1_000_000_000) -> bool:
        """Block until a fence from :meth:`fence` signals, then delete it.

        Returns:
            True when the fence signalled within ``timeout_ns``.
        """
        status = GL.glClientWaitSync(
            fence, GL.GL_SYNC_FLUSH_COMMANDS_BIT, ctypes.c_uint64(timeout_ns)
        )
        GL.glDeleteSync(fence)
        return status in (GL.GL_ALREADY_SIGNALED, GL.GL_CONDITION_SATISFIED)

    def finish(self) -> None:
        """Block until the GPU has executed all submitted commands."""
        GL.glFinish()

    def release(self) -> None:
        """Release every owned object in reverse creation order, then the context itself."""
        if self.released:
            return
        try:
            self.make_current()
            for res in reversed(list(self._owned.values())):
                res.release()
            if self._empty_vao:
                GL.glDeleteVertexArrays(1, [self._empty_vao])
        finally:
            self._owned.clear()
            self.released = True
            self._destroy()

    def abandon(self) -> None:
        """Forget every owned object without calling GL, and mark the context released.

        For a context whose platform connection is gone (a lost X display), where GL calls
        could crash the driver; the process is about to end and the driver frees the rest.
        """
        for res in self.owned():
            res.glo = 0
        self._owned.clear()
        self.released = True

    def _destroy(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> GLContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
