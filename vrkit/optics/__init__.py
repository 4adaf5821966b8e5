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
