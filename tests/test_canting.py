"""A canted headset, closed loop: the rendered views and panel agree with the profile's numbers.

The shipped ``wide-canted-5deg`` profile turns each eye's display and lens 5 degrees outward.
One real headless run (EGL, the layout path every panel backend takes, lens pre-distortion on)
renders small Gaussian markers at known points in the head frame. Two things must hold:

* the FOV report computed from the run's own views (``fov_report_from_views``, the hmdq-style
  report a runtime's views get) equals the profile's FOV report within 0.01 degree, and the
  views are placed with the profile's IPD;
* on the panel, each marker lands, per colour channel, where the profile's numbers put it,
  within 1 px. The prediction below is written out from the profile's JSON numbers with plain
  trigonometry and a bisection for the lens polynomial: it calls no vrkit geometry.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from xvfb import xvfb  # noqa: F401  (fixture)

from vrkit.app import run_scene
from vrkit.backends.base import RunConfig
from vrkit.backends.headless import HeadlessBackend
from vrkit.cli import main
from vrkit.core.types import Pose
from vrkit.math.transforms import quat_from_axis_angle, transform
from vrkit.measure.fov import fov_report, fov_report_from_views
from vrkit.optics.profile import load_profile, shipped_profiles_dir
from vrkit.poses.base import StaticPose
from vrkit.render.meshes import quad
from vrkit.render.scene import Material, Scene

cv2 = pytest.importorskip("cv2")

PROFILE = "wide-canted-5deg"
HEAD_POS = np.array([0.2, 1.6, 0.1])
HEAD_YAW_DEG = 10.0  # any head pose: the prediction below works in the head frame only
#: Marker centres in the head frame (x right, y up, -z ahead), metres.
MARKERS_HEAD = np.array(
    [
        [0.0, 0.0, -1.0],  # straight ahead: both eyes, near the centre
        [-0.7, 0.3, -1.0],  # left and up: both eyes, far off axis in the right eye
        [0.9, -0.4, -0.8],  # right and down: beyond the left eye's 50 deg inner limit
        [-0.35, -0.55, -0.9],  # left and down
    ]
)
MARKER_M = 0.04
EYE_SIZE = (1024, 1024)


def gaussian_marker(n: int = 64) -> np.ndarray:
    """A white Gaussian spot on black (sigma n/8): its image's centroid is its centre's image."""
    c = (np.arange(n) + 0.5 - n / 2) / (n / 8)
    g = np.exp(-(c[:, None] ** 2 + c[None, :] ** 2) / 2)
    return np.repeat(np.round(255 * g).astype(np.uint8)[..., None], 3, axis=2)


def head_rotation(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


@pytest.fixture(scope="module")
def canted_run():
    """One frame of the canted profile through the headless backend: views, panel, profile."""
    profile = load_profile(PROFILE)
    R = head_rotation(HEAD_YAW_DEG)
    scene = Scene(clear_color=(0, 0, 0, 1), name="markers")
    texture = gaussian_marker()
    for i, p in enumerate(MARKERS_HEAD):
        scene.add(
            quad(MARKER_M, MARKER_M),
            transform(R, HEAD_POS + R @ p),  # facing the head, like the head's +Z
            Material((1, 1, 1, 1), lit=False, texture=texture),
            f"marker{i}",
        )
    head = Pose(HEAD_POS, quat_from_axis_angle([0, 1, 0], math.radians(HEAD_YAW_DEG)))
    config = RunConfig(frames=1, profile=profile, eye_size=EYE_SIZE, pose_source=StaticPose(head))
    backend = HeadlessBackend(config)
    frames = []
    backend.open()
    try:
        run_scene(backend, scene, on_frame=frames.append)
        panel = backend.last_panel.copy()
    finally:
        backend.close()
    return profile, frames[0].views, panel


# --------------------------------------------------------------------------------------------
# (a) the FOV report of the run's views equals the profile's


def _flatten(report: dict) -> dict[str, float]:
    keys = ("left", "right", "up", "down", "horizontal", "vertical", "diagonal")
    out = {f"{eye}.{k}": report["eyes"][eye][k] for eye in ("left", "right") for k in keys}
    for k in ("total_horizontal", "binocular_overlap", "binocular_vertical", "canting"):
        out[k] = report[k]
    return out


def test_views_of_the_canted_run_report_the_profiles_fov(canted_run):
    profile, views, _ = canted_run
    from_profile = _flatten(fov_report(profile))
    from_views = fov_report_from_views(views)
    assert from_views["canting"] == pytest.approx(5.0, abs=1e-9)
    for key, value in _flatten(from_views).items():
        assert value == pytest.approx(from_profile[key], abs=0.01), key
    # The profile's default IPD places the eyes (no --ipd given).
    assert from_views["ipd_m"] == pytest.approx(0.064, abs=1e-12)
    # What the canting adds, from the profile's numbers: outer 60 + 5 on each side, and the
    # overlap loses 5 on each side of the 50-degree inner limits.
    assert from_views["total_horizontal"] == pytest.approx(2 * (60 + 5), abs=0.01)
    assert from_views["binocular_overlap"] == pytest.approx(2 * (50 - 5), abs=0.01)


def run_views(backend_cls, **config):
    """The views of one frame of an empty scene on a freshly opened backend."""
    frames = []
    backend = backend_cls(RunConfig(frames=1, **config))
    backend.open()
    try:
        run_scene(backend, Scene(), on_frame=frames.append)
    finally:
        backend.close()
    return frames[0].views


@pytest.mark.parametrize(("ipd", "expected"), [(None, 0.064), (0.07, 0.07)])
def test_ipd_option_overrides_the_profile_default_and_canting_stays(ipd, expected):
    profile = load_profile(PROFILE)
    views = run_views(
        HeadlessBackend, profile=profile, ipd_m=ipd, distortion=False, eye_size=(64, 64)
    )
    rep = fov_report_from_views(views)
    assert rep["ipd_m"] == pytest.approx(expected, abs=1e-12)
    assert rep["canting"] == pytest.approx(5.0, abs=1e-9)
    # Without a profile: --ipd or 0.063 m, and no canting, as before.
    rep = fov_report_from_views(run_views(HeadlessBackend, ipd_m=ipd, eye_size=(64, 64)))
    assert rep["ipd_m"] == pytest.approx(ipd or 0.063, abs=1e-12)
    assert rep["canting"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("kind", ["sim", "display"])
def test_window_backends_place_the_eyes_like_the_profile(xvfb, kind):  # noqa: F811
    from vrkit.backends.display import DisplayBackend
    from vrkit.backends.simulator import SimulatorBackend

    xvfb(2880, 1600)  # the profile's panel size, for the direct-display backend
    profile = load_profile(PROFILE)
    backend_cls = SimulatorBackend if kind == "sim" else DisplayBackend
    extra = {"overlay": False, "window_size": (720, 400)} if kind == "sim" else {}
    views = run_views(
        backend_cls, profile=profile, eye_size=(64, 64), distortion=False, vsync=False, extra=extra
    )
    from_views = _flatten(fov_report_from_views(views))
    for key, value in _flatten(fov_report(profile)).items():
        assert value == pytest.approx(from_views[key], abs=0.01), key
    assert fov_report_from_views(views)["ipd_m"] == pytest.approx(0.064, abs=1e-12)


def test_run_json_records_ipd_and_canting(tmp_path):
    scene = tmp_path / "empty.py"
    scene.write_text(
        "from vrkit.render.scene import Scene\n\n\ndef build_scene():\n    return Scene()\n"
    )
    out = tmp_path / "run"
    args = ["run", str(scene), "--backend", "headless", "--frames", "1", "--eye-size", "64x64"]
    args += ["--out", str(out), "--overwrite"]  # one folder, three runs
    cases = [
        (["--profile", PROFILE, "--no-distortion"], 0.064, 5.0),
        (["--profile", PROFILE, "--no-distortion", "--ipd", "0.07"], 0.07, 5.0),
        ([], 0.063, 0.0),
    ]
    for extra, ipd, cant in cases:
        assert main([*args, *extra]) == 0
        doc = json.loads((out / "run.json").read_text())
        assert doc["ipd_m"] == ipd and doc["canting_deg"] == pytest.approx(cant), extra


# --------------------------------------------------------------------------------------------
# (b) each marker lands on the panel where the canted projection through the lens puts it


def _panel_radius(ideal_r: float, k: list[float]) -> float:
    """Solve ``ideal_r = r (1 + k1 r^2 + k2 r^4)`` for the panel radius r by bisection."""
    lo, hi = 0.0, ideal_r
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid * (1 + k[0] * mid**2 + k[1] * mid**4) < ideal_r:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def predicted_panel_px(
    p_head: np.ndarray, eye: int, channel: int, cant_deg: float | None = None
) -> tuple[float, float] | None:
    """Panel pixel (x right, y down from the top-left corner) of a head-frame point, or None.

    From the profile file's numbers only: eyes at x = -+ipd/2, each yawed outward by the
    canting; tan angles in the eye frame; None outside the lens limits; the radial polynomial
    (ideal = scale_c * r (1 + k1 r^2 + k2 r^4), mirrored for the right eye, which does not change
    a radial lens) inverted by bisection; then tan units -> metres -> pixels about the lens
    centre (panel centre -+ separation / 2, half the panel height).
    """
    d = json.loads((shipped_profiles_dir() / f"{PROFILE}.json").read_text())
    cant_deg = d["optics"]["canting_deg"] if cant_deg is None else cant_deg
    ipd, cant = d["ipd_default_m"], math.radians(cant_deg)
    s, sep = d["optics"]["screen_to_lens_m"], d["optics"]["lens_separation_m"]
    (wpx, hpx), (wm, hm) = d["panel"]["resolution_px"], d["panel"]["size_m"]
    lens, lim = d["lenses"]["left"], d["fov_limits_deg"]
    sign = -1 if eye == 0 else 1  # left eye at -x, yawed left (+ about +y)
    dx, dy, dz = p_head[0] - sign * ipd / 2, p_head[1], p_head[2]
    yaw = -sign * cant
    x = math.cos(yaw) * dx - math.sin(yaw) * dz  # R_y(yaw)^T applied to d
    z = math.sin(yaw) * dx + math.cos(yaw) * dz
    tx, ty = x / -z, dy / -z
    left, right = (lim["outer"], lim["inner"]) if eye == 0 else (lim["inner"], lim["outer"])
    margin = 2.0  # degrees away from the edges, so the marker is whole
    if not (-left + margin < math.degrees(math.atan(tx)) < right - margin):
        return None
    if not (-lim["down"] + margin < math.degrees(math.atan(ty)) < lim["up"] - margin):
        return None
    r_ideal = math.hypot(tx, ty) / lens["channel_scale"][channel]
    r_panel = _panel_radius(r_ideal, lens["k"])
    scale = r_panel / math.hypot(tx, ty)
    cx = wm / 2 + sign * sep / 2
    cy = hm / 2
    mx, my = cx + tx * scale * s, cy + ty * scale * s
    return mx / wm * wpx, (1 - my / hm) * hpx


def blob_centroids(channel_img: np.ndarray) -> np.ndarray:
    """Intensity-weighted centroids (x, y), pixel centres at i + 0.5, of the blobs above 8."""
    n, labels = cv2.connectedComponents((channel_img > 8).astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        ys, xs = np.nonzero(labels == i)
        w = channel_img[ys, xs].astype(float)
        if w.sum() < 255 * 4:  # a stray pixel is not a marker
            continue
        out.append([(xs + 0.5) @ w / w.sum(), (ys + 0.5) @ w / w.sum()])
    return np.array(out).reshape(-1, 2)


def test_markers_land_where_the_canted_projection_predicts(canted_run):
    _, _, panel = canted_run
    found_total = 0
    for channel in range(3):
        found = blob_centroids(panel[..., channel])
        predicted = [
            pp
            for p in MARKERS_HEAD
            for eye in (0, 1)
            if (pp := predicted_panel_px(p, eye, channel)) is not None
        ]
        # Every predicted marker is found within 1 px, and nothing else is on the panel.
        assert len(found) == len(predicted) == 7, (channel, found, predicted)
        for pp in predicted:
            err = np.min(np.hypot(*(found - pp).T))
            assert err < 1.0, f"channel {channel}: marker predicted at {pp}, nearest {err:.2f} px"
        found_total += len(found)
    assert found_total == 21


def test_without_canting_the_prediction_would_be_far_off(canted_run):
    """The check above can fail: the same prediction without the canting misses every marker
    by tens of pixels (5 degrees near the centre is about 60 panel px here)."""
    _, _, panel = canted_run
    found = blob_centroids(panel[..., 1])
    for p in MARKERS_HEAD:
        for eye in (0, 1):
            canted = predicted_panel_px(p, eye, 1)
            flat = predicted_panel_px(p, eye, 1, cant_deg=0.0)
            if canted is None or flat is None:
                continue
            assert np.min(np.hypot(*(found - canted).T)) < 1.0
            assert np.min(np.hypot(*(found - flat).T)) > 30.0
