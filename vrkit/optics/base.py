"""The lens-model interface. Pure numpy: no GL here.

Coordinates. A lens model relates two sets of 2-D points, both in tan-angle units about the
lens's optical axis (x right, y up):

* *ideal* (undistorted) coordinates ``(tan(theta_x), tan(theta_y))``: the direction in which
  the eye sees a point, measured from the eye at the lens's eye point;
* *panel* (distorted) coordinates: the position on the panel of the pixel that appears there,
  in metres from the lens centre divided by the screen-to-lens distance.

``distort`` maps ideal to panel (where on the panel to draw what should appear at a direction)
and ``undistort`` maps panel to ideal (where a panel pixel appears to the eye). Note the Cardboard
SDK's ``PolynomialRadialDistortion::Distort`` goes the other way: it takes a panel point in tan
units to the eye's tan angle (its ``LensDistortion::CalculateFov`` calls it on the panel edges),
so Cardboard coefficients define our ``undistort`` and ``distort`` is its inverse.

Models are per colour channel: ``channel`` 0, 1, 2 is red, green, blue; a model without chromatic
terms maps every channel alike.

Implementations in :mod:`vrkit.optics.models` also accept ``strict=False`` on both mappings to
get NaN (instead of an error) for points outside the usable range.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

CHANNELS = ("red", "green", "blue")


class LensModel(ABC):
    """A lens distortion model with a forward and an inverse mapping per colour channel."""

    #: Name used in profiles (``"radial"``, ``"brown_conrady"``, ``"panotools"``, ``"grid"``,
    #: ``"north_star"``, ``"lighthouse"``, ``"osvr"``).
    kind: ClassVar[str]

    #: For models defined on the eye viewport's UV square (North Star, lighthouse, OSVR): the
    #: viewport's extent ``(left, right, bottom, top)`` in panel tan units about the model's
    #: origin, which the headset profile's geometry must reproduce. None for models defined about
    #: the lens axis alone.
    viewport_tan: tuple[float, float, float, float] | None = None

    @property
    def axis_signs(self) -> tuple[int, int]:
        """Signs of d(ideal x)/d(panel x) and d(ideal y)/d(panel y) near the panel origin.

        ``(1, 1)`` for a lens that shows the panel upright. A mirror optic can flip an axis (North
        Star's combiner shows the panel's top edge at the bottom of the view: ``(1, -1)``), so
        the panel's top edge then sets the *down* angle of the field of view.
        """
        return (1, 1)

    @abstractmethod
    def distort(self, ideal: ArrayLike, channel: int = 1) -> NDArray[np.float64]:
        """Map ideal tan-angle points (N, 2) to panel tan units (N, 2) for one channel."""

    @abstractmethod
    def undistort(self, panel: ArrayLike, channel: int = 1) -> NDArray[np.float64]:
        """Map panel points (N, 2) in tan units to ideal tan-angle points (N, 2).

        Raises:
            ValueError: A point lies outside the range where the model is invertible.
        """

    @property
    @abstractmethod
    def max_radius(self) -> float:
        """Largest ideal radius (tan units) over which ``distort`` is monotonic and usable."""

    @property
    def max_panel_radius(self) -> float:
        """Largest panel radius (tan units) inside the image of ``max_radius`` (all channels).

        This default samples ``distort`` on the ``max_radius`` circle; models override it with
        their exact value.
        """
        ang = np.linspace(0.0, 2.0 * np.pi, 361)
        circle = self.max_radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        return float(min(np.hypot(*self.distort(circle, c).T).min() for c in range(len(CHANNELS))))

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Parameters as they appear in a headset profile (includes ``"kind"``)."""
