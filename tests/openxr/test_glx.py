"""The window bindings: a glfw window context under Xvfb, bound to the session.

``openxr_gl="window"``: the window's context is made through EGL, so the binding is
XR_MNDX_egl_enable with the window's EGL handles. ``openxr_gl="glx"``: a native GLX context,
bound through XR_KHR_opengl_enable's Xlib binding (display, FBConfig, visual, drawable,
context), the one SteamVR and most Linux runtimes take.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.render.scene import Scene


@pytest.fixture
def xvfb(monkeypatch):
    """A private Xvfb server (started and stopped by PID); DISPLAY points at it."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        assert proc.poll() is None, "Xvfb exited at start-up"
        assert time.monotonic() < deadline, "Xvfb made no socket within 10 s"
        time.sleep(0.05)
    monkeypatch.setenv("DISPLAY", f":{n}")
    yield f":{n}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("mode", "extension"),
    [("window", "XR_MNDX_egl_enable"), ("glx", "XR_KHR_opengl_enable")],
)
def test_window_context_binding_submits_frames_and_pixels(xvfb, mode, extension):
    assert os.environ["DISPLAY"] == xvfb
    backend = OpenXRBackend(RunConfig(eye_size=(96, 64), extra={"openxr_gl": mode}))
    backend.open()
    reads = []
    clear = (0.0, 1.0, 0.0, 1.0)
    try:
        assert backend.graphics_binding == extension
        assert backend.gl.kind == "window"
        assert backend.gl.context_api == ("native" if mode == "glx" else "egl")
        from vrkit.render.renderer import StereoRenderer

        renderer = StereoRenderer(backend.gl)
        scene = Scene(clear_color=clear)
        for _ in range(200):
            frame = backend.begin_frame()
            if frame.should_render:
                targets = backend.eye_targets(frame)
                renderer.render(scene, frame, targets)
                if backend.lifecycle.focused:
                    reads.append(targets[1].framebuffer.read_rgba())
            backend.end_frame(frame)
            if len(reads) >= 5:
                break
        renderer.release()
    finally:
        backend.close()
    assert len(reads) >= 5 and backend.frames_submitted >= 5
    assert backend.lifecycle.lost is None
    for img in reads:
        assert img.shape == (64, 96, 4)
        # Pure green survives sRGB encoding unchanged (0 -> 0, 1 -> 255).
        assert np.all(img[..., :3] == np.array([0, 255, 0], dtype=np.uint8))


def test_cli_picks_the_binding(xvfb, capsys):
    from vrkit.cli import main

    assert main(["info", "--openxr-gl", "glx", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["graphics_binding"] == "XR_KHR_opengl_enable"
    assert main(["info", "--openxr-gl", "egl", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["graphics_binding"] == "XR_MNDX_egl_enable"
