"""Replay a recorded head-pose file (CSV or JSON with timestamps) as a pose source.

File formats (documented with examples in ``docs/backends.md``):

* CSV with a header row: a time column ``t_ns`` (integer ns) or ``t_s`` (seconds), then
  ``x,y,z`` (metres) and ``qx,qy,qz,qw`` (unit quaternion, any sign). Lines starting with
  ``#`` are comments; column order is free; extra columns are ignored.
* JSON: ``{"format": "vrkit-poses", "version": 1, "samples": [{"t_ns": ...,
  "position": [x, y, z], "orientation": [qx, qy, qz, qw]}, ...]}`` (``t_s`` instead of
  ``t_ns`` is accepted; a bare list of samples too), or a ``run.json`` that vrkit's headless
  backend wrote (its frames' ``display_time_ns`` and ``head_pose``).

Times must increase strictly. Only differences matter: playback maps the first sample to the
moment the source is first polled. Between samples the pose is interpolated (position
linearly, orientation by slerp); after the last sample it holds, or with ``loop`` starts over.

With ``live=True`` the file stands in for a live tracker: a sample becomes known only when
playback time passes it, and poses at later (display) times are predicted by
:class:`vrkit.poses.predict.PosePredictor` exactly as for a live sampled source.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError
from vrkit.core.outputs import open_atomic, write_json
from vrkit.core.types import Pose
from vrkit.math.transforms import quat_normalize
from vrkit.poses.base import PoseSource
from vrkit.poses.predict import PosePredictor, interpolate_pose

_POSE_COLUMNS = ("x", "y", "z", "qx", "qy", "qz", "qw")


@dataclass
class PoseTrack:
    """A recorded head trajectory.

    Attributes:
        t_ns: (N,) int64 strictly increasing sample times, ns.
        positions: (N, 3) float64 metres.
        orientations: (N, 4) float64 unit quaternions ``(x, y, z, w)``.
    """

    t_ns: NDArray[np.int64]
    positions: NDArray[np.float64]
    orientations: NDArray[np.float64]

    def __post_init__(self) -> None:
        t = np.asarray(self.t_ns, dtype=np.int64)
        p = np.asarray(self.positions, dtype=np.float64)
        q = np.asarray(self.orientations, dtype=np.float64)
        n = len(t)
        if n < 1 or t.ndim != 1 or p.shape != (n, 3) or q.shape != (n, 4):
            raise DataError(
                f"a pose track needs N >= 1 times (N,), positions (N, 3) and orientations "
                f"(N, 4); got {t.shape}, {p.shape}, {q.shape}"
            )
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
            bad = int(np.nonzero(~np.isfinite(np.hstack([p, q])).all(axis=1))[0][0])
            raise DataError(f"pose sample {bad} has a NaN or infinite value")
        norms = np.linalg.norm(q, axis=1)
        if np.any(norms < 1e-9):
            raise DataError(f"pose sample {int(np.argmin(norms))} has a zero quaternion")
        steps = np.diff(t)
        if np.any(steps <= 0):
            k = int(np.nonzero(steps <= 0)[0][0]) + 1
            raise DataError(
                f"pose sample times must increase: sample {k} at {t[k]} ns follows {t[k - 1]} ns"
            )
        self.t_ns, self.positions, self.orientations = t, p, quat_normalize(q)

    def __len__(self) -> int:
        return len(self.t_ns)

    @property
    def duration_ns(self) -> int:
        """Time from the first to the last sample."""
        return int(self.t_ns[-1] - self.t_ns[0])

    def pose(self, i: int) -> Pose:
        """Sample ``i`` as a Pose."""
        return Pose(self.positions[i], self.orientations[i])

    def interpolate(self, t_ns: int) -> Pose:
        """Pose at recording time ``t_ns``, held constant outside the recorded span."""
        t = self.t_ns
        if t_ns <= t[0]:
            return self.pose(0)
        if t_ns >= t[-1]:
            return self.pose(len(t) - 1)
        i = int(np.searchsorted(t, int(t_ns), side="right"))
        a, b = self.pose(i - 1), self.pose(i)
        return interpolate_pose(a, b, (t_ns - int(t[i - 1])) / int(t[i] - t[i - 1]))


def _from_columns(times: ArrayLike, values: ArrayLike) -> PoseTrack:
    v = np.asarray(values, dtype=np.float64).reshape(-1, 7)
    return PoseTrack(np.asarray(times, dtype=np.int64), v[:, :3], v[:, 3:])


def _read_csv(path: Path) -> PoseTrack:
    with path.open(newline="") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.reader(lines))
    if not rows:
        raise DataError(f"{path} has no header and no samples")
    header = [h.strip() for h in rows[0]]
    time_col = "t_ns" if "t_ns" in header else "t_s" if "t_s" in header else None
    missing = [c for c in _POSE_COLUMNS if c not in header]
    if time_col is None or missing:
        lacks = (["t_ns or t_s"] if time_col is None else []) + missing
        raise DataError(
            f"{path}: header {header} lacks {lacks}",
            "the header must name t_ns (or t_s), x, y, z, qx, qy, qz, qw",
        )
    idx = [header.index(c) for c in _POSE_COLUMNS]
    ti = header.index(time_col)
    times, values = [], []
    for line_no, row in enumerate(rows[1:], start=2):
        try:
            t = int(row[ti]) if time_col == "t_ns" else round(float(row[ti]) * 1e9)
            values.append([float(row[i]) for i in idx])
        except (ValueError, IndexError) as exc:
            raise DataError(f"{path}: data row {line_no - 1} is not numeric: {row}") from exc
        times.append(t)
    if not times:
        raise DataError(f"{path} has a header but no samples")
    return _from_columns(times, values)


def _sample_time(s: dict, k: int, path: Path) -> int:
    if "t_ns" in s:
        return int(s["t_ns"])
    if "t_s" in s:
        return round(float(s["t_s"]) * 1e9)
    raise DataError(f"{path}: sample {k} has no t_ns or t_s")


def _read_json(path: Path) -> PoseTrack:
    doc = read_document(path, "pose-file", DataError)
    if isinstance(doc, dict) and "frames" in doc and "samples" not in doc:  # a vrkit run.json
        samples = [
            {"t_ns": f["display_time_ns"], **f["head_pose"]}
            for f in doc["frames"]
            if "display_time_ns" in f and "head_pose" in f
        ]
    else:
        samples = doc.get("samples") if isinstance(doc, dict) else doc
    if not isinstance(samples, list) or not samples:
        raise DataError(f"{path} has no pose samples", "expected {'samples': [...]} or a list")
    times, values = [], []
    for k, s in enumerate(samples):
        try:
            times.append(_sample_time(s, k, path))
            values.append([*map(float, s["position"]), *map(float, s["orientation"])])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{path}: sample {k} must have t_ns|t_s, position [x, y, z] and orientation "
                f"[qx, qy, qz, qw]; got {s!r}"
            ) from exc
        if len(values[-1]) != 7:
            raise DataError(f"{path}: sample {k} position/orientation have wrong lengths: {s!r}")
    return _from_columns(times, values)


def load_pose_file(path: str | Path) -> PoseTrack:
    """Read a CSV (``.csv``) or JSON (``.json``) pose recording.

    Raises:
        InputError: The file does not exist or has another extension.
        DataError: The content is malformed (names the row or sample).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"pose file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".json":
        return _read_json(path)
    raise InputError(f"pose file {path} must end in .csv or .json, got {suffix!r}")


def save_pose_file(path: str | Path, track: PoseTrack) -> Path:
    """Write a track as CSV (``t_ns,x,y,z,qx,qy,qz,qw``) or vrkit-poses JSON, by extension."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with open_atomic(path, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["t_ns", *_POSE_COLUMNS])
            for t, p, q in zip(track.t_ns, track.positions, track.orientations, strict=True):
                w.writerow([int(t), *(repr(float(v)) for v in (*p, *q))])
    elif path.suffix.lower() == ".json":
        samples = [
            {"t_ns": int(t), "position": p.tolist(), "orientation": q.tolist()}
            for t, p, q in zip(track.t_ns, track.positions, track.orientations, strict=True)
        ]
        write_json(path, {"format": "vrkit-poses", "version": 1, "samples": samples}, indent=None)
    else:
        raise InputError(f"pose file {path} must end in .csv or .json")
    return path


class ReplayPoseSource(PoseSource):
    """Plays a :class:`PoseTrack` back against the host clock.

    Args:
        track: The recording.
        loop: Start over after the last sample instead of holding it.
        live: Release samples only as playback reaches them and predict beyond the newest
            (emulates a live tracker); otherwise interpolate the recording exactly.
        start_ns: Host time of the first sample; None means the first ``poll`` (or
            ``pose_at``) call.
        predictor: Used in live mode; a default :class:`PosePredictor` when None.
    """

    name = "replay"

    def __init__(
        self,
        track: PoseTrack,
        loop: bool = False,
        live: bool = False,
        start_ns: int | None = None,
        predictor: PosePredictor | None = None,
    ) -> None:
        self.track = track
        self.loop = loop
        self.live = live
        self.start_ns = start_ns
        self.predictor = predictor or PosePredictor()
        dt = np.diff(track.t_ns)
        # One loop lasts the recording plus one mean sample interval (no duplicate instant).
        self._loop_ns = track.duration_ns + (int(dt.mean()) if len(dt) else 1)
        self._now_ns = start_ns or 0
        self._next = 0  # live mode: index of the next sample to release (over all loops)

    def _host_time(self, k: int) -> int:
        n = len(self.track)
        loops, i = divmod(k, n)
        assert self.start_ns is not None
        return self.start_ns + loops * self._loop_ns + int(self.track.t_ns[i] - self.track.t_ns[0])

    def _recording_time(self, when_ns: int) -> int:
        assert self.start_ns is not None
        elapsed = int(when_ns) - self.start_ns
        if self.loop and elapsed > 0:
            elapsed %= self._loop_ns
        return int(self.track.t_ns[0]) + elapsed

    def poll(self, now_ns: int) -> None:
        """Start playback on the first call; in live mode release samples up to ``now_ns``."""
        if self.start_ns is None:
            self.start_ns = int(now_ns)
        self._now_ns = max(self._now_ns, int(now_ns))
        if not self.live:
            return
        n = len(self.track)
        while (self.loop or self._next < n) and self._host_time(self._next) <= now_ns:
            i = self._next % n
            self.predictor.add(self._host_time(self._next), self.track.pose(i))
            self._next += 1

    def pose_at(self, when_ns: int) -> Pose:
        """The recorded pose at ``when_ns`` (interpolated; predicted in live mode)."""
        if self.start_ns is None:
            self.poll(when_ns)
        if self.live:
            if len(self.predictor) == 0:
                return self.track.pose(0)
            return self.predictor.predict(int(when_ns))
        return self.track.interpolate(self._recording_time(when_ns))

    @property
    def finished(self) -> bool:
        """True once playback (without loop) has passed the last sample."""
        if self.loop or self.start_ns is None:
            return False
        return self._now_ns - self.start_ns >= self.track.duration_ns


_OPTIONS = {"loop", "live"}


def replay_pose_source(arg: str) -> ReplayPoseSource:
    """Build a replay source from the text after ``replay:`` in ``--pose-source``.

    ``FILE`` or ``FILE?loop``, ``FILE?live``, ``FILE?loop&live``.

    Raises:
        InputError: No file given, unknown option, or a bad file (see :func:`load_pose_file`).
    """
    if not arg:
        raise InputError("replay needs a file: --pose-source replay:FILE.csv|FILE.json")
    path, opts = arg, set()
    if "?" in arg:
        head, _, tail = arg.rpartition("?")
        opts = set(tail.split("&"))
        if not opts <= _OPTIONS:
            raise InputError(
                f"unknown replay option(s) {sorted(opts - _OPTIONS)} in {arg!r}",
                "use replay:FILE, replay:FILE?loop, replay:FILE?live or replay:FILE?loop&live",
            )
        path = head
    return ReplayPoseSource(load_pose_file(path), loop="loop" in opts, live="live" in opts)
