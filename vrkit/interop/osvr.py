"""OSVR HMD display descriptors (OSVR/OSVR-Core ``apps/displays/*.json``), in.

A descriptor gives ``hmd.field_of_view`` (``monocular_horizontal``, ``monocular_vertical``,
``overlap_percent``, ``pitch_tilt``, degrees), ``hmd.resolutions`` (``width``, ``height``,
``video_inputs``, ``display_mode``, ``swap_eyes``), ``hmd.distortion`` and ``hmd.eyes``
(``center_proj_x``, ``center_proj_y``, ``rotate_180``). Older files spell the keys in camelCase
(``fieldOfView.monocularHorizontal``, ``k1Red``); both are read.

Distortion, as OSVR-RenderManager computes it (``osvr_display_configuration.cpp``,
``DistortionCorrectTextureCoordinate.h``):

* ``polynomial_coeffs_red/green/blue`` with ``distance_scale_x/y``: the
  ``rgb_symmetric_polynomials`` model, kept exactly as an ``osvr`` lens
  (:class:`vrkit.optics.models.OsvrLens`);
* ``k1_red/green/blue``: RenderManager ignores them; vrkit applies them as OSVR-Unity's shader
  did, ``p (1 + k1 r^2)`` about the centre of projection in normalized viewport units (the
  polynomial ``[0, 1, 0, k1]``), and says so;
* point-sample meshes (``mono_point_samples``, ``rgb_point_samples``) are refused.

The eye image is the monocular frustum shifted so that the centre of projection is its axis
(``ConstructProjection``); ``overlap_percent`` below 100 turns each eye outward by half the
non-overlapping angle, which becomes ``canting_deg``. A descriptor has no physical panel size,
so vrkit sizes the panel for a nominal 40 mm screen-to-lens distance (no direction depends on
it).
"""

from __future__ import annotations

import math
import re
from typing import Any

from vrkit.core.errors import DataError
from vrkit.interop._common import slug
from vrkit.interop._geometry import with_viewport_lenses

#: Nominal screen-to-lens distance (m) used to give the panel a size.
NOMINAL_SCREEN_TO_LENS_M = 0.04


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _normalize(value: Any) -> Any:
    """CamelCase keys (and display-mode values) to snake_case, recursively."""
    if isinstance(value, dict):
        return {_snake(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, str) and value in ("horzSideBySide", "vertSideBySide", "fullScreen"):
        return _snake(value)
    return value


def is_osvr(data: Any) -> bool:
    """True for a JSON object with an ``hmd`` holding ``resolutions`` or a field of view."""
    if not isinstance(data, dict) or not isinstance(data.get("hmd"), dict):
        return False
    hmd = data["hmd"]
    return any(k in hmd for k in ("resolutions", "field_of_view", "fieldOfView"))


def _num(obj: Any, key: str, where: str, default: float | None = None) -> float:
    value = obj.get(key, default) if isinstance(obj, dict) else default
    if value is None:
        raise DataError(f"OSVR display descriptor has no {where}.{key}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"OSVR display descriptor {where}.{key} must be a number, got {value!r}")
    return float(value)


def _polynomials(dist: dict[str, Any], notes: list[str]) -> tuple[list[list[float]], list[float]]:
    """Per-channel polynomials and ``distance_scale`` from ``hmd.distortion``."""
    kind = dist.get("type", "")
    if (
        kind in ("mono_point_samples", "rgb_point_samples")
        or any(k.startswith(("mono_point_samples", "rgb_point_samples")) for k in dist)
        or any(k.endswith("_point_samples") for k in dist)
    ):
        raise DataError(
            "OSVR display descriptor uses point-sample distortion meshes; vrkit reads only "
            "polynomial (polynomial_coeffs_*) and k1 distortion"
        )
    scale = [
        _num(dist, "distance_scale_x", "hmd.distortion", 1.0),
        _num(dist, "distance_scale_y", "hmd.distortion", 1.0),
    ]
    names = ("red", "green", "blue")
    if any(f"polynomial_coeffs_{c}" in dist for c in names) or kind == "rgb_symmetric_polynomials":
        polys = []
        for c in names:
            values = dist.get(f"polynomial_coeffs_{c}")
            if (
                not isinstance(values, list)
                or len(values) < 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            ):
                raise DataError(
                    f"OSVR display descriptor hmd.distortion.polynomial_coeffs_{c} must list at "
                    f"least 2 numbers, got {values!r}"
                )
            polys.append([float(v) for v in values])
        return polys, scale
    if any(f"k1_{c}" in dist for c in names):
        k1 = [_num(dist, f"k1_{c}", "hmd.distortion", 0.0) for c in names]
        notes.append(
            f"k1 distortion {k1} (red, green, blue) applied as OSVR-Unity's shader did, "
            "p (1 + k1 r^2) in normalized viewport units; OSVR-RenderManager ignores k1"
        )
        return [[0.0, 1.0, 0.0, k] for k in k1], [1.0, 1.0]
    notes.append("no distortion in the descriptor: identity lens (as RenderManager falls back to)")
    return [[0.0, 1.0]] * 3, [1.0, 1.0]


def profile_from_osvr(
    data: Any, name: str | None = None, source: str = "", refresh_hz: float = 60.0
) -> tuple[dict[str, Any], list[str]]:
    """A headset profile (JSON data) from an OSVR display descriptor.

    Raises:
        DataError: A layout vrkit cannot draw (vertical side by side, swapped or rotated eyes,
            point-sample meshes) or a malformed value, named.
    """
    if not is_osvr(data):
        raise DataError("not an OSVR display descriptor: no hmd.resolutions / hmd.field_of_view")
    hmd = _normalize(data["hmd"])
    notes: list[str] = []
    fov = hmd.get("field_of_view", {})
    h_deg = _num(fov, "monocular_horizontal", "hmd.field_of_view")
    v_deg = _num(fov, "monocular_vertical", "hmd.field_of_view")
    if not (0 < h_deg < 180 and 0 < v_deg < 180):
        raise DataError(
            f"OSVR display descriptor field of view {h_deg} x {v_deg} deg is out of range"
        )
    overlap = _num(fov, "overlap_percent", "hmd.field_of_view", 100.0) / 100
    if _num(fov, "pitch_tilt", "hmd.field_of_view", 0.0):
        notes.append("pitch_tilt is ignored (RenderManager does not apply it either)")
    res = hmd.get("resolutions")
    if not isinstance(res, list) or not res or not isinstance(res[0], dict):
        raise DataError("OSVR display descriptor has no hmd.resolutions entry")
    r0 = res[0]
    width = int(_num(r0, "width", "hmd.resolutions[0]"))
    height = int(_num(r0, "height", "hmd.resolutions[0]"))
    inputs = int(_num(r0, "video_inputs", "hmd.resolutions[0]", 1))
    mode = r0.get("display_mode", "full_screen" if inputs > 1 else "horz_side_by_side")
    if r0.get("swap_eyes") in (1, True):
        raise DataError("OSVR display descriptor swaps the eyes; vrkit draws the left eye left")
    if mode == "horz_side_by_side":
        panel_px = [width, height]
    elif mode == "full_screen" and inputs == 2:
        panel_px = [2 * width, height]
        notes.append("two video inputs, one per eye: taken as one side-by-side panel")
    else:
        raise DataError(
            f"OSVR display mode {mode!r} with {inputs} input(s) is not a side-by-side panel; "
            "vrkit draws both eyes side by side on one panel"
        )
    eyes = hmd.get("eyes")
    if not isinstance(eyes, list) or not eyes or not all(isinstance(e, dict) for e in eyes):
        raise DataError("OSVR display descriptor has no hmd.eyes entries")
    cops = []
    for i, e in enumerate(eyes[:2]):
        if e.get("rotate_180") in (1, True):
            raise DataError(f"OSVR display descriptor hmd.eyes[{i}] is rotated 180 degrees")
        cops.append(
            [
                _num(e, "center_proj_x", f"hmd.eyes[{i}]", 0.5),
                _num(e, "center_proj_y", f"hmd.eyes[{i}]", 0.5),
            ]
        )
    if len(cops) == 1:
        cops.append([1.0 - cops[0][0], cops[0][1]])
        notes.append("one eye in the descriptor: the right eye mirrors it")
    polys, dscale = _polynomials(hmd.get("distortion", {}), notes)
    th = math.tan(math.radians(h_deg) / 2)
    tv = math.tan(math.radians(v_deg) / 2)
    s = NOMINAL_SCREEN_TO_LENS_M
    eye_w, eye_h = 2 * th * s, 2 * tv * s
    x_l = cops[0][0] * eye_w
    x_r = eye_w + cops[1][0] * eye_w
    cy = (cops[0][1] + cops[1][1]) / 2
    optics: dict[str, Any] = {"lens_separation_m": round(x_r - x_l, 7), "screen_to_lens_m": s}
    if abs(cy - 0.5) < 1e-9:
        optics["vertical_alignment"] = "center"
    else:
        optics.update(vertical_alignment="bottom", tray_to_lens_m=cy * eye_h, screen_border_m=0.0)
    if overlap < 1:
        optics["canting_deg"] = h_deg * (1 - overlap) / 2
    cx = cops[0][0]
    lim = {
        "outer": math.degrees(math.atan(2 * th * cx)),
        "inner": math.degrees(math.atan(2 * th * (1 - cx))),
        "up": math.degrees(math.atan(2 * tv * (1 - cops[0][1]))),
        "down": math.degrees(math.atan(2 * tv * cops[0][1])),
    }
    dev = hmd.get("device", {}) if isinstance(hmd.get("device"), dict) else {}
    label = (
        " ".join(str(dev[k]) for k in ("vendor", "model", "version") if dev.get(k)) or "OSVR HMD"
    )
    profile: dict[str, Any] = {
        "schema_version": 1,
        "name": name or slug(label, "osvr-hmd"),
        "description": f"{label} (OSVR display descriptor)",
        "source": f"OSVR display descriptor{f' {source}' if source else ''}: monocular FOV "
        f"{h_deg:g} x {v_deg:g} deg, overlap {overlap:.0%}, centres of projection {cops}; panel "
        f"size for a nominal {s * 1000:g} mm screen-to-lens distance",
        "panel": {
            "resolution_px": panel_px,
            "size_m": [round(2 * eye_w, 7), round(eye_h, 7)],
            "refresh_hz": refresh_hz,
        },
        "optics": optics,
        "lenses": {},
        "fov_limits_deg": lim,
    }
    notes.append(f"{refresh_hz:g} Hz assumed (a descriptor has no refresh rate)")
    profile = with_viewport_lenses(
        profile,
        lambda i, vt: {
            "kind": "osvr",
            "polynomials": polys,
            "distance_scale": dscale,
            "center_of_projection": cops[i],
            "fov_deg": [h_deg, v_deg],
            "viewport_tan": vt,
        },
        "OSVR display descriptor",
    )
    return profile, notes
