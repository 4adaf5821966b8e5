"""Headless offscreen backend: EGL, no display; frames to PNG (and MP4), timing to run.json.

Time in a headless run is virtual: frame k is displayed at ``t0 + (k + 1) * period`` where ``t0``
is the host clock when the run opened, so a scripted head motion gives the same frames on any
machine. The pipeline timestamps in each frame's ``timing`` are real host-clock readings.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from vrkit import __version__
from vrkit.backends.base import Backend, Capabilities, RunConfig
from vrkit.backends.layout import frame_from_pose_source, panel_layout
from vrkit.backends.writer import FrameWriter
from vrkit.core.errors import InputError
from vrkit.core.types import FrameInfo
from vrkit.gl.context import GLContext, create_headless_context
from vrkit.poses.base import PoseSource, ScriptedMotion, look_around
from vrkit.render.panel import PanelCompositor, PanelLayout
from vrkit.render.targets import EyeTargets, RenderTarget

log = logging.getLogger(__name__)

DEFAULT_FRAMES = 120


def prepare_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed and check it is writable.

    Raises:
        InputError: It cannot be created or written, naming the folder.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create output folder {out}: {exc.strerror}", "choose another --out"
        ) from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"output folder {out} is not writable", "choose another --out")
    return out


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
        self._records: list[dict[str, Any]] = []
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

    @property
    def gl(self) -> GLContext:
        """The EGL context."""
        if self._ctx is None:
            raise RuntimeError("HeadlessBackend.gl used before open()")
        return self._ctx

    def open(self) -> None:
        """Create the EGL context, eye targets, compositor and (if asked) the frame writer."""
        out = prepare_out_dir(self.config.out_dir) if self.config.out_dir else None
        self.layout = panel_layout(self.config)
        self._ctx = create_headless_context()
        try:
            self.eyes = EyeTargets(self._ctx, self.layout.eye_sizes)
            self.compositor = PanelCompositor(self._ctx, self.layout)
            if out is not None:
                self._writer = FrameWriter(out, self.config.fps if self.config.video else None)
        except BaseException:
            self.close()
            raise
        self._t0 = time.monotonic_ns()
        self._pose_source = self.config.pose_source or ScriptedMotion(look_around, self._t0)
        log.info(
            "headless: %d frames, panel %dx%d, %s",
            self.frames,
            *self.layout.panel_size,
            self._ctx.info()["renderer"],
        )

    def begin_frame(self) -> FrameInfo | None:
        """The next frame on the virtual display clock, or None after the last one."""
        if self._index >= self.frames:
            return None
        assert self.layout is not None and self._pose_source is not None
        display_ns = self._t0 + (self._index + 1) * self.period_ns
        return frame_from_pose_source(
            self._index,
            self._pose_source,
            self.layout,
            time.monotonic_ns(),
            display_ns,
            self.period_ns,
        )

    def eye_targets(self, frame: FrameInfo) -> list[RenderTarget]:
        """The two eye framebuffers."""
        assert self.eyes is not None
        return self.eyes.targets

    def end_frame(self, frame: FrameInfo) -> None:
        """Compose the panel, wait for the GPU, read back and queue the images."""
        assert self.eyes is not None and self.compositor is not None
        ctx = self.gl
        self.compositor.compose([fb.color for fb in self.eyes.framebuffers])
        frame.timing["submit_ns"] = time.monotonic_ns()
        fence = ctx.fence()
        ctx.wait_fence(fence)
        frame.timing["gpu_done_ns"] = time.monotonic_ns()
        panel = self.compositor.read_panel()
        self.last_panel = panel
        if self._writer is not None:
            left, right = (fb.read_rgba() for fb in self.eyes.framebuffers)
            stem = f"frame_{frame.index:05d}"
            self._writer.submit(
                {f"{stem}_left.png": left, f"{stem}_right.png": right, f"{stem}_panel.png": panel},
                panel,
            )
        self._records.append(
            {
                "index": frame.index,
                "display_time_ns": frame.predicted_display_time_ns,
                "head_pose": frame.head_pose.to_dict(),
                "timing": dict(frame.timing),
            }
        )
        self._index += 1

    def close(self) -> None:
        """Flush files, write run.json, release GL in reverse order; safe to call twice."""
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()
                self._write_run_json()
        finally:
            for obj in (self.compositor, self.eyes):
                if obj is not None:
                    obj.release()
            self.compositor = self.eyes = None
            if self._ctx is not None:
                self._ctx.release()
                self._ctx = None

    def _write_run_json(self) -> None:
        assert self.layout is not None and self.config.out_dir is not None
        doc = {
            "vrkit_version": __version__,
            "backend": self.name,
            "clock": (
                "display_time_ns is virtual (t0 + (k + 1) * period); "
                "timing values are host CLOCK_MONOTONIC ns"
            ),
            "frames_rendered": len(self._records),
            "period_ns": self.period_ns,
            "panel_size": list(self.layout.panel_size),
            "eye_sizes": [list(s) for s in self.layout.eye_sizes],
            "viewports": [list(v) for v in self.layout.viewports],
            "fov": [f.to_dict() for f in self.layout.fovs],
            "distorted": self.layout.distorted,
            "ipd_m": self.layout.ipd_m,
            "canting_deg": math.degrees(self.layout.cant_rad),
            "video": "panel.mp4" if self.config.video else None,
            "frames": self._records,
        }
        path = Path(self.config.out_dir) / "run.json"
        path.write_text(json.dumps(doc, indent=1))

    def summary(self) -> dict[str, Any]:
        """Frames rendered and where they went."""
        return {
            "frames": len(self._records),
            "out_dir": str(self.config.out_dir) if self.config.out_dir else None,
            "video": bool(self.config.video),
        }
