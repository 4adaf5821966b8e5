"""Field-of-view geometry: an eye's FOV through its lens, per-eye and binocular angles.

Through a lens, the definition is the Cardboard SDK's (``LensDistortion::CalculateFov``): take
the distance from the lens centre to each edge of the eye's part of the panel along the lens's
horizontal and vertical axes, in tan units (panel metres divided by the screen-to-lens
distance), map it through the lens to the eye's tan angle (our ``undistort``, Cardboard's
``Distort``), take the arctangent, and clamp it to the lens limits. vrkit keeps the unclamped
angles too, evaluates the actual signed edge points (so decentred and non-radial lenses work)
and uses the green channel.

Derived values, all in degrees:

* per eye (:func:`eye_summary_deg`): ``horizontal = right - left``, ``vertical = up - down``,
  ``diagonal`` = the larger of the angles between the rays through opposite corners of the
  eye's frustum;
* both eyes (:func:`combine_eyes_deg`), in the head's horizontal plane (each eye yawed outward
  by the canting, eyes treated as coincident, i.e. overlap at infinity as hmdq reports it):
  ``total_horizontal`` = from the left eye's outer edge to the right eye's outer edge,
  ``binocular_overlap`` = the angle both eyes see.

Also here: the map between an eye's tan angles and texture coordinates of the eye image rendered
with its :class:`~vrkit.core.types.Fov` (:func:`ideal_to_uv`, :func:`uv_to_ideal`).

Pure numpy. Takes lens models and plain numbers, never a profile: the profile
(:mod:`vrkit.optics.profile`) calls this module, not the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.core.types import Fov
from vrkit.optics.base import LensModel

#: The four sides of a field of view, in the order of :meth:`Fov.degrees` and ``fov_limits``.
SIDES = ("left", "right", "up", "down")

_SIGN = {"left": -1.0, "right": 1.0, "up": 1.0, "down": -1.0}
_AXIS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, 1.0), "down": (0.0, -1.0)}


@dataclass(frozen=True)
class EyeFov:
    """One eye's field of view through its lens.

    Attributes:
        fov: Clamped field of view (what to render with).
        unclamped_deg: Panel-edge angles before the lens limits, signed degrees keyed ``left,
            right, up, down`` (left and down negative); None where the panel edge lies beyond
            the lens model's usable range (the limit then applies).
        limits_deg: The lens limits, positive degrees by side.
        clamped: Sides where the lens limit, not the panel edge, sets the angle.
    """

    fov: Fov
    unclamped_deg: dict[str, float | None]
    limits_deg: dict[str, float]
    clamped: tuple[str, ...]


def fov_through_lens(
    lens: LensModel,
    viewport_tan: tuple[float, float, float, float],
    limits_deg: tuple[float, float, float, float],
    eye_name: str = "left",
) -> EyeFov:
    """One eye's field of view from its viewport edges through its lens.

    Args:
        lens: The eye's lens model (tan units about the lens centre).
        viewport_tan: The eye's viewport edges about the lens centre in panel tan units,
            ``(left, right, bottom, top)`` (left and bottom negative when the lens centre is
            inside the viewport).
        limits_deg: Lens limits ``(left, right, up, down)``, positive degrees.
        eye_name: ``"left"`` or ``"right"``, for messages.

    Returns:
        The clamped Fov, the unclamped edge angles and which sides the limits clamp.

    Raises:
        InputError: A panel edge lies beyond the lens model's usable range and the lens limit on
            that side does not fall inside the range either (the model cannot say what the eye
            sees there).
    """
    left, right, bottom, top = viewport_tan
    # A lens that flips an axis (a mirror optic) shows the opposite panel edge on that side.
    sx, sy = lens.axis_signs
    if sx < 0:
        left, right = right, left
    if sy < 0:
        bottom, top = top, bottom
    edges = np.array([[left, 0.0], [right, 0.0], [0.0, top], [0.0, bottom]])
    ideal = lens.undistort(edges, 1, strict=False)
    comp = np.array([ideal[0, 0], ideal[1, 0], ideal[2, 1], ideal[3, 1]])
    limits = dict(zip(SIDES, (float(v) for v in limits_deg), strict=True))
    angles: dict[str, float] = {}
    unclamped: dict[str, float | None] = {}
    clamped = []
    for i, side in enumerate(SIDES):
        sign, limit = _SIGN[side], limits[side]
        if np.isfinite(comp[i]):
            a = math.degrees(math.atan(comp[i]))
            unclamped[side] = a
            if sign * a > limit:
                a = sign * limit
                clamped.append(side)
            angles[side] = a
            continue
        # The panel edge is beyond the model's range: the lens limit must lie inside it.
        unclamped[side] = None
        t = math.tan(math.radians(limit))
        d = np.array(_AXIS[side]) * t
        panel = lens.distort(d[None, :], 1, strict=False)[0]
        edge = abs(edges[i][0] if i < 2 else edges[i][1])
        reach = abs(panel[0] if i < 2 else panel[1])
        if not (np.all(np.isfinite(panel)) and reach <= edge):
            raise InputError(
                f"the lens model's inverse does not exist over the panel: the {side} edge of the "
                f"{eye_name} eye's viewport is {edge:.4f} tan units from the lens centre, beyond "
                f"the model's usable panel radius {lens.max_panel_radius:.4f}, and the {side} FOV "
                f"limit {limit:g} deg (tan {t:.4f}) is beyond its usable ideal radius "
                f"{lens.max_radius:.4f}",
                hint="lower fov_limits_deg on that side, or fit the lens over the whole panel",
            )
        angles[side] = sign * limit
        clamped.append(side)
    fov = Fov.from_degrees(angles["left"], angles["right"], angles["up"], angles["down"])
    return EyeFov(fov, unclamped, limits, tuple(clamped))


def eye_summary_deg(fov: Fov) -> dict[str, float]:
    """Per-eye angles in degrees: the four sides plus horizontal, vertical and diagonal."""
    deg = fov.degrees()
    tl, tr, tu, td = fov.tangents()
    diagonal = max(
        _ray_angle_deg((tl, tu), (tr, td)),  # top-left to bottom-right
        _ray_angle_deg((tr, tu), (tl, td)),  # top-right to bottom-left
    )
    return {
        "left": deg["left"],
        "right": deg["right"],
        "up": deg["up"],
        "down": deg["down"],
        "horizontal": deg["right"] - deg["left"],
        "vertical": deg["up"] - deg["down"],
        "diagonal": diagonal,
    }


def _ray_angle_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Angle in degrees between the rays through tan-angle points ``a`` and ``b``."""
    va = np.array([a[0], a[1], -1.0])
    vb = np.array([b[0], b[1], -1.0])
    cos = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def combine_eyes_deg(left: Fov, right: Fov, canting_deg: float) -> dict[str, float]:
    """Total horizontal FOV and binocular overlap of two eyes yawed outward by ``canting_deg``.

    Horizontal angles in the head frame, positive to the right; the left eye spans
    ``[left.left - cant, left.right - cant]`` and the right eye the same shifted by ``+cant``.
    """
    ld, rd = left.degrees(), right.degrees()
    ll, lr = ld["left"] - canting_deg, ld["right"] - canting_deg
    rl, rr = rd["left"] + canting_deg, rd["right"] + canting_deg
    lo, hi = min(ll, rl), max(lr, rr)
    overlap = max(0.0, min(lr, rr) - max(ll, rl))
    up = min(ld["up"], rd["up"])
    down = max(ld["down"], rd["down"])
    return {
        "total_horizontal": hi - lo,
        "binocular_overlap": overlap,
        "binocular_vertical": max(0.0, up - down),
        "canting": canting_deg,
    }


def ideal_to_uv(ideal: NDArray[np.float64], fov: Fov) -> NDArray[np.float64]:
    """Eye-image texture coordinates of tan-angle points.

    Args:
        ideal: (N, 2) tan angles ``(tan x, tan y)`` in the eye frame (x right, y up).
        fov: The Fov the eye image is rendered with.

    Returns:
        (N, 2) texture coordinates, (0, 0) the image's bottom-left corner, (1, 1) its top-right;
        directions outside the Fov fall outside [0, 1].
    """
    tl, tr, tu, td = fov.tangents()
    return np.stack([(ideal[:, 0] - tl) / (tr - tl), (ideal[:, 1] - td) / (tu - td)], axis=1)


def uv_to_ideal(uv: NDArray[np.float64], fov: Fov) -> NDArray[np.float64]:
    """Inverse of :func:`ideal_to_uv`: (N, 2) texture coordinates to (N, 2) tan angles."""
    tl, tr, tu, td = fov.tangents()
    return np.stack([tl + uv[:, 0] * (tr - tl), td + uv[:, 1] * (tu - td)], axis=1)
