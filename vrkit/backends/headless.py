"""Headless offscreen backend: EGL, no display; frames to PNG (and MP4), timing to run.json.

Time in a headless run is virtual: frame k is displayed at ``t0 + (k + 1) * period`` where ``t0``
is the run's clock when the run opened, so a scripted head motion gives the same frames on any
machine. The pipeline timestamps in each frame's ``timing`` are readings of the run's clock
(``RunConfig.clock``): the host's CLOCK_MONOTONIC, or a manual clock, under which two runs of a
scene give byte-identical ``run.json`` and images.

With ``config.extra["paced"]`` the panel clock is simulated on the run's clock instead: display
slots ``t0 + k * period``, and a :class:`~vrkit.backends.pacing.CompositorPacer` decides when
each frame wakes (sleeping on the run clock: a :class:`~vrkit.core.clock.ManualClock` just
advances) and which slot it is for, so pose ages at scan-out are real durations on that clock
(``extra["pace_margin_ns"]`` and ``extra["compose_ns"]`` set the pacer's margin and compositor
time, 1 ms each by default).
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from vrkit.backends.base import Backend, Capabilities, RunConfig
from vrkit.backends.layout import frame_from_pose_source, latch_warp, panel_layout, warp_fields
from vrkit.backends.pacing import CompositorPacer, FramePlan
from vrkit.backends.runrecord import RunRecord, clock_name, panel_header, prepare_out_dir
from vrkit.backends.writer import FrameWriter
from vrkit.core.errors import InputError
from vrkit.core.outputs import OutputError
from vrkit.core.types import FrameInfo
from vrkit.gl.context import GLContext
from vrkit.gl.egl import create_headless_context
from vrkit.poses.base import PoseSource, ScriptedMotion, look_around
from vrkit.render.panel import PanelCompositor, PanelLayout
from vrkit.render.targets import EyeTargets, RenderTarget, choose_samples

log = logging.getLogger(__name__)

DEFAULT_FRAMES = 120


class HeadlessBackend(Backend):
    """Renders on EGL without a display and writes what a panel would show.

    Per frame ``k`` it writes ``frame_{k:05d}_left.png``, ``..._right.png`` and ``..._panel.png``
    (both eyes as the panel shows them, pre-distorted when the profile has a lens), then
    ``run.json`` with per-frame poses and timing; with ``config.video``, ``panel.mp4`` too.
    """

    name = "headless"
    capabilities = Capabilities(shows_panel=True, writes_files=True)

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config)
        self._ctx: GLContext | None = None
        self._writer: FrameWriter | None = None
        self._record: RunRecord | None = None
        self.layout: PanelLayout | None = None
        self.compositor: PanelCompositor | None = None
        self.eyes: EyeTargets | None = None
        self.frames = config.frames if config.frames is not None else DEFAULT_FRAMES
        if self.frames < 1:
            raise InputError(f"--frames must be at least 1, got {self.frames}")
        self.period_ns = round(1e9 / config.fps)
        self._index = 0
        self._t0 = 0
        self._pose_source: PoseSource | None = None
        self.last_panel = None
        #: MSAA samples per pixel of the eye images (1: off), chosen when the run opens.
        self.msaa_samples = 1
        #: The pacer on a simulated panel clock (``extra["paced"]``), else None.
        self.pacer: CompositorPacer | None = None
        self._plan: FramePlan | None = None

    @property
    def gl(self) -> GLContext:
        """The EGL context."""
        if self._ctx is None:
            raise RuntimeError("HeadlessBackend.gl used before open()")
        return self._ctx

    def open(self) -> None:
        """Create the EGL context, eye targets, compositor and (if asked) the frame writer."""
        out = (
            prepare_out_dir(self.config.out_dir, self.config.overwrite)
            if self.config.out_dir
            else None
        )
        self.layout = panel_layout(self.config)
        self._ctx = create_headless_context()
        try:
            self.msaa_samples = choose_samples(self.config.msaa, self._ctx.max_samples)
            self.eyes = EyeTargets(
                self._ctx,
                self.layout.eye_sizes,
                self.msaa_samples,
                depth_textures=self.config.warp == "position",
            )
            self.compositor = PanelCompositor(self._ctx, self.layout, warp=self.config.warp)
            if out is not None:
                self._writer = FrameWriter(out, self.config.fps if self.config.video else None)
        except BaseException:
            self.close()
            raise
        if out is not None:
            self._record = RunRecord(out, self.name)
        self._t0 = self.clock.now_ns()
        if self.config.extra.get("paced"):
            self.pacer = CompositorPacer(
                self.period_ns,
                self._t0,
                margin_ns=int(self.config.extra.get("pace_margin_ns", 1_000_000)),
                compose_ns=int(self.config.extra.get("compose_ns", 1_000_000)),
            )
        self._pose_source = self.config.pose_source or ScriptedMotion(look_around, self._t0)
        log.info(
            "headless: %d frames, panel %dx%d, MSAA %dx, %s",
            self.frames,
            *self.layout.panel_size,
            self.msaa_samples,
            self._ctx.info()["renderer"],
        )

    def begin_frame(self) -> FrameInfo | None:
        """The next frame on the virtual display clock, or None after the last one."""
        if self._index >= self.frames:
            return None
        assert self.layout is not None and self._pose_source is not None
        display_ns = self._t0 + (self._index + 1) * self.period_ns
        if self.pacer is not None:
            self._plan = self.pacer.plan(self.clock.now_ns())
            self.clock.sleep_ns(self._plan.wake_ns - self.clock.now_ns())
            display_ns = self._plan.display_ns
        return frame_from_pose_source(
            self._index,
            self._pose_source,
            self.layout,
            self.clock.now_ns(),
            display_ns,
            self.period_ns,
        )

    def eye_targets(self, frame: FrameInfo) -> list[RenderTarget]:
        """The two eye framebuffers."""
        assert self.eyes is not None
        return self.eyes.targets

    def end_frame(self, frame: FrameInfo) -> None:
        """Late-latch the pose, compose (and warp) the panel, read back and queue the images."""
        assert self.eyes is not None and self.compositor is not None
        assert self.layout is not None and self._pose_source is not None
        ctx = self.gl
        warp = None
        fields = {}
        if self.pacer is not None and self._plan is not None:
            start = frame.timing.get("render_start_ns", frame.timing["pose_sample_ns"])
            missed = self.pacer.finished(self._plan, start, self.clock.now_ns())
            fields = {"missed_deadline": missed, "skipped_slots": self._plan.skipped}
        if self.compositor.warp != "off":
            now = self.clock.now_ns()
            warp = latch_warp(frame, self._pose_source, self.layout, now, self.compositor.warp)
        self.compositor.compose(
            [fb.color for fb in self.eyes.framebuffers],
            warp=warp,
            depth=self.eyes.depth_textures or None,
        )
        frame.timing["submit_ns"] = self.clock.now_ns()
        fence = ctx.fence()
        ctx.wait_fence(fence)
        frame.timing["gpu_done_ns"] = self.clock.now_ns()
        panel = self.compositor.read_panel()
        self.last_panel = panel
        if self._writer is not None:
            left, right = (fb.read_rgba() for fb in self.eyes.framebuffers)
            stem = f"frame_{frame.index:05d}"
            try:
                self._writer.submit(
                    {f"{stem}_left.png": left, f"{stem}_right.png": right,
                     f"{stem}_panel.png": panel},
                    panel,
                )  # fmt: skip
            except OutputError as exc:
                done = self._writer.frames_done
                raise OutputError(
                    exc.message,
                    f"frames 0-{done - 1} are kept (run.json records them if it can still be "
                    "written); free some space or choose another --out"
                    if done
                    else "no frame was kept; free some space or choose another --out",
                ) from exc
        if self._record is not None:
            self._record.add(frame, **fields, **warp_fields(frame, self.compositor.warp))
        self._index += 1

    def close(self) -> None:
        """Flush files, write run.json, release GL in reverse order; safe to call twice.

        After a failed image write, the images of the frame that failed are removed, run.json
        records the frames whose images are all on disk (if it can still be written), and the
        error names the file that failed and what was kept.

        Raises:
            OutputError: A frame or run.json could not be written (not raised twice for a
                write error that ``end_frame`` already reported).
        """
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                try:
                    writer.close()
                finally:
                    if writer.failed is None:
                        self._write_run_json()
                    else:  # the frame error is the one to report; run.json is a bonus
                        # The images of the frame that failed half-way go (they also free
                        # the space run.json needs): the frames on disk are the records.
                        for eye in ("left", "right", "panel"):
                            with contextlib.suppress(OSError):
                                os.unlink(
                                    writer.out_dir / f"frame_{writer.frames_done:05d}_{eye}.png"
                                )
                        try:
                            self._write_run_json(writer.frames_done)
                        except OutputError as exc:
                            log.warning("%s", exc)
        finally:
            for obj in (self.compositor, self.eyes):
                if obj is not None:
                    obj.release()
            self.compositor = self.eyes = None
            if self._ctx is not None:
                self._ctx.release()
                self._ctx = None

    def _write_run_json(self, limit: int | None = None) -> None:
        if self._record is None:
            return
        record, self._record = self._record, None
        assert self.layout is not None
        n = len(record) if limit is None else min(limit, len(record))
        clock = clock_name(self.clock)
        paced = self.pacer is not None
        record.write(
            f"display_time_ns and timing values are {clock} ns (simulated panel clock)"
            if paced
            else "display_time_ns is virtual (t0 + (k + 1) * period); "
            f"timing values are {clock} ns",
            limit=n,
            **({"display_clock": "host"} if paced else {}),
            frames_rendered=n,
            period_ns=self.period_ns,
            **panel_header(self.layout),
            video="panel.mp4" if self.config.video else None,
        )

    def summary(self) -> dict[str, Any]:
        """Frames rendered and where they went."""
        return {
            "frames": self._index,
            "out_dir": str(self.config.out_dir) if self.config.out_dir else None,
            "video": bool(self.config.video),
            "msaa_samples": self.msaa_samples,
            **(
                {"missed_deadlines": self.pacer.missed, "skipped_slots": self.pacer.skipped}
                if self.pacer is not None
                else {}
            ),
        }
