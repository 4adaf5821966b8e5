"""Lens pre-distortion for the panel: baked per-eye meshes, and a per-pixel comparison pass.

The production path bakes, on the CPU with the profile's numpy lens model, one
:class:`~vrkit.render.panel.EyeMesh` per eye; :class:`~vrkit.render.panel.PanelCompositor` then
only samples the eye image three times per fragment (no lens math in GLSL). For each vertex of a
regular grid over the eye's viewport on the panel:

1. its panel position (metres from the lens centre, from the profile's geometry, so the lens
   centre offset is exact) is divided by the screen-to-lens distance to give panel tan units;
2. the lens model's ``undistort`` gives, per colour channel, the eye's tan angle at which that
   panel point appears;
3. that tan angle is converted to a texture coordinate of the eye image rendered with the eye's
   :class:`~vrkit.core.types.Fov`: ``u = (tx - tan_left) / (tan_right - tan_left)``, ``v = (ty -
   tan_down) / (tan_up - tan_down)`` ((0, 0) bottom-left), so directions outside the Fov fall
   outside [0, 1] and the shader draws black there.

Panel points beyond the lens model's usable range get a direction pushed well outside the Fov
(black) instead of NaN; the profile loader has already refused lenses whose range does not cover
the Fov along its axes.

:class:`PerPixelDistortionPass` evaluates the radial polynomial per fragment instead
(``shaders/distortion_perpixel.frag``). It exists to compare cost and quality with the mesh and
only supports radial and panotools lenses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.core.types import LEFT, RIGHT, Fov
from vrkit.render.panel import EyeMesh, PanelLayout, grid_indices, identity_mesh

if TYPE_CHECKING:
    from vrkit.gl.context import GLContext, Texture
    from vrkit.optics.profile import HeadsetProfile

#: Default mesh resolution: chosen per profile by :func:`auto_resolution`.
DEFAULT_RESOLUTION = "auto"
#: Largest displacement (panel pixels) the mesh's linear interpolation may add, for ``"auto"``.
AUTO_TOLERANCE_PX = 0.25
#: Mesh resolutions ``"auto"`` chooses from (cells per side).
AUTO_CANDIDATES = (16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 112, 128)
#: Largest eye render target side the recommended size may reach.
MAX_EYE_SIZE = 4096


def _check_resolution(resolution: tuple[int, int] | str) -> tuple[int, int]:
    if isinstance(resolution, str):
        raise InputError(f"mesh resolution must be (cols, rows) or 'auto', got {resolution!r}")
    try:
        cols, rows = (int(v) for v in resolution)
    except (TypeError, ValueError):
        raise InputError(f"mesh resolution must be (cols, rows), got {resolution!r}") from None
    if not (1 <= cols <= 1024 and 1 <= rows <= 1024):
        raise InputError(f"mesh resolution must be 1..1024 cells per side, got {resolution!r}")
    return cols, rows


def viewport_panel_tan(
    profile: HeadsetProfile, eye: int, ndc: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Panel tan coordinates (about the eye's lens centre) of viewport NDC points (N, 2)."""
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    x = left + (ndc[:, 0] + 1) / 2 * (right - left)
    y = bottom + (ndc[:, 1] + 1) / 2 * (top - bottom)
    return np.stack([x, y], axis=1)


def ideal_to_uv(ideal: NDArray[np.float64], fov: Fov) -> NDArray[np.float64]:
    """Eye-image texture coordinates (N, 2), (0, 0) bottom-left, of tan-angle points (N, 2)."""
    tl, tr, tu, td = fov.tangents()
    return np.stack([(ideal[:, 0] - tl) / (tr - tl), (ideal[:, 1] - td) / (tu - td)], axis=1)


def uv_to_ideal(uv: NDArray[np.float64], fov: Fov) -> NDArray[np.float64]:
    """Inverse of :func:`ideal_to_uv`."""
    tl, tr, tu, td = fov.tangents()
    return np.stack([tl + uv[:, 0] * (tr - tl), td + uv[:, 1] * (tu - td)], axis=1)


def bake_eye_mesh(
    profile: HeadsetProfile,
    eye: int,
    resolution: tuple[int, int] | str = DEFAULT_RESOLUTION,
    fov: Fov | None = None,
    skip_black: bool = True,
) -> EyeMesh:
    """Bake the pre-distortion mesh of one eye.

    Args:
        profile: Headset profile (panel geometry and lens model).
        eye: 0 left, 1 right.
        resolution: ``(cols, rows)`` grid cells over the eye viewport, or ``"auto"``
            (:func:`auto_resolution`).
        fov: Fov the eye image is rendered with; the profile's ``eye_fov(eye)`` by default.
        skip_black: Leave out the grid cells that are black in every channel (outside the
            Fov): the compositor clears the panel to black instead, which saves their
            triangles and, on a software rasteriser, their fragments. The grid's vertices stay
            (row by row); only triangles are dropped.

    Returns:
        The mesh: positions in the eye viewport's NDC, per-channel UVs into the eye image.
    """
    if resolution == "auto":
        resolution = auto_resolution(profile)
    cols, rows = _check_resolution(resolution)
    if eye not in (LEFT, RIGHT):
        raise InputError(f"eye must be 0 (left) or 1 (right), got {eye!r}")
    lens = profile.lens(eye)
    if fov is None:
        fov = profile.eye_fov(eye)
    else:
        reach = float(np.max(np.abs(fov.tangents())))
        if reach > lens.max_radius:
            raise InputError(
                f"the eye Fov {fov.degrees()} reaches tan {reach:.4f}, beyond the lens model's "
                f"usable range (ideal radius {lens.max_radius:.4f}); the panel cannot show it",
                hint="use the profile's eye_fov(eye) or a narrower Fov",
            )
    x, y = np.meshgrid(np.linspace(-1, 1, cols + 1), np.linspace(-1, 1, rows + 1))
    ndc = np.stack([x.ravel(), y.ravel()], axis=1)
    panel = viewport_panel_tan(profile, eye, ndc)
    r = np.hypot(panel[:, 0], panel[:, 1])
    # Beyond the model's range: a direction far outside the Fov (drawn black), growing outward.
    far = 1.5 * float(np.max(np.abs(fov.tangents()))) * np.sqrt(2) + lens.max_radius
    r_lim = max(lens.max_panel_radius, 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        outward = panel * (far / r_lim) * np.maximum(1.0, r / r_lim)[:, None]
    uvs = []
    for channel in range(3):
        ideal = lens.undistort(panel, channel, strict=False)
        bad = ~np.all(np.isfinite(ideal), axis=1)
        ideal[bad] = outward[bad]
        uvs.append(ideal_to_uv(ideal, fov))
    verts = np.hstack([ndc, *uvs])
    indices = grid_indices(cols, rows)
    covers = True
    if skip_black:
        indices, covers = _skip_black_cells(verts, indices, cols, rows)
    return EyeMesh(verts.astype(np.float32), indices, covers_viewport=covers)


def _skip_black_cells(
    verts: NDArray[np.float64], indices: NDArray[np.uint32], cols: int, rows: int
) -> tuple[NDArray[np.uint32], bool]:
    """Drop the triangles of cells black in every channel; also say whether any were dropped.

    A cell is black in a channel when its four corners lie beyond the same edge of [0, 1] in u
    or in v (the UVs are linear over the cell, so all of it does).

    Returns:
        The remaining triangle indices, and True when none were dropped (the mesh still
        covers its whole viewport).
    """
    V = verts.reshape(rows + 1, cols + 1, 8)
    corners = np.stack([V[:-1, :-1], V[:-1, 1:], V[1:, :-1], V[1:, 1:]])  # (4, rows, cols, 8)
    black = np.ones((rows, cols), dtype=bool)
    for c in range(3):
        uv = corners[..., 2 + 2 * c : 4 + 2 * c]
        black &= np.any(np.all(uv < 0, axis=0) | np.all(uv > 1, axis=0), axis=-1)
    if not np.any(black):
        return indices, True
    return indices.reshape(rows * cols, 6)[~black.ravel()].ravel(), False


def meshes_for_profile(
    profile: HeadsetProfile, resolution: tuple[int, int] | str = DEFAULT_RESOLUTION
) -> list[EyeMesh]:
    """Both eyes' baked meshes ``[left, right]``, for :class:`PanelCompositor`.

    Backends showing a panel call this (through :func:`layout_for_profile`) whenever a profile
    with a lens model is active.
    """
    if resolution == "auto":
        resolution = auto_resolution(profile)
    return [bake_eye_mesh(profile, eye, resolution) for eye in (LEFT, RIGHT)]


def mesh_error_px(profile: HeadsetProfile, eye: int, resolution: tuple[int, int]) -> float:
    """Largest panel displacement (pixels) caused by interpolating UVs linearly over the mesh.

    Samples nine points inside every cell, interpolates the baked UVs as the rasteriser does
    (the two triangles of :func:`~vrkit.render.panel.grid_indices`), carries the interpolated
    direction back to the panel with the lens's inverse and measures how far it lands from the
    sampled point, for each channel, where both are inside the eye image.
    """
    cols, rows = _check_resolution(resolution)
    fov = profile.eye_fov(eye)
    lens = profile.lens(eye)
    V = bake_eye_mesh(profile, eye, (cols, rows), fov, skip_black=False).vertices
    V = V.astype(np.float64).reshape(rows + 1, cols + 1, 8)
    sub = np.array([0.25, 0.5, 0.75])
    s, t = (g.ravel()[None, None, :, None] for g in np.meshgrid(sub, sub))
    a, a1, b, b1 = (V[:-1, :-1, None], V[:-1, 1:, None], V[1:, :-1, None], V[1:, 1:, None])
    lower = a + s * (a1 - a) + t * (b1 - a1)  # triangle (a, a+1, b+1)
    upper = a + t * (b - a) + s * (b1 - b)  # triangle (a, b+1, b)
    f = np.where(t <= s, lower, upper).reshape(-1, 8)
    panel = viewport_panel_tan(profile, eye, f[:, :2])
    px_per_tan = profile.screen_to_lens_m * profile.resolution_px[0] / profile.size_m[0]
    worst = 0.0
    for c in range(3):
        uv = f[:, 2 + 2 * c : 4 + 2 * c]
        exact = ideal_to_uv(lens.undistort(panel, c, strict=False), fov)
        ok = np.all((exact >= 0) & (exact <= 1) & (uv >= 0) & (uv <= 1), axis=1)
        if not np.any(ok):
            continue
        back = lens.distort(uv_to_ideal(uv[ok], fov), c, strict=False)
        d = np.hypot(*(back - panel[ok]).T) * px_per_tan
        if np.any(np.isfinite(d)):
            worst = max(worst, float(np.nanmax(d)))
    return worst


def auto_resolution(
    profile: HeadsetProfile, tolerance_px: float = AUTO_TOLERANCE_PX
) -> tuple[int, int]:
    """The coarsest square mesh whose interpolation error stays within ``tolerance_px``.

    The error falls as ``1 / n^2``; this measures it at 32 cells, predicts the ``n`` that meets
    the tolerance, then checks candidates upward from there (:func:`mesh_error_px`, both eyes).
    Fewer triangles matter on software rasterisers, where each costs microseconds.
    """
    e32 = max(mesh_error_px(profile, eye, (32, 32)) for eye in (LEFT, RIGHT))
    guess = 32 * np.sqrt(max(e32, 1e-12) / tolerance_px)
    for n in AUTO_CANDIDATES:
        if n < guess * 0.9:
            continue
        err = e32 if n == 32 else max(mesh_error_px(profile, e, (n, n)) for e in (LEFT, RIGHT))
        if err <= tolerance_px:
            return n, n
    return AUTO_CANDIDATES[-1], AUTO_CANDIDATES[-1]


def recommended_eye_size(profile: HeadsetProfile, eye: int = LEFT) -> tuple[int, int]:
    """Eye render size matching the panel's pixel density at the lens centre.

    At the centre one panel tan unit covers ``ppm * screen_to_lens`` panel pixels and maps to
    ``1 / g'(0)`` eye tan units (``g'(0)`` the lens's central magnification, estimated from the
    green channel); the eye image spans the Fov's tangent range at that density.
    """
    fov = profile.eye_fov(eye)
    tl, tr, tu, td = fov.tangents()
    lens = profile.lens(eye)
    h = 1e-4
    mag = lens.undistort(np.array([[h, 0.0], [0.0, h]]), 1) / h
    ppx = profile.resolution_px[0] / profile.size_m[0] * profile.screen_to_lens_m / mag[0, 0]
    ppy = profile.resolution_px[1] / profile.size_m[1] * profile.screen_to_lens_m / mag[1, 1]
    w = int(min(MAX_EYE_SIZE, max(16, np.ceil((tr - tl) * ppx / 8) * 8)))
    hh = int(min(MAX_EYE_SIZE, max(16, np.ceil((tu - td) * ppy / 8) * 8)))
    return w, hh


def layout_for_profile(
    profile: HeadsetProfile,
    eye_size: tuple[int, int] | None = None,
    distortion: bool = True,
    resolution: tuple[int, int] | str = DEFAULT_RESOLUTION,
) -> PanelLayout:
    """The panel layout of a profile: panel, viewports, per-eye Fov, eye sizes, meshes.

    Args:
        profile: Headset profile.
        eye_size: Eye render size, or None for :func:`recommended_eye_size`.
        distortion: Bake the lens pre-distortion (False: identity meshes, the raw eye images).
        resolution: Mesh resolution per eye, or ``"auto"`` (:func:`auto_resolution`).
    """
    fovs = [profile.eye_fov(e) for e in (LEFT, RIGHT)]
    sizes = [eye_size or recommended_eye_size(profile, e) for e in (LEFT, RIGHT)]
    meshes = meshes_for_profile(profile, resolution) if distortion else [identity_mesh()] * 2
    return PanelLayout(
        profile.resolution_px,
        [profile.eye_viewport(e) for e in (LEFT, RIGHT)],
        fovs,
        [tuple(s) for s in sizes],  # type: ignore[misc]
        meshes,
        distorted=distortion,
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
    from vrkit.optics.models import RadialPanelToIdeal
    from vrkit.optics.profile import MirroredLens

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
        self.program = ctx.program("panel.vert", "distortion_perpixel.frag")
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
        for obj in (self._vao, self._vbo, self._ibo, self.framebuffer, self.program):
            obj.release()
