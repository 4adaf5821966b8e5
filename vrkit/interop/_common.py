"""Helpers shared by the interop formats: ray angles, viewport samples, lateral colour."""

from __future__ import annotations

import math
import re

import numpy as np
from numpy.typing import NDArray

from vrkit.optics.profile import HeadsetProfile

ARCMIN = math.pi / (180 * 60)


def ray_angle(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Angle (radians, (N,)) between the rays through tan-angle points a (N, 2) and b (N, 2)."""
    va = np.concatenate([a, -np.ones((len(a), 1))], axis=1)
    vb = np.concatenate([b, -np.ones((len(b), 1))], axis=1)
    return np.arctan2(np.linalg.norm(np.cross(va, vb), axis=1), np.sum(va * vb, axis=1))


def viewport_samples(profile: HeadsetProfile, eye: int, n: int = 41) -> NDArray[np.float64]:
    """An n x n grid (n*n, 2) of panel tan points over the eye's viewport."""
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    gx, gy = np.meshgrid(np.linspace(left, right, n), np.linspace(bottom, top, n))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def lateral_colour_arcmin(profile: HeadsetProfile) -> float:
    """Largest angle (arcmin) between red or blue and green over the left eye's viewport.

    This is the lateral colour that a format without colour terms drops.
    """
    lens = profile.lens(0)
    p = viewport_samples(profile, 0)
    g = lens.undistort(p, 1, strict=False)
    worst = 0.0
    for c in (0, 2):
        q = lens.undistort(p, c, strict=False)
        ok = np.all(np.isfinite(q) & np.isfinite(g), axis=1)
        if ok.any():
            worst = max(worst, float(np.max(ray_angle(q[ok], g[ok]))) / ARCMIN)
    return worst


def slug(text: str, default: str) -> str:
    """A profile name (``[a-z0-9._-]``) from free text, or ``default`` if nothing is left."""
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return s or default
