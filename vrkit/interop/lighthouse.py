"""Valve lighthouse headset configs ("The JSON File": Vive, Vive Pro, Index), in.

SteamVR headsets carry a JSON config (read from the headset; Monado's vive driver parses it in
``vive_config.c``). Per eye, ``tracking_to_eye_transform[i]`` holds ``distortion`` (green),
``distortion_red`` and ``distortion_blue`` (``center_x``, ``center_y``, ``coeffs``,
``type: DISTORT_DPOLY3``), the 3 x 3 ``intrinsics``, ``grow_for_undistort``,
``undistort_r2_cutoff``, ``extrinsics`` and sometimes ``eye_to_head``. ``device`` gives the per-eye
resolution and ``physical_aspect_x_over_y``; ``lens_separation`` (Vive) or ``ipd.default_mm``
the IPD.

The lens becomes a ``lighthouse`` model (:class:`vrkit.optics.models.LighthouseLens`) that
evaluates Monado's ``u_compute_distortion_vive`` with the frustum of its ``_calculate_fov``.
Where Monado falls back to defaults, so does vrkit, and says so: aspect 0.9 and 1080 x 1200 per
eye. The config holds no physical panel size: vrkit uses the Vive's (61.4 mm per eye, as
Monado's driver) scaled to the aspect; like the other display-UV models, the choice changes no
direction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vrkit.core.errors import DataError
from vrkit.interop._common import slug
from vrkit.interop._geometry import with_viewport_lenses

CHANNEL_KEYS = ("distortion_red", "distortion", "distortion_blue")
#: Monado's defaults when the config lacks a value (vive_init_defaults).
MONADO_DEFAULTS = {"aspect_x_over_y": 0.89999997615814209, "grow_for_undistort": 0.5}
#: Width of one eye's panel when none is known (the Vive's, as Monado's driver hard-codes).
EYE_WIDTH_M = 0.122822 / 2


def is_lighthouse(data: Any) -> bool:
    """True for a JSON object with ``tracking_to_eye_transform``."""
    return isinstance(data, dict) and "tracking_to_eye_transform" in data


def _number(obj: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = obj.get(key, default)
    if value is None:
        raise DataError(f"lighthouse config {where} has no {key!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"lighthouse config {where}.{key} must be a finite number, got {value!r}")
    return float(value)


def _matrix(value: Any, rows: int, cols: int, where: str) -> np.ndarray:
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        m = None
    if m is None or m.shape != (rows, cols) or not np.all(np.isfinite(m)):
        raise DataError(
            f"lighthouse config {where} must be a {rows} x {cols} matrix, got {value!r}"
        )
    return m


def _channel(eye_json: dict[str, Any], key: str, where: str) -> tuple[list[float], list[float]]:
    block = eye_json[key]
    if not isinstance(block, dict):
        raise DataError(f"lighthouse config {where}.{key} must be an object, got {block!r}")
    kind = block.get("type", "DISTORT_DPOLY3")
    if kind != "DISTORT_DPOLY3":
        raise DataError(
            f"lighthouse config {where}.{key}.type is {kind!r}; vrkit (like Monado) reads only "
            "DISTORT_DPOLY3"
        )
    coeffs = block.get("coeffs")
    if (
        not isinstance(coeffs, list)
        or len(coeffs) < 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in coeffs)
    ):
        raise DataError(
            f"lighthouse config {where}.{key}.coeffs must list at least 3 numbers, got {coeffs!r}"
        )
    k = [float(v) for v in coeffs[:4]] + [0.0] * (4 - min(4, len(coeffs)))
    center = [
        _number(block, "center_x", f"{where}.{key}", 0.0),
        _number(block, "center_y", f"{where}.{key}", 0.0),
    ]
    return center, k


def monado_fov(intrinsics: np.ndarray, grow: float) -> dict[str, float]:
    """The eye frustum Monado's ``_calculate_fov`` derives (radians, OpenXR signs)."""
    scale = grow + 1.0
    fx, fy = intrinsics[0, 0] / scale, intrinsics[1, 1] / scale
    cx, cy = intrinsics[0, 2] / scale, intrinsics[1, 2] / scale
    return {
        "angle_left": -math.atan((1 - cx) / fx),
        "angle_right": math.atan((1 + cx) / fx),
        "angle_up": math.atan((cy + 1) / fy),
        "angle_down": -math.atan((1 - cy) / fy),
    }


def _canting_deg(eye_json: dict[str, Any], where: str, notes: list[str]) -> float:
    """Outward yaw of an eye from ``eye_to_head`` (or the extrinsics' rotation), degrees."""
    if "eye_to_head" in eye_json:
        R = _matrix(eye_json["eye_to_head"], 3, 3, f"{where}.eye_to_head")
    elif "extrinsics" in eye_json:
        R = _matrix(eye_json["extrinsics"], 3, 4, f"{where}.extrinsics")[:, :3]
    else:
        return 0.0
    fwd = R @ np.array([0.0, 0.0, -1.0])
    yaw = math.degrees(math.atan2(fwd[0], -fwd[2]))
    tilt = math.degrees(math.asin(max(-1.0, min(1.0, fwd[1]))))
    if abs(tilt) > 0.1:
        notes.append(f"{where}: the eye is tilted {tilt:.2f} deg up/down; vrkit keeps yaw only")
    return yaw


def profile_from_lighthouse(
    data: Any, name: str | None = None, source: str = "", refresh_hz: float = 90.0
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """A headset profile (JSON data) from a lighthouse headset config.

    Args:
        data: The parsed JSON object.
        name: Profile name; from the model number when None.
        source: Where the file came from.
        refresh_hz: Refresh rate (the config has none).

    Returns:
        ``(profile data, notes, extra)``; ``extra["monado_fov"]`` is the per-eye frustum
        Monado renders (radians), ``extra["eye_px"]`` the per-eye resolution.

    Raises:
        DataError: No per-eye lens (``tracking_to_eye_transform`` or its green ``distortion``
            block), or a malformed value; the message names the key.
    """
    if not isinstance(data, dict):
        raise DataError(f"a lighthouse config is a JSON object, got {type(data).__name__}")
    notes: list[str] = []
    eyes = data.get("tracking_to_eye_transform")
    if not isinstance(eyes, list) or len(eyes) != 2 or not all(isinstance(e, dict) for e in eyes):
        raise DataError(
            "lighthouse config has no tracking_to_eye_transform with two eye objects (the lens "
            "calibration); nothing to import"
        )
    model = data.get("model_number") or data.get("model_name") or "lighthouse HMD"
    device = data.get("device") if isinstance(data.get("device"), dict) else {}
    w_px = int(_number(device, "eye_target_width_in_pixels", "device", 1080))
    h_px = int(_number(device, "eye_target_height_in_pixels", "device", 1200))
    if "eye_target_width_in_pixels" not in device:
        notes.append("no device.eye_target_*_in_pixels: 1080 x 1200 per eye (Monado's default)")
    if "physical_aspect_x_over_y" in device:
        aspect = _number(device, "physical_aspect_x_over_y", "device")
    else:
        aspect = MONADO_DEFAULTS["aspect_x_over_y"]
        notes.append(f"no device.physical_aspect_x_over_y: {aspect:.2f} (Monado's default)")
    lenses = []
    fovs = []
    cant = []
    for i, eye_json in enumerate(eyes):
        where = f"tracking_to_eye_transform[{i}]"
        if "distortion" not in eye_json:
            raise DataError(
                f"lighthouse config {where} has no 'distortion' block (the green DPOLY3 lens); "
                "nothing to import"
            )
        channels = {}
        for key in CHANNEL_KEYS:
            if key in eye_json:
                channels[key] = _channel(eye_json, key, where)
            else:
                notes.append(f"{where} has no {key!r}: that channel uses the green lens")
        green = channels["distortion"]
        centers = [channels.get(k, green)[0] for k in CHANNEL_KEYS]
        coeffs = [channels.get(k, green)[1] for k in CHANNEL_KEYS]
        if "intrinsics" not in eye_json:
            raise DataError(f"lighthouse config {where} has no 'intrinsics' (the eye's frustum)")
        K = _matrix(eye_json["intrinsics"], 3, 3, f"{where}.intrinsics")
        if not (K[0, 0] > 0 and K[1, 1] > 0):
            raise DataError(
                f"lighthouse config {where}.intrinsics has focal terms {K[0, 0]}, {K[1, 1]}; "
                "expected positive"
            )
        grow = _number(eye_json, "grow_for_undistort", where, MONADO_DEFAULTS["grow_for_undistort"])
        cutoff = eye_json.get("undistort_r2_cutoff")
        if cutoff is not None:
            cutoff = _number(eye_json, "undistort_r2_cutoff", where)
        lenses.append(
            {
                "kind": "lighthouse",
                "centers": centers,
                "coefficients": coeffs,
                "aspect_x_over_y": aspect,
                "focal": [float(K[0, 0]), float(K[1, 1])],
                "projection_center": [float(K[0, 2]), float(K[1, 2])],
                **({"undistort_r2_cutoff": cutoff} if cutoff is not None else {}),
            }
        )
        fovs.append(monado_fov(K, grow))
        cant.append(_canting_deg(eye_json, where, notes) * (-1 if i == 0 else 1))
    ipd = None
    if isinstance(data.get("lens_separation"), (int, float)):
        ipd = float(data["lens_separation"])
    elif isinstance(data.get("ipd"), dict):
        mm = data["ipd"].get("default_mm")
        if isinstance(mm, (int, float)) and not isinstance(mm, bool):
            ipd = float(mm) / 1000
    eye_w = EYE_WIDTH_M
    eye_h = eye_w / aspect
    fx = lenses[0]["focal"][0]
    deg = {k: math.degrees(v) for k, v in fovs[0].items()}
    profile: dict[str, Any] = {
        "schema_version": 1,
        "name": name or slug(model, "lighthouse-hmd"),
        "description": f"{model} (lighthouse headset config)",
        "source": f"Lighthouse config{f' {source}' if source else ''}: DPOLY3 lens per channel "
        "and eye intrinsics, drawn as Monado's vive driver does; panel size nominal (the config "
        "has none)",
        "panel": {
            "resolution_px": [2 * w_px, h_px],
            "size_m": [round(2 * eye_w, 7), round(eye_h, 7)],
            "refresh_hz": refresh_hz,
        },
        "optics": {
            "lens_separation_m": round(eye_w, 7),
            "screen_to_lens_m": round(eye_w * fx / 2, 7),
            "vertical_alignment": "center",
            "canting_deg": round(max(0.0, float(np.mean(cant))), 4),
        },
        "lenses": {},
        "fov_limits_deg": {
            "outer": min(89.0, -deg["angle_left"]),
            "inner": min(89.0, deg["angle_right"]),
            "up": min(89.0, deg["angle_up"]),
            "down": min(89.0, -deg["angle_down"]),
        },
    }
    if ipd is not None and 0.04 <= ipd <= 0.09:
        profile["ipd_default_m"] = ipd
    if float(np.mean(cant)) < -0.01:
        notes.append(f"the eyes turn inward by {-np.mean(cant):.2f} deg; vrkit keeps 0")
    notes.append(f"{refresh_hz:g} Hz assumed (the config has no refresh rate)")
    notes.append(
        "fov limits are Monado's render frustum (intrinsics over 1 + grow_for_undistort); "
        "`vrkit fov` reports what the panel shows through the lens inside them"
    )
    profile = with_viewport_lenses(
        profile, lambda i, vt: {**lenses[i], "viewport_tan": vt}, "lighthouse config"
    )
    return profile, notes, {"monado_fov": fovs, "eye_px": (w_px, h_px)}
