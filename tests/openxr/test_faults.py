"""Runtime faults: killed mid-session, restarted, absent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.backends.openxr.runtime import NO_RUNTIME
from vrkit.core.errors import BackendUnavailableError

REPO = Path(__file__).resolve().parents[2]
CLI = "import sys; from vrkit.cli import main; sys.exit(main(sys.argv[1:]))"


def _processes_with(marker: str) -> list[int]:
    """PIDs whose environment holds ``marker`` (the app and anything it started)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


class App:
    """``vrkit run examples/room.py --backend openxr`` in a child process."""

    def __init__(self, frames: int) -> None:
        self.marker = f"VRKIT_TEST_APP={uuid.uuid4().hex}"
        env = dict(os.environ)
        env[self.marker.split("=")[0]] = self.marker.split("=")[1]
        # Small eyes: the textured, anti-aliased room takes ~1 s a frame at the runtime's
        # recommended size on llvmpipe, and a fault is noticed at the next OpenXR call.
        args = ["run", str(REPO / "examples" / "room.py"), "--backend", "openxr",
                "--eye-size", "320x360"]  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLI, *args, "--frames", str(frames)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.session_open = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if "OpenXR: " in line:
                self.session_open.set()

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=2)
        return rc

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def test_runtime_killed_mid_session_ends_the_app_with_a_clear_error(service):
    app = App(frames=1_000_000)
    try:
        assert app.session_open.wait(30), app.stderr
        time.sleep(1.5)  # frames flowing, session FOCUSED
        assert app.proc.poll() is None, app.stderr
        service.kill()
        t0 = time.monotonic()
        rc = app.wait(timeout=15)
        ended_s = time.monotonic() - t0
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
    print(f"app ended {ended_s:.2f} s after the runtime was killed")
    assert ended_s < 5.0, f"app took {ended_s:.1f} s to notice the runtime died"
    assert rc == 1, app.stderr
    last = app.stderr.splitlines()[-1]
    assert last.startswith("vrkit run: error: OpenXR session lost:"), app.stderr
    assert "runtime process died" in last or "no answer" in last
    assert _processes_with(app.marker) == []


def _open_in_child(env: dict | None = None) -> subprocess.CompletedProcess:
    """``vrkit info`` in a child process: opens a session and reports (or fails with one line).

    Failed opens run in a child so that a runtime or loader left in a bad state by the failure
    cannot leak into the tests that follow.
    """
    return subprocess.run(
        [sys.executable, "-c", CLI, "info"],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_restarted_runtime_takes_a_new_session(service):
    service.kill()
    down = _open_in_child()
    assert down.returncode == 1
    assert f"vrkit info: error: {NO_RUNTIME}" in down.stderr.splitlines()[-1]
    service.start()
    app = App(frames=30)
    rc = app.wait(timeout=60)
    assert rc == 0, app.stderr
    assert "rendered 30 frames of room on openxr" in app.proc.stdout.read()


def test_stopped_runtime_gives_the_clear_message_quickly(service):
    service.stop()
    t0 = time.monotonic()
    out = _open_in_child()
    assert time.monotonic() - t0 < 10.0  # includes the child's Python start-up
    assert out.returncode == 1
    last = out.stderr.splitlines()[-1]
    assert last.startswith(f"vrkit info: error: {NO_RUNTIME} (the runtime in ")
    assert "is its service, e.g. monado-service, running?" in last


def test_absent_runtime_manifest_gives_the_clear_message(monkeypatch):
    out = _open_in_child({"XR_RUNTIME_JSON": "/nonexistent/openxr_runtime.json"})
    assert out.returncode == 1
    assert out.stderr.splitlines()[-1] == (
        f"vrkit info: error: {NO_RUNTIME} (XR_RUNTIME_JSON=/nonexistent/openxr_runtime.json "
        "does not exist)"
    )
    monkeypatch.setenv("XR_RUNTIME_JSON", "/nonexistent/openxr_runtime.json")
    with pytest.raises(BackendUnavailableError) as err:  # in-process: refused before any xr call
        OpenXRBackend(RunConfig()).open()
    assert str(err.value).startswith(NO_RUNTIME)


CHILD_REOPEN = """
import sys
from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.core.errors import SessionLostError
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Scene

def frames(backend, n):
    renderer = StereoRenderer(backend.gl)
    try:
        while backend.frames_submitted < n:
            frame = backend.begin_frame()
            if frame.should_render:
                renderer.render(Scene(), frame, backend.eye_targets(frame))
            backend.end_frame(frame)
    finally:
        renderer.release()

backend = OpenXRBackend(RunConfig(eye_size=(64, 64)))
backend.open()
frames(backend, 5)
print("FOCUSED", flush=True)
try:
    frames(backend, 10**9)
except SessionLostError as exc:
    print("LOST", exc, flush=True)
backend.close()
sys.stdin.readline()  # the test restarts the runtime
backend = OpenXRBackend(RunConfig(eye_size=(64, 64)))
backend.open()
frames(backend, 20)
backend.close()
print("REOPENED", backend.frames_submitted, backend.lifecycle.lost, flush=True)
"""


def test_same_process_opens_a_new_session_after_the_runtime_restarts(service):
    """A long-running app survives a runtime crash: SessionLostError, then a new session."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_REOPEN],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "FOCUSED"
        service.kill()
        lost = child.stdout.readline()
        assert lost.startswith("LOST OpenXR session lost:"), lost
        service.start()
        child.stdin.write("go\n")
        child.stdin.flush()
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    assert out.strip() == "REOPENED 20 None"


CHILD_HUNG = """
import os, signal, sys, time
from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.core.errors import SessionLostError

backend = OpenXRBackend(RunConfig(eye_size=(64, 64), extra={"openxr_timeout_s": 1.0}))
backend.open()
while not backend.lifecycle.focused:
    backend.end_frame(backend.begin_frame())
# Freeze the runtime between two frames: the next frame's calls get no answer.
os.kill(int(sys.argv[1]), signal.SIGSTOP)
t0 = time.monotonic()
try:
    while True:
        backend.end_frame(backend.begin_frame())
except SessionLostError as exc:
    print("LOST", round(time.monotonic() - t0, 1), exc, flush=True)
t0 = time.monotonic()
backend.close()
print("CLOSED", round(time.monotonic() - t0, 1), flush=True)
"""


def test_hung_runtime_ends_the_app_at_the_call_deadline(service):
    """monado-service frozen (SIGSTOP) between frames: the next call never returns; the
    watchdog turns that into SessionLostError at the deadline and close() does not block."""
    pid = service.pid()
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD_HUNG, str(pid)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.kill(pid, signal.SIGCONT)
        service.kill()  # a client was cut off mid-call: the next test gets a fresh runtime
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and len(lines) == 2, out.stdout + out.stderr[-2000:]
    lost, closed = lines
    assert re.match(r"LOST [0-9.]+ OpenXR session lost: xr\w+ got no answer from the runtime "
                    r"within 1.0 s \(runtime hung or stopped\)", lost), lost  # fmt: skip
    assert float(lost.split()[1]) < 3.0, lost
    assert float(closed.split()[1]) < 1.0, closed
