"""GL objects: buffers, textures, framebuffers, programs and vertex arrays.

Each object is created by, and registered with, the context that owns it (anything with the
small :class:`ResourceOwner` interface: :class:`vrkit.gl.context.GLContext`). ``release()`` is safe
to call twice and after the context is gone; the context releases what is left in reverse
creation order. This module does not know the context class, so the dependency points one way:
``context`` -> ``resources``.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from OpenGL import GL

from vrkit.core.errors import GLError, ShaderError
from vrkit.gl.shaders import format_log, load_source

log = logging.getLogger(__name__)

TRIANGLES = GL.GL_TRIANGLES
LINES = GL.GL_LINES
#: Colour formats whose texels are sRGB-encoded: sampling decodes them to linear, and drawing
#: with GL_FRAMEBUFFER_SRGB enabled encodes linear output into them.
SRGB_FORMATS = frozenset({GL.GL_SRGB8_ALPHA8, GL.GL_SRGB8})
SRGB8_ALPHA8 = GL.GL_SRGB8_ALPHA8
RGBA8 = GL.GL_RGBA8
DEPTH24 = GL.GL_DEPTH_COMPONENT24
#: Texture wrap modes and filters by name (the names of :class:`vrkit.render.scene.Sampler`).
WRAP_MODES = {
    "repeat": GL.GL_REPEAT,
    "clamp": GL.GL_CLAMP_TO_EDGE,
    "mirror": GL.GL_MIRRORED_REPEAT,
}
FILTERS = {
    "nearest": GL.GL_NEAREST,
    "linear": GL.GL_LINEAR,
    "nearest_mipmap_nearest": GL.GL_NEAREST_MIPMAP_NEAREST,
    "linear_mipmap_nearest": GL.GL_LINEAR_MIPMAP_NEAREST,
    "nearest_mipmap_linear": GL.GL_NEAREST_MIPMAP_LINEAR,
    "linear_mipmap_linear": GL.GL_LINEAR_MIPMAP_LINEAR,
}


class ResourceOwner(Protocol):
    """What a GL object needs of the context that creates it.

    Attributes:
        released: True once the context is gone (objects then only forget their names).
    """

    released: bool

    def own(self, res: GLResource) -> None:
        """Register a new object (raise when the context is released)."""
        ...

    def forget(self, res: GLResource) -> None:
        """Unregister a released object."""
        ...


class GLResource:
    """Base of GL objects owned by a :class:`GLContext`.

    Attributes:
        glo: The GL object name, or 0 once released.
    """

    def __init__(self, ctx: ResourceOwner, glo: int) -> None:
        self.ctx = ctx
        self.glo = int(glo)
        ctx.own(self)

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
        self.ctx.forget(self)

    def _delete(self) -> None:
        raise NotImplementedError

    def _require(self) -> int:
        if self.glo == 0:
            raise GLError(f"{type(self).__name__} used after release()")
        return self.glo


class Buffer(GLResource):
    """A GL buffer object holding a numpy array's bytes."""

    def __init__(self, ctx: ResourceOwner, data: NDArray[Any], target: int, usage: int) -> None:
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


_DEPTH_STENCIL_FORMATS = frozenset({GL.GL_DEPTH24_STENCIL8, GL.GL_DEPTH32F_STENCIL8})
#: Internal formats of depth textures vrkit creates (pixel data GL_DEPTH_COMPONENT, float).
_DEPTH_FORMATS = frozenset(
    {GL.GL_DEPTH_COMPONENT16, GL.GL_DEPTH_COMPONENT24, GL.GL_DEPTH_COMPONENT32F}
)


class Texture(GLResource):
    """A 2-D texture.

    Attributes:
        width: Pixels.
        height: Pixels.
        internal_format: GL internal format (e.g. ``GL_RGBA8``, ``GL_SRGB8_ALPHA8``).
    """

    def __init__(
        self,
        ctx: ResourceOwner,
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
        # A depth format (a depth texture to attach and sample) takes depth pixel data.
        depth = internal_format in _DEPTH_FORMATS
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D, 0, internal_format, self.width, self.height, 0,
            GL.GL_DEPTH_COMPONENT if depth else GL.GL_RGBA,
            GL.GL_FLOAT if depth else GL.GL_UNSIGNED_BYTE, None,
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

    def set_sampling(
        self,
        wrap_s: str = "clamp",
        wrap_t: str = "clamp",
        mag_filter: str = "linear",
        min_filter: str = "linear_mipmap_linear",
    ) -> None:
        """Set wrapping and filtering by name (keys of WRAP_MODES and FILTERS).

        A mipmapped minification filter builds the mipmaps from the current image.

        Raises:
            ValueError: A name is unknown.
        """
        for value, table in ((wrap_s, WRAP_MODES), (wrap_t, WRAP_MODES),
                             (mag_filter, FILTERS), (min_filter, FILTERS)):  # fmt: skip
            if value not in table:
                raise ValueError(
                    f"unknown texture sampling {value!r}; expected one of {list(table)}"
                )
        if mag_filter not in ("nearest", "linear"):
            raise ValueError(f"magnification filter must be nearest or linear, got {mag_filter!r}")
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._require())
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, WRAP_MODES[wrap_s])
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, WRAP_MODES[wrap_t])
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, FILTERS[mag_filter])
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, FILTERS[min_filter])
        if "mipmap" in min_filter:
            GL.glGenerateMipmap(GL.GL_TEXTURE_2D)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)

    @property
    def srgb(self) -> bool:
        """True when the texels are sRGB-encoded (sampling returns linear values)."""
        return self.internal_format in SRGB_FORMATS

    @property
    def nbytes(self) -> int:
        """GPU memory of the base level, bytes (4 per texel; mipmaps add about a third)."""
        return 4 * self.width * self.height

    def _delete(self) -> None:
        GL.glDeleteTextures(1, [self.glo])


class TextureSampler(GLResource):
    """A GL sampler object: filtering and wrapping that override a texture's own while bound.

    Args:
        ctx: Owning context.
        filter: ``"nearest"`` or ``"linear"`` for both minification and magnification.
        wrap: A key of WRAP_MODES for both axes.
    """

    def __init__(self, ctx: ResourceOwner, filter: str = "nearest", wrap: str = "clamp") -> None:
        if filter not in ("nearest", "linear") or wrap not in WRAP_MODES:
            raise ValueError(f"sampler filter/wrap must be nearest|linear / a wrap mode, got "
                             f"{filter!r}/{wrap!r}")  # fmt: skip
        super().__init__(ctx, GL.glGenSamplers(1))
        for pname in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
            GL.glSamplerParameteri(self.glo, pname, FILTERS[filter])
        for pname in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
            GL.glSamplerParameteri(self.glo, pname, WRAP_MODES[wrap])

    def bind(self, unit: int = 0) -> None:
        """Use this sampler for texture unit ``unit``."""
        GL.glBindSampler(unit, self._require())

    @staticmethod
    def unbind(unit: int = 0) -> None:
        """Let texture unit ``unit`` use its texture's own sampling again."""
        GL.glBindSampler(unit, 0)

    def _delete(self) -> None:
        GL.glDeleteSamplers(1, [self.glo])


#: Depth texture formats that carry stencil too (attached as GL_DEPTH_STENCIL_ATTACHMENT).


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
        ctx: ResourceOwner,
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


class MultisampleFramebuffer(GLResource):
    """A multisampled framebuffer: colour and depth renderbuffers, resolved into another one.

    Draw into it like any framebuffer, then :meth:`resolve` averages each pixel's samples into
    a single-sampled framebuffer (a texture the next pass samples, or a runtime's swapchain
    image). With an sRGB colour format and ``srgb=True`` the samples are averaged in linear
    light (GL_FRAMEBUFFER_SRGB during the blit).

    Attributes:
        samples: Samples per pixel the GL gave (at least the number asked for).
        width: Pixels.
        height: Pixels.
        color_format: GL internal format of the colour renderbuffer.
        depth_format: GL internal format of the depth renderbuffer, or 0 (none).
    """

    def __init__(
        self,
        ctx: ResourceOwner,
        width: int,
        height: int,
        samples: int,
        color_format: int = GL.GL_SRGB8_ALPHA8,
        depth_format: int = GL.GL_DEPTH_COMPONENT24,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"framebuffer size must be positive, got {width}x{height}")
        if samples < 2:
            raise ValueError(f"a multisampled framebuffer needs 2 or more samples, got {samples}")
        super().__init__(ctx, GL.glGenFramebuffers(1))
        self.width, self.height = int(width), int(height)
        self.color_format, self.depth_format = color_format, depth_format
        self._color_rb = int(GL.glGenRenderbuffers(1))
        self._depth_rb = 0
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.glo)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self._color_rb)
        GL.glRenderbufferStorageMultisample(
            GL.GL_RENDERBUFFER, samples, color_format, self.width, self.height
        )
        GL.glFramebufferRenderbuffer(
            GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, self._color_rb
        )
        self.samples = int(
            GL.glGetRenderbufferParameteriv(GL.GL_RENDERBUFFER, GL.GL_RENDERBUFFER_SAMPLES)
        )
        if depth_format:
            self._depth_rb = int(GL.glGenRenderbuffers(1))
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self._depth_rb)
            GL.glRenderbufferStorageMultisample(
                GL.GL_RENDERBUFFER, samples, depth_format, self.width, self.height
            )
            point = (
                GL.GL_DEPTH_STENCIL_ATTACHMENT
                if depth_format in _DEPTH_STENCIL_FORMATS
                else GL.GL_DEPTH_ATTACHMENT
            )
            GL.glFramebufferRenderbuffer(
                GL.GL_FRAMEBUFFER, point, GL.GL_RENDERBUFFER, self._depth_rb
            )
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, 0)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            self.release()
            raise GLError(
                f"multisampled framebuffer {width}x{height}, {samples} samples incomplete: "
                f"status 0x{status:x}"
            )

    @property
    def fbo(self) -> int:
        """The GL framebuffer name."""
        return self._require()

    def resolve(
        self,
        dst_fbo: int,
        srgb: bool,
        depth: bool = False,
        dst_origin: tuple[int, int] = (0, 0),
    ) -> None:
        """Average the samples into ``dst_fbo``, colour and optionally depth.

        Args:
            dst_fbo: Single-sampled framebuffer to write.
            srgb: Average in linear light (sRGB colour formats on both sides).
            depth: Also copy depth (one sample per pixel; formats must match exactly).
            dst_origin: Bottom-left pixel of the same-sized rectangle written in ``dst_fbo``.
        """
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._require())
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, dst_fbo)
        (GL.glEnable if srgb else GL.glDisable)(GL.GL_FRAMEBUFFER_SRGB)
        w, h = self.width, self.height
        x, y = dst_origin
        GL.glBlitFramebuffer(0, 0, w, h, x, y, x + w, y + h, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
        if depth and self._depth_rb:
            GL.glBlitFramebuffer(
                0, 0, w, h, x, y, x + w, y + h, GL.GL_DEPTH_BUFFER_BIT, GL.GL_NEAREST
            )  # fmt: skip
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, 0)

    def _delete(self) -> None:
        GL.glDeleteFramebuffers(1, [self.glo])
        for rb in (self._depth_rb, self._color_rb):
            if rb:
                GL.glDeleteRenderbuffers(1, [rb])


class Program(GLResource):
    """A linked shader program with cached uniform locations.

    Attributes:
        name: ``"vert+frag"`` file names, for messages.
        uniforms: Uniform name to location.
        attributes: Attribute name to location.
    """

    def __init__(
        self, ctx: ResourceOwner, vert: str, frag: str, defines: dict[str, object] | None = None
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
        ctx: ResourceOwner,
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
