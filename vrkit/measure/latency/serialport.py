"""Live sensor logs from a microcontroller rig over a serial port (pyserial).

The rig's firmware prints one ``t_s,motion,light`` line per sample (its own clock in seconds,
the motion sensor reading, the photodiode reading), e.g. ``12.345678,1023,377``. Lines that
start with ``#`` are comments, a ``t_s,motion,light`` header is skipped, and anything before
the first good line (boot messages) is ignored. The first line after the port opens is always
dropped: the rig was already talking, so it may be the tail of a line cut in half, which can
still parse as three (wrong) numbers.

Reading never hangs: each line waits at most ``timeout_s``, and the whole recording stops after
``max_wall_s`` of host time. The recording ends when the *rig's* clock has advanced by
``duration_s``, so the log's length does not depend on host scheduling. Nothing received is
lost: accepted lines are streamed to the ``save`` file as they arrive, and a port that fails
mid-recording (cable pulled), a rig that falls silent, or Ctrl-C ends the recording with what
was received. rpavlik/Latency-Test's ``us,drx,dry,drz,brightness`` lines are read too
(``fmt="latency-test"``). This module is an edge: it reads the host clock only for those
deadlines, through the ``monotonic`` parameter.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np

from vrkit.core.errors import DataError, InputError
from vrkit.core.outputs import output_error
from vrkit.measure.latency.logformats import LATENCY_TEST_COLUMNS, parse_latency_test
from vrkit.measure.latency.sensorlog import COLUMNS, SensorLog

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
        ended: Why the recording stopped: ``"duration"`` (the rig's clock advanced by the
            duration asked for), ``"disconnected"`` (the port failed mid-recording),
            ``"silent"`` (no line within the timeout after data had arrived) or
            ``"interrupted"`` (Ctrl-C).
        end_detail: The port's own words when it failed, or None.
        saved: The file every accepted line was written to as it arrived, or None.
        notes: What the reader did to the data (Latency-Test: gyro axis and bias).
    """

    lines: int = 0
    ignored_before_start: int = 0
    comments: int = 0
    bad_lines: int = 0
    first_bad: str | None = None
    wall_s: float = 0.0
    ended: str = "duration"
    end_detail: str | None = None
    saved: Path | None = None
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the recording ran for the duration asked for."""
        return self.ended == "duration"


def parse_line(raw: bytes | str, columns: int = 3) -> tuple[float, ...] | None:
    """Parse one ``t_s,motion,light`` line (or ``us,drx,dry,drz,brightness``: ``columns=5``).

    Args:
        raw: The line, with or without its line ending.
        columns: Numbers expected on a line.

    Returns:
        The numbers, or None for a blank line, a ``#`` comment or a header.

    Raises:
        ValueError: The line is not ``columns`` finite numbers.
    """
    text = raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    low = text.lower()
    if not text or text.startswith("#") or low.startswith(("t_s", "us,")):
        return None
    parts = text.split(",")
    if len(parts) != columns:
        raise ValueError(f"expected {columns} comma-separated values, got {len(parts)}")
    values = tuple(float(p) for p in parts)
    if not all(math.isfinite(v) for v in values):
        raise ValueError("not finite")
    return values


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


class _Sink:
    """Accepted lines, streamed to ``path`` as they arrive (flushed per line).

    The file is written under a temporary name beside ``path`` (``.NAME.partial``) and
    renamed to ``path`` by :meth:`close`, whatever ended the recording; if the process is
    killed outright, the ``.partial`` file holds every line received up to then.
    """

    def __init__(self, path: Path | None, header: str) -> None:
        self.path = path
        self.tmp: Path | None = None
        self.fh: TextIO | None = None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.partial")
        try:
            self.fh = self.tmp.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise InputError(
                f"cannot write the recording to {str(path)!r}: {exc}",
                "choose a --save path in a folder you can write to",
            ) from exc
        self.write(header)

    def write(self, line: str) -> None:
        if self.fh is not None:
            try:
                self.fh.write(line + "\n")
                self.fh.flush()
            except OSError as exc:
                raise output_error(self.tmp, exc, "the lines received so far are in it") from exc

    def close(self) -> Path | None:
        if self.fh is None or self.tmp is None or self.path is None:
            return None
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None
            os.replace(self.tmp, self.path)
        except OSError as exc:
            raise output_error(self.path, exc, f"the lines received are in {self.tmp}") from exc
        return self.path


class _LineReader:
    """Lines from a pyserial port, reading whatever is waiting in one call.

    pyserial's own ``readline`` reads one byte per call, too slow for a 10 kHz rig; this
    reads ``in_waiting`` bytes at a time (blocking up to the port's timeout for the first).
    """

    def __init__(self, ser: Any) -> None:
        self.ser = ser
        self.buf = bytearray()
        self.chunked = hasattr(ser, "in_waiting") and hasattr(ser, "read")

    def next(self) -> bytes:
        """The next line with its ending, or b"" when the port's timeout passed first."""
        if not self.chunked:
            return self.ser.readline()
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            chunk = self.ser.read(max(1, int(self.ser.in_waiting or 0)))
            if not chunk:
                return b""
            self.buf += chunk


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
    save: str | Path | None = None,
    fmt: Literal["vrkit", "latency-test"] = "vrkit",
    axis: str = "auto",
) -> tuple[SensorLog, SerialReadStats]:
    """Record ``duration_s`` of rig time from a serial port.

    Every accepted line is written to ``save`` as it arrives (flushed), so nothing received is
    lost. A port that fails mid-recording (cable pulled), a rig that falls silent after data
    arrived, or Ctrl-C ends the recording early: the log of what was received is returned and
    ``stats.ended`` says why.

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
        save: CSV file to stream the accepted lines to (in the rig's own format, with its
            header), or None.
        fmt: The rig's line format: ``"vrkit"`` (``t_s,motion,light``) or ``"latency-test"``
            (rpavlik/Latency-Test's ``us,drx,dry,drz,brightness``).
        axis: Latency-Test: the gyro axis to integrate (``"auto"``, ``"x"``, ``"y"``, ``"z"``).

    Returns:
        The log (not yet validated) and what else the port sent.

    Raises:
        InputError: The port cannot be opened, ``duration_s`` is not positive, or ``save``
            cannot be written.
        DataError: No line arrived at all, too many lines were malformed, or the rig's clock
            did not advance by ``duration_s`` before ``max_wall_s`` (``save`` then still holds
            every line received).
    """
    if not duration_s > 0:
        raise InputError(f"duration must be positive, got {duration_s}")
    if fmt not in ("vrkit", "latency-test"):
        raise InputError(f"serial format must be vrkit or latency-test, got {fmt!r}")
    columns = 3 if fmt == "vrkit" else 5
    scale = 1.0 if fmt == "vrkit" else 1e-6  # rig seconds per time unit
    owned = isinstance(port, str)
    ser = open_port(port, baudrate, timeout_s) if owned else port
    name = port if owned else getattr(ser, "name", None) or getattr(ser, "portstr", "port")
    line_timeout = float(getattr(ser, "timeout", None) or timeout_s)
    wall_limit = 1.5 * duration_s + 2 * line_timeout if max_wall_s is None else max_wall_s
    stats = SerialReadStats()
    rows: list[tuple[float, ...]] = []
    texts: list[str] = []
    header = ",".join(COLUMNS) if fmt == "vrkit" else ",".join(LATENCY_TEST_COLUMNS)
    try:
        sink = _Sink(None if save is None else Path(save), header)
    except BaseException:
        if owned:
            ser.close()
        raise
    port_errors = _port_errors()
    lines = _LineReader(ser)
    start = monotonic()
    try:
        while True:
            now = monotonic()
            if now - start > wall_limit:
                got = (rows[-1][0] - rows[0][0]) * scale if rows else 0.0
                raise DataError(
                    f"after {now - start:.1f} s of reading {name}, the rig's clock advanced "
                    f"only {got:.3f} s of the {duration_s:g} s asked for ({len(rows)} lines)",
                    "check that the firmware prints its time in "
                    + ("seconds" if fmt == "vrkit" else "microseconds")
                    + " and keeps sending",
                )
            try:
                raw = lines.next()
            except KeyboardInterrupt:
                stats.ended = "interrupted"
                break
            except port_errors as exc:
                if not rows:
                    raise DataError(
                        f"serial port {name} failed before any data arrived: {exc}",
                        "check the cable and that no other program holds the port",
                    ) from exc
                stats.ended, stats.end_detail = "disconnected", str(exc)
                break
            if not raw:
                if not rows:
                    raise DataError(
                        f"no data from {name} for {line_timeout:g} s after {len(rows)} lines",
                        "check the baud rate, the wiring, and that the firmware prints "
                        + header
                        + " lines",
                    )
                stats.ended = "silent"
                stats.end_detail = f"no data for {line_timeout:g} s"
                break
            if drop_first:
                drop_first = False
                stats.ignored_before_start += 1
                continue
            try:
                row = parse_line(raw, columns)
            except ValueError:
                text = raw.decode("ascii", errors="replace").strip()
                if not rows:
                    stats.ignored_before_start += 1
                    if stats.ignored_before_start > 101:
                        raise DataError(
                            f"{name} sent 100 lines but none is {header}; the last "
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
            text = raw.decode("ascii", errors="replace").strip()
            rows.append(row)
            texts.append(text)
            sink.write(text)
            span = (row[0] - rows[0][0]) * scale
            if progress is not None:
                progress(span)
            if span >= duration_s:
                break
    finally:
        stats.wall_s = monotonic() - start
        if owned:
            ser.close()
        stats.saved = sink.close()
    stats.lines = len(rows)
    if fmt == "latency-test":
        loaded = parse_latency_test([[header]] + [t.split(",") for t in texts], str(name), axis)
        stats.notes = loaded.notes
        return loaded.log, stats
    values = np.array(rows, dtype=np.float64)
    return SensorLog.from_seconds(values[:, 0], values[:, 1], values[:, 2]), stats


def _port_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a failing port raises (pyserial's, and the OS's)."""
    import serial

    return (serial.SerialException, OSError)
