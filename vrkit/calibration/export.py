"""Fitted lens -> headset profile, and other tools' forms of the same lens.

* :func:`profile_with_fit` writes the fitted lens and lens centre into a headset profile (the
  optics schema) that ``vrkit run --profile`` loads as it is; it is validated with the optics
  loader before it is returned.
* :func:`to_openhmd` / :func:`to_cardboard` convert to OpenHMD's universal distortion
  (panotools ``a, b, c, d`` plus per-channel aberration scale) and the Cardboard SDK's ``K1, K2``.
  Where the fitted model is not exactly of that form, the form is least-squares fitted to the
  fitted lens over the measured field, and the conversion error (arcmin, max over the field) is
  reported; the conversion is refused when it exceeds ``max_error_arcmin``.
* :func:`to_mesh_json` bakes the per-channel distortion mesh (vertex layout ``x, y, r_u, r_v,
  g_u, g_v, b_u, b_v``, as Monado's ``u_distortion_mesh`` and vrkit's panel pass use).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.fit import ARCMIN, LensFit, openhmd_unit
from vrkit.calibration.patterns import PanelGeometry
from vrkit.core.errors import DataError, ProfileError
from vrkit.optics.base import LensModel
from vrkit.optics.models import PanotoolsLens, RadialPolynomialLens


def _measured_panel_radius(fit: LensFit, panel: PanelGeometry) -> float:
    tan = panel.px_to_tan(fit.obs.panel_px[fit.inlier], fit.lens_centre_px)
    return float(np.max(np.hypot(tan[:, 0], tan[:, 1])))


def _conversion_error_arcmin(a: LensModel, b: LensModel, r_max: float) -> float:
    """Largest angle (arcmin) between two lenses' undistort over panel radii up to ``r_max``."""
    ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rr = np.linspace(0, r_max, 60)
    pts = (rr[:, None, None] * np.stack([np.cos(ang), np.sin(ang)], 1)[None]).reshape(-1, 2)
    worst = 0.0
    for c in range(3):
        ia = a.undistort(pts, c, strict=False)
        ib = b.undistort(pts, c, strict=False)
        da = np.arctan(np.hypot(*ia.T))
        db = np.arctan(np.hypot(*ib.T))
        ok = np.isfinite(da) & np.isfinite(db)
        if not ok.all():
            return math.inf
        # Radial models: the angle difference is the difference of the view angles.
        worst = max(worst, float(np.max(np.abs(da - db))) / ARCMIN)
    return worst


def _radial_samples(lens: LensModel, r_max: float) -> tuple[NDArray[np.float64], list]:
    """Panel radii and each channel's ideal radius along +x (radial models)."""
    r = np.linspace(r_max / 200, r_max, 200)
    pts = np.stack([r, np.zeros_like(r)], axis=1)
    return r, [lens.undistort(pts, c, strict=False)[:, 0] for c in range(3)]


def to_openhmd(fit: LensFit, panel: PanelGeometry, max_error_arcmin: float = 1.0) -> dict[str, Any]:
    """OpenHMD universal distortion ``k = [a, b, c, d]`` and aberration ``[r, g, b]``.

    ``ideal = panel * (d + c rho + b rho^2 + a rho^3)`` with ``rho = r / unit`` and ``unit``
    half the eye viewport width in tan units (the DK1 convention); red and blue are the green
    mapping times their aberration scale.

    Raises:
        DataError: The fitted lens cannot be represented within ``max_error_arcmin``.
    """
    unit = openhmd_unit(panel)
    r_max = _measured_panel_radius(fit, panel)
    r, ideal = _radial_samples(fit.lens, r_max)
    rho = r / unit
    A = np.stack([rho**3, rho**2, rho, np.ones_like(rho)], axis=1)
    ok = np.isfinite(ideal[1])
    abcd = np.linalg.lstsq(A[ok], (ideal[1] / r)[ok], rcond=None)[0]
    g = (A @ abcd) * r
    scales = []
    for c in (0, 2):
        okc = np.isfinite(ideal[c])
        scales.append(float(np.dot(g[okc], ideal[c][okc]) / np.dot(g[okc], g[okc])))
    conv = PanotoolsLens(
        abcd.tolist(), [scales[0], 0.0, scales[1], 0.0], unit=unit, form="panotools"
    )
    err = _conversion_error_arcmin(fit.lens, conv, r_max)
    if not err <= max_error_arcmin:
        raise DataError(
            f"the fitted {fit.name} lens has no OpenHMD form within {max_error_arcmin} arcmin "
            f"(best panotools a,b,c,d misses by {err:.2f} arcmin; non-radial lens?)"
        )
    return {
        "format": "openhmd-universal-distortion",
        "universal_distortion_k": abcd.tolist(),
        "universal_aberration_k": [scales[0], 1.0, scales[1]],
        "radius_unit_tan": unit,
        "radius_unit_m": unit * panel.screen_to_lens_m,
        "conversion_error_arcmin": err,
        "lens": conv.to_dict(),
    }


def to_cardboard(
    fit: LensFit, panel: PanelGeometry, max_error_arcmin: float = 1.0
) -> dict[str, Any]:
    """Cardboard ``distortion_coefficients [K1, K2]`` (green; Cardboard has no chromatic term).

    Cardboard's polynomial maps panel tan to eye tan: ``ideal = panel (1 + K1 r^2 + K2 r^4)``.

    Raises:
        DataError: The fitted lens cannot be represented within ``max_error_arcmin``.
    """
    r_max = _measured_panel_radius(fit, panel)
    r, ideal = _radial_samples(fit.lens, r_max)
    ok = np.isfinite(ideal[1])
    A = np.stack([r**2, r**4], axis=1)
    k = np.linalg.lstsq(A[ok], (ideal[1] / r - 1.0)[ok], rcond=None)[0]
    conv = RadialPolynomialLens(k.tolist())
    # Error on green only: Cardboard has no lateral colour to compare.
    rr = r[ok]
    a_green = np.arctan(ideal[1][ok])
    b_green = np.arctan(rr * (1 + k[0] * rr**2 + k[1] * rr**4))
    err = float(np.max(np.abs(a_green - b_green))) / ARCMIN
    if not err <= max_error_arcmin:
        raise DataError(
            f"the fitted {fit.name} lens has no Cardboard K1,K2 form within {max_error_arcmin} "
            f"arcmin (best K1,K2 misses by {err:.2f} arcmin)"
        )
    return {
        "format": "cardboard-device-params",
        "distortion_coefficients": k.tolist(),
        "screen_to_lens_distance": panel.screen_to_lens_m,
        "conversion_error_arcmin": err,
        "lens": conv.to_dict(),
    }


def profile_with_fit(
    base: dict[str, Any], fit: LensFit, panel: PanelGeometry, name: str | None = None
) -> dict[str, Any]:
    """A headset profile: ``base`` (optics schema) with the fitted lens and lens centre.

    The lens centre moves into the profile's geometry: horizontally as ``lens_separation_m``
    (the profile keeps the lenses symmetric about the panel centre), vertically as
    ``vertical_alignment: "bottom"`` with ``tray_to_lens_m`` when it differs from the base by
    more than half a pixel.

    Raises:
        ProfileError: The result does not validate (the message says which field).
    """
    from vrkit.optics.profile import profile_from_dict

    data = copy.deepcopy(base)
    eye = panel.eye
    pitch_x, pitch_y = panel.pixel_pitch_m
    wm = panel.width_px * pitch_x
    hm = panel.height_px * pitch_y
    cx_m = float(fit.lens_centre_px[0]) * pitch_x
    cy_from_bottom = hm - float(fit.lens_centre_px[1]) * pitch_y
    sep = 2 * (wm / 2 - cx_m) if eye == "left" else 2 * (cx_m - wm / 2)
    optics = data.setdefault("optics", {})
    optics["lens_separation_m"] = round(sep, 7)
    base_cy_px = panel.lens_centre_px[1]
    if abs(float(fit.lens_centre_px[1]) - base_cy_px) > 0.5:
        border = float(optics.get("screen_border_m", 0.003))
        optics["vertical_alignment"] = "bottom"
        optics["tray_to_lens_m"] = round(cy_from_bottom + border, 7)
        optics["screen_border_m"] = border
    data.setdefault("lenses", {})[eye] = fit.lens.to_dict()
    st = fit.stats()
    data["source"] = (
        f"Measured with vrkit calibrate lens: {fit.name} model, RMS {st['rms_arcmin']:.3f} "
        f"arcmin, max {st['max_arcmin']:.3f} arcmin over {st['n_observations']} features "
        f"({eye} eye)."
    )
    if name:
        data["name"] = name
    try:
        profile_from_dict(data)
    except ProfileError as exc:
        raise ProfileError(
            f"the calibrated profile does not validate: {exc}",
            "the fitted lens may not cover the panel edges; capture a wider field or lower "
            "fov_limits_deg in the base profile",
        ) from None
    return data


def to_mesh_json(
    profile_data: dict[str, Any], resolution: tuple[int, int] = (32, 32)
) -> dict[str, Any]:
    """Per-channel distortion meshes of both eyes (Monado-style vertex layout), as JSON data."""
    from vrkit.optics.mesh import bake_eye_mesh
    from vrkit.optics.profile import profile_from_dict

    profile = profile_from_dict(profile_data)
    eyes = {}
    for eye, name in ((0, "left"), (1, "right")):
        mesh = bake_eye_mesh(profile.panel_to_eye_uv, eye, resolution, skip_black=False)
        fov = profile.eye_fov(eye)
        eyes[name] = {
            "viewport_px": list(profile.eye_viewport(eye)),
            "fov_rad": fov.to_dict(),
            "vertices": np.round(mesh.vertices.astype(np.float64), 6).tolist(),
            "indices": mesh.indices.astype(int).tolist(),
        }
    return {
        "format": "vrkit.distortion-mesh",
        "version": 1,
        "vertex_layout": ["x_ndc", "y_ndc", "r_u", "r_v", "g_u", "g_v", "b_u", "b_v"],
        "uv_origin": "bottom-left of the eye image; outside [0, 1] draws black",
        "resolution": list(resolution),
        "eyes": eyes,
    }
