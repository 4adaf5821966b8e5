"""``OpenXRBackend``: vrkit's frame loop on any OpenXR runtime (pyopenxr).

Lifecycle (created in this order, destroyed in reverse through one ExitStack)::

    GL context (EGL headless, or a glfw/GLX window)            instance.create_gl_context
    -> XrInstance (XR_KHR_opengl_enable or XR_MNDX_egl_enable,  instance.create_instance
       plus optional extensions)
    -> XrSystem + OpenGL graphics requirements -> XrSession     instance.get_system / create_session
    -> reference spaces (STAGE when offered, else LOCAL; VIEW)  instance.create_reference_space
    -> swapchains (one per view) and their projection layer     swapchain / layers
    -> controller action set -> optional extensions             controllers / extensions
    -> a watchdog thread for xrWaitFrame                        watchdog

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
import logging
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

from vrkit.backends.base import Backend, Capabilities, RunConfig
from vrkit.backends.openxr import extensions, instance
from vrkit.backends.openxr._xr import LOST_ERRORS, xr
from vrkit.backends.openxr.controllers import ControllerActions, ControllerState
from vrkit.backends.openxr.hidden_area import hidden_area_mesh
from vrkit.backends.openxr.layers import ProjectionLayer
from vrkit.backends.openxr.lifecycle import Action, SessionLifecycle
from vrkit.backends.openxr.runtime import no_runtime_reason, runtime_manifest
from vrkit.backends.openxr.swapchain import ViewSwapchain, choose_color_format, choose_depth_format
from vrkit.backends.openxr.watchdog import Watchdog
from vrkit.backends.runrecord import RunRecord, prepare_out_dir
from vrkit.core.clock import MonotonicClock
from vrkit.core.errors import BackendUnavailableError, InputError, SessionLostError
from vrkit.core.types import EyeView, Fov, FrameInfo, Pose
from vrkit.gl.context import GLContext
from vrkit.render.renderer import FAR_M, NEAR_M
from vrkit.render.targets import RenderTarget, choose_samples

__all__ = ["CLOCK_CONVERTED", "CLOCK_ESTIMATED", "OpenXRBackend"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How ``predicted_display_ns`` was put on the host clock (``display_clock`` of each record).
CLOCK_CONVERTED = "xrConvertTimeToTimespecTimeKHR"
CLOCK_ESTIMATED = "estimate:wait_frame_end+period"
#: Poll interval while waiting for the session (READY, EXITING), ns.
_POLL_NS = 5_000_000


def _pose(p: Any) -> Pose:
    return Pose(
        [p.position.x, p.position.y, p.position.z],
        [p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w],
    )


def _fov(f: Any) -> Fov:
    return Fov(f.angle_left, f.angle_right, f.angle_up, f.angle_down)


class OpenXRBackend(Backend):
    """Renders into OpenXR swapchains; the runtime's compositor shows them on the headset.

    The run's clock (``RunConfig.clock``) must be the host's monotonic clock: frame times come
    from the runtime and are put on CLOCK_MONOTONIC (XR_KHR_convert_timespec_time).

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
        return no_runtime_reason()

    def __init__(self, config: RunConfig | None = None) -> None:
        super().__init__(config or RunConfig())
        if not isinstance(self.clock, MonotonicClock):
            raise InputError(
                f"the OpenXR backend runs on the runtime's clock; RunConfig.clock must be the "
                f"host's MonotonicClock, got {type(self.clock).__name__}"
            )
        extra = self.config.extra
        self.timeout_s = float(extra.get("openxr_timeout_s", 5.0))
        self.ready_timeout_s = float(extra.get("openxr_ready_timeout_s", 10.0))
        near, far = extra.get("openxr_depth_range", (NEAR_M, FAR_M))
        if not 0 < float(near) < float(far):
            raise InputError(
                f"openxr_depth_range must be (near, far) with 0 < near < far, got {(near, far)}"
            )
        self.depth_range = (float(near), float(far))
        self.lifecycle = SessionLifecycle()
        #: Whether the runtime may still be called (shared with the teardown callbacks).
        self.health = instance.RuntimeHealth()
        self._stack: ExitStack | None = None
        self._ctx: GLContext | None = None
        self._watchdog: Watchdog | None = None
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
        #: The composition layer submitted each frame (built with the swapchains).
        self.layer: ProjectionLayer | None = None
        self.controllers: ControllerActions | None = None
        self.controller_states: list[ControllerState] = []
        self.refresh_rates: list[float] = []
        self.refresh_rate: float | None = None
        self.visibility_mask_sizes: list[tuple[int, int]] = []
        #: GL format of the depth swapchains, or None when no depth is submitted.
        self.depth_format: int | None = None
        #: MSAA samples per pixel drawn into each view (1: off), resolved into the swapchains.
        self.msaa_samples = 1
        self.graphics_binding = ""
        self.frames_submitted = 0
        self.frames_begun = 0
        self._frame_index = 0
        self._xr_views: list[Any] = []
        self._frame_state: Any = None
        self._locate_info: Any = None
        self._acquired = False
        self._convert_time: Callable[[int], int] | None = None
        self._in_call = ""  # the runtime call in progress (named when one never returns)
        #: CLOCK_CONVERTED when predictedDisplayTime is converted by the runtime, else
        #: CLOCK_ESTIMATED.
        self.display_clock = CLOCK_ESTIMATED
        #: The run's per-frame record (only with ``config.out_dir``).
        self._record: RunRecord | None = None

    @property
    def _runtime_ok(self) -> bool:
        return self.health.ok

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
        out = (
            prepare_out_dir(self.config.out_dir, self.config.overwrite)
            if self.config.out_dir
            else None
        )
        self._stack = ExitStack()
        try:
            self._open(self._stack)
        except BaseException:
            self.close()
            raise
        if out is not None:
            self._record = RunRecord(out, self.name)

    def begin_frame(self) -> FrameInfo | None:
        """Poll events, wait for the next frame and locate its views; None when over."""
        if self._stack is None or not self._runtime_ok:
            return None
        if self.config.frames is not None and self._frame_index >= self.config.frames:
            self.finish()
            return None
        deadline_ns = self.clock.now_ns() + round(self.ready_timeout_s * 1e9)
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
            if self.clock.now_ns() > deadline_ns:
                raise SessionLostError(
                    f"the OpenXR session stayed {self.lifecycle.state.name} for "
                    f"{self.ready_timeout_s:.0f} s without becoming READY",
                    "is another application holding the headset?",
                )
            self.clock.sleep_ns(_POLL_NS)
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
        self._poll()
        if self.lifecycle.done or not self.lifecycle.should_run_frames:
            return None
        timing["wait_frame_start_ns"] = self.clock.now_ns()
        fs = self._guarded("xrWaitFrame", lambda: xr.wait_frame(self.session))
        timing["wait_frame_end_ns"] = self.clock.now_ns()
        self._guarded("xrBeginFrame", lambda: xr.begin_frame(self.session))
        self._frame_state = fs
        self.frames_begun += 1
        display_time = int(fs.predicted_display_time)
        self._locate_info.display_time = display_time
        timing["pose_sample_ns"] = self.clock.now_ns()
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
        timing["views_located_ns"] = self.clock.now_ns()
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
        timing = frame.timing
        timing["end_frame_start_ns"] = self.clock.now_ns()
        layers = False
        if self._acquired:
            # The GPU's end of this frame's rendering, then the images go back to the runtime.
            fence = self.gl.fence()
            if self.gl.wait_fence(fence, int(self.timeout_s * 1e9)):
                timing["gpu_done_ns"] = self.clock.now_ns()
            else:
                log.warning("frame %d: GPU fence not signalled within %.1f s", frame.index,
                            self.timeout_s)  # fmt: skip
            for sc in self.swapchains:
                self._guarded("xrReleaseSwapchainImage", sc.release_image)
            self._acquired = False
            layers = True
        assert self.layer is not None
        end_info = self.layer.end_info(
            self._xr_views if layers else None, self._frame_state.predicted_display_time
        )
        timing["submit_ns"] = self.clock.now_ns()
        self._guarded("xrEndFrame", lambda: xr.end_frame(self.session, end_info))
        timing["end_frame_end_ns"] = self.clock.now_ns()
        if layers:
            self.frames_submitted += 1
        if self._record is not None:
            self._record.add(frame, display_clock=self.display_clock, submitted=layers)

    def finish(self) -> None:
        """Ask the runtime to end the session and pump frames until it reaches EXITING."""
        if self._stack is None or not self._runtime_ok or self.lifecycle.done:
            return
        self._do(self.lifecycle.request_exit())
        deadline_ns = self.clock.now_ns() + round(max(2.0, self.timeout_s) * 1e9)
        while not self.lifecycle.done and self.clock.now_ns() < deadline_ns:
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
                self.clock.sleep_ns(_POLL_NS)
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
                self.instance = self.session = self.space = self.view_space = None
                self.layer = None
                self._write_run_json()

    def _write_run_json(self) -> None:
        """``run.json`` in ``config.out_dir``: the headless backend's layout, OpenXR clocks."""
        if self._record is None:
            return
        record, self._record = self._record, None
        record.write(
            "timing values and display_time_ns are host CLOCK_MONOTONIC ns; "
            "predicted_display_ns = display_time_ns is the runtime's predictedDisplayTime "
            f"on the host clock ({self.display_clock}); "
            "xr_predicted_display_time is the raw XrTime",
            **{"display_clock": self.display_clock, **self.summary()},
        )

    def summary(self) -> dict[str, Any]:
        """Runtime, system and frame counts for the CLI."""
        return {
            "runtime": f"{self.runtime_name} {self.runtime_version}".strip(),
            "system": self.system_name,
            "graphics_binding": self.graphics_binding,
            "reference_space": self.space_name,
            "swapchain_size": [[sc.width, sc.height] for sc in self.swapchains],
            "depth_format": hex(self.depth_format) if self.depth_format else None,
            "msaa_samples": self.msaa_samples,
            "visibility_mask": [sc.hidden_area is not None for sc in self.swapchains],
            "frames_submitted": self.frames_submitted,
            "display_clock": self.display_clock,
            "out_dir": str(self.config.out_dir) if self.config.out_dir else None,
            "states": [s.name for _t, s in self.lifecycle.history],
            "lost": self.lifecycle.lost,
        }

    # --- building -------------------------------------------------------------------------
    def _open(self, stack: ExitStack) -> None:
        """Build everything in creation order; each step registers its teardown on ``stack``."""
        health = self.health
        manifest = runtime_manifest()
        available = instance.available_extensions(manifest)

        # 1. GL context and its binding.
        mode = instance.choose_gl_mode(str(self.config.extra.get("openxr_gl", "auto")), available)
        ctx = self._ctx = instance.create_gl_context(mode)
        stack.callback(self._release_gl)
        binding = instance.make_binding(mode, ctx, available)

        # 2. Instance, system (views, blend mode, GL requirements), session.
        wanted = instance.instance_extensions(binding, available)
        self.instance = instance.create_instance(stack, health, wanted, manifest)
        self.enabled_extensions = wanted
        system = instance.get_system(self.instance)
        self.system_id = system.system_id
        self.runtime_name, self.runtime_version = system.runtime_name, system.runtime_version
        self.system_name = system.system_name
        self.view_config_views = system.view_config_views
        self.blend_mode = system.blend_mode
        self.session = instance.create_session(
            stack, health, self.instance, self.system_id, ctx, binding
        )
        self.graphics_binding = binding.extension
        self._binding = binding  # keeps the structure's pointers alive with the session
        if "XR_KHR_convert_timespec_time" in wanted:
            self._convert_time = extensions.time_converter(self.instance)
            self.display_clock = CLOCK_CONVERTED

        # 3. Reference spaces.
        kind = instance.choose_space(self.session, self.config.extra.get("openxr_space", "stage"))
        self.space_name = kind.name.lower()
        self.space = instance.create_reference_space(stack, health, self.session, kind)
        self.view_space = instance.create_reference_space(
            stack, health, self.session, xr.ReferenceSpaceType.VIEW
        )

        # 4. Swapchains, one per view, and the projection layer over them.
        offered_formats = list(xr.enumerate_swapchain_formats(self.session))
        fmt = choose_color_format(offered_formats)
        if "XR_KHR_composition_layer_depth" in wanted and self.config.extra.get(
            "openxr_depth", True
        ):
            self.depth_format = choose_depth_format(offered_formats)
        self.msaa_samples = choose_samples(self.config.msaa, ctx.max_samples)
        for w, h in self._swapchain_sizes():
            sc = ViewSwapchain(
                self.session, ctx, w, h, fmt, self.msaa_samples, depth_format=self.depth_format
            )
            self.swapchains.append(sc)
            stack.callback(lambda sc=sc: sc.destroy(health.ok))
        self.layer = ProjectionLayer(self.swapchains, self.space, self.blend_mode, self.depth_range)
        self._locate_info = xr.ViewLocateInfo(
            view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
            display_time=0,
            space=self.space,
        )

        # 5. Controller actions.
        controllers = self.controllers = ControllerActions(self.instance, self.session)
        stack.callback(lambda: controllers.destroy(health.ok))

        # 6. Optional extensions.
        if "XR_FB_display_refresh_rate" in wanted:
            self.refresh_rates, self.refresh_rate = extensions.refresh_rates(self.session)
        if "XR_KHR_visibility_mask" in wanted:
            self.visibility_mask_sizes = [(0, 0)] * len(self.swapchains)
            for i in range(len(self.swapchains)):
                self._fetch_visibility_mask(i)

        # 7. The watchdog for blocking calls; stopped first on close.
        self._watchdog = Watchdog()
        stack.callback(self._watchdog.stop)
        log.info(
            "OpenXR: %s %s, %s, views %s, format 0x%x, MSAA %dx, depth %s, %s space, %s",
            self.runtime_name, self.runtime_version, self.system_name,
            [(sc.width, sc.height) for sc in self.swapchains], fmt, self.msaa_samples,
            hex(self.depth_format) if self.depth_format else "none", self.space_name,
            self.graphics_binding,
        )  # fmt: skip

    def _swapchain_sizes(self) -> list[tuple[int, int]]:
        """Per view: ``config.eye_size`` capped at the runtime's maximum, else recommended."""
        sizes = []
        for v in self.view_config_views:
            if self.config.eye_size is not None:
                w = min(int(self.config.eye_size[0]), v.max_image_rect_width)
                h = min(int(self.config.eye_size[1]), v.max_image_rect_height)
            else:
                w, h = v.recommended_image_rect_width, v.recommended_image_rect_height
            sizes.append((w, h))
        return sizes

    def _release_gl(self) -> None:
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            ctx.release()

    def _fetch_visibility_mask(self, view: int) -> None:
        """Read one view's hidden triangle mesh and hand it to its swapchain's targets.

        An empty mask, a failure, or ``openxr_visibility_mask=False`` leave the view unmasked.
        """
        if view >= len(self.swapchains):
            return
        sc = self.swapchains[view]
        try:
            xy, idx = extensions.visibility_mask(self.instance, self.session, view)
        except (xr.exception.XrException, AttributeError, TypeError, ValueError) as exc:
            log.warning("visibility mask of view %d unavailable: %s", view, exc)
            return
        self.visibility_mask_sizes[view] = (len(xy), len(idx))
        if not self.config.extra.get("openxr_visibility_mask", True):
            return
        try:
            sc.hidden_area = hidden_area_mesh(xy, idx)
        except ValueError as exc:
            log.warning("visibility mask of view %d is malformed (%s); not used", view, exc)
            sc.hidden_area = None

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

    # --- events and guarded calls ---------------------------------------------------------
    def _poll(self) -> None:
        while True:
            try:
                ev = self._guarded("xrPollEvent", lambda: xr.poll_event(self.instance))
            except xr.EventUnavailable:
                return
            self._on_event(ev)

    def _on_event(self, ev: Any) -> None:
        """Act on one event from ``xrPollEvent`` (an ``XrEventDataBuffer``)."""
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
        self.health.ok = False
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
            self.health.hung = True
            self.lifecycle.on_runtime_error(
                f"{self._in_call} got no answer from the runtime within {self.timeout_s:.1f} s "
                f"(runtime hung or stopped)"
            )
            raise self._lost_error() from exc

    def _guarded(self, what: str, fn: Callable[[], T], watchdog: bool = False) -> T:
        """Call the runtime; turn a dead, disconnected or hung runtime into SessionLostError."""
        if not self._runtime_ok:
            raise SessionLostError(f"OpenXR session lost: {self.lifecycle.lost}")
        self._in_call = what
        try:
            if watchdog and self._watchdog is not None:
                return self._watchdog.call(fn, self.timeout_s)
            return fn()
        except TimeoutError as exc:
            self.health.hung = True
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
