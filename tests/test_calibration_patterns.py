"""Patterns, pattern.json, feature detection accuracy, capture sources, the display path."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from xvfb import xvfb  # noqa: F401  (fixture)

from vrkit.calibration.capture import FolderSource, VideoSource, open_source, write_rgb
from vrkit.calibration.detect import detect_frame
from vrkit.calibration.fit import _param_for
from vrkit.calibration.patterns import PanelGeometry, PatternSet, make_pattern_set, render_frame
from vrkit.calibration.synth import R_EYE_CAM_NOMINAL, LensImaging, ideal_from_camera_rays
from vrkit.core.errors import BackendUnavailableError, DataError, InputError
from vrkit.optics.models import BrownConradyLens, RadialPolynomialLens
from vrkit.optics.profile import load_profile
from vrkit.vision.camera import CameraModel

PANEL = PanelGeometry.from_profile(load_profile("generic-1440x1600"), 0)


def test_panel_geometry_from_profile_and_tan_round_trip():
    prof = load_profile("generic-1440x1600")
    assert PANEL.viewport_px == (0, 0, 1440, 1600)
    # Lens centre: 63.5 mm apart about the panel middle, half height.
    pitch = prof.size_m[0] / prof.resolution_px[0]
    assert PANEL.lens_centre_px[0] == pytest.approx((prof.size_m[0] - 0.0635) / 2 / pitch)
    assert PANEL.lens_centre_px[1] == pytest.approx(800.0)
    px = np.array([[100.0, 200.0], [1400.0, 1500.0]])
    tan = PANEL.px_to_tan(px)
    assert tan[0, 1] > 0 > tan[1, 1]  # y up in tan units, down in pixels
    np.testing.assert_allclose(PANEL.tan_to_px(tan), px)


def test_pattern_frames_and_json_round_trip(tmp_path):
    ps = make_pattern_set(PANEL, ("dots", "checkerboard"), ("red", "white"), spacing_px=60)
    assert [f.name for f in ps.frames] == [
        "dots_red",
        "dots_white",
        "checkerboard_red",
        "checkerboard_white",
    ]
    dots = ps.frames[0]
    anchor = np.flatnonzero((dots.ij == 0).all(axis=1))
    np.testing.assert_allclose(dots.features[anchor[0]], PANEL.lens_centre_px)
    img = render_frame(PANEL, dots)
    assert img.shape == (1600, 2880, 3) and img[..., 1:].max() == 0
    # Every dot's intensity centroid is its feature position (pixel centres at i + 0.5).
    k = 7
    x, y = dots.features[k]
    win = img[int(y) - 12 : int(y) + 12, int(x) - 12 : int(x) + 12, 0].astype(float)
    yy, xx = np.mgrid[int(y) - 12 : int(y) + 12, int(x) - 12 : int(x) + 12] + 0.5
    # (4x4 coverage sampling: exact to a few thousandths of a pixel.)
    assert (win * xx).sum() / win.sum() == pytest.approx(x, abs=0.005)
    assert (win * yy).sum() / win.sum() == pytest.approx(y, abs=0.005)
    white = render_frame(PANEL, ps.frames[1])
    assert (white[..., 0] == white[..., 2]).all()
    path = ps.save(tmp_path)
    back = PatternSet.load(path)
    assert [f.name for f in back.frames] == [f.name for f in ps.frames]
    np.testing.assert_array_equal(back.frames[2].features, ps.frames[2].features)
    assert back.panel == ps.panel
    assert (tmp_path / "checkerboard_white.png").is_file()
    data = json.loads(path.read_text())
    data["version"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"pattern\.json': \$\.version: expected exactly 1, got 2"):
        PatternSet.load(path)
    with pytest.raises(InputError, match="unknown channel 'purple'"):
        make_pattern_set(PANEL, ("dots",), ("purple",))


def _imaging(lens, camera):
    return LensImaging(camera, PANEL, lens, R_EYE_CAM_NOMINAL, np.array(PANEL.lens_centre_px))


def _expected_camera_px(camera, lens, panel_px, channel=1):
    ideal = lens.undistort(PANEL.px_to_tan(panel_px), channel)
    eye = np.concatenate([ideal, -np.ones((len(ideal), 1))], axis=1)
    return camera.project(eye @ R_EYE_CAM_NOMINAL)  # R^T = R for the nominal rotation


@pytest.mark.parametrize("kind", ["dots", "checkerboard"])
def test_detection_is_subpixel_through_a_lens(kind):
    camera = CameraModel(
        "pinhole",
        (1000, 900),
        [[300.0, 0, 500.3], [0, 300.0, 449.6], [0, 0, 1]],
        [0.0, 0.0, 0.0, 0.0],
    )
    lens = RadialPolynomialLens([0.12, 0.03])
    ps = make_pattern_set(PANEL, (kind,), ("green",), spacing_px=64)
    frame = ps.frames[0]
    img = _imaging(lens, camera).capture(render_frame(PANEL, frame), vignetting=False)
    det = detect_frame(img[..., 1].astype(np.float32), frame)
    assert len(det.camera_px) >= 0.8 * len(frame.features)
    want = _expected_camera_px(camera, lens, frame.features[det.feature_index])
    err = np.linalg.norm(det.camera_px - want, axis=1)
    # Dots (intensity centroids) are the accurate pattern; checkerboard corners seen through
    # a distorting lens are bent, which costs cornerSubPix about 0.1 px.
    med, worst = (0.05, 0.2) if kind == "dots" else (0.15, 0.5)
    assert np.median(err) < med, np.median(err)
    assert err.max() < worst, err.max()


def test_detection_refuses_an_empty_capture():
    frame = make_pattern_set(PANEL, ("dots",), ("green",)).frames[0]
    with pytest.raises(DataError, match="pattern not found"):
        detect_frame(np.zeros((480, 640), np.float32), frame)


def test_camera_rays_to_ideal_convention():
    # A camera ray to the right and up (OpenCV: +x, -y) is ideal (+, +) in the eye frame.
    ideal, valid = ideal_from_camera_rays(np.array([[0.2, -0.1, 1.0]]), R_EYE_CAM_NOMINAL)
    np.testing.assert_allclose(ideal, [[0.2, 0.1]])
    assert valid.all()


def test_fast_brown_forward_matches_the_optics_model():
    par = _param_for("brown_conrady", 1.3, [0, 1, 2])
    p = np.array([-0.3, 0.1, 0.002, -0.001, -0.02] * 3) * np.repeat([1.0, 1.02, 0.97], 5)
    lens = par.build(p)
    assert isinstance(lens, BrownConradyLens)
    pts = np.random.default_rng(0).uniform(-0.9, 0.9, (50, 2))
    for c in range(3):
        np.testing.assert_allclose(par.forward(p, pts, c), lens.distort(pts, c), atol=1e-12)


def test_capture_sources(tmp_path):
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, f in enumerate(frames):
        write_rgb(folder / f"f{i}.png", f)
    with open_source(f"folder:{folder}") as src:
        assert isinstance(src, FolderSource)
        avg = src.grab(4)
        np.testing.assert_allclose(avg, np.mean(frames, axis=0), atol=0.51)
        with pytest.raises(DataError, match="no more images after 4"):
            src.grab(1)
    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for v in (40, 80, 120):
        writer.write(np.full((48, 64, 3), v, np.uint8))
    writer.release()
    with open_source(str(video)) as src:
        assert isinstance(src, VideoSource)
        assert abs(float(src.grab(3).mean()) - 80) < 3
    with pytest.raises(InputError, match="cannot open capture source"):
        open_source("nothing:here")
    with pytest.raises(BackendUnavailableError, match="cannot open camera 97"):
        open_source("camera:97")


def test_pattern_goes_through_the_panel_compositor_pixel_exact(gl):
    from vrkit.calibration.display import PanelPresenter

    ps = make_pattern_set(PANEL, ("dots",), ("red", "white"), spacing_px=64)
    presenter = PanelPresenter(gl, PANEL)
    # Random pixels too: the dot grid is symmetric about the panel's middle row, so it alone
    # would not see an upside-down eye image.
    noise = np.random.default_rng(3).integers(0, 256, (1600, 2880, 3), dtype=np.uint8)
    try:
        for want in [render_frame(PANEL, f) for f in ps.frames] + [noise]:
            got = presenter.compose(want)
            np.testing.assert_array_equal(got, want)
    finally:
        presenter.release()


def test_patterns_full_screen_through_the_direct_display_backend(xvfb, tmp_path):  # noqa: F811
    """A panel-sized monitor (as the headset's panel on HDMI): the window shows the panel
    image pixel for pixel, both eyes; `vrkit calibrate pattern --show` runs through it."""
    from vrkit.calibration.display import DisplayPatterns
    from vrkit.cli import main

    prof = load_profile("generic-1440x1600")
    xvfb(2880, 1600)
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (1600, 2880, 3), dtype=np.uint8)
    dots = render_frame(PANEL, make_pattern_set(PANEL, ("dots",), ("white",), 64).frames[0])
    shower = DisplayPatterns(prof, vsync=False, capture=True)
    try:
        assert shower.backend.gl.monitor is not None  # full screen
        assert not shower.backend.layout.distorted
        for want in (image, dots):
            assert shower.show(want)
            np.testing.assert_array_equal(shower.backend.last_window[..., :3], want)
        with pytest.raises(InputError, match=r"panel image is \(10, 10, 3\)"):
            shower.show(np.zeros((10, 10, 3), np.uint8))
    finally:
        shower.release()
        shower.release()
    argv = ["calibrate", "pattern", "--out", str(tmp_path), "--channels", "green", "--show"]
    assert main([*argv, "--seconds", "0.01", "--no-vsync"]) == 0
    assert (tmp_path / "pattern.json").is_file() and (tmp_path / "dots_green.png").is_file()
    # `calibrate capture --show`: each frame goes up on the panel, then the source is read
    # (here a folder standing in for the camera).
    argv = ["calibrate", "capture", "--pattern", str(tmp_path), "--out", str(tmp_path / "caps")]
    argv += ["--source", f"folder:{tmp_path}", "--average", "1", "--show", "--settle", "0"]
    assert main(argv) == 0
    np.testing.assert_array_equal(
        cv2.imread(str(tmp_path / "caps" / "dots_green.png")),
        cv2.imread(str(tmp_path / "dots_green.png")),
    )
