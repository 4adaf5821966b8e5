"""Lens models: radial polynomial, Brown-Conrady, panotools / Oculus, free-form grid. Pure numpy.

All models follow :mod:`vrkit.optics.base`: points are tan-angle units about the lens axis,
``undistort`` maps panel -> ideal (where a panel pixel appears to the eye) and ``distort`` maps
ideal -> panel (where to draw what should appear at a direction). Each model has one direction in
closed form and inverts the other with a solver from :mod:`vrkit.optics.solve`:

============== ============================ =====================================
model          closed form                  solved
============== ============================ =====================================
radial         undistort (Cardboard)        distort (safeguarded 1-D Newton)
panotools      undistort (Oculus shader)    distort (safeguarded 1-D Newton)
brown_conrady  distort (OpenCV projection)  undistort (damped 2-D Newton)
grid           undistort (bicubic spline)   distort (damped 2-D Newton)
============== ============================ =====================================

Usable range. A model is only trusted where it stays monotonic: radially, up to the radius at
which the slope of the radial map falls to :data:`MIN_SLOPE` of its value at the centre (just
before the curve folds back); for non-radial models, where the Jacobian determinant stays
positive. Both directions raise :class:`~vrkit.core.errors.InputError` (a ``ValueError``) for
points outside that range, or return NaN for them with ``strict=False``. The range is also
capped at :data:`RADIUS_CAP` tan units (87 degrees) on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.polynomial import polynomial as npoly
from numpy.typing import ArrayLike, NDArray

from vrkit.core.errors import InputError, ProfileError
from vrkit.core.jsonfile import short_repr
from vrkit.optics.base import CHANNELS, LensModel
from vrkit.optics.solve import solve_2d, solve_increasing

F64 = NDArray[np.float64]

#: Radial slope (relative to the centre) below which a model is no longer considered usable.
MIN_SLOPE = 0.01
#: Largest radius (tan units, about 87.1 degrees) any model is used at, on either side.
RADIUS_CAP = 20.0
#: Round-trip tolerance (tan units) that a solved inverse must meet or the point is rejected.
INVERSE_TOL = 1e-9
#: Most values any coefficient list may hold (a grid's knots per axis; the profile schema caps
#: each list, and this cap holds for models built in code too).
MAX_COEFFICIENTS = 64
#: Most terms of a radial polynomial (``radial.k``, ``osvr.polynomials``): finding a radial
#: model's usable range costs O(n^3) in the number of terms, so n is capped, not trusted.
MAX_RADIAL_TERMS = 16
#: Largest magnitude of a lens coefficient (as the profile schema's ``coefficient``).
COEFFICIENT_LIMIT = 1e4


# --------------------------------------------------------------------------------------------
# validation helpers


def check_coefficients(
    values: Any,
    field: str,
    count: Sequence[int] | None = None,
    max_count: int = MAX_COEFFICIENTS,
    limit: float = COEFFICIENT_LIMIT,
) -> F64:
    """Return coefficients as a finite float64 vector or raise naming the field.

    The same rules as the profile schema, for models built in code: numbers (never ``True``,
    never a string), finite, at most ``limit`` in magnitude, at most ``max_count`` of them.

    Args:
        values: A sequence of numbers.
        field: Field path used in the error message, e.g. ``"lens.k"``.
        count: Allowed lengths, or None for any length from 1 to ``max_count``.
        max_count: Most values accepted when ``count`` is None.
        limit: Largest magnitude accepted.

    Raises:
        ProfileError: Not a list of finite numbers, a length not allowed, or a value beyond
            ``limit``; the value is shown cut short.
    """
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, (Sequence, np.ndarray)):
        raise ProfileError(f"{field} must be a list of numbers, got {short_repr(values)}")
    n = len(values)
    if count is not None and n not in count:
        raise ProfileError(
            f"{field} must have {' or '.join(map(str, count))} values, got {n}: "
            f"{short_repr(values)}"
        )
    if count is None and not 1 <= n <= max_count:
        raise ProfileError(
            f"{field} must have 1 to {max_count} values, got {n}: {short_repr(values)}"
        )
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "iuf":
            raise ProfileError(f"{field} must be a list of numbers, got {short_repr(values)}")
    else:
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ProfileError(f"{field}[{i}] must be a number, got {short_repr(v)}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ProfileError(f"{field} must be a list of numbers, got {short_repr(values)}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ProfileError(
            f"{field} must be a non-empty flat list of numbers, got {short_repr(values)}"
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise ProfileError(f"{field}[{i}] must be a finite number, got {float(arr[i])}")
    big = np.flatnonzero(np.abs(arr) > limit)
    if big.size:
        i = int(big[0])
        raise ProfileError(
            f"{field}[{i}] = {float(arr[i]):g} is beyond any real lens (|value| <= {limit:g})"
        )
    return arr


def check_channel(channel: int) -> int:
    """Validate a colour channel index (0 red, 1 green, 2 blue)."""
    if channel not in (0, 1, 2):
        raise ValueError(f"channel must be 0 (red), 1 (green) or 2 (blue), got {channel!r}")
    return int(channel)


def as_points(points: ArrayLike, name: str) -> tuple[F64, tuple[int, ...]]:
    """Flatten ``(..., 2)`` points to (N, 2) float64 and remember the leading shape."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., 2), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr.reshape(-1, 2), arr.shape[:-1]


def _out_of_range(
    name: str, pts: F64, bad: NDArray[np.bool_], limit: str, strict: bool, out: F64
) -> F64:
    if np.any(bad):
        if strict:
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{np.count_nonzero(bad)} {name} point(s) outside the lens model's usable range "
                f"({limit}), first {pts[i].tolist()}",
                hint="keep points within max_radius / max_panel_radius, or pass strict=False "
                "to get NaN for them",
            )
        out = out.copy()
        out[bad] = np.nan
    return out


# --------------------------------------------------------------------------------------------
# radial models (closed form panel -> ideal)


class RadialPanelToIdeal(LensModel):
    """Base of radially symmetric models given as a polynomial ``ideal_r = g_c(panel_r)``.

    Subclasses build one polynomial in ``r`` per channel (ascending coefficients, ``g_c(0) = 0``,
    ``g_c'(0) > 0``); this class finds the usable range and inverts ``g_c`` numerically.
    """

    def _setup(self, polys: list[F64], max_panel_radius: float | None) -> None:
        self._polys = [np.asarray(p, dtype=np.float64) for p in polys]
        self._dpolys = [npoly.polyder(p) for p in self._polys]
        self._panel_limit = np.zeros(3)
        self._ideal_limit = np.zeros(3)
        cap = RADIUS_CAP if max_panel_radius is None else min(RADIUS_CAP, max_panel_radius)
        for c, (p, dp) in enumerate(zip(self._polys, self._dpolys, strict=True)):
            slope0 = dp[0]
            if not slope0 > 0:
                raise ProfileError(
                    f"{self.kind} lens: {CHANNELS[c]} channel has slope {slope0:g} at the centre; "
                    "the mapping must increase outward (check the coefficients' signs)"
                )
            r_lim = cap
            # Fold: first positive root of g'(r) - MIN_SLOPE * g'(0).
            q = dp.copy()
            q[0] -= MIN_SLOPE * slope0
            roots = npoly.polyroots(q) if np.any(q[1:] != 0) else np.array([])
            real = roots[np.abs(roots.imag) < 1e-9 * np.maximum(1.0, np.abs(roots))].real
            real = real[real > 0]
            if real.size:
                r_lim = min(r_lim, float(real.min()))
            g_lim = float(npoly.polyval(r_lim, p))
            if g_lim > RADIUS_CAP:
                r_lim = float(self._solve(c, np.array([RADIUS_CAP]), r_lim)[0])
                g_lim = RADIUS_CAP
            self._panel_limit[c] = r_lim
            self._ideal_limit[c] = g_lim

    def _solve(self, c: int, target: F64, r_max: float) -> F64:
        p, dp = self._polys[c], self._dpolys[c]
        return solve_increasing(
            lambda r: npoly.polyval(r, p), lambda r: npoly.polyval(r, dp), target, r_max
        )

    @property
    def max_radius(self) -> float:
        """Largest ideal radius (tan units) that every channel can distort."""
        return float(self._ideal_limit.min())

    @property
    def max_panel_radius(self) -> float:
        """Largest panel radius (tan units) that every channel can undistort."""
        return float(self._panel_limit.min())

    def radial(self, r: ArrayLike, channel: int = 1) -> F64:
        """The radial map ``ideal_r = g(panel_r)`` for one channel (no range check)."""
        return npoly.polyval(np.asarray(r, dtype=np.float64), self._polys[check_channel(channel)])

    def undistort(self, panel: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map panel points (..., 2) in tan units to ideal tan-angle points (..., 2).

        Raises:
            InputError: (with ``strict``) a point lies beyond ``max_panel_radius``.
        """
        c = check_channel(channel)
        pts, shape = as_points(panel, "panel")
        r = np.hypot(pts[:, 0], pts[:, 1])
        p = self._polys[c]
        # g(r)/r as a polynomial: drop the zero constant term.
        scale = npoly.polyval(r, p[1:]) if p.size > 1 else np.zeros_like(r)
        out = pts * scale[:, None]
        limit = self._panel_limit[c]
        out = _out_of_range(
            "panel", pts, r > limit * (1 + 1e-12), f"panel radius <= {limit:.6g}", strict, out
        )
        return out.reshape(*shape, 2)

    def distort(self, ideal: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map ideal tan-angle points (..., 2) to panel tan units (..., 2).

        Raises:
            InputError: (with ``strict``) a point lies beyond this channel's ideal range.
        """
        c = check_channel(channel)
        pts, shape = as_points(ideal, "ideal")
        r = np.hypot(pts[:, 0], pts[:, 1])
        limit = self._ideal_limit[c]
        bad = r > limit * (1 + 1e-12)
        rp = self._solve(c, np.minimum(r, limit), self._panel_limit[c])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(r > 0, rp / r, 1.0 / self._dpolys[c][0])
        out = pts * ratio[:, None]
        out = _out_of_range("ideal", pts, bad, f"ideal radius <= {limit:.6g}", strict, out)
        return out.reshape(*shape, 2)


def _channel_scale(values: Any, field: str) -> F64:
    scale = check_coefficients(values, field, (3,))
    if np.any(scale <= 0):
        raise ProfileError(f"{field} must be three positive numbers, got {scale.tolist()}")
    return scale


class RadialPolynomialLens(RadialPanelToIdeal):
    """Cardboard-style radial polynomial: ``ideal = panel * (1 + K1 r^2 + K2 r^4 + ...)``.

    This is the Cardboard SDK's ``PolynomialRadialDistortion::Distort`` (``r`` is the panel
    radius in tan units). An optional per-channel magnification models lateral chromatic
    aberration: channel ``c`` sees ``channel_scale[c]`` times the green mapping.

    Args:
        k: ``[K1, K2, ...]`` (at least one).
        channel_scale: (3,) positive magnification for red, green, blue.
        max_panel_radius: Optional limit (tan units) of the range the coefficients were fitted
            over; the model refuses points beyond it.
    """

    kind: ClassVar[str] = "radial"

    def __init__(
        self,
        k: Sequence[float],
        channel_scale: Sequence[float] = (1.0, 1.0, 1.0),
        max_panel_radius: float | None = None,
    ) -> None:
        self.k = check_coefficients(k, "radial.k", max_count=MAX_RADIAL_TERMS)
        self.channel_scale = _channel_scale(channel_scale, "radial.channel_scale")
        self._user_limit = _positive_or_none(max_panel_radius, "radial.max_panel_radius")
        base = np.zeros(2 * self.k.size + 2)
        base[1] = 1.0
        base[3::2] = self.k
        self._setup([base * s for s in self.channel_scale], self._user_limit)

    def to_dict(self) -> dict[str, Any]:
        """Profile form: ``{"kind": "radial", "k": [...], "channel_scale": [...]}``."""
        d: dict[str, Any] = {
            "kind": self.kind,
            "k": self.k.tolist(),
            "channel_scale": self.channel_scale.tolist(),
        }
        if self._user_limit is not None:
            d["max_panel_radius"] = self._user_limit
        return d

    def __repr__(self) -> str:
        scale = self.channel_scale.tolist()
        return f"RadialPolynomialLens(k={self.k.tolist()}, channel_scale={scale})"


class PanotoolsLens(RadialPanelToIdeal):
    """Oculus DK1 / OpenHMD / panotools style radial model with per-channel scale.

    Radii are normalised: ``rho = r / unit`` with ``unit`` in tan units (for the DK1, half the
    eye's viewport width divided by the eye-to-screen distance). With ``form="oculus"`` (the
    Oculus SDK 0.2 ``HmdWarpParam``, even powers) the green channel maps
    ``ideal = panel * (k0 + k1 rho^2 + k2 rho^4 + k3 rho^6)``; with ``form="panotools"``
    (``a, b, c, d`` as in panotools and OpenHMD's universal distortion, all powers)
    ``ideal = panel * (d + c rho + b rho^2 + a rho^3)``. Red and blue multiply the green result
    by ``s0 + s1 rho^2`` (the Oculus ``ChromaAbParameter``, ordered
    ``[red s0, red s1, blue s0, blue s1]``).

    Args:
        k: Four coefficients, ``[k0, k1, k2, k3]`` or ``[a, b, c, d]`` according to ``form``.
        chroma: Four numbers ``[red_s0, red_s1, blue_s0, blue_s1]``; ``[1, 0, 1, 0]`` for none.
        unit: Tan units per normalised radius unit (> 0).
        form: ``"oculus"`` or ``"panotools"``.
        max_panel_radius: Optional limit (tan units) of the range the model is valid over.
    """

    kind: ClassVar[str] = "panotools"
    FORMS: ClassVar[tuple[str, ...]] = ("oculus", "panotools")

    def __init__(
        self,
        k: Sequence[float],
        chroma: Sequence[float] = (1.0, 0.0, 1.0, 0.0),
        unit: float = 1.0,
        form: str = "oculus",
        max_panel_radius: float | None = None,
    ) -> None:
        if form not in self.FORMS:
            raise ProfileError(
                f"panotools.form must be one of {list(self.FORMS)}, got {short_repr(form)}"
            )
        self.form = form
        self.k = check_coefficients(k, "panotools.k", (4,))
        self.chroma = check_coefficients(chroma, "panotools.chroma", (4,))
        self.unit = _positive_or_none(unit, "panotools.unit")
        if self.unit is None:
            raise ProfileError("panotools.unit must be a positive number of tan units, got None")
        self._user_limit = _positive_or_none(max_panel_radius, "panotools.max_panel_radius")
        u = self.unit
        if form == "oculus":
            k0, k1, k2, k3 = self.k
            green = np.array([0, k0, 0, k1 / u**2, 0, k2 / u**4, 0, k3 / u**6])
        else:
            a, b, c, d = self.k
            green = np.array([0, d, c / u, b / u**2, a / u**3])
        polys = []
        for s0, s1 in (self.chroma[:2], (1.0, 0.0), self.chroma[2:]):
            polys.append(npoly.polymul(green, [s0, 0.0, s1 / u**2]))
        self._setup(polys, self._user_limit)

    def to_dict(self) -> dict[str, Any]:
        """Profile form: ``{"kind": "panotools", "form", "k", "chroma", "unit"}``."""
        d: dict[str, Any] = {
            "kind": self.kind,
            "form": self.form,
            "k": self.k.tolist(),
            "chroma": self.chroma.tolist(),
            "unit": self.unit,
        }
        if self._user_limit is not None:
            d["max_panel_radius"] = self._user_limit
        return d

    def __repr__(self) -> str:
        return (
            f"PanotoolsLens(form={self.form!r}, k={self.k.tolist()}, "
            f"chroma={self.chroma.tolist()}, unit={self.unit:g})"
        )


def _positive_or_none(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProfileError(f"{field} must be a positive number, got {short_repr(value)}")
    if not (math.isfinite(value) and 0 < value <= COEFFICIENT_LIMIT):
        raise ProfileError(
            f"{field} must be a positive finite number <= {COEFFICIENT_LIMIT:g}, got "
            f"{short_repr(value)}"
        )
    return float(value)


# --------------------------------------------------------------------------------------------
# Brown-Conrady (closed form ideal -> panel)


class BrownConradyLens(LensModel):
    """OpenCV's Brown-Conrady model, ``distort`` = ``cv2.projectPoints`` on normalised points.

    ``x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6) / (1 + k4 r^2 + k5 r^4 + k6 r^6)
    + 2 p1 x y + p2 (r^2 + 2 x^2)`` and the same for ``y`` with ``p1`` and ``p2`` swapped, where
    ``(x, y)`` are ideal tan-angle coordinates and ``(x_d, y_d)`` panel tan units. OpenCV's image
    ``y`` axis points down while ours points up; the formula is the same in both once ``p1`` is
    read in the y-down frame, so coefficients from an OpenCV fit done in y-down pixel space need
    ``p1`` negated (see docs/optics.md).

    Args:
        coefficients: ``[k1, k2, p1, p2]``, ``[k1, k2, p1, p2, k3]`` or the 8-value rational
            form ``[k1, k2, p1, p2, k3, k4, k5, k6]``; or a dict with one such list per channel
            (``"red"``, ``"green"``, ``"blue"``).
    """

    kind: ClassVar[str] = "brown_conrady"

    def __init__(self, coefficients: Sequence[float] | dict[str, Sequence[float]]) -> None:
        if isinstance(coefficients, dict):
            missing = [c for c in CHANNELS if c not in coefficients]
            extra = sorted(set(coefficients) - set(CHANNELS))
            if missing or extra:
                raise ProfileError(
                    "brown_conrady.coefficients as a dict needs exactly the keys "
                    f"{list(CHANNELS)}, got {sorted(coefficients)}"
                )
            per = [coefficients[c] for c in CHANNELS]
            self._per_channel = True
        else:
            per = [coefficients] * 3
            self._per_channel = False
        self.coefficients = []
        for name, values in zip(CHANNELS, per, strict=True):
            field = (
                f"brown_conrady.coefficients.{name}"
                if self._per_channel
                else ("brown_conrady.coefficients")
            )
            arr = check_coefficients(values, field, (4, 5, 8))
            full = np.zeros(8)
            full[: arr.size] = arr
            self.coefficients.append(full)
        self._ideal_limit = np.array([self._find_limit(c) for c in range(3)])
        ang = np.linspace(0, 2 * np.pi, 1440, endpoint=False)
        rim = np.stack([np.cos(ang), np.sin(ang)], axis=1)
        self._panel_limit = np.array(
            [np.hypot(*self._map(c, rim * self._ideal_limit[c]).T).min() for c in range(3)]
        )

    # radial part h(r) = r * R(r^2), R = num / den
    def _radial(self, c: int, r: F64) -> F64:
        k1, k2, _, _, k3, k4, k5, k6 = self.coefficients[c]
        r2 = r * r
        num = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        den = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
        return r * num / den

    def _map(self, c: int, pts: F64) -> F64:
        k1, k2, p1, p2, k3, k4, k5, k6 = self.coefficients[c]
        x, y = pts[:, 0], pts[:, 1]
        r2 = x * x + y * y
        num = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        den = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
        rad = num / den
        xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        return np.stack([xd, yd], axis=1)

    def _find_limit(self, c: int) -> float:
        """Ideal radius where the model stops being usable (fold, pole or Jacobian <= 0)."""
        k = self.coefficients[c]
        r = np.linspace(0.0, RADIUS_CAP, 20001)
        r2 = r * r
        den = 1 + r2 * (k[5] + r2 * (k[6] + r2 * k[7]))
        h = self._radial(c, r)
        dh = np.gradient(h, r)
        bad = (den <= 1e-6) | (dh < MIN_SLOPE) | (np.abs(h) > RADIUS_CAP)
        # Non-radial terms: the 2-D Jacobian must stay positive around each circle.
        ang = np.linspace(0, 2 * np.pi, 256, endpoint=False)
        rs = r[::20]
        grid = np.stack(
            [np.outer(rs, np.cos(ang)).ravel(), np.outer(rs, np.sin(ang)).ravel()], axis=1
        )
        hstep = 1e-6
        ex, ey = np.array([hstep, 0.0]), np.array([0.0, hstep])
        jx = (self._map(c, grid + ex) - self._map(c, grid - ex)) / (2 * hstep)
        jy = (self._map(c, grid + ey) - self._map(c, grid - ey)) / (2 * hstep)
        det = (jx[:, 0] * jy[:, 1] - jy[:, 0] * jx[:, 1]).reshape(len(rs), len(ang))
        det_bad_r = rs[np.any(~(det > MIN_SLOPE), axis=1)]
        limit = RADIUS_CAP
        if np.any(bad):
            limit = float(r[np.argmax(bad)])
        if det_bad_r.size:
            limit = min(limit, float(det_bad_r.min()) - (rs[1] - rs[0]))
        # Step back one sample so the limit lies on the good side.
        limit = max(limit - 2 * (r[1] - r[0]) if limit < RADIUS_CAP else limit, 0.0)
        if limit <= 0.05:
            raise ProfileError(
                f"brown_conrady lens: {CHANNELS[c]} channel is not invertible even near the "
                f"centre (coefficients {self.coefficients[c].tolist()})"
            )
        return limit

    @property
    def max_radius(self) -> float:
        """Largest ideal radius (tan units) over which every channel is usable."""
        return float(self._ideal_limit.min())

    @property
    def max_panel_radius(self) -> float:
        """Radius (tan units) of the largest panel circle inside the image of ``max_radius``."""
        return float(self._panel_limit.min())

    def distort(self, ideal: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map ideal tan-angle points (..., 2) to panel tan units (..., 2) (closed form).

        Raises:
            InputError: (with ``strict``) a point lies beyond ``max_radius`` for this channel.
        """
        c = check_channel(channel)
        pts, shape = as_points(ideal, "ideal")
        out = self._map(c, pts)
        r = np.hypot(pts[:, 0], pts[:, 1])
        limit = self._ideal_limit[c]
        bad = r > limit * (1 + 1e-12)
        out = _out_of_range("ideal", pts, bad, f"ideal radius <= {limit:.6g}", strict, out)
        return out.reshape(*shape, 2)

    def undistort(self, panel: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map panel points (..., 2) in tan units to ideal points (..., 2) (damped Newton).

        Raises:
            InputError: (with ``strict``) no ideal point within ``max_radius`` maps there.
        """
        c = check_channel(channel)
        pts, shape = as_points(panel, "panel")
        limit = self._ideal_limit[c]
        # Start from the radial-only inverse, then solve the full 2-D map.
        rp = np.hypot(pts[:, 0], pts[:, 1])
        r0 = solve_increasing(
            lambda r: self._radial(c, r),
            lambda r: (self._radial(c, r + 1e-7) - self._radial(c, r - 1e-7)) / 2e-7,
            np.minimum(rp, self._panel_limit[c]),
            limit,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            x0 = pts * np.where(rp > 0, r0 / rp, 1.0)[:, None]
        x, res = solve_2d(lambda q: self._map(c, q), pts, x0)
        bad = (res > INVERSE_TOL) | (np.hypot(x[:, 0], x[:, 1]) > limit * (1 + 1e-9))
        out = _out_of_range("panel", pts, bad, f"ideal radius <= {limit:.6g}", strict, x)
        return out.reshape(*shape, 2)

    def to_dict(self) -> dict[str, Any]:
        """Profile form: ``{"kind": "brown_conrady", "coefficients": [...] or {...}}``."""
        if self._per_channel:
            coeffs: Any = {n: v.tolist() for n, v in zip(CHANNELS, self.coefficients, strict=True)}
        else:
            coeffs = self.coefficients[1].tolist()
        return {"kind": self.kind, "coefficients": coeffs}

    def __repr__(self) -> str:
        return f"BrownConradyLens({self.to_dict()['coefficients']})"


# --------------------------------------------------------------------------------------------
# free-form grid (closed form panel -> ideal)


class GridLens(LensModel):
    """Free-form per-channel displacement grid, for non-radial and aspheric lenses.

    On a rectangular grid of panel points (tan units) the grid stores, per channel, the
    displacement ``ideal - panel``. Between knots a bicubic interpolating spline
    (``scipy.interpolate.RectBivariateSpline``, ``kx = ky = 3``) gives a smooth map with smooth
    derivatives; ``undistort`` evaluates it and ``distort`` inverts it by damped Newton. The grid
    is refused if the map folds (Jacobian determinant <= ``MIN_SLOPE**2``) anywhere in it.

    Args:
        x: (nx,) strictly increasing panel x knots, nx >= 4.
        y: (ny,) strictly increasing panel y knots, ny >= 4.
        displacement: (3, ny, nx, 2) ``ideal - panel`` per channel (red, green, blue), or
            (ny, nx, 2) for the same displacement on every channel.
    """

    kind: ClassVar[str] = "grid"

    def __init__(self, x: Sequence[float], y: Sequence[float], displacement: ArrayLike) -> None:
        from scipy.interpolate import RectBivariateSpline

        self.x = check_coefficients(x, "grid.x")
        self.y = check_coefficients(y, "grid.y")
        for name, knots in (("grid.x", self.x), ("grid.y", self.y)):
            if knots.size < 4:
                raise ProfileError(
                    f"{name} needs at least 4 knots for bicubic splines, got {knots.size}"
                )
            if np.any(np.diff(knots) <= 0):
                raise ProfileError(f"{name} must be strictly increasing, got {knots.tolist()}")
        try:
            disp = np.asarray(displacement, dtype=np.float64)
        except (TypeError, ValueError):
            raise ProfileError("grid.displacement must be nested lists of numbers") from None
        grid_shape = (self.y.size, self.x.size, 2)
        if disp.shape == grid_shape:
            disp = np.broadcast_to(disp, (3, *grid_shape)).copy()
        if disp.shape != (3, *grid_shape):
            raise ProfileError(
                f"grid.displacement must have shape {(3, *grid_shape)} (channel, y, x, xy) or "
                f"{grid_shape}, got {disp.shape}"
            )
        if not np.all(np.isfinite(disp)):
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(disp))[0])
            raise ProfileError(f"grid.displacement{list(idx)} must be finite, got {disp[idx]}")
        self.displacement = disp
        self._splines = [
            [RectBivariateSpline(self.x, self.y, disp[c, :, :, j].T, kx=3, ky=3) for j in (0, 1)]
            for c in range(3)
        ]
        self._check_fold()
        self._ideal_limit = np.array([self._inscribed_ideal_radius(c) for c in range(3)])

    def _map(self, c: int, pts: F64) -> F64:
        sx, sy = self._splines[c]
        x, y = pts[:, 0], pts[:, 1]
        return np.stack([x + sx.ev(x, y), y + sy.ev(x, y)], axis=1)

    def jacobian_det(self, pts: ArrayLike, channel: int = 1) -> F64:
        """Determinant of d(ideal)/d(panel) at panel points (N, 2) -> (N,)."""
        sx, sy = self._splines[check_channel(channel)]
        p, _ = as_points(pts, "panel")
        x, y = p[:, 0], p[:, 1]
        a = 1 + sx.ev(x, y, dx=1)
        b = sx.ev(x, y, dy=1)
        cc = sy.ev(x, y, dx=1)
        d = 1 + sy.ev(x, y, dy=1)
        return a * d - b * cc

    def _check_fold(self) -> None:
        xs = np.linspace(self.x[0], self.x[-1], 4 * self.x.size)
        ys = np.linspace(self.y[0], self.y[-1], 4 * self.y.size)
        gx, gy = np.meshgrid(xs, ys)
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        for c in range(3):
            det = self.jacobian_det(pts, c)
            if np.any(det <= MIN_SLOPE**2):
                i = int(np.argmin(det))
                raise ProfileError(
                    f"grid lens: {CHANNELS[c]} channel folds over near panel point "
                    f"{pts[i].round(4).tolist()} (Jacobian determinant {det[i]:.3g}); its inverse "
                    "does not exist there. Smooth the displacement or shrink the grid"
                )

    def _boundary(self, n: int = 256) -> F64:
        x0, x1, y0, y1 = self.x[0], self.x[-1], self.y[0], self.y[-1]
        t = np.linspace(0, 1, n, endpoint=False)
        return np.concatenate(
            [
                np.stack([x0 + (x1 - x0) * t, np.full(n, y0)], 1),
                np.stack([np.full(n, x1), y0 + (y1 - y0) * t], 1),
                np.stack([x1 - (x1 - x0) * t, np.full(n, y1)], 1),
                np.stack([np.full(n, x0), y1 - (y1 - y0) * t], 1),
            ]
        )

    def _inscribed_ideal_radius(self, c: int) -> float:
        edge = self._map(c, self._boundary())
        return float(min(np.hypot(edge[:, 0], edge[:, 1]).min(), RADIUS_CAP))

    @property
    def max_radius(self) -> float:
        """Radius of the largest ideal circle (about the axis) inside every channel's grid image."""
        return float(self._ideal_limit.min())

    @property
    def max_panel_radius(self) -> float:
        """Radius of the largest panel circle (about the axis) inside the grid rectangle."""
        return float(min(-self.x[0], self.x[-1], -self.y[0], self.y[-1]))

    def _outside(self, pts: F64) -> NDArray[np.bool_]:
        eps = 1e-12
        return (
            (pts[:, 0] < self.x[0] - eps)
            | (pts[:, 0] > self.x[-1] + eps)
            | (pts[:, 1] < self.y[0] - eps)
            | (pts[:, 1] > self.y[-1] + eps)
        )

    def _limit_text(self) -> str:
        return (
            f"panel x in [{self.x[0]:.4g}, {self.x[-1]:.4g}], "
            f"y in [{self.y[0]:.4g}, {self.y[-1]:.4g}]"
        )

    def undistort(self, panel: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map panel points (..., 2) in tan units to ideal points (..., 2) (spline evaluation).

        Raises:
            InputError: (with ``strict``) a point lies outside the grid rectangle.
        """
        c = check_channel(channel)
        pts, shape = as_points(panel, "panel")
        out = self._map(c, pts)
        out = _out_of_range("panel", pts, self._outside(pts), self._limit_text(), strict, out)
        return out.reshape(*shape, 2)

    def distort(self, ideal: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map ideal points (..., 2) to panel points (..., 2) (damped Newton on the spline).

        Raises:
            InputError: (with ``strict``) no panel point inside the grid maps to the point.
        """
        c = check_channel(channel)
        pts, shape = as_points(ideal, "ideal")
        x0 = pts - (self._map(c, pts) - pts)  # one fixed-point step from the identity
        lo = np.array([self.x[0], self.y[0]])
        hi = np.array([self.x[-1], self.y[-1]])
        x0 = np.clip(x0, lo, hi)
        x, res = solve_2d(lambda q: self._map(c, q), pts, x0)
        bad = (res > INVERSE_TOL) | self._outside(x)
        out = _out_of_range("ideal", pts, bad, f"image of {self._limit_text()}", strict, x)
        return out.reshape(*shape, 2)

    def to_dict(self) -> dict[str, Any]:
        """Profile form: ``{"kind": "grid", "x", "y", "displacement" (3, ny, nx, 2)}``."""
        return {
            "kind": self.kind,
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "displacement": self.displacement.tolist(),
        }

    def __repr__(self) -> str:
        return f"GridLens({self.x.size}x{self.y.size} knots)"


# --------------------------------------------------------------------------------------------
# models defined on the eye viewport's UV square (North Star, lighthouse, OSVR)


def _viewport_tan(values: Any, field: str) -> tuple[float, float, float, float]:
    arr = check_coefficients(values, field, (4,))
    left, right, bottom, top = (float(v) for v in arr)
    if not (left < right and bottom < top):
        raise ProfileError(
            f"{field} must be [left, right, bottom, top] with left < right and bottom < top, "
            f"got {arr.tolist()}"
        )
    return left, right, bottom, top


def _pair(values: Any, field: str, positive: bool = False) -> F64:
    arr = check_coefficients(values, field, (2,))
    if positive and np.any(arr <= 0):
        raise ProfileError(f"{field} must be two positive numbers, got {arr.tolist()}")
    return arr


class ViewportLens(LensModel):
    """Base of models given as a map from the eye viewport's UV square to ideal tan angles.

    Some tools define the lens on the eye's viewport itself: ``(u, v)`` in [0, 1] x [0, 1], u
    from the viewport's left edge to its right and v from its bottom edge to its top (the
    convention of Monado's ``compute_distortion`` functions and of OSVR's normalized
    coordinates). ``viewport_tan`` places that square in panel tan units about the model's
    origin: ``u = (x - left) / (right - left)``, ``v = (y - bottom) / (top - bottom)``; the
    headset profile's geometry must give the same extent (the loader checks it).

    ``undistort`` evaluates the subclass's closed form :meth:`_map`; ``distort`` inverts it by
    damped Newton from the nearest entry of a 65 x 65 table. Usable range: the part of the UV
    square where :meth:`_valid` holds and the map does not fold, as the connected region of
    same-signed Jacobian determinant around the viewport centre (97 x 97 samples); panel points
    outside it raise :class:`~vrkit.core.errors.InputError` (or give NaN with ``strict=False``),
    so the mesh draws them black. A map folding at the viewport centre is refused at load.
    """

    TABLE: ClassVar[int] = 65
    FOLD_GRID: ClassVar[int] = 97
    INVERSE_GRID: ClassVar[int] = 129

    def _map(self, c: int, uv: F64) -> F64:
        """Ideal tan angles (N, 2) of viewport points ``uv`` (N, 2) for channel ``c``."""
        raise NotImplementedError

    def _valid(self, c: int, uv: F64) -> NDArray[np.bool_]:
        """Extra usable-range condition of the subclass (N,), all True by default."""
        return np.ones(len(uv), dtype=bool)

    def _setup_viewport(self, viewport_tan: Any, field: str) -> None:
        self.viewport_tan = _viewport_tan(viewport_tan, field)
        left, right, bottom, top = self.viewport_tan
        self._origin = np.array([left, bottom])
        self._span = np.array([right - left, top - bottom])
        n = self.FOLD_GRID
        g = np.linspace(0.0, 1.0, n)
        uu, vv = np.meshgrid(g, g)
        grid = np.stack([uu.ravel(), vv.ravel()], axis=1)
        self._region = []
        for c in range(3):
            ideal = self._map(c, grid)
            if not np.all(np.isfinite(ideal[self._valid(c, grid)])):
                raise ProfileError(
                    f"{self.kind} lens: the {CHANNELS[c]} channel gives non-finite directions "
                    "inside the viewport (check the coefficients)"
                )
            self._region.append(self._unfolded_region(c, grid).reshape(n, n))
        t = np.linspace(0.0, 1.0, self.TABLE)
        tu, tv = np.meshgrid(t, t)
        self._table_uv = np.stack([tu.ravel(), tv.ravel()], axis=1)
        self._trees: list[Any] = [None, None, None]
        self._inverse: list[Any] = [None, None, None]
        edge_uv = self._region_edge_uv()
        self._ideal_limit = np.array(
            [min(float(np.hypot(*self._map(c, edge_uv[c]).T).max()), RADIUS_CAP) for c in range(3)]
        )
        panel_edge = np.concatenate([self.uv_to_panel(e) for e in edge_uv])
        self._panel_limit = float(np.hypot(*panel_edge.T).min())
        jx, jy = self._jacobian(1, np.array([[0.5, 0.5]]))
        self._signs = (int(np.sign(jx[0, 0]) or 1), int(np.sign(jy[0, 1]) or 1))

    def _jacobian(self, c: int, uv: F64, h: float = 1e-6) -> tuple[F64, F64]:
        """Columns d(ideal)/du and d(ideal)/dv at ``uv`` (N, 2) each, by central differences."""
        ex, ey = np.array([h, 0.0]), np.array([0.0, h])
        jx = (self._map(c, uv + ex) - self._map(c, uv - ex)) / (2 * h)
        jy = (self._map(c, uv + ey) - self._map(c, uv - ey)) / (2 * h)
        return jx, jy

    def _unfolded_region(self, c: int, grid: F64) -> NDArray[np.bool_]:
        from scipy import ndimage

        n = self.FOLD_GRID
        jx, jy = self._jacobian(c, grid)
        det = (jx[:, 0] * jy[:, 1] - jy[:, 0] * jx[:, 1]).reshape(n, n)
        centre = det[n // 2, n // 2]
        scale = float(np.median(np.abs(det)))
        ok = (np.sign(det) == np.sign(centre)) & (np.abs(det) > MIN_SLOPE**2 * scale)
        ok &= self._valid(c, grid).reshape(n, n)
        if not ok[n // 2, n // 2]:
            raise ProfileError(
                f"{self.kind} lens: the {CHANNELS[c]} channel folds (or leaves its usable range) "
                "at the viewport centre; its inverse does not exist there"
            )
        labels, _ = ndimage.label(ok)
        return (labels == labels[n // 2, n // 2]).ravel()

    def _region_edge_uv(self) -> list[F64]:
        """Per channel, UV points (N, 2) on the border of the usable region.

        The border is the viewport's edge, or where the map folds or leaves its range.
        """
        n = self.FOLD_GRID
        g = np.linspace(0.0, 1.0, n)
        out = []
        for region in self._region:
            padded = np.pad(region, 1, constant_values=False)
            inner = (
                padded[1:-1, 1:-1]
                & padded[:-2, 1:-1]
                & padded[2:, 1:-1]
                & padded[1:-1, :-2]
                & padded[1:-1, 2:]
            )
            iy, ix = np.nonzero(region & ~inner)
            out.append(np.stack([g[ix], g[iy]], axis=1))
        return out

    def _in_region(self, c: int, uv: F64) -> NDArray[np.bool_]:
        eps = 1e-9
        inside = np.all((uv >= -eps) & (uv <= 1 + eps), axis=1)
        n = self.FOLD_GRID
        idx = np.clip(np.rint(np.nan_to_num(uv) * (n - 1)).astype(int), 0, n - 1)
        return inside & self._region[c][idx[:, 1], idx[:, 0]] & self._valid(c, uv)

    def panel_to_uv(self, panel: ArrayLike) -> F64:
        """Viewport UV (N, 2) of panel tan points (N, 2)."""
        return (np.asarray(panel, dtype=np.float64) - self._origin) / self._span

    def uv_to_panel(self, uv: ArrayLike) -> F64:
        """Panel tan points (N, 2) of viewport UV points (N, 2)."""
        return self._origin + np.asarray(uv, dtype=np.float64) * self._span

    @property
    def axis_signs(self) -> tuple[int, int]:
        """Signs of d(ideal x)/du and d(ideal y)/dv at the viewport centre (green)."""
        return self._signs

    @property
    def max_radius(self) -> float:
        """Farthest ideal radius (tan units) the usable region reaches, smallest over channels.

        The region is the viewport's image, usually off-centre (an eye sees more towards the
        temple), not a disc about the axis: a direction within this radius may still fall
        outside it, and ``distort`` says so per point. An inscribed radius would refuse the
        profile's own field of view.
        """
        return float(self._ideal_limit.min())

    @property
    def max_panel_radius(self) -> float:
        """Radius of the largest panel circle about the origin inside the usable region."""
        return self._panel_limit

    def _limit_text(self) -> str:
        left, right, bottom, top = self.viewport_tan
        return (
            f"panel x in [{left:.4g}, {right:.4g}], y in [{bottom:.4g}, {top:.4g}] "
            "where the map does not fold"
        )

    def undistort(self, panel: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map panel points (..., 2) in tan units to ideal points (..., 2) (closed form).

        Raises:
            InputError: (with ``strict``) a point lies outside the usable region.
        """
        c = check_channel(channel)
        pts, shape = as_points(panel, "panel")
        uv = self.panel_to_uv(pts)
        out = self._map(c, uv)
        bad = ~self._in_region(c, uv)
        out = _out_of_range("panel", pts, bad, self._limit_text(), strict, out)
        return out.reshape(*shape, 2)

    def _nearest_uv(self, c: int, pts: F64) -> F64:
        """Viewport UV of the table entry whose image is nearest to each point (N, 2)."""
        from scipy.spatial import cKDTree

        if self._trees[c] is None:
            self._trees[c] = cKDTree(self._map(c, self._table_uv))
        _, idx = self._trees[c].query(pts)
        return self._table_uv[idx]

    def _inverse_table(self, c: int) -> tuple[F64, F64, F64]:
        """The inverse solved on a regular grid over the ideal-space bounding box (cached).

        Returns:
            ``(origin (2,), step (2,), table (2, n, n))``: UV per node, NaN where no usable
            panel point maps there.
        """
        if self._inverse[c] is None:
            image = self._map(c, self._table_uv)
            lo, hi = image.min(axis=0), image.max(axis=0)
            n = self.INVERSE_GRID
            step = (hi - lo) / (n - 1)
            gx, gy = np.meshgrid(lo[0] + step[0] * np.arange(n), lo[1] + step[1] * np.arange(n))
            nodes = np.stack([gx.ravel(), gy.ravel()], axis=1)
            uv, res = solve_2d(lambda q: self._map(c, q), nodes, self._nearest_uv(c, nodes))
            uv[(res > INVERSE_TOL) | ~self._in_region(c, uv)] = np.nan
            self._inverse[c] = (lo, step, uv.T.reshape(2, n, n))
        return self._inverse[c]

    def distort(self, ideal: ArrayLike, channel: int = 1, strict: bool = True) -> F64:
        """Map ideal points (..., 2) to panel points (..., 2) (damped Newton on the closed form).

        The start is the inverse interpolated bilinearly from a 129 x 129 table solved once per
        channel (the nearest table image where that is undefined), so Newton needs a step or
        two.

        Raises:
            InputError: (with ``strict``) no panel point in the usable region maps there.
        """
        from scipy.ndimage import map_coordinates

        c = check_channel(channel)
        pts, shape = as_points(ideal, "ideal")
        lo, step, table = self._inverse_table(c)
        idx = ((pts - lo) / step)[:, ::-1].T  # (row, column) = (y, x)
        uv0 = np.stack(
            [map_coordinates(t, idx, order=1, mode="constant", cval=np.nan) for t in table], 1
        )
        missing = ~np.all(np.isfinite(uv0), axis=1)
        if missing.any():
            uv0[missing] = self._nearest_uv(c, pts[missing])
        uv, res = solve_2d(lambda q: self._map(c, q), pts, uv0)
        bad = (res > INVERSE_TOL) | ~self._in_region(c, uv)
        out = _out_of_range(
            "ideal", pts, bad, f"image of {self._limit_text()}", strict, self.uv_to_panel(uv)
        )
        return out.reshape(*shape, 2)


def _poly2d_cubic(values: Any, field: str) -> F64:
    arr = check_coefficients(values, field, (16,))
    return arr.reshape(4, 4)


class NorthStarLens(ViewportLens):
    """Project North Star "v2" calibration: two cubic 2-D polynomials per eye (Monado's form).

    The Gen 2 calibrator (leapmotion/ProjectNorthStar, ``NorthStarCalibration.json``) fits, per
    eye, 16 coefficients ``C`` of ``P(X, Y) = sum_ij C[4 i + j] X^i Y^j``. Monado's north_star
    driver (``ns_p2d_parse``, ``u_compute_distortion_ns_p2d``) evaluates them with ``X = u`` and
    ``Y = 1 - v`` (v measured from the viewport's bottom) and swaps the names: the ray's x is
    ``P(u, 1 - v; uv_to_rect_y)`` and its y is ``P(u, 1 - v; uv_to_rect_x)`` (x right, y up, tan
    units). vrkit uses exactly that, so ``undistort`` is Monado's ray for a panel point. The
    combiner mirror shows the panel upside down, so ``axis_signs`` is ``(1, -1)`` for real files.
    One map for all channels.

    Args:
        uv_to_rect_x: 16 coefficients as in the file (Monado's ray y).
        uv_to_rect_y: 16 coefficients as in the file (Monado's ray x).
        viewport_tan: The eye viewport ``[left, right, bottom, top]`` in panel tan units.
    """

    kind: ClassVar[str] = "north_star"

    def __init__(
        self, uv_to_rect_x: Sequence[float], uv_to_rect_y: Sequence[float], viewport_tan: Any
    ) -> None:
        self.uv_to_rect_x = _poly2d_cubic(uv_to_rect_x, "north_star.uv_to_rect_x")
        self.uv_to_rect_y = _poly2d_cubic(uv_to_rect_y, "north_star.uv_to_rect_y")
        self._setup_viewport(viewport_tan, "north_star.viewport_tan")

    @staticmethod
    def _poly(C: F64, X: F64, Y: F64) -> F64:
        """``sum_ij C[i, j] X^i Y^j`` by Horner's rule in both variables."""
        out = np.zeros_like(X)
        for i in range(3, -1, -1):
            out = out * X + (((C[i, 3] * Y + C[i, 2]) * Y + C[i, 1]) * Y + C[i, 0])
        return out

    def _map(self, c: int, uv: F64) -> F64:
        u, w = uv[:, 0], 1.0 - uv[:, 1]
        return np.stack(
            [self._poly(self.uv_to_rect_y, u, w), self._poly(self.uv_to_rect_x, u, w)], 1
        )

    def to_dict(self) -> dict[str, Any]:
        """Profile form: ``{"kind": "north_star", "uv_to_rect_x", "uv_to_rect_y", ...}``."""
        return {
            "kind": self.kind,
            "uv_to_rect_x": self.uv_to_rect_x.ravel().tolist(),
            "uv_to_rect_y": self.uv_to_rect_y.ravel().tolist(),
            "viewport_tan": list(self.viewport_tan),
        }

    def __repr__(self) -> str:
        return f"NorthStarLens(viewport_tan={[round(v, 4) for v in self.viewport_tan]})"


class LighthouseLens(ViewportLens):
    """Valve lighthouse ``DISTORT_DPOLY3`` lens (Vive, Vive Pro, Index), as Monado draws it.

    Per channel (the config's ``distortion_red``, ``distortion``, ``distortion_blue``) with
    centre ``(cx_c, cy_c)`` and coefficients ``k1..k4``, Monado's ``u_compute_distortion_vive``
    takes ``p = (2u - 1 - cx_c, (2v - 1) / aspect - cy_c)``, ``d = 1 / (1 + k1 r^2 + k2 r^4 +
    k3 r^6) + k4`` and samples the eye image at ``q = p d + (cx_c, cy_c)`` (scaled by ``1 / (1 +
    grow_for_undistort)``); the eye image covers the frustum ``vive_config.c`` derives from the
    eye's ``intrinsics`` (``_calculate_fov``). Carried through, the direction of a panel point is
    ``((q_x + pcx) / fx, (q_y aspect + pcy) / fy)`` in tan units, where ``fx, fy, pcx, pcy`` are
    the intrinsics' focal and centre terms; ``grow_for_undistort`` cancels.

    Args:
        centers: (3, 2) per-channel distortion centres (red, green, blue).
        coefficients: (3, 4) per-channel ``[k1, k2, k3, k4]``.
        aspect_x_over_y: The display's physical aspect (``device.physical_aspect_x_over_y``).
        focal: ``[fx, fy]`` from the intrinsics matrix.
        projection_center: ``[pcx, pcy]`` from the intrinsics matrix.
        viewport_tan: The eye viewport ``[left, right, bottom, top]`` in panel tan units.
        undistort_r2_cutoff: Largest ``r^2`` the polynomial is trusted at, or None.
    """

    kind: ClassVar[str] = "lighthouse"

    def __init__(
        self,
        centers: Any,
        coefficients: Any,
        aspect_x_over_y: float,
        focal: Sequence[float],
        projection_center: Sequence[float],
        viewport_tan: Any,
        undistort_r2_cutoff: float | None = None,
    ) -> None:
        self.centers = np.array(
            [
                _pair(v, f"lighthouse.centers[{i}]")
                for i, v in enumerate(_three(centers, "lighthouse.centers"))
            ]
        )
        self.coefficients = np.array(
            [
                check_coefficients(v, f"lighthouse.coefficients[{i}]", (4,))
                for i, v in enumerate(_three(coefficients, "lighthouse.coefficients"))
            ]
        )
        aspect = _positive_or_none(aspect_x_over_y, "lighthouse.aspect_x_over_y")
        self.aspect_x_over_y = float(aspect)  # type: ignore[arg-type]
        self.focal = _pair(focal, "lighthouse.focal", positive=True)
        self.projection_center = _pair(projection_center, "lighthouse.projection_center")
        self.undistort_r2_cutoff = _positive_or_none(
            undistort_r2_cutoff, "lighthouse.undistort_r2_cutoff"
        )
        self._setup_viewport(viewport_tan, "lighthouse.viewport_tan")

    def _p(self, c: int, uv: F64) -> F64:
        return np.stack(
            [
                2 * uv[:, 0] - 1 - self.centers[c, 0],
                (2 * uv[:, 1] - 1) / self.aspect_x_over_y - self.centers[c, 1],
            ],
            axis=1,
        )

    def _map(self, c: int, uv: F64) -> F64:
        p = self._p(c, uv)
        k1, k2, k3, k4 = self.coefficients[c]
        r2 = p[:, 0] ** 2 + p[:, 1] ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            d = 1.0 / (1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))) + k4
        q = p * d[:, None] + self.centers[c]
        fx, fy = self.focal
        pcx, pcy = self.projection_center
        return np.stack([(q[:, 0] + pcx) / fx, (q[:, 1] * self.aspect_x_over_y + pcy) / fy], 1)

    def _valid(self, c: int, uv: F64) -> NDArray[np.bool_]:
        if self.undistort_r2_cutoff is None:
            return np.ones(len(uv), dtype=bool)
        p = self._p(c, uv)
        return p[:, 0] ** 2 + p[:, 1] ** 2 <= self.undistort_r2_cutoff

    def to_dict(self) -> dict[str, Any]:
        """Profile form: ``{"kind": "lighthouse", "centers", "coefficients", ...}``."""
        d: dict[str, Any] = {
            "kind": self.kind,
            "centers": self.centers.tolist(),
            "coefficients": self.coefficients.tolist(),
            "aspect_x_over_y": self.aspect_x_over_y,
            "focal": self.focal.tolist(),
            "projection_center": self.projection_center.tolist(),
            "viewport_tan": list(self.viewport_tan),
        }
        if self.undistort_r2_cutoff is not None:
            d["undistort_r2_cutoff"] = self.undistort_r2_cutoff
        return d

    def __repr__(self) -> str:
        return f"LighthouseLens(green k={self.coefficients[1].tolist()})"


def _three(values: Any, field: str) -> list[Any]:
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, (Sequence, np.ndarray)):
        raise ProfileError(
            f"{field} must be a list of 3 entries (red, green, blue), got {short_repr(values)}"
        )
    if len(values) != 3:
        raise ProfileError(f"{field} must have 3 entries (red, green, blue), got {len(values)}")
    return list(values)


class OsvrLens(ViewportLens):
    """OSVR RenderManager ``rgb_symmetric_polynomials`` lens with its centre-of-projection frustum.

    RenderManager (``DistortionCorrectRGBSymmetricPolynomials``) takes a screen point in the
    eye's normalized coordinates ``(u, v)`` (origin lower left), scales it by ``distance_scale``
    ``D``, measures ``r`` from the centre of projection ``COP`` there and samples the eye image at
    ``COP + (sum_i c_i r^i) (xy_D - COP) / r``, divided by ``D`` again. The eye image is rendered
    (``ConstructProjection``) with tan half-angles ``tan(h / 2)``, ``tan(v / 2)`` of the
    monocular field of view shifted so that the COP is its axis: texture point ``(s, t)`` looks
    along ``(2 tan(h/2) (s - COP_x), 2 tan(v/2) (t - COP_y))``.

    Args:
        polynomials: Three coefficient lists (red, green, blue), ascending powers of ``r``.
        distance_scale: ``[Dx, Dy]``.
        center_of_projection: ``[COP_x, COP_y]`` in normalized coordinates.
        fov_deg: ``[horizontal, vertical]`` monocular field of view in degrees.
        viewport_tan: The eye viewport ``[left, right, bottom, top]`` in panel tan units.
    """

    kind: ClassVar[str] = "osvr"

    def __init__(
        self,
        polynomials: Any,
        distance_scale: Sequence[float],
        center_of_projection: Sequence[float],
        fov_deg: Sequence[float],
        viewport_tan: Any,
    ) -> None:
        self.polynomials = [
            check_coefficients(v, f"osvr.polynomials[{i}]", max_count=MAX_RADIAL_TERMS)
            for i, v in enumerate(_three(polynomials, "osvr.polynomials"))
        ]
        for i, p in enumerate(self.polynomials):
            if p.size < 2:
                raise ProfileError(
                    f"osvr.polynomials[{i}] needs at least 2 coefficients, got {p.tolist()}"
                )
        self.distance_scale = _pair(distance_scale, "osvr.distance_scale", positive=True)
        self.center_of_projection = _pair(center_of_projection, "osvr.center_of_projection")
        self.fov_deg = _pair(fov_deg, "osvr.fov_deg", positive=True)
        if np.any(self.fov_deg >= 180):
            raise ProfileError(
                f"osvr.fov_deg must be below 180 degrees, got {self.fov_deg.tolist()}"
            )
        self._half_tan = np.tan(np.radians(self.fov_deg) / 2)
        self._setup_viewport(viewport_tan, "osvr.viewport_tan")

    def _map(self, c: int, uv: F64) -> F64:
        D, cop = self.distance_scale, self.center_of_projection
        diff = uv * D - cop
        r = np.hypot(diff[:, 0], diff[:, 1])
        r_new = npoly.polyval(r, self.polynomials[c])
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(r > 0, r_new / r, 1.0)
        st = (cop + diff * scale[:, None]) / D
        return 2 * self._half_tan * (st - cop)

    def to_dict(self) -> dict[str, Any]:
        """Profile form: ``{"kind": "osvr", "polynomials", "distance_scale", ...}``."""
        return {
            "kind": self.kind,
            "polynomials": [p.tolist() for p in self.polynomials],
            "distance_scale": self.distance_scale.tolist(),
            "center_of_projection": self.center_of_projection.tolist(),
            "fov_deg": self.fov_deg.tolist(),
            "viewport_tan": list(self.viewport_tan),
        }

    def __repr__(self) -> str:
        return f"OsvrLens(green={self.polynomials[1].tolist()})"


# --------------------------------------------------------------------------------------------
# factory

MODEL_KINDS: dict[str, type[LensModel]] = {
    RadialPolynomialLens.kind: RadialPolynomialLens,
    BrownConradyLens.kind: BrownConradyLens,
    PanotoolsLens.kind: PanotoolsLens,
    GridLens.kind: GridLens,
    NorthStarLens.kind: NorthStarLens,
    LighthouseLens.kind: LighthouseLens,
    OsvrLens.kind: OsvrLens,
}

_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required, optional)
    "radial": ({"k"}, {"channel_scale", "max_panel_radius"}),
    "brown_conrady": ({"coefficients"}, set()),
    "panotools": ({"k"}, {"chroma", "unit", "form", "max_panel_radius"}),
    "grid": ({"x", "y", "displacement"}, set()),
    "north_star": ({"uv_to_rect_x", "uv_to_rect_y", "viewport_tan"}, set()),
    "lighthouse": (
        {
            "centers",
            "coefficients",
            "aspect_x_over_y",
            "focal",
            "projection_center",
            "viewport_tan",
        },
        {"undistort_r2_cutoff"},
    ),
    "osvr": (
        {"polynomials", "distance_scale", "center_of_projection", "fov_deg", "viewport_tan"},
        set(),
    ),
}


def lens_model_from_dict(data: Any, path: str = "lens") -> LensModel:
    """Build a lens model from its profile form (the output of ``to_dict``).

    Args:
        data: A dict with ``"kind"`` and the model's parameters.
        path: Field path of ``data`` in the enclosing file, used in error messages.

    Raises:
        ProfileError: Unknown kind, missing or unknown fields, or invalid values; the message
            names the field path and the offending value.
    """
    if not isinstance(data, dict):
        raise ProfileError(f"{path} must be an object with a 'kind', got {short_repr(data)}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise ProfileError(
            f"{path}.kind: unknown lens model {short_repr(kind)}; expected one of "
            f"{sorted(MODEL_KINDS)}"
        )
    required, optional = _FIELDS[kind]
    params = {k: v for k, v in data.items() if k != "kind"}
    missing = sorted(required - set(params))
    if missing:
        raise ProfileError(f"{path}: {kind} lens model is missing field(s) {missing}")
    unknown = sorted(set(params) - required - optional)
    if unknown:
        raise ProfileError(
            f"{path}: unknown field(s) {short_repr(unknown)} for a {kind} lens model; "
            f"allowed: {sorted(required | optional)}"
        )
    try:
        return MODEL_KINDS[kind](**params)
    except ProfileError as exc:
        # Re-anchor "radial.k[1] ..." messages on the caller's path.
        msg = str(exc)
        prefix = f"{kind}."
        if msg.startswith(prefix):
            msg = f"{path}.{msg[len(prefix) :]}"
        else:
            msg = f"{path}: {msg}"
        raise ProfileError(msg) from None
