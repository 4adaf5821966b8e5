"""Integration tests against a real OpenXR runtime; run them with ``scripts/xr-sim``.

    scripts/xr-sim python -m pytest tests/openxr -q

Every test here is marked ``openxr`` and skipped unless ``XR_RUNTIME_JSON`` names an existing
runtime manifest (xr-sim sets it). Fault tests also need ``VRKIT_XR_SIM_SERVICE`` (set by xr-sim)
to stop, kill and restart the runtime's service.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _runtime_reason() -> str | None:
    path = os.environ.get("XR_RUNTIME_JSON")
    if not path:
        return "no OpenXR runtime: XR_RUNTIME_JSON is unset (run through scripts/xr-sim)"
    if not Path(path).is_file():
        return f"no OpenXR runtime: XR_RUNTIME_JSON={path} does not exist"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _runtime_reason()
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.openxr)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


class Service:
    """Controls the runtime's service through ``scripts/xr-sim --service``."""

    def __init__(self, command: str) -> None:
        self.command = shlex.split(command)

    def _run(self, action: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.command, action], capture_output=True, text=True, timeout=60, check=False
        )

    def pid(self) -> int | None:
        out = self._run("pid")
        return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None

    def start(self) -> None:
        out = self._run("start")
        assert out.returncode == 0, out.stderr

    def stop(self) -> None:
        out = self._run("stop")
        assert out.returncode == 0, out.stderr

    def kill(self) -> int:
        """SIGKILL the service (a crash, not a shutdown); returns the PID it had."""
        pid = self.pid()
        assert pid is not None, "the runtime service is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._run("stop")  # forget the pid file and the stale socket
        return pid


@pytest.fixture
def service():
    command = os.environ.get("VRKIT_XR_SIM_SERVICE")
    if not command:
        pytest.skip("fault tests need VRKIT_XR_SIM_SERVICE (run through scripts/xr-sim)")
    svc = Service(command)
    yield svc
    if svc.pid() is None:  # leave the runtime running for the next test
        svc.start()
