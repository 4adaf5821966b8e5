"""Where the measuring camera sat: its offset from the eye point, from known stage moves.

No camera's entrance pupil sits exactly where the eye's pupil goes. Seen from a camera a few
millimetres off the eye point, two things move:

* the **virtual image** of the panel (typically 1-2 m away, or at infinity) shifts by
  ``offset / distance``: a few arcmin, which a lens fit would bake into the lens;
* the lens's **field stop** (its rim, ~15 mm away) shifts and scales by ``offset / 16 mm``:
  degrees, which moves the field of view measured through the lens.

From one camera position neither is observable (a free-form lens absorbs the first, the rim's
size is unknown for the second). From captures at **known stage positions** (a translation
stage, the same pattern decoded at each) both are:

1. **Virtual image distance.** A stage move ``s`` (eye frame) changes the tan-angle direction in
   which the camera sees a virtual image point at distance ``D'`` (from the base position) by
   ``(s_xy + s_z tan) / D'``. The lens fitted at the base position gives, for every panel point
   decoded at a stage position, the base direction; the difference from the direction measured
   there is linear in ``w = 1 / D'``, solved by least squares over every decoded pixel (robust
   reweighting; ``w`` = 0 is a collimated image).
2. **Field stop.** Where the lit field ends while the decoded panel position is still well
   inside the viewport, the lens's stop cuts the view: those edge points (sub-pixel, the 50 %
   point of the visibility ratio) are camera rays that graze a circle in a plane square to the
   lens axis. The circle's centre ``C`` (relative to the base camera), distance and radius are
   fitted to the rays of all stage positions at once (one position fixes them only up to scale).
3. **Eye point.** On the stop's axis, ``stop_to_eye`` behind its plane (the design eye point:
   the profile's eye relief, cornea to lens, plus 3 mm from cornea to the eye's entrance pupil,
   unless given). The camera's offset is ``base camera - eye point``.

The lens is then refitted as the eye sees it (:meth:`Viewpoint.eye_tan`), and the report gives
the sensitivity of the fitted directions and of the stop-bounded FOV edges to the offset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError
from vrkit.vision.camera import CameraModel

ARCMIN = math.pi / (180 * 60)
#: Cornea to the eye's entrance pupil, metres (Gullstrand's schematic eye: 3.05 mm).
CORNEA_TO_PUPIL_M = 0.003


@dataclass
class StageSet:
    """One structured-light capture set taken at a known stage position.

    Attributes:
        name: Where it came from (folder name).
        offset_m: (3,) camera position minus the base position, eye frame (x right, y up, z
            towards the user, away from the lens), metres.
        green: Decoded green (or the set's first) :class:`~vrkit.calibration.graycode.DenseMap`.
        contrast: (H, W) full-on minus full-off of the same channel.
    """

    name: str
    offset_m: NDArray[np.float64]
    green: Any
    contrast: NDArray[np.float32]


@dataclass
class Viewpoint:
    """The measuring camera relative to the eye point, and the virtual image distance.

    Attributes:
        camera_offset_m: (3,) camera entrance pupil minus the eye point, eye frame, metres.
        offset_sigma_m: (3,) one-sigma uncertainty of it, metres.
        image_distance_m: Eye point to the virtual image plane, metres (``inf``: collimated).
        image_distance_sigma_m: Its one-sigma uncertainty, metres (``inf`` when the image is
            so far that the stage moves cannot tell it from infinity).
        inverse_distance_per_m: ``1 / D'`` from the base camera, 1/m, and
        inverse_distance_sigma: its one-sigma uncertainty.
        parallax_rms_arcmin: RMS of what the single image distance leaves of the parallax.
        n_parallax: Decoded samples used for the distance.
        rim_centre_m: (3,) stop centre relative to the base camera, eye frame, metres.
        rim_radius_m: Stop radius, metres.
        rim_rms_mm: RMS distance of the edge rays from the fitted stop circle, mm.
        rim_points: Edge points used per capture set (name -> count).
        stop_to_eye_m: Stop plane to eye point, along the axis, metres (as used).
        max_field_deg: Largest field angle of the fit (for the sensitivity at the edge).
    """

    camera_offset_m: NDArray[np.float64]
    offset_sigma_m: NDArray[np.float64]
    image_distance_m: float
    image_distance_sigma_m: float
    inverse_distance_per_m: float
    inverse_distance_sigma: float
    parallax_rms_arcmin: float
    n_parallax: int
    rim_centre_m: NDArray[np.float64]
    rim_radius_m: float
    rim_rms_mm: float
    rim_points: dict[str, int] = field(default_factory=dict)
    stop_to_eye_m: float = float("nan")
    max_field_deg: float = 50.0

    @classmethod
    def given(cls, offset_m: Sequence[float], image_distance_m: float) -> Viewpoint:
        """A viewpoint known from elsewhere (a jig's drawing), not measured."""
        z = np.zeros(3)
        w = 0.0 if math.isinf(image_distance_m) else 1.0 / (image_distance_m + offset_m[2])
        return cls(
            np.asarray(offset_m, dtype=np.float64), z, float(image_distance_m), 0.0, w, 0.0,
            float("nan"), 0, z, float("nan"), float("nan"),
        )  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Viewpoint:
        """Back from :meth:`to_dict` (a report's ``viewpoint``).

        Raises:
            ValueError: A field is missing or not a number.
        """

        def num(key: str, scale: float = 1.0) -> float:
            v = d.get(key)
            if v is None:  # written for a value that was not finite (to_dict)
                return float("inf") if key == "image_distance_m" else float("nan")
            return float(v) * scale

        t = np.asarray(d["camera_offset_mm"], dtype=np.float64) * 1e-3
        sig = np.asarray(d["camera_offset_sigma_mm"], dtype=np.float64) * 1e-3
        c = np.asarray(d["stop_centre_mm_from_camera"], dtype=np.float64) * 1e-3
        if t.shape != (3,) or sig.shape != (3,) or c.shape != (3,):
            raise ValueError("camera_offset_mm, its sigma and the stop centre need 3 numbers")
        D = num("image_distance_m")
        return cls(
            t, sig, D, float("nan"), 0.0 if math.isinf(D) else 1.0 / (D + t[2]), float("nan"),
            float("nan"), 0, c, num("stop_radius_mm", 1e-3), float("nan"), {},
            num("stop_to_eye_mm", 1e-3),
        )  # fmt: skip

    @property
    def stop_half_angle_deg(self) -> float:
        """Half-angle of the field stop seen from the eye point, degrees (NaN: no stop fit)."""
        return math.degrees(math.atan(self.rim_radius_m / self.stop_to_eye_m))

    def eye_tan(self, tan_cam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Eye-point tan angles of what the base camera sees at ``tan_cam`` (both (N, 2)).

        The camera's ray meets the virtual image plane at ``t_xy + (D + t_z) tan_cam``; the eye
        point sees that point at that over ``D``. A collimated image needs no correction.
        """
        D = self.image_distance_m
        if not math.isfinite(D):
            return np.asarray(tan_cam, dtype=np.float64)
        t = self.camera_offset_m
        return (t[None, :2] + (D + t[2]) * np.asarray(tan_cam)) / D

    def sensitivity(self) -> dict[str, float]:
        """How much the result moves per millimetre of camera offset.

        Keys: ``lens_arcmin_per_mm_lateral`` (fitted directions, everywhere),
        ``lens_arcmin_per_mm_axial_at_edge`` (at the largest field angle),
        ``fov_edge_deg_per_mm_lateral`` / ``fov_edge_deg_per_mm_axial`` (an edge set by the
        stop), and ``lens_arcmin_from_offset_sigma`` (the offset's uncertainty carried into
        the lens directions, at the field edge).
        """
        D = self.image_distance_m
        inv = 0.0 if not math.isfinite(D) else 1.0 / D
        th = math.radians(self.max_field_deg)
        lat = 1e-3 * inv / ARCMIN
        ax = 1e-3 * inv * math.tan(th) * math.cos(th) ** 2 / ARCMIN
        z = self.stop_to_eye_m
        r = self.rim_radius_m
        if math.isfinite(z) and math.isfinite(r) and z > 0:
            a = math.atan(r / z)
            fov_lat = math.degrees(1e-3 * math.cos(a) ** 2 / z)
            fov_ax = math.degrees(1e-3 * r / (z * z + r * r))
        else:
            fov_lat = fov_ax = float("nan")
        s = self.offset_sigma_m * 1e3
        return {
            "lens_arcmin_per_mm_lateral": lat,
            "lens_arcmin_per_mm_axial_at_edge": ax,
            "fov_edge_deg_per_mm_lateral": fov_lat,
            "fov_edge_deg_per_mm_axial": fov_ax,
            "lens_arcmin_from_offset_sigma": float(
                math.hypot(lat * math.hypot(s[0], s[1]), ax * s[2])
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON form (millimetres where a person reads them)."""
        return {
            "camera_offset_mm": np.round(self.camera_offset_m * 1e3, 3).tolist(),
            "camera_offset_sigma_mm": np.round(self.offset_sigma_m * 1e3, 3).tolist(),
            "frame": "eye frame: x right, y up, z towards the user (away from the lens)",
            "image_distance_m": _finite(self.image_distance_m),
            "image_distance_sigma_m": _finite(self.image_distance_sigma_m),
            "parallax_rms_arcmin": _finite(self.parallax_rms_arcmin),
            "n_parallax_samples": self.n_parallax,
            "stop_centre_mm_from_camera": np.round(self.rim_centre_m * 1e3, 3).tolist(),
            "stop_radius_mm": _finite(self.rim_radius_m * 1e3),
            "stop_fit_rms_mm": _finite(self.rim_rms_mm),
            "stop_edge_points": dict(self.rim_points),
            "stop_to_eye_mm": _finite(self.stop_to_eye_m * 1e3),
            "stop_half_angle_deg": _finite(self.stop_half_angle_deg),
            "sensitivity": {k: _finite(v) for k, v in self.sensitivity().items()},
        }

    def lines(self) -> list[str]:
        """Report lines."""
        t, s = self.camera_offset_m * 1e3, self.offset_sigma_m * 1e3
        D = self.image_distance_m
        dist = (
            "at infinity (collimated)"
            if not math.isfinite(D)
            else f"{D:.3f} m (+/- {self.image_distance_sigma_m:.3f})"
        )
        sens = self.sensitivity()
        out = [
            "camera offset from the eye point (x right, y up, z away from the lens): "
            + ", ".join(f"{a:+.2f} +/- {b:.2f}" for a, b in zip(t, s, strict=True))
            + " mm",
            f"  virtual image {dist}; parallax residual {self.parallax_rms_arcmin:.2f} arcmin "
            f"over {self.n_parallax} samples",
        ]
        if math.isfinite(self.rim_radius_m):
            out.append(
                f"  lens stop: radius {self.rim_radius_m * 1e3:.2f} mm, "
                f"{-self.rim_centre_m[2] * 1e3:.2f} mm in front of the camera, fit RMS "
                f"{self.rim_rms_mm:.3f} mm ({sum(self.rim_points.values())} edge points); "
                f"eye point {self.stop_to_eye_m * 1e3:.2f} mm behind it, where the stop bounds "
                f"the view at {self.stop_half_angle_deg:.2f} deg from the axis"
            )
        out.append(
            f"  sensitivity: lens directions {sens['lens_arcmin_per_mm_lateral']:.2f} arcmin per "
            f"mm across, {sens['lens_arcmin_per_mm_axial_at_edge']:.2f} per mm along (at "
            f"{self.max_field_deg:.0f} deg); stop-bounded FOV edges "
            f"{sens['fov_edge_deg_per_mm_lateral']:.2f} deg per mm across; the offset's "
            f"uncertainty moves the lens by {sens['lens_arcmin_from_offset_sigma']:.2f} arcmin"
        )
        return out


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _tan_of_pixels(
    camera: CameraModel, px: NDArray[np.float64], R_eye_cam: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    from vrkit.calibration.synth import ideal_from_camera_rays

    return ideal_from_camera_rays(camera.pixels_to_rays(px), R_eye_cam)


def inverse_image_distance(
    fit: Any,
    panel: Any,
    camera: CameraModel,
    R_eye_cam: NDArray[np.float64],
    sets: Sequence[StageSet],
    step: int = 4,
) -> tuple[float, float, float, int]:
    """``1 / D'`` (base camera to the virtual image) from the parallax of the stage sets.

    Args:
        fit: The lens fitted at the base position (camera at the eye point assumed).
        panel: Panel geometry of the eye.
        camera: The measuring camera.
        R_eye_cam: (3, 3) the fit's camera-to-eye rotation.
        sets: Stage sets (their offsets relative to the base).
        step: Decoded pixels sampled every ``step`` pixels.

    Returns:
        ``(w 1/m, sigma 1/m, residual RMS arcmin, samples used)``.

    Raises:
        DataError: No stage set overlaps the field fitted at the base position.
    """
    from scipy.spatial import cKDTree

    base_panel = fit.obs.panel_px[fit.inlier & (fit.obs.channel == 1)]
    tree = cKDTree(base_panel)
    spacing = float(np.median(tree.query(base_panel, k=2)[0][:, 1]))
    A, B = [], []
    for s in sets:
        cam, pan = s.green.samples(step)
        if not len(cam):
            continue
        near = tree.query(pan)[0] <= 1.5 * spacing
        tan_k, ok = _tan_of_pixels(camera, cam, R_eye_cam)
        ok &= near
        pred = fit.lens.undistort(panel.px_to_tan(pan[ok], fit.lens_centre_px), 1, strict=False)
        a = pred - tan_k[ok]
        b = s.offset_m[None, :2] + s.offset_m[2] * tan_k[ok]
        good = np.all(np.isfinite(a), axis=1)
        A.append(a[good])
        B.append(b[good])
    if not A or sum(len(a) for a in A) < 50:
        raise DataError(
            "the stage captures do not overlap the field measured at the base position",
            "move the stage by a few millimetres only, and decode the same pattern there",
        )
    a, b = np.concatenate(A), np.concatenate(B)
    wts = np.ones(len(a))
    w = 0.0
    for _ in range(4):
        w = float(np.sum(wts[:, None] * a * b) / max(np.sum(wts[:, None] * b * b), 1e-30))
        r = np.linalg.norm(a - w * b, axis=1)
        scale = 1.4826 * float(np.median(r)) + 1e-12
        wts = (r <= 4.0 * scale).astype(np.float64)
    kept = wts > 0
    res = a[kept] - w * b[kept]
    var = float(np.sum(res**2) / max(2 * kept.sum() - 1, 1))
    sigma = math.sqrt(var / max(float(np.sum(b[kept] ** 2)), 1e-30))
    rms = float(np.sqrt(np.mean(np.sum(res**2, axis=1)))) / ARCMIN
    return w, sigma, rms, int(kept.sum())


def stop_edge_points(
    green: Any, contrast: NDArray[np.floating], panel: Any, margin_px: float = 48.0
) -> NDArray[np.float64]:
    """Sub-pixel camera points (M, 2) where the lens's field stop ends the lit field.

    The lit field's outer edge (the 50 % point of the visibility ratio, interpolated between
    neighbouring pixels along rows and columns) is kept where the nearest decoded pixel (within
    6 px) sees the panel more than ``margin_px`` inside every viewport edge: there the panel
    goes on and something else, the stop, cuts it. Edges of shadows inside the field and edges
    near the image border are left out.
    """
    from scipy import ndimage

    from vrkit.calibration.fovmeasure import visibility_ratio

    ratio = visibility_ratio(contrast)
    h, w = ratio.shape
    inside = ratio >= 0.5
    outer = ~ndimage.binary_fill_holes(inside)
    dist, (iy, ix) = ndimage.distance_transform_edt(~green.valid, return_indices=True)
    x0, y0, vw, vh = panel.viewport_px
    pts = []
    for axis in (0, 1):  # crossings between (y, x) and (y, x + 1), then (y + 1, x)
        a = ratio[:, :-1] if axis == 0 else ratio[:-1, :]
        b = ratio[:, 1:] if axis == 0 else ratio[1:, :]
        oa = outer[:, :-1] if axis == 0 else outer[:-1, :]
        ob = outer[:, 1:] if axis == 0 else outer[1:, :]
        cross = ((a >= 0.5) & (b < 0.5) & ob) | ((a < 0.5) & (b >= 0.5) & oa)
        ys, xs = np.nonzero(cross)
        ra, rb = a[ys, xs], b[ys, xs]
        f = (ra - 0.5) / (ra - rb)
        px = np.stack([xs + (f if axis == 0 else 0.0), ys + (f if axis == 1 else 0.0)], 1)
        # The pixel of the pair that is inside the lit field: its nearest decoded pixel.
        ins = np.where(ra >= 0.5, 0, 1)
        qy = ys + (ins if axis == 1 else 0)
        qx = xs + (ins if axis == 0 else 0)
        near = dist[qy, qx] <= 6.0
        p = green.panel_px[iy[qy, qx], ix[qy, qx]]
        d = np.minimum.reduce([p[:, 0] - x0, x0 + vw - p[:, 0], p[:, 1] - y0, y0 + vh - p[:, 1]])
        keep = near & (d > margin_px)
        keep &= (px[:, 0] > 3) & (px[:, 0] < w - 4) & (px[:, 1] > 3) & (px[:, 1] < h - 4)
        pts.append(px[keep])
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def fit_stop(
    rays: Sequence[tuple[NDArray[np.float64], NDArray[np.float64]]],
) -> tuple[NDArray[np.float64], float, float, NDArray[np.float64]]:
    """Fit the stop circle to edge rays from several known camera positions.

    The stop is a circle of radius ``rho`` in a plane square to the eye frame's z axis, centred
    at ``C`` relative to the base camera. A ray from position ``s`` with tan direction ``t``
    meets the stop plane at ``s_xy + (s_z - C_z) t``; its residual is the distance of that
    point from the circle.

    Args:
        rays: Per capture set, ``(offset_m (3,), tan (M, 2))`` of its stop edge points.

    Returns:
        ``(C (3,) m, rho m, RMS residual mm, sigma (4,) of C and rho, m)``.

    Raises:
        DataError: Too few edge points, or no stage move that fixes the scale.
    """
    from scipy.optimize import least_squares

    used = [(np.asarray(s, dtype=np.float64), t) for s, t in rays if len(t) >= 20]
    if len(used) < 2 or max(float(np.linalg.norm(s)) for s, _ in used) < 1e-4:
        raise DataError(
            "the lens's field stop is seen from fewer than two stage positions "
            f"({len(used)} with 20+ edge points)",
            "capture the pattern at two or more stage positions a few millimetres apart, with "
            "the stop's edge in view (it must cut the field somewhere before the panel's edge)",
        )
    S = np.concatenate([np.repeat(s[None], len(t), 0) for s, t in used])
    T = np.concatenate([t for _, t in used])
    # Start: a circle through the base set's points in tan space, at 15 mm.
    t0 = used[0][1]
    M = np.column_stack([t0, np.ones(len(t0))])
    sol, *_ = np.linalg.lstsq(M, np.sum(t0**2, axis=1), rcond=None)
    c = sol[:2] / 2
    r = math.sqrt(max(sol[2] + float(c @ c), 1e-6))
    z0 = 0.015 + used[0][0][2]

    def resid(x: NDArray[np.float64]) -> NDArray[np.float64]:
        cx, cy, cz, rho = x
        xy = S[:, :2] + (S[:, 2:3] - cz) * T
        return np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) - rho

    x0 = np.array([z0 * c[0], z0 * c[1], -z0, z0 * r])
    res = least_squares(resid, x0, method="lm", xtol=1e-14, ftol=1e-14)
    r_fin = res.fun
    dof = max(len(r_fin) - 4, 1)
    var = float(r_fin @ r_fin) / dof
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac) * var
        sig = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        sig = np.full(4, np.inf)
    if not res.success or res.x[2] >= 0 or res.x[3] <= 0:
        raise DataError(
            "the lens's field stop does not fit a circle in front of the camera",
            "check the stage offsets (eye frame: x right, y up, z away from the lens, mm)",
        )
    return res.x[:3].copy(), float(res.x[3]), float(np.sqrt(var)) * 1e3, sig


def measure_viewpoint(
    fit: Any,
    panel: Any,
    camera: CameraModel,
    base: StageSet,
    sets: Sequence[StageSet],
    stop_to_eye_m: float,
    R_eye_cam: NDArray[np.float64] | None = None,
) -> Viewpoint:
    """Measure the camera's offset from the eye point and the virtual image distance.

    Args:
        fit: :class:`~vrkit.calibration.fit.LensFit` at the base position, camera taken at the
            eye point.
        panel: Panel geometry of the eye.
        camera: The measuring camera.
        base: The base capture set (offset zero).
        sets: The other stage sets (offsets relative to the base).
        stop_to_eye_m: Distance from the stop's plane to the design eye point, metres.
        R_eye_cam: (3, 3) camera-to-eye rotation for the stop (default: the fit's; after a
            refit from the eye point, that fit's). The parallax always uses ``fit``'s own.

    Returns:
        The viewpoint.

    Raises:
        DataError: No stage sets, no stop in view, or nothing in common between the sets.
    """
    from vrkit.calibration.fit import _rotation

    if not sets:
        raise DataError(
            "the camera's offset needs captures at two or more stage positions",
            "add --stage FOLDER=X,Y,Z (mm, eye frame) for a capture a few mm from the first",
        )
    R_fit = _rotation(fit.rotation_vector)
    R = R_fit if R_eye_cam is None else np.asarray(R_eye_cam)
    w, w_sig, par_rms, n_par = inverse_image_distance(fit, panel, camera, R_fit, sets)
    rays, counts = [], {}
    for s in (base, *sets):
        pts = stop_edge_points(s.green, s.contrast, panel)
        tan, ok = _tan_of_pixels(camera, pts, R) if len(pts) else (np.zeros((0, 2)), None)
        if ok is not None:
            tan = tan[ok]
        rays.append((s.offset_m, tan))
        counts[s.name] = len(tan)
    C, rho, rim_rms, sig = fit_stop(rays)
    # The formal sigma assumes independent edge points; they are not (blur, the decoder's
    # threshold, the rotation all move a whole arc). The spread of the fits leaving one
    # capture position out (jackknife) is the honest one where there are enough positions.
    loo = []
    for i in range(len(rays)):
        rest = rays[:i] + rays[i + 1 :]
        try:
            Ci, rhoi, _, _ = fit_stop(rest)
        except DataError:
            continue
        loo.append(np.append(Ci, rhoi))
    if len(loo) >= 2:
        n = len(loo)
        jk = np.sqrt((n - 1) / n * np.sum((np.asarray(loo) - np.mean(loo, axis=0)) ** 2, axis=0))
        sig = np.maximum(sig, jk)
    eye = np.array([C[0], C[1], C[2] + stop_to_eye_m])
    t = -eye
    d_prime = math.inf if w <= 0 else 1.0 / w
    D = d_prime - t[2]
    # w's sigma to D's: dD = dw / w^2; a w within 2 sigma of zero cannot tell D from infinity.
    D_sig = math.inf if w <= 2 * w_sig else w_sig / (w * w)
    if w <= 0:
        D = math.inf
    field_deg = float(np.nanmax(np.hypot(*fit.field_deg().T))) if len(fit.obs) else 50.0
    return Viewpoint(
        t, np.array([sig[0], sig[1], sig[2]]), float(D), float(D_sig), w, w_sig, par_rms,
        n_par, C, rho, rim_rms, counts, float(stop_to_eye_m), field_deg,
    )  # fmt: skip
