"""sRGB transfer functions (IEC 61966-2-1), pure numpy.

vrkit shades in linear light and stores 8-bit images sRGB-encoded (``docs/scenes.md``). These
functions convert colours at the edges: a colour picked in an image editor
(:func:`srgb_to_linear`), or a rendered linear value to the byte a panel shows
(:func:`linear_to_srgb`). The GPU does the same conversions in hardware for sRGB textures and
framebuffers, and ``shaders/panel.frag`` with ``ENCODE_SRGB``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def srgb_to_linear(c: ArrayLike) -> NDArray[np.float64]:
    """Decode sRGB-encoded values in [0, 1] to linear light (same shape)."""
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: ArrayLike) -> NDArray[np.float64]:
    """Encode linear values in [0, 1] to sRGB (same shape)."""
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def srgb_color(r: float, g: float, b: float, a: float = 1.0) -> tuple[float, float, float, float]:
    """A linear RGBA material colour from sRGB components in [0, 1] (alpha stays linear).

    ``Material(srgb_color(0.9, 0.15, 0.1))`` shows the red an image editor shows as
    (230, 38, 26) wherever the surface faces the light fully (and is unlit or ambient 1).
    """
    lin = srgb_to_linear([r, g, b])
    return (float(lin[0]), float(lin[1]), float(lin[2]), float(a))
