"""The live serial path through pyserial's real ``loop://`` transport (bytes in, bytes out)."""

from __future__ import annotations

import json
import os
import threading
import time
import tty

import numpy as np
import pytest
import serial
from latency_gen import Rig, generate

from vrkit.core.errors import DataError, InputError
from vrkit.measure.latency.analysis import estimate_steady_latency
from vrkit.measure.latency.sensorlog import load_csv
from vrkit.measure.latency.serialport import parse_line, read_serial_log
from vrkit.measure.latency.simulate import simulate


def _loop(timeout_s: float = 0.2) -> serial.SerialBase:
    return serial.serial_for_url("loop://", timeout=timeout_s)


def _lines(t_s: np.ndarray, motion: np.ndarray, light: np.ndarray) -> bytes:
    return "".join(
        f"{t:.6f},{m:.4f},{li:.0f}\n" for t, m, li in zip(t_s, motion, light, strict=True)
    ).encode()


def _firmware(port: serial.SerialBase, data: bytes) -> threading.Thread:
    """Stream ``data`` into the port from another thread (loop:// holds only 4 kB)."""

    def send() -> None:
        for i in range(0, len(data), 1024):
            port.write(data[i : i + 1024])

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_log_streamed_over_serial_gives_the_simulated_latency():
    sim = simulate(latency_s=0.045, duration_s=8.0, refresh_hz=90, seed=11)
    log = sim.log
    port = _loop(timeout_s=1.0)
    body = _lines(log.t_s, log.motion, log.light)
    cut = body.index(b"\n", 100 * 30)
    data = (
        b"23,-3.2519,1211\n"  # the tail of a line cut when the port opened: parses, but wrong
        + b"rig v1.2 booting\nate,0.1\n"  # boot noise
        + b"t_s,motion,light\n# encoder 4096 cpr\n"
        + body[:cut]
        + b"\n12.3,oops\n"  # one corrupt line mid-way
        + body[cut + 1 :]
    )
    firmware = _firmware(port, data)
    seen = []
    got, stats = read_serial_log(port, duration_s=7.0, progress=seen.append)
    while firmware.is_alive():  # drain the last second so that the sender finishes
        port.reset_input_buffer()
        firmware.join(0.05)
    port.close()
    assert stats.ignored_before_start == 3 and stats.comments == 2
    assert stats.bad_lines == 1 and stats.first_bad == "12.3,oops"
    assert seen[-1] >= 7.0 and got.duration_s >= 7.0
    n = len(got)
    np.testing.assert_allclose(got.t_s, log.t_s[:n], atol=1e-6)
    np.testing.assert_allclose(got.motion, log.motion[:n], atol=1e-4)
    np.testing.assert_array_equal(got.light, log.light[:n])
    est = estimate_steady_latency(got, max_latency_s=0.2)
    # 7 s of log: the transport is under test here; 0.25 ms accuracy is shown on 30 s logs
    assert abs(est.latency_s - sim.true_latency_s) < 1e-3


def test_silent_port_times_out_instead_of_hanging():
    port = _loop(timeout_s=0.2)
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"no data from .* for 0.2 s after 0 lines"):
        read_serial_log(port, duration_s=5.0)
    # a rig that falls silent after sending: the recording ends, with what arrived
    port.write(b"0.000,1,2\n0.001,1,2\n0.002,1,2\n")
    got, stats = read_serial_log(port, duration_s=5.0)
    assert time.monotonic() - t0 < 2.0
    assert stats.ended == "silent" and not stats.complete and len(got) == 2


def test_rig_clock_that_does_not_advance_stops_at_the_wall_deadline():
    port = _loop()
    port.write(b"1.0,1,2\n" * 50)  # a rig clock stuck at 1.0 s
    fake = iter(np.arange(0.0, 100.0, 0.5))
    with pytest.raises(DataError, match=r"rig.s clock advanced only 0\.000 s of the 5 s"):
        read_serial_log(port, duration_s=5.0, max_wall_s=10.0, monotonic=lambda: next(fake))


def test_garbage_port_and_missing_port_are_named():
    port = _loop()
    port.write(b"\xff\xfe garbage at the wrong baud rate\n" * 110)
    with pytest.raises(DataError, match="none is t_s,motion,light"):
        read_serial_log(port, duration_s=1.0)
    with pytest.raises(InputError, match="cannot open serial port '/dev/vrkit-no-such-port'"):
        read_serial_log("/dev/vrkit-no-such-port", duration_s=1.0, timeout_s=0.1)


def test_parse_line():
    assert parse_line(b"1.5,-2,300\r\n") == (1.5, -2.0, 300.0)
    assert parse_line("# hello") is None and parse_line("t_s,motion,light") is None
    for bad in ("1,2", "1,2,nan", "a,b,c"):
        with pytest.raises(ValueError):
            parse_line(bad)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_cli_records_from_a_tty_device(tmp_path, capsys):
    """``vrkit latency analyze --serial /dev/pts/N``: a real tty device, opened by path."""
    from vrkit.cli import main

    sim = simulate(latency_s=0.03, duration_s=9.0, seed=2)
    log = sim.log
    master, slave = os.openpty()
    tty.setraw(slave)
    data = _lines(log.t_s, log.motion, log.light)

    def rig() -> None:  # already talking when the port opens, as a real board is
        for i in range(0, len(data), 4096):
            try:
                os.write(master, data[i : i + 4096])
            except OSError:
                return

    threading.Thread(target=rig, daemon=True).start()
    saved = tmp_path / "rec.csv"
    argv = ["latency", "analyze", "--serial", os.ttyname(slave), "--duration", "7",
            "--max-latency-ms", "200", "--save", str(saved), "--json"]  # fmt: skip
    try:
        assert main(argv) == 0
    finally:
        os.close(master)
        os.close(slave)
    doc = json.loads(capsys.readouterr().out)
    got = load_csv(saved)
    assert got.duration_s >= 7.0
    # every byte arrived: the recording is an exact slice of what the rig sent
    i0 = int(np.searchsorted(log.t_ns, got.t_ns[0]))
    np.testing.assert_array_equal(got.t_ns, log.t_ns[i0 : i0 + len(got)])
    np.testing.assert_array_equal(got.light, log.light[i0 : i0 + len(got)])
    # 7 s of paused motion carry little delay information: a wide, but honest, estimate
    assert abs(doc["latency_ms"] - sim.true_latency_s * 1e3) < 5.0


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_rig_that_disconnects_mid_recording_keeps_every_line_and_is_analysed(
    tmp_path, capsys, caplog
):
    """The cable is pulled after 12 s of a 30 s recording: the --save file holds every line
    that arrived (streamed as it came), and the analysis runs on them."""
    from vrkit.cli import main

    gen = generate(Rig(seed=21, latency_s=0.045, duration_s=12.0, refresh_hz=90))
    lines = [
        f"{t:.6f},{m:.4f},{v:.0f}\n" for t, m, v in zip(gen.t_s, gen.motion, gen.light, strict=True)
    ]
    master, slave = os.openpty()
    tty.setraw(slave)
    saved = tmp_path / "rec.csv"
    partial = tmp_path / ".rec.csv.partial"
    seen_partial = []

    def rig() -> None:
        data = "".join(lines).encode()
        for i in range(0, len(data), 4096):
            os.write(master, data[i : i + 4096])
            time.sleep(0.002)
        deadline = time.monotonic() + 10.0
        # wait until the reader has written the last line, then pull the cable
        while time.monotonic() < deadline:
            if partial.exists() and partial.read_text().endswith(lines[-1]):
                break
            time.sleep(0.02)
        seen_partial.append(partial.exists())
        os.close(master)

    thread = threading.Thread(target=rig, daemon=True)
    thread.start()
    argv = ["latency", "analyze", "--serial", os.ttyname(slave), "--duration", "30",
            "--timeout", "3", "--max-latency-ms", "200", "--save", str(saved),
            "--json"]  # fmt: skip
    try:
        code = main(argv)
    finally:
        thread.join(5.0)
        os.close(slave)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert seen_partial == [True]  # streamed while recording, under a temporary name
    assert not partial.exists()  # and renamed when the recording ended
    assert "recording ended early: the port" in caplog.text and "failed" in caplog.text
    doc = json.loads(out.out)
    assert doc["recording"]["ended"] == "disconnected"
    # every line from the port's opening to the disconnect is in the file, unchanged (lines
    # sent before the port opened, and the first after it, which may be cut, are not)
    text = saved.read_text()
    assert text.startswith("t_s,motion,light\n")
    body = text[len("t_s,motion,light\n") :]
    k = len(lines) - body.count("\n")
    assert 1 <= k < 0.2 * len(lines)
    assert body == "".join(lines[k:])
    got = load_csv(saved)
    assert len(got) == len(lines) - k == doc["recording"]["lines"]
    assert abs(doc["latency_ms"] - gen.truth_s * 1e3) < 0.5


def test_latency_test_firmware_over_serial(tmp_path):
    """rpavlik/Latency-Test's log firmware: boot text, zero-rate printouts, its header, then
    us,drx,dry,drz,brightness lines; the recording is saved in that format, gyro integrated."""
    gen = generate(Rig(seed=22, latency_s=0.04, duration_s=8.0, refresh_hz=90))
    text = gen.latency_test_text(header=False)
    us0 = 123_456_789
    rows = []
    for line in text.splitlines():
        us, rest = line.split(",", 1)
        rows.append(f"{int(us) + us0},{rest}\n")
    boot = (
        "latency_hardware_firmware motion log test v01.00.00\n zeroing out IMU\n"
        "0.01, -0.02, 0.00\nZero rate: 0.01, -0.02, 0.00\nus,drx,dry,drz,brightness\n"
    )
    port = _loop(timeout_s=0.5)
    firmware = _firmware(port, (boot + "".join(rows)).encode())
    saved = tmp_path / "lt.csv"
    got, stats = read_serial_log(port, duration_s=7.0, save=saved, fmt="latency-test")
    while firmware.is_alive():
        port.reset_input_buffer()
        firmware.join(0.05)
    port.close()
    assert stats.complete and stats.comments == 1  # the header
    assert any("integrated gyro axis z" in n for n in stats.notes)
    lines = saved.read_text().splitlines()
    assert lines[0] == "us,drx,dry,drz,brightness" and lines[1:] == [
        r.strip() for r in rows[: len(lines) - 1]
    ]
    est = estimate_steady_latency(got, max_latency_s=0.2)
    assert abs(est.latency_s - gen.truth_s) < 1e-3
