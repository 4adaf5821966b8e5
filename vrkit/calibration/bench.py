"""The synthetic lens-calibration bench: a closed loop with a known lens.

1. The pattern set is generated for one eye of a headset profile and written in the documented
   format (``pattern.json`` + PNGs: the panel images vrkit shows); the PNGs are read back as
   the panel's images.
2. A known lens (any model family), lens centre offset and camera-to-eye rotation, and a
   measuring camera with its own intrinsics and distortion, form the captures
   (:class:`~vrkit.calibration.synth.LensImaging`: per camera pixel, camera ray -> eye
   direction -> ``lens.distort`` per channel -> panel pixel -> sample the panel image), with
   blur, vignetting and sensor noise as configured; they are written as a capture folder.
3. The measuring pipeline runs on the files alone (``pattern.json``, ``camera.json``, the
   captures): detection, per-channel fit of each requested model, report.
4. The fit is compared with the truth: residual RMS / max, the largest angle between the true and
   fitted lens over the measured field, lens centre and rotation errors, and, when the fitted
   family is the true one, the relative error of every coefficient.
5. The field of view through the lens is measured from a full-on and a full-off capture of the
   eye's viewport (``flats/``; the dot pattern alone does not show the field's edge), about the
   first model's lens axis, beside the bench's true FOV and the profile's.

:func:`run_bench_eyes` runs both eyes in one run, the right eye mirrored from the left (lens,
lens centre offset and camera rotation), and adds the binocular overlap: measured, true and
predicted by the profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.capture import read_rgb, write_captures_json, write_rgb
from vrkit.calibration.fit import ARCMIN, LensFit, compare_models, fit_lens, openhmd_unit
from vrkit.calibration.lens import measure_captures
from vrkit.calibration.patterns import PanelGeometry, PatternSet, make_pattern_set
from vrkit.calibration.synth import R_EYE_CAM_NOMINAL, LensImaging
from vrkit.core.outputs import write_json
from vrkit.optics.base import CHANNELS, LensModel
from vrkit.optics.models import lens_model_from_dict
from vrkit.vision.camera import CameraModel

NOISE_LEVELS: dict[str, dict[str, float]] = {
    # Perfect optics and sensor (still 8-bit quantised, area-sampled).
    "none": {"blur_sigma_px": 0.0, "noise_sigma": 0.0, "gain": 1.0},
    # A real capture through a lens: soft focus, dimmer exposure, read + shot-like noise
    # (8 frames averaged of sigma ~5 grey levels each, i.e. ~1.8).
    "realistic": {"blur_sigma_px": 0.8, "noise_sigma": 1.8, "gain": 0.8},
    # A single unaveraged frame from a poor camera, underexposed and out of focus.
    "harsh": {"blur_sigma_px": 1.3, "noise_sigma": 5.0, "gain": 0.55},
}

#: Default measuring camera: 1280x960 wide-angle (equidistant fisheye) with its own distortion,
#: principal point off centre, non-square pixels.
DEFAULT_CAMERA = CameraModel(
    "fisheye",
    (1280, 960),
    [[430.0, 0.0, 641.3], [0.0, 429.2, 478.6], [0.0, 0.0, 1.0]],
    [0.031, -0.012, 0.0042, -0.0011],
)

#: A lens of another family than the profile's radial one: Brown-Conrady (ideal -> panel), with
#: per-channel coefficients (lateral colour) and a little decentring (non-radial).
BROWN_LENS = {
    "kind": "brown_conrady",
    "coefficients": {
        "red": [-0.262, 0.081, 0.0008, -0.0005, -0.0098],
        "green": [-0.255, 0.078, 0.0008, -0.0005, -0.0095],
        "blue": [-0.247, 0.074, 0.0008, -0.0005, -0.0091],
    },
}


#: An OpenHMD-style lens (panotools ``a, b, c, d`` in OpenHMD's radius unit, half the eye
#: viewport width in tan units, and per-channel aberration scales), another family again.
#: ``unit`` is filled in from the panel by :func:`openhmd_truth`.
OPENHMD_LENS = {
    "kind": "panotools",
    "form": "panotools",
    "k": [0.36, 0.15, 0.1, 0.98],
    "chroma": [0.992, 0.0, 1.009, 0.0],
}


def openhmd_truth(profile: str = "generic-1440x1600", eye: int = 0) -> dict[str, Any]:
    """:data:`OPENHMD_LENS` with the radius unit of a profile's panel."""
    from vrkit.optics.profile import load_profile

    panel = PanelGeometry.from_profile(load_profile(profile), eye)
    return {**OPENHMD_LENS, "unit": openhmd_unit(panel)}


@dataclass
class BenchConfig:
    """What the bench builds.

    Attributes:
        profile: Headset profile (shipped name or file) giving the panel and nominal lens.
        eye: 0 left, 1 right.
        true_lens: Lens-model dict of the truth (None: the profile's own lens).
        centre_offset_px: True lens centre minus the profile's nominal centre, panel pixels.
        rotation_deg: True camera rotation about its nominal pose, (3,) rotation vector in
            degrees.
        camera: Measuring camera.
        noise: Key of :data:`NOISE_LEVELS`.
        spacing_px: Dot pitch on the panel.
        supersample: Sub-pixels per camera pixel per axis.
        seed: Noise seed.
        channels: Pattern colours (``"white"``: one capture measures all three channels).
    """

    profile: str = "generic-1440x1600"
    eye: int = 0
    true_lens: dict[str, Any] | None = None
    centre_offset_px: tuple[float, float] = (6.0, -4.0)
    rotation_deg: tuple[float, float, float] = (0.6, -0.9, 0.4)
    camera: CameraModel = field(default_factory=lambda: DEFAULT_CAMERA)
    noise: str = "none"
    spacing_px: float = 44.0
    supersample: int = 2
    seed: int = 1
    channels: tuple[str, ...] = ("red", "green", "blue")


EYE_NAMES = ("left", "right")


def mirrored_lens_dict(lens: dict[str, Any]) -> dict[str, Any]:
    """A lens-model dict mirrored left-right (the other eye's lens of a symmetric headset).

    Radial, panotools and OpenHMD lenses are symmetric about their axis and stay as they are;
    a Brown-Conrady lens's tangential ``p2`` (the term odd in x) changes sign; a grid's
    displacement is flipped in x.

    Raises:
        InputError: A lens kind this does not know how to mirror.
    """
    from vrkit.core.errors import InputError

    kind = lens.get("kind")
    if kind in ("radial", "panotools"):
        return dict(lens)
    if kind == "brown_conrady":
        coeffs = {
            ch: [k1, k2, p1, -p2, *rest]
            for ch, (k1, k2, p1, p2, *rest) in lens["coefficients"].items()
        }
        return {**lens, "coefficients": coeffs}
    if kind == "grid":
        x = [-v for v in reversed(lens["x"])]
        disp = np.asarray(lens["displacement"], dtype=np.float64)[..., ::-1, :].copy()
        disp[..., 0] *= -1
        return {**lens, "x": x, "displacement": disp.tolist()}
    raise InputError(f"cannot mirror a {kind!r} lens for the other eye")


def right_eye_config(left: BenchConfig) -> BenchConfig:
    """The right eye's bench mirrored from the left eye's.

    The lens is the profile's right-eye lens (``true_lens`` None) or the mirror image of the
    left's true lens; the lens centre offset is mirrored in x; the camera rotation is mirrored
    (rotation vector ``(a, b, c)`` -> ``(a, -b, -c)``), as a camera moved to the other eye and
    set up the same way would be; the noise seed is the next one.
    """
    from dataclasses import replace

    lens = None if left.true_lens is None else mirrored_lens_dict(left.true_lens)
    dx, dy = left.centre_offset_px
    a, b, c = left.rotation_deg
    return replace(
        left,
        eye=1,
        true_lens=lens,
        centre_offset_px=(-dx, dy),
        rotation_deg=(a, -b, -c),
        seed=left.seed + 1,
    )


@dataclass
class BenchResult:
    """Outcome of one bench run (see :func:`compare_with_truth` for the metric keys)."""

    config: BenchConfig
    fits: list[LensFit]
    comparison: list[dict[str, Any]]
    truth: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    out_dir: Path
    fov: dict[str, Any] | None = None
    measured_fov: Any = None

    @property
    def eye(self) -> str:
        """``"left"`` or ``"right"``."""
        return EYE_NAMES[self.config.eye]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "eye": self.eye,
            "truth": self.truth,
            "noise": self.config.noise,
            "models": self.metrics,
            "comparison": self.comparison,
            "fov": self.fov,
        }


def _rotation_from_deg(rv_deg: Sequence[float]) -> NDArray[np.float64]:
    import cv2

    R, _ = cv2.Rodrigues(np.radians(np.asarray(rv_deg, dtype=np.float64)).reshape(3, 1))
    return R @ R_EYE_CAM_NOMINAL


def make_captures(cfg: BenchConfig, out_dir: str | Path, progress: bool = False) -> dict[str, Any]:
    """Write ``pattern/``, ``captures/`` and ``camera.json`` for a bench run into ``out_dir``.

    Returns:
        The truth: lens dict, lens centre (px), rotation vector (rad), camera dict.
    """
    from vrkit.core.progress import progress_bar
    from vrkit.optics.profile import load_profile

    out = Path(out_dir)
    prof = load_profile(cfg.profile)
    panel = PanelGeometry.from_profile(prof, cfg.eye)
    pattern = make_pattern_set(panel, ("dots",), cfg.channels, cfg.spacing_px)
    pattern.save(out / "pattern")
    lens_dict = cfg.true_lens if cfg.true_lens is not None else prof.lens(cfg.eye).to_dict()
    lens = lens_model_from_dict(lens_dict, "bench true lens")
    centre = np.asarray(panel.lens_centre_px) + np.asarray(cfg.centre_offset_px, dtype=np.float64)
    R = _rotation_from_deg(cfg.rotation_deg)
    imaging = LensImaging(cfg.camera, panel, lens, R, centre, cfg.supersample)
    level = NOISE_LEVELS[cfg.noise]
    rng = np.random.default_rng(cfg.seed)
    cap_dir = out / "captures"
    cap_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for frame in progress_bar(pattern.frames, desc="bench: capturing", enabled=progress):
        # The panel image is the pattern PNG as written (what a display would be given).
        img = imaging.capture(read_rgb(out / "pattern" / frame.file), rng=rng, **level)
        write_rgb(cap_dir / f"{frame.name}.png", img)
        files[frame.name] = f"{frame.name}.png"
    write_captures_json(cap_dir, files, {"source": "vrkit synthetic bench", "noise": cfg.noise})
    # Full-on and full-off of the eye's viewport (white), for the FOV through the lens.
    flat_dir = out / "flats"
    flat_dir.mkdir(exist_ok=True)
    x0, y0, vw, vh = panel.viewport_px
    for name, level_on in (("white", 255), ("black", 0)):
        img = np.zeros((panel.height_px, panel.width_px, 3), np.uint8)
        img[y0 : y0 + vh, x0 : x0 + vw] = level_on
        write_rgb(flat_dir / f"{name}.png", imaging.capture(img, rng=rng, **level))
    cfg.camera.save(out / "camera.json")
    return {
        "lens": lens.to_dict(),
        "lens_centre_px": centre.tolist(),
        "rotation_vector_rad": np.radians(cfg.rotation_deg).tolist(),
        "camera": cfg.camera.to_dict(),
    }


def compare_with_truth(
    fit: LensFit, truth_lens: LensModel, truth: dict[str, Any], panel: PanelGeometry
) -> dict[str, Any]:
    """How close a fit is to the truth.

    Keys: ``rms_arcmin`` (kept features), ``rms_all_arcmin`` and ``max_arcmin`` (all detected
    features), ``max_kept_arcmin``, ``cutoff_arcmin``, counts, ``acceptable`` and ``verdict``
    (the acceptance rule, :mod:`vrkit.calibration.acceptance`), ``model_error_max_arcmin`` (largest
    angle between the true and the fitted eye direction of the same panel point, over the
    measured panel area, per channel, after the fitted camera rotation is taken out),
    ``centre_error_px``, ``rotation_error_deg``, ``chromatic`` (true and fitted red/blue shift
    relative to green at the measured edge, arcmin), and ``coefficients`` (relative errors, when
    the fitted family equals the true one).
    """
    st = fit.stats()
    tan_true = panel.px_to_tan(fit.obs.panel_px, np.asarray(truth["lens_centre_px"]))
    tan_fit = panel.px_to_tan(fit.obs.panel_px, fit.lens_centre_px)
    worst = 0.0
    sq: list[NDArray[np.float64]] = []
    chroma: dict[str, Any] = {}
    r_edge = np.hypot(*tan_fit.T)
    edge = np.argsort(r_edge)[-max(1, len(r_edge) // 20) :]  # outermost 5 %
    for c in range(3):
        # Only where this channel was measured (and kept): elsewhere the fit extrapolates.
        sel = fit.inlier & (fit.obs.channel == c)
        if not sel.any():
            continue
        a = truth_lens.undistort(tan_true[sel], c, strict=False)
        b = fit.lens.undistort(tan_fit[sel], c, strict=False)
        ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
        da = np.concatenate([a[ok], -np.ones((ok.sum(), 1))], axis=1)
        db = np.concatenate([b[ok], -np.ones((ok.sum(), 1))], axis=1)
        da /= np.linalg.norm(da, axis=1, keepdims=True)
        db /= np.linalg.norm(db, axis=1, keepdims=True)
        # The fitted eye frame differs from the true one by the rotation error; measure in the
        # true frame by rotating the fitted directions by R_true R_fit^T.
        from vrkit.calibration.fit import _rotation

        R_t = _rotation(np.asarray(truth["rotation_vector_rad"]))
        R_f = _rotation(fit.rotation_vector)
        db = db @ (R_t @ R_f.T).T
        ang = np.arccos(np.clip(np.sum(da * db, axis=1), -1, 1)) / ARCMIN
        worst = max(worst, float(ang.max()))
        sq.append(ang**2)
    for c in (0, 2):
        t_c = truth_lens.undistort(tan_true[edge], c, strict=False)
        t_g = truth_lens.undistort(tan_true[edge], 1, strict=False)
        f_c = fit.lens.undistort(tan_fit[edge], c, strict=False)
        f_g = fit.lens.undistort(tan_fit[edge], 1, strict=False)
        shift_t = np.degrees(np.arctan(np.hypot(*t_c.T)) - np.arctan(np.hypot(*t_g.T))) * 60
        shift_f = np.degrees(np.arctan(np.hypot(*f_c.T)) - np.arctan(np.hypot(*f_g.T))) * 60
        # The lateral-colour field over the whole measured area: channel minus green, as an
        # angle vector (arcmin), true vs fitted at the same panel points.
        sel = fit.inlier & (fit.obs.channel == 1)
        ca_t = (
            np.degrees(
                np.arctan(truth_lens.undistort(tan_true[sel], c, strict=False))
                - np.arctan(truth_lens.undistort(tan_true[sel], 1, strict=False))
            )
            * 60
        )
        ca_f = (
            np.degrees(
                np.arctan(fit.lens.undistort(tan_fit[sel], c, strict=False))
                - np.arctan(fit.lens.undistort(tan_fit[sel], 1, strict=False))
            )
            * 60
        )
        err = np.linalg.norm(ca_f - ca_t, axis=1)
        chroma[CHANNELS[c]] = {
            "true_shift_arcmin": float(np.nanmean(shift_t)),
            "fitted_shift_arcmin": float(np.nanmean(shift_f)),
            "true_max_arcmin": float(np.nanmax(np.linalg.norm(ca_t, axis=1))),
            "field_error_rms_arcmin": float(np.sqrt(np.nanmean(err**2))),
        }
    rot_err = np.degrees(
        np.linalg.norm(np.asarray(fit.rotation_vector) - np.asarray(truth["rotation_vector_rad"]))
    )
    out: dict[str, Any] = {
        "rms_arcmin": st["rms_arcmin"],
        "rms_all_arcmin": st["rms_all_arcmin"],
        "max_arcmin": st["max_arcmin"],
        "max_kept_arcmin": st["max_kept_arcmin"],
        "cutoff_arcmin": st["cutoff_arcmin"],
        "n_params": st["n_params"],
        "n_features": st["n_features"],
        "n_rejected": st["n_rejected"],
        "acceptable": st["acceptable"],
        "verdict": st["verdict"],
        "model_error_max_arcmin": worst,
        "model_error_rms_arcmin": float(np.sqrt(np.mean(np.concatenate(sq)))) if sq else 0.0,
        "centre_error_px": float(
            np.linalg.norm(fit.lens_centre_px - np.asarray(truth["lens_centre_px"]))
        ),
        "rotation_error_deg": float(rot_err),
        "chromatic": chroma,
    }
    coeffs = _same_family_coefficients(truth_lens.to_dict(), fit.lens.to_dict())
    if coeffs is not None:
        names, t, f = coeffs
        out["coefficients"] = {
            "names": names,
            "true": t.tolist(),
            "fitted": f.tolist(),
            "relative_error": (np.abs(f - t) / np.abs(t)).tolist(),
        }
    return out


def _same_family_coefficients(
    true_d: dict[str, Any], fit_d: dict[str, Any]
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]] | None:
    """Names, true and fitted values of the non-zero coefficients, when the forms match.

    Chromatic terms are compared as their difference from green (``scale - 1``): that is the
    lateral colour, and a relative error of a number close to 1 would say nothing.
    """
    kind = true_d["kind"]
    if kind != fit_d["kind"]:
        return None
    if kind == "radial" and len(true_d["k"]) == len(fit_d["k"]):
        names = [f"k{i + 1}" for i in range(len(true_d["k"]))]
        t, f = list(true_d["k"]), list(fit_d["k"])
        for c in (0, 2):
            names.append(f"{CHANNELS[c]}_scale-1")
            t.append(true_d["channel_scale"][c] - 1.0)
            f.append(fit_d["channel_scale"][c] - 1.0)
    elif kind == "panotools" and (true_d["form"], true_d["unit"]) == (
        fit_d["form"],
        fit_d["unit"],
    ):
        names = list("abcd") if true_d["form"] == "panotools" else ["k0", "k1", "k2", "k3"]
        t, f = list(true_d["k"]), list(fit_d["k"])
        for j, c in ((0, 0), (2, 2)):
            names.append(f"{CHANNELS[c]}_aberration-1")
            t.append(true_d["chroma"][j] - 1.0)
            f.append(fit_d["chroma"][j] - 1.0)
    elif kind == "brown_conrady":
        names, t, f = [], [], []
        for ch in CHANNELS:
            for i, nm in enumerate(("k1", "k2", "p1", "p2", "k3")):
                names.append(f"{ch}_{nm}")
                t.append(true_d["coefficients"][ch][i])
                f.append(fit_d["coefficients"][ch][i])
    else:
        return None
    ta, fa = np.asarray(t, dtype=np.float64), np.asarray(f, dtype=np.float64)
    nz = ta != 0
    return [n for n, k in zip(names, nz, strict=True) if k], ta[nz], fa[nz]


def run_bench(
    cfg: BenchConfig,
    out_dir: str | Path,
    models: Sequence[str] = ("radial2",),
    progress: bool = False,
    heatmap: bool = True,
) -> BenchResult:
    """Make captures, run the measuring pipeline on the files, compare with the truth.

    Args:
        cfg: Bench configuration.
        out_dir: Folder for pattern, captures, camera.json, bench.json, heat maps, profiles.
        models: Models to fit (see :data:`vrkit.calibration.fit.MODEL_CHOICES`).
        progress: Progress bars on stderr.
        heatmap: Write ``heatmap_<model>.png``.

    Returns:
        The result; ``bench.json`` in ``out_dir`` holds the same data.
    """
    from vrkit.calibration.report import write_heatmap
    from vrkit.core.progress import progress_bar

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth = make_captures(cfg, out, progress)
    pattern = PatternSet.load(out / "pattern" / "pattern.json")
    camera = CameraModel.load(out / "camera.json")
    obs, _ = measure_captures(out / "captures", pattern, camera)
    truth_lens = lens_model_from_dict(truth["lens"], "truth")
    fits, metrics = [], {}
    for m in progress_bar(models, desc="bench: fitting", enabled=progress):
        f = fit_lens(obs, camera, pattern.panel, m)
        fits.append(f)
        metrics[m] = compare_with_truth(f, truth_lens, truth, pattern.panel)
        if heatmap:
            write_heatmap(f, out / f"heatmap_{m}.png")
    comparison = compare_models(fits)
    fov, measured = _fov_vs_truth(cfg, fits[0], truth, pattern.panel, camera, out)
    result = BenchResult(cfg, fits, comparison, truth, metrics, out, fov, measured)
    write_json(out / "bench.json", result.to_dict())
    return result


def true_fov(
    cfg: BenchConfig, truth: dict[str, Any], panel: PanelGeometry, channel: int = 1
) -> dict[str, float]:
    """The bench's true field of view: edges along the meridians, degrees from the lens axis.

    Visible: inside the true lens's usable radius, its panel point (true lens, true centre)
    inside the eye's viewport, and its camera pixel (true rotation) inside the image. Edges by
    bisection to 1e-6 degree; ``solid_angle_sr`` by cell centres of a 0.2 degree tan grid.
    """
    lens = lens_model_from_dict(truth["lens"], "truth")
    R = _rotation_from_deg(cfg.rotation_deg)
    centre = np.asarray(truth["lens_centre_px"], dtype=np.float64)
    x0, y0, vw, vh = panel.viewport_px
    w, h = cfg.camera.image_size

    def visible(tan: NDArray[np.float64]) -> NDArray[np.bool_]:
        ok = np.hypot(tan[:, 0], tan[:, 1]) < lens.max_radius
        p = panel.tan_to_px(lens.distort(tan, channel, strict=False), centre)
        with np.errstate(invalid="ignore"):
            ok &= (p[:, 0] > x0) & (p[:, 0] < x0 + vw) & (p[:, 1] > y0) & (p[:, 1] < y0 + vh)
        cam = np.concatenate([tan, -np.ones((len(tan), 1))], axis=1) @ R  # eye -> camera
        front = cam[:, 2] > 0
        q = np.full((len(tan), 2), -1.0)
        q[front] = cfg.camera.project(cam[front])
        return ok & front & (q[:, 0] > 0) & (q[:, 0] < w - 1) & (q[:, 1] > 0) & (q[:, 1] < h - 1)

    out: dict[str, float] = {}
    for name, phi in (("left", np.pi), ("right", 0.0), ("up", np.pi / 2), ("down", -np.pi / 2)):
        lo, hi = 0.0, 89.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            t = np.tan(np.radians(mid)) * np.array([[np.cos(phi), np.sin(phi)]])
            lo, hi = (mid, hi) if visible(t)[0] else (lo, mid)
        out[name] = lo
    step = np.tan(np.radians(0.2))
    lim = np.tan(np.radians(min(88.0, max(out.values()) + 3.0)))
    g = np.arange(-lim, lim, step) + step / 2
    total = 0.0
    for gy in np.array_split(g, max(1, len(g) // 200)):
        xx, yy = np.meshgrid(g, gy)
        tan = np.stack([xx.ravel(), yy.ravel()], axis=1)
        d_omega = step**2 / (1 + tan[:, 0] ** 2 + tan[:, 1] ** 2) ** 1.5
        total += float(np.sum(d_omega[visible(tan)]))
    out["solid_angle_sr"] = total
    return out


def _fov_vs_truth(
    cfg: BenchConfig,
    fit: LensFit,
    truth: dict[str, Any],
    panel: PanelGeometry,
    camera: CameraModel,
    out: Path,
) -> tuple[dict[str, Any] | None, Any]:
    """FOV through the lens from the bench's flats (first model's axis) beside truth and profile.

    Returns:
        ``(report dict or None when the flats are missing, MeasuredFov or None)``.
    """
    from vrkit.calibration.fovmeasure import lens_axis_rotation, measure_fov
    from vrkit.measure.fov import fov_report
    from vrkit.optics.profile import load_profile

    white, black = out / "flats" / "white.png", out / "flats" / "black.png"
    if not (white.exists() and black.exists()):
        return None, None
    contrast = read_rgb(white)[..., 1].astype(np.float32) - read_rgb(black)[..., 1].astype(
        np.float32
    )
    fov = measure_fov(contrast, camera, lens_axis_rotation(fit, panel))
    t = true_fov(cfg, truth, panel)
    predicted = fov_report(load_profile(cfg.profile))["eyes"][EYE_NAMES[cfg.eye]]
    sides = ("left", "right", "up", "down")
    report = {
        "model": fit.name,
        "measured": {k: v for k, v in fov.to_dict().items() if k != "contour_deg"},
        "true": t,
        "error_deg": {k: getattr(fov, k) - t[k] for k in sides},
        "solid_angle_relative_error": fov.solid_angle_sr / t["solid_angle_sr"] - 1.0,
        # The profile's own FOV (signed: left and down negative), clamped by its limits.
        "predicted": {k: predicted[k] for k in sides},
    }
    return report, fov


def run_bench_eyes(
    cfg: BenchConfig,
    out_dir: str | Path,
    models: Sequence[str] = ("radial2",),
    eyes: str = "both",
    progress: bool = False,
    heatmap: bool = True,
) -> dict[str, Any]:
    """Run the bench for one eye or both, the right eye mirrored from ``cfg`` (the left's).

    With ``eyes="both"`` each eye runs in its own sub-folder (``left/``, ``right/``) and
    ``bench.json`` in ``out_dir`` holds both eyes' results and the binocular overlap (parallel
    eye axes): measured (both eyes' FOV through the lens), true, and the profile's prediction.
    With ``"left"`` or ``"right"`` the eye runs in ``out_dir`` itself, as :func:`run_bench`.

    Returns:
        ``{"results": {eye: BenchResult}, "binocular": dict or None}``.
    """
    from vrkit.calibration.fovmeasure import binocular_overlap_deg
    from vrkit.measure.fov import fov_report
    from vrkit.optics.profile import load_profile

    left = replace_eye(cfg, 0)
    configs = {"left": left, "right": right_eye_config(left)}
    if eyes != "both":
        res = run_bench(configs[eyes], out_dir, models, progress, heatmap)
        return {"results": {eyes: res}, "binocular": None}
    out = Path(out_dir)
    results = {
        eye: run_bench(c, out / eye, models, progress, heatmap) for eye, c in configs.items()
    }
    lr, rr = results["left"], results["right"]
    binocular: dict[str, Any] = {
        "predicted_overlap_deg": float(fov_report(load_profile(cfg.profile))["binocular_overlap"]),
        "measured_overlap_deg": None,
        "true_overlap_deg": None,
        "error_deg": None,
    }
    if lr.fov is not None and rr.fov is not None:
        tl, tr = lr.fov["true"], rr.fov["true"]
        true_overlap = min(tl["right"], tr["right"]) + min(tl["left"], tr["left"])
        measured = binocular_overlap_deg(lr.measured_fov, rr.measured_fov)
        binocular.update(
            measured_overlap_deg=measured,
            true_overlap_deg=true_overlap,
            error_deg=measured - true_overlap,
        )
    write_json(
        out / "bench.json",
        {"eyes": {e: r.to_dict() for e, r in results.items()}, "binocular": binocular},
    )
    return {"results": results, "binocular": binocular}


def replace_eye(cfg: BenchConfig, eye: int) -> BenchConfig:
    """``cfg`` for the left eye (0) as given, or mirrored for the right (1)."""
    from dataclasses import replace

    base = replace(cfg, eye=0)
    return base if eye == 0 else right_eye_config(base)


def binocular_lines(binocular: dict[str, Any]) -> list[str]:
    """One line: the binocular overlap measured, true and predicted by the profile."""
    m, t = binocular["measured_overlap_deg"], binocular["true_overlap_deg"]
    got = "n/a (no flats)" if m is None else f"{m:.2f} deg (true {t:.2f}, error {m - t:+.3f})"
    return [
        f"binocular overlap: measured {got}, profile predicts "
        f"{binocular['predicted_overlap_deg']:.2f} deg"
    ]


def bench_lines(result: BenchResult) -> list[str]:
    """Human-readable summary of a bench run."""
    lines = [f"truth: {result.truth['lens']}, noise {result.config.noise}"]
    for name, m in result.metrics.items():
        lines.append(
            f"  {name:14s} residual RMS {m['rms_arcmin']:.3f}' kept / {m['rms_all_arcmin']:.3f}' "
            f"all, max {m['max_arcmin']:.3f}' all ({m['n_rejected']} of {m['n_features']} "
            f"rejected, cut-off {m['cutoff_arcmin']:.2f}')  vs truth RMS "
            f"{m['model_error_rms_arcmin']:.3f}' max {m['model_error_max_arcmin']:.3f}'  centre "
            f"err {m['centre_error_px']:.3f} px  rotation err {m['rotation_error_deg'] * 60:.2f}'"
        )
        v = m["verdict"]
        lines.append(
            f"  {'':14s} "
            + ("acceptable" if v["acceptable"] else "NOT acceptable: " + "; ".join(v["reasons"]))
        )
        if "coefficients" in m:
            worst = max(m["coefficients"]["relative_error"])
            lines.append(f"  {'':14s} worst coefficient relative error {worst * 100:.3f} %")
        ch = m["chromatic"]
        lines.append(
            f"  {'':14s} lateral colour at the edge (true / fitted): red "
            f"{ch['red']['true_shift_arcmin']:.2f}' / {ch['red']['fitted_shift_arcmin']:.2f}', "
            f"blue {ch['blue']['true_shift_arcmin']:.2f}' / "
            f"{ch['blue']['fitted_shift_arcmin']:.2f}'"
        )
    if len(result.comparison) > 1:
        from vrkit.calibration.report import comparison_lines

        lines.append("model comparison (lower BIC over all features is better):")
        lines += ["  " + ln for ln in comparison_lines(result.comparison)]
    if result.fov is not None:
        f, e = result.fov, result.fov["error_deg"]
        m = f["measured"]
        lines.append(
            f"FOV through the lens ({result.eye} eye, {f['model']} axis): left "
            f"{m['left_deg']:.2f} ({e['left']:+.3f}), right {m['right_deg']:.2f} "
            f"({e['right']:+.3f}), up {m['up_deg']:.2f} ({e['up']:+.3f}), down "
            f"{m['down_deg']:.2f} ({e['down']:+.3f}) deg (error vs truth), "
            f"{m['solid_angle_sr']:.4f} sr ({f['solid_angle_relative_error'] * 100:+.2f} %)"
        )
    return lines
