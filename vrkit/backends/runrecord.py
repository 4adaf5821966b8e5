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
ends, and writes the file when it closes. The file is written under a temporary name in the same
folder and renamed into place, so a failed write never leaves a half-written ``run.json``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrkit import __version__
from vrkit.core.clock import Clock, MonotonicClock
from vrkit.core.errors import DataError, InputError
from vrkit.core.types import FrameInfo

if TYPE_CHECKING:
    from vrkit.render.panel import PanelLayout

RUN_FILE = "run.json"


def prepare_out_dir(out_dir: str | Path) -> Path:
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

    Args:
        out_dir: The run's output folder (created by :func:`prepare_out_dir`).
        backend: The backend's name, for the ``backend`` field.
    """

    def __init__(self, out_dir: str | Path, backend: str) -> None:
        self.path = Path(out_dir) / RUN_FILE
        self.backend = backend
        self._frames: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, frame: FrameInfo, **fields: Any) -> None:
        """Record one ended frame.

        Args:
            frame: The frame, with its ``timing`` stamps (host-clock ns) filled in.
            **fields: Backend-specific per-frame fields, stored after ``display_time_ns``.
        """
        self._frames.append(
            {
                "index": frame.index,
                "display_time_ns": frame.predicted_display_time_ns,
                **fields,
                "head_pose": frame.head_pose.to_dict(),
                "timing": dict(frame.timing),
            }
        )

    def document(self, clock: str, **header: Any) -> dict[str, Any]:
        """The ``run.json`` document: the common fields, ``header`` in order, then the frames.

        Args:
            clock: What the times in the record mean (which clock, virtual or host).
            **header: The backend's header fields.
        """
        return {
            "vrkit_version": __version__,
            "backend": self.backend,
            "clock": clock,
            **header,
            "frames": self._frames,
        }

    def write(self, clock: str, **header: Any) -> Path:
        """Write ``run.json`` atomically (temporary file, fsync, rename); returns its path.

        Args:
            clock: See :meth:`document`.
            **header: See :meth:`document`.

        Raises:
            DataError: The file could not be written (disk full, permissions); nothing is
                left under the final name.
        """
        text = json.dumps(self.document(clock, **header), indent=1)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(
                f"writing {self.path} failed: {exc.strerror or exc}",
                f"{len(self._frames)} frame records were not saved; free space or choose another "
                "--out",
            ) from exc
        return self.path
