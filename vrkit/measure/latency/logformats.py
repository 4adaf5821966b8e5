"""Sensor logs from other rigs: rpavlik/Latency-Test's gyro CSV, and telling formats apart.

Formats read (``fmt`` of :func:`load_log`):

* ``"vrkit"``: ``t_s,motion,light`` (see :mod:`~vrkit.measure.latency.sensorlog`).
* ``"latency-test"``: the CSV of rpavlik/Latency-Test's "log" firmware and capture script
  (Collabora; github.com/rpavlik/Latency-Test): ``us,drx,dry,drz,brightness`` rows: a timestamp
  in integer microseconds (``micros()`` on the board, or microseconds since the first sample as
  its ``capture.py`` writes them), the gyro's angular rates about x, y and z (rad/s from the
  Nano 33 BLE's LSM9DS1, zero-rate calibrated at start-up) and the photodiode's brightness.
  The header row is optional, and boot messages before the first data row are skipped (as
  captured straight from the serial port). Its own analysis integrates one gyro axis into an
  angle; so does vrkit: the trapezoidal integral of the chosen axis (``"auto"``: the one that
  turns most), minus the constant rate bias that makes the brightness the best monotone
  function of the angle (a leftover zero-rate error would otherwise make the angle drift and
  the gradient seem to move). The angle is in the gyro's unit times seconds (radians).
* ``"auto"``: decided from the header, or from the number of columns (3 or 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.sensorlog import COLUMNS, SensorLog, read_text, rows_to_log, split_rows

LogFormat = Literal["auto", "vrkit", "latency-test"]
GyroAxis = Literal["auto", "x", "y", "z"]
#: rpavlik/Latency-Test's column names, in its order.
LATENCY_TEST_COLUMNS = ("us", "drx", "dry", "drz", "brightness")
FORMATS = ("vrkit", "latency-test")


@dataclass(frozen=True)
class LoadedLog:
    """A log read from a file, with what the reader did to it.

    Attributes:
        log: The log in vrkit's terms (motion and light on one clock).
        fmt: The format it was read as.
        notes: What the reader did (gyro axis and bias, rows skipped), one line each.
    """

    log: SensorLog
    fmt: str
    notes: tuple[str, ...] = ()


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def detect_format(rows: list[list[str]], source: str = "<text>") -> str:
    """Which format ``rows`` (CSV rows, comments removed) are in.

    Args:
        rows: The file's rows.
        source: Name of the input for error messages.

    Returns:
        ``"vrkit"`` or ``"latency-test"``.

    Raises:
        DataError: Neither format fits.
    """
    for row in rows[:200]:
        cells = [c.strip().lower() for c in row]
        if not any(cells):
            continue
        if cells[0] in ("t_s", "t", "time", "time_s") and all(c in cells for c in COLUMNS):
            return "vrkit"
        if cells[: len(LATENCY_TEST_COLUMNS)] == list(LATENCY_TEST_COLUMNS):
            return "latency-test"
        if all(_is_number(c) for c in cells):
            if len(cells) == 3:
                return "vrkit"
            if len(cells) == 5 and cells[0].lstrip("+-").isdigit():
                return "latency-test"
    first = next((r for r in rows if any(c.strip() for c in r)), [])
    raise DataError(
        f"{source}: not a sensor log vrkit knows: the first row is {first[:6]!r}",
        "expected t_s,motion,light (vrkit) or us,drx,dry,drz,brightness (Latency-Test); "
        "see docs/latency.md for wiring other rigs to t_s,motion,light",
    )


def _unwrap_micros(us: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
    """Undo wrap-arounds of a 32-bit microsecond counter (``micros()`` every 71.6 min)."""
    d = np.diff(us)
    wraps = np.flatnonzero(d < -(1 << 31))
    if wraps.size == 0:
        return us, 0
    add = np.zeros(us.size, np.int64)
    for w in wraps:
        add[w + 1 :] += 1 << 32
    return us + add, int(wraps.size)


def gyro_bias(
    t_s: NDArray[np.float64], angle: NDArray[np.float64], light: NDArray[np.float64]
) -> float:
    """The constant gyro rate bias that leaves ``light`` the best monotone function of the angle.

    The bias ``b`` (angle units per second) minimises the residual of an isotonic fit of the
    light on ``angle - b * t`` (rising or falling, whichever fits better).

    Args:
        t_s: (N,) times, seconds.
        angle: (N,) integrated angle.
        light: (N,) brightness.

    Returns:
        The bias rate (0 when the log is too short to tell).
    """
    n = t_s.size
    if n < 64:
        return 0.0
    step = max(1, n // 4000)
    t = t_s[::step] - t_s[0]
    a = angle[::step]
    y = light[::step].astype(np.float64)
    span = float(t[-1]) or 1.0
    reach = float(np.ptp(a)) / span  # a drift as large as the angle's whole range

    def misfit(b: float) -> float:
        x = a - b * t
        order = np.argsort(x, kind="stable")
        ys = y[order]
        up = optimize.isotonic_regression(ys, increasing=True).x
        down = optimize.isotonic_regression(ys, increasing=False).x
        return float(min(np.sum((ys - up) ** 2), np.sum((ys - down) ** 2)))

    grid = np.linspace(-reach, reach, 41)
    costs = np.array([misfit(b) for b in grid])
    i = int(np.argmin(costs))
    lo, hi = grid[max(0, i - 1)], grid[min(grid.size - 1, i + 1)]
    res = optimize.minimize_scalar(misfit, bounds=(lo, hi), method="bounded")
    return float(res.x) if res.fun <= costs[i] else float(grid[i])


def parse_latency_test(
    rows: list[list[str]], source: str = "<text>", axis: GyroAxis = "auto"
) -> LoadedLog:
    """Read rpavlik/Latency-Test rows (``us,drx,dry,drz,brightness``) as a vrkit log.

    Args:
        rows: CSV rows (a header row is optional; lines before the first data row are skipped).
        source: Name of the input for error messages.
        axis: Gyro axis to integrate: ``"x"``, ``"y"``, ``"z"`` or ``"auto"`` (the one with
            the largest spread of rates).

    Returns:
        The log (motion: the integrated angle, light: the brightness) and notes.

    Raises:
        InputError: ``axis`` is not one of the four.
        DataError: No data row, a malformed row after the first (named), or timestamps that
            are not integers.
    """
    if axis not in ("auto", "x", "y", "z"):
        raise InputError(f"gyro axis must be auto, x, y or z, got {axis!r}")
    data: list[list[str]] = []
    skipped = 0
    first_row = None
    for i, row in enumerate(rows):
        cells = [c.strip() for c in row]
        if len(cells) == 5 and all(_is_number(c) for c in cells):
            if first_row is None:
                first_row = i
            data.append(cells)
        elif first_row is None:
            skipped += 1  # header, boot messages, zero-rate calibration printouts
        else:
            raise DataError(
                f"{source}: row {i + 1} is not five numbers us,drx,dry,drz,brightness: {row!r}",
                "remove or repair that row",
            )
    if len(data) < 2:
        raise DataError(
            f"{source}: no us,drx,dry,drz,brightness data rows",
            "record with Latency-Test's log firmware",
        )
    cols = list(zip(*data, strict=True))
    us_txt = np.array(cols[0])
    if not all(c.lstrip("+-").isdigit() for c in us_txt[: min(50, us_txt.size)]):
        raise DataError(
            f"{source}: the first column should be integer microseconds, got {us_txt[0]!r}",
            "check that this is a Latency-Test log",
        )
    us, wraps = _unwrap_micros(us_txt.astype(np.int64))
    rates = np.stack([np.array(c, dtype=np.float64) for c in cols[1:4]])
    light = np.array(cols[4], dtype=np.float64)
    names = ("x", "y", "z")
    if axis == "auto":
        spread = [float(np.percentile(r, 99) - np.percentile(r, 1)) for r in rates]
        k = int(np.argmax(spread))
    else:
        k = names.index(axis)
    t = (us - us[0]).astype(np.float64) * 1e-6
    rate = rates[k]
    angle = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
    bias = 0.0
    if np.all(np.diff(us) > 0):  # otherwise validate() names the bad row
        bias = gyro_bias(t, angle, light)
        angle = angle - bias * t
    log = SensorLog(us * 1000, angle, light)
    notes = [
        f"Latency-Test log: integrated gyro axis {names[k]}"
        + (" (chosen: it turns most)" if axis == "auto" else "")
        + f", rate bias {bias:+.4g}/s removed",
    ]
    if skipped:
        notes.append(f"{skipped} lines before the first data row skipped (header, boot text)")
    if wraps:
        notes.append(f"the microsecond counter wrapped {wraps} times (unwrapped)")
    return LoadedLog(log, "latency-test", tuple(notes))


def load_log(path: str | Path, fmt: LogFormat = "auto", axis: GyroAxis = "auto") -> LoadedLog:
    """Read a sensor log in any format vrkit knows.

    Args:
        path: The file (any encoding: UTF-8 with or without BOM, UTF-16, Latin-1).
        fmt: ``"vrkit"``, ``"latency-test"`` or ``"auto"``.
        axis: Latency-Test logs: the gyro axis to integrate (``"auto"``: the busiest).

    Returns:
        The log and what the reader did.

    Raises:
        InputError: The file does not exist, or ``fmt`` is unknown.
        DataError: The file is binary, in no known format, or has a malformed row.
    """
    if fmt not in ("auto", *FORMATS):
        raise InputError(f"log format must be auto, vrkit or latency-test, got {fmt!r}")
    p = Path(path)
    rows = split_rows(read_text(p))
    kind = detect_format(rows, str(p)) if fmt == "auto" else fmt
    if kind == "latency-test":
        return parse_latency_test(rows, str(p), axis)
    return LoadedLog(rows_to_log(rows, str(p)), "vrkit")
