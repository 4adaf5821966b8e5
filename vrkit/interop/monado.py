"""Monado north_star driver configs, out: a vrkit headset on Monado.

Monado's north_star driver reads one JSON file (named by ``NS_CONFIG_PATH``) and takes, in this
order, the first optical description it can parse (``ns_optical_config_parse``): the "3D"
Gen 1 calibration, the v2 polynomials (``ns_p2d_parse``), or Moses Turner's mesh grid
(``ns_mt_parse``: ``"type": "Moses Turner's distortion correction"``, ``"version": 2``,
``num_grid_points_x/y``, ``left.grid`` / ``right.grid`` rows of ``[x, y]`` ray tangents, bilinear
between nodes, ``u_compute_distortion_ns_meshgrid``). Both also read ``baseline`` (IPD, mm) and
``fov`` (radians ``[left, right, up, down]``, one for both eyes).

A profile with North Star lenses is written as v2 polynomials (exact). Any other lens is written
as a mesh grid sampled from the lens model (green), at the coarsest of a few sizes whose bilinear
interpolation stays within the tolerance; the interpolation error is measured at cell
midpoints and reported. Grid rows run from the viewport's bottom (Monado's v), like vrkit's own
mesh. Points outside the lens model's range get a ray far outside the field of view, which
Monado draws black.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vrkit.core.errors import DataError
from vrkit.interop._common import ARCMIN, lateral_colour_arcmin, ray_angle
from vrkit.interop.northstar import northstar_from_profile
from vrkit.optics.models import NorthStarLens
from vrkit.optics.profile import EYE_NAMES, HeadsetProfile

MESH_TYPE = "Moses Turner's distortion correction"
GRID_SIZES = (33, 49, 65, 97, 129)
FAR_TAN = 20.0


def _fov(profile: HeadsetProfile) -> list[float]:
    fovs = [profile.eye_fov(e) for e in (0, 1)]
    return [
        min(f.angle_left for f in fovs),
        max(f.angle_right for f in fovs),
        max(f.angle_up for f in fovs),
        min(f.angle_down for f in fovs),
    ]


def _grid(profile: HeadsetProfile, eye: int, n: int) -> np.ndarray:
    """(n, n, 2) ray tangents at the viewport's nodes, rows from the bottom."""
    lens = profile.lens(eye)
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    g = np.linspace(0.0, 1.0, n)
    uu, vv = np.meshgrid(g, g)
    panel = np.stack([left + uu.ravel() * (right - left), bottom + vv.ravel() * (top - bottom)], 1)
    ideal = lens.undistort(panel, 1, strict=False)
    bad = ~np.all(np.isfinite(ideal), axis=1)
    if bad.any():
        r = np.maximum(np.hypot(panel[bad, 0], panel[bad, 1]), 1e-9)
        ideal[bad] = panel[bad] / r[:, None] * FAR_TAN
    return ideal.reshape(n, n, 2)


def _grid_error_arcmin(profile: HeadsetProfile, eye: int, grid: np.ndarray) -> float:
    """Largest angle between the lens and the bilinear grid at the cells' midpoints."""
    n = grid.shape[0]
    mid = (grid[:-1, :-1] + grid[1:, :-1] + grid[:-1, 1:] + grid[1:, 1:]) / 4
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    c = (np.arange(n - 1) + 0.5) / (n - 1)
    uu, vv = np.meshgrid(c, c)
    panel = np.stack([left + uu.ravel() * (right - left), bottom + vv.ravel() * (top - bottom)], 1)
    truth = profile.lens(eye).undistort(panel, 1, strict=False)
    ok = np.all(np.isfinite(truth), axis=1)
    corners_ok = np.all(np.abs(mid.reshape(-1, 2)) < FAR_TAN / 2, axis=1)
    ok &= corners_ok
    if not ok.any():
        return 0.0
    return float(np.max(ray_angle(truth[ok], mid.reshape(-1, 2)[ok]))) / ARCMIN


def monado_from_profile(
    profile: HeadsetProfile, max_error_arcmin: float = 1.0
) -> tuple[dict[str, Any], list[str]]:
    """Monado north_star config data for a profile.

    Args:
        profile: The headset.
        max_error_arcmin: Largest bilinear-interpolation error accepted for a mesh grid.

    Raises:
        DataError: Even the finest grid misses by more than ``max_error_arcmin``.
    """
    lenses = [profile.lens(e) for e in (0, 1)]
    if all(isinstance(lens, NorthStarLens) for lens in lenses):
        return northstar_from_profile(profile, monado=True)
    notes: list[str] = []
    for n in GRID_SIZES:
        grids = [_grid(profile, e, n) for e in (0, 1)]
        err = max(_grid_error_arcmin(profile, e, g) for e, g in enumerate(grids))
        if err <= max_error_arcmin:
            break
    else:
        raise DataError(
            f"profile {profile.name!r}: a {GRID_SIZES[-1]} x {GRID_SIZES[-1]} grid still misses "
            f"the lens by {err:.2f} arcmin (> {max_error_arcmin})",
            hint="raise --max-error-arcmin",
        )
    out: dict[str, Any] = {
        "type": MESH_TYPE,
        "version": 2,
        "num_grid_points_x": n,
        "num_grid_points_y": n,
        "baseline": round(profile.ipd_default_m * 1000, 6),
        "fov": _fov(profile),
    }
    for eye, name in enumerate(EYE_NAMES):
        out[name] = {"grid": np.round(grids[eye], 9).tolist()}
    notes.append(
        f"{lenses[0].kind} lenses written as a {n} x {n} mesh grid for Monado's north_star "
        f"driver; bilinear interpolation error {err:.3f} arcmin (max at cell midpoints)"
    )
    colour = lateral_colour_arcmin(profile)
    if colour > 0.05:
        notes.append(
            f"the mesh grid has one channel: lateral colour of up to {colour:.1f} arcmin is dropped"
        )
    if tuple(profile.resolution_px) != (2880, 1600):
        notes.append(
            "Monado's north_star driver drives a 2880x1600 side-by-side display; this profile's "
            f"panel is {profile.resolution_px[0]}x{profile.resolution_px[1]}"
        )
    if profile.canting_deg:
        notes.append(f"canting_deg {profile.canting_deg:g} is not part of the file (dropped)")
    notes.append("run Monado with NS_CONFIG_PATH=<this file> (north_star driver)")
    return out, notes
