"""Synthetic ground truth: the tracking target rendered by vrkit's GL renderer from N cameras.

Each camera image is made in four steps:

1. vrkit's :class:`~vrkit.render.renderer.StereoRenderer` draws the scene (headset box with
   textured ArUco markers or emissive LED spheres for outside-in; a room with marker posters for
   inside-out) into a pinhole image ``supersample`` times larger than the camera's, with a
   projection that reproduces the camera's K (:func:`vrkit.math.projection` conventions, shifted
   half a pixel so that pixel centres sit on integers as in OpenCV);
2. the image is box-filtered down to camera resolution (anti-aliasing);
3. ``cv2.remap`` applies the camera's lens distortion (every output pixel looks up its
   undistorted position, computed with ``cv2.undistortPoints``);
4. motion blur (the average of ``subframes`` renders spread over the exposure), Gaussian noise
   and 8-bit quantisation.

The truth for a frame is the head pose at the middle of its exposure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vrkit.math import transforms as tf
from vrkit.tracking.camera import Camera, Rig, gl_camera_pose
from vrkit.tracking.solve import arrangement
from vrkit.tracking.target import Target
from vrkit.vision.board import Board, aruco_dictionary

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]


def marker_texture(dictionary: str, marker_id: int, cell_px: int = 24) -> NDArray[np.uint8]:
    """RGB texture (H, W, 3) of one marker with a one-cell white quiet zone around it."""
    import cv2

    d = aruco_dictionary(dictionary)
    cells = d.markerSize + 2
    img = cv2.aruco.generateImageMarker(d, int(marker_id), cells * cell_px)
    img = cv2.copyMakeBorder(img, cell_px, cell_px, cell_px, cell_px, cv2.BORDER_CONSTANT,
                             value=255)  # fmt: skip
    return np.repeat(img[:, :, None], 3, axis=2)


def _build_scene(target: Target | Board) -> tuple[object, list]:
    """Scene of the target; returns it and the ``(node, T_head_node)`` pairs that move with it."""
    from vrkit.render import meshes
    from vrkit.render.scene import Material, Mesh, Scene

    if isinstance(target, Board):
        scene = Scene(clear_color=(0.2, 0.2, 0.2, 1.0), name=f"synth-{target.kind}-board")
        tex = target.texture(px_per_square=64, margin_squares=0.5)
        (x0, y0), (x1, y1) = target.texture_rect(0.5)
        quad = np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], dtype=np.float64)
        mesh = Mesh(quad, np.tile([0.0, 0.0, -1.0], (4, 1)), [0, 1, 2, 0, 2, 3],
                    uvs=[[0, 1], [1, 1], [1, 0], [0, 0]])  # fmt: skip
        mat = Material((1.0, 1.0, 1.0, 1.0), lit=False, texture=np.repeat(tex[:, :, None], 3, 2))
        # only the front is printed: a grey backing 2 mm behind hides the print from behind
        back = Mesh(
            quad + np.array([0.0, 0.0, 0.002]), np.tile([0.0, 0.0, 1.0], (4, 1)), [0, 1, 2, 0, 2, 3]
        )
        grey = Material((0.35, 0.35, 0.35, 1.0), lit=False)
        return scene, [
            (scene.add(mesh, np.eye(4), mat, name="board"), np.eye(4)),
            (scene.add(back, np.eye(4), grey, name="board-back"), np.eye(4)),
        ]
    scene = Scene(clear_color=(0.03, 0.03, 0.03, 1.0), ambient=0.5, name=f"synth-{target.name}")
    moving = []
    if target.frame == "head":
        pts = target.points()
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        body = meshes.box(hi - lo - 0.002)
        shade = 0.45 if target.kind == "aruco" else 0.12
        T = tf.transform(None, 0.5 * (lo + hi))
        moving.append((scene.add(body, T, Material((shade, shade, shade, 1.0), lit=True)), T))
    else:
        room = meshes.box((4.0, 3.0, 4.0))
        room.normals = -room.normals
        T = tf.transform(None, [0.0, 1.5, 0.0])
        scene.add(room, T, Material((0.55, 0.55, 0.55, 1.0), lit=True))
    if target.kind == "aruco":
        cells = aruco_dictionary(target.dictionary).markerSize + 2
        pad = (cells + 2) / cells
        for mid, corners in target.markers.items():
            c = corners.mean(axis=0)
            quad = c + (corners - c) * pad
            n = np.cross(corners[1] - corners[0], corners[3] - corners[0])
            n = -n / np.linalg.norm(n)
            quad = quad + n * 1e-4
            mesh = Mesh(quad, np.tile(n, (4, 1)), [0, 1, 2, 0, 2, 3],
                        uvs=[[0, 1], [1, 1], [1, 0], [0, 0]])  # fmt: skip
            tex = marker_texture(target.dictionary, mid)
            mat = Material((1.0, 1.0, 1.0, 1.0), lit=False, texture=tex)
            node = scene.add(mesh, np.eye(4), mat, name=f"marker{mid}")
            moving.append((node, np.eye(4)))
    else:
        ball = meshes.sphere(target.led_radius, segments=16, rings=8)
        mat = Material((1.0, 1.0, 1.0, 1.0), lit=False)
        for k, p in enumerate(target.leds):
            T = tf.transform(None, p)
            moving.append((scene.add(ball, T, mat, name=f"led{k}"), T))
    return scene, moving


class SyntheticRenderer:
    """Renders a target from every camera of a rig with real GL rendering.

    Args:
        rig: Cameras (outside-in: fixed in the world; inside-out: on the head).
        target: What is drawn: a head target, a world marker map, or a calibration ``Board``
            (moved like a head target).
        ctx: A current GL context; a headless EGL context is created (and owned) when None.
        supersample: Render this many times the camera resolution, then box-filter down.
        noise_sigma: Gaussian noise, 8-bit grey levels (1 sigma).
        exposure_ns: Exposure time; > 0 with ``subframes`` > 1 gives motion blur.
        subframes: Renders averaged over the exposure.
        seed: Noise seed.
    """

    def __init__(
        self,
        rig: Rig,
        target: Target | Board,
        ctx: object | None = None,
        supersample: int = 2,
        noise_sigma: float = 1.0,
        exposure_ns: int = 0,
        subframes: int = 1,
        seed: int = 0,
    ) -> None:
        from vrkit.gl.egl import create_headless_context
        from vrkit.render.renderer import StereoRenderer

        self.rig, self.target = rig, target
        self.mode = arrangement(rig, getattr(target, "frame", "head"))
        self._own_ctx = ctx is None
        self.ctx = create_headless_context() if ctx is None else ctx
        self.ctx.make_current()
        self.s = int(supersample)
        self.noise_sigma = float(noise_sigma)
        self.exposure_ns = int(exposure_ns)
        self.subframes = max(1, int(subframes))
        self.rng = np.random.default_rng(seed)
        self.renderer = StereoRenderer(self.ctx, near=0.02, far=20.0)
        self.scene, self._moving = _build_scene(target)
        self._views = [self._prepare(cam) for cam in rig.cameras]

    def _prepare(self, cam: Camera) -> dict:
        """Virtual pinhole camera that covers the distorted image, and the remap tables."""
        from vrkit.core.types import Fov

        u, v = np.meshgrid(np.arange(cam.width, dtype=np.float64),
                           np.arange(cam.height, dtype=np.float64))  # fmt: skip
        xy = cam.undistort_points(np.stack([u.ravel(), v.ravel()], axis=1))
        fx, fy = cam.K[0, 0], cam.K[1, 1]
        lo = xy.min(axis=0) * [fx, fy] - 3
        hi = xy.max(axis=0) * [fx, fy] + 3
        w = int(np.ceil(hi[0] - lo[0])) + 1
        h = int(np.ceil(hi[1] - lo[1])) + 1
        cx, cy = -lo[0], -lo[1]  # virtual pinhole principal point (OpenCV pixel convention)
        s = self.s
        # Hi-res OpenCV coordinates: lo-res pixel i is the mean of hi-res pixels s*i..s*i+s-1,
        # whose centre is s*i + (s-1)/2; GL puts pixel centres at +0.5.
        cxg, cyg = s * cx + (s - 1) / 2 + 0.5, s * cy + (s - 1) / 2 + 0.5
        W, H = w * s, h * s
        fov = Fov(
            np.arctan(-cxg / (s * fx)), np.arctan((W - cxg) / (s * fx)),
            np.arctan(cyg / (s * fy)), np.arctan(-(H - cyg) / (s * fy)),
        )  # fmt: skip
        map_x = (xy[:, 0] * fx + cx).reshape(cam.height, cam.width).astype(np.float32)
        map_y = (xy[:, 1] * fy + cy).reshape(cam.height, cam.width).astype(np.float32)
        fb = self.ctx.framebuffer(W, H, depth=True)
        return {"fov": fov, "size": (w, h), "fb": fb, "map": (map_x, map_y)}

    def _place(self, T_world_head: F64) -> None:
        if self.mode == "outside_in":
            for node, T_head_node in self._moving:
                node.transform = T_world_head @ T_head_node

    def _render_pinhole(self, i: int, T_world_head: F64) -> NDArray[np.float32]:
        import cv2

        from vrkit.core.types import EyeView, Pose
        from vrkit.render.targets import RenderTarget

        cam, view = self.rig.cameras[i], self._views[i]
        T_world_cam = cam.T_rig_cam if self.mode == "outside_in" else T_world_head @ cam.T_rig_cam
        ev = EyeView(0, Pose.from_matrix(gl_camera_pose(T_world_cam)), view["fov"])
        fb = view["fb"]
        self.renderer.render_view(self.scene, ev, RenderTarget(fb.fbo, fb.width, fb.height))
        img = fb.read_rgba()[:, :, 1].astype(np.float32)
        return cv2.resize(img, view["size"], interpolation=cv2.INTER_AREA)

    def render(self, pose_at: Callable[[int], F64], t_ns: int) -> list[NDArray[np.uint8]]:
        """Render every camera's image of the frame whose exposure is centred on ``t_ns``.

        Args:
            pose_at: ``T_world_head`` (4, 4) as a function of time in ns.
            t_ns: Middle of the exposure, ns.

        Returns:
            One (H, W) uint8 grey image per camera.
        """
        import cv2

        self.ctx.make_current()
        n = self.subframes
        times = [t_ns] if n == 1 or self.exposure_ns <= 0 else [
            int(t_ns + self.exposure_ns * ((k + 0.5) / n - 0.5)) for k in range(n)
        ]  # fmt: skip
        acc = [None] * len(self.rig)
        for t in times:
            T = pose_at(t)
            self._place(T)
            for i in range(len(self.rig)):
                img = self._render_pinhole(i, T)
                acc[i] = img if acc[i] is None else acc[i] + img
        out = []
        for i in range(len(self.rig)):
            mx, my = self._views[i]["map"]
            img = cv2.remap(acc[i] / len(times), mx, my, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            if self.noise_sigma > 0:
                img = img + self.rng.normal(0, self.noise_sigma, img.shape).astype(np.float32)
            out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        self.ctx.check_error("synthetic rendering")
        return out

    def release(self) -> None:
        """Release GL objects (and the context if this renderer made it); safe to call twice."""
        for view in self._views:
            view["fb"].release()
        self.renderer.release()
        if self._own_ctx:
            self.ctx.release()


def make_recording(
    folder: str | Path,
    rig: Rig,
    target: Target,
    frames: int,
    fps: float = 60.0,
    amplitude: float = 1.0,
    noise_sigma: float = 1.0,
    exposure_ns: int = 0,
    subframes: int = 1,
    dropouts: dict[int, tuple[int, int]] | None = None,
    ctx: object | None = None,
    progress: bool = False,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Render a synthetic multi-camera recording of the target moving along a known trajectory.

    Writes a recording (see :mod:`vrkit.tracking.record`) with the true ``T_world_head`` of
    every frame, plus ``rig.json`` and ``target.json``.

    Args:
        folder: Output folder.
        rig: Cameras.
        target: Target (head-mounted for outside-in, world map for inside-out).
        frames: Number of frames.
        fps: Frame rate, Hz (frame i is centred on ``i / fps`` seconds).
        amplitude: Scales the motion of :func:`~vrkit.tracking.scenarios.head_trajectory`
            (0 = a static head).
        noise_sigma: Image noise, grey levels.
        exposure_ns: Exposure time for motion blur (0 = none).
        subframes: Renders averaged per exposure.
        dropouts: Camera index -> ``(first, last)`` frames (inclusive) it delivers nothing.
        ctx: A current GL context to use (one is created when None).
        progress: Show a tqdm bar on stderr.
        seed: Noise seed.
        overwrite: Replace a recording already in ``folder`` instead of refusing.

    Returns:
        The recording folder.
    """
    from vrkit.core.progress import progress_bar
    from vrkit.tracking.frames import FrameSet
    from vrkit.tracking.record import Recorder
    from vrkit.tracking.scenarios import head_trajectory

    folder = Path(folder)
    period = round(1e9 / fps)

    def pose_at(t: int) -> F64:
        return head_trajectory(t, amplitude)

    sr = SyntheticRenderer(rig, target, ctx, noise_sigma=noise_sigma, exposure_ns=exposure_ns,
                           subframes=subframes, seed=seed)  # fmt: skip
    try:
        with Recorder(folder, [c.name for c in rig.cameras], overwrite) as rec:
            for i in progress_bar(range(frames), enabled=progress, desc="render", unit="frame"):
                t = i * period
                imgs: list = sr.render(pose_at, t)
                errs: list = [None] * len(imgs)
                for k, (a, b) in (dropouts or {}).items():
                    if a <= i <= b:
                        imgs[k], errs[k] = None, f"{rig.cameras[k].name}: no frame (simulated)"
                rec.write(FrameSet(i, t, imgs, errs), truth_T_world_head=pose_at(t))
    finally:
        sr.release()
    rig.save(folder / "rig.json")
    target.save(folder / "target.json")
    return folder
