"""Tracker poses for the renderer: pose files and a live tracker as a ``PoseSource``.

``vrkit run --pose-source tracker:SPEC`` calls :func:`tracker_pose_source` with ``SPEC``:

* ``poses.csv`` / ``poses.json`` (written by ``vrkit track run --out``): replays the tracked
  head poses. The file's first pose is aligned with the first time the renderer asks for
  (``pose_at``/``poll``); between samples the pose is interpolated (lerp + slerp), beyond the
  ends it is held. Frames the tracker lost are skipped.
* ``live:CONFIG.json`` (or a ``.json`` file with a ``"source"`` key): runs the tracker in a
  background thread on ``{"rig": ..., "target": ..., "source": ...}`` (paths relative to the
  config file; ``source`` is a spec as in :func:`vrkit.tracking.sources.open_source`) and
  answers ``pose_at(when_ns)`` with the filter's prediction to ``when_ns``. Live cameras stamp
  frames with the host monotonic clock, so predictions land on the display time; sources with
  their own timeline (recordings, videos) are mapped onto the host clock at their first frame.
  While tracking is lost the last pose is held.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError
from vrkit.core.jsonfile import read_json
from vrkit.core.outputs import PARTIAL_SUFFIX, open_atomic, output_error
from vrkit.core.types import Pose
from vrkit.math import transforms as tf
from vrkit.poses.base import PoseSource

log = logging.getLogger(__name__)

POSE_FIELDS = ("px", "py", "pz", "qx", "qy", "qz", "qw")
DEFAULT_POSE = Pose([0.0, 1.6, 0.0])


#: CSV columns of :func:`vrkit.tracking.tracker.result_row`, in order (``err_*`` with truth).
ROW_FIELDS = ("index", "t_ns", "status", *POSE_FIELDS, "sigma_pos_mm", "sigma_rot_deg", "rms_px",
              "n_points", "cameras_active", "cameras_used", "message", "degraded")  # fmt: skip
TRUTH_FIELDS = ("err_mm", "err_deg")


class PoseWriter:
    """Streams tracker rows to a ``.csv`` or ``.json`` pose file as they come.

    Memory stays flat however long the run: a CSV's rows go straight into its temporary file
    (:func:`vrkit.core.outputs.open_atomic`); a JSON file's rows go to a JSON-lines sidecar
    (``.NAME.rows.partial``) and :meth:`close` writes the document (summary first) from it.
    The file appears under its name, complete, only at :meth:`close`; an interrupted run
    closes it with the rows done. Leaving a ``with`` block by an error other than an
    interrupt discards it.

    Args:
        path: ``.csv`` or ``.json`` file.
        fields: CSV columns (default :data:`ROW_FIELDS`, plus :data:`TRUTH_FIELDS` when
            ``truth``); a row with another key is an error.
        truth: Rows carry errors against truth.

    Raises:
        InputError: ``path`` ends in neither ``.csv`` nor ``.json``.
        OutputError: The file cannot be created or written (disk full), naming it.
    """

    def __init__(
        self, path: str | Path, fields: tuple[str, ...] | None = None, truth: bool = False
    ) -> None:
        self.path = Path(path)
        self.kind = self.path.suffix.lower()
        if self.kind not in (".csv", ".json"):
            raise InputError(f"pose output {str(self.path)!r} must end in .csv or .json")
        self.fields = fields or (ROW_FIELDS + (TRUTH_FIELDS if truth else ()))
        self.rows = 0
        self._stack = contextlib.ExitStack()
        self._closed = False
        if self.kind == ".csv":
            kept = "nothing: the pose file is written whole or not at all"
            fh = self._stack.enter_context(open_atomic(self.path, newline="", kept=kept))
            self._csv = csv.DictWriter(fh, fieldnames=list(self.fields))
            self._csv.writeheader()
        else:
            self.sidecar = self.path.with_name(f".{self.path.name}.rows{PARTIAL_SUFFIX}")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self._stack.enter_context(self.sidecar.open("w", encoding="utf-8"))
            except OSError as exc:
                raise output_error(self.sidecar, exc) from exc
            self._stack.callback(self.sidecar.unlink, missing_ok=True)

    def write(self, row: dict) -> None:
        """Append one row (a dict of :func:`~vrkit.tracking.tracker.result_row`)."""
        try:
            if self.kind == ".csv":
                self._csv.writerow(row)
            else:
                self._fh.write(json.dumps(row) + "\n")
        except OSError as exc:
            raise output_error(self.path, exc, f"{self.rows} rows were not saved") from exc
        self.rows += 1

    def close(self, summary: dict | None = None) -> Path:
        """Finish the file and rename it into place; safe to call twice.

        Args:
            summary: Run information stored at the top of a JSON file (ignored for CSV).
        """
        if self._closed:
            return self.path
        self._closed = True
        if self.kind == ".json":
            try:
                self._fh.close()
                with (
                    open_atomic(self.path) as out,
                    self.sidecar.open(encoding="utf-8") as rows,
                ):
                    out.write('{"summary": ' + json.dumps(summary or {}) + ', "frames": [')
                    for k, line in enumerate(rows):
                        out.write(("\n" if not k else ",\n") + line.rstrip("\n"))
                    out.write("]}\n")
            except BaseException:
                self._stack.close()
                raise
        self._stack.close()
        return self.path

    def discard(self) -> None:
        """Drop the file and its temporary files; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._stack.__exit__(InputError, InputError("discarded"), None)

    def __enter__(self) -> PoseWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        interrupted = isinstance(exc_type, type) and issubclass(exc_type, KeyboardInterrupt)
        if exc_type is None or interrupted:
            self.close()
        else:
            self.discard()


def write_poses(path: str | Path, rows: list[dict], summary: dict | None = None) -> None:
    """Write tracker rows (see :func:`vrkit.tracking.tracker.result_row`) as CSV or JSON.

    Args:
        path: ``.csv`` or ``.json`` file.
        rows: One dict per frame.
        summary: Extra run information stored in JSON files (ignored for CSV).

    Raises:
        OutputError: The file could not be written; nothing is left under its name.
    """
    fields: list[str] = []
    for r in rows:
        fields.extend(k for k in r if k not in fields)
    with PoseWriter(path, tuple(fields) or ROW_FIELDS) as w:
        for r in rows:
            w.write(r)
        w.close(summary)


def read_poses(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a pose file written by :func:`write_poses`.

    Returns:
        Times (N,) int64 ns, positions (N, 3) m and quaternions (N, 4) ``(x, y, z, w)`` of the
        frames that were tracked.

    Raises:
        InputError: The file is missing or has no tracked frame.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"pose file {str(path)!r} not found")
    if path.suffix.lower() == ".json":
        try:
            rows = read_document(path, "tracker-poses", DataError)["frames"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{path} is not a vrkit pose file: {exc}") from exc
    else:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    good = [r for r in rows if r.get("status") == "tracking" and r.get("px") not in (None, "")]
    if not good:
        raise DataError(f"pose file {str(path)!r} has no tracked frame ({len(rows)} rows)")
    t = np.array([int(r["t_ns"]) for r in good], dtype=np.int64)
    vals = np.array([[float(r[k]) for k in POSE_FIELDS] for r in good])
    order = np.argsort(t, kind="stable")
    return t[order], vals[order, :3], vals[order, 3:]


class PoseFileSource(PoseSource):
    """Replays a tracker pose file (interpolated, aligned to the first request).

    Args:
        path: CSV or JSON written by ``vrkit track run``.
        start_ns: Host time that corresponds to the file's first pose; None = the first
            ``poll``/``pose_at`` time.
    """

    name = "tracker-file"

    def __init__(self, path: str | Path, start_ns: int | None = None) -> None:
        self.t, self.p, self.q = read_poses(path)
        self.start_ns = start_ns

    def poll(self, now_ns: int) -> None:
        """Anchor the replay at the first poll."""
        if self.start_ns is None:
            self.start_ns = int(now_ns)

    def pose_at(self, when_ns: int) -> Pose:
        """Interpolated ``T_world_head`` at ``when_ns``."""
        if self.start_ns is None:
            self.start_ns = int(when_ns)
        tf_ns = self.t[0] + (int(when_ns) - self.start_ns)
        i = int(np.searchsorted(self.t, tf_ns, side="right"))
        if i <= 0:
            return Pose(self.p[0], self.q[0])
        if i >= len(self.t):
            return Pose(self.p[-1], self.q[-1])
        a = (tf_ns - self.t[i - 1]) / max(int(self.t[i] - self.t[i - 1]), 1)
        pos = (1 - a) * self.p[i - 1] + a * self.p[i]
        return Pose(pos, tf.quat_slerp(self.q[i - 1], self.q[i], float(a)))


class LiveTrackerSource(PoseSource):
    """Runs a :class:`~vrkit.tracking.tracker.Tracker` on a frame source in a thread.

    Args:
        rig: The rig.
        target: The target.
        source: A frame source (live cameras, recording, ...); closed with this object.
        live_clock: True when frame times are host monotonic ns (live cameras); otherwise
            they are shifted onto the host clock at the first frame.
    """

    name = "tracker-live"

    def __init__(self, rig: object, target: object, source: object, live_clock: bool) -> None:
        from vrkit.tracking.tracker import Tracker

        self.tracker = Tracker(rig, target)
        self.source = source
        self.live_clock = live_clock
        self._offset_ns: int | None = 0 if live_clock else None
        self._lock = threading.Lock()
        self._last = DEFAULT_POSE
        self._running = True
        self.frames = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="vrkit-tracker")
        self._thread.start()

    def _run(self) -> None:
        try:
            for fs in self.source:
                if not self._running:
                    break
                if self._offset_ns is None:
                    self._offset_ns = time.monotonic_ns() - fs.t_ns  # edge: host clock
                with self._lock:
                    r = self.tracker.process(fs)
                    if r.T_world_head is not None:
                        self._last = Pose.from_matrix(r.T_world_head)
                    self.frames += 1
        except Exception as exc:  # reported through pose_at's log, the renderer keeps going
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("tracker thread stopped: %s", self.error)

    def pose_at(self, when_ns: int) -> Pose:
        """Predicted ``T_world_head`` at ``when_ns`` (host ns); the last pose while lost."""
        with self._lock:
            if self._offset_ns is None:
                return self._last
            pred = self.tracker.pose_at(int(when_ns) - self._offset_ns)
            return self._last if pred is None else Pose.from_matrix(pred[0])

    def close(self) -> None:
        """Stop the thread, the tracker and the source; safe to call twice."""
        self._running = False
        self.source.close()
        self._thread.join(timeout=2.0)
        self.tracker.close()


def tracker_pose_source(spec: str) -> PoseSource:
    """Make the pose source behind ``vrkit run --pose-source tracker:SPEC``.

    Args:
        spec: A pose file (``.csv``/``.json`` from ``vrkit track run``) or
            ``live:CONFIG.json`` (see the module docstring). A leading ``tracker:`` is ignored.

    Raises:
        InputError: The spec names nothing usable.
    """
    from vrkit.tracking.camera import Rig
    from vrkit.tracking.sources import LiveCameraSource, open_source
    from vrkit.tracking.target import Target

    spec = spec.removeprefix("tracker:")
    live = spec.startswith("live:")
    path = Path(spec.removeprefix("live:"))
    if not live and path.suffix.lower() == ".json" and path.is_file():
        try:
            live = "source" in read_json(path, "tracker pose source")
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON: {exc}") from exc
    if not live:
        if path.suffix.lower() not in (".csv", ".json"):
            raise InputError(
                f"tracker pose source {spec!r}: expected a poses .csv/.json file or "
                "live:CONFIG.json",
                "write poses with 'vrkit track run --out poses.csv'",
            )
        return PoseFileSource(path)
    try:
        cfg = read_document(path, "tracker-config")
    except FileNotFoundError as exc:
        raise InputError(f"tracker config {str(path)!r} not found") from exc
    missing = [k for k in ("rig", "target", "source") if k not in cfg]
    if missing:
        raise InputError(f"tracker config {str(path)!r} misses {missing}",
                         'give {"rig": FILE, "target": FILE, "source": SPEC}')  # fmt: skip
    base = path.parent

    def rel(p: str) -> str:
        return str(p if Path(p).is_absolute() else base / p)

    rig = Rig.load(rel(cfg["rig"]))
    target = Target.load(rel(cfg["target"]))
    src_spec = str(cfg["source"])
    kind, sep, rest = src_spec.partition(":")
    if sep and kind in ("rec", "images", "video"):
        src_spec = f"{kind}:" + ",".join(rel(s) for s in rest.split(","))
    elif not sep:
        src_spec = rel(src_spec)
    source = open_source(src_spec, fps=float(cfg.get("fps", 60.0)))
    if kind == "rec" or not sep:
        source.realtime = True  # replay at the recorded pace
    return LiveTrackerSource(rig, target, source, isinstance(source, LiveCameraSource))
