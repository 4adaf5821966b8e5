"""Project North Star "v2" calibration files and Monado's north_star driver config.

The Gen 2 calibrator of leapmotion/ProjectNorthStar writes ``NorthStarCalibration.json``:
``baseline`` (the IPD in millimetres) and, per eye, two 16-coefficient cubic 2-D polynomials
``<eye>_uv_to_rect_x`` / ``<eye>_uv_to_rect_y``. Monado's north_star driver reads the same keys
(``ns_p2d_parse``; also ``ipd`` / ``IPD`` for the baseline and an optional ``fov``, four
radians ``[left, right, up, down]`` or one half-angle) from the file named by
``NS_CONFIG_PATH``, and draws with ``u_compute_distortion_ns_p2d``. vrkit keeps the
coefficients as they are in a ``north_star`` lens model
(:class:`vrkit.optics.models.NorthStarLens`), which evaluates them exactly as Monado does.

The file has no panel: an import uses the North Star Gen 2 display Monado's driver assumes (two
1440 x 1600 panels side by side, 117.6 x 65.5 mm). The lens centres are put where each eye's
polynomial looks straight ahead (averaged into vrkit's symmetric geometry), and the
screen-to-lens distance is chosen so that panel tan units match the eye's at that point; the
lens models carry the rest, so the choice changes no direction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.polynomial import polynomial as npoly

from vrkit.core.errors import DataError, InputError, ProfileError
from vrkit.interop._common import ARCMIN, lateral_colour_arcmin, ray_angle
from vrkit.interop._geometry import with_viewport_lenses
from vrkit.optics.models import NorthStarLens
from vrkit.optics.profile import EYE_NAMES, HeadsetProfile

KEYS = ("left_uv_to_rect_x", "left_uv_to_rect_y", "right_uv_to_rect_x", "right_uv_to_rect_y")
#: The North Star Gen 2 display as Monado's north_star driver sets it up.
NS_PANEL: dict[str, Any] = {"resolution_px": [2880, 1600], "size_m": [0.1176, 0.0655]}
#: Monado's fov when the file has none (radians, each side).
MONADO_DEFAULT_HALF_FOV = 0.7


def is_northstar(data: Any) -> bool:
    """True for a JSON object with any of the v2 polynomial keys."""
    return isinstance(data, dict) and any(k in data for k in KEYS)


def _coefficients(data: dict[str, Any], key: str) -> list[float]:
    values = data.get(key)
    if values is None:
        raise DataError(f"North Star calibration has no {key!r} (16 coefficients per polynomial)")
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise DataError(f"North Star calibration {key!r} must be a list of numbers, got {values!r}")
    if len(values) != 16:
        raise DataError(
            f"North Star calibration {key!r} has {len(values)} coefficients, expected 16 (a 4 x 4"
            " cubic 2-D polynomial)"
        )
    if not all(math.isfinite(v) for v in values):
        raise DataError(f"North Star calibration {key!r} holds a non-finite number: {values}")
    return [float(v) for v in values]


def _baseline_mm(data: dict[str, Any], notes: list[str]) -> float:
    for key in ("baseline", "ipd", "IPD"):
        value = data.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(f"North Star calibration {key!r} must be a number, got {value!r}")
            if not 10 <= value <= 250:
                raise DataError(
                    f"North Star calibration {key!r} = {value} is not an IPD in millimetres "
                    "(expected 10 to 250)"
                )
            return float(value)
    notes.append("no baseline/ipd in the file: 64 mm assumed (as Monado does)")
    return 64.0


def _fov_rad(data: dict[str, Any]) -> list[float] | None:
    """Monado's ``fov``: four radians ``[left, right, up, down]`` or one half-angle; or None."""
    for key in ("fov", "FOV"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [-float(value), float(value), float(value), -float(value)]
        if (
            isinstance(value, list)
            and len(value) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            fov = [float(v) for v in value]
            if not (fov[0] < fov[1] and fov[3] < fov[2] and all(abs(v) < math.pi / 2 for v in fov)):
                raise DataError(
                    f"North Star calibration {key!r} {value} is not [left, right, up, down] "
                    "radians with left < right, down < up, each within 90 degrees"
                )
            return fov
        raise DataError(
            f"North Star calibration {key!r} must be four radians [left, right, up, down] or one "
            f"half-angle, got {value!r}"
        )
    return None


def _axis_uv(lens: NorthStarLens) -> tuple[np.ndarray, float]:
    """Viewport UV where the polynomial looks straight ahead, and d(ray x)/du there."""
    uv = lens.distort(np.zeros((1, 2)), 1, strict=False)[0]
    if not np.all(np.isfinite(uv)):
        uv = np.array([0.5, 0.5])
    jx, _ = lens._jacobian(1, uv[None, :])
    return uv, float(abs(jx[0, 0]))


def profile_from_northstar(
    data: Any,
    panel: dict[str, Any] | None = None,
    name: str | None = None,
    source: str = "",
    refresh_hz: float = 120.0,
) -> tuple[dict[str, Any], list[str]]:
    """A headset profile (JSON data) from a North Star v2 calibration (or Monado NS config).

    Args:
        data: The parsed JSON object.
        panel: ``{"resolution_px", "size_m", "refresh_hz"}``; the Gen 2 display when None.
        name: Profile name (default ``north-star``).
        source: Where the file came from.
        refresh_hz: Refresh rate when ``panel`` is None (the file has none).

    Returns:
        ``(profile data, notes)``.

    Raises:
        DataError: A missing or malformed key (naming it and what was expected).
    """
    if not isinstance(data, dict):
        raise DataError(f"a North Star calibration is a JSON object, got {type(data).__name__}")
    notes: list[str] = []
    coeffs = {k: _coefficients(data, k) for k in KEYS}
    baseline = _baseline_mm(data, notes)
    fov = _fov_rad(data)
    if panel is None:
        panel = {**NS_PANEL, "refresh_hz": refresh_hz}
        notes.append(
            f"panel: the North Star Gen 2 display (2 x 1440x1600, 117.6 x 65.5 mm) Monado's "
            f"driver assumes, {refresh_hz:g} Hz assumed (the file has no refresh rate)"
        )
    (wpx, hpx), (wm, hm) = panel["resolution_px"], panel["size_m"]
    unit = [0.0, 1.0, 0.0, 1.0]
    try:
        unit_lenses = [
            NorthStarLens(coeffs[f"{e}_uv_to_rect_x"], coeffs[f"{e}_uv_to_rect_y"], unit)
            for e in EYE_NAMES
        ]
    except ProfileError as exc:
        raise DataError(f"North Star calibration: {exc}") from None
    axes = [_axis_uv(lens) for lens in unit_lenses]
    eye_w = wm / 2
    x_l = axes[0][0][0] * eye_w
    x_r = eye_w + axes[1][0][0] * eye_w
    height = float(np.mean([a[0][1] for a in axes]) * hm)
    s2l = round(eye_w / np.mean([a[1] for a in axes]), 5)
    sep = round(x_r - x_l, 6)
    limits = {"outer": 80.0, "inner": 80.0, "up": 80.0, "down": 80.0}
    if fov is not None:
        limits = {
            "outer": math.degrees(-fov[0]),
            "inner": math.degrees(fov[1]),
            "up": math.degrees(fov[2]),
            "down": math.degrees(-fov[3]),
        }
    else:
        notes.append(
            f"no fov in the file: Monado would render +-{MONADO_DEFAULT_HALF_FOV} rad "
            f"({math.degrees(MONADO_DEFAULT_HALF_FOV):.1f} deg); vrkit renders what the panel "
            "shows through the polynomials (see `vrkit fov`)"
        )
    profile: dict[str, Any] = {
        "schema_version": 1,
        "name": name or "north-star",
        "description": "Project North Star (v2 polynomial calibration)",
        "source": f"North Star v2 calibration{f' {source}' if source else ''}: baseline "
        f"{baseline:g} mm, per-eye cubic uv_to_rect polynomials as Monado's north_star driver "
        "evaluates them; lens centres where each eye looks straight ahead",
        "panel": panel,
        "optics": {
            "lens_separation_m": sep,
            "screen_to_lens_m": s2l,
            "vertical_alignment": "bottom",
            "tray_to_lens_m": round(height, 6),
            "screen_border_m": 0.0,
        },
        "lenses": {},
        "fov_limits_deg": limits,
        "ipd_default_m": baseline / 1000,
    }
    if not 0.04 <= profile["ipd_default_m"] <= 0.09:
        notes.append(f"baseline {baseline:g} mm is outside 40..90 mm: vrkit's default IPD kept")
        del profile["ipd_default_m"]
    profile = with_viewport_lenses(
        profile,
        lambda i, vt: {
            "kind": "north_star",
            "uv_to_rect_x": coeffs[f"{EYE_NAMES[i]}_uv_to_rect_x"],
            "uv_to_rect_y": coeffs[f"{EYE_NAMES[i]}_uv_to_rect_y"],
            "viewport_tan": vt,
        },
        "North Star calibration",
    )
    if (wpx, hpx) != (2880, 1600):
        notes.append(f"panel {wpx}x{hpx} px: the polynomials are per viewport, so any size works")
    return profile, notes


def _fit_polynomials(
    profile: HeadsetProfile, eye: int, samples: int = 33
) -> tuple[list[float], list[float], float, float]:
    """Fit Monado's two cubics to an eye's green ``undistort`` over its viewport.

    Returns:
        ``(uv_to_rect_x, uv_to_rect_y, max error arcmin, fraction of the viewport outside the
        lens model's range)``.
    """
    lens = profile.lens(eye)
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    g = np.linspace(0.0, 1.0, samples)
    uu, vv = np.meshgrid(g, g)
    uv = np.stack([uu.ravel(), vv.ravel()], axis=1)
    panel = np.stack([left + uv[:, 0] * (right - left), bottom + uv[:, 1] * (top - bottom)], 1)
    ideal = lens.undistort(panel, 1, strict=False)
    ok = np.all(np.isfinite(ideal), axis=1)
    if ok.sum() < 64:
        raise DataError(
            f"the {EYE_NAMES[eye]} lens is defined over too little of its viewport to fit the "
            "North Star polynomials"
        )
    X, Y = uv[ok, 0], 1.0 - uv[ok, 1]
    V = npoly.polyvander2d(X, Y, [3, 3])
    cy = np.linalg.lstsq(V, ideal[ok, 0], rcond=None)[0]  # ray x <- uv_to_rect_y
    cx = np.linalg.lstsq(V, ideal[ok, 1], rcond=None)[0]  # ray y <- uv_to_rect_x
    fit = np.stack([V @ cy, V @ cx], axis=1)
    err = float(np.max(ray_angle(ideal[ok], fit))) / ARCMIN
    return cx.tolist(), cy.tolist(), err, 1.0 - float(ok.mean())


def northstar_from_profile(
    profile: HeadsetProfile, max_error_arcmin: float = 1.0, monado: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """North Star v2 calibration JSON data (or Monado's north_star config) for a profile.

    A profile with ``north_star`` lenses gives its coefficients back unchanged. Other lenses
    are fitted with the two cubics per eye (least squares over each viewport, green) and the
    largest angular error is reported; above ``max_error_arcmin`` the export is refused.

    Args:
        profile: The headset.
        max_error_arcmin: Largest acceptable fit error.
        monado: Add what Monado's driver reads beyond the calibrator's keys: ``fov`` (radians
            ``[left, right, up, down]``, wide enough for both eyes, as the driver uses one fov
            for both).

    Raises:
        DataError: The fit misses by more than ``max_error_arcmin``.
    """
    notes: list[str] = []
    out: dict[str, Any] = {"baseline": round(profile.ipd_default_m * 1000, 6)}
    for eye, name in enumerate(EYE_NAMES):
        lens = profile.lens(eye)
        inner = getattr(lens, "inner", lens)
        if isinstance(inner, NorthStarLens) and lens is inner:
            d = inner.to_dict()
            out[f"{name}_uv_to_rect_x"] = d["uv_to_rect_x"]
            out[f"{name}_uv_to_rect_y"] = d["uv_to_rect_y"]
            continue
        cx, cy, err, outside = _fit_polynomials(profile, eye)
        if not err <= max_error_arcmin:
            raise DataError(
                f"profile {profile.name!r}: the {name} {lens.kind} lens has no North Star cubic "
                f"form within {max_error_arcmin} arcmin (the best fit misses by {err:.2f} arcmin)",
                hint="raise --max-error-arcmin to accept it",
            )
        out[f"{name}_uv_to_rect_x"], out[f"{name}_uv_to_rect_y"] = cx, cy
        notes.append(f"{name} eye: {lens.kind} lens fitted with the cubics, error {err:.3f} arcmin")
        if outside > 0:
            notes.append(
                f"{name} eye: {outside:.0%} of the viewport is outside the lens model's range; "
                "Monado extrapolates the polynomial there"
            )
    colour = lateral_colour_arcmin(profile)
    if colour > 0.05:
        notes.append(
            f"North Star polynomials have no colour terms: lateral colour of up to {colour:.1f} "
            "arcmin is dropped"
        )
    if profile.canting_deg:
        notes.append(f"canting_deg {profile.canting_deg:g} is not part of the file (dropped)")
    if monado:
        fovs = [profile.eye_fov(e) for e in (0, 1)]
        out["fov"] = [
            min(f.angle_left for f in fovs),
            max(f.angle_right for f in fovs),
            max(f.angle_up for f in fovs),
            min(f.angle_down for f in fovs),
        ]
        if tuple(profile.resolution_px) != (2880, 1600):
            notes.append(
                f"Monado's north_star driver drives a 2880x1600 side-by-side display; this "
                f"profile's panel is {profile.resolution_px[0]}x{profile.resolution_px[1]}"
            )
        notes.append("run Monado with NS_CONFIG_PATH=<this file> (north_star driver)")
    return out, notes


def check_northstar_json(data: Any) -> None:
    """Raise InputError unless ``data`` looks like a North Star v2 calibration."""
    if not is_northstar(data):
        raise InputError(
            "not a North Star v2 calibration: no left_uv_to_rect_x / right_uv_to_rect_x keys"
        )
