"""Panel composition: both eye images drawn onto the panel through a baked mesh per eye.

An :class:`~vrkit.optics.mesh.EyeMesh` carries, per vertex, a position in the eye's viewport on
the panel (NDC) and one texture coordinate into the eye image per colour channel. Lens
pre-distortion and chromatic correction are baked into those coordinates on the CPU, in numpy
(:mod:`vrkit.optics.mesh`), so the shader only samples: three texture reads per fragment. The
identity mesh gives the undistorted, side-by-side panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.types import Fov
from vrkit.gl.context import GLContext
from vrkit.gl.resources import Framebuffer, Program, Texture, VertexArray
from vrkit.math.stereo import DEFAULT_IPD_M
from vrkit.optics.mesh import EyeMesh, identity_mesh


@dataclass
class PanelLayout:
    """Where each eye goes on the panel, where it sits in the head and what it sees.

    Attributes:
        panel_size: ``(width, height)`` of the whole panel in pixels.
        viewports: Per eye ``(x, y, w, h)`` in panel pixels, origin at the TOP-left.
        fovs: Per eye field of view the eye image is rendered with, in the eye's own frame.
        eye_sizes: Per eye render target size ``(width, height)`` in pixels.
        meshes: Per eye panel mesh (identity when there is no lens).
        distorted: True when the meshes carry a lens model's pre-distortion.
        ipd_m: Interpupillary distance the eyes are placed with, metres.
        cant_rad: Outward yaw of each eye's view (a canted headset's display and lens),
            radians; :func:`vrkit.math.stereo.eye_views` takes both.
    """

    panel_size: tuple[int, int]
    viewports: list[tuple[int, int, int, int]]
    fovs: list[Fov]
    eye_sizes: list[tuple[int, int]]
    meshes: list[EyeMesh]
    distorted: bool = False
    ipd_m: float = DEFAULT_IPD_M
    cant_rad: float = 0.0


DEFAULT_FOV = Fov.from_degrees(-45.0, 45.0, 50.0, -50.0)


def side_by_side_layout(
    eye_size: tuple[int, int], fov: Fov = DEFAULT_FOV, ipd_m: float = DEFAULT_IPD_M
) -> PanelLayout:
    """A panel made of two undistorted eye images side by side (no lens, no canting).

    Args:
        eye_size: ``(width, height)`` of each eye in pixels.
        fov: Field of view of each eye.
        ipd_m: Interpupillary distance, metres.
    """
    w, h = eye_size
    return PanelLayout(
        (2 * w, h),
        [(0, 0, w, h), (w, 0, w, h)],
        [fov, fov],
        [(w, h), (w, h)],
        [identity_mesh(), identity_mesh()],
        ipd_m=ipd_m,
    )


class PanelCompositor:
    """Draws eye images into a panel framebuffer (or the window) through per-eye meshes.

    Args:
        ctx: Owning GL context.
        layout: Panel size, eye viewports and meshes.
    """

    def __init__(self, ctx: GLContext, layout: PanelLayout) -> None:
        self.ctx = ctx
        # (achromatic, encode sRGB) -> program; see _program.
        self._programs: dict[tuple[bool, bool], Program] = {}
        self._achromatic = False
        # An undistorted eye image the size of its viewport is copied texel for texel: sampled
        # with a nearest-texel sampler, so no filtering (in linear light or not) touches it.
        self._exact = ctx.texture_sampler("nearest")
        self._identity: list[bool] = []
        self.framebuffer: Framebuffer = ctx.framebuffer(*layout.panel_size, depth=False)
        self._vaos: list[VertexArray] = []
        self._buffers: list = []
        self.layout = layout
        pw, ph = layout.panel_size
        covered = sum(w * h for _x, _y, w, h in layout.viewports)
        self._viewports_leave_gaps = covered < pw * ph
        self._needs_clear = True
        self.set_meshes(layout.meshes)

    def set_meshes(self, meshes: list[EyeMesh]) -> None:
        """Replace the per-eye meshes (e.g. to toggle distortion)."""
        self._release_meshes()
        for mesh in meshes:
            vbo = self.ctx.buffer(mesh.vertices)
            ibo = self.ctx.index_buffer(mesh.indices)
            stride = 8 * 4
            vao = self.ctx.vertex_array(
                self._program(False, False),
                {
                    "a_position": (vbo, 2, stride, 0),
                    "a_uv_red": (vbo, 2, stride, 8),
                    "a_uv_green": (vbo, 2, stride, 16),
                    "a_uv_blue": (vbo, 2, stride, 24),
                },
                ibo,
                len(mesh.indices),
            )
            self._buffers += [vbo, ibo]
            self._vaos.append(vao)
        self.layout.meshes = list(meshes)
        self._achromatic = all(m.achromatic for m in meshes)
        self._identity = [
            m.achromatic and np.array_equal(m.vertices[:, 2:4], (m.vertices[:, :2] + 1) / 2)
            for m in meshes
        ]
        self.program = self._program(self._achromatic, False)
        self._program(self._achromatic, True)  # both encodings ready before the first frame
        # Clear only when something would otherwise keep the previous frame's pixels: the eye
        # viewports leave part of the panel uncovered, or a mesh skips its black cells.
        self._needs_clear = self._viewports_leave_gaps or not all(m.covers_viewport for m in meshes)

    def _program(self, achromatic: bool, encode_srgb: bool) -> Program:
        key = (achromatic, encode_srgb)
        if key not in self._programs:
            defines = {"ACHROMATIC": achromatic, "ENCODE_SRGB": encode_srgb}
            self._programs[key] = self.ctx.program(
                "panel.vert", "panel.frag", {k: True for k, v in defines.items() if v}
            )
        return self._programs[key]

    def compose(self, eye_images: list[Texture], fbo: int | None = None) -> None:
        """Draw the eye images onto the panel.

        Eye images in an sRGB format (vrkit's eye targets) are decoded when sampled, so the
        lens resampling filters linear light, and the result is sRGB-encoded as the pass's
        last step; other images (``GL_RGBA8``) pass through as they are. Either way the panel
        holds display bytes.

        Args:
            eye_images: One colour texture per eye.
            fbo: Draw into this framebuffer (e.g. 0, a window's back buffer, whose size must
                be the panel size) instead of the compositor's own panel framebuffer.
        """
        pw, ph = self.layout.panel_size
        target = self.framebuffer.fbo if fbo is None else fbo
        if self._needs_clear:
            self.ctx.bind_framebuffer(target, (0, 0, pw, ph))
            self.ctx.clear((0.0, 0.0, 0.0, 1.0), depth=False)
        self.ctx.set_state(depth_test=False)
        self.program = self._program(self._achromatic, all(t.srgb for t in eye_images))
        self.program.use()
        self.program.set_int("u_eye", 0)
        for (x, y, w, h), vao, tex, identity in zip(
            self.layout.viewports, self._vaos, eye_images, self._identity, strict=True
        ):
            self.ctx.bind_framebuffer(target, (x, ph - y - h, w, h))
            tex.bind(0)
            if identity and (tex.width, tex.height) == (w, h):
                self._exact.bind(0)
            vao.draw()
            self._exact.unbind(0)

    def read_panel(self) -> NDArray[np.uint8]:
        """The composed panel as (H, W, 4) uint8, top row first."""
        return self.framebuffer.read_rgba()

    def _release_meshes(self) -> None:
        for obj in [*self._vaos, *self._buffers]:
            obj.release()
        self._vaos, self._buffers = [], []

    def release(self) -> None:
        """Release GPU objects; safe to call twice."""
        self._release_meshes()
        self._exact.release()
        self.framebuffer.release()
        for program in self._programs.values():
            program.release()
