"""Desktop simulator backend: the headset's panel in a resizable glfw window.

The window shows both eyes exactly as the panel would (the panel composition, pre-distorted and
chromatically corrected when the profile has a lens), letterboxed to keep the panel's aspect.
Mouse-look (drag with the left button, or press C to capture the cursor) and keyboard movement
(WASD, Q/E down/up, shift faster, R reset) drive a :class:`MouseKeyboardPose` unless another
pose source was given. L toggles lens distortion, F1 or O the frame-time overlay, Esc quits.

Pacing uses the host clock: :class:`FramePacer` keeps a vertical-blank grid (anchored at swaps
that really blocked, or at its own estimate where the display does not block, as under Xvfb)
and predicts each frame's display time as the first blank after the frame's expected render
time. The same window machinery drives the direct-display backend (:mod:`.display`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import deque
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vrkit.backends.base import Backend, Capabilities, RunConfig
from vrkit.backends.layout import frame_from_pose_source, panel_layout
from vrkit.core.errors import InputError, SessionLostError
from vrkit.core.types import FrameInfo
from vrkit.gl.context import GLContext, Program, VertexArray
from vrkit.poses.base import PoseSource
from vrkit.poses.mouse import MouseKeyboardPose
from vrkit.render.panel import PanelCompositor, PanelLayout
from vrkit.render.targets import EyeTargets, RenderTarget

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


class FramePacer:
    """Display-time prediction and pacing on the host clock for a swap-buffers window.

    With vsync the pacer keeps a grid of vertical blanks ``anchor + k * period`` anchored at
    the latest present. A swap that returns at least ``pace_fraction`` of a period after the
    previous present is taken as presented at a real blank (the display paces us) and
    re-anchors the grid; a swap that returns sooner (a display that does not wait, e.g. Xvfb,
    or a compositor that queues frames) is paced by sleeping to the next blank of the grid,
    so the loop still runs at the refresh rate. Without vsync nothing sleeps and a frame
    reaches the display as soon as it is swapped.

    Args:
        period_ns: Refresh period in ns.
        vsync: Whether presentation waits for vertical blank.
        smoothing: Weight of the newest frame in the running render-time estimate.
        pace_fraction: Present intervals shorter than this fraction of a period mean the
            display did not wait for a blank.
    """

    def __init__(
        self,
        period_ns: int,
        vsync: bool,
        smoothing: float = 0.1,
        pace_fraction: float = 0.75,
    ) -> None:
        if period_ns <= 0:
            raise ValueError(f"period_ns must be positive, got {period_ns}")
        self.period_ns = int(period_ns)
        self.vsync = vsync
        self.smoothing = smoothing
        self.pace_fraction = pace_fraction
        self.render_ns = self.period_ns // 2
        self.anchor_ns: int | None = None
        self.last_present_ns: int | None = None
        self.intervals_ns: deque[int] = deque(maxlen=120)

    def next_vblank_after(self, t_ns: int) -> int:
        """The first blank of the grid strictly after ``t_ns``."""
        if self.anchor_ns is None:
            return t_ns + self.period_ns
        k = (t_ns - self.anchor_ns) // self.period_ns + 1
        return self.anchor_ns + k * self.period_ns

    def predicted_display_ns(self, frame_start_ns: int) -> int:
        """When a frame started at ``frame_start_ns`` should reach the display."""
        ready = frame_start_ns + self.render_ns
        return self.next_vblank_after(ready) if self.vsync else ready

    def presented(self, frame_start_ns: int, swap_start_ns: int, swap_end_ns: int) -> int:
        """Account for a swap; returns how long to sleep (ns) to keep pace (0 without vsync).

        Args:
            frame_start_ns: When the frame began (its ``begin_frame``).
            swap_start_ns: When ``swap_buffers`` was called.
            swap_end_ns: When it returned.
        """
        self.render_ns = round(
            (1 - self.smoothing) * self.render_ns
            + self.smoothing * (swap_start_ns - frame_start_ns)
        )
        sleep_ns = 0
        present_ns = swap_end_ns
        if self.vsync:
            last = self.last_present_ns
            if last is not None and swap_end_ns - last < self.pace_fraction * self.period_ns:
                present_ns = self.next_vblank_after(swap_end_ns - 1)
                sleep_ns = present_ns - swap_end_ns
            self.anchor_ns = present_ns
        if self.last_present_ns is not None:
            self.intervals_ns.append(present_ns - self.last_present_ns)
        self.last_present_ns = present_ns
        return sleep_ns

    def frame_time_ms(self) -> float:
        """The latest present-to-present interval in milliseconds (0 before two frames)."""
        return self.intervals_ns[-1] * 1e-6 if self.intervals_ns else 0.0

    def fps(self, frames: int = 30) -> float:
        """Mean presented frame rate over the last ``frames`` intervals (0 before two frames)."""
        recent = list(self.intervals_ns)[-frames:]
        return 1e9 / float(np.mean(recent)) if recent else 0.0


# --- overlay geometry (pure numpy) -----------------------------------------------------------
# Seven-segment cell of height 1 and width 0.6; segments a..g as (x, y, w, h), y down.
_T = 0.12
_W = 0.6
_SEGMENT_RECTS = np.array(
    [
        [_T, 0.0, _W - 2 * _T, _T],  # a: top
        [_W - _T, _T, _T, 0.5 - 1.5 * _T],  # b: upper right
        [_W - _T, 0.5 + 0.5 * _T, _T, 0.5 - 1.5 * _T],  # c: lower right
        [_T, 1.0 - _T, _W - 2 * _T, _T],  # d: bottom
        [0.0, 0.5 + 0.5 * _T, _T, 0.5 - 1.5 * _T],  # e: lower left
        [0.0, _T, _T, 0.5 - 1.5 * _T],  # f: upper left
        [_T, 0.5 - 0.5 * _T, _W - 2 * _T, _T],  # g: middle
    ]
)
GLYPHS = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg", "5": "acdfg",
    "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg", "-": "g", " ": "",
    "F": "aefg", "P": "abefg", "S": "acdfg", "E": "adefg", "r": "eg", "o": "cdeg",
}  # fmt: skip
_GLYPH_MASKS = {ch: np.array([s in segs for s in "abcdefg"]) for ch, segs in GLYPHS.items()}


def seven_segment_rects(text: str, x: float, y: float, height: float) -> NDArray[np.float64]:
    """Rectangles drawing ``text`` as seven-segment glyphs.

    Args:
        text: Characters from :data:`GLYPHS` plus ``"."`` (a point after the previous glyph).
        x: Left edge in pixels.
        y: Top edge in pixels (y down).
        height: Glyph height in pixels.

    Returns:
        (N, 4) ``[x, y, w, h]`` pixel rectangles.
    """
    masks, origins, dots = [], [], []
    advance = (_W + 0.25) * height
    cx = x
    for ch in text:
        if ch == ".":
            dots.append([cx - 0.2 * height, y + (1 - _T) * height, _T * height, _T * height])
            continue
        if ch not in _GLYPH_MASKS:
            raise ValueError(f"no seven-segment glyph for {ch!r} in {text!r}")
        masks.append(_GLYPH_MASKS[ch])
        origins.append([cx, y])
        cx += advance
    rects = np.zeros((0, 4))
    if masks:
        m = np.array(masks)  # (chars, 7)
        ci, si = np.nonzero(m)
        rects = _SEGMENT_RECTS[si] * height
        rects[:, :2] += np.asarray(origins)[ci]
    return np.vstack([rects, np.reshape(dots, (-1, 4))])


def quads_to_triangles(
    rects: NDArray[np.float64], colors: NDArray[np.float64]
) -> NDArray[np.float32]:
    """Two triangles per rectangle as (6N, 6) float32 ``[x, y, r, g, b, a]`` vertices.

    Args:
        rects: (N, 4) ``[x, y, w, h]`` in pixels.
        colors: (N, 4) or (4,) RGBA in [0, 1].
    """
    r = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    x0, y0 = r[:, 0], r[:, 1]
    x1, y1 = x0 + r[:, 2], y0 + r[:, 3]
    xs = np.stack([x0, x1, x1, x0, x1, x0], 1)
    ys = np.stack([y0, y0, y1, y0, y1, y1], 1)
    c = np.broadcast_to(np.asarray(colors, dtype=np.float64), (len(r), 4))
    verts = np.concatenate(
        [np.stack([xs, ys], -1), np.broadcast_to(c[:, None, :], (len(r), 6, 4))], -1
    )
    return verts.reshape(-1, 6).astype(np.float32)


OVERLAY_BOX = (8.0, 8.0, 232.0, 92.0)  # x, y, w, h in window pixels (top-left origin)
OVERLAY_BACKGROUND = (0.0, 0.0, 0.0, 0.65)
FPS_COLOR = (0.3, 1.0, 0.35, 1.0)
MS_COLOR = (1.0, 0.85, 0.2, 1.0)
BAR_OK_COLOR = (0.3, 0.85, 1.0, 0.9)
BAR_LATE_COLOR = (1.0, 0.3, 0.25, 0.95)


def overlay_geometry(
    frame_times_ms: list[float] | NDArray[np.float64], fps: float, period_ms: float
) -> NDArray[np.float32]:
    """Triangles of the overlay: box, FPS and frame-time digits, and a frame-time bar graph.

    Layout (pixels from the window's top-left corner): FPS in green and the latest frame time
    in milliseconds (one decimal) in yellow on the top row; below, one bar per recent frame
    (height proportional to its time, full height = two periods), cyan when within 5 % of
    the period and red when late, with a white line at one period.

    Args:
        frame_times_ms: Recent frame times, oldest first (the last 64 are drawn).
        fps: Frames per second to print.
        period_ms: The display period in milliseconds (target line and colour threshold).
    """
    bx, by, bw, bh = OVERLAY_BOX
    rects = [np.array([[bx, by, bw, bh]])]
    colors = [np.array([OVERLAY_BACKGROUND])]
    fps_text = f"{min(round(fps), 999):d}"
    d = seven_segment_rects(fps_text + " FPS", bx + 8, by + 8, 22)
    rects.append(d)
    colors.append(np.tile(FPS_COLOR, (len(d), 1)))
    times = np.asarray(frame_times_ms, dtype=np.float64)[-64:]
    ms_text = f"{min(times[-1], 999.9):.1f}" if len(times) else "-"
    d = seven_segment_rects(ms_text, bx + 150, by + 8, 22)
    rects.append(d)
    colors.append(np.tile(MS_COLOR, (len(d), 1)))
    base_y, graph_h = by + bh - 8, 46.0
    full_ms = 2.0 * period_ms
    if len(times):
        hgt = np.clip(times / full_ms, 0.02, 1.0) * graph_h
        xs = bx + 8 + 3.3 * np.arange(len(times))
        bars = np.stack([xs, base_y - hgt, np.full_like(xs, 2.4), hgt], 1)
        late = times > 1.05 * period_ms
        rects.append(bars)
        colors.append(np.where(late[:, None], BAR_LATE_COLOR, BAR_OK_COLOR))
    rects.append(np.array([[bx + 6, base_y - graph_h / 2 - 0.5, 3.3 * 64 + 2, 1.0]]))
    colors.append(np.array([[1.0, 1.0, 1.0, 0.8]]))
    return quads_to_triangles(np.vstack(rects), np.vstack(colors))


class Overlay:
    """Draws :func:`overlay_geometry` over the window with alpha blending.

    Args:
        ctx: The window's GL context (owns the program and buffers).
    """

    def __init__(self, ctx: GLContext) -> None:
        self.ctx = ctx
        self.program: Program = ctx.program("overlay.vert", "overlay.frag")
        self._vbo = ctx.buffer(np.zeros((6, 6), np.float32))
        stride = 6 * 4
        self._vao: VertexArray = ctx.vertex_array(
            self.program,
            {"a_position": (self._vbo, 2, stride, 0), "a_color": (self._vbo, 4, stride, 8)},
            None,
            0,
        )

    def draw(self, window_size: tuple[int, int], vertices: NDArray[np.float32]) -> None:
        """Draw the triangles (from :func:`overlay_geometry`) into the bound window."""
        w, h = window_size
        self._vbo.write(np.ascontiguousarray(vertices, np.float32))
        self._vao.count = len(vertices)
        self.ctx.bind_framebuffer(0, (0, 0, w, h))
        self.ctx.set_state(depth_test=False, blend=True)
        self.program.use()
        self.program.set_vec("u_size", w, h)
        self._vao.draw()
        self.ctx.set_state(depth_test=False, blend=False)

    def release(self) -> None:
        """Release GPU objects; safe to call twice."""
        for obj in (self._vao, self._vbo, self.program):
            obj.release()


# --- the window backends -----------------------------------------------------------------------
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
        self._ctx: Any = None
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
        self._index = 0
        self._frame_start_ns = 0
        self._dragging = False
        self._captured = False
        self._cursor: tuple[float, float] | None = None
        self._quit_requested = False
        self._closed = threading.Event()

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def gl(self) -> GLContext:
        """The window's GL context."""
        if self._ctx is None:
            raise RuntimeError(f"{type(self).__name__}.gl used before open()")
        return self._ctx

    def _create_window(self, layout: PanelLayout) -> Any:
        raise NotImplementedError

    def _window_closed(self) -> None:
        """Called when the window closed without Esc or a frame budget: may raise."""

    def open(self) -> None:
        """Create the window, eye targets, compositor, overlay and pose source."""
        self.layout = panel_layout(self.config)
        self._ctx = self._create_window(self.layout)
        try:
            ctx = self._ctx
            self.eyes = EyeTargets(ctx, self.layout.eye_sizes)
            self.compositor = PanelCompositor(ctx, self.layout)
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
        log.info(
            "%s: window %dx%d, panel %dx%d, %s, %s, vsync %s, pose %s",
            self.name,
            *self._ctx.framebuffer_size,
            *self.layout.panel_size,
            "distorted" if self.layout.distorted else "undistorted",
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
        """Exit the process if the display is lost and the frame loop does not end in time.

        Normally the loop notices the loss at its next check and raises SessionLostError;
        this only acts when a driver call never returns on the dead connection.
        """
        ctx, closed = self._ctx, self._closed

        def watch() -> None:
            while not closed.wait(0.1):
                if ctx.display_lost:
                    if closed.wait(self.lost_grace_s):
                        return
                    log.error(
                        "%s (the display driver did not return; exiting)",
                        self._lost_error("presenting a frame"),
                    )
                    os._exit(1)

        threading.Thread(target=watch, name=f"vrkit-{self.name}-watchdog", daemon=True).start()

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
        now = time.monotonic_ns()
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
        self.compositor.compose([fb.color for fb in self.eyes.framebuffers])
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
            geometry = overlay_geometry(times, self.pacer.fps(), self.pacer.period_ns * 1e-6)
            self.overlay.draw(window, geometry)
        if self.capture:
            self.last_window = ctx.read_window_rgba()
        frame.timing["submit_ns"] = swap_start = time.monotonic_ns()
        self._check_display("presenting a frame")
        ctx.swap_buffers()
        swap_end = time.monotonic_ns()
        self._check_display("presenting a frame")
        sleep_ns = self.pacer.presented(self._frame_start_ns, swap_start, swap_end)
        if sleep_ns > 0:
            time.sleep(sleep_ns * 1e-9)
        frame.timing["present_ns"] = swap_end + sleep_ns
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

    def summary(self) -> dict[str, Any]:
        """Frames presented and the measured rate."""
        fps = self.pacer.fps(len(self.pacer.intervals_ns)) if self.pacer else 0.0
        return {"frames": self.frames_presented, "fps": round(fps, 1)}

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
        from vrkit.gl.window import PRESS, RELEASE, key_name

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
            self.mouse.key(name, action == PRESS, time.monotonic_ns())

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
        from vrkit.gl.window import PRESS

        if button == 0:
            self._dragging = action == PRESS


class SimulatorBackend(WindowBackend):
    """The panel in a resizable desktop window with mouse/keyboard head motion.

    ``config.extra`` options: ``window_size`` ``(w, h)`` initial window size (default: the
    panel scaled to fit 1600x900), ``overlay`` (default True), ``capture_window`` (keep each
    presented window image in ``last_window``, for tests).
    """

    name = "sim"
    capabilities = Capabilities(
        shows_panel=True, interactive=True, input_kinds=frozenset({"mouse_keyboard"})
    )
    MAX_INITIAL = (1600, 900)

    def _create_window(self, layout: PanelLayout) -> Any:
        from vrkit.gl.context import create_window_context

        size = self.config.extra.get("window_size")
        if size is None:
            pw, ph = layout.panel_size
            scale = min(1.0, self.MAX_INITIAL[0] / pw, self.MAX_INITIAL[1] / ph)
            size = (max(16, round(pw * scale)), max(16, round(ph * scale)))
        return create_window_context(
            int(size[0]),
            int(size[1]),
            title="vrkit simulator - drag: look, WASD/QE: move, R: reset, L: lens, F1: overlay",
            vsync=self.config.vsync,
            resizable=True,
        )
