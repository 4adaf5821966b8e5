"""Optics in numpy: lens models (distort / undistort per colour channel) and headset profiles.

See docs/optics.md. No GL here; mesh baking for the GPU lives in :mod:`vrkit.render.distortion`.
"""

from vrkit.optics.base import CHANNELS, LensModel
from vrkit.optics.models import (
    MODEL_KINDS,
    BrownConradyLens,
    GridLens,
    PanotoolsLens,
    RadialPolynomialLens,
    lens_model_from_dict,
)

__all__ = [
    "CHANNELS",
    "MODEL_KINDS",
    "BrownConradyLens",
    "GridLens",
    "LensModel",
    "PanotoolsLens",
    "RadialPolynomialLens",
    "lens_model_from_dict",
]
