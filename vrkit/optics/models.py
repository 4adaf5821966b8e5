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
from vrkit.optics.base import CHANNELS, LensModel
from vrkit.optics.solve import solve_2d, solve_increasing

F64 = NDArray[np.float64]

#: Radial slope (relative to the centre) below which a model is no longer considered usable.
MIN_SLOPE = 0.01
#: Largest radius (tan units, about 87.1 degrees) any model is used at, on either side.
RADIUS_CAP = 20.0
#: Round-trip tolerance (tan units) that a solved inverse must meet or the point is rejected.
INVERSE_TOL = 1e-9


# --------------------------------------------------------------------------------------------
# validation helpers


def check_coefficients(values: Any, field: str, count: Sequence[int] | None = None) -> F64:
    """Return coefficients as a finite float64 vector or raise naming the field.

    Args:
        values: A sequence of numbers.
        field: Field path used in the error message, e.g. ``"lens.k"``.
        count: Allowed lengths, or None for any length >= 1.

    Raises:
        ProfileError: Not a list of finite numbers, or a length not in ``count``.
    """
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, (Sequence, np.ndarray)):
        raise ProfileError(f"{field} must be a list of numbers, got {values!r}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProfileError(f"{field} must be a list of numbers, got {values!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ProfileError(f"{field} must be a non-empty flat list of numbers, got {values!r}")
    if count is not None and arr.size not in count:
        raise ProfileError(
            f"{field} must have {' or '.join(map(str, count))} values, got {arr.size}: {values!r}"
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise ProfileError(f"{field}[{i}] must be a finite number, got {float(arr[i])}")
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
        self.k = check_coefficients(k, "radial.k")
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
            raise ProfileError(f"panotools.form must be one of {list(self.FORMS)}, got {form!r}")
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
        raise ProfileError(f"{field} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ProfileError(f"{field} must be a positive finite number, got {value!r}")
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
# factory

MODEL_KINDS: dict[str, type[LensModel]] = {
    RadialPolynomialLens.kind: RadialPolynomialLens,
    BrownConradyLens.kind: BrownConradyLens,
    PanotoolsLens.kind: PanotoolsLens,
    GridLens.kind: GridLens,
}

_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required, optional)
    "radial": ({"k"}, {"channel_scale", "max_panel_radius"}),
    "brown_conrady": ({"coefficients"}, set()),
    "panotools": ({"k"}, {"chroma", "unit", "form", "max_panel_radius"}),
    "grid": ({"x", "y", "displacement"}, set()),
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
        raise ProfileError(f"{path} must be an object with a 'kind', got {data!r}")
    kind = data.get("kind")
    if kind not in MODEL_KINDS:
        raise ProfileError(
            f"{path}.kind: unknown lens model {kind!r}; expected one of {sorted(MODEL_KINDS)}"
        )
    required, optional = _FIELDS[kind]
    params = {k: v for k, v in data.items() if k != "kind"}
    missing = sorted(required - set(params))
    if missing:
        raise ProfileError(f"{path}: {kind} lens model is missing field(s) {missing}")
    unknown = sorted(set(params) - required - optional)
    if unknown:
        raise ProfileError(
            f"{path}: unknown field(s) {unknown} for a {kind} lens model; "
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
