"""Pipeline timing: per-frame timestamps in, stage durations and motion-to-photon out.

Backends stamp each frame's ``FrameInfo.timing`` with host-clock integer nanoseconds under the
keys in :data:`TIMING_KEYS`; :class:`FrameTimingRecorder` takes those stamps (it never reads a
clock), derives per-stage durations and the software motion-to-photon estimate
(``predicted_display_ns - pose_sample_ns``), and summarises, saves and plots them.

Key meanings (all host clock, ns):

``pose_sample_ns``        when the pose used for the frame was sampled (or predicted from)
``render_start_ns``       CPU starts issuing the frame's draw calls
``render_end_cpu_ns``     CPU finished issuing them
``gpu_done_ns``           the GPU finished the frame (a GL fence signalled / timer query)
``submit_ns``             the frame was handed to the compositor / display
``predicted_display_ns``  when its photons are expected (OpenXR ``predictedDisplayTime``
                          converted to the host clock, or the backend's display clock)
``present_ns``            optional: when a windowed backend's swap was presented
                          (vsync-paced; the simulator and direct-display backends)
``warp_pose_sample_ns``   optional: when the pose the timewarp used was sampled (late
                          latching, just before the distortion pass); frames without warp
                          have none

With timewarp the photons show the warp's pose: ``motion_to_photon_warped`` (warp pose sample
to display) is then the run's headline, and ``motion_to_photon`` (render pose sample to
display) what the same frames would have had without it.

A headless run has no display: its display times are *virtual* (frame ``k`` at ``t0 + (k + 1)
* period``, however fast the machine renders), so they are not comparable with the host-clock
stamps. A recorder built with ``display_clock="virtual"`` leaves out every stage that ends at
``predicted_display_ns`` and reports pose-to-GPU-done as its latency instead, saying so.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError
from vrkit.core.outputs import open_atomic, save_figure, write_text

TIMING_KEYS: tuple[str, ...] = (
    "pose_sample_ns",
    "render_start_ns",
    "render_end_cpu_ns",
    "gpu_done_ns",
    "submit_ns",
    "predicted_display_ns",
    "present_ns",
    "warp_pose_sample_ns",
)

#: Keys every backend stamps (``present_ns`` is only stamped by windowed backends).
REQUIRED_KEYS: tuple[str, ...] = TIMING_KEYS[:6]

#: Stage name -> (from key, to key). Durations are ``to - from``.
STAGES: dict[str, tuple[str, str]] = {
    "pose_to_render": ("pose_sample_ns", "render_start_ns"),
    "cpu_render": ("render_start_ns", "render_end_cpu_ns"),
    "gpu_render": ("render_start_ns", "gpu_done_ns"),
    "render_to_submit": ("render_end_cpu_ns", "submit_ns"),
    "submit_to_present": ("submit_ns", "present_ns"),
    "submit_to_display": ("submit_ns", "predicted_display_ns"),
    "pose_to_gpu_done": ("pose_sample_ns", "gpu_done_ns"),
    "motion_to_photon": ("pose_sample_ns", "predicted_display_ns"),
    "render_pose_to_warp_pose": ("pose_sample_ns", "warp_pose_sample_ns"),
    "warp_pose_to_submit": ("warp_pose_sample_ns", "submit_ns"),
    "motion_to_photon_warped": ("warp_pose_sample_ns", "predicted_display_ns"),
}

#: Stages that end at the display time (meaningless on a virtual display clock).
DISPLAY_STAGES = frozenset(s for s, (_, b) in STAGES.items() if b == "predicted_display_ns")

DisplayClock = Literal["host", "virtual"]

_MISSING = np.iinfo(np.int64).min


@dataclass(frozen=True)
class StageSummary:
    """Distribution of one stage's duration over the recorded frames (milliseconds).

    Attributes:
        count: Frames that have both timestamps of the stage.
        median_ms: Median.
        p95_ms: 95th percentile.
        p99_ms: 99th percentile.
        max_ms: Maximum.
        mean_ms: Mean.
        min_ms: Minimum.
        negative: Frames where the stage ran backwards (the two stamps are out of order:
            a clock mix-up in the backend, reported rather than hidden).
    """

    count: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    min_ms: float
    negative: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-friendly form."""
        return dict(self.__dict__)


def _as_ns(key: str, value: object, frame_index: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(
            f"frame {frame_index}: timing[{key!r}] must be integer nanoseconds, "
            f"got {type(value).__name__} {value!r}"
        )
    return int(value)


class FrameTimingRecorder:
    """Collects per-frame pipeline timestamps and derives stage durations.

    Args:
        keys: Timestamp keys to keep (default :data:`TIMING_KEYS`).
        display_clock: ``"host"`` when ``predicted_display_ns`` is on the host clock (OpenXR
            after conversion, windowed backends); ``"virtual"`` for a headless run, whose
            display stages are then left out of the summary.
    """

    def __init__(
        self, keys: tuple[str, ...] = TIMING_KEYS, display_clock: DisplayClock = "host"
    ) -> None:
        if display_clock not in ("host", "virtual"):
            raise InputError(f"display_clock must be 'host' or 'virtual', got {display_clock!r}")
        missing = [k for s in STAGES.values() for k in s if k not in keys]
        if missing:
            raise InputError(f"timing keys {sorted(set(missing))} are needed by the stages")
        self.keys = tuple(keys)
        self.display_clock: DisplayClock = display_clock
        # One int64 row per frame (the frame counter, then the stamps in key order), grown
        # by doubling: 8 bytes a stamp, not a Python list of ints per frame.
        self._buf = np.zeros((64, 1 + len(self.keys)), np.int64)
        self._n = 0
        self._csv: Any = None
        self._stack = contextlib.ExitStack()

    def __len__(self) -> int:
        return self._n

    def record(self, frame_index: int, timing: Mapping[str, object]) -> None:
        """Add one frame's timestamps.

        Args:
            frame_index: The frame's counter.
            timing: Key -> host-clock integer ns; missing keys are allowed (that stage is
                then absent for this frame), unknown keys are ignored.

        Raises:
            InputError: A timestamp is not an integer.
        """
        row = [_as_ns(k, timing[k], frame_index) if k in timing else _MISSING for k in self.keys]
        if self._n == len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros_like(self._buf)])
        self._buf[self._n] = [int(frame_index), *row]
        self._n += 1
        if self._csv is not None:
            self._csv.writerow(self._csv_row(self._buf[self._n - 1]))

    def _csv_row(self, rec: NDArray[np.int64]) -> list:
        """One CSV row: index, stamps (empty if missing), stage durations in ms."""
        row = rec[1:]
        durs = []
        for s in STAGES:
            a, b = (row[self.keys.index(k)] for k in STAGES[s])
            durs.append("" if _MISSING in (a, b) else f"{(int(b) - int(a)) * 1e-6:.6f}")
        stamps = ["" if v == _MISSING else str(int(v)) for v in row]
        return [int(rec[0]), *stamps, *durs]

    def _csv_header(self) -> list[str]:
        return ["index", *self.keys, *(f"{s}_ms" for s in STAGES)]

    def stream_csv(self, path: str | Path) -> None:
        """Write every frame recorded from now on to ``path`` as it comes (see :meth:`save_csv`).

        The rows go to the file's temporary name (:func:`vrkit.core.outputs.open_atomic`);
        :meth:`close_csv` renames it into place, so an interrupted run keeps the frames done.
        Frames recorded before this call are written first.
        """
        fh = self._stack.enter_context(open_atomic(path, newline=""))
        self._csv = csv.writer(fh)
        self._csv.writerow(self._csv_header())
        for rec in self._buf[: self._n]:
            self._csv.writerow(self._csv_row(rec))

    def close_csv(self, keep: bool = True) -> None:
        """Finish the streamed CSV (``keep``) or drop it; safe to call twice."""
        self._csv = None
        if keep:
            self._stack.close()
        else:
            self._stack.__exit__(InputError, InputError("discarded"), None)
        self._stack = contextlib.ExitStack()

    @classmethod
    def from_frames(
        cls, frames: list[Mapping[str, Any]], display_clock: DisplayClock = "host"
    ) -> FrameTimingRecorder:
        """Build from per-frame records: ``{"index": k, "timing": {...}}`` or flat dicts.

        Args:
            frames: The records (as in ``run.json`` or :meth:`to_dict`).
            display_clock: See the class.
        """
        rec = cls(display_clock=display_clock)
        for i, fr in enumerate(frames):
            if not isinstance(fr, Mapping):
                raise DataError(f"frame record {i} is a {type(fr).__name__}, not an object")
            timing = fr.get("timing", fr)
            rec.record(int(fr.get("index", i)), timing)
        return rec

    @classmethod
    def from_run_json(cls, path: str | Path) -> FrameTimingRecorder:
        """Read a run's ``run.json`` (per-frame records with timing under ``"frames"``).

        Also reads a ``timing.json`` written by :meth:`save_json`. The display clock is
        ``virtual`` when the file says so (headless runs).

        Args:
            path: ``run.json`` or the folder holding it.

        Raises:
            InputError: The file is missing or is not JSON.
            DataError: It has no frames, or no frame has any timing key.
        """
        p = Path(path)
        if p.is_dir():
            p = p / "run.json"
        doc = read_document(p, "run", hint="pass a run.json or its folder")
        frames = doc.get("frames") if isinstance(doc, dict) else None
        if not isinstance(frames, list) or not frames:
            raise DataError(f"{p} has no per-frame records under 'frames'")
        declared = doc.get("display_clock")  # a paced headless run says "host"
        virtual = declared == "virtual" or (
            declared is None
            and (doc.get("backend") == "headless" or "virtual" in str(doc.get("clock", "")))
        )
        rec = cls.from_frames(frames, "virtual" if virtual else "host")
        if not np.any(rec.timestamps() != _MISSING):
            raise DataError(
                f"{p}: no frame carries any of the timing keys {list(TIMING_KEYS)}",
                "record the run with a backend that stamps FrameInfo.timing",
            )
        return rec

    def timestamps(self) -> NDArray[np.int64]:
        """(N, K) int64 timestamps in key order; missing entries hold int64 min."""
        return self._buf[: self._n, 1:].copy()

    @property
    def frame_indices(self) -> NDArray[np.int64]:
        """(N,) frame counters."""
        return self._buf[: self._n, 0].copy()

    def stage_ns(self, stage: str) -> NDArray[np.float64]:
        """(N,) durations of a stage in ns (float; NaN where a stamp is missing).

        Args:
            stage: A name from :data:`STAGES`.
        """
        if stage not in STAGES:
            raise InputError(f"unknown stage {stage!r}; stages: {list(STAGES)}")
        a, b = (self.keys.index(k) for k in STAGES[stage])
        ts = self.timestamps()
        ok = (ts[:, a] != _MISSING) & (ts[:, b] != _MISSING)
        out = np.full(len(ts), np.nan)
        out[ok] = (ts[ok, b] - ts[ok, a]).astype(np.float64)
        return out

    def summary(self) -> dict[str, StageSummary]:
        """Per-stage distribution.

        Stages with no complete frame are left out, and so are the display stages on a
        virtual display clock.
        """
        out: dict[str, StageSummary] = {}
        for stage in STAGES:
            if self.display_clock == "virtual" and stage in DISPLAY_STAGES:
                continue
            d = self.stage_ns(stage)
            d = d[np.isfinite(d)] * 1e-6
            if d.size == 0:
                continue
            p50, p95, p99 = np.percentile(d, [50, 95, 99])
            out[stage] = StageSummary(
                count=int(d.size),
                median_ms=float(p50),
                p95_ms=float(p95),
                p99_ms=float(p99),
                max_ms=float(d.max()),
                mean_ms=float(d.mean()),
                min_ms=float(d.min()),
                negative=int(np.sum(d < 0)),
            )
        return out

    def motion_to_photon_ms(self) -> float:
        """Median software motion-to-photon estimate in ms.

        Raises:
            DataError: The display clock is virtual, or no frame has both
                ``pose_sample_ns`` and ``predicted_display_ns``.
        """
        if self.display_clock == "virtual":
            raise DataError(
                "this run's display times are virtual (a headless run has no display): "
                "no motion-to-photon estimate is possible",
                "use pose_to_gpu_done, or run on the openxr, sim or display backend",
            )
        s = self.summary().get("motion_to_photon")
        if s is None:
            raise DataError(
                "no frame has both pose_sample_ns and predicted_display_ns: "
                "no motion-to-photon estimate is possible"
            )
        return s.median_ms

    def headline(self) -> tuple[str, StageSummary]:
        """The stage to report as the run's latency and its summary.

        ``motion_to_photon_warped`` for a timewarped run (the photons show the warp's pose),
        else ``motion_to_photon`` on a host display clock; ``warp_pose_to_submit`` or
        ``pose_to_gpu_done`` (a lower bound: no scan-out) when the display clock is virtual or
        display times are missing.

        Raises:
            DataError: Neither stage has a complete frame.
        """
        summ = self.summary()
        for stage in (
            "motion_to_photon_warped",
            "motion_to_photon",
            "warp_pose_to_submit",
            "pose_to_gpu_done",
        ):
            if stage in summ:
                return stage, summ[stage]
        raise DataError(
            "no frame has pose_sample_ns with predicted_display_ns or gpu_done_ns: "
            "no pipeline latency can be reported",
            "record the run with a backend that stamps FrameInfo.timing",
        )

    def to_dict(self) -> dict[str, Any]:
        """Summary and per-frame data, JSON-friendly (ms for durations, ns for stamps)."""
        ts = self.timestamps()
        frames = []
        for i, row in zip(self.frame_indices.tolist(), ts, strict=True):
            frames.append({k: int(v) for k, v in zip(self.keys, row, strict=True) if v != _MISSING})
            frames[-1]["index"] = i
        summ = self.summary()
        try:
            stage, head = self.headline()
        except DataError:
            stage, head = None, None
        return {
            "latency_ms": None if head is None else head.median_ms,
            "latency_stage": stage,
            "display_clock": self.display_clock,
            "frames_recorded": len(self),
            "summary": {k: v.to_dict() for k, v in summ.items()},
            "frames": frames,
        }

    def save_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON."""
        return write_text(path, json.dumps(self.to_dict(), indent=1))

    def save_csv(self, path: str | Path) -> Path:
        """One row per frame: index, the timestamps (ns, empty if missing), stage durations (ms)."""
        p = Path(path)
        with open_atomic(p, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self._csv_header())
            for rec in self._buf[: self._n]:
                w.writerow(self._csv_row(rec))
        return p

    def _draw_hist(self, ax: Any) -> None:
        try:
            head_stage, head = self.headline()
        except DataError:
            head_stage, head = None, None
        for stage in dict.fromkeys((head_stage, "gpu_render", "cpu_render")):
            if stage is None:
                continue
            d = self.stage_ns(stage) * 1e-6
            d = d[np.isfinite(d)]
            if d.size:
                ax.hist(d, bins=min(60, max(10, d.size // 5)), alpha=0.6, label=stage)
        if head is not None:
            ax.axvline(head.median_ms, color="k", lw=1)
            ax.axvline(head.p99_ms, color="k", ls="--", lw=1)
            ax.set_title(
                f"{head_stage}: median {head.median_ms:.2f} ms, p95 {head.p95_ms:.2f}, "
                f"p99 {head.p99_ms:.2f}, max {head.max_ms:.2f} (lines: median, p99)",
                fontsize=9,
            )
        ax.set_xlabel("ms")
        ax.set_ylabel("frames")
        ax.legend(fontsize=8)

    def _draw_series(self, ax: Any) -> None:
        idx = self.frame_indices
        for stage in self.summary():
            ax.plot(idx, self.stage_ns(stage) * 1e-6, lw=1, label=stage)
        ax.set_xlabel("frame")
        ax.set_ylabel("ms")
        ax.set_title(f"pipeline stages per frame (display clock: {self.display_clock})", fontsize=9)
        ax.legend(fontsize=7, ncol=2)

    def plot(self, path: str | Path) -> Path:
        """One PNG with the latency histogram above the per-frame time series (Agg).

        Args:
            path: The PNG to write.

        Returns:
            The path written.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig, (a0, a1) = plt.subplots(2, 1, figsize=(9, 7))
        self._draw_hist(a0)
        self._draw_series(a1)
        fig.tight_layout()
        save_figure(fig, p, dpi=100)
        plt.close(fig)
        return p

    def save_plots(self, out_prefix: str | Path) -> list[Path]:
        """Histogram and time series as two PNGs (matplotlib Agg).

        Args:
            out_prefix: Path prefix; writes ``<prefix>_hist.png`` and ``<prefix>_series.png``.

        Returns:
            The files written.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        prefix = Path(out_prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for suffix, draw, size in (
            ("_hist.png", self._draw_hist, (7, 4)),
            ("_series.png", self._draw_series, (9, 4)),
        ):
            fig, ax = plt.subplots(figsize=size)
            draw(ax)
            fig.tight_layout()
            path = prefix.with_name(prefix.name + suffix)
            save_figure(fig, path, dpi=100)
            plt.close(fig)
            written.append(path)
        return written
