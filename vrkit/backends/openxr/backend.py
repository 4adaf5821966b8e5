"""``OpenXRBackend``: vrkit's frame loop on any OpenXR runtime (pyopenxr).

Lifecycle (created in this order, destroyed in reverse through one ExitStack)::

    GL context (EGL headless, or a glfw/GLX window)
    -> XrInstance (XR_KHR_opengl_enable or XR_MNDX_egl_enable, plus optional extensions)
    -> XrSystem + OpenGL graphics requirements -> XrSession (GL binding)
    -> reference spaces (LOCAL, STAGE when offered, VIEW) -> swapchains (one per view)
    -> controller action set -> a watchdog thread for xrWaitFrame

``begin_frame`` polls events through :class:`~vrkit.backends.openxr.lifecycle.SessionLifecycle`
(begins / ends the session as the runtime asks), waits for the frame, begins it, and locates
the views at the predicted display time. ``end_frame`` submits one projection layer. When the
frame budget is spent the session is pumped to EXITING before anything is destroyed.

A runtime that dies shows up as ``XR_ERROR_INSTANCE_LOST`` (Monado: IPC failure) from the next
call; a runtime that hangs would block ``xrWaitFrame`` forever, so that call runs on a worker
thread with a deadline. Either way the app gets a :class:`SessionLostError` within seconds.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from vrkit import __version__
from vrkit.backends.base import Backend, Capabilities, RunConfig
from vrkit.core.errors import BackendUnavailableError, InputError, SessionLostError
from vrkit.core.types import EyeView, Fov, FrameInfo, Pose

if TYPE_CHECKING:
    from vrkit.backends.openxr.controllers import ControllerActions, ControllerState
    from vrkit.backends.openxr.swapchain import ViewSwapchain
    from vrkit.gl.context import GLContext
    from vrkit.render.targets import RenderTarget

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_RUNTIME = "no OpenXR runtime found; install Monado or SteamVR, or set XR_RUNTIME_JSON"
#: How ``predicted_display_ns`` was put on the host clock (``display_clock`` of each record).
CLOCK_CONVERTED = "xrConvertTimeToTimespecTimeKHR"
CLOCK_ESTIMATED = "estimate:wait_frame_end+period"
OPTIONAL_EXTENSIONS = (
    "XR_KHR_visibility_mask",
    "XR_KHR_convert_timespec_time",
    "XR_KHR_composition_layer_depth",
    "XR_FB_display_refresh_rate",
)


def runtime_manifest() -> Path | None:
    """The runtime manifest the OpenXR loader would use on Linux, or None.

    ``XR_RUNTIME_JSON`` wins; otherwise ``openxr/1/active_runtime.json`` in the XDG config
    directories, ``/usr/local/etc`` and ``/etc`` (the loader's search order).
    """
    env = os.environ.get("XR_RUNTIME_JSON")
    if env:
        return Path(env) if Path(env).is_file() else None
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs = [home, *(os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")]
    dirs += ["/usr/local/etc", "/etc"]
    for d in dirs:
        for name in ("active_runtime.x86_64.json", "active_runtime.json"):
            p = Path(d) / "openxr" / "1" / name
            if p.is_file():
                return p
    return None


def no_runtime_reason() -> str | None:
    """Why no runtime can be loaded (the one clear message), or None when a manifest exists."""
    if runtime_manifest() is not None:
        return None
    env = os.environ.get("XR_RUNTIME_JSON")
    if env:
        return f"{NO_RUNTIME} (XR_RUNTIME_JSON={env} does not exist)"
    return NO_RUNTIME


class _Watchdog:
    """Runs blocking runtime calls on a worker thread and gives up after a deadline.

    A ctypes call cannot be interrupted; when one overruns, the worker is abandoned (it is a
    daemon thread) and the backend stops calling the runtime.
    """

    def __init__(self) -> None:
        self._req: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._res: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self.hung = False
        self._thread = threading.Thread(target=self._run, name="vrkit-xr-wait", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (fn := self._req.get()) is not None:
            try:
                self._res.put((True, fn()))
            except BaseException as exc:  # handed to the caller's thread
                self._res.put((False, exc))

    def call(self, fn: Callable[[], T], timeout_s: float) -> T:
        """Run ``fn`` on the worker; raise TimeoutError when it takes longer than ``timeout_s``."""
        if self.hung:
            raise TimeoutError("an earlier runtime call never returned")
        if threading.current_thread() is self._thread:
            return fn()  # already on the worker (a guarded call inside a batch)
        self._req.put(fn)
        try:
            ok, value = self._res.get(timeout=timeout_s)
        except queue.Empty:
            self.hung = True
            raise TimeoutError(f"no answer within {timeout_s:.1f} s") from None
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        """Let the worker finish (unless it is stuck in the runtime)."""
        if not self.hung:
            self._req.put(None)
            self._thread.join(timeout=1.0)


def _check(result: Any) -> None:
    """Raise the pyopenxr exception of a failed raw call's XrResult."""
    from vrkit.backends.openxr._xr import xr

    exc = xr.check_result(result)
    if exc.is_exception():
        raise exc


def _pose(p: Any) -> Pose:
    return Pose(
        [p.position.x, p.position.y, p.position.z],
        [p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w],
    )


def _fov(f: Any) -> Fov:
    return Fov(f.angle_left, f.angle_right, f.angle_up, f.angle_down)


class OpenXRBackend(Backend):
    """Renders into OpenXR swapchains; the runtime's compositor shows them on the headset.

    ``RunConfig.extra`` options (all optional):
        ``openxr_gl``: ``"auto"`` (headless EGL when the runtime has XR_MNDX_egl_enable, else a
        hidden glfw window with a GLX context), ``"egl"``, ``"window"`` (a glfw window whose
        context is made through EGL: XR_MNDX_egl_enable's binding) or ``"glx"`` (a glfw window
        with a native GLX context: XR_KHR_opengl_enable's Xlib binding, SteamVR and most Linux
        runtimes).
        ``openxr_space``: ``"stage"`` (default when offered, floor at y = 0) or ``"local"``.
        ``openxr_timeout_s``: Longest wait for ``xrWaitFrame`` / an image (default 5 s).
        ``openxr_ready_timeout_s``: Longest wait for the session to become READY (default 10 s).
        ``openxr_depth``: Submit depth (XR_KHR_composition_layer_depth) when the runtime takes
        it (default True).
        ``openxr_depth_range``: ``(near, far)`` metres of the renderer's projection, for the
        submitted depth (default the renderer's ``NEAR_M``, ``FAR_M``).
        ``openxr_visibility_mask``: Skip the pixels the lens hides (XR_KHR_visibility_mask)
        when the runtime has a mask (default True).
    """

    name = "openxr"
    capabilities = Capabilities(
        shows_panel=False,
        runtime_views=True,
        interactive=True,
        writes_files=False,
        input_kinds=frozenset({"controllers"}),
    )

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when an OpenXR runtime manifest is present, else the clear message."""
        try:
            import vrkit.backends.openxr._xr  # noqa: F401
        except ImportError as exc:
            return f"pyopenxr cannot be imported ({exc}); pip install pyopenxr"
        return no_runtime_reason()

    def __init__(self, config: RunConfig | None = None) -> None:
        super().__init__(config or RunConfig())
        from vrkit.backends.openxr.lifecycle import SessionLifecycle

        extra = self.config.extra
        self.timeout_s = float(extra.get("openxr_timeout_s", 5.0))
        self.ready_timeout_s = float(extra.get("openxr_ready_timeout_s", 10.0))
        self.lifecycle = SessionLifecycle()
        self._stack: ExitStack | None = None
        self._ctx: GLContext | None = None
        self._watchdog: _Watchdog | None = None
        self._runtime_ok = True  # False once the runtime is lost or hung: no more calls
        self.instance: Any = None
        self.session: Any = None
        self.system_id: Any = None
        self.enabled_extensions: list[str] = []
        self.runtime_name = ""
        self.runtime_version = ""
        self.system_name = ""
        self.view_config_views: list[Any] = []
        self.blend_mode: Any = None
        self.space: Any = None
        self.space_name = ""
        self.view_space: Any = None
        self.swapchains: list[ViewSwapchain] = []
        self.controllers: ControllerActions | None = None
        self.controller_states: list[ControllerState] = []
        self.refresh_rates: list[float] = []
        self.refresh_rate: float | None = None
        self.visibility_mask_sizes: list[tuple[int, int]] = []
        #: GL format of the depth swapchains, or None when no depth is submitted.
        self.depth_format: int | None = None
        from vrkit.render.renderer import FAR_M, NEAR_M

        near, far = extra.get("openxr_depth_range", (NEAR_M, FAR_M))
        if not 0 < float(near) < float(far):
            raise InputError(
                f"openxr_depth_range must be (near, far) with 0 < near < far, got {(near, far)}"
            )
        self.depth_range = (float(near), float(far))
        self.graphics_binding = ""
        self.frames_submitted = 0
        self.frames_begun = 0
        self._frame_index = 0
        self._xr_views: list[Any] = []
        self._frame_state: Any = None
        self._acquired = False
        self._convert_time: Callable[[int], int] | None = None
        self._in_call = ""  # the runtime call in progress (named when one never returns)
        #: CLOCK_CONVERTED when predictedDisplayTime is converted by the runtime, else
        #: CLOCK_ESTIMATED.
        self.display_clock = CLOCK_ESTIMATED
        #: Per-frame records for run.json (only with ``config.out_dir``).
        self._records: list[dict[str, Any]] | None = None

    # --- Backend interface ----------------------------------------------------------------
    @property
    def gl(self) -> GLContext:
        """The GL context bound to the OpenXR session."""
        if self._ctx is None:
            raise BackendUnavailableError("the OpenXR backend is not open")
        return self._ctx

    def open(self) -> None:
        """Create the GL context, instance, session, spaces, swapchains and actions.

        Raises:
            BackendUnavailableError: No runtime, no headset, or no usable GL binding.
        """
        if self._stack is not None:
            return
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnavailableError(reason)
        self._stack = ExitStack()
        try:
            self._open(self._stack)
        except BaseException:
            self.close()
            raise

    def begin_frame(self) -> FrameInfo | None:
        """Poll events, wait for the next frame and locate its views; None when over."""
        from vrkit.backends.openxr._xr import xr

        if self._stack is None or not self._runtime_ok:
            return None
        if self.config.frames is not None and self._frame_index >= self.config.frames:
            self.finish()
            return None
        deadline = time.monotonic() + self.ready_timeout_s
        timing: dict[str, int] = {}
        while True:
            # Every runtime call up to the located views runs on the watchdog's worker in one
            # hop: a runtime that stops answering (hung, frozen) cannot block this thread.
            located = self._on_worker(lambda: self._begin_on_worker(timing))
            if located is not None:
                break
            if self.lifecycle.done:
                self._raise_if_lost()
                return None
            if time.monotonic() > deadline:
                raise SessionLostError(
                    f"the OpenXR session stayed {self.lifecycle.state.name} for "
                    f"{self.ready_timeout_s:.0f} s without becoming READY",
                    "is another application holding the headset?",
                )
            time.sleep(0.005)
        fs, view_state, xr_views, head = located
        display_time = int(fs.predicted_display_time)
        valid = xr.ViewStateFlags.POSITION_VALID_BIT | xr.ViewStateFlags.ORIENTATION_VALID_BIT
        views_ok = (int(view_state.view_state_flags) & int(valid)) == int(valid)
        self._xr_views = list(xr_views)
        views = [EyeView(i, _pose(v.pose), _fov(v.fov)) for i, v in enumerate(self._xr_views)]
        timing["xr_predicted_display_time"] = display_time
        host_display_ns = self._host_time(display_time, timing["wait_frame_end_ns"], fs)
        timing["predicted_display_ns"] = host_display_ns
        frame = FrameInfo(
            index=self._frame_index,
            predicted_display_time_ns=host_display_ns,
            period_ns=int(fs.predicted_display_period),
            views=views,
            head_pose=_pose(head.pose),
            should_render=bool(fs.should_render) and views_ok and self.lifecycle.visible,
            timing=timing,
        )
        self._frame_index += 1
        return frame

    def _begin_on_worker(self, timing: dict[str, int]) -> tuple[Any, Any, Any, Any] | None:
        """Poll events; when frames should run: wait, begin, locate views, head and hands.

        Runs on the watchdog's worker thread (no GL calls here). None when no frame is due.
        """
        from vrkit.backends.openxr._xr import xr

        self._poll()
        if self.lifecycle.done or not self.lifecycle.should_run_frames:
            return None
        timing["wait_frame_start_ns"] = time.monotonic_ns()
        fs = self._guarded("xrWaitFrame", lambda: xr.wait_frame(self.session))
        timing["wait_frame_end_ns"] = time.monotonic_ns()
        self._guarded("xrBeginFrame", lambda: xr.begin_frame(self.session))
        self._frame_state = fs
        self.frames_begun += 1
        display_time = int(fs.predicted_display_time)
        self._locate_info.display_time = display_time
        timing["pose_sample_ns"] = time.monotonic_ns()
        view_state, xr_views = self._guarded(
            "xrLocateViews", lambda: xr.locate_views(self.session, self._locate_info)
        )
        head = self._guarded(
            "xrLocateSpace", lambda: xr.locate_space(self.view_space, self.space, display_time)
        )
        if self.controllers is not None:
            self._guarded("xrSyncActions", self.controllers.sync)
            self.controller_states = self._guarded(
                "controller state", lambda: self.controllers.states(self.space, display_time)
            )
        timing["views_located_ns"] = time.monotonic_ns()
        return fs, view_state, xr_views, head

    def eye_targets(self, frame: FrameInfo) -> list[RenderTarget]:
        """Acquire this frame's swapchain images; one render target per view."""
        targets = [
            self._guarded(
                "xrAcquireSwapchainImage", lambda sc=sc: sc.acquire(int(self.timeout_s * 1e9))
            )
            for sc in self.swapchains
        ]
        self._acquired = True
        self.gl.make_current()
        return targets

    def end_frame(self, frame: FrameInfo) -> None:
        """Submit the frame: a projection layer when images were rendered, else no layers."""
        from vrkit.backends.openxr._xr import xr

        timing = frame.timing
        timing["end_frame_start_ns"] = time.monotonic_ns()
        layers = False
        if self._acquired:
            # The GPU's end of this frame's rendering, then the images go back to the runtime.
            fence = self.gl.fence()
            if self.gl.wait_fence(fence, int(self.timeout_s * 1e9)):
                timing["gpu_done_ns"] = time.monotonic_ns()
            else:
                log.warning("frame %d: GPU fence not signalled within %.1f s", frame.index,
                            self.timeout_s)  # fmt: skip
            for sc in self.swapchains:
                self._guarded("xrReleaseSwapchainImage", sc.release_image)
            self._acquired = False
            for pv, v in zip(self._proj_views, self._xr_views, strict=True):
                pv.pose, pv.fov = v.pose, v.fov
            layers = True
        end_info = self._end_info if layers else self._end_info_empty
        end_info.display_time = self._frame_state.predicted_display_time
        timing["submit_ns"] = time.monotonic_ns()
        self._guarded("xrEndFrame", lambda: xr.end_frame(self.session, end_info))
        timing["end_frame_end_ns"] = time.monotonic_ns()
        if layers:
            self.frames_submitted += 1
        if self._records is not None:
            self._records.append(
                {
                    "index": frame.index,
                    "display_time_ns": frame.predicted_display_time_ns,
                    "display_clock": self.display_clock,
                    "submitted": layers,
                    "head_pose": frame.head_pose.to_dict(),
                    "timing": dict(timing),
                }
            )

    def finish(self) -> None:
        """Ask the runtime to end the session and pump frames until it reaches EXITING."""
        from vrkit.backends.openxr._xr import xr
        from vrkit.backends.openxr.lifecycle import Action

        if self._stack is None or not self._runtime_ok or self.lifecycle.done:
            return
        self._do(self.lifecycle.request_exit())
        deadline = time.monotonic() + max(2.0, self.timeout_s)
        while not self.lifecycle.done and time.monotonic() < deadline:
            self._poll()
            if self.lifecycle.should_run_frames:
                fs = self._guarded("xrWaitFrame", lambda: xr.wait_frame(self.session), True)
                self._guarded("xrBeginFrame", lambda: xr.begin_frame(self.session))
                self._guarded(
                    "xrEndFrame",
                    lambda fs=fs: xr.end_frame(
                        self.session,
                        xr.FrameEndInfo(
                            display_time=fs.predicted_display_time,
                            environment_blend_mode=self.blend_mode,
                            layers=[],
                        ),
                    ),
                )
            else:
                time.sleep(0.005)
        if not self.lifecycle.done:
            log.warning(
                "OpenXR session did not reach EXITING within %.1f s (state %s)",
                max(2.0, self.timeout_s),
                self.lifecycle.state.name,
            )
            if self.lifecycle.running:
                self._do([Action.END_SESSION])

    def close(self) -> None:
        """Pump the session to EXITING, then destroy everything in reverse order; idempotent."""
        if self._stack is None:
            return
        try:
            if self._runtime_ok and self.session is not None:
                try:
                    self.finish()
                except SessionLostError as exc:
                    log.info("OpenXR session ended while closing: %s", exc)
        finally:
            stack, self._stack = self._stack, None
            try:
                stack.close()
            finally:
                self._write_run_json()

    def _write_run_json(self) -> None:
        """``run.json`` in ``config.out_dir``: the headless backend's layout, OpenXR clocks."""
        if self._records is None or self.config.out_dir is None:
            return
        records, self._records = self._records, None
        doc = {
            "vrkit_version": __version__,
            "backend": self.name,
            "clock": (
                "timing values and display_time_ns are host CLOCK_MONOTONIC ns; "
                "predicted_display_ns = display_time_ns is the runtime's predictedDisplayTime "
                f"on the host clock ({self.display_clock}); "
                "xr_predicted_display_time is the raw XrTime"
            ),
            "display_clock": self.display_clock,
            **self.summary(),
            "frames": records,
        }
        out = Path(self.config.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "run.json").write_text(json.dumps(doc, indent=1))

    def summary(self) -> dict[str, Any]:
        """Runtime, system and frame counts for the CLI."""
        return {
            "runtime": f"{self.runtime_name} {self.runtime_version}".strip(),
            "system": self.system_name,
            "graphics_binding": self.graphics_binding,
            "reference_space": self.space_name,
            "swapchain_size": [[sc.width, sc.height] for sc in self.swapchains],
            "depth_format": hex(self.depth_format) if self.depth_format else None,
            "visibility_mask": [sc.hidden_area is not None for sc in self.swapchains],
            "frames_submitted": self.frames_submitted,
            "display_clock": self.display_clock,
            "out_dir": str(self.config.out_dir) if self.config.out_dir else None,
            "states": [s.name for _t, s in self.lifecycle.history],
            "lost": self.lifecycle.lost,
        }

    # --- internals ------------------------------------------------------------------------
    def _open(self, stack: ExitStack) -> None:
        from vrkit.backends.openxr import glbinding
        from vrkit.backends.openxr._xr import LOST_ERRORS, xr
        from vrkit.backends.openxr.controllers import ControllerActions
        from vrkit.backends.openxr.swapchain import (
            ViewSwapchain,
            choose_color_format,
            choose_depth_format,
        )

        manifest = runtime_manifest()
        try:
            available = {
                (e.extension_name.decode() if isinstance(e.extension_name, bytes) else
                 str(e.extension_name))
                for e in xr.enumerate_instance_extension_properties()
            }  # fmt: skip
        except xr.exception.XrException as exc:
            raise BackendUnavailableError(
                f"{NO_RUNTIME} (the runtime in {manifest} could not be loaded: {exc})"
            ) from exc

        # 1. GL context (and so the binding kind).
        mode = str(self.config.extra.get("openxr_gl", "auto"))
        if mode not in ("auto", "egl", "window", "glx"):
            raise BackendUnavailableError(
                f"openxr_gl must be auto, egl, window or glx, got {mode!r}"
            )
        if mode == "auto":
            mode = "egl" if glbinding.EGL_EXTENSION in available else "glx"
        if mode in ("egl", "window") and glbinding.EGL_EXTENSION not in available:
            raise BackendUnavailableError(
                f"the OpenXR runtime lacks {glbinding.EGL_EXTENSION} (openxr_gl={mode!r} binds "
                "an EGL context)",
                "use openxr_gl=glx (a GLX window) with an X display",
            )
        if glbinding.OPENGL_EXTENSION not in available:
            raise BackendUnavailableError("the OpenXR runtime has no OpenGL support (KHR)")
        from vrkit.gl.context import create_headless_context, create_window_context

        if mode == "egl":
            ctx = create_headless_context()
        else:
            ctx = create_window_context(
                640,
                360,
                title="vrkit OpenXR mirror",
                visible=False,
                context_api="native" if mode == "glx" else "egl",
            )
        self._ctx = ctx
        stack.callback(self._release_gl)
        # The binding follows the context: vrkit's headless EGL context or a glfw window made
        # through EGL (XR_MNDX_egl_enable), or a window with a native GLX context
        # (XR_KHR_opengl_enable's Xlib binding).
        ctx.make_current()
        if mode == "egl":
            binding = glbinding.egl_binding(ctx.display, ctx.config, ctx.context)
        elif mode == "window":
            binding = glbinding.current_egl_binding()
            if binding is None:
                raise BackendUnavailableError("the glfw window has no current EGL context")
        else:
            binding = glbinding.glx_binding(ctx.native_handles())
        if binding.extension not in available:
            raise BackendUnavailableError(
                f"the window's {binding.kind.upper()} context needs {binding.extension}, "
                f"which the OpenXR runtime does not offer"
            )

        # 2. Instance.
        wanted = [glbinding.OPENGL_EXTENSION]
        if binding.extension not in wanted:
            wanted.append(binding.extension)
        wanted += [e for e in OPTIONAL_EXTENSIONS if e in available]
        try:
            self.instance = xr.create_instance(
                xr.InstanceCreateInfo(
                    application_info=xr.ApplicationInfo(
                        application_name="vrkit",
                        application_version=1,
                        engine_name="vrkit",
                        engine_version=1,
                        api_version=xr.Version(1, 0, 0),
                    ),
                    enabled_extension_names=wanted,
                )
            )
        except LOST_ERRORS as exc:
            raise BackendUnavailableError(
                f"{NO_RUNTIME} (the runtime in {manifest} did not start: "
                f"{type(exc).__name__}; is its service, e.g. monado-service, running?)"
            ) from exc
        stack.callback(self._destroy, xr.destroy_instance, "instance")
        self.enabled_extensions = wanted
        props = xr.get_instance_properties(self.instance)
        name = props.runtime_name
        self.runtime_name = name.decode() if isinstance(name, bytes) else str(name)
        self.runtime_version = str(xr.Version(props.runtime_version))

        # 3. System, its views and graphics requirements (required before the session).
        try:
            self.system_id = xr.get_system(
                self.instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
            )
        except (xr.exception.FormFactorUnavailableError, xr.exception.FormFactorUnsupportedError):
            raise BackendUnavailableError(
                f"OpenXR runtime {self.runtime_name!r} has no headset connected"
            ) from None
        sys_props = xr.get_system_properties(self.instance, self.system_id)
        sname = sys_props.system_name
        self.system_name = sname.decode() if isinstance(sname, bytes) else str(sname)
        self.view_config_views = list(
            xr.enumerate_view_configuration_views(
                self.instance, self.system_id, xr.ViewConfigurationType.PRIMARY_STEREO
            )
        )
        modes = xr.enumerate_environment_blend_modes(
            self.instance, self.system_id, xr.ViewConfigurationType.PRIMARY_STEREO
        )
        opaque = xr.EnvironmentBlendMode.OPAQUE
        self.blend_mode = opaque if opaque in list(modes) else xr.EnvironmentBlendMode(modes[0])
        req = xr.get_opengl_graphics_requirements_khr(self.instance, self.system_id)
        log.debug("OpenXR GL requirements %s..%s", req.min_api_version_supported,
                  req.max_api_version_supported)  # fmt: skip

        # 4. Session with the GL binding of our context.
        ctx.make_current()
        self.graphics_binding = binding.extension
        self.session = xr.create_session(
            self.instance,
            xr.SessionCreateInfo(system_id=self.system_id, next=binding.pointer()),
        )
        stack.callback(self._destroy, xr.destroy_session, "session")
        self._binding = binding
        if "XR_KHR_convert_timespec_time" in wanted:
            self._convert_time = self._make_time_converter()
            self.display_clock = CLOCK_CONVERTED
        if self.config.out_dir is not None:
            self._records = []

        # 5. Reference spaces.
        offered = set(xr.enumerate_reference_spaces(self.session))
        want_space = str(self.config.extra.get("openxr_space", "stage")).lower()
        if want_space not in ("stage", "local"):
            raise BackendUnavailableError(f"openxr_space must be stage or local, got {want_space}")
        kind = xr.ReferenceSpaceType.STAGE
        if want_space == "local" or kind not in offered:
            kind = xr.ReferenceSpaceType.LOCAL
        self.space_name = kind.name.lower()
        self.space = self._create_space(stack, kind)
        self.view_space = self._create_space(stack, xr.ReferenceSpaceType.VIEW)

        # 6. Swapchains: one per view, at the configured or recommended size.
        offered_formats = list(xr.enumerate_swapchain_formats(self.session))
        fmt = choose_color_format(offered_formats)
        if "XR_KHR_composition_layer_depth" in wanted and self.config.extra.get(
            "openxr_depth", True
        ):
            self.depth_format = choose_depth_format(offered_formats)
        for v in self.view_config_views:
            if self.config.eye_size is not None:
                w = min(int(self.config.eye_size[0]), v.max_image_rect_width)
                h = min(int(self.config.eye_size[1]), v.max_image_rect_height)
            else:
                w, h = v.recommended_image_rect_width, v.recommended_image_rect_height
            sc = ViewSwapchain(self.session, ctx, w, h, fmt, depth_format=self.depth_format)
            self.swapchains.append(sc)
            stack.callback(lambda sc=sc: sc.destroy(self._runtime_ok))

        # Per-frame structures, built once; each frame only updates times, poses and FOVs.
        self._locate_info = xr.ViewLocateInfo(
            view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
            display_time=0,
            space=self.space,
        )
        # Depth (XR_KHR_composition_layer_depth): one depth info per view, chained into its
        # projection view's next; window depth 0..1 maps nearZ..farZ of the renderer.
        self._depth_infos = (xr.CompositionLayerDepthInfoKHR * len(self.swapchains))(
            *(
                xr.CompositionLayerDepthInfoKHR(
                    sub_image=xr.SwapchainSubImage(
                        swapchain=sc.depth_handle,
                        image_rect=xr.Rect2Di(extent=xr.Extent2Di(sc.width, sc.height)),
                    ),
                    min_depth=0.0,
                    max_depth=1.0,
                    near_z=self.depth_range[0],
                    far_z=self.depth_range[1],
                )
                for sc in self.swapchains
                if sc.depth_handle is not None
            )
        )
        self._proj_views = (xr.CompositionLayerProjectionView * len(self.swapchains))(
            *(
                xr.CompositionLayerProjectionView(
                    sub_image=xr.SwapchainSubImage(
                        swapchain=sc.handle,
                        image_rect=xr.Rect2Di(extent=xr.Extent2Di(sc.width, sc.height)),
                    ),
                    next=(
                        ctypes.cast(ctypes.pointer(self._depth_infos[i]), ctypes.c_void_p)
                        if sc.depth_handle is not None
                        else None
                    ),
                )
                for i, sc in enumerate(self.swapchains)
            )
        )
        self._layer = xr.CompositionLayerProjection(space=self.space, views=self._proj_views)
        header = ctypes.POINTER(xr.CompositionLayerBaseHeader)
        self._layer_ptrs = (header * 1)(ctypes.cast(ctypes.pointer(self._layer), header))
        self._end_info = xr.FrameEndInfo(
            display_time=0, environment_blend_mode=self.blend_mode, layers=self._layer_ptrs
        )
        self._end_info_empty = xr.FrameEndInfo(
            display_time=0, environment_blend_mode=self.blend_mode, layers=None
        )

        # 7. Controller actions.
        self.controllers = ControllerActions(self.instance, self.session)
        stack.callback(lambda: self.controllers.destroy(self._runtime_ok))

        # 8. Optional extensions.
        if "XR_FB_display_refresh_rate" in wanted:
            try:
                self.refresh_rates = [
                    float(getattr(r, "value", r))
                    for r in xr.enumerate_display_refresh_rates_fb(self.session)
                ]
                rate = xr.get_display_refresh_rate_fb(self.session)
                self.refresh_rate = float(getattr(rate, "value", rate))
            except xr.exception.XrException as exc:
                log.debug("XR_FB_display_refresh_rate failed: %s", exc)
        if "XR_KHR_visibility_mask" in wanted:
            self.visibility_mask_sizes = [(0, 0)] * len(self.swapchains)
            for i in range(len(self.swapchains)):
                self._fetch_visibility_mask(i)

        # 9. The watchdog for blocking calls; stopped first on close.
        self._watchdog = _Watchdog()
        stack.callback(self._watchdog.stop)
        log.info(
            "OpenXR: %s %s, %s, views %s, format 0x%x, depth %s, %s space, %s",
            self.runtime_name, self.runtime_version, self.system_name,
            [(sc.width, sc.height) for sc in self.swapchains], fmt,
            hex(self.depth_format) if self.depth_format else "none", self.space_name,
            self.graphics_binding,
        )  # fmt: skip

    def _create_space(self, stack: ExitStack, kind: Any) -> Any:
        from vrkit.backends.openxr._xr import xr

        space = xr.create_reference_space(
            self.session,
            xr.ReferenceSpaceCreateInfo(
                reference_space_type=kind, pose_in_reference_space=xr.Posef()
            ),
        )
        stack.callback(self._destroy, xr.destroy_space, space)
        return space

    def _destroy(self, fn: Callable[[Any], None], what: Any) -> None:
        """Destroy one handle (named by attribute, or given); skipped once the runtime is gone."""
        handle = getattr(self, what) if isinstance(what, str) else what
        if isinstance(what, str):
            setattr(self, what, None)
        if handle is None:
            return
        from vrkit.backends.openxr._xr import xr

        if not self._runtime_ok and fn is not xr.destroy_instance:
            return
        if not self._runtime_ok and self._watchdog is not None and self._watchdog.hung:
            return  # a hung runtime may block here too: leave the handles to process exit
        try:
            fn(handle)
        except xr.exception.XrException as exc:
            log.debug("%s failed during teardown: %s", fn.__name__, exc)

    def _release_gl(self) -> None:
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            ctx.release()

    def _fetch_visibility_mask(self, view: int) -> None:
        """Read one view's hidden triangle mesh and hand it to its swapchain's targets.

        The two-call idiom of ``xrGetVisibilityMaskKHR`` (pyopenxr only makes the first call).
        An empty mask, a failure, or ``openxr_visibility_mask=False`` leave the view unmasked.
        """
        from vrkit.backends.openxr._xr import xr
        from vrkit.backends.openxr.hidden_area import hidden_area_mesh

        if view >= len(self.swapchains):
            return
        sc = self.swapchains[view]
        try:
            pfn = ctypes.cast(
                xr.get_instance_proc_addr(self.instance, "xrGetVisibilityMaskKHR"),
                xr.PFN_xrGetVisibilityMaskKHR,
            )
            args = (
                self.session,
                xr.ViewConfigurationType.PRIMARY_STEREO.value,
                view,
                xr.VisibilityMaskTypeKHR.HIDDEN_TRIANGLE_MESH.value,
            )
            mask = xr.VisibilityMaskKHR()
            _check(pfn(*args, ctypes.byref(mask)))
            n_v, n_i = int(mask.vertex_count_output), int(mask.index_count_output)
            vertices = (xr.Vector2f * max(n_v, 1))()
            indices = (ctypes.c_uint32 * max(n_i, 1))()
            mask.vertex_capacity_input, mask.index_capacity_input = n_v, n_i
            mask.vertices = ctypes.cast(vertices, ctypes.POINTER(xr.Vector2f))
            mask.indices = ctypes.cast(indices, ctypes.POINTER(ctypes.c_uint32))
            if n_v and n_i:
                _check(pfn(*args, ctypes.byref(mask)))
        except (xr.exception.XrException, AttributeError, TypeError, ValueError) as exc:
            log.warning("visibility mask of view %d unavailable: %s", view, exc)
            return
        self.visibility_mask_sizes[view] = (n_v, n_i)
        if not self.config.extra.get("openxr_visibility_mask", True):
            return
        xy = np.frombuffer(vertices, dtype=np.float32, count=2 * n_v).reshape(-1, 2)
        idx = np.frombuffer(indices, dtype=np.uint32, count=n_i)
        try:
            sc.hidden_area = hidden_area_mesh(xy.copy(), idx.copy())
        except ValueError as exc:
            log.warning("visibility mask of view %d is malformed (%s); not used", view, exc)
            sc.hidden_area = None

    def _make_time_converter(self) -> Callable[[int], int]:
        """XrTime -> host CLOCK_MONOTONIC ns through XR_KHR_convert_timespec_time."""
        from vrkit.backends.openxr._xr import xr

        pfn = ctypes.cast(
            xr.get_instance_proc_addr(self.instance, "xrConvertTimeToTimespecTimeKHR"),
            xr.PFN_xrConvertTimeToTimespecTimeKHR,
        )
        instance = self.instance

        def convert(t: int) -> int:
            ts = xr.timespec()
            result = pfn(instance, xr.Time(t), ctypes.byref(ts))
            if result < 0:
                raise xr.exception.RuntimeFailureError()
            return int(ts.tv_sec) * 1_000_000_000 + int(ts.tv_nsec)

        return convert

    def _host_time(self, xr_time: int, wait_end_ns: int, fs: Any) -> int:
        """The predicted display time on the host's monotonic clock (ns)."""
        if self._convert_time is not None:
            try:
                return self._convert_time(xr_time)
            except Exception as exc:  # fall back below, once logged
                log.warning("xrConvertTimeToTimespecTimeKHR failed (%s); estimating", exc)
                self._convert_time = None
                self.display_clock = CLOCK_ESTIMATED
        # Without the extension: one period after xrWaitFrame returned (approximation).
        return wait_end_ns + int(fs.predicted_display_period)

    def _poll(self) -> None:
        from vrkit.backends.openxr._xr import xr

        while True:
            try:
                ev = self._guarded("xrPollEvent", lambda: xr.poll_event(self.instance))
            except xr.EventUnavailable:
                return
            self._on_event(ev)

    def _on_event(self, ev: Any) -> None:
        """Act on one event from ``xrPollEvent`` (an ``XrEventDataBuffer``)."""
        from vrkit.backends.openxr._xr import xr

        kind = xr.StructureType(ev.type)
        if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
            e = ctypes.cast(
                ctypes.byref(ev), ctypes.POINTER(xr.EventDataSessionStateChanged)
            ).contents
            self._do(self.lifecycle.on_state_changed(int(e.state), int(e.time)))
        elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
            e = ctypes.cast(
                ctypes.byref(ev), ctypes.POINTER(xr.EventDataInstanceLossPending)
            ).contents
            self._do(self.lifecycle.on_instance_loss_pending(int(e.loss_time)))
        elif kind == xr.StructureType.EVENT_DATA_VISIBILITY_MASK_CHANGED_KHR:
            e = ctypes.cast(
                ctypes.byref(ev), ctypes.POINTER(xr.EventDataVisibilityMaskChangedKHR)
            ).contents
            log.info("OpenXR: visibility mask of view %d changed", int(e.view_index))
            self._fetch_visibility_mask(int(e.view_index))
        elif kind == xr.StructureType.EVENT_DATA_EVENTS_LOST:
            log.warning("the OpenXR runtime dropped events")
        else:
            log.debug("OpenXR event %s", kind.name)

    def _do(self, actions: list[Any]) -> None:
        from vrkit.backends.openxr._xr import xr
        from vrkit.backends.openxr.lifecycle import Action

        for action in actions:
            if action is Action.BEGIN_SESSION:
                self._guarded(
                    "xrBeginSession",
                    lambda: xr.begin_session(
                        self.session,
                        xr.SessionBeginInfo(xr.ViewConfigurationType.PRIMARY_STEREO),
                    ),
                )
                self.lifecycle.on_begun()
            elif action is Action.END_SESSION:
                try:
                    self._guarded("xrEndSession", lambda: xr.end_session(self.session))
                finally:
                    self.lifecycle.on_ended()
            elif action is Action.REQUEST_EXIT:
                self._guarded("xrRequestExitSession", lambda: xr.request_exit_session(self.session))
            elif action is Action.SESSION_LOST:
                self._raise_if_lost()

    def _lost_error(self) -> SessionLostError:
        self._runtime_ok = False
        return SessionLostError(
            f"OpenXR session lost: {self.lifecycle.lost}",
            "check that the runtime (e.g. monado-service) is running, then start again",
        )

    def _raise_if_lost(self) -> None:
        if self.lifecycle.lost is not None:
            raise self._lost_error()

    def _on_worker(self, fn: Callable[[], T]) -> T:
        """Run a batch of runtime calls on the watchdog's worker, within ``timeout_s``."""
        if self._watchdog is None:
            return fn()
        try:
            return self._watchdog.call(fn, self.timeout_s)
        except TimeoutError as exc:
            self.lifecycle.on_runtime_error(
                f"{self._in_call} got no answer from the runtime within {self.timeout_s:.1f} s "
                f"(runtime hung or stopped)"
            )
            raise self._lost_error() from exc

    def _guarded(self, what: str, fn: Callable[[], T], watchdog: bool = False) -> T:
        """Call the runtime; turn a dead, disconnected or hung runtime into SessionLostError."""
        from vrkit.backends.openxr._xr import LOST_ERRORS, xr

        if not self._runtime_ok:
            raise SessionLostError(f"OpenXR session lost: {self.lifecycle.lost}")
        self._in_call = what
        try:
            if watchdog and self._watchdog is not None:
                return self._watchdog.call(fn, self.timeout_s)
            return fn()
        except TimeoutError as exc:
            self.lifecycle.on_runtime_error(
                f"{what} got no answer from the runtime within {self.timeout_s:.1f} s "
                f"(runtime hung or stopped)"
            )
            raise self._lost_error() from exc
        except LOST_ERRORS as exc:
            self.lifecycle.on_runtime_error(
                f"{what} failed with {type(exc).__name__} (the runtime process died or its "
                f"connection broke)"
            )
            raise self._lost_error() from exc
        except xr.EventUnavailable:
            raise
        except xr.exception.ErrorResult as exc:
            raise SessionLostError(f"OpenXR {what} failed: {type(exc).__name__}: {exc}") from exc
