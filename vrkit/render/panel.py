"""Panel composition: both eye images drawn onto the panel through a baked mesh per eye.

An :class:`EyeMesh` carries, per vertex, a position in the eye's viewport on the panel (NDC) and
one texture coordinate into the eye image per colour channel. Lens pre-distortion and chromatic
correction are baked into those coordinates on the CPU (:mod:`vrkit.render.distortion`), so the
shader only samples: three texture reads per fragment. The identity mesh gives the undistorted,
side-by-side panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.types import Fov
from vrkit.gl.context import Framebuffer, GLContext, Texture, VertexArray


@dataclass(eq=False)
class EyeMesh:
    """A baked panel mesh for one eye.

    Attributes:
        vertices: (N, 8) float32 ``[x, y, u_r, v_r, u_g, v_g, u_b, v_b]``: position in the eye
            viewport's NDC ([-1, 1], +y up) and per-channel texture coordinates into the eye
            image ((0, 0) bottom-left; outside [0, 1] draws black).
        indices: (M,) uint32 triangle indices.
        covers_viewport: False when the triangles leave parts of the viewport undrawn (cells
            that would only draw black); the compositor then clears the panel to black first.
    """

    vertices: NDArray[np.float32]
    indices: NDArray[np.uint32]
    covers_viewport: bool = True

    def __post_init__(self) -> None:
        v = np.asarray(self.vertices, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != 8:
            raise ValueError(f"EyeMesh.vertices must be (N, 8), got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("EyeMesh.vertices contain NaN or infinite values")
        idx = np.asarray(self.indices)
        if idx.ndim != 1 or idx.size % 3 or (idx.size and idx.max() >= len(v)):
            raise ValueError(f"EyeMesh.indices must be triangles into {len(v)} vertices")
        self.vertices = np.ascontiguousarray(v)
        self.indices = idx.astype(np.uint32)

    @property
    def achromatic(self) -> bool:
        """True when all three channels use the same texture coordinates."""
        v = self.vertices
        return bool(np.array_equal(v[:, 2:4], v[:, 4:6]) and np.array_equal(v[:, 2:4], v[:, 6:8]))


def grid_indices(cols: int, rows: int) -> NDArray[np.uint32]:
    """Triangle indices for a (rows + 1) x (cols + 1) vertex grid stored row by row."""
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a = (r * (cols + 1) + c).ravel()
    b = a + cols + 1
    return np.stack([a, a + 1, b + 1, a, b + 1, b], -1).ravel().astype(np.uint32)


def identity_mesh(cols: int = 1, rows: int = 1) -> EyeMesh:
    """The undistorted mesh: the eye image fills its viewport, all channels alike."""
    x, y = np.meshgrid(np.linspace(-1, 1, cols + 1), np.linspace(-1, 1, rows + 1))
    uv = np.stack([(x + 1) / 2, (y + 1) / 2], -1).reshape(-1, 2)
    verts = np.hstack([np.stack([x, y], -1).reshape(-1, 2), uv, uv, uv])
    return EyeMesh(verts.astype(np.float32), grid_indices(cols, rows))


@dataclass
class PanelLayout:
    """Where each eye goes on the panel and what it sees.

    Attributes:
        panel_size: ``(width, height)`` of the whole panel in pixels.
        viewports: Per eye ``(x, y, w, h)`` in panel pixels, origin at the TOP-left.
        fovs: Per eye field of view the eye image is rendered with.
        eye_sizes: Per eye render target size ``(width, height)`` in pixels.
        meshes: Per eye panel mesh (identity when there is no lens).
        distorted: True when the meshes carry a lens model's pre-distortion.
    """

    panel_size: tuple[int, int]
    viewports: list[tuple[int, int, int, int]]
    fovs: list[Fov]
    eye_sizes: list[tuple[int, int]]
    meshes: list[EyeMesh]
    distorted: bool = False


DEFAULT_FOV = Fov.from_degrees(-45.0, 45.0, 50.0, -50.0)


def side_by_side_layout(eye_size: tuple[int, int], fov: Fov = DEFAULT_FOV) -> PanelLayout:
    """A panel made of two undistorted eye images side by side (no lens).

    Args:
        eye_size: ``(width, height)`` of each eye in pixels.
        fov: Field of view of each eye.
    """
    w, h = eye_size
    return PanelLayout(
        (2 * w, h),
        [(0, 0, w, h), (w, 0, w, h)],
        [fov, fov],
        [(w, h), (w, h)],
        [identity_mesh(), identity_mesh()],
    )


class PanelCompositor:
    """Draws eye images into a panel framebuffer (or the window) through per-eye meshes.

    Args:
        ctx: Owning GL context.
        layout: Panel size, eye viewports and meshes.
    """

    def __init__(self, ctx: GLContext, layout: PanelLayout) -> None:
        self.ctx = ctx
        self._programs = {
            False: ctx.program("panel.vert", "panel.frag"),
            True: ctx.program("panel.vert", "panel.frag", {"ACHROMATIC": True}),
        }
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
                self._programs[False],
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
        self.program = self._programs[all(m.achromatic for m in meshes)]
        # Clear only when something would otherwise keep the previous frame's pixels: the eye
        # viewports leave part of the panel uncovered, or a mesh skips its black cells.
        self._needs_clear = self._viewports_leave_gaps or not all(m.covers_viewport for m in meshes)

    def compose(self, eye_images: list[Texture], fbo: int | None = None) -> None:
        """Draw the eye images onto the panel.

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
        self.program.use()
        self.program.set_int("u_eye", 0)
        for (x, y, w, h), vao, tex in zip(
            self.layout.viewports, self._vaos, eye_images, strict=True
        ):
            self.ctx.bind_framebuffer(target, (x, ph - y - h, w, h))
            tex.bind(0)
            vao.draw()

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
        self.framebuffer.release()
        for program in self._programs.values():
            program.release()
