"""Simulator backend under a private Xvfb: pixels read back from the window, input injected
through the same handlers glfw calls, plus the pure pieces (letterbox, pacing, overlay)."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from xvfb import xvfb  # noqa: F401  (fixture)

from vrkit.backends.base import RunConfig
from vrkit.backends.overlay import (
    BAR_LATE_COLOR,
    BAR_OK_COLOR,
    OVERLAY_BOX,
    overlay_geometry,
    seven_segment_rects,
)
from vrkit.backends.pacing import FramePacer
from vrkit.backends.simulator import SimulatorBackend
from vrkit.backends.windowed import letterbox
from vrkit.core.errors import BackendUnavailableError
from vrkit.core.types import Pose
from vrkit.math.projection import project_to_pixels
from vrkit.math.stereo import eye_views
from vrkit.math.transforms import invert_transform, quat_from_axis_angle, transform_points
from vrkit.optics.mesh import EyeMesh, grid_indices
from vrkit.render.color import srgb_color
from vrkit.render.meshes import quad
from vrkit.render.panel import DEFAULT_FOV
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Scene

ROOT = Path(__file__).resolve().parents[1]
EYE = (320, 320)  # per eye; panel 640x320, DEFAULT_FOV is 90 x 100 degrees
BACKGROUND = srgb_color(0.2, 0.2, 0.2)  # linear; the panel shows it as 51/255, as before
GLFW_KEY = {"w": 87, "l": 76, "r": 82, "f1": 290, "escape": 256}
PRESS, RELEASE = 1, 0


# --- helpers -----------------------------------------------------------------------------------
def marker_scene(*centres, size=0.1):
    scene = Scene(clear_color=BACKGROUND)
    for c in centres:
        T = np.eye(4)
        T[:3, 3] = c
        scene.add(quad(size, size), T, Material((1, 1, 1, 1), lit=False), "marker")
    return scene


def centroid(img, region=None):
    """Centroid (x, y) of bright pixels in pixel-centre coordinates (i + 0.5)."""
    x0, x1 = region or (0, img.shape[1])
    mask = img[:, x0:x1, 0] > 160
    assert mask.sum() > 10, "the marker is not visible"
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean() + 0.5 + x0, ys.mean() + 0.5])


def predicted_window_px(head, point, eye, ipd=0.063):
    """Where ``point`` lands on the panel (= window, 1:1) for a head pose, undistorted."""
    view = eye_views(head, DEFAULT_FOV, DEFAULT_FOV, ipd_m=ipd)[eye]
    p_eye = transform_points(invert_transform(view.pose.matrix()), [point])
    uv = project_to_pixels(p_eye, view.fov, *EYE)[0]
    return uv + np.array([eye * EYE[0], 0.0])


class Loop:
    """Drives an opened backend frame by frame (the same calls as vrkit.app.run_scene)."""

    def __init__(self, backend, scene):
        self.backend, self.scene = backend, scene
        self.renderer = StereoRenderer(backend.gl)
        self.frame = None

    def run(self, n=1):
        for _ in range(n):
            frame = self.backend.begin_frame()
            if frame is None:
                return None
            self.renderer.render(self.scene, frame, self.backend.eye_targets(frame))
            self.backend.end_frame(frame)
            self.frame = frame
        return self.frame


@pytest.fixture
def sim(xvfb):  # noqa: F811
    xvfb(1024, 768)
    backends = []

    def open_sim(**extra):
        cfg = RunConfig(
            eye_size=EYE,
            vsync=False,
            extra={"capture_window": True, "overlay": False, "window_size": (640, 320), **extra},
        )
        b = SimulatorBackend(cfg)
        b.open()
        backends.append(b)
        return b

    yield open_sim
    for b in backends:
        b.close()


# --- window backend tests ------------------------------------------------------------------------
def test_scene_is_visible_in_both_eye_halves(sim):
    b = sim()
    point = (0.0, 1.6, -2.0)
    frame = Loop(b, marker_scene(point)).run(2)
    img = b.last_window
    assert img.shape == (320, 640, 4)
    for eye in (0, 1):
        region = (eye * 320, (eye + 1) * 320)
        found = centroid(img, region)
        np.testing.assert_allclose(found, predicted_window_px(frame.head_pose, point, eye), atol=1)
    # Stereo: the left eye sits left, so the marker appears further right in the left image.
    assert centroid(img, (0, 320))[0] - 160 > centroid(img, (320, 640))[0] - 480


def test_mouse_drag_turns_the_view_by_the_predicted_pixels(sim):
    b = sim()
    point = (0.0, 1.6, -2.0)
    loop = Loop(b, marker_scene(point))
    loop.run(1)
    before = centroid(b.last_window, (0, 320))
    # Drag 40 px to the right with the left button: yaw right by 40 * rad_per_px.
    b.handle_mouse_button(0, PRESS, 0)
    b.handle_cursor(100.0, 100.0)
    b.handle_cursor(140.0, 100.0)
    b.handle_mouse_button(0, RELEASE, 0)
    b.handle_cursor(300.0, 100.0)  # moving without the button does not turn
    frame = loop.run(1)
    after = centroid(b.last_window, (0, 320))
    yaw = -40 * b.mouse.rad_per_px
    head = Pose([0, 1.6, 0], quat_from_axis_angle([0, 1, 0], yaw))
    np.testing.assert_allclose(frame.head_pose.orientation, head.orientation, atol=1e-12)
    expected = predicted_window_px(head, point, 0)
    np.testing.assert_allclose(after, expected, atol=1)
    # Turning right moves the object left, by about fx * tan(0.1 rad) = 16 px.
    fx = EYE[0] / 2 / math.tan(math.radians(45))
    assert before[0] - after[0] == pytest.approx(fx * math.tan(-yaw), abs=1.5)


def test_keyboard_walks_forward_at_the_set_speed(sim):
    b = sim()
    point = (0.3, 1.6, -2.0)
    loop = Loop(b, marker_scene(point))
    loop.run(1)
    t_press = time.monotonic_ns()
    b.handle_key(GLFW_KEY["w"], 0, PRESS, 0)
    t_press = (t_press + time.monotonic_ns()) // 2
    loop.run(3)
    t_release = time.monotonic_ns()
    b.handle_key(GLFW_KEY["w"], 0, RELEASE, 0)
    t_release = (t_release + time.monotonic_ns()) // 2
    frame = loop.run(1)
    walked = -frame.head_pose.position[2]
    assert abs(frame.head_pose.position[0]) < 1e-12
    assert walked == pytest.approx(b.mouse.speed_m_s * (t_release - t_press) * 1e-9, abs=2e-3)
    # The marker to the right moves outward (right) as we approach, where projection says.
    for eye in (0, 1):
        region = (eye * 320, (eye + 1) * 320)
        expected = predicted_window_px(frame.head_pose, point, eye)
        np.testing.assert_allclose(centroid(b.last_window, region), expected, atol=1)
    # R resets to the start pose.
    b.handle_key(GLFW_KEY["r"], 0, PRESS, 0)
    assert np.allclose(loop.run(1).head_pose.position, [0, 1.6, 0])
    # Losing focus with W held (its release goes to another window) stops walking.
    b.handle_key(GLFW_KEY["w"], 0, PRESS, 0)
    b.handle_focus(False)
    z = loop.run(1).head_pose.position[2]
    time.sleep(0.05)
    assert loop.run(1).head_pose.position[2] == z


def test_sim_under_a_manual_clock_paces_on_the_grid_walks_exactly_and_records(xvfb, tmp_path):  # noqa: F811
    """Time is a parameter: under a ManualClock the pacer's sleeps advance the clock, key events
    are stamped on it, and the record in run.json is exact."""
    import json

    from vrkit.core.clock import ManualClock

    xvfb(1024, 768)
    clock = ManualClock(1_000_000_000)
    cfg = RunConfig(eye_size=EYE, vsync=True, fps=60.0, out_dir=tmp_path / "run", clock=clock,
                    extra={"overlay": False, "window_size": (640, 320)})  # fmt: skip
    b = SimulatorBackend(cfg)
    b.open()
    try:
        loop = Loop(b, marker_scene((0.3, 1.6, -2.0)))
        loop.run(1)
        clock.advance(3_000_000)
        t_press = clock.now_ns()
        b.handle_key(GLFW_KEY["w"], 0, PRESS, 0)
        for _ in range(3):
            clock.advance(4_000_000)  # "rendering" takes 4 ms; the pacer sleeps the rest
            loop.run(1)
        t_release = clock.now_ns()
        b.handle_key(GLFW_KEY["w"], 0, RELEASE, 0)
        frame = loop.run(1)
        period = b.pacer.period_ns
    finally:
        b.close()
    walked = -frame.head_pose.position[2]
    assert walked == pytest.approx(b.mouse.speed_m_s * (t_release - t_press) * 1e-9, rel=1e-12)
    doc = json.loads((tmp_path / "run" / "run.json").read_text())
    assert doc["backend"] == "sim" and "ManualClock" in doc["clock"]
    assert doc["frames_rendered"] == 5 and doc["period_ns"] == period == round(1e9 / 60.0)
    present = np.array([f["timing"]["present_ns"] for f in doc["frames"]])
    steps = np.diff(present)
    assert np.all(steps > 0) and np.all(steps % period == 0), steps  # on the vblank grid
    for f in doc["frames"]:
        assert f["timing"]["submit_ns"] <= f["timing"]["present_ns"]
        assert f["display_time_ns"] == f["timing"]["predicted_display_ns"]


def test_real_x_input_events_reach_the_pose_source(sim):
    """End to end through the X server: XTEST events (xdotool) -> glfw -> the handlers."""
    import shutil

    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool): no real X input")
    from vrkit.gl.window import glfw_x11_window

    b = sim()
    point = (0.0, 1.6, -2.0)
    loop = Loop(b, marker_scene(point))
    wid = str(glfw_x11_window(b.gl))

    def xdo(*args):
        subprocess.run(["xdotool", *args], check=True, timeout=10)
        loop.run(2)  # events are read in begin_frame

    loop.run(1)
    xdo("mousemove", "--window", wid, "100", "100")
    xdo("mousedown", "1")
    xdo("mousemove", "--window", wid, "140", "100")
    xdo("mouseup", "1")
    assert b.mouse.yaw_rad == pytest.approx(-40 * b.mouse.rad_per_px)
    frame = loop.run(1)
    expected = predicted_window_px(frame.head_pose, point, 0)
    np.testing.assert_allclose(centroid(b.last_window, (0, 320)), expected, atol=1)
    xdo("keydown", "w")
    xdo("keyup", "w")
    x, _y, z = loop.run(1).head_pose.position
    assert z < 0 and x / -z == pytest.approx(math.tan(40 * b.mouse.rad_per_px), rel=1e-6)


def barrel_mesh(k=0.5, n=48):
    """Pre-distortion mesh: panel NDC p samples the eye image at p * (1 + k |p|^2)."""
    x, y = np.meshgrid(np.linspace(-1, 1, n + 1), np.linspace(-1, 1, n + 1))
    p = np.stack([x, y], -1).reshape(-1, 2)
    s = p * (1 + k * (p**2).sum(1, keepdims=True))
    uv = (s + 1) / 2
    return EyeMesh(np.hstack([p, uv, uv, uv]).astype(np.float32), grid_indices(n, n))


def barrel_panel_radius(r_s, k=0.5):
    """Solve r (1 + k r^2) = r_s for the panel radius showing eye radius r_s."""
    roots = np.roots([k, 0, 1, -r_s])
    return float(roots[np.isreal(roots)].real[0])


def test_distortion_mesh_applied_when_on_and_absent_when_off(sim):
    """A hand-made barrel mesh fed to the compositor shows up in the window; toggling off
    (the L key, rebuilding the layout through panel_layout) restores the identity panel."""
    b = sim()
    point = (1.0, 1.8, -2.0)  # off-centre: a barrel moves it towards the centre
    scene = marker_scene(point)
    loop = Loop(b, scene)
    frame = loop.run(1)
    plain = b.last_window.copy()
    b.compositor.set_meshes([barrel_mesh(), barrel_mesh()])
    b.distortion = True
    loop.run(1)
    warped = b.last_window.copy()
    for eye in (0, 1):
        x0 = eye * 320
        undist = predicted_window_px(frame.head_pose, point, eye)
        np.testing.assert_allclose(centroid(plain, (x0, x0 + 320)), undist, atol=1)
        # Undistorted eye NDC of the marker -> panel NDC through the inverse barrel.
        s = (undist - [x0 + 160, 160]) / 160
        r_s = np.linalg.norm(s)
        p = s * barrel_panel_radius(r_s) / r_s
        expected = p * 160 + [x0 + 160, 160]
        np.testing.assert_allclose(centroid(warped, (x0, x0 + 320)), expected, atol=1)
        assert np.linalg.norm(expected - undist) > 5.0  # the shift is real, not within noise
        # Panel corners sample outside the eye image: black; undistorted they show the scene.
        assert warped[2, x0 + 2, :3].max() == 0
        assert plain[2, x0 + 2, :3].max() > 40
    # L toggles distortion: with no profile the layout's meshes are identity -> plain again.
    b.handle_key(GLFW_KEY["l"], 0, PRESS, 0)
    assert b.distortion is False
    loop.run(1)
    assert np.abs(b.last_window.astype(int) - plain).max() <= 1


def test_resized_window_letterboxes_the_panel(sim):
    b = sim()
    scene = marker_scene((0.0, 1.6, -2.0))
    loop = Loop(b, scene)
    loop.run(1)
    plain = b.last_window.copy()
    b.gl.set_window_size(640, 480)
    deadline = time.monotonic() + 3
    while b.gl.framebuffer_size != (640, 480) and time.monotonic() < deadline:
        b.gl.poll_events()
        time.sleep(0.01)
    assert b.gl.framebuffer_size == (640, 480)
    loop.run(1)
    img = b.last_window
    assert img.shape == (480, 640, 4)
    assert b.present_rect() == (0, 80, 640, 320)
    assert img[:80, :, :3].max() == 0 and img[400:, :, :3].max() == 0  # black bars
    assert np.abs(img[80:400].astype(int) - plain).max() <= 1


def test_overlay_toggles_with_f1_and_draws_digits(sim):
    b = sim()
    loop = Loop(b, marker_scene((0.0, 1.6, -2.0)))
    loop.run(2)
    plain = b.last_window.copy()
    b.handle_key(GLFW_KEY["f1"], 0, PRESS, 0)
    loop.run(3)
    with_overlay = b.last_window.copy()
    x, y, w, h = (int(v) for v in OVERLAY_BOX)
    box = with_overlay[y + 2 : y + h - 2, x + 2 : x + w - 2, :3].astype(int)
    # Background darkened to 35 % of the panel; digits in green (FPS) and yellow (ms).
    assert np.median(box) < 0.5 * np.median(plain[y : y + h, x : x + w, :3])
    green = (box[..., 1] > 200) & (box[..., 0] < 120)
    yellow = (box[..., 0] > 200) & (box[..., 1] > 170) & (box[..., 2] < 100)
    assert green.sum() > 50 and yellow.sum() > 30
    outside = np.ones(plain.shape[:2], bool)
    outside[y : y + h, x : x + w] = False
    assert np.array_equal(with_overlay[outside], plain[outside])
    b.handle_key(GLFW_KEY["f1"], 0, PRESS, 0)
    loop.run(1)
    assert np.array_equal(b.last_window, plain)


def test_closing_the_window_ends_the_run_cleanly(sim):
    from vrkit.app import run_scene

    b = sim()
    b.config.frames = 1000
    Loop(b, marker_scene((0.0, 1.6, -2.0))).run(3)
    b.gl.request_close()  # what the window manager's close button does
    assert b.begin_frame() is None
    b2 = sim()
    b2.handle_key(GLFW_KEY["escape"], 0, PRESS, 0)
    summary = run_scene(b2, marker_scene((0.0, 1.6, -2.0)))
    assert summary["frames"] == 0
    b2.close()
    b2.close()  # twice is fine


def test_unavailable_without_display(monkeypatch):
    from vrkit.backends.registry import open_backend

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    reason = SimulatorBackend.unavailable_reason()
    assert reason is not None and "DISPLAY is not set" in reason and "xvfb-run" in reason
    with pytest.raises(BackendUnavailableError, match="DISPLAY is not set"):
        open_backend("sim", RunConfig())
    with pytest.raises(BackendUnavailableError, match="the display backend needs a display"):
        open_backend("display", RunConfig())


def test_cli_run_sim_stops_after_n_frames(xvfb, tmp_path):  # noqa: F811
    import json

    xvfb(800, 600)
    out = subprocess.run(
        [sys.executable, "-m", "vrkit", "run", str(ROOT / "examples/room.py"), "--backend",
         "sim", "--frames", "5", "--eye-size", "200x200", "--json", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert '"frames": 5' in out.stdout and '"backend": "sim"' in out.stdout
    # --out: the same run.json as the other backends, with the window's present times.
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["backend"] == "sim" and doc["frames_rendered"] == 5
    assert doc["panel_size"] == [400, 200] and len(doc["frames"]) == 5
    assert all("present_ns" in f["timing"] for f in doc["frames"])


# --- pure pieces -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "window", "upscale", "rect"),
    [
        ((640, 320), (640, 320), True, (0, 0, 640, 320)),
        ((640, 320), (640, 480), True, (0, 80, 640, 320)),
        ((640, 320), (1280, 320), True, (320, 0, 640, 320)),
        ((640, 320), (1920, 1080), True, (0, 60, 1920, 960)),
        ((640, 320), (1920, 1080), False, (640, 380, 640, 320)),
        ((1280, 800), (640, 480), False, (0, 40, 640, 400)),
    ],
)
def test_letterbox(content, window, upscale, rect):
    assert letterbox(content, window, upscale) == rect


def test_pacer_keeps_a_vblank_grid_when_the_display_does_not_block():
    period = 16_666_667
    p = FramePacer(period, vsync=True)
    assert p.presented(0, 5_000_000, 5_000_100) == 0  # first swap anchors the grid
    # Next frame: render 4 ms, swap returns at once -> sleep to the next blank.
    sleep = p.presented(5_000_100, 9_000_000, 9_000_050)
    assert 9_000_050 + sleep == 5_000_100 + period
    # Predicted display of a frame starting now: the first blank after now + render estimate.
    start = p.last_present_ns + 1000
    assert p.predicted_display_ns(start) == p.last_present_ns + period
    # A swap that blocks re-anchors the grid at its return.
    assert p.presented(start, start + 3_000_000, start + 15_000_000) == 0
    assert p.anchor_ns == start + 15_000_000
    assert p.frame_time_ms() == pytest.approx((start + 15_000_000 - 21_666_767) * 1e-6)


def test_pacer_never_presents_two_frames_at_one_blank():
    """A swap that returns at (or before) the last present goes to the next blank, not that one."""
    period = 16_666_667
    p = FramePacer(period, vsync=True)
    p.presented(0, 1_000, 1_000)  # anchors the grid at 1_000
    for k in range(1, 4):  # no time passes between frames (a manual clock that nobody moves)
        t = p.last_present_ns
        assert p.presented(t, t, t) == period
        assert p.last_present_ns == 1_000 + k * period


def test_pacer_without_vsync_never_sleeps():
    p = FramePacer(16_666_667, vsync=False)
    t = 0
    for _ in range(50):
        assert p.presented(t, t + 2_000_000, t + 2_100_000) == 0
        t += 2_100_000
    assert p.render_ns == pytest.approx(2_000_000, rel=0.02)
    assert p.predicted_display_ns(t) == t + p.render_ns
    assert p.fps() == pytest.approx(1e9 / 2_100_000)


def test_seven_segment_glyphs():
    assert len(seven_segment_rects("8", 0, 0, 10)) == 7
    assert len(seven_segment_rects("1", 0, 0, 10)) == 2
    r = seven_segment_rects("18.", 5, 7, 20)
    assert len(r) == 2 + 7 + 1
    assert r[:, 0].min() >= 5 and r[:, 1].min() >= 7 and (r[:, 1] + r[:, 3]).max() <= 27 + 1e-9
    with pytest.raises(ValueError, match="no seven-segment glyph for 'x'"):
        seven_segment_rects("x", 0, 0, 10)


def test_overlay_geometry_marks_late_frames():
    tris = overlay_geometry([16.0, 40.0], fps=25, period_ms=16.7)
    assert tris.shape[1] == 6 and len(tris) % 6 == 0
    colors = tris[:, 2:]
    assert np.isclose(colors, BAR_LATE_COLOR).all(1).sum() == 6  # the 40 ms bar
    assert np.isclose(colors, BAR_OK_COLOR).all(1).sum() == 6  # the 16 ms bar


# --- with a real headset profile (lens pre-distortion and chromatic correction) ----------------
def lens_panel_px(profile, eye, tan_xy, channel):
    """Panel pixel (x right, y down, full panel) where the lens model draws direction tan_xy."""
    lens = profile.lens(eye)
    panel = lens.distort(np.array([tan_xy]), channel)[0]
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    vx, vy, vw, vh = profile.eye_viewport(eye)
    fx = (panel[0] - left) / (right - left)
    fy = (panel[1] - bottom) / (top - bottom)
    return np.array([vx + fx * vw, vy + (1 - fy) * vh])


def channel_centroid(img, region, channel):
    x0, x1 = region
    mask = img[:, x0:x1, channel] > 100
    assert mask.sum() > 10, f"the marker is not visible in channel {channel}"
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean() + 0.5 + x0, ys.mean() + 0.5])


def test_profile_distortion_and_chromatic_correction_toggle_with_l(xvfb):  # noqa: F811
    from vrkit.optics.profile import load_profile

    xvfb(1280, 800)
    profile = load_profile("oculus-dk1")
    cfg = RunConfig(
        profile=profile,
        eye_size=(640, 800),
        vsync=False,
        extra={"capture_window": True, "overlay": False, "window_size": (1280, 800)},
    )
    b = SimulatorBackend(cfg)
    b.open()
    try:
        assert b.layout.distorted and b.present_rect() == (0, 0, 1280, 800)
        point = (-0.55, 1.95, -1.5)  # up and to the left: well off the lens axis
        loop = Loop(b, marker_scene(point, size=0.08))
        frame = loop.run(1)
        on = b.last_window.copy()
        b.handle_key(GLFW_KEY["l"], 0, PRESS, 0)
        assert not b.layout.distorted
        loop.run(1)
        off = b.last_window.copy()
        b.handle_key(GLFW_KEY["l"], 0, PRESS, 0)
        loop.run(1)
        assert np.array_equal(b.last_window, on)  # and back
    finally:
        b.close()
    view = frame.views[0]
    p_eye = transform_points(invert_transform(view.pose.matrix()), [point])[0]
    tan_xy = (p_eye[0] / -p_eye[2], p_eye[1] / -p_eye[2])
    region = (0, 640)
    # Off: the eye image stretched over its viewport, no lens.
    uv = project_to_pixels(p_eye[None], view.fov, 640, 800)[0]
    np.testing.assert_allclose(channel_centroid(off, region, 1), uv, atol=1.0)
    # On: where the profile's lens model puts that direction, per colour channel.
    green = lens_panel_px(profile, 0, tan_xy, 1)
    np.testing.assert_allclose(channel_centroid(on, region, 1), green, atol=1.5)
    assert np.linalg.norm(green - uv) > 20  # barrel pre-distortion pulls it well inwards
    for channel in (0, 2):
        expected = lens_panel_px(profile, 0, tan_xy, channel)
        found = channel_centroid(on, region, channel)
        np.testing.assert_allclose(
            found - channel_centroid(on, region, 1), expected - green, atol=0.6
        )
    # The chromatic correction is visible: red and blue land apart (DK1 chroma terms).
    red, blue = (channel_centroid(on, region, c) for c in (0, 2))
    assert np.linalg.norm(red - blue) > 1.5
    # Without the lens all channels coincide.
    off_red, off_blue = (channel_centroid(off, region, c) for c in (0, 2))
    assert np.linalg.norm(off_red - off_blue) < 0.05
