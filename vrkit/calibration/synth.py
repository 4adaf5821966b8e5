"""Image formation for synthetic calibration data. Pure numpy + cv2, no loops over pixels.

Two scenes: a camera with its own distortion photographing a flat board, or looking through a
headset lens at the panel.

Every image is formed backwards, one ray per camera pixel: undistort the pixel through the
camera model to a ray, follow the ray to the scene (the board plane, or through the lens model
to the panel), and sample the scene image there with ``cv2.remap``. Rendering at
``supersample`` x the camera resolution and averaging down integrates each pixel's area.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.patterns import PanelGeometry
from vrkit.optics.base import LensModel
from vrkit.vision.board import Board
from vrkit.vision.camera import CameraModel


def camera_pixel_rays(camera: CameraModel, supersample: int = 1) -> NDArray[np.float64]:
    """Unit rays through every (sub-)pixel of the camera, camera frame.

    Args:
        camera: The camera model.
        supersample: Sub-pixels per pixel along each axis.

    Returns:
        (H * s, W * s, 3) float64 unit rays (+Z forward, OpenCV frame).
    """
    w, h = camera.image_size
    s = int(supersample)
    offs = (np.arange(s) + 0.5) / s - 0.5
    xs = (np.arange(w)[:, None] + offs[None, :]).ravel()
    ys = (np.arange(h)[:, None] + offs[None, :]).ravel()
    gx, gy = np.meshgrid(xs, ys)
    rays = camera.pixels_to_rays(np.stack([gx.ravel(), gy.ravel()], axis=1))
    return rays.reshape(h * s, w * s, 3)


def downsample(image: NDArray[np.float32], factor: int) -> NDArray[np.float32]:
    """Average ``factor`` x ``factor`` blocks of a float image (H*f, W*f[, C]) -> (H, W[, C])."""
    if factor == 1:
        return image
    h, w = image.shape[0] // factor, image.shape[1] // factor
    shape = (h, factor, w, factor, *image.shape[2:])
    return image.reshape(shape).mean(axis=(1, 3)).astype(np.float32)


def board_image(
    board: Board, px_per_square: int = 40
) -> tuple[NDArray[np.uint8], float, NDArray[np.float64]]:
    """The board as printed, with a white quiet zone of one square around it.

    Args:
        board: The board.
        px_per_square: Resolution of the texture.

    Returns:
        ``(image, px_per_m, origin_px)``: uint8 (H, W) texture, its scale, and the texture
        position (continuous pixel coordinates, corner of the top-left pixel = (0, 0)) of the
        board's object-frame origin.
    """
    img = board.texture(px_per_square, margin_squares=1.0)
    px_per_m = px_per_square / board.pitch
    (x0, y0), _ = board.texture_rect(margin_squares=1.0)
    origin = np.array([-x0, -y0], dtype=np.float64) * px_per_m
    return img, px_per_m, origin


def render_board_view(
    camera: CameraModel,
    board: Board,
    rvec: NDArray[np.float64],
    tvec: NDArray[np.float64],
    *,
    supersample: int = 2,
    blur_sigma_px: float = 0.0,
    noise_sigma: float = 0.0,
    rng: np.random.Generator | None = None,
    px_per_square: int = 40,
    rays: NDArray[np.float64] | None = None,
) -> NDArray[np.uint8]:
    """Photograph a board with a distorting camera.

    Args:
        camera: The camera (its distortion is applied exactly, by undistorting pixel rays).
        board: The board.
        rvec: (3,) board-to-camera rotation vector (``cv2.Rodrigues``), as OpenCV's extrinsics.
        tvec: (3,) board origin in the camera frame, metres.
        supersample: Sub-pixels per pixel along each axis.
        blur_sigma_px: Gaussian optical blur, camera pixels (0 = none).
        noise_sigma: Additive Gaussian sensor noise, grey levels.
        rng: Random generator for the noise.
        px_per_square: Board texture resolution.
        rays: The camera's rays from :func:`camera_pixel_rays` at ``supersample``, to reuse
            across views (computed when None).

    Returns:
        (H, W) uint8 image; outside the board is mid-grey.
    """
    import cv2

    tex, px_per_m, origin = board_image(board, px_per_square)
    R, _ = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))
    t = np.asarray(tvec, dtype=np.float64).ravel()
    if rays is None:
        rays = camera_pixel_rays(camera, supersample)
    d_b = rays @ R  # R^T d for each ray: direction in the board frame
    o_b = -R.T @ t  # camera centre in the board frame
    with np.errstate(divide="ignore", invalid="ignore"):
        s = -o_b[2] / d_b[..., 2]
    hit = o_b[None, None, :2] + s[..., None] * d_b[..., :2]
    valid = np.isfinite(s) & (s > 0)
    map_x = (origin[0] + hit[..., 0] * px_per_m - 0.5).astype(np.float32)
    map_y = (origin[1] + hit[..., 1] * px_per_m - 0.5).astype(np.float32)
    map_x[~valid] = -1e6
    map_y[~valid] = -1e6
    img = cv2.remap(
        tex.astype(np.float32),
        map_x,
        map_y,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=128.0,
    )
    img = downsample(img, supersample)
    return finish_image(img, blur_sigma_px, noise_sigma, rng)


def finish_image(
    img: NDArray[np.float32],
    blur_sigma_px: float,
    noise_sigma: float,
    rng: np.random.Generator | None,
) -> NDArray[np.uint8]:
    """Blur, add sensor noise and quantise a float image (0..255) to uint8."""
    import cv2

    out = img.astype(np.float32)
    if blur_sigma_px > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur_sigma_px)
    if noise_sigma > 0:
        gen = rng if rng is not None else np.random.default_rng(0)
        out = out + gen.normal(0.0, noise_sigma, out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def board_poses(
    camera: CameraModel, board: Board, n: int, rng: np.random.Generator
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Varied board poses that keep the whole board in view, like a careful user.

    Args:
        camera: The camera the board is shown to.
        board: The board.
        n: Number of poses.
        rng: Random generator.

    Returns:
        ``n`` pairs ``(rvec (3,), tvec (3,))``, board-to-camera.
    """
    import cv2

    w, h = camera.image_size
    bw, bh = board.outline()
    obj = board.object_points()
    centre = (obj.min(axis=0) + obj.max(axis=0)) / 2
    fx = camera.K[0, 0]
    poses = []
    tries = 0
    while len(poses) < n:
        tries += 1
        if tries > 200 * n:
            raise RuntimeError("could not place the board in view; widen the camera or shrink it")
        tilt = rng.uniform(-0.6, 0.6, 2)
        rv = np.array([tilt[0], tilt[1], rng.uniform(-0.4, 0.4)])
        R, _ = cv2.Rodrigues(rv)
        fill = rng.uniform(0.45, 0.8)
        dist = fx * max(bw, bh) / (fill * min(w, h) * 1.2)
        offset = rng.uniform(-0.25, 0.25, 2) * np.array([w, h]) / fx * dist
        t = np.array([offset[0], offset[1], dist]) - R @ centre
        corners = np.array(
            [
                [obj[:, 0].min(), obj[:, 1].min(), 0],
                [obj[:, 0].max(), obj[:, 1].min(), 0],
                [obj[:, 0].min(), obj[:, 1].max(), 0],
                [obj[:, 0].max(), obj[:, 1].max(), 0],
            ]
        )
        cam_pts = corners @ R.T + t
        if np.any(cam_pts[:, 2] <= 0):
            continue
        px = camera.project(cam_pts)
        margin = 0.06 * min(w, h)
        if np.all(
            (px[:, 0] > margin)
            & (px[:, 0] < w - margin)
            & (px[:, 1] > margin)
            & (px[:, 1] < h - margin)
        ):
            poses.append((rv, t))
    return poses


#: Camera (OpenCV: x right, y down, z forward) to eye frame (x right, y up, -z forward) when the
#: camera looks straight down the lens axis, upright.
R_EYE_CAM_NOMINAL = np.diag([1.0, -1.0, -1.0])


def ideal_from_camera_rays(
    rays_cam: NDArray[np.float64], R_eye_cam: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Ideal tan-angle coordinates of camera rays seen from the eye point.

    Args:
        rays_cam: (..., 3) rays in the camera frame.
        R_eye_cam: (3, 3) rotation from the camera frame to the eye frame.

    Returns:
        ``(ideal (..., 2), valid (...))``: ``(x / -z, y / -z)`` in the eye frame, and whether
        the ray points forward (z < 0).
    """
    e = rays_cam @ np.asarray(R_eye_cam).T
    valid = e[..., 2] < -1e-6
    z = np.where(valid, -e[..., 2], 1.0)
    return np.stack([e[..., 0] / z, e[..., 1] / z], axis=-1), valid


class LensImaging:
    """A camera at the eye point looking through a lens at the panel, ready to photograph.

    For every camera pixel: undistort through the camera model to a ray, rotate it into the
    eye frame, take its ideal tan-angle coordinates, map them through ``lens.distort`` per colour
    channel to panel tan units, and convert them to panel pixels about the true lens centre.
    These per-channel sampling maps are computed once, at the camera's pixel centres; sub-pixel
    samples (``supersample``) interpolate them bilinearly, which is exact to well under 1e-3
    camera pixels for a smooth lens. :meth:`capture` then samples a panel image through them
    (``cv2.remap``) and applies vignetting (``cos^4`` of the view angle), optical blur, Gaussian
    sensor noise and 8-bit quantisation.

    Args:
        camera: The measuring camera (true intrinsics and distortion).
        panel: Panel geometry (pixel pitch, screen-to-lens distance).
        lens: The true lens model.
        R_eye_cam: (3, 3) true camera-to-eye rotation.
        lens_centre_px: (2,) true lens centre on the panel, pixels.
        supersample: Sub-pixels per camera pixel per axis.
    """

    def __init__(
        self,
        camera: CameraModel,
        panel: PanelGeometry,
        lens: LensModel,
        R_eye_cam: NDArray[np.float64],
        lens_centre_px: NDArray[np.float64],
        supersample: int = 2,
    ) -> None:
        import cv2

        self.camera, self.panel, self.lens = camera, panel, lens
        self.supersample = int(supersample)
        w, h = camera.image_size
        rays = camera_pixel_rays(camera, 1)
        ideal, valid = ideal_from_camera_rays(rays, R_eye_cam)
        r = np.hypot(ideal[..., 0], ideal[..., 1])
        valid &= r < lens.max_radius
        flat = ideal[valid]
        self.maps = []
        s = self.supersample
        for c in range(3):
            px = panel.tan_to_px(lens.distort(flat, c, strict=False), lens_centre_px)
            ok = np.all(np.isfinite(px), axis=1)
            maps = []
            for k in (0, 1):
                m = np.full((h, w), -1e6, np.float64)
                vals = np.where(ok, px[:, k] - 0.5, -1e6)
                m[valid] = vals
                if s > 1:
                    m = cv2.resize(m, (w * s, h * s), interpolation=cv2.INTER_LINEAR)
                maps.append(m.astype(np.float32))
            self.maps.append(maps)
        vig = (1.0 / (1.0 + r * r) ** 2).astype(np.float32)
        self.vignette = vig if s == 1 else cv2.resize(vig, (w * s, h * s))

    def capture(
        self,
        panel_rgb: NDArray[np.uint8],
        *,
        blur_sigma_px: float = 0.0,
        vignetting: bool = True,
        noise_sigma: float = 0.0,
        gain: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> NDArray[np.uint8]:
        """Photograph one panel image.

        Args:
            panel_rgb: (H, W, 3) uint8 panel image, RGB, of the panel's full size.
            blur_sigma_px: Gaussian blur, camera pixels.
            vignetting: Apply the ``cos^4`` falloff.
            noise_sigma: Sensor noise, grey levels.
            gain: Exposure scale.
            rng: Noise generator.

        Returns:
            (H, W, 3) uint8 RGB camera image.
        """
        import cv2

        chans = []
        for c in range(3):
            src = np.ascontiguousarray(panel_rgb[..., c]).astype(np.float32)
            mx, my = self.maps[c]
            chans.append(
                cv2.remap(
                    src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0
                )
            )
        out = np.stack(chans, axis=-1)
        if vignetting:
            out *= self.vignette[..., None]
        out = downsample(out * np.float32(gain), self.supersample)
        return finish_image(out, blur_sigma_px, noise_sigma, rng)
