"""Per-frame CPU time of vrkit's OpenXR loop vs a minimal pyopenxr loop, same scene and runtime.

vrkit: ``OpenXRBackend`` (event pump through the lifecycle, xrWaitFrame on the watchdog
thread, views + head + controller actions located, XrTime -> host time) + ``StereoRenderer``.
Baseline: what a careful author writes with pyopenxr and PyOpenGL directly: the same
instance/session/swapchain set-up (EGL binding, sRGB swapchains at the recommended size, stage
space), then per frame wait / begin / locate views / acquire / draw the same scene with the same
shaders / release / end with one projection layer. No controllers, no time conversion.

Both loops run in this process against the same runtime, in alternating blocks (a fresh session
per block), paced by the runtime (Monado's null compositor: 20 Hz). The figure is the median
per-frame process CPU time (all threads: Python, llvmpipe's rasteriser, the runtime's client),
measured from before the wait to after xrEndFrame; the wait itself blocks without CPU.

Runs only where an OpenXR runtime is available (``scripts/xr-sim python benchmarks/run.py
openxr``); elsewhere it returns one row noting "skipped: no runtime".
"""

from __future__ import annotations

import ctypes
import os
import statistics
import time
from pathlib import Path

WARMUP = 10


def _no_runtime() -> bool:
    path = os.environ.get("XR_RUNTIME_JSON")
    return not path or not Path(path).is_file()


def vrkit_block(scene, frames: int) -> list[int]:
    from vrkit.backends.base import RunConfig
    from vrkit.backends.openxr.backend import OpenXRBackend
    from vrkit.render.renderer import StereoRenderer

    backend = OpenXRBackend(RunConfig())
    backend.open()
    renderer = StereoRenderer(backend.gl)
    cpu = []
    try:
        while len(cpu) < frames + WARMUP:
            c0 = time.process_time_ns()
            frame = backend.begin_frame()
            if frame.should_render:
                renderer.render(scene, frame, backend.eye_targets(frame))
            backend.end_frame(frame)
            if frame.should_render:
                cpu.append(time.process_time_ns() - c0)
    finally:
        renderer.release()
        backend.close()
    return cpu[WARMUP:]


class MinimalLoop:
    """A minimal pyopenxr + PyOpenGL loop (the baseline)."""

    def __init__(self, scene) -> None:
        from _rawgl import RawSceneDraws
        from OpenGL import GL

        from vrkit.backends.openxr._xr import xr
        from vrkit.gl.egl import create_headless_context

        self.GL, self.xr = GL, xr
        self.ctx = create_headless_context()
        self.instance = xr.create_instance(
            xr.InstanceCreateInfo(
                enabled_extension_names=["XR_KHR_opengl_enable", "XR_MNDX_egl_enable"]
            )
        )
        self.system = xr.get_system(
            self.instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
        )
        xr.get_opengl_graphics_requirements_khr(self.instance, self.system)
        egl = ctypes.CDLL("libEGL.so.1")
        binding = xr.GraphicsBindingEGLMNDX(
            get_proc_address=ctypes.cast(egl.eglGetProcAddress, xr.PFN_xrEglGetProcAddressMNDX),
            display=self.ctx.display,
            config=self.ctx.config,
            context=self.ctx.context,
        )
        self._binding = (binding, egl)
        self.session = xr.create_session(
            self.instance,
            xr.SessionCreateInfo(
                system_id=self.system,
                next=ctypes.cast(ctypes.pointer(binding), ctypes.c_void_p),
            ),
        )
        self.space = xr.create_reference_space(
            self.session,
            xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.STAGE),
        )
        cfg_views = xr.enumerate_view_configuration_views(
            self.instance, self.system, xr.ViewConfigurationType.PRIMARY_STEREO
        )
        self.swapchains = []
        for v in cfg_views:
            w, h = v.recommended_image_rect_width, v.recommended_image_rect_height
            sc = xr.create_swapchain(
                self.session,
                xr.SwapchainCreateInfo(
                    usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT,
                    format=GL.GL_SRGB8_ALPHA8,
                    sample_count=1, width=w, height=h, face_count=1, array_size=1, mip_count=1,
                ),
            )  # fmt: skip
            fbos = []
            for img in xr.enumerate_swapchain_images(sc, xr.SwapchainImageOpenGLKHR):
                fbo = GL.glGenFramebuffers(1)
                GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
                GL.glFramebufferTexture2D(
                    GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, img.image, 0
                )
                rb = GL.glGenRenderbuffers(1)
                GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rb)
                GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, w, h)
                GL.glFramebufferRenderbuffer(
                    GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, rb
                )
                fbos.append(fbo)
            self.swapchains.append((sc, w, h, fbos))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)

        self.raw = RawSceneDraws(scene)
        self.clear = scene.clear_color
        self.running = False
        self.exiting = False

    def poll(self) -> None:
        xr = self.xr
        while True:
            try:
                ev = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return
            if xr.StructureType(ev.type) == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                e = ctypes.cast(
                    ctypes.byref(ev), ctypes.POINTER(xr.EventDataSessionStateChanged)
                ).contents
                state = xr.SessionState(e.state)
                if state == xr.SessionState.READY:
                    xr.begin_session(
                        self.session, xr.SessionBeginInfo(xr.ViewConfigurationType.PRIMARY_STEREO)
                    )
                    self.running = True
                elif state == xr.SessionState.STOPPING:
                    xr.end_session(self.session)
                    self.running = False
                elif state in (xr.SessionState.EXITING, xr.SessionState.LOSS_PENDING):
                    self.exiting = True

    def frame(self) -> bool:
        """One frame; True when layers were rendered and submitted."""
        from vrkit.core.types import Fov, Pose
        from vrkit.math.projection import projection_from_fov
        from vrkit.math.transforms import invert_transform

        xr, GL = self.xr, self.GL
        self.poll()
        if not self.running:
            time.sleep(0.005)
            return False
        fs = xr.wait_frame(self.session)
        xr.begin_frame(self.session)
        layers = []
        if fs.should_render:
            _state, views = xr.locate_views(
                self.session,
                xr.ViewLocateInfo(
                    view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
                    display_time=fs.predicted_display_time,
                    space=self.space,
                ),
            )
            proj_views = []
            for v, (sc, w, h, fbos) in zip(views, self.swapchains, strict=True):
                i = xr.acquire_swapchain_image(sc, xr.SwapchainImageAcquireInfo())
                xr.wait_swapchain_image(sc, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
                p, o, f = v.pose.position, v.pose.orientation, v.fov
                pose = Pose([p.x, p.y, p.z], [o.x, o.y, o.z, o.w])
                fov = Fov(f.angle_left, f.angle_right, f.angle_up, f.angle_down)
                vp = projection_from_fov(fov, 0.05, 100.0) @ invert_transform(pose.matrix())
                GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbos[i])
                GL.glViewport(0, 0, w, h)
                GL.glEnable(GL.GL_FRAMEBUFFER_SRGB)
                GL.glClearColor(*self.clear)
                GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
                self.raw.draw(vp)
                xr.release_swapchain_image(sc, xr.SwapchainImageReleaseInfo())
                proj_views.append(
                    xr.CompositionLayerProjectionView(
                        pose=v.pose,
                        fov=v.fov,
                        sub_image=xr.SwapchainSubImage(
                            swapchain=sc, image_rect=xr.Rect2Di(extent=xr.Extent2Di(w, h))
                        ),
                    )
                )
            layer = xr.CompositionLayerProjection(space=self.space, views=proj_views)
            layers = [ctypes.byref(layer)]
        xr.end_frame(
            self.session,
            xr.FrameEndInfo(
                display_time=fs.predicted_display_time,
                environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                layers=layers,
            ),
        )
        return bool(layers)

    def close(self) -> None:
        xr = self.xr
        try:
            xr.request_exit_session(self.session)
        except xr.exception.XrException:
            pass
        deadline = time.monotonic() + 3
        while not self.exiting and time.monotonic() < deadline:
            self.frame()
        for sc, *_ in self.swapchains:
            xr.destroy_swapchain(sc)
        xr.destroy_space(self.space)
        xr.destroy_session(self.session)
        xr.destroy_instance(self.instance)
        self.ctx.release()


def minimal_block(scene, frames: int) -> list[int]:
    loop = MinimalLoop(scene)
    cpu = []
    try:
        while len(cpu) < frames + WARMUP:
            c0 = time.process_time_ns()
            if loop.frame():
                cpu.append(time.process_time_ns() - c0)
    finally:
        loop.close()
    return cpu[WARMUP:]


def run(quick: bool) -> list[dict]:
    name = "OpenXR frame CPU, vrkit vs minimal pyopenxr"
    if _no_runtime():
        return [
            {
                "name": name,
                "value": float("nan"),
                "unit": "ms",
                "note": "skipped: no runtime (run under scripts/xr-sim)",
            }
        ]
    from _rawgl import bench_scene

    import vrkit  # noqa: F401  (EGL platform before OpenGL)

    scene = bench_scene("bench_openxr")
    blocks, frames = (2, 30) if quick else (12, 40)
    t_vrkit: list[int] = []
    t_min: list[int] = []
    pair_ratios = []
    for _ in range(blocks):
        a = vrkit_block(scene, frames)
        b = minimal_block(scene, frames)
        pair_ratios.append(statistics.median(a) / statistics.median(b))
        t_vrkit += a
        t_min += b
    v = statistics.median(t_vrkit) / 1e6
    b = statistics.median(t_min) / 1e6
    note = (
        f"median of {len(t_vrkit)} frames each in {blocks} alternating blocks (block ratios "
        f"{min(pair_ratios):.2f}..{max(pair_ratios):.2f}), {scene.triangle_count} triangles, "
        f"runtime-recommended eye size; goal <= 1.10"
    )
    return [
        {"name": name, "value": v, "unit": "ms", "baseline": b, "ratio": v / b, "note": note},
    ]
