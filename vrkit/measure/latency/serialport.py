"""Live sensor logs from a microcontroller rig over a serial port (pyserial).

The rig's firmware prints one ``t_s,motion,light`` line per sample (its own clock in seconds,
the motion sensor reading, the photodiode reading), e.g. ``12.345678,1023,377``. Lines that
start with ``#`` are comments, a ``t_s,motion,light`` header is skipped, and anything before
the first good line (boot messages) is ignored. The first line after the port opens is always
dropped: the rig was already talking, so it may be the tail of a line cut in half, which can
still parse as three (wrong) numbers.

Reading never hangs: each line waits at most ``timeout_s``, and the whole recording stops after
``max_wall_s`` of host time. The recording ends when the *rig's* clock has advanced by
``duration_s``, so the log's length does not depend on host scheduling. This module is an edge:
it reads the host clock only for those deadlines, through the ``monotonic`` parameter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.sensorlog import SensorLog

#: Baud rate for a 1 kHz rig: ~25 bytes a line need ~250 kbit/s; 1 Mbaud is exact on 16 MHz AVRs
#: (native-USB boards ignore the setting).
DEFAULT_BAUD = 1_000_000


@dataclass
class SerialReadStats:
    """What a serial recording saw besides the samples.

    Attributes:
        lines: Sample lines accepted.
        ignored_before_start: Lines before the first good one (boot messages, cut lines),
            including the first line, which is always dropped.
        comments: ``#`` lines and headers.
        bad_lines: Malformed lines after the start (skipped).
        first_bad: The first malformed line, for the report.
        wall_s: Host seconds spent reading.
    """

    lines: int = 0
    ignored_before_start: int = 0
    comments: int = 0
    bad_lines: int = 0
    first_bad: str | None = None
    wall_s: float = 0.0


def parse_line(raw: bytes | str) -> tuple[float, float, float] | None:
    """Parse one ``t_s,motion,light`` line.

    Args:
        raw: The line, with or without its line ending.

    Returns:
        The three numbers, or None for a blank line, a ``#`` comment or a header.

    Raises:
        ValueError: The line is not three finite numbers.
    """
    text = raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    if not text or text.startswith("#") or text.lower().startswith("t_s"):
        return None
    parts = text.split(",")
    if len(parts) != 3:
        raise ValueError(f"expected 3 comma-separated values, got {len(parts)}")
    values = tuple(float(p) for p in parts)
    if not all(math.isfinite(v) for v in values):
        raise ValueError("not finite")
    return values  # type: ignore[return-value]


def open_port(port: str, baudrate: int = DEFAULT_BAUD, timeout_s: float = 1.0) -> Any:
    """Open a serial port or a pyserial URL (``/dev/ttyACM0``, ``COM3``, ``loop://``).

    Args:
        port: Device path or pyserial URL.
        baudrate: Bits per second.
        timeout_s: Read timeout of one line, seconds.

    Returns:
        The open ``serial.SerialBase``.

    Raises:
        InputError: The port cannot be opened (missing, busy, no permission), naming it.
    """
    import serial

    if not timeout_s > 0:
        raise InputError(f"the serial timeout must be positive, got {timeout_s}")
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=timeout_s)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise InputError(
            f"cannot open serial port {port!r}: {exc}",
            "check the cable and the port name (list them with "
            "`python -m serial.tools.list_ports`); on Linux your user needs the dialout group",
        ) from exc


def read_serial_log(
    port: str | Any,
    *,
    duration_s: float,
    baudrate: int = DEFAULT_BAUD,
    timeout_s: float = 1.0,
    max_wall_s: float | None = None,
    max_bad_fraction: float = 0.01,
    progress: Callable[[float], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    drop_first: bool = True,
) -> tuple[SensorLog, SerialReadStats]:
    """Record ``duration_s`` of rig time from a serial port.

    Args:
        port: A port name / pyserial URL (opened and closed here), or an open pyserial
            port (left open; its own read timeout applies).
        duration_s: Stop once the rig's clock has advanced this far, seconds.
        baudrate: Bits per second when opening ``port`` by name.
        timeout_s: Longest wait for one line, seconds, when opening by name.
        max_wall_s: Longest recording in host time (default ``1.5 * duration_s + 2 *
            timeout_s``).
        max_bad_fraction: Malformed lines (after the start) tolerated, as a fraction of the
            good ones (at least 10 are tolerated).
        progress: Called with the rig seconds recorded so far, after each line.
        monotonic: Host clock in seconds (for the deadlines only).
        drop_first: Drop the first line read (it may be cut); False only for a port known to
            be at a line boundary.

    Returns:
        The log (not yet validated) and what else the port sent.

    Raises:
        InputError: The port cannot be opened, or ``duration_s`` is not positive.
        DataError: No line arrived within the timeout, too many lines were malformed, or the
            rig's clock did not advance by ``duration_s`` before ``max_wall_s``.
    """
    if not duration_s > 0:
        raise InputError(f"duration must be positive, got {duration_s}")
    owned = isinstance(port, str)
    ser = open_port(port, baudrate, timeout_s) if owned else port
    name = port if owned else getattr(ser, "name", None) or getattr(ser, "portstr", "port")
    line_timeout = float(getattr(ser, "timeout", None) or timeout_s)
    wall_limit = 1.5 * duration_s + 2 * line_timeout if max_wall_s is None else max_wall_s
    stats = SerialReadStats()
    rows: list[tuple[float, float, float]] = []
    start = monotonic()
    try:
        while True:
            now = monotonic()
            if now - start > wall_limit:
                got = rows[-1][0] - rows[0][0] if rows else 0.0
                raise DataError(
                    f"after {now - start:.1f} s of reading {name}, the rig's clock advanced "
                    f"only {got:.3f} s of the {duration_s:g} s asked for ({len(rows)} lines)",
                    "check that the firmware prints t_s in seconds and keeps sending",
                )
            raw = ser.readline()
            if not raw:
                raise DataError(
                    f"no data from {name} for {line_timeout:g} s after {len(rows)} lines",
                    "check the baud rate, the wiring, and that the firmware prints "
                    "t_s,motion,light lines",
                )
            if drop_first:
                drop_first = False
                stats.ignored_before_start += 1
                continue
            try:
                row = parse_line(raw)
            except ValueError:
                text = raw.decode("ascii", errors="replace").strip()
                if not rows:
                    stats.ignored_before_start += 1
                    if stats.ignored_before_start > 101:
                        raise DataError(
                            f"{name} sent 100 lines but none is t_s,motion,light; the last "
                            f"was {text[:60]!r}",
                            "check the baud rate and the firmware's output format",
                        ) from None
                    continue
                stats.bad_lines += 1
                stats.first_bad = stats.first_bad or text[:80]
                if stats.bad_lines > max(10, max_bad_fraction * len(rows)):
                    raise DataError(
                        f"{stats.bad_lines} malformed lines from {name} among {len(rows)} "
                        f"good ones; the first was {stats.first_bad!r}",
                        "lower the sample rate or raise the baud rate (lines are being cut)",
                    ) from None
                continue
            if row is None:
                stats.comments += 1
                continue
            rows.append(row)
            span = row[0] - rows[0][0]
            if progress is not None:
                progress(span)
            if span >= duration_s:
                break
    finally:
        stats.wall_s = monotonic() - start
        if owned:
            ser.close()
    stats.lines = len(rows)
    values = np.array(rows, dtype=np.float64)
    return SensorLog.from_seconds(values[:, 0], values[:, 1], values[:, 2]), stats
