"""Direct-display backend on a private Xvfb screen: full screen at the panel's native size, the
same panel image as the headless backend, and clear endings (bad monitor, closed window, the
X server killed mid-run)."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from xvfb import start_xvfb, xvfb  # noqa: F401  (fixture)

from vrkit.app import load_scene, run_scene
from vrkit.backends.base import RunConfig
from vrkit.backends.display import DisplayBackend, choose_monitor
from vrkit.backends.headless import HeadlessBackend
from vrkit.core.errors import InputError, SessionLostError
from vrkit.core.types import Pose
from vrkit.math.transforms import quat_from_axis_angle, quat_multiply
from vrkit.poses.base import StaticPose
from vrkit.poses.replay import PoseTrack, save_pose_file

ROOT = Path(__file__).resolve().parents[1]
ROOM = ROOT / "examples/room.py"
EYE = (320, 320)
PANEL = (640, 320)
HEAD = Pose(
    [0.05, 1.62, 0.1],
    quat_multiply(
        quat_from_axis_angle([0, 1, 0], math.radians(12)),
        quat_from_axis_angle([1, 0, 0], math.radians(-6)),
    ),
)


def run_backend(backend):
    backend.open()
    try:
        run_scene(backend, load_scene(ROOM))
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("profile_name", "eye_size", "panel"),
    [(None, EYE, PANEL), ("oculus-dk1", (320, 400), (1280, 800))],
    ids=["no-profile", "oculus-dk1"],
)
def test_full_screen_native_resolution_matches_headless_panel(
    xvfb,  # noqa: F811
    profile_name,
    eye_size,
    panel,
):
    from vrkit.optics.profile import load_profile

    profile = load_profile(profile_name) if profile_name else None
    xvfb(*panel)  # a screen of the panel's size, as a DK1 on HDMI would be

    def config(**extra):
        # One frame each: the room's spinner turns with time, and the backends' clocks differ.
        return RunConfig(
            frames=1, eye_size=eye_size, profile=profile, pose_source=StaticPose(HEAD), **extra
        )

    headless = HeadlessBackend(config())
    run_backend(headless)
    display = DisplayBackend(config(vsync=False, extra={"capture_window": True}))
    display.open()
    try:
        assert display.gl.monitor is not None  # a full-screen window
        assert display.gl.framebuffer_size == panel == display.layout.panel_size
        assert display.present_rect() == (0, 0, *panel)
        assert display.layout.distorted == (profile is not None)
        run_scene(display, load_scene(ROOM))
    finally:
        display.close()
    window, reference = display.last_window, headless.last_panel
    assert window.shape == reference.shape == (panel[1], panel[0], 4)
    diff = np.abs(window.astype(int) - reference.astype(int))
    assert diff.max() <= 2, f"max abs diff {diff.max()}"
    assert reference[..., :3].std() > 20  # a real image, not two blank ones
    if profile is not None:  # pre-distorted: the panel corners are outside the lens (black)
        assert reference[:4, :4, :3].max() == 0


def test_monitor_that_does_not_exist_lists_the_monitors(xvfb):  # noqa: F811
    xvfb(*PANEL)
    backend = DisplayBackend(RunConfig(eye_size=EYE, monitor="HDMI-9"))
    with pytest.raises(InputError, match=r"no monitor 'HDMI-9' \(monitors here: 0: screen\)"):
        backend.open()
    backend.close()
    with pytest.raises(InputError, match=r"no monitor '3'"):
        DisplayBackend(RunConfig(eye_size=EYE, monitor="3")).open()


def test_mode_mismatch_warns_and_draws_one_to_one_centred(xvfb, caplog):  # noqa: F811
    xvfb(800, 600)
    backend = DisplayBackend(RunConfig(eye_size=EYE, vsync=False))
    with caplog.at_level(logging.WARNING, logger="vrkit.backends.display"):
        backend.open()
    try:
        assert "runs at 800x600 but the panel is 640x320" in caplog.text
        assert "drawing 1:1, centred" in caplog.text
        assert backend.present_rect() == (80, 140, 640, 320)
    finally:
        backend.close()


def test_choose_monitor_prefers_the_panel_sized_one():
    mons = [
        {"index": 0, "name": "desk", "width": 2560, "height": 1440},
        {"index": 1, "name": "HDMI-1", "width": 1280, "height": 800},
    ]
    assert choose_monitor(mons, (1280, 800), None) == 1
    assert choose_monitor(mons, (1920, 1080), None) == 0
    assert choose_monitor(mons, (1280, 800), "desk") == "desk"


def test_window_closed_unexpectedly_is_a_lost_session_and_esc_is_not(xvfb):  # noqa: F811
    xvfb(*PANEL)
    b = DisplayBackend(RunConfig(eye_size=EYE, vsync=False))
    b.open()
    try:
        assert b.mouse is not None  # default pose source: mouse/keyboard, cursor captured
        frame = b.begin_frame()
        b.end_frame(frame)
        b.gl.request_close()
        with pytest.raises(SessionLostError, match="panel window closed unexpectedly after 1"):
            b.begin_frame()
    finally:
        b.close()
    b = DisplayBackend(RunConfig(eye_size=EYE, vsync=False))
    b.open()
    try:
        b.handle_key(256, 0, 1, 0)  # Esc
        assert b.begin_frame() is None
    finally:
        b.close()


def cli(*args, env_display, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "vrkit", "run", str(ROOM), "--backend", "display", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**_clean_env(), "DISPLAY": env_display},
    )  # fmt: skip


def _clean_env():
    import os

    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def test_cli_display_with_replayed_poses_and_bad_monitor(xvfb, tmp_path):  # noqa: F811
    server = xvfb(*PANEL)
    t = np.arange(0, 200_000_000, 20_000_000)
    yaw = np.linspace(0, 0.3, len(t))
    q = quat_from_axis_angle([0, 1, 0], yaw)
    track = PoseTrack(t, np.tile([0.0, 1.6, 0.0], (len(t), 1)), q)
    poses = save_pose_file(tmp_path / "head.csv", track)
    out = cli(
        "--frames", "4", "--eye-size", "320x320", "--pose-source", f"replay:{poses}",
        "--json", env_display=server.display,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert '"frames": 4' in out.stdout and '"backend": "display"' in out.stdout
    bad = cli("--monitor", "DP-7", "--frames", "1", env_display=server.display)
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert lines[-1] == (
        "vrkit run: error: no monitor 'DP-7' (monitors here: 0: screen); "
        "list them with `vrkit doctor`"
    )


@pytest.mark.parametrize("backend", ["display", "sim"])
def test_killing_the_x_server_mid_run_exits_with_one_clear_line(backend):
    server = start_xvfb(*PANEL)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "vrkit", "run", str(ROOM),
             "--backend", backend, "--eye-size", "320x320"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**_clean_env(), "DISPLAY": server.display},
        )  # fmt: skip
        lines: list[str] = []
        started = threading.Event()

        def read():
            for line in proc.stderr:
                lines.append(line.rstrip("\n"))
                if f"{backend}: window" in line:
                    started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert started.wait(30), f"the display backend did not start: {lines}"
        time.sleep(0.5)  # let it render some frames
        server.stop()
        killed_at = time.monotonic()
        rc = proc.wait(timeout=10)
        exit_s = time.monotonic() - killed_at
        reader.join(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
    assert rc == 1, lines  # not -11: no crash in the driver on the dead connection
    assert exit_s < 5.0
    errors = [ln for ln in lines if ln.startswith("vrkit run:")]
    assert len(errors) == 1, lines
    assert errors[0].startswith(f"vrkit run: error: lost the display '{server.display}' while "), (
        "\n".join(ln for ln in lines if not ln.startswith("Xlib"))
    )
    assert "X server gone or screen disconnected" in errors[0]
    assert not any("Traceback" in ln for ln in lines)
