"""Optics in numpy: lens models, headset profiles, FOV geometry and distortion-mesh baking.

Modules, in dependency order: :mod:`~vrkit.optics.base` (the lens-model interface),
:mod:`~vrkit.optics.models` (lens models), :mod:`~vrkit.optics.fov` (an eye's FOV through a
lens, binocular totals), :mod:`~vrkit.optics.mesh` (per-channel uv meshes from a narrow
``(eye, panel uv) -> eye uv`` map), :mod:`~vrkit.optics.profile` (headset profiles, which use
all of the above). See docs/optics.md. No GL here: :mod:`vrkit.render` draws the meshes.
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
