"""``run.json``: the per-frame record of a run, written the same way by every backend.

Layout (read by ``vrkit latency pipeline``, pose replay and the tests)::

    {
      "vrkit_version": "...",
      "backend": "headless" | "sim" | "display" | "openxr",
      "clock": "what the times mean",
      ...the backend's header fields (sizes, FOV, runtime, frame counts)...,
      "frames": [
        {"index": k, "display_time_ns": ..., ...the backend's per-frame fields...,
         "head_pose": {"position": [...], "orientation": [...]},
         "timing": {"pose_sample_ns": ..., ...}},
        ...
      ]
    }

A backend makes one :class:`RunRecord` when the run has an output folder, adds each frame as it
ends, and writes the file when it closes. Frames stream to a sidecar file as they end
(``.run.json.frames.partial``, one JSON line per frame), so memory stays flat however long the
run; :meth:`RunRecord.write` copies them into ``run.json`` under a temporary name in the same
folder, syncs and renames it into place (:mod:`vrkit.core.outputs`), so a failed write never
leaves a half-written ``run.json``.

An output folder that already holds a run (a ``run.json``, or the sidecar of a run that was
killed) is refused by :func:`prepare_out_dir` unless ``overwrite`` is given, which removes that
run's files (the names in :data:`RUN_PATTERNS`) and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vrkit import __version__
from vrkit.core.clock import Clock, MonotonicClock
from vrkit.core.outputs import (
    PARTIAL_SUFFIX,
    OutputError,
    clear_files,
    open_atomic,
    output_error,
    preflight,
)
from vrkit.core.types import FrameInfo

if TYPE_CHECKING:
    from vrkit.render.panel import PanelLayout

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
FRAMES_SIDECAR = f".{RUN_FILE}.frames{PARTIAL_SUFFIX}"

#: The files a run writes into its folder (glob patterns), removed by ``overwrite`` in this
#: order: the markers that say a run is there (the sidecar, run.json) last, so that a clear cut
#: short still leaves a folder that is refused or cleared again, never stale frames unmarked.
RUN_PATTERNS = (
    "frame_[0-9]*_left.png",
    "frame_[0-9]*_right.png",
    "frame_[0-9]*_panel.png",
    "panel.mp4",
    f".*{PARTIAL_SUFFIX}.mp4",
    f".[!r]*{PARTIAL_SUFFIX}",
    FRAMES_SIDECAR,
    RUN_FILE,
)


def holds_run(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a run: its ``run.json`` or the frame sidecar of a killed one."""
    out = Path(out_dir)
    return (out / RUN_FILE).exists() or (out / FRAMES_SIDECAR).exists()


def clear_run(out_dir: str | Path, patterns: tuple[str, ...] = RUN_PATTERNS) -> int:
    """Remove the files of the run in ``out_dir`` (``patterns``); others stay. Returns the count.

    Raises:
        OutputError: A file could not be removed, naming it.
    """
    return clear_files(out_dir, patterns)


def prepare_out_dir(out_dir: str | Path, overwrite: bool = False, create: bool = True) -> Path:
    """Check ``out_dir`` can be written, create it if needed, and claim it for a new run.

    Args:
        out_dir: The run's output folder.
        overwrite: Remove a previous run's files (:data:`RUN_PATTERNS`) instead of refusing.
        create: Create the folder and remove the previous run; False only checks (the CLI,
            before any work: nothing is created for a run that then fails to start).

    Raises:
        InputError: It cannot be created or written, naming the folder (an
            :class:`~vrkit.core.outputs.OutputError`), or it already holds a run and
            ``overwrite`` is False.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"cannot create output folder {out}: it is a file", "choose another --out"
        )
    preflight(out, folder=True)
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(out, exc) from exc
    if holds_run(out):
        if not overwrite:
            raise OutputError(
                f"output folder {out} already holds a vrkit run ({RUN_FILE})",
                "pass --overwrite to replace it, or choose another --out",
            )
        if create:
            n = clear_run(out)
            log.info("removed %d files of the previous run in %s", n, out)
    return out


def clock_name(clock: Clock) -> str:
    """How ``run.json``'s ``clock`` text names the run's clock.

    ``"host CLOCK_MONOTONIC"`` for the host clock (the text every run.json has carried), else
    the clock's class, e.g. ``"ManualClock"``.
    """
    return "host CLOCK_MONOTONIC" if isinstance(clock, MonotonicClock) else type(clock).__name__


def panel_header(layout: PanelLayout) -> dict[str, Any]:
    """The header fields of a backend that composes the panel (headless, sim, display).

    Args:
        layout: The run's panel layout (sizes, FOVs, and the IPD and canting the eye views use).
    """
    return {
        "panel_size": list(layout.panel_size),
        "eye_sizes": [list(s) for s in layout.eye_sizes],
        "viewports": [list(v) for v in layout.viewports],
        "fov": [f.to_dict() for f in layout.fovs],
        "distorted": layout.distorted,
        "ipd_m": layout.ipd_m,
        "canting_deg": math.degrees(layout.cant_rad),
    }


class RunRecord:
    """The frames of one run, written to ``out_dir/run.json`` by :meth:`write`.

    Frames go to a sidecar file as they are added (one JSON line each), not to memory.

    Args:
        out_dir: The run's output folder (created by :func:`prepare_out_dir`).
        backend: The backend's name, for the ``backend`` field.
    """

    def __init__(self, out_dir: str | Path, backend: str) -> None:
        self.path = Path(out_dir) / RUN_FILE
        self.sidecar = Path(out_dir) / FRAMES_SIDECAR
        self.backend = backend
        self._count = 0
        self._fh: IO[str] | None = None
        self._written: Path | None = None

    def __len__(self) -> int:
        return self._count

    def add(self, frame: FrameInfo, **fields: Any) -> None:
        """Record one ended frame (appended to the sidecar file at once).

        Args:
            frame: The frame, with its ``timing`` stamps (host-clock ns) filled in.
            **fields: Backend-specific per-frame fields, stored after ``display_time_ns``.

        Raises:
            OutputError: The sidecar cannot be written (disk full), naming it.
        """
        record = {
            "index": frame.index,
            "display_time_ns": frame.predicted_display_time_ns,
            **fields,
            "head_pose": frame.head_pose.to_dict(),
            "timing": dict(frame.timing),
        }
        try:
            if self._fh is None:
                self._fh = self.sidecar.open("w", encoding="utf-8")
            self._fh.write(json.dumps(record) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise output_error(self.sidecar, exc, f"{self._count} frame records were kept") from exc
        self._count += 1

    def frames(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The recorded frames in order (read back from the sidecar), the first ``limit``."""
        n = self._count if limit is None else min(limit, self._count)
        if n == 0:
            return
        if self._written is not None:  # the sidecar is gone: the frames are in run.json
            with self._written.open(encoding="utf-8") as fh:
                yield from json.load(fh)["frames"][:n]
            return
        if self._fh is not None:
            self._fh.flush()
        with self.sidecar.open(encoding="utf-8") as fh:
            for _, line in zip(range(n), fh, strict=False):
                yield json.loads(line)

    def document(self, clock: str, **header: Any) -> dict[str, Any]:
        """The ``run.json`` document: the common fields, ``header`` in order, then the frames.

        Holds every frame in memory: for tests and short runs; :meth:`write` streams.

        Args:
            clock: What the times in the record mean (which clock, virtual or host).
            **header: The backend's header fields.
        """
        return {**self._head(clock, header), "frames": list(self.frames())}

    def _head(self, clock: str, header: dict[str, Any]) -> dict[str, Any]:
        return {"vrkit_version": __version__, "backend": self.backend, "clock": clock, **header}

    def write(self, clock: str, limit: int | None = None, **header: Any) -> Path:
        """Write ``run.json`` atomically (temporary file, fsync, rename); returns its path.

        The text is the same as ``json.dumps(self.document(...), indent=1)``, written a frame
        at a time. The sidecar is removed once ``run.json`` is in place.

        Args:
            clock: See :meth:`document`.
            limit: Write only the first ``limit`` frames (those whose images reached the disk).
            **header: See :meth:`document`.

        Raises:
            OutputError: The file could not be written (disk full, permissions); nothing is
                left under the final name.
        """
        n = self._count if limit is None else min(limit, self._count)
        head = json.dumps({**self._head(clock, header), "frames": []}, indent=1)
        assert head.endswith("[]\n}")
        try:
            with open_atomic(
                self.path, kept=f"{n} frame records were not saved; they are in {self.sidecar}"
            ) as fh:
                if n == 0:
                    fh.write(head)
                else:
                    fh.write(head[:-4] + "[\n")
                    for k, frame in enumerate(self.frames(n)):
                        text = json.dumps(frame, indent=1).replace("\n", "\n  ")
                        fh.write(("  " if k == 0 else ",\n  ") + text)
                    fh.write("\n ]\n}")
        except OutputError:
            if not self.path.is_dir():
                raise
            raise OutputError(
                f"writing {self.path} failed: the name is taken by a folder",
                f"{n} frame records were not saved; choose another --out",
            ) from None
        self.discard()
        self._written = self.path
        return self.path

    def discard(self) -> None:
        """Close and remove the sidecar file; safe to call twice."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        with contextlib.suppress(OSError):
            self.sidecar.unlink()
