"""Sensor logs for end-to-end latency: ``t_s,motion,light`` rows, loading and validation.

A sensor log is what a measurement rig records: the time of each sample (seconds on the rig's
clock), the motion sensor's reading (an angle from an encoder, IMU or potentiometer, any unit)
and the photodiode's reading on the lens (any unit). Inside vrkit the times are integer
nanoseconds (``t_ns``); the CSV keeps seconds because that is what firmware prints.

Validation refuses logs from which no honest estimate can be made; each refusal is a
:class:`~vrkit.core.errors.DataError` that says which check failed and on what value.
"""

from __future__ import annotations

import codecs
import csv
import functools
import itertools
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.core.outputs import write_text

#: The CSV header vrkit writes and expects (a header row is optional when reading).
COLUMNS = ("t_s", "motion", "light")


@dataclass(frozen=True)
class SensorLog:
    """Samples of motion and light on one clock.

    Attributes:
        t_ns: (N,) int64 sample times in nanoseconds after ``origin_s`` (rig clock).
        motion: (N,) float64 motion sensor readings (any unit, e.g. degrees).
        light: (N,) float64 photodiode readings (any unit).
        origin_s: Whole seconds added to ``t_ns`` to give the rig's own timestamps (0 unless
            they are too large for int64 nanoseconds, above about 9.2e9 s).
    """

    t_ns: NDArray[np.int64]
    motion: NDArray[np.float64]
    light: NDArray[np.float64]
    origin_s: int = 0

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
        object.__setattr__(self, "origin_s", int(self.origin_s))

    @classmethod
    def from_seconds(cls, t_s: ArrayLike, motion: ArrayLike, light: ArrayLike) -> SensorLog:
        """Build a log from times in seconds (rounded to the nearest nanosecond).

        Times of any size are accepted: above about 9.2e9 s (where int64 nanoseconds end), the
        whole seconds of the first time become ``origin_s``. Float64 times carry about 16
        significant digits; read text with :func:`parse_times` to keep every digit.

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
        origin = 0
        if t.size and float(np.max(np.abs(t))) >= _ORIGIN_ABOVE_S:
            origin = math.floor(float(t[0]))
        rel = t - origin
        if rel.size and float(np.max(np.abs(rel))) >= _ORIGIN_ABOVE_S:
            raise DataError(
                f"sensor log times span {float(np.ptp(t)):.6g} s: more than int64 nanoseconds "
                "can hold",
                "check the time column's unit (t_s is seconds)",
            )
        return cls(np.round(rel * 1e9).astype(np.int64), motion, light, origin)

    def __len__(self) -> int:
        return int(self.t_ns.size)

    @property
    def t_s(self) -> NDArray[np.float64]:
        """(N,) sample times in seconds on the rig's clock.

        Float64: above 1e10 s they are rounded to a few microseconds (:meth:`time_text` is
        exact).
        """
        return self.origin_s + self.t_ns.astype(np.float64) * 1e-9

    def time_text(self, i: int) -> str:
        """The rig's timestamp of sample ``i`` in seconds, exact to the nanosecond."""
        ns = int(self.t_ns[i])
        whole, frac = divmod(ns, 1_000_000_000)
        return f"{self.origin_s + whole}.{frac:09d}"

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample, seconds (0 for fewer than 2 samples)."""
        return float(self.t_ns[-1] - self.t_ns[0]) * 1e-9 if len(self) > 1 else 0.0

    @functools.cached_property
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
        return SensorLog(self.t_ns[keep], self.motion[keep], self.light[keep], self.origin_s)


#: Times at or above this many seconds are stored after an origin (int64 ns end at 9.22e9 s).
_ORIGIN_ABOVE_S = 9.0e9


def parse_times(
    texts: list[str] | NDArray[np.str_], source: str = "<text>"
) -> tuple[int, NDArray[np.int64]]:
    """Parse decimal time stamps in seconds exactly, whatever their size.

    Args:
        texts: (N,) time stamps as text (``12.345678``, ``-1.5``, ``1.2e10``).
        source: Name of the input for error messages.

    Returns:
        ``(origin_s, t_ns)``: whole seconds of the first time (0 when every time fits int64
        nanoseconds) and (N,) nanoseconds after it.

    Raises:
        DataError: A time is not a finite number (naming the data row, counted from 1), or
            the times span more than int64 nanoseconds hold (292 years).
    """
    arr = np.char.strip(np.asarray(texts, dtype=str))
    n = arr.size
    if n == 0:
        return 0, np.zeros(0, np.int64)
    parts = np.char.partition(arr, ".")
    whole_txt, frac_txt = parts[:, 0], parts[:, 2]
    neg = np.char.startswith(whole_txt, "-")
    digits = np.char.lstrip(whole_txt, "+-")
    plain = (
        ((digits == "") | np.char.isdigit(digits))
        & ((frac_txt == "") | np.char.isdigit(frac_txt))
        & (np.char.str_len(digits) <= 18)
        & ((np.char.str_len(digits) > 0) | (np.char.str_len(frac_txt) > 0))
        & (np.char.str_len(whole_txt) - np.char.str_len(digits) <= 1)
    )
    wi = np.zeros(n, np.int64)
    fi = np.zeros(n, np.int64)
    if plain.any():
        d = np.where(digits[plain] == "", "0", digits[plain])
        f = np.char.ljust(frac_txt[plain], 9, "0").astype("U9")
        sign = np.where(neg[plain], -1, 1)
        wi[plain] = sign * d.astype(np.int64)
        fi[plain] = sign * f.astype(np.int64)  # digits past the 9th are cut (sub-ns)
    for i in np.flatnonzero(~plain):
        try:
            dec = Decimal(str(arr[i]))
        except InvalidOperation:
            dec = None
        if dec is None or not dec.is_finite() or abs(dec) >= Decimal(10) ** 18:
            raise DataError(
                f"{source}: time t_s is not a usable number at data row {i + 1}: {str(arr[i])!r}",
                "remove or repair that row",
            )
        total = int((dec * 1_000_000_000).to_integral_value(rounding=ROUND_HALF_EVEN))
        q, r = divmod(abs(total), 1_000_000_000)
        wi[i], fi[i] = (q, r) if total >= 0 else (-q, -r)
    origin = 0
    limit = int(_ORIGIN_ABOVE_S)
    if int(np.max(np.abs(wi))) >= limit:
        origin = int(wi[0])
    rel_whole = wi - origin
    if int(np.max(np.abs(rel_whole))) >= limit:
        raise DataError(
            f"{source}: the times span more than int64 nanoseconds hold (first "
            f"{str(arr[0])!r}, extreme {str(arr[int(np.argmax(np.abs(rel_whole)))])!r})",
            "check the time column's unit (t_s is seconds)",
        )
    return origin, rel_whole * 1_000_000_000 + fi


def read_text(path: str | Path) -> str:
    """Read a text log, whatever its encoding.

    UTF-8 (with or without the BOM Excel writes), UTF-16 with a BOM, otherwise Latin-1 (every
    byte is a character; the numbers are ASCII either way).

    Args:
        path: The file.

    Returns:
        Its text.

    Raises:
        InputError: The file does not exist.
        DataError: It is binary (NUL bytes without a UTF-16 BOM).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"sensor log {str(p)!r} does not exist", "check the path")
    raw = p.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    nul = raw.find(b"\x00", 0, 65536)
    if nul >= 0:
        raise DataError(
            f"{str(p)!r} is a binary file, not a text log (a NUL byte at offset {nul})",
            "export the log as CSV text",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_rows(text: str) -> list[list[str]]:
    """CSV rows of ``text``, comma, semicolon or tab separated.

    The separator is the most common one on the first lines; with semicolons or tabs a decimal
    comma (``1,5``) is read as a point.

    Blank lines and lines starting with ``#`` are dropped.
    """
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    head = lines[:20]
    counts = {d: sum(ln.count(d) for ln in head) for d in (",", ";", "\t")}
    delim = ","
    if counts[";"] > 0 and counts[";"] >= counts[","] / 2:
        delim = ";"
    elif counts["\t"] > 0 and counts[","] == 0:
        delim = "\t"
    rows = list(csv.reader(lines, delimiter=delim))
    if delim != ",":
        rows = [[c.replace(",", ".") for c in r] for r in rows]
    return rows


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def rows_to_log(text_rows: list[list[str]], source: str) -> SensorLog:
    """A log from ``t_s,motion,light`` CSV rows (header row optional, columns in any order).

    Args:
        text_rows: The rows, split into cells.
        source: Name of the input for error messages.

    Raises:
        DataError: No data rows, a header without the three columns, or a row that is not
            three numbers (named, counting data rows from 1).
    """
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
        first = [c.strip() for c in rows[0]] if rows else []
        if first and not any(_number(c) for c in first):
            raise DataError(
                f"{source}: header {first} does not name the columns {list(COLUMNS)}",
                "for another rig's log pass --format (auto, latency-test), or write the header "
                "as t_s,motion,light",
            )
    if not rows:
        raise DataError(f"{source}: no data rows", "record a log with t_s,motion,light rows")
    width = max(order) + 1
    short = [i for i, r in enumerate(rows) if len(r) < width]
    if short:
        i = short[0]
        raise DataError(
            f"{source}: row {i + 1} is not three numbers t_s,motion,light: {rows[i]!r}",
            "remove or repair that row",
        )
    cols = [[r[j] for r in rows] for j in order]
    values = []
    for name, col in zip(COLUMNS[1:], cols[1:], strict=True):
        try:
            values.append(np.array(col, dtype=np.float64))
        except ValueError:
            for i, c in enumerate(col):
                try:
                    float(c)
                except ValueError:
                    raise DataError(
                        f"{source}: row {i + 1} is not three numbers t_s,motion,light: "
                        f"{rows[i]!r} ({name} is {c.strip()!r})",
                        "remove or repair that row",
                    ) from None
            raise
    try:
        origin, t_ns = parse_times(cols[0], source)
    except DataError:
        for i, c in enumerate(cols[0]):
            try:
                float(c)
            except ValueError:
                raise DataError(
                    f"{source}: row {i + 1} is not three numbers t_s,motion,light: {rows[i]!r}",
                    "remove or repair that row",
                ) from None
        raise
    return SensorLog(t_ns, values[0], values[1], origin)


def load_csv(path: str | Path) -> SensorLog:
    """Read a ``t_s,motion,light`` CSV.

    The header row is optional; any encoding (see :func:`read_text`); comma, semicolon or tab
    separated.

    Args:
        path: The CSV file.

    Returns:
        The log, not yet validated (see :func:`validate`).

    Raises:
        InputError: The file does not exist.
        DataError: A row is not three numbers, or the file is binary.
    """
    return rows_to_log(split_rows(read_text(path)), str(Path(path)))


def parse_csv_text(text: str, source: str = "<text>") -> SensorLog:
    """Parse CSV text with ``t_s,motion,light`` rows (header optional)."""
    return rows_to_log(split_rows(text.lstrip("\ufeff")), source)


def save_csv(log: SensorLog, path: str | Path) -> Path:
    """Write a log as ``t_s,motion,light`` CSV with a header row.

    Times are written with nanosecond resolution; readings with 9 significant digits. The file
    is written under a temporary name in the same folder and renamed when complete.

    Args:
        log: The log.
        path: Output file.

    Returns:
        The path written.
    """
    p = Path(path)
    whole = log.t_ns // 1_000_000_000 + log.origin_s
    frac = log.t_ns % 1_000_000_000
    t_txt = np.char.add(np.char.add(whole.astype(str), "."), np.char.zfill(frac.astype(str), 9))
    body = np.char.add(
        np.char.add(np.char.add(t_txt, ","), np.char.mod("%.9g", log.motion)),
        np.char.add(",", np.char.mod("%.9g", log.light)),
    )
    return write_text(p, ",".join(COLUMNS) + "\n" + "\n".join(body.tolist()) + "\n")


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
                f"(t_s={log.time_text(int(bad[0]))}, value {col[bad[0]]!r})",
                "drop or repair those rows; vrkit does not guess missing readings",
            )
    dt = np.diff(log.t_ns)
    if np.any(dt < 0):
        i = int(np.flatnonzero(dt < 0)[0]) + 1
        raise DataError(
            f"sensor log timestamps are not sorted: row {i} (t_s={log.time_text(i)}) "
            f"is earlier than row {i - 1} (t_s={log.time_text(i - 1)})",
            "sort the log by time, or check the rig's clock for wrap-around",
        )
    if np.any(dt == 0):
        dup = np.flatnonzero(dt == 0)
        i = int(dup[0]) + 1
        raise DataError(
            f"sensor log has {dup.size} duplicate timestamps, first at row {i} "
            f"(t_s={log.time_text(i)})",
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
    if float(np.ptp(log.light)) == 0.0:
        raise DataError(
            f"light signal is constant: every reading is {log.light[0]:.6g}",
            "check that the photodiode sees the panel and the gradient scene is running",
        )
    # Judged on the light averaged over 25 ms (a frame at 40 Hz or more), so that a
    # low-persistence panel's pulses (huge sample-to-sample steps) do not pass for noise.
    w = max(1, round(0.025 * log.rate_hz))
    if w == 1 or log.light.size <= w:
        smooth = log.light
    else:
        csum = np.concatenate([[0.0], np.cumsum(log.light - log.light[0])])
        smooth = (csum[w:] - csum[:-w]) / w
    l_range = float(np.ptp(smooth)) if smooth.size > 1 else 0.0
    l_noise = noise_sigma(smooth) if smooth.size > 2 else 0.0
    if l_range == 0.0 or l_range < c.min_light_range_noise * l_noise:
        raise DataError(
            f"light signal is only noise: range {l_range:.6g} against sample-to-sample noise "
            f"{l_noise:.3g} (need {c.min_light_range_noise:g}x the noise; both over 25 ms "
            "averages)",
            "check that the photodiode sees the panel and the gradient scene is running",
        )
    return log


def resample_uniform(
    log: SensorLog, rate_hz: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Linearly interpolate a validated log onto one uniform time grid.

    For logs without long gaps (video tracks); :func:`uniform_runs` splits a log at its gaps.

    Args:
        log: A log that passed :func:`validate`.
        rate_hz: Grid rate; the log's median rate when None.

    Returns:
        ``(t_s, motion, light)``: (K,) grid times in seconds since the first sample and the
        two signals on that grid.

    Raises:
        DataError: The grid would hold more than twice the samples the log's own rate gives
            its readings (a time gap).
    """
    rate = float(rate_hz) if rate_hz else log.rate_hz
    if not rate > 0:
        raise DataError(f"cannot resample a log at rate {rate!r} Hz")
    rel = (log.t_ns - log.t_ns[0]).astype(np.float64) * 1e-9
    k = math.floor(rel[-1] * rate) + 1
    if k > 2 * len(log) * max(1.0, rate / log.rate_hz) + 1000:
        i = int(np.argmax(np.diff(rel))) + 1
        raise DataError(
            f"sensor log has a time gap of {rel[i] - rel[i - 1]:.3f} s before row {i}: "
            f"{k} grid samples for {len(log)} readings",
            "split the log at the gap",
        )
    grid = np.arange(k, dtype=np.float64) / rate
    return grid, np.interp(grid, rel, log.motion), np.interp(grid, rel, log.light)


@dataclass(frozen=True)
class Run:
    """A stretch of a log without long gaps, on a uniform grid.

    Attributes:
        start_s: Time of its first grid sample, seconds since the log's first sample.
        motion: (K,) motion on the grid (linear between readings).
        light: (K,) light on the grid. Inside a gap it is the mean of the readings within
            ``fill_window_s`` around the sample, so that a flickering (pulsed) light is not
            interpolated between one bright and one dark reading.
        filled: (K,) True inside gaps longer than ``fill_ok_s`` (their light is only a local
            mean: not to be trusted for timing).
    """

    start_s: float
    motion: NDArray[np.float64]
    light: NDArray[np.float64]
    filled: NDArray[np.bool_]


@dataclass(frozen=True)
class UniformLog:
    """A log cut at its long gaps into runs on one uniform sample rate.

    Attributes:
        rate_hz: Grid rate, Hz.
        runs: The runs, in time order.
        short_gaps: Gaps filled inside the runs (dropped samples).
        filled_samples: Grid samples inside those gaps.
        long_gaps: ``(start_s, length_s)`` of each gap the log was cut at.
        dropped_runs: Runs left out because they were shorter than ``min_run_s``.
        dropped_samples: Readings in those runs.
    """

    rate_hz: float
    runs: list[Run]
    short_gaps: int
    filled_samples: int
    long_gaps: list[tuple[float, float]]
    dropped_runs: int
    dropped_samples: int

    @property
    def samples(self) -> int:
        """Grid samples over all runs."""
        return sum(r.motion.size for r in self.runs)


def uniform_runs(
    log: SensorLog,
    rate_hz: float | None = None,
    *,
    max_gap_s: float | None = None,
    min_run_s: float = 0.0,
    fill_window_s: float = 0.025,
    fill_ok_s: float = 0.012,
) -> UniformLog:
    """Put a validated log on a uniform grid, cutting it at long gaps.

    Memory grows with the readings, not the time span: a gap longer than ``max_gap_s`` ends a
    run, so a log with a last row 1e5 s late costs no more than its readings.

    Args:
        log: A log that passed :func:`validate`.
        rate_hz: Grid rate; the log's median rate when None.
        max_gap_s: Longest gap filled inside a run, seconds (default: 50 ms or 20 sample
            periods, whichever is longer).
        min_run_s: Runs shorter than this are left out (and counted), seconds.
        fill_window_s: Light averaging window around each filled sample, seconds.
        fill_ok_s: Gaps up to this long are filled and trusted (dropped samples); the
            samples of longer ones are marked in :attr:`Run.filled`, seconds.

    Returns:
        The runs and what was cut or filled.

    Raises:
        DataError: The rate is not positive, or the filled samples outnumber the readings.
    """
    rate = float(rate_hz) if rate_hz else log.rate_hz
    if not rate > 0:
        raise DataError(f"cannot resample a log at rate {rate!r} Hz")
    period = 1.0 / rate
    max_gap = max(0.05, 20 * period) if max_gap_s is None else float(max_gap_s)
    rel = (log.t_ns - log.t_ns[0]).astype(np.float64) * 1e-9
    dt = np.diff(rel)
    cuts = np.flatnonzero(dt > max_gap) + 1
    bounds = np.concatenate([[0], cuts, [rel.size]])
    runs: list[Run] = []
    short_gaps = filled_total = dropped_runs = dropped_samples = 0
    long_gaps = [(float(rel[c - 1]), float(dt[c - 1])) for c in cuts]
    cum_light = np.concatenate([[0.0], np.cumsum(log.light)])
    for a, b in itertools.pairwise(bounds):
        tr = rel[a:b]
        if b - a < 2 or tr[-1] - tr[0] < min_run_s:
            dropped_runs += 1
            dropped_samples += int(b - a)
            continue
        k = math.floor((tr[-1] - tr[0]) * rate + 1e-9) + 1
        grid = tr[0] + np.arange(k) / rate
        motion = np.interp(grid, tr, log.motion[a:b])
        light = np.interp(grid, tr, log.light[a:b])
        filled = np.zeros(k, bool)
        gaps = np.flatnonzero(np.diff(tr) > 1.5 * period)
        if gaps.size:
            short_gaps += int(gaps.size)
            g0, g1 = tr[gaps], tr[gaps + 1]
            # grid samples at least half a period from both readings around each gap
            lo = np.searchsorted(grid, g0 + 0.5 * period, side="left")
            hi = np.searchsorted(grid, g1 - 0.5 * period, side="right")
            inside = np.concatenate(
                [np.arange(i0, i1) for i0, i1 in zip(lo, hi, strict=True) if i1 > i0]
                or [np.zeros(0, int)]
            ).astype(int)
            if inside.size:
                # light: the mean of the readings within fill_window_s around the sample
                # (right for a held light, and the envelope of a pulsed one)
                gt = grid[inside]
                w0 = a + np.searchsorted(tr, gt - fill_window_s / 2, side="left")
                w1 = a + np.searchsorted(tr, gt + fill_window_s / 2, side="right")
                light[inside] = (cum_light[w1] - cum_light[w0]) / np.maximum(w1 - w0, 1)
                filled_total += int(inside.size)
                long_fill = (g1 - g0) > fill_ok_s
                for i0, i1 in zip(lo[long_fill], hi[long_fill], strict=True):
                    filled[i0:i1] = True
        runs.append(Run(float(grid[0]), motion, light, filled))
    if filled_total > len(log):
        raise DataError(
            f"sensor log is mostly gaps: {filled_total} grid samples would be filled for "
            f"{len(log)} readings at {rate:g} Hz",
            "check the rig's sample rate and the time column",
        )
    return UniformLog(
        rate, runs, short_gaps, filled_total, long_gaps, dropped_runs, dropped_samples
    )
