"""Sensor logs for end-to-end latency: ``t_s,motion,light`` rows, loading and validation.

A sensor log is what a measurement rig records: the time of each sample (seconds on the rig's
clock), the motion sensor's reading (an angle from an encoder, IMU or potentiometer, any unit)
and the photodiode's reading on the lens (any unit). Inside vrkit the times are integer
nanoseconds (``t_ns``); the CSV keeps seconds because that is what firmware prints.

Validation refuses logs from which no honest estimate can be made; each refusal is a
:class:`~vrkit.core.errors.DataError` that says which check failed and on what value.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.errors import DataError, InputError

#: The CSV header vrkit writes and expects (a header row is optional when reading).
COLUMNS = ("t_s", "motion", "light")


@dataclass(frozen=True)
class SensorLog:
    """Samples of motion and light on one clock.

    Attributes:
        t_ns: (N,) int64 sample times in nanoseconds (rig clock; any origin).
        motion: (N,) float64 motion sensor readings (any unit, e.g. degrees).
        light: (N,) float64 photodiode readings (any unit).
    """

    t_ns: NDArray[np.int64]
    motion: NDArray[np.float64]
    light: NDArray[np.float64]

    def __post_init__(self) -> None:
        t = np.asarray(self.t_ns)
        m = np.asarray(self.motion, dtype=np.float64)
        li = np.asarray(self.light, dtype=np.float64)
        if t.ndim != 1 or m.shape != t.shape or li.shape != t.shape:
            raise InputError(
                "a sensor log needs three 1-D columns of equal length, got shapes "
                f"t={t.shape}, motion={m.shape}, light={li.shape}"
            )
        if not np.issubdtype(t.dtype, np.integer):
            raise InputError(f"SensorLog.t_ns must be integer nanoseconds, got dtype {t.dtype}")
        object.__setattr__(self, "t_ns", t.astype(np.int64))
        object.__setattr__(self, "motion", m)
        object.__setattr__(self, "light", li)

    @classmethod
    def from_seconds(cls, t_s: ArrayLike, motion: ArrayLike, light: ArrayLike) -> SensorLog:
        """Build a log from times in seconds (rounded to the nearest nanosecond).

        Args:
            t_s: (N,) sample times in seconds.
            motion: (N,) motion readings.
            light: (N,) light readings.
        """
        t = np.asarray(t_s, dtype=np.float64)
        if not np.all(np.isfinite(t)):
            bad = int(np.flatnonzero(~np.isfinite(t))[0])
            raise DataError(
                f"sensor log time t_s is not a finite number at row {bad} ({t[bad]!r})",
                "remove or repair that row",
            )
        return cls(np.round(t * 1e9).astype(np.int64), motion, light)

    def __len__(self) -> int:
        return int(self.t_ns.size)

    @property
    def t_s(self) -> NDArray[np.float64]:
        """(N,) sample times in seconds."""
        return self.t_ns.astype(np.float64) * 1e-9

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample, seconds (0 for fewer than 2 samples)."""
        return float(self.t_ns[-1] - self.t_ns[0]) * 1e-9 if len(self) > 1 else 0.0

    @property
    def rate_hz(self) -> float:
        """Median sample rate in Hz (0 when it cannot be told)."""
        if len(self) < 2:
            return 0.0
        dt = float(np.median(np.diff(self.t_ns)))
        return 1e9 / dt if dt > 0 else 0.0

    def slice_s(self, start_s: float, stop_s: float) -> SensorLog:
        """Samples with ``start_s <= t - t0 < stop_s`` (seconds since the first sample)."""
        rel = self.t_ns - self.t_ns[0]
        keep = (rel >= round(start_s * 1e9)) & (rel < round(stop_s * 1e9))
        return SensorLog(self.t_ns[keep], self.motion[keep], self.light[keep])


def _parse_rows(text_rows: list[list[str]], source: str) -> SensorLog:
    rows = [r for r in text_rows if r and any(c.strip() for c in r)]
    if rows and rows[0] and rows[0][0].strip().lower() in ("t_s", "t", "time", "time_s"):
        header = [c.strip().lower() for c in rows[0]]
        rows = rows[1:]
        try:
            order = [header.index(c) for c in COLUMNS]
        except ValueError as exc:
            raise DataError(
                f"{source}: header {header} does not name the columns {list(COLUMNS)}",
                "write the header as t_s,motion,light",
            ) from exc
    else:
        order = [0, 1, 2]
    if not rows:
        raise DataError(f"{source}: no data rows", "record a log with t_s,motion,light rows")
    values = np.empty((len(rows), 3), dtype=np.float64)
    for i, row in enumerate(rows):
        try:
            values[i] = [float(row[j]) for j in order]
        except (ValueError, IndexError) as exc:
            raise DataError(
                f"{source}: row {i + 1} is not three numbers t_s,motion,light: {row!r}",
                "remove or repair that row",
            ) from exc
    return SensorLog.from_seconds(values[:, 0], values[:, 1], values[:, 2])


def load_csv(path: str | Path) -> SensorLog:
    """Read a ``t_s,motion,light`` CSV (header row optional).

    Args:
        path: The CSV file.

    Returns:
        The log, not yet validated (see :func:`validate`).

    Raises:
        InputError: The file does not exist.
        DataError: A row is not three numbers.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"sensor log {str(p)!r} does not exist", "check the path")
    with p.open(newline="") as fh:
        return _parse_rows(list(csv.reader(fh)), str(p))


def parse_csv_text(text: str, source: str = "<text>") -> SensorLog:
    """Parse CSV text with ``t_s,motion,light`` rows (header optional)."""
    return _parse_rows(list(csv.reader(io.StringIO(text))), source)


def save_csv(log: SensorLog, path: str | Path) -> Path:
    """Write a log as ``t_s,motion,light`` CSV with a header row.

    Times are written with nanosecond resolution; readings with 9 significant digits.

    Args:
        log: The log.
        path: Output file.

    Returns:
        The path written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    whole = log.t_ns // 1_000_000_000
    frac = log.t_ns % 1_000_000_000
    t_txt = np.char.add(np.char.add(whole.astype(str), "."), np.char.zfill(frac.astype(str), 9))
    body = np.char.add(
        np.char.add(np.char.add(t_txt, ","), np.char.mod("%.9g", log.motion)),
        np.char.add(",", np.char.mod("%.9g", log.light)),
    )
    p.write_text(",".join(COLUMNS) + "\n" + "\n".join(body.tolist()) + "\n")
    return p


@dataclass(frozen=True)
class LogChecks:
    """Thresholds :func:`validate` applies.

    Attributes:
        min_samples: Fewest samples for an estimate.
        min_duration_s: Shortest log, seconds.
        min_motion_range_noise: The motion's range must exceed this many times its
            sample-to-sample noise.
        min_light_range_noise: Same for the light signal.
    """

    min_samples: int = 64
    min_duration_s: float = 1.0
    min_motion_range_noise: float = 20.0
    min_light_range_noise: float = 10.0


def noise_sigma(x: NDArray[np.float64]) -> float:
    """Robust white-noise level from first differences (MAD of diff / sqrt(2))."""
    d = np.diff(x)
    mad = float(np.median(np.abs(d - np.median(d))))
    return 1.4826 * mad / math.sqrt(2.0)


def validate(log: SensorLog, checks: LogChecks | None = None) -> SensorLog:
    """Check that a log can support a latency estimate.

    Args:
        log: The log to check.
        checks: Thresholds; defaults when None.

    Returns:
        The same log, when every check passes.

    Raises:
        DataError: Too few samples or too short; timestamps not strictly increasing
            (unsorted or duplicated, naming the first offending row); a NaN or infinite
            reading; motion that does not vary; a light signal that is constant.
    """
    c = checks or LogChecks()
    n = len(log)
    if n < c.min_samples:
        raise DataError(
            f"sensor log is too short: {n} samples, need at least {c.min_samples}",
            "record a longer log",
        )
    for name, col in (("motion", log.motion), ("light", log.light)):
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            raise DataError(
                f"sensor log has {bad.size} non-finite {name} readings, first at row {bad[0]} "
                f"(t_s={log.t_ns[bad[0]] * 1e-9:.6f}, value {col[bad[0]]!r})",
                "drop or repair those rows; vrkit does not guess missing readings",
            )
    dt = np.diff(log.t_ns)
    if np.any(dt < 0):
        i = int(np.flatnonzero(dt < 0)[0]) + 1
        raise DataError(
            f"sensor log timestamps are not sorted: row {i} (t_s={log.t_ns[i] * 1e-9:.9f}) "
            f"is earlier than row {i - 1} (t_s={log.t_ns[i - 1] * 1e-9:.9f})",
            "sort the log by time, or check the rig's clock for wrap-around",
        )
    if np.any(dt == 0):
        dup = np.flatnonzero(dt == 0)
        i = int(dup[0]) + 1
        raise DataError(
            f"sensor log has {dup.size} duplicate timestamps, first at row {i} "
            f"(t_s={log.t_ns[i] * 1e-9:.9f})",
            "each sample needs its own time; check the firmware's timestamp resolution",
        )
    if log.duration_s < c.min_duration_s:
        raise DataError(
            f"sensor log is too short: {log.duration_s:.3f} s, need at least "
            f"{c.min_duration_s:g} s",
            "record a longer log",
        )
    m_range = float(np.ptp(log.motion))
    m_noise = noise_sigma(log.motion)
    if m_range == 0.0 or m_range < c.min_motion_range_noise * m_noise:
        raise DataError(
            f"motion does not vary: range {m_range:.6g} against sample-to-sample noise "
            f"{m_noise:.3g} (need {c.min_motion_range_noise:g}x the noise)",
            "move the headset (or the motion sensor) during the recording",
        )
    l_range = float(np.ptp(log.light))
    l_noise = noise_sigma(log.light)
    if l_range == 0.0:
        raise DataError(
            f"light signal is constant: every reading is {log.light[0]:.6g}",
            "check that the photodiode sees the panel and the gradient scene is running",
        )
    if l_range < c.min_light_range_noise * l_noise:
        raise DataError(
            f"light signal is only noise: range {l_range:.6g} against sample-to-sample noise "
            f"{l_noise:.3g} (need {c.min_light_range_noise:g}x the noise)",
            "check that the photodiode sees the panel and the gradient scene is running",
        )
    return log


def resample_uniform(
    log: SensorLog, rate_hz: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Linearly interpolate a validated log onto a uniform time grid.

    Args:
        log: A log that passed :func:`validate`.
        rate_hz: Grid rate; the log's median rate when None.

    Returns:
        ``(t_s, motion, light)``: (K,) grid times in seconds since the first sample and the
        two signals on that grid.
    """
    rate = float(rate_hz) if rate_hz else log.rate_hz
    if not rate > 0:
        raise DataError(f"cannot resample a log at rate {rate!r} Hz")
    rel = (log.t_ns - log.t_ns[0]).astype(np.float64) * 1e-9
    k = math.floor(rel[-1] * rate) + 1
    grid = np.arange(k, dtype=np.float64) / rate
    return grid, np.interp(grid, rel, log.motion), np.interp(grid, rel, log.light)
