"""An independent synthetic bench for structured-light lens calibration.

Nothing here uses vrkit's lens models, camera model or imaging code: the truth is written out
again from first principles, so that a shared mistake cannot hide.

* The lens is a **tabulated** mapping (as a ray-trace would give it) from the eye's view
  direction to the panel, of a family that is not in vrkit's list: an odd polynomial in the view
  angle (f-theta-like), slightly anamorphic (x and y focal lengths differ by ``anamorphic``),
  decentred (a thin-prism term ``prism`` x rho^2 and a centre offset), with per-channel focal
  scales (lateral colour). The table is sampled on a tan-angle grid and interpolated with
  bicubic splines.
* The lens has a circular field stop (its rim), a real aperture ``stop_distance_m`` in front of
  the eye point, whose edge the eye point sees at ``field_stop_deg``: a camera off the eye
  point sees it shifted and scaled (parallax), unlike the virtual image far behind it.
* The lens forms a virtual image at ``image_distance_m``; a camera whose entrance pupil sits at
  ``camera_offset_m`` (eye frame: x right, y up, z back) from the eye point sees the panel point
  whose virtual image lies along its ray.
* The camera is an equidistant fisheye (OpenCV's ``cv2.fisheye`` parameters, implemented here):
  ``theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)``.
* A capture averages ``supersample`` x ``supersample`` rays per pixel, then blur, ``cos^4``
  vignetting, gain, Gaussian noise and 8-bit quantisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.interpolate import RectBivariateSpline

# Eye frame: x right, y up, looking down -z. Camera frame (OpenCV): x right, y down, +z forward.
CAM_TO_EYE_NOMINAL = np.diag([1.0, -1.0, -1.0])


@dataclass
class FisheyeCamera:
    """Equidistant fisheye, OpenCV parameters."""

    size: tuple[int, int] = (640, 480)
    f: tuple[float, float] = (215.0, 214.6)
    c: tuple[float, float] = (320.6, 239.3)
    k: tuple[float, float, float, float] = (0.031, -0.012, 0.0042, -0.0011)

    def to_vrkit(self):  # the camera file handed to vrkit
        from vrkit.vision.camera import CameraModel

        K = [[self.f[0], 0.0, self.c[0]], [0.0, self.f[1], self.c[1]], [0.0, 0.0, 1.0]]
        return CameraModel("fisheye", self.size, K, list(self.k))

    def rays(self, px: np.ndarray) -> np.ndarray:
        """Unit rays (N, 3), camera frame, of pixels (N, 2) (centres at integers)."""
        xd = (px[:, 0] - self.c[0]) / self.f[0]
        yd = (px[:, 1] - self.c[1]) / self.f[1]
        td = np.hypot(xd, yd)
        th = td.copy()
        k1, k2, k3, k4 = self.k
        for _ in range(8):  # Newton on theta (1 + k1 t^2 + ...) = theta_d
            t2 = th * th
            g = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))) - td
            dg = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))
            th -= g / dg
        s = np.where(td > 1e-12, np.sin(th) / np.maximum(td, 1e-12), 1.0)
        return np.stack([xd * s, yd * s, np.cos(th)], axis=1)

    def project(self, rays: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) of camera-frame rays (N, 3)."""
        r = np.hypot(rays[:, 0], rays[:, 1])
        th = np.arctan2(r, rays[:, 2])
        t2 = th * th
        k1, k2, k3, k4 = self.k
        td = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        s = np.where(r > 1e-12, td / np.maximum(r, 1e-12), 1.0)
        return np.stack(
            [self.f[0] * rays[:, 0] * s + self.c[0], self.f[1] * rays[:, 1] * s + self.c[1]], axis=1
        )


@dataclass
class TabulatedLens:
    """Eye direction (tan x, tan y) -> panel pixel, per channel, from a dense table.

    Attributes:
        focal_px: Panel pixels per radian of view angle at the centre (x).
        odd: Coefficients of theta^3, theta^5 in rho(theta).
        anamorphic: y focal length = x focal length x (1 + anamorphic).
        prism: Thin-prism decentring: (px, py) x rho^2 / focal_px added to x, y.
        centre_px: Where the lens axis meets the panel, panel pixels (x right, y down).
        chroma: Focal scale per channel (red, green, blue).
        field_stop_deg: Field stop, degrees from the axis, seen from the eye point.
        stop_distance_m: Distance of the field stop's plane in front of the eye point.
        table_tan: Half-width of the tan-angle table.
        table_n: Samples per axis.
    """

    focal_px: float = 700.0
    odd: tuple[float, float] = (0.16, 0.035)
    anamorphic: float = 0.025
    prism: tuple[float, float] = (0.012, -0.008)
    centre_px: tuple[float, float] = (725.0, 796.0)
    chroma: tuple[float, float, float] = (0.994, 1.0, 1.007)
    field_stop_deg: float = 52.0
    stop_distance_m: float = 0.016
    table_tan: float = 1.6
    table_n: int = 161
    _splines: list = field(default_factory=list, repr=False)

    def exact(self, tan: np.ndarray, c: int) -> np.ndarray:
        """The lens formula itself (used only to fill the table)."""
        r = np.hypot(tan[:, 0], tan[:, 1])
        th = np.arctan(r)
        rho = (
            self.focal_px
            * self.chroma[c]
            * th
            * (1 + th * th * (self.odd[0] + th * th * self.odd[1]))
        )
        cphi = np.where(r > 0, tan[:, 0] / np.maximum(r, 1e-15), 1.0)
        sphi = np.where(r > 0, tan[:, 1] / np.maximum(r, 1e-15), 0.0)
        x = rho * cphi
        y = rho * sphi * (1 + self.anamorphic)
        q = (rho / self.focal_px) ** 2 * self.focal_px
        x = x + self.prism[0] * q
        y = y + self.prism[1] * q
        # Panel y grows downwards.
        return np.stack([self.centre_px[0] + x, self.centre_px[1] - y], axis=1)

    def build(self) -> TabulatedLens:
        t = np.linspace(-self.table_tan, self.table_tan, self.table_n)
        gx, gy = np.meshgrid(t, t, indexing="ij")
        flat = np.stack([gx.ravel(), gy.ravel()], axis=1)
        self._splines = []
        for c in range(3):
            px = self.exact(flat, c).reshape(self.table_n, self.table_n, 2)
            self._splines.append(
                [RectBivariateSpline(t, t, px[..., j], kx=3, ky=3) for j in (0, 1)]
            )
        return self

    def panel_px(self, tan: np.ndarray, c: int) -> np.ndarray:
        """Panel pixels (N, 2) of eye directions given as tan (N, 2), from the table."""
        if not self._splines:
            self.build()
        sx, sy = self._splines[c]
        return np.stack([sx.ev(tan[:, 0], tan[:, 1]), sy.ev(tan[:, 0], tan[:, 1])], axis=1)

    def inside_stop(self, tan: np.ndarray) -> np.ndarray:
        """Eye-point directions (tan) that pass the field stop."""
        return np.degrees(np.arctan(np.hypot(tan[:, 0], tan[:, 1]))) < self.field_stop_deg

    def passes_stop(self, origin: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Rays from ``origin`` (3,) along ``e`` (N, 3), eye frame, that pass the stop."""
        z = self.stop_distance_m
        mu = (-z - origin[2]) / np.where(e[:, 2] < -1e-12, e[:, 2], -1e-12)
        xy = origin[None, :2] + mu[:, None] * e[:, :2]
        r = z * np.tan(np.radians(self.field_stop_deg))
        return (e[:, 2] < -1e-12) & (np.hypot(xy[:, 0], xy[:, 1]) < r)


def rotation(rv_deg: tuple[float, float, float]) -> np.ndarray:
    R, _ = cv2.Rodrigues(np.radians(np.asarray(rv_deg, dtype=np.float64)).reshape(3, 1))
    return R


@dataclass
class StructuredBench:
    """The whole scene: lens, panel viewport, camera pose, image defects."""

    lens: TabulatedLens = field(default_factory=TabulatedLens)
    camera: FisheyeCamera = field(default_factory=FisheyeCamera)
    viewport: tuple[int, int, int, int] = (0, 0, 1440, 1600)
    panel_size: tuple[int, int] = (2880, 1600)
    rotation_deg: tuple[float, float, float] = (0.5, -0.8, 0.3)
    camera_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    image_distance_m: float = 1.5
    supersample: int = 2
    blur_sigma_px: float = 0.7
    noise_sigma: float = 1.5
    gain: float = 0.85
    seed: int = 5

    def __post_init__(self) -> None:
        self.lens.build()
        self.R_eye_cam = rotation(self.rotation_deg) @ CAM_TO_EYE_NOMINAL
        w, h = self.camera.size
        s = self.supersample
        offs = (np.arange(s) + 0.5) / s - 0.5
        xs = (np.arange(w)[:, None] + offs[None, :]).ravel()
        ys = (np.arange(h)[:, None] + offs[None, :]).ravel()
        gx, gy = np.meshgrid(xs, ys)
        px = np.stack([gx.ravel(), gy.ravel()], axis=1)
        tan, ok = self.eye_tan(self.camera.rays(px))
        self.maps = []
        for c in range(3):
            pp = np.full((len(px), 2), -1e5)
            pp[ok] = self.lens.panel_px(tan[ok], c)
            x0, y0, vw, vh = self.viewport
            inside = (
                ok
                & (pp[:, 0] >= x0)
                & (pp[:, 0] < x0 + vw)
                & (pp[:, 1] >= y0)
                & (pp[:, 1] < y0 + vh)
            )
            pp[~inside] = -1e5
            # cv2.remap samples with pixel centres at integers; the panel's are at i + 0.5.
            self.maps.append(
                [(pp[:, j] - 0.5).reshape(h * s, w * s).astype(np.float32) for j in (0, 1)]
            )
        r = np.hypot(tan[:, 0], tan[:, 1])
        self.vignette = (
            np.where(ok, 1 / (1 + r * r) ** 2, 0).reshape(h * s, w * s).astype(np.float32)
        )
        self.rng = np.random.default_rng(self.seed)

    def eye_tan(self, rays_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eye-point tan angles of the virtual image points camera rays meet, and validity.

        The camera's entrance pupil is at ``camera_offset_m``; its ray must pass the field stop
        (a real aperture, so the camera sees it from where it is) and meets the virtual image
        plane z = -image_distance_m; the eye sees that point at ``(x, y) / D``.
        """
        e = rays_cam @ self.R_eye_cam.T
        ok = e[:, 2] < -1e-6
        t = np.asarray(self.camera_offset_m)
        D = self.image_distance_m
        lam = np.where(ok, (-D - t[2]) / np.where(ok, e[:, 2], -1.0), 0.0)
        pt = t[None, :] + lam[:, None] * e
        tan = pt[:, :2] / D
        ok &= self.lens.passes_stop(t, e)
        return tan, ok

    def capture(self, panel_rgb: np.ndarray) -> np.ndarray:
        """Photograph one panel image (H, W, 3) uint8 -> camera image uint8."""
        w, h = self.camera.size
        s = self.supersample
        out = np.empty((h, w, 3), np.float32)
        for c in range(3):
            src = np.ascontiguousarray(panel_rgb[..., c]).astype(np.float32)
            mx, my = self.maps[c]
            img = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            img *= self.vignette
            out[..., c] = img if s == 1 else cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        out *= self.gain
        if self.blur_sigma_px > 0:
            out = cv2.GaussianBlur(out, (0, 0), self.blur_sigma_px)
        if self.noise_sigma > 0:
            out += self.rng.normal(0, self.noise_sigma, out.shape).astype(np.float32)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def truth_directions(self, step_deg: float = 1.0) -> dict[str, np.ndarray]:
        """Eye directions of the visible field on a grid, with their panel pixels per channel.

        Visible: inside the field stop, inside the viewport in every channel, and seen by the
        camera (projects inside its image).
        """
        a = np.radians(np.arange(-80, 80 + step_deg, step_deg))
        gx, gy = np.meshgrid(np.tan(a), np.tan(a))
        tan = np.stack([gx.ravel(), gy.ravel()], axis=1)
        ok = self.lens.inside_stop(tan)
        x0, y0, vw, vh = self.viewport
        pan = []
        for c in range(3):
            p = self.lens.panel_px(tan, c)
            ok &= (p[:, 0] > x0) & (p[:, 0] < x0 + vw) & (p[:, 1] > y0) & (p[:, 1] < y0 + vh)
            pan.append(p)
        d = np.concatenate([tan, -np.ones((len(tan), 1))], axis=1)
        cam = d @ self.R_eye_cam  # eye -> camera frame (rotation only: the field, not pixels)
        px = self.camera.project(cam)
        w, h = self.camera.size
        ok &= (cam[:, 2] > 0) & (px[:, 0] > 3) & (px[:, 0] < w - 4) & (px[:, 1] > 3)
        ok &= px[:, 1] < h - 4
        return {"tan": tan[ok], "panel_px": np.stack([p[ok] for p in pan])}
