"""Fit a lens model, the lens centre and the camera-to-eye rotation to captured features.

Each observation is one pattern feature seen in one colour channel: its panel pixel position
(known from the pattern) and its camera pixel position (detected). The camera pixel becomes a
view direction through the measuring camera's intrinsics and the camera-to-eye rotation
``R_eye_cam`` (the camera sits at the eye point, upright, looking down the lens axis, up to a
small rotation that is fitted). The panel pixel becomes panel tan units about the lens centre
(fitted). The model's ``undistort`` maps those to the direction the eye should see; the
residual is the angle between the two directions.

Unknowns: rotation vector (3) of ``R_eye_cam`` about its nominal value, lens centre (2, panel
pixels), and the model's parameters (all channels at once, with the model's own chromatic
terms). ``scipy.optimize.least_squares`` with a soft-L1 loss, then the observations whose
residual is far above the rest (> max(4 x robust sigma, ``outlier_arcmin``)) are dropped and
the fit is repeated with plain least squares. The free-form grid is fitted linearly, first on
top of the rotation and centre of a radial fit, then again about the lens axis found on its own
map, with the rotation turned to put that axis straight ahead.

A camera translation away from the eye point is not fitted: with a lens model in tan-angle
units (an image at infinity) it has no effect on the directions, so it is unobservable here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.acceptance import DEFAULT_RULE, AcceptanceRule, Verdict, assess
from vrkit.calibration.patterns import PanelGeometry
from vrkit.calibration.synth import R_EYE_CAM_NOMINAL, ideal_from_camera_rays
from vrkit.core.errors import DataError, InputError, ProfileError
from vrkit.optics.base import CHANNELS, LensModel
from vrkit.optics.models import BrownConradyLens, GridLens, PanotoolsLens, RadialPolynomialLens
from vrkit.vision.camera import CameraModel

ARCMIN = math.pi / (180 * 60)
MODEL_CHOICES = (
    "radial",
    "radial2",
    "radial4",
    "brown_conrady",
    "panotools",
    "openhmd",
    "grid",
)


@dataclass
class Observations:
    """Matched features, all channels.

    Attributes:
        camera_px: (N, 2) detected camera pixel positions.
        panel_px: (N, 2) panel pixel positions of the same features.
        channel: (N,) colour channel 0, 1, 2.
        source: (N,) name of the capture each observation came from.
    """

    camera_px: NDArray[np.float64]
    panel_px: NDArray[np.float64]
    channel: NDArray[np.int64]
    source: NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.channel)


@dataclass
class LensFit:
    """Result of fitting one model.

    Attributes:
        name: Model choice name (e.g. ``"radial"``).
        lens: The fitted lens model.
        lens_centre_px: (2,) fitted lens centre on the panel, pixels.
        rotation_vector: (3,) fitted rotation of the camera about its nominal pose, radians.
        residual_arcmin: (N,) angle residual per observation (NaN where rejected).
        inlier: (N,) bool, observations kept.
        n_params: Number of fitted parameters (model + centre + rotation).
        obs: The observations fitted.
        ideal: (N, 2) measured ideal tan-angle coordinates of every observation.
        cutoff_arcmin: The rejection cut-off of the last refit (residuals above it rejected).
        residual_vec: (N, 3) predicted minus measured unit direction of every observation
            (its length is the residual angle), for the coherence test of the acceptance rule.
    """

    name: str
    lens: LensModel
    lens_centre_px: NDArray[np.float64]
    rotation_vector: NDArray[np.float64]
    residual_arcmin: NDArray[np.float64]
    inlier: NDArray[np.bool_]
    n_params: int
    obs: Observations
    ideal: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 2)))
    cutoff_arcmin: float = float("nan")
    residual_vec: NDArray[np.float64] | None = None

    def field_deg(self) -> NDArray[np.float64]:
        """(N, 2) field angles (horizontal, vertical) of every observation, degrees."""
        return np.degrees(np.arctan(self.ideal))

    def verdict(self, rule: AcceptanceRule = DEFAULT_RULE) -> Verdict:
        """The acceptance verdict (:mod:`vrkit.calibration.acceptance`)."""
        return assess(self.residual_arcmin, self.inlier, self.field_deg(), rule, self.residual_vec)

    def stats(self, rule: AcceptanceRule = DEFAULT_RULE) -> dict[str, Any]:
        """Residual statistics over all features and over the kept ones, counts, verdict.

        Keys: ``n_features`` (all detected), ``n_observations`` (kept), ``n_rejected``,
        ``rejected_fraction``, ``rms_arcmin`` / ``max_kept_arcmin`` (kept features),
        ``rms_all_arcmin`` / ``max_arcmin`` / ``p99_arcmin`` (all features, rejected ones
        included at their residual), ``cutoff_arcmin`` (the rejection cut-off, not a
        maximum), ``bic`` (over all features), ``per_channel``, ``acceptable``, ``verdict``.
        """
        r = self.residual_arcmin[self.inlier]
        r_all = self.residual_arcmin
        n = len(r_all)
        v = self.verdict(rule)
        out: dict[str, Any] = {
            "model": self.name,
            "n_features": n,
            "n_observations": int(self.inlier.sum()),
            "n_rejected": int((~self.inlier).sum()),
            "rejected_fraction": float((~self.inlier).sum() / max(n, 1)),
            "n_params": self.n_params,
            "rms_arcmin": float(np.sqrt(np.mean(r**2))) if len(r) else float("nan"),
            "max_kept_arcmin": float(np.max(r)) if len(r) else float("nan"),
            "rms_all_arcmin": float(np.sqrt(np.mean(r_all**2))),
            "max_arcmin": float(np.max(r_all)),
            "p99_arcmin": float(np.percentile(r_all, 99)),
            "cutoff_arcmin": float(self.cutoff_arcmin),
            "bic": bic(r_all, self.n_params),
            "acceptable": v.acceptable,
            "verdict": v.to_dict(),
            "per_channel": {},
        }
        for c in range(3):
            m = self.obs.channel == c
            if m.any():
                rc = self.residual_arcmin[m & self.inlier]
                out["per_channel"][CHANNELS[c]] = {
                    "n": int(m.sum()),
                    "n_rejected": int((m & ~self.inlier).sum()),
                    "rms_arcmin": float(np.sqrt(np.mean(rc**2))) if len(rc) else float("nan"),
                    "rms_all_arcmin": float(np.sqrt(np.mean(self.residual_arcmin[m] ** 2))),
                    "max_arcmin": float(np.max(self.residual_arcmin[m])),
                }
        return out


def bic(residual_arcmin: NDArray[np.float64], n_params: int) -> float:
    """Bayesian information criterion of a fit, from its angle residuals.

    Each observation gives two residual components; Gaussian errors of unknown variance:
    ``BIC = n ln(RSS / n) + k ln(n)`` with ``n = 2 N``. Lower is better; only differences
    between models fitted to the same observations mean anything.
    """
    n = 2 * len(residual_arcmin)
    rss = float(np.sum(residual_arcmin**2)) + 1e-300
    return float(n * math.log(rss / n) + n_params * math.log(n))


def _rotation(rv: NDArray[np.float64]) -> NDArray[np.float64]:
    import cv2

    R, _ = cv2.Rodrigues(np.asarray(rv, dtype=np.float64).reshape(3, 1))
    return R @ R_EYE_CAM_NOMINAL


def _unit(ideal: NDArray[np.float64]) -> NDArray[np.float64]:
    v = np.concatenate([ideal, -np.ones((len(ideal), 1))], axis=1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# --- model parametrisations -------------------------------------------------------------------


@dataclass
class _Param:
    """How a model's parameters map to and from a flat vector."""

    n: int
    x0: Callable[[], NDArray[np.float64]]
    build: Callable[[NDArray[np.float64]], LensModel]
    #: "undistort" when the model's panel -> ideal map is closed form, else "distort".
    direction: str = "undistort"
    #: Fast closed-form ``distort(params, ideal, channel)`` used inside the fit loop instead of
    #: building the model each evaluation (must equal ``build(params).distort``; tested).
    forward: (
        Callable[[NDArray[np.float64], NDArray[np.float64], int], NDArray[np.float64]] | None
    ) = None


def openhmd_unit(panel: PanelGeometry) -> float:
    """OpenHMD's radius unit: half the eye viewport width, in tan units (the DK1 convention)."""
    return panel.viewport_px[2] / 2 * float(panel.tan_per_px()[0])


def _param_for(
    name: str, unit: float, channels: Sequence[int], panel_unit: float | None = None
) -> _Param:
    has = set(channels)
    chroma = {0, 2} & has
    if name.startswith("radial"):
        nk = {"radial": 3, "radial2": 2, "radial4": 4}[name]
        ns = len(chroma)

        def build(p: NDArray[np.float64]) -> LensModel:
            scale = [1.0, 1.0, 1.0]
            for j, c in enumerate(sorted(chroma)):
                scale[c] = 1.0 + p[nk + j]
            # Coefficients are fitted in units of `unit` (panel radius ~ 1) for conditioning.
            k = [p[i] / unit ** (2 * (i + 1)) for i in range(nk)]
            return RadialPolynomialLens(k, scale)

        return _Param(nk + ns, lambda: np.zeros(nk + ns), build)
    if name == "panotools":

        def build_p(p: NDArray[np.float64]) -> LensModel:
            chroma_v = [1.0 + p[4], p[5], 1.0 + p[6], p[7]]
            return PanotoolsLens([1.0 + p[0], p[1], p[2], p[3]], chroma_v, unit=unit, form="oculus")

        n = 8 if chroma else 4

        def build_pn(p: NDArray[np.float64]) -> LensModel:
            full = np.concatenate([p, np.zeros(8 - len(p))])
            return build_p(full)

        return _Param(n, lambda: np.zeros(n), build_pn)
    if name == "openhmd":
        # OpenHMD's universal distortion: panotools a, b, c, d (all powers of rho = r / unit,
        # unit = half the viewport width) and one aberration scale per channel.
        if panel_unit is None:
            raise InputError("the openhmd model needs the panel's radius unit")
        order = sorted(chroma)

        def build_o(p: NDArray[np.float64]) -> LensModel:
            scale = {0: 1.0, 2: 1.0}
            for j, c in enumerate(order):
                scale[c] = 1.0 + p[4 + j]
            abcd = [p[0], p[1], p[2], 1.0 + p[3]]
            return PanotoolsLens(abcd, [scale[0], 0.0, scale[2], 0.0], panel_unit, "panotools")

        n_o = 4 + len(order)
        return _Param(n_o, lambda: np.zeros(n_o), build_o)
    if name == "brown_conrady":
        per = 5
        chroma_order = sorted(chroma)

        def coeffs_of(p: NDArray[np.float64], c: int) -> list[float]:
            if c == 1 or c not in has:
                vals = p[:per]
            else:
                j = per * (1 + chroma_order.index(c))
                vals = p[j : j + per]
            k1, k2, p1, p2, k3 = vals
            return [k1 / unit**2, k2 / unit**4, p1 / unit, p2 / unit, k3 / unit**6]

        def build_b(p: NDArray[np.float64]) -> LensModel:
            return BrownConradyLens({name: coeffs_of(p, c) for c, name in enumerate(CHANNELS)})

        def forward_b(
            p: NDArray[np.float64], ideal: NDArray[np.float64], c: int
        ) -> NDArray[np.float64]:
            # OpenCV's Brown-Conrady projection, as BrownConradyLens.distort (5 coefficients).
            k1, k2, p1, p2, k3 = coeffs_of(p, c)
            x, y = ideal[:, 0], ideal[:, 1]
            r2 = x * x + y * y
            rad = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            yd = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
            return np.stack([xd, yd], axis=1)

        n = per * (1 + len(chroma))
        return _Param(n, lambda: np.zeros(n), build_b, "distort", forward_b)
    raise InputError(f"unknown lens model {name!r}; expected one of {MODEL_CHOICES}")


# --- the fit ------------------------------------------------------------------------------------


def fit_lens(
    obs: Observations,
    camera: CameraModel,
    panel: PanelGeometry,
    model: str = "radial",
    *,
    outlier_arcmin: float = 3.0,
    grid_knots: int = 13,
    progress: Callable[[str], None] | None = None,
    viewpoint: Any = None,
) -> LensFit:
    """Fit one lens model with the lens centre and the camera-to-eye rotation.

    Args:
        obs: Matched observations (at least 20, at least 12 per fitted channel).
        camera: The measuring camera's intrinsics.
        panel: Panel geometry of the eye.
        model: One of :data:`MODEL_CHOICES` (``radial`` = 3 coefficients, ``radial2``,
            ``radial4``, ``brown_conrady``, ``panotools`` (Oculus even powers), ``openhmd``
            (panotools a, b, c, d with OpenHMD's radius unit and aberration scales), ``grid``).
        outlier_arcmin: Observations whose residual exceeds the larger of this and 4 robust
            sigmas after the robust fit are rejected.
        grid_knots: Knots per axis of the grid model.
        progress: Called with a short stage name as the fit advances.
        viewpoint: :class:`vrkit.calibration.viewpoint.Viewpoint` of the camera (its offset
            from the eye point): the directions are taken from the eye point. None: the camera
            is taken to sit at the eye point.

    Returns:
        The fit.

    Raises:
        DataError: Too few observations, or the fit does not converge to a usable lens.
    """
    from scipy.optimize import least_squares

    if model not in MODEL_CHOICES:
        raise InputError(f"unknown lens model {model!r}; expected one of {MODEL_CHOICES}")
    channels = sorted(set(int(c) for c in obs.channel))
    for c in channels:
        n_c = int(np.sum(obs.channel == c))
        if n_c < 12:
            raise DataError(
                f"only {n_c} features in the {CHANNELS[c]} channel, need at least 12",
                "check that the captures show the pattern",
            )
    if model == "grid":
        return _fit_grid(obs, camera, panel, grid_knots, outlier_arcmin, progress, viewpoint)

    rays = camera.pixels_to_rays(obs.camera_px)
    centre0 = np.asarray(panel.lens_centre_px, dtype=np.float64)
    # Unit radius: the largest panel radius observed, so fitted coefficients are O(1).
    unit = float(np.max(np.hypot(*panel.px_to_tan(obs.panel_px).T)))
    par = _param_for(model, unit, channels, openhmd_unit(panel))
    chan = obs.channel
    meas_cache: dict[bytes, NDArray[np.float64]] = {}

    def unpack(
        x: NDArray[np.float64],
    ) -> tuple[LensModel, NDArray[np.float64], NDArray[np.float64]]:
        return par.build(x[5:]), x[:3], centre0 + x[3:5]

    def residual(
        x: NDArray[np.float64], keep: NDArray[np.bool_], exact: bool = False
    ) -> NDArray[np.float64]:
        rv, centre = x[:3], centre0 + x[3:5]
        lens: Any = None
        if par.forward is None or exact:
            try:
                lens = par.build(x[5:])
            except (ProfileError, ValueError):
                return np.full(3 * int(keep.sum()), 1.0)
        key = x[:3].tobytes()
        meas = meas_cache.get(key)
        if meas is None:
            ideal_m, _ = ideal_from_camera_rays(rays, _rotation(rv))
            if viewpoint is not None:
                ideal_m = viewpoint.eye_tan(ideal_m)
            meas = _unit(ideal_m)
            meas_cache.clear()
            meas_cache[key] = meas
        tan = panel.px_to_tan(obs.panel_px[keep], centre)
        ck = chan[keep]
        if par.direction == "undistort" or exact:
            pred = np.empty((len(tan), 2))
            for c in channels:
                m = ck == c
                pred[m] = lens.undistort(tan[m], c, strict=False)
            d = _unit(pred) - meas[keep]
        else:
            fwd = par.forward
            assert fwd is not None

            def distort(p: NDArray[np.float64], c: int) -> NDArray[np.float64]:
                return fwd(x[5:], p, c)

            d = _forward_residual(distort, meas[keep], tan, ck, channels)
        d[~np.isfinite(d)] = 1.0  # outside the model's usable range: a large residual
        return d.ravel()

    keep = np.ones(len(obs), bool)
    x = np.concatenate([np.zeros(5), par.x0()])
    scale_x = np.concatenate([np.full(3, 0.01), np.full(2, 10.0), np.ones(par.n)])
    if progress:
        progress(f"{model}: robust fit")
    sol = least_squares(
        residual,
        x,
        args=(keep,),
        loss="soft_l1",
        f_scale=1.0 * ARCMIN,
        x_scale=scale_x,
        method="trf",
        max_nfev=60 + 4 * par.n,
    )
    x = sol.x
    keep = np.ones(len(obs), bool)
    cutoff = float(outlier_arcmin)
    for _ in range(3):
        r = _angles(residual(x, np.ones(len(obs), bool), True))
        med = float(np.median(r[keep]))
        sigma = 1.4826 * float(np.median(np.abs(r[keep] - med))) + 1e-9
        cutoff = max(outlier_arcmin, 4.0 * sigma + med)
        new_keep = r <= cutoff
        if np.array_equal(new_keep, keep) and _ > 0:
            break
        keep = new_keep
        if progress:
            progress(f"{model}: refit without {int((~keep).sum())} outliers")
        sol = least_squares(
            residual,
            x,
            args=(keep,),
            x_scale=scale_x,
            method="lm",
            max_nfev=200 * (6 + par.n),
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
        )
        x = sol.x
    lens, rv, centre = unpack(x)
    d_all = residual(x, np.ones(len(obs), bool), True)
    r_all = _angles(d_all)
    res = np.where(keep, r_all, np.nan)
    if not np.all(np.isfinite(r_all[keep])) or np.nanmax(res) > 600:
        raise DataError(
            f"{model} fit did not converge (max residual {np.nanmax(res):.1f} arcmin)",
            "check the camera file, the pattern description and the captures",
        )
    ideal, _ = ideal_from_camera_rays(rays, _rotation(rv))
    if viewpoint is not None:
        ideal = viewpoint.eye_tan(ideal)
    return LensFit(
        model, lens, centre, rv, r_all, keep, 5 + par.n, obs, ideal, cutoff, d_all.reshape(-1, 3)
    )


def _forward_residual(
    distort: Callable[[NDArray[np.float64], int], NDArray[np.float64]],
    meas_dir: NDArray[np.float64],
    tan: NDArray[np.float64],
    chan: NDArray[np.int64],
    channels: Sequence[int],
) -> NDArray[np.float64]:
    """Direction residual for a model whose ``distort`` is the closed-form direction.

    The panel-space miss ``distort(measured) - panel`` is carried back to ideal space through
    the inverse of the local Jacobian of ``distort`` (finite differences), which is the
    first-order equivalent of comparing directions, without solving the inverse per point.
    """
    ideal = -meas_dir[:, :2] / meas_dir[:, 2:3]
    out = np.empty((len(tan), 3))
    h = 1e-6
    for c in channels:
        m = chan == c
        p = ideal[m]
        f0 = distort(p, c)
        fx = distort(p + np.array([h, 0.0]), c)
        fy = distort(p + np.array([0.0, h]), c)
        J = np.stack([(fx - f0) / h, (fy - f0) / h], axis=2)  # (n, 2 out, 2 in)
        miss = f0 - tan[m]
        with np.errstate(all="ignore"):
            step = np.linalg.solve(J, miss[..., None])[..., 0]
        out[m] = _unit(p - step) - meas_dir[m]
    return out.ravel()


def _angles(d: NDArray[np.float64]) -> NDArray[np.float64]:
    """Angle (arcmin) from the chord between unit vectors, (3N,) -> (N,)."""
    chord = np.linalg.norm(d.reshape(-1, 3), axis=1)
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)) / ARCMIN


def _fit_grid(
    obs: Observations,
    camera: CameraModel,
    panel: PanelGeometry,
    knots: int,
    outlier_arcmin: float,
    progress: Callable[[str], None] | None,
    viewpoint: Any = None,
) -> LensFit:
    """Grid model: start from a radial fit's centre and rotation, solve linearly per channel.

    The radial fit's centre is not the lens axis of a decentred lens (the thin-prism part pulls
    it about 1 panel pixel off on the test bench's lens), and its rotation does not put the
    grid's image of that centre straight ahead. So after a first solve the lens axis is found
    on the grid's own map (:func:`_grid_lens_axis`): the centre moves there, the rotation turns
    it straight ahead, and the grid is solved again in that frame (twice). The fitted grid's
    undistortion of its lens centre is then ``(0, 0)``.
    """
    import cv2

    base = fit_lens(
        obs,
        camera,
        panel,
        "radial",
        outlier_arcmin=outlier_arcmin,
        progress=progress,
        viewpoint=viewpoint,
    )
    rays = camera.pixels_to_rays(obs.camera_px)
    channels = sorted(set(int(c) for c in obs.channel))
    axis_channel = 1 if 1 in channels else channels[0]
    centre = np.asarray(base.lens_centre_px, dtype=np.float64)
    rv = np.asarray(base.rotation_vector, dtype=np.float64)
    for rnd in range(3):
        if progress:
            progress("grid: linear solve" if rnd == 0 else f"grid: solve on the lens axis ({rnd})")
        # Eye frame of this round relative to the radial fit's (for the radial prior).
        R_rel = _rotation(rv) @ _rotation(base.rotation_vector).T
        lens, keep, r_all, d_all, meas, cutoff = _grid_solve(
            obs, panel, base, rays, centre, rv, R_rel, knots, outlier_arcmin, channels, viewpoint
        )
        if rnd == 2:
            break
        shift, Q = _grid_lens_axis(lens, axis_channel, 0.5 * lens.max_panel_radius)
        centre = panel.tan_to_px(shift, centre)
        rv = cv2.Rodrigues(Q @ _rotation(rv) @ R_EYE_CAM_NOMINAL.T)[0].ravel()
    n_params = 5 + 2 * knots * knots * len(channels)
    return LensFit("grid", lens, centre, rv, r_all, keep, n_params, obs, meas, cutoff, d_all)


def _grid_solve(
    obs: Observations,
    panel: PanelGeometry,
    base: LensFit,
    rays: NDArray[np.float64],
    centre: NDArray[np.float64],
    rv: NDArray[np.float64],
    R_rel: NDArray[np.float64],
    knots: int,
    outlier_arcmin: float,
    channels: list[int],
    viewpoint: Any = None,
) -> tuple[GridLens, NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64], Any, float]:
    """One linear grid solve about lens centre ``centre`` (px) with camera rotation ``rv``.

    Returns:
        ``(lens, keep (N,), residual arcmin (N,), residual vectors (N, 3), measured ideal
        (N, 2), cut-off arcmin)``.
    """
    from scipy.interpolate import InterpolatedUnivariateSpline

    keep = base.inlier.copy()
    tan = panel.px_to_tan(obs.panel_px, centre)
    meas, _ = ideal_from_camera_rays(rays, _rotation(rv))
    if viewpoint is not None:
        meas = viewpoint.eye_tan(meas)
    lo, hi = tan.min(axis=0), tan.max(axis=0)
    pad = 0.02 * (hi - lo)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], knots)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], knots)
    n_k = knots * knots
    # Interpolating bicubic splines are linear in the knot values, and FITPACK's interpolating
    # bicubic (GridLens's spline) is the tensor product of the 1-D interpolating cubics: the
    # basis of knot (ix, iy) is Bx[:, ix] * By[:, iy] (column iy * knots + ix, as z[iy, ix]).
    unit_k = np.eye(knots)
    tx = np.clip(tan[:, 0], xs[0], xs[-1])
    ty = np.clip(tan[:, 1], ys[0], ys[-1])
    bx = np.stack([InterpolatedUnivariateSpline(xs, unit_k[i], k=3)(tx) for i in range(knots)], 1)
    by = np.stack([InterpolatedUnivariateSpline(ys, unit_k[i], k=3)(ty) for i in range(knots)], 1)
    basis = (by[:, :, None] * bx[:, None, :]).reshape(len(tan), n_k)
    # Knots with little data fall back on a prior: the radial fit's map, continued linearly in
    # radius beyond its usable range (monotonic), strongly where no data supports the knot
    # (summed spline weight of its observations < 1) and only faintly elsewhere, so that the
    # data, not a possibly wrong radial map, decides the field's edge. The prior is the radial
    # map about its own centre, turned into this solve's eye frame.
    gx, gy = np.meshgrid(xs, ys)
    knots_xy = np.stack([gx.ravel(), gy.ravel()], axis=1)
    knots_b = knots_xy + panel.px_to_tan(centre[None], base.lens_centre_px)
    r_k = np.hypot(knots_b[:, 0], knots_b[:, 1])
    r_lim = 0.98 * base.lens.max_panel_radius
    clamp = np.minimum(1.0, r_lim / np.maximum(r_k, 1e-12))
    eye = np.eye(knots)
    d2 = np.diff(eye, 2, axis=0)
    smooth = np.vstack([np.kron(eye, d2), np.kron(d2, eye)]) * 1e-2
    disp = np.zeros((3, knots, knots, 2))
    for _ in range(2):
        for c in range(3):
            src = c if c in channels else 1
            m = keep & (obs.channel == src)
            inside = base.lens.undistort(knots_b * clamp[:, None], src, strict=False)
            prior = _turn_tan(R_rel, inside / clamp[:, None]) - knots_xy
            has_prior = np.all(np.isfinite(prior), axis=1)
            support = np.sum(np.abs(basis[m]), axis=0)
            weight = np.where(support >= 1.0, 0.01, 1.0)[has_prior]
            P = np.eye(n_k)[has_prior] * weight[:, None]
            A = np.vstack([basis[m], P, smooth])
            B = np.concatenate(
                [
                    meas[m] - tan[m],
                    weight[:, None] * prior[has_prior],
                    np.zeros((len(smooth), 2)),
                ]
            )
            # Normal equations (the prior and smoothness rows keep them well posed): one
            # factorisation for both components, far faster than an SVD per component.
            sol = np.linalg.solve(A.T @ A, A.T @ B)
            for j in (0, 1):
                disp[c, :, :, j] = sol[:, j].reshape(knots, knots)
        try:
            lens = GridLens(xs.tolist(), ys.tolist(), disp)
        except ProfileError as exc:
            raise DataError(
                f"grid fit folds over: {exc}", "use fewer grid knots (--grid-knots)"
            ) from None
        pred = np.empty_like(tan)
        for c in channels:
            mc = obs.channel == c
            pred[mc] = lens.undistort(tan[mc], c, strict=False)
        d_all = _unit(pred) - _unit(meas)
        r_all = _angles(d_all)
        cutoff = max(outlier_arcmin, 4.0 * 1.4826 * float(np.median(r_all)))
        keep = base.inlier & (r_all <= cutoff)
    return lens, keep, r_all, d_all, meas, cutoff


def axis_rotation(tan: NDArray[np.float64]) -> NDArray[np.float64]:
    """(3, 3) smallest eye-frame rotation taking the direction of ``tan`` (2,) to (0, 0, -1)."""
    import cv2

    d = np.array([tan[0], tan[1], -1.0]) / math.sqrt(1.0 + tan[0] ** 2 + tan[1] ** 2)
    axis = np.cross(d, [0.0, 0.0, -1.0])
    s = float(np.linalg.norm(axis))
    if s < 1e-15:
        return np.eye(3)
    R, _ = cv2.Rodrigues((axis / s * math.atan2(s, -d[2])).reshape(3, 1))
    return R


def _turn_tan(R: NDArray[np.float64], tan: NDArray[np.float64]) -> NDArray[np.float64]:
    """Tan coordinates (N, 2) of directions turned by the eye-frame rotation R (3, 3)."""
    d = np.concatenate([tan, -np.ones((len(tan), 1))], axis=1) @ R.T
    with np.errstate(all="ignore"):
        return -d[:, :2] / d[:, 2:3]


def _axis_coma(
    lens: GridLens, shift: NDArray[np.float64], channel: int, r0: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The ``w^2`` coefficient of the grid's map about a candidate lens centre, and its turn.

    The map (panel tan ``s`` about ``shift`` -> ideal tan, turned so that ``s = 0`` is straight
    ahead) is fitted by a 5th-degree polynomial over the disc ``|s| <= r0``; its quadratic term,
    written in the coordinates ``w = L s`` of its linear part ``L`` and as complex numbers, is
    ``a w^2 + b |w|^2 + c conj(w)^2``. A lens symmetric about its axis up to a thin prism
    (``b``) has ``a = 0`` at its axis; moving the centre off the axis adds ``a`` in proportion.

    Returns:
        ``((2,) real and imaginary part of a, (3, 3) rotation putting the centre ahead)``.
    """
    t0 = lens.undistort(shift[None], channel, strict=False)[0]
    Q = axis_rotation(t0)
    rr, th = np.meshgrid(np.linspace(0, r0, 25)[1:], np.linspace(0, 2 * np.pi, 72, endpoint=False))
    s = np.concatenate(
        [[[0.0, 0.0]], np.stack([(rr * np.cos(th)).ravel(), (rr * np.sin(th)).ravel()], 1)]
    )
    t = _turn_tan(Q, lens.undistort(shift + s, channel, strict=False))
    ok = np.all(np.isfinite(t), axis=1)
    mons = [(i, n - i) for n in range(6) for i in range(n + 1)]
    A = np.stack([s[ok, 0] ** i * s[ok, 1] ** j for i, j in mons], 1)
    coef = np.linalg.lstsq(A, t[ok], rcond=None)[0]  # (n_mons, 2)
    L = np.stack([coef[mons.index((1, 0))], coef[mons.index((0, 1))]], axis=1)
    ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    sw = np.stack([np.cos(ang), np.sin(ang)], 1) @ np.linalg.inv(L).T  # s of unit w
    q = sum(
        np.outer(sw[:, 0] ** i * sw[:, 1] ** j, coef[k])
        for k, (i, j) in enumerate(mons)
        if i + j == 2
    )
    a = np.mean((q[:, 0] + 1j * q[:, 1]) * np.exp(-2j * ang))
    return np.array([a.real, a.imag]), Q


def _grid_lens_axis(
    lens: GridLens, channel: int, r0: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The grid's lens axis: where its map is symmetric up to a thin prism (``a = 0``).

    Newton steps (finite-difference Jacobian) on :func:`_axis_coma` from the grid's centre.

    Args:
        lens: The fitted grid.
        channel: Colour channel whose axis is found (green).
        r0: Radius of the disc the map's Taylor terms are fitted over, panel tan units.

    Returns:
        ``(shift (2,), Q (3, 3))``: the axis in panel tan units about the grid's centre, and the
        eye-frame rotation putting it straight ahead. ``(0, I)`` when Newton does not settle
        within ``0.05 * r0`` of the centre.
    """
    shift = np.zeros(2)
    h = 2e-3 * r0
    for _ in range(4):
        f0, _q = _axis_coma(lens, shift, channel, r0)
        J = np.stack(
            [(_axis_coma(lens, shift + h * e, channel, r0)[0] - f0) / h for e in np.eye(2)], 1
        )
        try:
            step = np.linalg.solve(J, f0)
        except np.linalg.LinAlgError:
            return np.zeros(2), axis_rotation(lens.undistort(np.zeros((1, 2)), channel)[0])
        shift = shift - step
        if not np.all(np.isfinite(shift)) or np.hypot(*shift) > 0.05 * r0:
            return np.zeros(2), axis_rotation(lens.undistort(np.zeros((1, 2)), channel)[0])
        if np.hypot(*step) < 1e-7:
            break
    return shift, _axis_coma(lens, shift, channel, r0)[1]


def compare_models(
    fits: Sequence[LensFit], rule: AcceptanceRule = DEFAULT_RULE
) -> list[dict[str, Any]]:
    """Rank fits by BIC over all features (lower first), each with its acceptance verdict.

    Every row has the :meth:`LensFit.stats` keys plus ``delta_bic``, ``why`` (the verdict in
    one line) and ``recommended`` (True on the lowest-BIC acceptable model only).
    """
    rows = [f.stats(rule) for f in fits]
    rows.sort(key=lambda r: r["bic"])
    best = rows[0]["bic"] if rows else 0.0
    first_ok = next((r["model"] for r in rows if r["acceptable"]), None)
    for r in rows:
        r["delta_bic"] = r["bic"] - best
        r["why"] = (
            "acceptable: " + rule.describe().removeprefix("acceptable when ")
            if r["acceptable"]
            else "; ".join(r["verdict"]["reasons"])
        )
        r["recommended"] = r["model"] == first_ok
    return rows
