"""OpenHMD device properties (universal distortion), in and out.

OpenHMD describes a headset by device properties, which this JSON names after its
``ohmd_float_value`` / ``ohmd_int_value`` enums in lower case: ``screen_horizontal_size``,
``screen_vertical_size`` (metres, whole screen), ``screen_horizontal_resolution``,
``screen_vertical_resolution``, ``lens_horizontal_separation``, ``lens_vertical_position``
(metres from the bottom), ``universal_distortion_k`` (``a, b, c, d``),
``universal_aberration_k`` (red, green, blue), ``left_eye_fov`` (radians, vertical) and
``eye_ipd``.

OpenHMD's distortion shader (its examples' ``warp_scale`` set-up) works in screen metres about
the lens centre: ``r`` is divided by ``warp_scale = max(hsize / 2 - sep / 2, sep / 2)``, the
texture is sampled at ``r (d + c r + b r^2 + a r^3) aberration[c] warp_scale``, and the eye image
is a perspective of vertical angle ``left_eye_fov`` centred on the lens
(``ohmd_calc_default_proj_matrices``). So one tan unit is ``vsize / (2 tan(fov / 2))`` metres on
the panel, and the lens is vrkit's ``panotools`` form with ``unit = warp_scale`` in tan units.
A file may give ``radius_unit_m`` / ``radius_unit_tan`` (vrkit's exports do) instead of the fov.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vrkit.core.errors import DataError
from vrkit.interop._common import ARCMIN, ray_angle, viewport_samples
from vrkit.optics.models import PanotoolsLens
from vrkit.optics.profile import HeadsetProfile

REQUIRED = (
    "screen_horizontal_size",
    "screen_vertical_size",
    "screen_horizontal_resolution",
    "screen_vertical_resolution",
    "lens_horizontal_separation",
    "lens_vertical_position",
    "universal_distortion_k",
    "universal_aberration_k",
)


def is_openhmd(data: Any) -> bool:
    """True for a JSON object with ``universal_distortion_k``."""
    return isinstance(data, dict) and "universal_distortion_k" in data


def warp_scale_m(hsize: float, sep: float) -> float:
    """OpenHMD's ``warp_scale``: the lens centre's distance to the farther viewport edge."""
    return max(hsize / 2 - sep / 2, sep / 2)


def _num(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"OpenHMD properties {key!r} must be a finite number, got {value!r}")
    return float(value)


def _vector(data: dict[str, Any], key: str, n: int) -> list[float]:
    value = data.get(key)
    if (
        not isinstance(value, list)
        or len(value) != n
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise DataError(f"OpenHMD properties {key!r} must be {n} numbers, got {value!r}")
    return [float(v) for v in value]


def profile_from_openhmd(
    data: Any, name: str | None = None, source: str = "", refresh_hz: float = 60.0
) -> tuple[dict[str, Any], list[str]]:
    """A headset profile (JSON data) from OpenHMD device properties.

    Raises:
        DataError: A property is missing or malformed (named).
    """
    if not isinstance(data, dict):
        raise DataError(f"OpenHMD properties are a JSON object, got {type(data).__name__}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise DataError(
            f"OpenHMD properties lack {missing} (vrkit calibrate's per-lens openhmd.json has "
            "lens numbers only: export the profile with --format openhmd instead)"
        )
    notes: list[str] = []
    hsize, vsize = _num(data, "screen_horizontal_size"), _num(data, "screen_vertical_size")
    hres = int(_num(data, "screen_horizontal_resolution"))
    vres = int(_num(data, "screen_vertical_resolution"))
    sep, vpos = _num(data, "lens_horizontal_separation"), _num(data, "lens_vertical_position")
    k = _vector(data, "universal_distortion_k", 4)
    ab = _vector(data, "universal_aberration_k", 3)
    if ab[1] <= 0:
        raise DataError(f"OpenHMD universal_aberration_k green must be positive, got {ab[1]}")
    if "radius_unit_m" in data and "radius_unit_tan" in data:
        unit_m, unit_tan = _num(data, "radius_unit_m"), _num(data, "radius_unit_tan")
        s2l = unit_m / unit_tan
    elif "left_eye_fov" in data:
        fov = _num(data, "left_eye_fov")
        if not 0 < fov < math.pi:
            raise DataError(f"OpenHMD left_eye_fov must be radians in (0, pi), got {fov}")
        s2l = vsize / (2 * math.tan(fov / 2))
        unit_m = warp_scale_m(hsize, sep)
        unit_tan = unit_m / s2l
    else:
        raise DataError(
            "OpenHMD properties need left_eye_fov (radians) or radius_unit_m + radius_unit_tan "
            "to turn screen metres into angles"
        )
    g = ab[1]
    optics: dict[str, Any] = {"lens_separation_m": sep, "screen_to_lens_m": s2l}
    if abs(vpos - vsize / 2) < 1e-9:
        optics["vertical_alignment"] = "center"
    else:
        optics.update(vertical_alignment="bottom", tray_to_lens_m=vpos, screen_border_m=0.0)
    profile: dict[str, Any] = {
        "schema_version": 1,
        "name": name or "openhmd-hmd",
        "description": "Headset from OpenHMD device properties (universal distortion)",
        "source": f"OpenHMD properties{f' {source}' if source else ''}: universal_distortion_k "
        f"{k}, aberration {ab}, warp scale {unit_m:g} m",
        "panel": {
            "resolution_px": [hres, vres],
            "size_m": [hsize, vsize],
            "refresh_hz": refresh_hz,
        },
        "optics": optics,
        "lenses": {
            "left": {
                "kind": "panotools",
                "form": "panotools",
                "k": [v * g for v in k],
                "chroma": [ab[0] / g, 0.0, ab[2] / g, 0.0],
                "unit": unit_tan,
            }
        },
        "fov_limits_deg": {"outer": 80.0, "inner": 80.0, "up": 80.0, "down": 80.0},
    }
    ipd = data.get("eye_ipd")
    if isinstance(ipd, (int, float)) and 0.04 <= ipd <= 0.09:
        profile["ipd_default_m"] = float(ipd)
    notes.append(f"{refresh_hz:g} Hz assumed; fov limits 80 deg (OpenHMD has no lens limits)")
    return profile, notes


def openhmd_from_profile(
    profile: HeadsetProfile, max_error_arcmin: float = 1.0
) -> tuple[dict[str, Any], list[str]]:
    """OpenHMD device properties for a profile (universal distortion fitted when needed).

    Raises:
        DataError: The lens has no OpenHMD form within ``max_error_arcmin``, or the lenses are
            not mirror images (OpenHMD has one lens for both eyes).
    """
    notes: list[str] = []
    wm, hm = profile.size_m
    sep = profile.lens_separation_m
    s2l = profile.screen_to_lens_m
    unit_m = warp_scale_m(wm, sep)
    unit = unit_m / s2l
    lens = profile.lens(0)
    inner = getattr(lens, "inner", lens)
    p = viewport_samples(profile, 0)
    ideal = [lens.undistort(p, c, strict=False) for c in range(3)]
    ok = np.all([np.all(np.isfinite(q), axis=1) for q in ideal], axis=0)
    if ok.sum() < 16:
        raise DataError("the lens model covers too little of the viewport to fit OpenHMD's form")
    if (
        isinstance(inner, PanotoolsLens)
        and inner.form == "panotools"
        and abs(inner.unit - unit) < 1e-12
        and inner.chroma[1] == 0
        and inner.chroma[3] == 0
    ):
        k = inner.k.tolist()
        ab = [float(inner.chroma[0]), 1.0, float(inner.chroma[2])]
    else:
        r = np.hypot(p[ok, 0], p[ok, 1])
        rho = r / unit
        A = np.stack([rho**3, rho**2, rho, np.ones_like(rho)], axis=1)
        gr = np.hypot(ideal[1][ok, 0], ideal[1][ok, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(r > 0, gr / r, np.nan)
        good = np.isfinite(ratio)
        k = np.linalg.lstsq(A[good], ratio[good], rcond=None)[0].tolist()
        model = A @ np.array(k) * r
        ab = [1.0, 1.0, 1.0]
        for c in (0, 2):
            qr = np.hypot(ideal[c][ok, 0], ideal[c][ok, 1])
            ab[c] = float(np.dot(model, qr) / np.dot(model, model))
        notes.append(f"the {lens.kind} lens was fitted with OpenHMD's a, b, c, d and aberration")
    conv = PanotoolsLens(k, [ab[0], 0.0, ab[2], 0.0], unit=unit, form="panotools")
    err = 0.0
    for c in range(3):
        q = conv.undistort(p[ok], c, strict=False)
        fin = np.all(np.isfinite(q), axis=1)
        if not fin.all():
            err = math.inf
            break
        err = max(err, float(np.max(ray_angle(ideal[c][ok], q))) / ARCMIN)
    if not err <= max_error_arcmin:
        raise DataError(
            f"profile {profile.name!r}: its {lens.kind} lens has no OpenHMD universal distortion "
            f"within {max_error_arcmin} arcmin (the best fit misses by {err:.2f} arcmin)",
            hint="raise --max-error-arcmin to accept it",
        )
    if err > 1e-6:
        notes.append(f"OpenHMD fit error {err:.3f} arcmin (max over the viewport, all channels)")
    right = profile.lens(1)
    pr = viewport_samples(profile, 1)
    mirrored = conv.undistort(pr * [-1, 1], 1, strict=False) * [-1, 1]
    actual = right.undistort(pr, 1, strict=False)
    fin = np.all(np.isfinite(mirrored) & np.isfinite(actual), axis=1)
    if fin.any():
        r_err = float(np.max(ray_angle(mirrored[fin], actual[fin]))) / ARCMIN
        if r_err > max(max_error_arcmin, err):
            raise DataError(
                f"profile {profile.name!r}: the right lens differs from the mirrored left by "
                f"{r_err:.2f} arcmin; OpenHMD has one lens for both eyes"
            )
    if profile.canting_deg:
        notes.append(f"OpenHMD has no canting: canting_deg {profile.canting_deg:g} is dropped")
    out = {
        "screen_horizontal_size": wm,
        "screen_vertical_size": hm,
        "screen_horizontal_resolution": profile.resolution_px[0],
        "screen_vertical_resolution": profile.resolution_px[1],
        "lens_horizontal_separation": sep,
        "lens_vertical_position": profile.lens_height_m,
        "universal_distortion_k": [float(v) for v in k],
        "universal_aberration_k": ab,
        "left_eye_fov": 2 * math.atan(hm / (2 * s2l)),
        "left_eye_aspect_ratio": (wm / 2) / hm,
        "eye_ipd": profile.ipd_default_m,
        "radius_unit_m": unit_m,
        "radius_unit_tan": unit,
    }
    if abs(profile.lens_height_m - hm / 2) > 1e-9:
        notes.append("the lenses are not at mid-height: OpenHMD's projection assumes they are")
    return out, notes
