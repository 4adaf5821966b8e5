"""Lens pre-distortion on the panel: layout glue for a profile, and a per-pixel comparison pass.

The production path bakes one :class:`~vrkit.optics.mesh.EyeMesh` per eye in numpy
(:func:`vrkit.optics.mesh.bake_eye_mesh` with the profile's
:meth:`~vrkit.optics.profile.HeadsetProfile.panel_to_eye_uv`);
:class:`~vrkit.render.panel.PanelCompositor` then only samples the eye image three times per
fragment (no lens math in GLSL). This module puts a profile's pieces together into a
:class:`~vrkit.render.panel.PanelLayout` (:func:`layout_for_profile`).

:class:`PerPixelDistortionPass` evaluates the radial polynomial per fragment instead
(``shaders/distortion_perpixel.frag``). It exists to compare cost and quality with the mesh and
only supports radial and panotools lenses.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.core.types import LEFT, RIGHT
from vrkit.optics.mesh import EyeMesh, auto_resolution, bake_eye_mesh, identity_mesh
from vrkit.optics.models import RadialPanelToIdeal
from vrkit.optics.profile import HeadsetProfile, MirroredLens
from vrkit.render.panel import PanelLayout

if TYPE_CHECKING:
    from vrkit.gl.context import GLContext
    from vrkit.gl.resources import Texture

#: Default mesh resolution: chosen per profile by :func:`vrkit.optics.mesh.auto_resolution`.
DEFAULT_RESOLUTION = "auto"


def profile_mesh_resolution(
    profile: HeadsetProfile, resolution: tuple[int, int] | str = DEFAULT_RESOLUTION
) -> tuple[int, int]:
    """``resolution``, or for ``"auto"`` the coarsest mesh within 0.25 panel px for ``profile``."""
    if resolution != "auto":
        return resolution  # type: ignore[return-value]
    sizes = [profile.eye_viewport(e)[2:] for e in (LEFT, RIGHT)]
    return auto_resolution(profile.panel_to_eye_uv, sizes)  # type: ignore[arg-type]


def meshes_for_profile(
    profile: HeadsetProfile, resolution: tuple[int, int] | str = DEFAULT_RESOLUTION
) -> list[EyeMesh]:
    """Both eyes' baked meshes ``[left, right]``, for :class:`PanelCompositor`.

    Backends showing a panel call this (through :func:`layout_for_profile`) whenever a profile
    with a lens model is active.

    Args:
        profile: Headset profile.
        resolution: ``(cols, rows)`` cells per eye, or ``"auto"``.
    """
    res = profile_mesh_resolution(profile, resolution)
    return [bake_eye_mesh(profile.panel_to_eye_uv, eye, res) for eye in (LEFT, RIGHT)]


def layout_for_profile(
    profile: HeadsetProfile,
    eye_size: tuple[int, int] | None = None,
    distortion: bool = True,
    resolution: tuple[int, int] | str = DEFAULT_RESOLUTION,
    ipd_m: float | None = None,
) -> PanelLayout:
    """The panel layout of a profile: panel, viewports, per-eye Fov, eye sizes, meshes, eyes.

    Args:
        profile: Headset profile.
        eye_size: Eye render size, or None for the profile's
            :meth:`~vrkit.optics.profile.HeadsetProfile.recommended_eye_size`.
        distortion: Bake the lens pre-distortion (False: identity meshes, the raw eye images).
        resolution: Mesh resolution per eye, or ``"auto"`` (:func:`profile_mesh_resolution`).
        ipd_m: Interpupillary distance in metres, or None for the profile's ``ipd_default_m``.
            The eyes are canted by the profile's ``canting_deg`` either way.
    """
    fovs = [profile.eye_fov(e) for e in (LEFT, RIGHT)]
    sizes = [eye_size or profile.recommended_eye_size(e) for e in (LEFT, RIGHT)]
    meshes = meshes_for_profile(profile, resolution) if distortion else [identity_mesh()] * 2
    return PanelLayout(
        profile.resolution_px,
        [profile.eye_viewport(e) for e in (LEFT, RIGHT)],
        fovs,
        [tuple(s) for s in sizes],  # type: ignore[misc]
        meshes,
        distorted=distortion,
        ipd_m=profile.ipd_default_m if ipd_m is None else float(ipd_m),
        cant_rad=math.radians(profile.canting_deg),
    )


# --------------------------------------------------------------------------------------------
# per-pixel comparison variant

#: Coefficients of g(r)/r the per-pixel shader takes per channel (three vec4).
PERPIXEL_COEFFS = 12


def perpixel_coefficients(profile: HeadsetProfile, eye: int) -> NDArray[np.float64]:
    """(3, 12) coefficients of ``g_c(r) / r`` in ascending powers of ``r`` for the shader.

    Raises:
        InputError: The lens is not radial / panotools, or its polynomial is too long.
    """
    lens = profile.lens(eye)
    inner = lens.inner if isinstance(lens, MirroredLens) else lens
    if not isinstance(inner, RadialPanelToIdeal):
        raise InputError(
            f"the per-pixel distortion variant supports radial and panotools lenses, not "
            f"{inner.kind!r}; use the baked mesh"
        )
    out = np.zeros((3, PERPIXEL_COEFFS))
    for c, poly in enumerate(inner._polys):
        q = poly[1:]
        if q.size > PERPIXEL_COEFFS:
            raise InputError(
                f"lens polynomial of degree {poly.size - 1} is too long for the per-pixel "
                f"shader (at most {PERPIXEL_COEFFS})"
            )
        out[c, : q.size] = q
    return out


class PerPixelDistortionPass:
    """Panel composition evaluating the lens polynomial per fragment (comparison variant).

    Draws each eye's viewport with a full-viewport quad and ``shaders/distortion_perpixel.frag``,
    which maps the fragment's panel position through ``g_c(r)`` per channel and samples the eye
    image there. Same inputs and output as :class:`~vrkit.render.panel.PanelCompositor`.

    Args:
        ctx: Owning GL context.
        profile: Headset profile with a radial or panotools lens.
        layout: The layout (:func:`layout_for_profile`); its meshes are not used.
    """

    def __init__(self, ctx: GLContext, profile: HeadsetProfile, layout: PanelLayout) -> None:
        self.ctx = ctx
        self.layout = layout
        self._coeffs = [perpixel_coefficients(profile, e) for e in (LEFT, RIGHT)]
        self._extent = [profile.viewport_extent_tan(e) for e in (LEFT, RIGHT)]
        self._max_r = [profile.lens(e).max_panel_radius for e in (LEFT, RIGHT)]
        self._programs = [
            ctx.program(
                "panel.vert", "distortion_perpixel.frag", {"ENCODE_SRGB": True} if e else {}
            )
            for e in (False, True)
        ]  # [pass-through, decode + encode sRGB] (see PanelCompositor.compose)
        self.program = self._programs[0]
        self.framebuffer = ctx.framebuffer(*layout.panel_size, depth=False)
        quad = identity_mesh()
        self._vbo = ctx.buffer(quad.vertices)
        self._ibo = ctx.index_buffer(quad.indices)
        stride = 32
        self._vao = ctx.vertex_array(
            self.program,
            {"a_position": (self._vbo, 2, stride, 0), "a_uv_green": (self._vbo, 2, stride, 16)},
            self._ibo,
            len(quad.indices),
        )

    def compose(self, eye_images: list[Texture], fbo: int | None = None) -> None:
        """Draw both eye images onto the panel (see ``PanelCompositor.compose``)."""
        ph = self.layout.panel_size[1]
        target = self.framebuffer.fbo if fbo is None else fbo
        self.ctx.set_state(depth_test=False)
        self.program = self._programs[all(t.srgb for t in eye_images)]
        self.program.use()
        self.program.set_int("u_eye", 0)
        for eye, tex in zip((LEFT, RIGHT), eye_images, strict=True):
            x, y, w, h = self.layout.viewports[eye]
            self.ctx.bind_framebuffer(target, (x, ph - y - h, w, h))
            self.program.set_vec("u_extent", *self._extent[eye])
            tl, tr, tu, td = self.layout.fovs[eye].tangents()
            self.program.set_vec("u_tan", tl, tr, tu, td)
            self.program.set_vec("u_max_r", self._max_r[eye])
            for c, name in enumerate(("red", "green", "blue")):
                k = self._coeffs[eye][c]
                for j, part in enumerate("abc"):
                    self.program.set_vec(f"u_{name}_{part}", *k[4 * j : 4 * j + 4])
            tex.bind(0)
            self._vao.draw()

    def read_panel(self) -> NDArray[np.uint8]:
        """The composed panel as (H, W, 4) uint8, top row first."""
        return self.framebuffer.read_rgba()

    def release(self) -> None:
        """Release GPU objects; safe to call twice."""
        for obj in (self._vao, self._vbo, self._ibo, self.framebuffer, *self._programs):
            obj.release()
