"""Start a private Xvfb for a test; imported by the window-backend tests (not a conftest).

``start_xvfb(w, h)`` launches ``Xvfb -displayfd FD -screen 0 WxHx24 -nolisten tcp``: the server
picks a free display number and writes it to the pipe once it accepts connections, so there is
no polling and no race with other test runs. The ``xvfb`` fixture is a factory: it starts a
server of the requested screen size, points DISPLAY at it (monkeypatch) and kills it after the
test. Tests skip with a clear reason when Xvfb is not installed.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass

import pytest


@dataclass
class XvfbServer:
    """A running Xvfb.

    Attributes:
        display: ``":N"``.
        proc: The server process.
        size: Screen ``(width, height)``.
    """

    display: str
    proc: subprocess.Popen
    size: tuple[int, int]

    def stop(self) -> None:
        """Kill the server and wait for it (idempotent)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def start_xvfb(width: int, height: int, timeout_s: float = 10.0) -> XvfbServer:
    """Start Xvfb on a free display with one screen of ``width`` x ``height`` x 24."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): window backends untestable")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    data = b""
    deadline = time.monotonic() + timeout_s
    try:
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(0.0, left))
            if not ready:
                proc.kill()
                raise RuntimeError(f"Xvfb did not report a display within {timeout_s} s")
            chunk = os.read(read_fd, 64)
            if not chunk:
                raise RuntimeError(f"Xvfb exited with {proc.wait()} before reporting a display")
            data += chunk
    finally:
        os.close(read_fd)
    return XvfbServer(f":{int(data.strip())}", proc, (width, height))


@pytest.fixture
def xvfb(monkeypatch):
    """Factory fixture: ``xvfb(w, h)`` starts a server and sets DISPLAY to it for the test."""
    servers = []

    def start(width: int = 1024, height: int = 768) -> XvfbServer:
        server = start_xvfb(width, height)
        servers.append(server)
        monkeypatch.setenv("DISPLAY", server.display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        return server

    yield start
    for server in servers:
        server.stop()
