"""Distortion meshes: baked per-channel texture coordinates over an eye's viewport. Pure numpy.

A mesh is a regular grid over one eye's viewport on the panel. Each vertex carries its position
(the viewport's NDC) and, per colour channel, the texture coordinate of the eye image whose
content must appear there; the GPU only interpolates and samples (``shaders/panel.frag``). As in
Monado's ``u_distortion_mesh.c``, baking knows nothing of lenses or profiles: it calls one
narrow function,

    ``uv_map(eye, panel_uv) -> eye_uv``

with ``panel_uv`` (N, 2) positions in the eye's viewport ((0, 0) its bottom-left corner, (1, 1)
its top-right) and returning ``eye_uv`` (3, N, 2): for red, green and blue, the texture
coordinate in the eye image ((0, 0) bottom-left; outside [0, 1] draws black). It must return
finite values everywhere; a point the map cannot invert goes well outside [0, 1].
:meth:`vrkit.optics.profile.HeadsetProfile.panel_to_eye_uv` is that function for a headset
profile.

The mesh interpolates the map linearly over each triangle; :func:`mesh_error_px` measures how
far that moves content on the panel and :func:`auto_resolution` picks the coarsest grid that
keeps it within a tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.core.types import LEFT, RIGHT

#: ``uv_map(eye, panel_uv (N, 2)) -> eye_uv (3, N, 2)``, see the module docstring.
EyeUvMap = Callable[[int, NDArray[np.float64]], NDArray[np.float64]]

#: Largest displacement (panel pixels) the mesh's linear interpolation may add, for ``"auto"``.
AUTO_TOLERANCE_PX = 0.25
#: Mesh resolutions :func:`auto_resolution` chooses from (cells per side).
AUTO_CANDIDATES = (16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 112, 128)
#: Step (in viewport uv) of the finite differences giving the map's local derivative.
_JACOBIAN_STEP = 1e-6


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


def tan_vertices(mesh: EyeMesh, tangents: Sequence[float]) -> NDArray[np.float32]:
    """The mesh's vertices with each channel's eye uv turned into the tan-angle direction it shows.

    The timewarp pass (``shaders/panel_warp.vert``) rotates these directions and projects them
    back into the eye image; the eye image spans ``tangents`` (its render Fov), so uv ``(u, v)``
    is the direction ``(tan_left + u (tan_right - tan_left), tan_down + v (tan_up - tan_down))``
    (x / -z and y / -z in the eye frame: +x right, +y up, -z forward).

    Args:
        mesh: A baked mesh (uv into the eye image).
        tangents: ``(tan_left, tan_right, tan_up, tan_down)`` of the eye image's render Fov.

    Returns:
        (N, 8) float32 ``[x, y, tx_r, ty_r, tx_g, ty_g, tx_b, ty_b]``.
    """
    tl, tr, tu, td = (float(t) for t in tangents)
    v = mesh.vertices.astype(np.float64)
    out = v.copy()
    out[:, 2::2] = tl + v[:, 2::2] * (tr - tl)
    out[:, 3::2] = td + v[:, 3::2] * (tu - td)
    return out.astype(np.float32)


def grid_indices(cols: int, rows: int) -> NDArray[np.uint32]:
    """Triangle indices for a (rows + 1) x (cols + 1) vertex grid stored row by row.

    Each cell ``(a, a + 1, b, b + 1)`` (``b`` the vertex above ``a``) gives the triangles
    ``(a, a + 1, b + 1)`` and ``(a, b + 1, b)``.
    """
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


def check_resolution(resolution: object) -> tuple[int, int]:
    """``(cols, rows)`` as two ints in 1..1024, or raise naming the value.

    Raises:
        InputError: Not two integers in range.
    """
    if isinstance(resolution, str):
        raise InputError(f"mesh resolution must be (cols, rows) or 'auto', got {resolution!r}")
    try:
        cols, rows = (int(v) for v in resolution)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InputError(f"mesh resolution must be (cols, rows), got {resolution!r}") from None
    if not (1 <= cols <= 1024 and 1 <= rows <= 1024):
        raise InputError(f"mesh resolution must be 1..1024 cells per side, got {resolution!r}")
    return cols, rows


def _eye_uv(uv_map: EyeUvMap, eye: int, panel_uv: NDArray[np.float64]) -> NDArray[np.float64]:
    """Call ``uv_map`` and check what it returns: (3, N, 2) finite float64."""
    out = np.asarray(uv_map(eye, panel_uv), dtype=np.float64)
    if out.shape != (3, len(panel_uv), 2):
        raise InputError(
            f"the uv map must return (3, {len(panel_uv)}, 2) per-channel eye uv, got {out.shape}"
        )
    bad = int(np.count_nonzero(~np.isfinite(out)))
    if bad:
        raise InputError(
            f"the uv map returned {bad} non-finite coordinates for eye {eye}",
            hint="map points it cannot invert well outside [0, 1] (they draw black), not to NaN",
        )
    return out


def _grid_uv(cols: int, rows: int) -> NDArray[np.float64]:
    """(rows + 1) * (cols + 1) viewport uv points of the grid, row by row from the bottom."""
    u, v = np.meshgrid(np.linspace(0, 1, cols + 1), np.linspace(0, 1, rows + 1))
    return np.stack([u.ravel(), v.ravel()], axis=1)


def bake_eye_mesh(
    uv_map: EyeUvMap, eye: int, resolution: tuple[int, int], skip_black: bool = True
) -> EyeMesh:
    """Bake the pre-distortion mesh of one eye.

    Args:
        uv_map: ``(eye, panel_uv (N, 2)) -> eye_uv (3, N, 2)`` (module docstring).
        eye: 0 left, 1 right (passed to ``uv_map``).
        resolution: ``(cols, rows)`` grid cells over the eye's viewport.
        skip_black: Leave out the grid cells that are black in every channel (outside [0, 1]):
            the compositor clears the panel to black instead, which saves their triangles and,
            on a software rasteriser, their fragments. The grid's vertices stay (row by row);
            only triangles are dropped.

    Returns:
        The mesh: positions in the eye viewport's NDC, per-channel uv into the eye image.

    Raises:
        InputError: Bad resolution or eye, or the map returned the wrong shape or non-finite
            values.
    """
    cols, rows = check_resolution(resolution)
    if eye not in (LEFT, RIGHT):
        raise InputError(f"eye must be 0 (left) or 1 (right), got {eye!r}")
    panel_uv = _grid_uv(cols, rows)
    eye_uv = _eye_uv(uv_map, eye, panel_uv)
    verts = np.hstack([2 * panel_uv - 1, eye_uv[0], eye_uv[1], eye_uv[2]])
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
    or in v (the uv are linear over the cell, so all of it does).

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


def mesh_error_px(
    uv_map: EyeUvMap, eye: int, resolution: tuple[int, int], viewport_px: tuple[int, int]
) -> float:
    """Largest panel displacement (pixels) caused by interpolating the map linearly over the mesh.

    Samples nine points inside every cell, interpolates the baked uv as the rasteriser does
    (the two triangles of :func:`grid_indices`) and compares with the exact map there. The
    difference ``d`` is in the eye image; the panel point that truly shows the interpolated uv
    lies ``J^-1 d`` away, ``J`` the map's derivative (panel pixels to eye uv, by finite
    differences at the cell's centre): that distance, for each channel, where both uv are
    inside the eye image.

    Args:
        uv_map: ``(eye, panel_uv (N, 2)) -> eye_uv (3, N, 2)``.
        eye: 0 left, 1 right.
        resolution: ``(cols, rows)`` grid cells.
        viewport_px: The eye viewport's ``(width, height)`` in panel pixels.

    Returns:
        The largest displacement in panel pixels (0 when no sample lands inside the image).
    """
    cols, rows = check_resolution(resolution)
    w, h = (float(v) for v in viewport_px)
    V = bake_eye_mesh(uv_map, eye, (cols, rows), skip_black=False).vertices
    V = V.astype(np.float64).reshape(rows + 1, cols + 1, 8)
    V[..., :2] = (V[..., :2] + 1) / 2  # positions as viewport uv, exactly as baked
    sub = np.array([0.25, 0.5, 0.75])
    s, t = (g.ravel()[None, None, :, None] for g in np.meshgrid(sub, sub))
    a, a1, b, b1 = (V[:-1, :-1, None], V[:-1, 1:, None], V[1:, :-1, None], V[1:, 1:, None])
    lower = a + s * (a1 - a) + t * (b1 - a1)  # triangle (a, a+1, b+1)
    upper = a + t * (b - a) + s * (b1 - b)  # triangle (a, b+1, b)
    f = np.where(t <= s, lower, upper).reshape(-1, 8)
    p = f[:, :2]
    exact = _eye_uv(uv_map, eye, p)
    # The map's derivative varies little over a cell: take it once per cell, at its centre.
    centre = ((a[..., :2] + b1[..., :2]) / 2).reshape(-1, 2)
    hstep = _JACOBIAN_STEP
    steps = np.array([[0.0, 0.0], [hstep, 0.0], [0.0, hstep]])
    both = (centre[None] + steps[:, None]).reshape(-1, 2)
    at = _eye_uv(uv_map, eye, both).reshape(3, 3, -1, 2)  # (channel, step, cell, 2)
    per_sample = len(sub) ** 2
    du = np.repeat((at[:, 1] - at[:, 0]) / (hstep * w), per_sample, axis=1)  # per panel pixel
    dv = np.repeat((at[:, 2] - at[:, 0]) / (hstep * h), per_sample, axis=1)
    worst = 0.0
    for c in range(3):
        uv = f[:, 2 + 2 * c : 4 + 2 * c]
        ok = np.all((exact[c] >= 0) & (exact[c] <= 1) & (uv >= 0) & (uv <= 1), axis=1)
        if not np.any(ok):
            continue
        d = uv[ok] - exact[c][ok]
        j00, j10 = du[c][ok, 0], du[c][ok, 1]  # d(eye u, eye v) / d(panel x)
        j01, j11 = dv[c][ok, 0], dv[c][ok, 1]  # d(eye u, eye v) / d(panel y)
        det = j00 * j11 - j01 * j10
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = (j11 * d[:, 0] - j01 * d[:, 1]) / det
            dy = (-j10 * d[:, 0] + j00 * d[:, 1]) / det
        dist = np.hypot(dx, dy)
        if np.any(np.isfinite(dist)):
            worst = max(worst, float(np.nanmax(dist[np.isfinite(dist)])))
    return worst


def auto_resolution(
    uv_map: EyeUvMap,
    viewports_px: Sequence[tuple[int, int]],
    tolerance_px: float = AUTO_TOLERANCE_PX,
) -> tuple[int, int]:
    """The coarsest square mesh whose interpolation error stays within ``tolerance_px``.

    The error falls as ``1 / n^2``; this measures it at 32 cells, predicts the ``n`` that meets
    the tolerance, then checks candidates upward from there (:func:`mesh_error_px`, every eye).
    Fewer triangles matter on software rasterisers, where each costs microseconds.

    Args:
        uv_map: ``(eye, panel_uv (N, 2)) -> eye_uv (3, N, 2)``.
        viewports_px: Per eye (index = eye) the viewport's ``(width, height)`` in panel pixels.
        tolerance_px: Largest displacement allowed, panel pixels.

    Returns:
        ``(n, n)`` from :data:`AUTO_CANDIDATES`; the finest one when none meets the tolerance.
    """

    def error(n: int) -> float:
        return max(
            mesh_error_px(uv_map, eye, (n, n), tuple(size))  # type: ignore[arg-type]
            for eye, size in enumerate(viewports_px)
        )

    e32 = error(32)
    guess = 32 * np.sqrt(max(e32, 1e-12) / tolerance_px)
    for n in AUTO_CANDIDATES:
        if n < guess * 0.9:
            continue
        err = e32 if n == 32 else error(n)
        if err <= tolerance_px:
            return n, n
    return AUTO_CANDIDATES[-1], AUTO_CANDIDATES[-1]
