"""Panel composition: both eye images drawn onto the panel through a baked mesh per eye.

An :class:`~vrkit.optics.mesh.EyeMesh` carries, per vertex, a position in the eye's viewport on
the panel (NDC) and one texture coordinate into the eye image per colour channel. Lens
pre-distortion and chromatic correction are baked into those coordinates on the CPU, in numpy
(:mod:`vrkit.optics.mesh`), so the shader only samples: three texture reads per fragment. The
identity mesh gives the undistorted, side-by-side panel.

Timewarp (``warp`` other than ``"off"``): the vertices carry, per channel, the tan-angle
direction the lens shows there (:func:`~vrkit.optics.mesh.tan_vertices`) instead of the eye uv;
``shaders/panel_warp.vert`` rotates them by ``R_render_new`` (the newest predicted eye
orientation seen from the one the eye was rendered with, :func:`warp_rotation`) and projects
them into the eye image with its render Fov: a 3x3 multiply per vertex, nothing per pixel.

Positional warp (``warp="position"``): the eye depth buffer is sampled per vertex too; each
panel direction becomes a ray from the newest eye position, which is followed to the depth the
eye image holds there and re-projected into the eye image (:class:`PoseWarp`, two depth
lookups per vertex and channel). Without a depth texture it falls back to the rotation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.core.types import EyeView, Fov
from vrkit.gl.context import GLContext
from vrkit.gl.resources import Framebuffer, Program, Texture, VertexArray
from vrkit.math.stereo import DEFAULT_IPD_M
from vrkit.math.transforms import matrix_from_quat
from vrkit.optics.mesh import EyeMesh, identity_mesh, tan_vertices
from vrkit.render.renderer import FAR_M, NEAR_M

log = logging.getLogger(__name__)

#: Timewarp modes of the panel pass: none, one rotation per eye, a rotation blended from the
#: first to the last scanned-out row (rolling scan-out), rotation and translation from the eye
#: depth buffer (positional).
WARP_MODES = ("off", "rotation", "rotation+scanline", "position")
#: What the warp shows where the rotated view leaves the eye image: its edge repeated, or black.
UNCOVERED_POLICIES = ("clamp", "black")

#: Cells per side of the mesh the warp draws an undistorted (identity) eye with.
WARP_MIN_CELLS = 32
#: Cells per side for the positional warp: a depth edge stretches over one cell.
POSITION_MIN_CELLS = 64


def _is_identity(mesh: EyeMesh) -> bool:
    """True when the mesh shows the eye image undistorted over its viewport."""
    v = mesh.vertices
    return mesh.achromatic and np.array_equal(v[:, 2:4], (v[:, :2] + 1) / 2)


@dataclass(frozen=True)
class PoseWarp:
    """One eye's positional warp: the newest eye pose seen from the rendered one.

    Attributes:
        rotation: (3, 3) ``R_render_new`` (:func:`warp_rotation`).
        translation: (3,) the newest eye's position in the rendered eye's frame, metres.
    """

    rotation: NDArray[np.float64]
    translation: NDArray[np.float64]


#: One eye's warp: a (3, 3) rotation, ``(start, end)`` rotations for the scan-line warp, or a
#: :class:`PoseWarp` for the positional warp.
Warp = NDArray[np.float64] | tuple[NDArray[np.float64], NDArray[np.float64]] | PoseWarp


def warp_rotation(rendered: EyeView, newest: EyeView) -> NDArray[np.float64]:
    """``R_render_new``: directions in the newest eye frame expressed in the rendered one.

    A panel point showing direction ``d`` (newest eye frame) must show what the eye image holds
    at ``R_render_new @ d``.

    Args:
        rendered: The eye view the image was rendered with.
        newest: The eye view predicted for the display time from the newest pose.

    Returns:
        (3, 3) rotation matrix; exactly the identity when both orientations are equal.
    """
    if np.array_equal(rendered.pose.orientation, newest.pose.orientation):
        return np.eye(3)
    r_space_render = matrix_from_quat(rendered.pose.orientation)
    r_space_new = matrix_from_quat(newest.pose.orientation)
    return r_space_render.T @ r_space_new


def warp_pose(rendered: EyeView, newest: EyeView) -> PoseWarp:
    """The full delta pose for the positional warp, per eye.

    Args:
        rendered: The eye view the image (and its depth) was rendered with.
        newest: The eye view predicted for the display time from the newest pose.

    Returns:
        Rotation ``R_render_new`` and the newest eye position in the rendered eye frame
        (``R_space_render^T (p_new - p_render)``, metres).
    """
    r_space_render = matrix_from_quat(rendered.pose.orientation)
    shift = r_space_render.T @ (newest.pose.position - rendered.pose.position)
    return PoseWarp(warp_rotation(rendered, newest), shift)


def check_warp_mode(mode: str) -> str:
    """``mode`` if it is a warp mode the panel pass implements, else raise naming it.

    Raises:
        InputError: Unknown mode.
    """
    if mode not in WARP_MODES:
        raise InputError(f"--warp must be one of {', '.join(WARP_MODES)}, got {mode!r}")
    return mode


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
        warp: One of :data:`WARP_MODES`; with ``"off"`` :meth:`compose` ignores its ``warp``.
        uncovered: One of :data:`UNCOVERED_POLICIES`, for panel points a warp moves off the
            eye image.
        depth_range: ``(near, far)`` in metres of the projection the eye images (and their
            depth, for ``warp="position"``) were rendered with.
    """

    def __init__(
        self,
        ctx: GLContext,
        layout: PanelLayout,
        warp: str = "off",
        uncovered: str = "clamp",
        depth_range: tuple[float, float] = (NEAR_M, FAR_M),
    ) -> None:
        self.ctx = ctx
        self.depth_range = (float(depth_range[0]), float(depth_range[1]))
        self._warned_no_depth = False
        self.warp = check_warp_mode(warp)
        if uncovered not in UNCOVERED_POLICIES:
            raise InputError(
                f"uncovered must be one of {', '.join(UNCOVERED_POLICIES)}, got {uncovered!r}"
            )
        self.uncovered = uncovered
        #: With all warps the identity, draw with the baked pass (bit-exact with no warp).
        self.skip_identity = True
        self._warp_vaos: list[VertexArray] = []
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
            self._vaos.append(
                self._upload(self._program(False, False), mesh.vertices, mesh.indices, "a_uv")
            )
        if self.warp != "off":
            for mesh, fov in zip(meshes, self.layout.fovs, strict=True):
                # The warp's projection is not linear in the panel position: a mesh must be
                # fine enough for linear interpolation to follow it (a 1x1 identity quad spans
                # the whole Fov and would warp its centre by twice the rotation).
                # The positional warp follows depth edges to within one cell: finer still.
                cells = POSITION_MIN_CELLS if self.warp == "position" else WARP_MIN_CELLS
                if len(mesh.vertices) < (cells + 1) ** 2 and _is_identity(mesh):
                    mesh = identity_mesh(cells, cells)
                vertices = tan_vertices(mesh, fov.tangents())
                program = self._warp_program(False, False)
                self._warp_vaos.append(self._upload(program, vertices, mesh.indices, "a_tan"))
        self.layout.meshes = list(meshes)
        self._achromatic = all(m.achromatic for m in meshes)
        self._identity = [_is_identity(m) for m in meshes]
        self.program = self._program(self._achromatic, False)
        self._program(self._achromatic, True)  # both encodings ready before the first frame
        if self.warp != "off":
            self._warp_program(self._achromatic, False)
            self._warp_program(self._achromatic, True)
            if self.warp == "position":
                self._warp_program(self._achromatic, False, position=False)
                self._warp_program(self._achromatic, True, position=False)
        # Clear only when something would otherwise keep the previous frame's pixels: the eye
        # viewports leave part of the panel uncovered, or a mesh skips its black cells.
        self._needs_clear = self._viewports_leave_gaps or not all(m.covers_viewport for m in meshes)

    def _upload(
        self, program: Program, vertices: NDArray, indices: NDArray, prefix: str
    ) -> VertexArray:
        """A vertex array of (N, 8) float32 rows: panel xy, then red/green/blue ``prefix`` pairs."""
        vbo = self.ctx.buffer(vertices)
        ibo = self.ctx.index_buffer(indices)
        self._buffers += [vbo, ibo]
        stride = 8 * 4
        attributes = {"a_position": (vbo, 2, stride, 0)}
        for i, channel in enumerate(("red", "green", "blue")):
            attributes[f"{prefix}_{channel}"] = (vbo, 2, stride, 8 * (i + 1))
        return self.ctx.vertex_array(program, attributes, ibo, len(indices))

    def _program(self, achromatic: bool, encode_srgb: bool) -> Program:
        key = (achromatic, encode_srgb)
        if key not in self._programs:
            defines = {"ACHROMATIC": achromatic, "ENCODE_SRGB": encode_srgb}
            self._programs[key] = self.ctx.program(
                "panel.vert", "panel.frag", {k: True for k, v in defines.items() if v}
            )
        return self._programs[key]

    def _warp_program(self, achromatic: bool, encode_srgb: bool, position: bool = True) -> Program:
        position = position and self.warp == "position"
        key = ("warp", achromatic, encode_srgb, position)
        if key not in self._programs:
            defines = {
                "ACHROMATIC": achromatic,
                "ENCODE_SRGB": encode_srgb,
                "SCANLINE": self.warp == "rotation+scanline",
                "UNCOVERED_BLACK": self.uncovered == "black",
                "POSITION": position,
            }
            self._programs[key] = self.ctx.program(  # type: ignore[index]
                "panel_warp.vert", "panel_warp.frag", {k: True for k, v in defines.items() if v}
            )
        return self._programs[key]  # type: ignore[index]

    def _warps(self, warp: Sequence[Warp] | None) -> list[tuple[NDArray, NDArray, NDArray]] | None:
        """Per eye ``(start, end, shift)``, or None when the baked pass draws the frame."""
        if self.warp == "off" or warp is None:
            return None
        pairs = []
        for w in warp:
            shift = np.zeros(3)
            if isinstance(w, PoseWarp):
                start = end = w.rotation
                shift = np.asarray(w.translation, np.float64)
                if shift.shape != (3,):
                    raise ValueError(f"a warp translation is (3,), got {shift.shape}")
            else:
                start, end = w if isinstance(w, tuple) else (w, w)
            start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
            if start.shape != (3, 3) or end.shape != (3, 3):
                raise ValueError(f"a warp is a (3, 3) rotation, got {start.shape}, {end.shape}")
            pairs.append((start, end, shift))
        if len(pairs) != len(self.layout.viewports):
            raise ValueError(
                f"need one warp per eye ({len(self.layout.viewports)}), got {len(pairs)}"
            )
        eye3 = np.eye(3)
        if self.skip_identity and all(
            np.array_equal(a, eye3) and np.array_equal(b, eye3) and not t.any() for a, b, t in pairs
        ):
            return None
        return pairs

    def compose(
        self,
        eye_images: list[Texture],
        fbo: int | None = None,
        warp: Sequence[Warp] | None = None,
        depth: Sequence[Texture] | None = None,
    ) -> None:
        """Draw the eye images onto the panel.

        Eye images in an sRGB format (vrkit's eye targets) are decoded when sampled, so the
        lens resampling filters linear light, and the result is sRGB-encoded as the pass's
        last step; other images (``GL_RGBA8``) pass through as they are. Either way the panel
        holds display bytes.

        Args:
            eye_images: One colour texture per eye.
            fbo: Draw into this framebuffer (e.g. 0, a window's back buffer, whose size must
                be the panel size) instead of the compositor's own panel framebuffer.
            warp: Per eye ``R_render_new`` (:func:`warp_rotation`), or for the scan-line warp a
                ``(start, end)`` pair (first and last scanned-out panel row), or for the
                positional warp a :class:`PoseWarp` (:func:`warp_pose`); None, or a
                compositor made with ``warp="off"``, draws the baked pass.
            depth: For ``warp="position"``, one window-depth texture per eye (rendered with
                :attr:`depth_range`); without it the positional warp logs one warning and
                warps the rotation only.
        """
        warps = self._warps(warp)
        pw, ph = self.layout.panel_size
        target = self.framebuffer.fbo if fbo is None else fbo
        if self._needs_clear:
            self.ctx.bind_framebuffer(target, (0, 0, pw, ph))
            self.ctx.clear((0.0, 0.0, 0.0, 1.0), depth=False)
        self.ctx.set_state(depth_test=False)
        srgb = all(t.srgb for t in eye_images)
        if warps is not None:
            if self.warp == "position" and depth is None and not self._warned_no_depth:
                log.warning("--warp position: no eye depth texture; warping the rotation only")
                self._warned_no_depth = True
            self._compose_warped(eye_images, target, warps, srgb, depth)
            return
        self.program = self._program(self._achromatic, srgb)
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

    def _compose_warped(
        self,
        eye_images: list[Texture],
        target: int,
        warps: list[tuple[NDArray, NDArray, NDArray]],
        srgb: bool,
        depth: Sequence[Texture] | None = None,
    ) -> None:
        ph = self.layout.panel_size[1]
        position = self.warp == "position" and depth is not None
        program = self.program = self._warp_program(self._achromatic, srgb, position)
        program.use()
        program.set_int("u_eye", 0)
        if position:
            program.set_int("u_depth", 1)
            program.set_vec("u_depth_range", *self.depth_range)
        depths = list(depth) if position and depth is not None else [None] * len(warps)
        if len(depths) != len(warps):
            raise ValueError(f"need one depth texture per eye ({len(warps)}), got {len(depths)}")
        for (x, y, w, h), vao, tex, fov, (start, end, shift), dtex in zip(
            self.layout.viewports,
            self._warp_vaos,
            eye_images,
            self.layout.fovs,
            warps,
            depths,
            strict=True,
        ):
            self.ctx.bind_framebuffer(target, (x, ph - y - h, w, h))
            program.set_vec("u_tan", *fov.tangents())
            program.set_mat3("u_warp", start)
            if self.warp == "rotation+scanline":
                program.set_mat3("u_warp_end", end)
                half = h / (2 * ph)
                program.set_vec("u_scan", y / ph + half, -half)  # scan-out fraction of ndc y
            if dtex is not None:
                program.set_vec("u_shift", *shift)
                dtex.bind(1)
            tex.bind(0)
            vao.draw()

    def read_panel(self) -> NDArray[np.uint8]:
        """The composed panel as (H, W, 4) uint8, top row first."""
        return self.framebuffer.read_rgba()

    def _release_meshes(self) -> None:
        for obj in [*self._vaos, *self._warp_vaos, *self._buffers]:
            obj.release()
        self._vaos, self._warp_vaos, self._buffers = [], [], []

    def release(self) -> None:
        """Release GPU objects; safe to call twice."""
        self._release_meshes()
        self._exact.release()
        self.framebuffer.release()
        for program in self._programs.values():
            program.release()
