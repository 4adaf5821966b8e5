"""What the simulator and direct-display backends share: a window that shows the panel.

:class:`WindowBackend` composes both eyes into the panel image (pre-distorted when the profile
has a lens), letterboxes it into a glfw window, draws the frame-time overlay and swaps. Pacing
(:class:`~vrkit.backends.pacing.FramePacer`) predicts each frame's display time on the run's
clock. Mouse-look and keyboard movement drive a :class:`MouseKeyboardPose` unless another pose
source was given. With ``config.out_dir`` the run's frames are recorded in ``run.json``.

A display that goes away (X server killed, panel unplugged) ends the run with
:class:`SessionLostError`; a driver that then blocks inside a swap is caught by a watchdog that
saves ``run.json`` and ends the process.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vrkit.backends.base import Backend, RunConfig
from vrkit.backends.layout import frame_from_pose_source, latch_warp, panel_layout, warp_fields
from vrkit.backends.overlay import Overlay, overlay_geometry
from vrkit.backends.pacing import FramePacer
from vrkit.backends.runrecord import RunRecord, clock_name, panel_header, prepare_out_dir
from vrkit.core.errors import InputError, SessionLostError
from vrkit.core.types import FrameInfo
from vrkit.gl.resources import Program
from vrkit.gl.window import PRESS, RELEASE, WindowContext, key_name
from vrkit.poses.base import PoseSource
from vrkit.poses.mouse import MouseKeyboardPose
from vrkit.render.panel import PanelCompositor, PanelLayout
from vrkit.render.targets import EyeTargets, RenderTarget, choose_samples

log = logging.getLogger(__name__)


def letterbox(
    content_size: tuple[int, int], window_size: tuple[int, int], upscale: bool = True
) -> tuple[int, int, int, int]:
    """The largest centred rectangle of the content's aspect that fits the window.

    Args:
        content_size: ``(width, height)`` of the image to show, pixels.
        window_size: ``(width, height)`` of the window's framebuffer, pixels.
        upscale: Allow scaling above 1:1 (False keeps a smaller image at its native size).

    Returns:
        ``(x, y, w, h)`` in window pixels, bottom-left origin (GL viewport).
    """
    cw, ch = content_size
    ww, wh = window_size
    if min(cw, ch, ww, wh) <= 0:
        raise ValueError(f"sizes must be positive: content {content_size}, window {window_size}")
    scale = min(ww / cw, wh / ch)
    if not upscale:
        scale = min(scale, 1.0)
    w, h = max(1, round(cw * scale)), max(1, round(ch * scale))
    return (ww - w) // 2, (wh - h) // 2, w, h


class WindowBackend(Backend):
    """What the simulator and direct-display backends share: a window showing the panel.

    Subclasses create the window (:meth:`_create_window`) and decide what an unexpected
    close means (:meth:`_window_closed`).
    """

    name: ClassVar[str] = "window"
    upscale: ClassVar[bool] = True
    overlay_default: ClassVar[bool] = True
    #: After the display is lost, seconds to wait for the frame loop to end before exiting
    #: the process (a driver can block forever inside a swap on a dead X connection).
    lost_grace_s: ClassVar[float] = 3.0

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why a window cannot be opened here, or None."""
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return (
                f"the {cls.name} backend needs a display and DISPLAY is not set; run on a "
                "desktop, or under Xvfb: xvfb-run -a vrkit run ..."
            )
        return None

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config)
        if config.frames is not None and config.frames < 1:
            raise InputError(f"--frames must be at least 1, got {config.frames}")
        self._ctx: WindowContext | None = None
        self._record: RunRecord | None = None
        self.layout: PanelLayout | None = None
        self.eyes: EyeTargets | None = None
        self.compositor: PanelCompositor | None = None
        self.overlay: Overlay | None = None
        self._blit: Program | None = None
        self.pose_source: PoseSource | None = None
        self.mouse: MouseKeyboardPose | None = None
        self.pacer: FramePacer | None = None
        self.show_overlay = bool(config.extra.get("overlay", self.overlay_default))
        self.capture = bool(config.extra.get("capture_window", False))
        self.last_window: NDArray[np.uint8] | None = None
        self.distortion = config.distortion
        self.frames_presented = 0
        #: MSAA samples per pixel of the eye images (1: off), chosen when the window opens.
        self.msaa_samples = 1
        self._index = 0
        self._frame_start_ns = 0
        self._dragging = False
        self._captured = False
        self._cursor: tuple[float, float] | None = None
        self._quit_requested = False
        self._closed = threading.Event()
        self._record_lock = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def gl(self) -> WindowContext:
        """The window's GL context."""
        if self._ctx is None:
            raise RuntimeError(f"{type(self).__name__}.gl used before open()")
        return self._ctx

    def _create_window(self, layout: PanelLayout) -> WindowContext:
        raise NotImplementedError

    def _window_closed(self) -> None:
        """Called when the window closed without Esc or a frame budget: may raise."""

    def open(self) -> None:
        """Create the window, eye targets, compositor, overlay and pose source."""
        out = (
            prepare_out_dir(self.config.out_dir, self.config.overwrite)
            if self.config.out_dir
            else None
        )
        self.layout = panel_layout(self.config)
        self._ctx = self._create_window(self.layout)
        try:
            ctx = self._ctx
            self.msaa_samples = choose_samples(self.config.msaa, ctx.max_samples)
            self.eyes = EyeTargets(
                ctx,
                self.layout.eye_sizes,
                self.msaa_samples,
                depth_textures=self.config.warp == "position",
            )
            self.compositor = PanelCompositor(ctx, self.layout, warp=self.config.warp)
            self._blit = ctx.program("blit.vert", "blit.frag")
            self.overlay = Overlay(ctx)
            self.pose_source = self.config.pose_source or MouseKeyboardPose()
            if isinstance(self.pose_source, MouseKeyboardPose):
                self.mouse = self.pose_source
            ctx.on_key(self.handle_key)
            ctx.on_cursor(self.handle_cursor)
            ctx.on_mouse_button(self.handle_mouse_button)
            ctx.on_focus(self.handle_focus)
            hz = ctx.refresh_hz
            period_ns = round(1e9 / (hz if hz > 0 else self.config.fps))
            self.pacer = FramePacer(period_ns, self.config.vsync)
            ctx.check_error(f"opening the {self.name} backend")
            self._start_watchdog()
        except BaseException:
            self.close()
            raise
        if out is not None:
            self._record = RunRecord(out, self.name)
        log.info(
            "%s: window %dx%d, panel %dx%d, %s, MSAA %dx, %s, vsync %s, pose %s",
            self.name,
            *self._ctx.framebuffer_size,
            *self.layout.panel_size,
            "distorted" if self.layout.distorted else "undistorted",
            self.msaa_samples,
            self._ctx.info()["renderer"],
            "on" if self.config.vsync else "off",
            self.pose_source.name,
        )

    def _lost_error(self, where: str) -> SessionLostError:
        return SessionLostError(
            f"lost the display {os.environ.get('DISPLAY', '')!r} while {where} "
            f"after {self.frames_presented} frames (X server gone or screen disconnected)",
            "check the display connection and run again",
        )

    def _check_display(self, where: str) -> None:
        if self._ctx is not None and self._ctx.display_lost:
            raise self._lost_error(where)

    def _start_watchdog(self) -> None:
        """Watch for a lost display whose driver never returns (see :class:`_LostDisplayWatch`)."""
        ctx = self._ctx
        assert ctx is not None
        _LostDisplayWatch(
            lambda: ctx.display_lost,
            self._closed,
            self.lost_grace_s,
            on_give_up=self._give_up,
            name=f"vrkit-{self.name}-watchdog",
        ).start()

    def _give_up(self) -> None:
        """The display is gone and the frame loop is stuck in the driver: save and exit."""
        log.error("%s (the display driver did not return; exiting)",
                  self._lost_error("presenting a frame"))  # fmt: skip
        try:
            self._write_record()
        except Exception as exc:  # the process ends next; say what was lost
            log.error("%s", exc)
        os._exit(1)

    def begin_frame(self) -> FrameInfo | None:
        """Handle input, then locate the views for the next predicted display time."""
        if self.config.frames is not None and self._index >= self.config.frames:
            return None
        ctx = self.gl
        ctx.poll_events()
        self._check_display("reading window events")
        if ctx.should_close:
            if not self._quit_requested:
                self._window_closed()
            return None
        assert self.layout is not None and self.pose_source is not None
        assert self.pacer is not None
        now = self.clock.now_ns()
        self._frame_start_ns = now
        return frame_from_pose_source(
            self._index,
            self.pose_source,
            self.layout,
            now,
            self.pacer.predicted_display_ns(now),
            self.pacer.period_ns,
        )

    def eye_targets(self, frame: FrameInfo) -> list[RenderTarget]:
        """The two eye framebuffers."""
        assert self.eyes is not None
        return self.eyes.targets

    def present_rect(self) -> tuple[int, int, int, int]:
        """Where the panel image goes in the window: ``(x, y, w, h)``, bottom-left origin."""
        assert self.layout is not None
        return letterbox(self.layout.panel_size, self.gl.framebuffer_size, self.upscale)

    def end_frame(self, frame: FrameInfo) -> None:
        """Compose the panel, letterbox it into the window, draw the overlay and swap."""
        assert self.eyes is not None and self.compositor is not None and self.pacer is not None
        assert self._blit is not None and self.overlay is not None
        ctx = self.gl
        warp = None
        if self.compositor.warp != "off":
            assert self.layout is not None and self.pose_source is not None
            ctx.poll_events()  # input that arrived while rendering (mouse look) counts too
            now = self.clock.now_ns()
            warp = latch_warp(frame, self.pose_source, self.layout, now, self.compositor.warp)
        self.compositor.compose(
            [fb.color for fb in self.eyes.framebuffers],
            warp=warp,
            depth=self.eyes.depth_textures or None,
        )
        window = ctx.framebuffer_size
        self._check_display("presenting a frame")  # a dead connection gives garbage sizes
        if min(window) > 0:  # 0x0 while minimised: nothing to draw
            ctx.bind_framebuffer(0, (0, 0, *window))
            ctx.clear((0.0, 0.0, 0.0, 1.0), depth=False)
            assert self.layout is not None
            ctx.bind_framebuffer(0, letterbox(self.layout.panel_size, window, self.upscale))
            ctx.set_state(depth_test=False)
            self._blit.use()
            self._blit.set_int("u_image", 0)
            self.compositor.framebuffer.color.bind(0)
            ctx.draw_fullscreen_triangle()
        if self.show_overlay and min(window) > 0:
            times = [t * 1e-6 for t in self.pacer.intervals_ns]
            geometry = overlay_geometry(
                times, self.pacer.fps(), self.pacer.period_ns * 1e-6, self.compositor.warp
            )
            self.overlay.draw(window, geometry)
        if self.capture:
            self.last_window = ctx.read_window_rgba()
        frame.timing["submit_ns"] = swap_start = self.clock.now_ns()
        self._check_display("presenting a frame")
        ctx.swap_buffers()
        swap_end = self.clock.now_ns()
        self._check_display("presenting a frame")
        sleep_ns = self.pacer.presented(self._frame_start_ns, swap_start, swap_end)
        self.clock.sleep_ns(sleep_ns)
        frame.timing["present_ns"] = swap_end + sleep_ns
        if self._record is not None:
            with self._record_lock:
                self._record.add(frame, **warp_fields(frame, self.compositor.warp))
        self.frames_presented += 1
        self._index += 1

    def close(self) -> None:
        """Release GL objects and the window in reverse order; safe to call twice."""
        try:
            if self.pose_source is not None and self.pose_source is not self.config.pose_source:
                self.pose_source.close()
        finally:
            for obj in (self.overlay, self._blit, self.compositor, self.eyes):
                if obj is not None:
                    obj.release()
            self.overlay = self._blit = self.compositor = self.eyes = None
            if self._ctx is not None:
                self._ctx.release()
                self._ctx = None
            self._closed.set()
            self._write_record()

    def _write_record(self) -> None:
        """Write ``run.json`` once (from close, or from the watchdog before it exits)."""
        with self._record_lock:
            record, self._record = self._record, None
        if record is None or self.layout is None or self.pacer is None:
            return
        record.write(
            "display_time_ns is the predicted vertical blank (FramePacer); "
            f"timing values are {clock_name(self.clock)} ns",
            frames_rendered=len(record),
            period_ns=self.pacer.period_ns,
            **panel_header(self.layout),
            vsync=self.config.vsync,
        )

    def summary(self) -> dict[str, Any]:
        """Frames presented, the measured rate and (with ``out_dir``) where run.json went."""
        fps = self.pacer.fps(len(self.pacer.intervals_ns)) if self.pacer else 0.0
        out: dict[str, Any] = {
            "frames": self.frames_presented,
            "fps": round(fps, 1),
            "msaa_samples": self.msaa_samples,
        }
        if self.config.out_dir is not None:
            out["out_dir"] = str(self.config.out_dir)
        return out

    # --- controls ----------------------------------------------------------------------------
    def set_distortion(self, on: bool) -> None:
        """Show the panel with or without the profile's lens pre-distortion.

        Rebuilds the layout through :func:`vrkit.backends.layout.panel_layout` with
        ``distortion`` flipped and hands its meshes to the compositor.
        """
        assert self.layout is not None and self.compositor is not None
        new = panel_layout(dataclasses.replace(self.config, distortion=on))
        if (new.panel_size, new.viewports, new.eye_sizes) != (
            self.layout.panel_size,
            self.layout.viewports,
            self.layout.eye_sizes,
        ):
            raise InputError(
                "the profile's layout changes size with distortion toggled; restart with "
                "--no-distortion instead"
            )
        self.compositor.set_meshes(new.meshes)
        self.layout.fovs = new.fovs
        self.layout.distorted = new.distorted
        self.distortion = on
        log.info("%s: lens distortion %s", self.name, "on" if new.distorted else "off")

    def set_cursor_captured(self, captured: bool) -> None:
        """Capture the cursor (unbounded mouse-look) or release it."""
        self._captured = captured
        self._cursor = None
        self.gl.set_cursor_captured(captured)

    # --- input: these are the glfw callbacks; tests call them to inject input ----------------
    def handle_key(self, key: int, scancode: int, action: int, mods: int) -> None:
        """Key callback (glfw): controls, then movement keys to the mouse/keyboard pose."""
        name = key_name(key)
        if action == PRESS:
            if name == "escape":
                self._quit_requested = True
                self.gl.request_close()
                return
            if name == "l":
                try:
                    self.set_distortion(not self.distortion)
                except InputError as exc:  # inside a window callback: report, keep running
                    log.warning("%s: %s", self.name, exc)
                return
            if name in ("f1", "o"):
                self.show_overlay = not self.show_overlay
                return
            if name == "c":
                self.set_cursor_captured(not self._captured)
                return
        if self.mouse is not None and action in (PRESS, RELEASE):
            self.mouse.key(name, action == PRESS, self.clock.now_ns())

    def handle_cursor(self, x: float, y: float) -> None:
        """Cursor callback (glfw): mouse-look while dragging or captured."""
        if self._cursor is not None and (self._dragging or self._captured) and self.mouse:
            self.mouse.look(x - self._cursor[0], y - self._cursor[1])
        self._cursor = (x, y)

    def handle_focus(self, focused: bool) -> None:
        """Focus callback (glfw): keys released while unfocused never arrive, so drop them."""
        if not focused:
            self._dragging = False
            if self.mouse is not None:
                self.mouse.release_all()

    def handle_mouse_button(self, button: int, action: int, mods: int) -> None:
        """Mouse-button callback (glfw): the left button drags the view."""
        if button == 0:
            self._dragging = action == PRESS


class _LostDisplayWatch(threading.Thread):
    """Ends the process when the display is lost and the frame loop does not end in time.

    Normally the frame loop notices a lost display at its next check and raises
    SessionLostError; a driver call on the dead connection can block forever instead (inside a
    swap). After ``grace_s`` without the backend closing, ``on_give_up`` runs on this thread (it
    saves what was recorded and exits).

    Args:
        lost: True once the display connection is gone.
        closed: Set when the backend closes; the watch then ends.
        grace_s: Seconds to wait for the frame loop after the loss.
        on_give_up: Called when the loop did not end in time (expected not to return).
        name: Thread name.
    """

    def __init__(
        self,
        lost: Callable[[], bool],
        closed: threading.Event,
        grace_s: float,
        on_give_up: Callable[[], None],
        name: str,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._lost, self._closed, self._grace_s = lost, closed, grace_s
        self._on_give_up = on_give_up

    def run(self) -> None:
        """Poll every 0.1 s until closed; give up ``grace_s`` after a loss."""
        while not self._closed.wait(0.1):
            if self._lost():
                if not self._closed.wait(self._grace_s):
                    self._on_give_up()
                return
