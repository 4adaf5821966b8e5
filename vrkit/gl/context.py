"""GL contexts and the objects they own.

One place creates contexts: :func:`create_headless_context` (EGL, surfaceless Mesa; no display
needed) and :func:`create_window_context` (a glfw window; works under Xvfb). A context creates and
owns every buffer, texture, framebuffer, program and vertex array; ``release()`` on an object or on
the context is safe to call twice, and the context releases what it owns in reverse creation order.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from OpenGL import GL

from vrkit.core.errors import BackendUnavailableError, GLError, ShaderError
from vrkit.gl.shaders import format_log, load_source

log = logging.getLogger(__name__)

TRIANGLES = GL.GL_TRIANGLES
LINES = GL.GL_LINES

_GL_ERRORS = {
    GL.GL_INVALID_ENUM: "GL_INVALID_ENUM",
    GL.GL_INVALID_VALUE: "GL_INVALID_VALUE",
    GL.GL_INVALID_OPERATION: "GL_INVALID_OPERATION",
    GL.GL_INVALID_FRAMEBUFFER_OPERATION: "GL_INVALID_FRAMEBUFFER_OPERATION",
    GL.GL_OUT_OF_MEMORY: "GL_OUT_OF_MEMORY",
}


class GLResource:
    """Base of GL objects owned by a :class:`GLContext`.

    Attributes:
        glo: The GL object name, or 0 once released.
    """

    def __init__(self, ctx: GLContext, glo: int) -> None:
        self.ctx = ctx
        self.glo = int(glo)
        ctx._own(self)

    @property
    def released(self) -> bool:
        """True once :meth:`release` has run."""
        return self.glo == 0

    def release(self) -> None:
        """Delete the GL object; safe to call twice and after the context is gone."""
        if self.glo == 0:
            return
        if not self.ctx.released:
            self._delete()
        self.glo = 0
        self.ctx._forget(self)

    def _delete(self) -> None:
        raise NotImplementedError

    def _require(self) -> int:
        if self.glo == 0:
            raise GLError(f"{type(self).__name__} used after release()")
        return self.glo


class Buffer(GLResource):
    """A GL buffer object holding a numpy array's bytes."""

    def __init__(self, ctx: GLContext, data: NDArray[Any], target: int, usage: int) -> None:
        super().__init__(ctx, GL.glGenBuffers(1))
        self.target = target
        self.usage = usage
        self.nbytes = 0
        self.write(data)

    def write(self, data: NDArray[Any]) -> None:
        """Replace the buffer's contents with ``data`` (any contiguous numpy array)."""
        data = np.ascontiguousarray(data)
        GL.glBindBuffer(self.target, self._require())
        if data.nbytes == self.nbytes:
            GL.glBufferSubData(self.target, 0, data.nbytes, data)
        else:
            GL.glBufferData(self.target, data.nbytes, data, self.usage)
            self.nbytes = data.nbytes
        GL.glBindBuffer(self.target, 0)

    def _delete(self) -> None:
        GL.glDeleteBuffers(1, [self.glo])


class Texture(GLResource):
    """A 2-D texture.

    Attributes:
        width: Pixels.
        height: Pixels.
        internal_format: GL internal format (e.g. ``GL_RGBA8``, ``GL_SRGB8_ALPHA8``).
    """

    def __init__(
        self,
        ctx: GLContext,
        width: int,
        height: int,
        internal_format: int = GL.GL_RGBA8,
        data: NDArray[np.uint8] | None = None,
        filter: int = GL.GL_LINEAR,
        wrap: int = GL.GL_CLAMP_TO_EDGE,
    ) -> None:
        super().__init__(ctx, GL.glGenTextures(1))
        self.width, self.height, self.internal_format = int(width), int(height), internal_format
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.glo)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, filter)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, filter)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, wrap)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, wrap)
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D, 0, internal_format, self.width, self.height, 0,
            GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, None,
        )  # fmt: skip
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        if data is not None:
            self.write(data)

    def write(self, rgba: NDArray[np.uint8]) -> None:
        """Upload an image (H, W, 4) or (H, W, 3) uint8, top row first."""
        img = np.asarray(rgba)
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4):
            raise ValueError(f"texture data must be (H, W, 3|4) uint8, got {img.dtype} {img.shape}")
        if img.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"texture is {self.width}x{self.height}, image is {img.shape[1]}x{img.shape[0]}"
            )
        fmt = GL.GL_RGBA if img.shape[2] == 4 else GL.GL_RGB
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._require())
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexSubImage2D(
            GL.GL_TEXTURE_2D, 0, 0, 0, self.width, self.height, fmt, GL.GL_UNSIGNED_BYTE,
            np.ascontiguousarray(img[::-1]),
        )  # fmt: skip
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)

    def bind(self, unit: int = 0) -> None:
        """Bind to texture unit ``unit``."""
        GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._require())

    def generate_mipmaps(self) -> None:
        """Build mipmaps and switch minification to trilinear."""
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._require())
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR_MIPMAP_LINEAR)
        GL.glGenerateMipmap(GL.GL_TEXTURE_2D)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)

    def _delete(self) -> None:
        GL.glDeleteTextures(1, [self.glo])


#: Depth texture formats that carry stencil too (attached as GL_DEPTH_STENCIL_ATTACHMENT).
_DEPTH_STENCIL_FORMATS = frozenset({GL.GL_DEPTH24_STENCIL8, GL.GL_DEPTH32F_STENCIL8})


class Framebuffer(GLResource):
    """A framebuffer with one colour texture and an optional depth buffer.

    The depth buffer is a renderbuffer vrkit owns (``depth=True``) or a depth texture the caller
    owns (``depth_texture``, e.g. an OpenXR depth swapchain image), which wins over ``depth``.

    Attributes:
        color: The colour attachment; sample it in later passes.
        depth_texture: The depth texture attachment, or None.
        width: Pixels.
        height: Pixels.
    """

    def __init__(
        self,
        ctx: GLContext,
        width: int,
        height: int,
        depth: bool = True,
        internal_format: int = GL.GL_RGBA8,
        color: Texture | None = None,
        depth_texture: Texture | None = None,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"framebuffer size must be positive, got {width}x{height}")
        super().__init__(ctx, GL.glGenFramebuffers(1))
        self.width, self.height = int(width), int(height)
        self._owns_color = color is None
        self.color = color or Texture(ctx, width, height, internal_format)
        self._depth_rb = 0
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.glo)
        GL.glFramebufferTexture2D(
            GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, self.color.glo, 0
        )
        self.depth_texture = depth_texture
        if depth_texture is not None:
            point = (
                GL.GL_DEPTH_STENCIL_ATTACHMENT
                if depth_texture.internal_format in _DEPTH_STENCIL_FORMATS
                else GL.GL_DEPTH_ATTACHMENT
            )
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER, point, GL.GL_TEXTURE_2D, depth_texture.glo, 0
            )
        elif depth:
            self._depth_rb = int(GL.glGenRenderbuffers(1))
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self._depth_rb)
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, width, height)
            GL.glFramebufferRenderbuffer(
                GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, self._depth_rb
            )
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            self.release()
            raise GLError(f"framebuffer {width}x{height} incomplete: status 0x{status:x}")

    @property
    def fbo(self) -> int:
        """The GL framebuffer name."""
        return self._require()

    def bind(self) -> None:
        """Bind for drawing and set the viewport to the whole framebuffer."""
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._require())
        GL.glViewport(0, 0, self.width, self.height)

    def read_rgba(self) -> NDArray[np.uint8]:
        """Read the colour attachment back as (H, W, 4) uint8, top row first."""
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._require())
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, self.width, self.height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
        img = np.frombuffer(raw, dtype=np.uint8).reshape(self.height, self.width, 4)
        return img[::-1].copy()

    def read_depth(self) -> NDArray[np.float32]:
        """Read the depth attachment back as (H, W) float32 window depth in [0, 1], top row first.

        With vrkit's projections (:func:`vrkit.math.projection.projection_from_fov`) depth 0 is
        the near plane and 1 the far plane.
        """
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._require())
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(
            0, 0, self.width, self.height, GL.GL_DEPTH_COMPONENT, GL.GL_FLOAT
        )  # fmt: skip
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
        depth = np.frombuffer(raw, dtype=np.float32).reshape(self.height, self.width)
        return depth[::-1].copy()

    def _delete(self) -> None:
        GL.glDeleteFramebuffers(1, [self.glo])
        if self._depth_rb:
            GL.glDeleteRenderbuffers(1, [self._depth_rb])
        if self._owns_color:
            self.color.release()


class Program(GLResource):
    """A linked shader program with cached uniform locations.

    Attributes:
        name: ``"vert+frag"`` file names, for messages.
        uniforms: Uniform name to location.
        attributes: Attribute name to location.
    """

    def __init__(
        self, ctx: GLContext, vert: str, frag: str, defines: dict[str, object] | None = None
    ) -> None:
        shaders = [
            _compile(GL.GL_VERTEX_SHADER, vert, defines),
            _compile(GL.GL_FRAGMENT_SHADER, frag, defines),
        ]
        prog = GL.glCreateProgram()
        for s in shaders:
            GL.glAttachShader(prog, s)
        GL.glLinkProgram(prog)
        for s in shaders:
            GL.glDetachShader(prog, s)
            GL.glDeleteShader(s)
        if not GL.glGetProgramiv(prog, GL.GL_LINK_STATUS):
            msg = GL.glGetProgramInfoLog(prog).decode(errors="replace").strip()
            GL.glDeleteProgram(prog)
            raise ShaderError(f"linking {vert} + {frag} failed: {msg}")
        super().__init__(ctx, prog)
        self.name = f"{vert}+{frag}"
        self.uniforms: dict[str, int] = {}
        for i in range(GL.glGetProgramiv(prog, GL.GL_ACTIVE_UNIFORMS)):
            uname, _size, _type = GL.glGetActiveUniform(prog, i)
            uname = uname.decode() if isinstance(uname, bytes) else uname
            self.uniforms[uname.removesuffix("[0]")] = GL.glGetUniformLocation(prog, uname)
        self.attributes: dict[str, int] = {}
        for i in range(GL.glGetProgramiv(prog, GL.GL_ACTIVE_ATTRIBUTES)):
            aname, _size, _type = _active_attrib(prog, i)
            self.attributes[aname] = GL.glGetAttribLocation(prog, aname)

    def use(self) -> None:
        """Make this the current program."""
        GL.glUseProgram(self._require())

    def location(self, name: str) -> int:
        """Location of a uniform, or -1 when the compiler removed it as unused."""
        return self.uniforms.get(name, -1)

    # Uniform setters act on the current program (call use() first). Matrices are row-major
    # numpy arrays, as everywhere in vrkit; GL receives them transposed.
    def set_mat4(self, name: str, m: NDArray[Any]) -> None:
        """Set a mat4 uniform from a (4, 4) row-major array."""
        GL.glUniformMatrix4fv(self.uniforms.get(name, -1), 1, GL.GL_TRUE, np.asarray(m, np.float32))

    def set_mat3(self, name: str, m: NDArray[Any]) -> None:
        """Set a mat3 uniform from a (3, 3) row-major array."""
        GL.glUniformMatrix3fv(self.uniforms.get(name, -1), 1, GL.GL_TRUE, np.asarray(m, np.float32))

    def set_vec(self, name: str, *values: float) -> None:
        """Set a float, vec2, vec3 or vec4 uniform from 1 to 4 numbers."""
        setter = (GL.glUniform1f, GL.glUniform2f, GL.glUniform3f, GL.glUniform4f)[len(values) - 1]
        setter(self.uniforms.get(name, -1), *(float(v) for v in values))

    def set_int(self, name: str, value: int) -> None:
        """Set an int, bool or sampler uniform."""
        GL.glUniform1i(self.uniforms.get(name, -1), int(value))

    def _delete(self) -> None:
        GL.glDeleteProgram(self.glo)


def _active_attrib(prog: int, index: int) -> tuple[str, int, int]:
    name = (ctypes.c_char * 256)()
    length, size, typ = GL.GLsizei(), GL.GLint(), GL.GLenum()
    GL.glGetActiveAttrib(prog, index, 256, length, size, typ, name)
    return name.value.decode(), size.value, typ.value


def _compile(kind: int, filename: str, defines: dict[str, object] | None) -> int:
    source, path = load_source(filename, defines)
    shader = GL.glCreateShader(kind)
    GL.glShaderSource(shader, source)
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log_text = GL.glGetShaderInfoLog(shader).decode(errors="replace")
        GL.glDeleteShader(shader)
        raise ShaderError(f"compiling {path.name} failed:\n{format_log(log_text, path)}")
    return shader


class VertexArray(GLResource):
    """A vertex array object binding buffers to a program's attributes.

    Args:
        ctx: Owning context.
        program: The program whose attribute locations are used.
        attributes: Attribute name to ``(buffer, components, stride_bytes, offset_bytes)``;
            attributes the program does not use are skipped.
        index_buffer: Element buffer of uint32 indices, or None for ``glDrawArrays``.
        count: Number of indices (or vertices) to draw.
        mode: Primitive, e.g. ``GL_TRIANGLES`` or ``GL_LINES``.
    """

    def __init__(
        self,
        ctx: GLContext,
        program: Program,
        attributes: dict[str, tuple[Buffer, int, int, int]],
        index_buffer: Buffer | None,
        count: int,
        mode: int = GL.GL_TRIANGLES,
    ) -> None:
        super().__init__(ctx, GL.glGenVertexArrays(1))
        self.count, self.mode, self.indexed = int(count), mode, index_buffer is not None
        GL.glBindVertexArray(self.glo)
        for name, (buf, ncomp, stride, offset) in attributes.items():
            loc = program.attributes.get(name, -1)
            if loc < 0:
                continue
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buf._require())
            GL.glEnableVertexAttribArray(loc)
            GL.glVertexAttribPointer(
                loc, ncomp, GL.GL_FLOAT, GL.GL_FALSE, stride, ctypes.c_void_p(offset)
            )
        if index_buffer is not None:
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, index_buffer._require())
        GL.glBindVertexArray(0)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)

    def draw(self) -> None:
        """Draw all primitives with the current program."""
        GL.glBindVertexArray(self._require())
        if self.indexed:
            GL.glDrawElements(self.mode, self.count, GL.GL_UNSIGNED_INT, None)
        else:
            GL.glDrawArrays(self.mode, 0, self.count)
        GL.glBindVertexArray(0)

    def _delete(self) -> None:
        GL.glDeleteVertexArrays(1, [self.glo])


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
    def _own(self, res: GLResource) -> None:
        if self.released:
            raise GLError(
                f"cannot create {type(res).__name__}: the {self.kind} context is released"
            )
        self._owned[id(res)] = res

    def _forget(self, res: GLResource) -> None:
        self._owned.pop(id(res), None)

    @property
    def live_objects(self) -> int:
        """Number of GL objects this context still owns."""
        return len(self._owned)

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

    def _destroy(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> GLContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


#: True once a GLX context exists in this process (a ``context_api="native"`` window).
_glx_contexts = {"used": False}
_libs: dict[str, Any] = {}


def glvnd_lib(api: str) -> Any:
    """Load libEGL or libGLX (glvnd) once, with its current-context getters typed.

    Args:
        api: ``"egl"`` or ``"glx"``.

    Returns:
        The ``ctypes.CDLL``, shared by every caller in the process.
    """
    if api not in _libs:
        soname, prefix = {"egl": ("libEGL.so.1", "egl"), "glx": ("libGLX.so.0", "glX")}[api]
        lib = ctypes.CDLL(soname)
        for fn in ("GetCurrentContext", "GetCurrentDisplay"):
            getattr(lib, prefix + fn).restype = ctypes.c_void_p
        _libs[api] = lib
    return _libs[api]


def leave_other_api(api: str) -> None:
    """Release this thread's current context of the other API before one of ``api`` is made current.

    libglvnd keeps one current context per thread across EGL and GLX: ``glXMakeCurrent`` while an
    EGL context is current fails with BadAccess (an X error, which Xlib's default handler turns
    into process exit) and ``eglMakeCurrent`` while a GLX one is current fails with
    EGL_BAD_ACCESS. Making a context current replaces the previous one anyway; this keeps that
    meaning across the two APIs. Costs one ctypes call when nothing is to be released.

    Args:
        api: ``"egl"`` or ``"glx"``, the API about to be made current.
    """
    if api == "glx":
        _glx_contexts["used"] = True
        egl = glvnd_lib("egl")
        if egl.eglGetCurrentContext():
            egl.eglMakeCurrent(ctypes.c_void_p(egl.eglGetCurrentDisplay()), None, None, None)
    elif _glx_contexts["used"]:
        glx = glvnd_lib("glx")
        if glx.glXGetCurrentContext():
            glx.glXMakeCurrent(ctypes.c_void_p(glx.glXGetCurrentDisplay()), ctypes.c_ulong(0),
                               None)  # fmt: skip


EGL_PLATFORM_SURFACELESS_MESA = 0x31DD


class EGLContext(GLContext):
    """A headless OpenGL 3.3 core context on EGL's surfaceless platform (Mesa).

    Attributes:
        display: The EGLDisplay.
        context: The EGLContext.
    """

    kind = "egl"

    def __init__(self, major: int = 3, minor: int = 3) -> None:
        super().__init__()
        from OpenGL import EGL  # imported here: EGL needs PYOPENGL_PLATFORM=egl

        self._egl = EGL
        try:
            get_platform_display = EGL.eglGetPlatformDisplayEXT
            self.display = get_platform_display(
                EGL_PLATFORM_SURFACELESS_MESA, EGL.EGL_DEFAULT_DISPLAY, None
            )
        except Exception:  # no EGL_EXT_platform_base: use the default display
            self.display = EGL.EGL_NO_DISPLAY
        if not self.display:
            self.display = EGL.eglGetDisplay(EGL.EGL_DEFAULT_DISPLAY)
        major_v, minor_v = EGL.EGLint(), EGL.EGLint()
        if not self.display or not EGL.eglInitialize(
            self.display, ctypes.pointer(major_v), ctypes.pointer(minor_v)
        ):
            raise BackendUnavailableError(
                "EGL could not be initialised",
                "install Mesa's EGL (apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)",
            )
        attribs = (EGL.EGLint * 5)(
            EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_RENDERABLE_TYPE,
            EGL.EGL_OPENGL_BIT, EGL.EGL_NONE,
        )  # fmt: skip
        config, count = EGL.EGLConfig(), EGL.EGLint()
        if (
            not EGL.eglChooseConfig(
                self.display, attribs, ctypes.pointer(config), 1, ctypes.pointer(count)
            )
            or count.value < 1
        ):
            raise BackendUnavailableError("EGL has no OpenGL-capable config")
        self.config = config
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        ctx_attribs = (EGL.EGLint * 7)(
            EGL.EGL_CONTEXT_MAJOR_VERSION, major, EGL.EGL_CONTEXT_MINOR_VERSION, minor,
            EGL.EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
            EGL.EGL_NONE,
        )  # fmt: skip
        self.context = EGL.eglCreateContext(self.display, config, EGL.EGL_NO_CONTEXT, ctx_attribs)
        if not self.context:
            raise BackendUnavailableError(f"EGL could not create an OpenGL {major}.{minor} context")
        self.make_current()
        # A default VAO-less state is invalid in core profile for some draws; keep one bound.
        log.debug("EGL context: %s", self.info())

    def make_current(self) -> None:
        """Make the context current with no surface (surfaceless)."""
        leave_other_api("egl")
        EGL = self._egl
        if not EGL.eglMakeCurrent(
            self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, self.context
        ):
            raise GLError("eglMakeCurrent failed")

    def _destroy(self) -> None:
        EGL = self._egl
        EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
        EGL.eglDestroyContext(self.display, self.context)
        # The display stays initialised: Mesa shares it per process and other contexts may use it.


def create_headless_context(major: int = 3, minor: int = 3) -> EGLContext:
    """Create a headless OpenGL core context (EGL surfaceless; no display needed).

    Raises:
        BackendUnavailableError: EGL or an OpenGL context is not available here.
    """
    return EGLContext(major, minor)


def create_window_context(
    width: int,
    height: int,
    title: str = "vrkit",
    visible: bool = True,
    monitor: str | int | None = None,
    vsync: bool = True,
    resizable: bool = True,
    context_api: str = "egl",
) -> GLContext:
    """Create a glfw window with an OpenGL 3.3 core context (works under Xvfb).

    Args:
        width: Window width in pixels (ignored for full screen, which uses the monitor's mode).
        height: Window height in pixels.
        title: Window title.
        visible: Show the window.
        monitor: Full screen on this monitor (name or index), or None for a window.
        vsync: Swap interval 1 (wait for vertical blank) or 0.
        resizable: Let the user resize the window.
        context_api: ``"egl"`` (the context is made through EGL, also on X11) or ``"native"``
            (the platform's own API: GLX on X11), e.g. for an OpenXR runtime that binds GLX.

    Raises:
        BackendUnavailableError: No display, or the monitor does not exist.
        InputError: ``context_api`` is neither ``"egl"`` nor ``"native"``.
    """
    from vrkit.gl.window import WindowContext

    return WindowContext(width, height, title, visible, monitor, vsync, resizable, context_api)
