"""Field of view measured through the lens, from the full-on / full-off structured-light captures.

Through the lens the camera sees the lit panel out to where the panel's viewport or the lens's
own field stop cuts it. Where that happens, in angle space, is the eye's field of view. Per
camera pixel the lit field is judged *visible* where its contrast (full-on minus full-off) is at
least half the largest contrast within ``window`` pixels (the edge's 50 % point, so blur and
vignetting do not move it), inside the lit field dilated by a few pixels. The measurement then
walks eye directions, not camera pixels: each direction is taken to the camera through the
camera-to-eye rotation and the camera model, and the visibility ratio is read there
(bilinear), so the edge is found to a fraction of a camera pixel.

* ``left``, ``right``, ``up``, ``down``: the edge along the horizontal / vertical meridian, degrees
  from the eye's forward axis (0.01 degree steps, linear interpolation of the 50 % crossing);
* ``solid_angle_sr``: the visible directions integrated over a ``step_deg`` grid of tan angles
  (``dOmega = dx dy / (1 + x^2 + y^2)^(3/2)``), sub-cell edges by the interpolated ratio;
* :func:`binocular_overlap_deg`: the horizontal overlap of two eyes with parallel axes.

Without a viewpoint the camera is taken to sit at the eye point. With one
(:mod:`vrkit.calibration.viewpoint`: the camera's measured offset, the virtual image distance
and the lens stop), each eye direction is judged as the eye would see it: the stop, a real
aperture a few mm in front of the eye, from the fitted circle (the eye point is on its axis);
the panel at the virtual image point that direction meets, through whichever capture position's
camera ray to that point clears the stop by ``margin_m``. Where no capture position sees that
point the direction is *not measured* (NaN), never guessed: a camera a few mm off the eye
point cannot see the panel's edge behind the stop's near side. The eye's forward axis is the
fitted lens axis (:func:`lens_axis_rotation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.vision.camera import CameraModel


@dataclass
class MeasuredFov:
    """One eye's field of view through the lens.

    Attributes:
        left, right, up, down: Edge angles along the meridians, degrees (positive outwards).
        solid_angle_sr: Visible solid angle, steradians.
        contour_deg: (M, 2) edge points (horizontal, vertical degrees) around the field.
    """

    left: float
    right: float
    up: float
    down: float
    solid_angle_sr: float
    contour_deg: NDArray[np.float64]

    @property
    def horizontal(self) -> float:
        """Horizontal FOV, degrees."""
        return self.left + self.right

    @property
    def vertical(self) -> float:
        """Vertical FOV, degrees."""
        return self.up + self.down

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``None`` where not measured)."""

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            "left_deg": num(self.left),
            "right_deg": num(self.right),
            "up_deg": num(self.up),
            "down_deg": num(self.down),
            "horizontal_deg": num(self.horizontal),
            "vertical_deg": num(self.vertical),
            "solid_angle_sr": num(self.solid_angle_sr),
            "contour_deg": [
                [num(v) for v in row] for row in np.round(self.contour_deg, 3).tolist()
            ],
        }

    def line(self, eye: str) -> str:
        """One report line."""

        def f(v: float, unit: str = " deg") -> str:
            return f"{v:.2f}{unit}" if np.isfinite(v) else "not measured"

        return (
            f"FOV through the lens ({eye} eye): left {f(self.left)}, right {f(self.right)}, up "
            f"{f(self.up)}, down {f(self.down)}, "
            + (
                f"{self.solid_angle_sr:.4f} sr"
                if np.isfinite(self.solid_angle_sr)
                else "solid angle not measured"
            )
        )


def visibility_ratio(contrast: NDArray[np.floating], window: int = 9) -> NDArray[np.float32]:
    """Contrast over the largest contrast within ``window`` px, 0 outside the lit field (H, W).

    The lit field is the largest region above 5 % of the bright contrast, grown over the
    pixels connected to it that stand above the noise (4 robust sigmas of the contrast well
    outside it, at least 1 grey level): a strongly vignetted edge (the bench's lens reaches 5 %
    of the centre's brightness at its edge) is dimmer than the 5 % cut and would otherwise be
    cut off a few pixels inside the field.
    """
    import cv2
    from scipy import ndimage

    c = np.asarray(contrast, dtype=np.float32)
    c99 = float(np.percentile(c, 99))
    lit = c > 0.05 * c99
    lab, n = ndimage.label(lit)
    if n > 1:
        lit = lab == 1 + int(np.argmax(ndimage.sum(lit, lab, range(1, n + 1))))
    lit = ndimage.binary_fill_holes(lit)
    outside = ~ndimage.binary_dilation(lit, iterations=2 * window)
    if outside.any():
        dark = c[outside]
        sigma = 1.4826 * float(np.median(np.abs(dark - np.median(dark))))
        above = c > max(4.0 * sigma, 1.0)
        lab, n = ndimage.label(above | lit)
        touching = np.unique(lab[lit])
        lit = np.isin(lab, touching[touching > 0])
    near = ndimage.binary_dilation(ndimage.binary_fill_holes(lit), iterations=window // 2 + 1)
    local = cv2.dilate(c, np.ones((window, window), np.uint8))
    ratio = np.where(near, c / np.maximum(local, 1e-6), 0.0)
    return np.clip(ratio, 0.0, 1.0).astype(np.float32)


def _sample(ratio: NDArray[np.float32], px: NDArray[np.float64]) -> NDArray[np.float64]:
    from scipy.ndimage import map_coordinates

    return map_coordinates(ratio, [px[:, 1], px[:, 0]], order=1, cval=0.0)


def _ratio_at(
    ratio: NDArray[np.float32],
    camera: CameraModel,
    R_eye_cam: NDArray[np.float64],
    tan: NDArray[np.float64],
) -> NDArray[np.float64]:
    d = np.concatenate([tan, -np.ones((len(tan), 1))], axis=1)
    cam = d @ np.asarray(R_eye_cam)  # eye -> camera: R^T d, row-wise
    out = np.zeros(len(tan))
    front = cam[:, 2] > 1e-6
    if front.any():
        out[front] = _sample(ratio, camera.project(cam[front]))
    return out


class _EyeView:
    """Visibility of eye directions from one or more capture positions (module docstring)."""

    def __init__(
        self,
        ratios: list[NDArray[np.float32]],
        camera: CameraModel,
        R: NDArray[np.float64],
        viewpoint: Any = None,
        offsets: list[NDArray[np.float64]] | None = None,
        margin_m: float = 0.3e-3,
    ) -> None:
        self.ratios, self.camera, self.R, self.vp = ratios, camera, R, viewpoint
        self.offsets = offsets or [np.zeros(3)] * len(ratios)
        self.margin = margin_m

    def __call__(self, tan: NDArray[np.float64]) -> NDArray[np.float64]:
        vp = self.vp
        if vp is None:
            return _ratio_at(self.ratios[0], self.camera, self.R, tan)
        z, rho = vp.stop_to_eye_m, vp.rim_radius_m
        th = np.arctan(np.hypot(tan[:, 0], tan[:, 1]))
        stop = np.clip(0.5 + (np.arctan(rho / z) - th) / np.radians(0.02), 0.0, 1.0)
        D = vp.image_distance_m
        d_eye = np.concatenate([tan, -np.ones((len(tan), 1))], axis=1)
        panel = np.full(len(tan), np.nan)
        for ratio, s in zip(self.ratios, self.offsets, strict=True):
            c = vp.camera_offset_m + s
            d = d_eye if not np.isfinite(D) else D * d_eye - c[None]
            mu = (-z - c[2]) / np.minimum(d[:, 2], -1e-12)
            xy = c[None, :2] + mu[:, None] * d[:, :2]
            clear = (d[:, 2] < 0) & (np.hypot(xy[:, 0], xy[:, 1]) < rho - self.margin)
            todo = clear & np.isnan(panel)
            if todo.any():
                t = -d[todo, :2] / d[todo, 2:3]
                panel[todo] = _ratio_at(ratio, self.camera, self.R, t)
        out = np.minimum(stop, panel)
        return np.where(np.isnan(panel) & (stop < 0.5), stop, out)


def _edge_along(
    ratio: NDArray[np.float32] | _EyeView,
    camera: CameraModel,
    R: NDArray[np.float64],
    phi: float,
) -> float:
    """Angle (deg) from the axis where visibility falls below 0.5 along azimuth ``phi``.

    NaN where a direction before the edge is not measured.
    """
    a = np.radians(np.arange(0.0, 89.0, 0.01))
    tan = np.stack([np.tan(a) * np.cos(phi), np.tan(a) * np.sin(phi)], axis=1)
    v = ratio(tan) if isinstance(ratio, _EyeView) else _ratio_at(ratio, camera, R, tan)
    below = np.nonzero((v < 0.5) | np.isnan(v))[0]
    if len(below) == 0 or below[0] == 0 or np.isnan(v[below[0]]):
        return float("nan")
    i = below[0]
    t = (v[i - 1] - 0.5) / max(v[i - 1] - v[i], 1e-9)
    return float(np.degrees(a[i - 1] + t * (a[i] - a[i - 1])))


def measure_fov(
    contrast: NDArray[np.floating],
    camera: CameraModel,
    R_eye_cam: NDArray[np.float64],
    step_deg: float = 0.1,
    n_contour: int = 180,
    viewpoint: Any = None,
    stage_views: Any = (),
) -> MeasuredFov:
    """Measure one eye's field of view from a full-on minus full-off capture.

    Args:
        contrast: (H, W) full-on minus full-off camera image (one channel).
        camera: The measuring camera.
        R_eye_cam: (3, 3) camera-to-eye rotation (from the lens fit).
        step_deg: Grid step of the solid-angle integral, degrees (of tan angle at the axis).
        n_contour: Contour points (azimuths).
        viewpoint: :class:`vrkit.calibration.viewpoint.Viewpoint` (measured offset, image
            distance, stop) or None (camera at the eye point).
        stage_views: With a viewpoint: ``(offset_m (3,), contrast (H, W))`` of the other
            capture positions, relative to the base.

    Returns:
        The measured field of view (NaN where not measured).
    """
    R = np.asarray(R_eye_cam, dtype=np.float64)
    ratios = [visibility_ratio(contrast)]
    offsets = [np.zeros(3)]
    if viewpoint is not None:
        for s, c in stage_views:
            ratios.append(visibility_ratio(c))
            offsets.append(np.asarray(s, dtype=np.float64))
    ratio = _EyeView(ratios, camera, R, viewpoint, offsets)
    right = _edge_along(ratio, camera, R, 0.0)
    up = _edge_along(ratio, camera, R, np.pi / 2)
    left = _edge_along(ratio, camera, R, np.pi)
    down = _edge_along(ratio, camera, R, -np.pi / 2)
    phis = np.linspace(-np.pi, np.pi, n_contour, endpoint=False)
    contour = []
    for p in phis:
        e = np.radians(_edge_along(ratio, camera, R, p))
        contour.append(np.degrees(np.arctan(np.tan(e) * np.array([np.cos(p), np.sin(p)]))))
    edges = np.array([left, right, up, down])
    widest = float(np.max(edges[np.isfinite(edges)])) if np.isfinite(edges).any() else 60.0
    lim = np.tan(np.radians(min(89.0, widest + 5)))
    h = np.tan(np.radians(step_deg))
    g = np.arange(-lim, lim + h, h)
    gx, gy = np.meshgrid(g, g)
    tan = np.stack([gx.ravel(), gy.ravel()], axis=1)
    v = ratio(tan)
    cover = np.clip((v - 0.5) * 1e6, 0.0, 1.0)
    d_omega = h * h / (1 + tan[:, 0] ** 2 + tan[:, 1] ** 2) ** 1.5
    solid = float("nan") if np.isnan(v).any() else float(np.sum(cover * d_omega))
    return MeasuredFov(left, right, up, down, solid, np.asarray(contour))


def lens_axis_rotation(fit: Any, panel: Any, channel: int = 1) -> NDArray[np.float64]:
    """Camera-to-eye rotation whose forward axis is the fitted lens axis.

    The FOV is measured from the direction in which the fitted lens centre is seen. Every
    fit vrkit makes sees it straight ahead (parametric models map the centre to ``(0, 0)``;
    the ``grid`` fit turns its rotation onto the lens axis it finds), and then this is the
    fit's own rotation. For a lens whose undistortion of its centre is not straight ahead
    (a grid written by an older vrkit), the fit's rotation is turned by the smallest rotation
    that puts that direction at ``(0, 0, -1)``.

    Args:
        fit: :class:`vrkit.calibration.fit.LensFit`.
        panel: :class:`vrkit.calibration.patterns.PanelGeometry` of the fitted eye.
        channel: Colour channel whose lens axis is used (green).

    Returns:
        (3, 3) camera-to-eye rotation.
    """
    from vrkit.calibration.fit import _rotation, axis_rotation

    R = _rotation(fit.rotation_vector)
    c = np.asarray(fit.lens_centre_px, dtype=np.float64)[None]
    t = fit.lens.undistort(panel.px_to_tan(c, fit.lens_centre_px), channel, strict=False)[0]
    if not np.all(np.isfinite(t)):
        return R
    return axis_rotation(t) @ R


def binocular_overlap_deg(left_eye: MeasuredFov, right_eye: MeasuredFov) -> float:
    """Horizontal binocular overlap of two eyes with parallel forward axes, degrees.

    Both fields seen at infinity: the overlap is from the larger left edge to the smaller right
    edge, ``min(right edges) + min(left edges)``.
    """
    return float(min(left_eye.right, right_eye.right) + min(left_eye.left, right_eye.left))


def contrast_from_captures(captures_dir: Any, pattern: Any, camera: CameraModel) -> Any:
    """Green-channel full-on minus full-off of the first structured set that shows green.

    Raises:
        DataError: The pattern has no structured set lighting green, or its flats are missing.
    """
    from vrkit.calibration.capture import capture_files, read_rgb
    from vrkit.calibration.graycode import structured_sets
    from vrkit.core.errors import DataError

    files = capture_files(captures_dir, pattern)
    for prefix, frames in structured_sets(pattern).items():
        if 1 not in frames[0].channels():
            continue
        paths = [files.get(f"{prefix}_white"), files.get(f"{prefix}_black")]
        if None in paths:
            raise DataError(
                f"the full-on / full-off captures {prefix}_white / {prefix}_black are missing",
                "capture every frame of the Gray-code pattern",
            )
        white, black = (read_rgb(p) for p in paths)
        camera.check_image_size((white.shape[1], white.shape[0]), f"capture {paths[0].name!r}")
        return white[..., 1].astype(np.float32) - black[..., 1].astype(np.float32)
    raise DataError(
        "the pattern has no Gray-code set lighting green: nothing to measure the FOV from",
        "make one with `vrkit calibrate pattern --kinds graycode`",
    )


def plot_measured_fov(
    measured: MeasuredFov, predicted: dict[str, float] | None, path: Any, eye: str = "left"
) -> None:
    """Contour plot: the measured visible field over the predicted one, degrees.

    Args:
        measured: The measurement.
        predicted: The profile's FOV of this eye (signed ``left``, ``right``, ``up``, ``down``
            degrees, :func:`vrkit.optics.fov.eye_summary_deg`), or None.
        path: PNG to write.
        eye: Eye name for the title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 5.2), layout="constrained")
    c = measured.contour_deg
    ok = np.all(np.isfinite(c), axis=1)
    cc = np.concatenate([c[ok], c[ok][:1]])
    ax.plot(cc[:, 0], cc[:, 1], "-", c="tab:blue", lw=1.8, label="measured through the lens")
    if predicted is not None:
        lft, rgt, up, dn = (predicted[k] for k in ("left", "right", "up", "down"))
        ax.plot(
            [lft, rgt, rgt, lft, lft], [dn, dn, up, up, dn], "--", c="tab:orange", label="profile"
        )
    ax.axhline(0, c="grey", lw=0.5)
    ax.axvline(0, c="grey", lw=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("horizontal (deg)")
    ax.set_ylabel("vertical (deg)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(
        f"{eye} eye: measured {measured.horizontal:.1f} x {measured.vertical:.1f} deg, "
        f"{measured.solid_angle_sr:.3f} sr",
        fontsize=10,
    )
    from vrkit.core.outputs import save_figure

    save_figure(fig, path, dpi=90)
    plt.close(fig)
