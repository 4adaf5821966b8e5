"""Distortion pass, closed loop: eye image -> baked mesh (real GL) -> panel -> inverse -> eye.

A known grid of dots (exact sub-pixel centres) is the undistorted eye render. It goes through the
panel compositor with the profile's baked meshes (Mesa llvmpipe); the panel image is then
undistorted with the lens model's numpy inverse (``distort``, through ``cv2.remap`` maps) back
into eye-image pixels, and every dot must land within 0.5 px of where it was drawn. Errors are
measured in panel pixels (the pass's output; both positions are carried to the panel through the
model), and for Cardboard v1, whose eye image has the panel's density, in eye pixels too. The
same is done per colour channel for a lens with lateral chromatic aberration.
"""

from __future__ import annotations

import numpy as np
import pytest

from vrkit.core.errors import InputError
from vrkit.optics.fov import ideal_to_uv, uv_to_ideal
from vrkit.optics.mesh import bake_eye_mesh
from vrkit.optics.profile import load_profile
from vrkit.render.distortion import PerPixelDistortionPass, layout_for_profile, meshes_for_profile
from vrkit.render.panel import PanelCompositor

cv2 = pytest.importorskip("cv2")

SPACING = 40.0
SIGMA = 2.2


def dot_grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 4) uint8 white Gaussian dots on black, and their centres (N, 2) in pixels.

    Pixel (row i, column j) covers [j, j + 1) x [i, i + 1); centres are continuous coordinates.
    """
    off = SPACING / 2 + 0.3  # not on pixel centres or edges
    xs = np.arange(off, w, SPACING)
    ys = np.arange(off, h, SPACING)
    jx = np.arange(w) + 0.5
    iy = np.arange(h) + 0.5
    dx = jx - (np.round((jx - off) / SPACING) * SPACING + off)
    dy = iy - (np.round((iy - off) / SPACING) * SPACING + off)
    val = np.exp(-(dy[:, None] ** 2 + dx[None, :] ** 2) / (2 * SIGMA**2))
    img = np.zeros((h, w, 4), np.uint8)
    img[..., :3] = np.round(255 * val)[..., None]
    img[..., 3] = 255
    gx, gy = np.meshgrid(xs, ys)
    return img, np.stack([gx.ravel(), gy.ravel()], 1)


def compose(gl, profile, eye_images, perpixel=False):
    layout = layout_for_profile(profile, eye_size=eye_images[0].shape[1::-1])
    textures = [gl.texture(im.shape[1], im.shape[0], data=im) for im in eye_images]
    comp = PerPixelDistortionPass(gl, profile, layout) if perpixel else PanelCompositor(gl, layout)
    comp.compose(textures)
    panel = comp.read_panel()
    comp.release()
    for t in textures:
        t.release()
    return panel, layout


def panel_pixel_of_tan(profile, eye, panel_tan):
    """Continuous panel pixel coordinates (x right, y down from the top) of panel tan points."""
    cx, cy = profile.lens_center_m(eye)
    mx = panel_tan[:, 0] * profile.screen_to_lens_m + cx
    my = panel_tan[:, 1] * profile.screen_to_lens_m + cy
    pw, ph = profile.resolution_px
    return np.stack([mx / profile.size_m[0] * pw, ph - my / profile.size_m[1] * ph], 1)


def undistort_panel(profile, eye, panel, fov, eye_size, channel, map_channel=None):
    """Rebuild one channel of the eye image from the panel with the lens model's numpy inverse.

    ``map_channel`` picks the lens channel whose inverse builds the cv2.remap maps (default:
    the same channel).
    """
    map_channel = channel if map_channel is None else map_channel
    w, h = eye_size
    jx, iy = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    uv = np.stack([jx.ravel() / w, 1 - iy.ravel() / h], 1)
    panel_tan = profile.lens(eye).distort(uv_to_ideal(uv, fov), map_channel, strict=False)
    pix = panel_pixel_of_tan(profile, eye, panel_tan) - 0.5  # remap: integers are centres
    pix[~np.isfinite(pix)] = -10
    maps = pix.reshape(h, w, 2).astype(np.float32)
    return cv2.remap(
        panel[..., channel], maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderValue=0
    )


def panel_px_error(profile, eye, fov, eye_size, found, truth, channel=1):
    """Distance on the panel, in panel pixels, between where found and true eye points show."""
    w, h = eye_size
    out = []
    for pts in (found, truth):
        uv = np.stack([pts[:, 0] / w, 1 - pts[:, 1] / h], 1)
        tan = profile.lens(eye).distort(uv_to_ideal(uv, fov), channel)
        out.append(panel_pixel_of_tan(profile, eye, tan))
    return np.linalg.norm(out[0] - out[1], axis=1)


def measured_centres(img, centres, profile, eye, fov, eye_size):
    """Intensity-weighted centroids around each expected dot that is fully on the panel."""
    w, h = eye_size
    half = int(SPACING / 2) - 2
    uv = np.stack([centres[:, 0] / w, 1 - centres[:, 1] / h], 1)
    panel_tan = profile.lens(eye).distort(uv_to_ideal(uv, fov), 1, strict=False)
    pix = panel_pixel_of_tan(profile, eye, panel_tan)
    vx, vy, vw, vh = profile.eye_viewport(eye)
    margin = 12
    on_panel = (
        np.all(np.isfinite(pix), 1)
        & (pix[:, 0] > vx + margin)
        & (pix[:, 0] < vx + vw - margin)
        & (pix[:, 1] > vy + margin)
        & (pix[:, 1] < vy + vh - margin)
        & (centres[:, 0] > half + 1)
        & (centres[:, 0] < w - half - 1)
        & (centres[:, 1] > half + 1)
        & (centres[:, 1] < h - half - 1)
    )
    found = []
    for cx, cy in centres[on_panel]:  # one window per dot (a few hundred), not per pixel
        x0, y0 = int(cx) - half, int(cy) - half
        win = img[y0 : y0 + 2 * half + 1, x0 : x0 + 2 * half + 1].astype(float)
        win = np.clip(win - 8, 0, None)
        yy, xx = np.mgrid[0 : win.shape[0], 0 : win.shape[1]]
        s = win.sum()
        if s <= 0:  # the dot is missing altogether
            found.append([np.nan, np.nan])
            continue
        found.append([(win * (xx + 0.5)).sum() / s + x0, (win * (yy + 0.5)).sum() / s + y0])
    return centres[on_panel], np.array(found)


@pytest.mark.parametrize("name", ["cardboard-v1", "oculus-dk1"])
def test_closed_loop_grid_within_half_a_pixel(gl, name):
    profile = load_profile(name)
    layout = layout_for_profile(profile)
    eye_size = layout.eye_sizes[0]
    img, centres = dot_grid(*eye_size)
    panel, layout = compose(gl, profile, [img, img])
    for eye in (0, 1):
        fov = layout.fovs[eye]
        rebuilt = undistort_panel(profile, eye, panel, fov, eye_size, channel=1)
        truth, found = measured_centres(rebuilt, centres, profile, eye, fov, eye_size)
        assert len(truth) > 250, f"only {len(truth)} dots on the panel"
        err = panel_px_error(profile, eye, fov, eye_size, found, truth)
        assert err.max() < 0.5, f"{name} eye {eye}: worst dot off by {err.max():.3f} panel px"
        if name == "cardboard-v1":
            # Here the eye image has the panel's pixel density, so eye pixels hold too.
            eye_err = np.linalg.norm(found - truth, axis=1)
            assert eye_err.max() < 0.5, f"eye {eye}: worst dot off by {eye_err.max():.3f} eye px"


def test_closed_loop_fails_with_the_wrong_lens(gl):
    # The same loop with an undistortion that ignores the lens is far off: the test can fail.
    profile = load_profile("cardboard-v1")
    layout = layout_for_profile(profile)
    eye_size = layout.eye_sizes[0]
    img, centres = dot_grid(*eye_size)
    panel, layout = compose(gl, profile, [img, img])
    flat = load_profile("cardboard-v1").to_dict()
    flat["lenses"]["left"] = {"kind": "radial", "k": [0.0]}
    from vrkit.optics.profile import profile_from_dict

    wrong = profile_from_dict(flat)
    rebuilt = undistort_panel(wrong, 0, panel, layout.fovs[0], eye_size, channel=1)
    truth, found = measured_centres(rebuilt, centres, profile, 0, layout.fovs[0], eye_size)
    ok = np.all(np.isfinite(found), 1)
    assert np.nanmax(np.linalg.norm(found[ok] - truth[ok], axis=1)) > 5


def test_chromatic_correction_per_channel(gl):
    # generic-1440x1600 has lateral colour: red seen 0.993x, blue 1.008x the green angle.
    profile = load_profile("generic-1440x1600")
    eye_size = (1200, 1320)
    img, centres = dot_grid(*eye_size)
    panel, layout = compose(gl, profile, [img, img])
    fov = layout.fovs[0]
    for channel in range(3):
        rebuilt = undistort_panel(profile, 0, panel, fov, eye_size, channel)
        truth, found = measured_centres(rebuilt, centres, profile, 0, fov, eye_size)
        assert len(truth) > 300
        err = panel_px_error(profile, 0, fov, eye_size, found, truth, channel)
        assert err.max() < 0.5, f"channel {channel}: worst dot off by {err.max():.3f} panel px"
        if channel != 1:
            # Rebuilt with the green channel's inverse instead, the colour fringe shows.
            naive = undistort_panel(profile, 0, panel, fov, eye_size, channel, map_channel=1)
            truth_n, found_n = measured_centres(naive, centres, profile, 0, fov, eye_size)
            err_n = panel_px_error(profile, 0, fov, eye_size, found_n, truth_n, channel)
            assert err_n.max() > 2.0, f"channel {channel}: no chromatic shift ({err_n.max():.2f})"


def test_perpixel_variant_matches_the_mesh(gl):
    profile = load_profile("cardboard-v1")
    layout = layout_for_profile(profile)
    img, _ = dot_grid(*layout.eye_sizes[0])
    mesh_panel, _ = compose(gl, profile, [img, img])
    pp_panel, _ = compose(gl, profile, [img, img], perpixel=True)
    diff = np.abs(mesh_panel[..., :3].astype(int) - pp_panel[..., :3].astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) < 40


def test_mesh_uvs_are_the_lens_model_at_the_vertices():
    profile = load_profile("oculus-dk1")
    mesh = bake_eye_mesh(profile.panel_to_eye_uv, 1, resolution=(16, 12), skip_black=False)
    assert mesh.vertices.shape == (17 * 13, 8) and len(mesh.indices) == 16 * 12 * 6
    fov = profile.eye_fov(1)
    panel = profile.viewport_uv_to_panel_tan(1, (mesh.vertices[:, :2].astype(float) + 1) / 2)
    for c in range(3):
        uv = ideal_to_uv(profile.lens(1).undistort(panel, c), fov)
        np.testing.assert_allclose(mesh.vertices[:, 2 + 2 * c : 4 + 2 * c], uv, atol=1e-6)
    assert not mesh.achromatic  # the DK1 has chromatic terms
    # The vertex column through the lens centre maps to tan x = 0 (lens-centre offset is exact).
    left, right, _, _ = profile.viewport_extent_tan(1)
    ndc_x = 2 * (0 - left) / (right - left) - 1
    on_axis = profile.viewport_uv_to_panel_tan(1, np.array([[(ndc_x + 1) / 2, 0.65]]))
    assert on_axis[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert ideal_to_uv(profile.lens(1).undistort(on_axis, 1), fov)[0, 0] == pytest.approx(
        -np.tan(fov.angle_left) / (np.tan(fov.angle_right) - np.tan(fov.angle_left))
    )


def test_outside_the_fov_is_black_and_meshes_are_finite():
    profile = load_profile("cardboard-v1")
    left, right = meshes_for_profile(profile, (32, 32))
    for mesh in (left, right):
        assert np.all(np.isfinite(mesh.vertices))
        uv = mesh.vertices[:, 4:6]
        outside = np.any((uv < 0) | (uv > 1), axis=1)
        # Cardboard v1's lens limits cut the top and bottom corners: some vertices are black.
        assert 0 < outside.sum() < len(uv)


def test_no_distortion_layout_uses_identity_meshes():
    profile = load_profile("cardboard-v2")
    layout = layout_for_profile(profile, distortion=False)
    assert not layout.distorted and all(m.achromatic for m in layout.meshes)
    assert layout.panel_size == (1920, 1080)
    assert layout.viewports == [(0, 0, 960, 1080), (960, 0, 960, 1080)]


def test_bad_mesh_requests():
    profile = load_profile("cardboard-v1")
    with pytest.raises(InputError, match="resolution"):
        bake_eye_mesh(profile.panel_to_eye_uv, 0, resolution=(0, 10))
    with pytest.raises(InputError, match="eye must be"):
        bake_eye_mesh(profile.panel_to_eye_uv, 2, (8, 8))
    bc = profile.to_dict()
    bc["lenses"]["left"] = {"kind": "brown_conrady", "coefficients": [-0.2, 0.03, 0, 0]}
    from vrkit.optics.profile import profile_from_dict

    with pytest.raises(InputError, match="per-pixel distortion variant supports radial"):
        PerPixelDistortionPass(None, profile_from_dict(bc), layout_for_profile(profile))


def test_auto_resolution_is_the_coarsest_mesh_within_tolerance():
    from vrkit.optics.mesh import AUTO_CANDIDATES, auto_resolution, mesh_error_px

    profile = load_profile("cardboard-v1")
    sizes = [profile.eye_viewport(e)[2:] for e in (0, 1)]

    def error(n):
        return max(mesh_error_px(profile.panel_to_eye_uv, e, (n, n), sizes[e]) for e in (0, 1))

    n, m = auto_resolution(profile.panel_to_eye_uv, sizes, tolerance_px=0.25)
    assert n == m
    assert error(n) <= 0.25
    coarser = AUTO_CANDIDATES[AUTO_CANDIDATES.index(n) - 1]
    assert error(coarser) > 0.25
    # Linear interpolation error falls as 1 / n^2.
    e16, e32 = (mesh_error_px(profile.panel_to_eye_uv, 0, (k, k), sizes[0]) for k in (16, 32))
    assert 3.0 < e16 / e32 < 5.0


@pytest.mark.parametrize("name", ["cardboard-v2", "oculus-dk1", "generic-1440x1600"])
def test_mesh_error_matches_a_brute_force_measure_through_the_lens_inverse(name):
    """mesh_error_px sees only the forward map (and its derivative); check it against the
    displacement measured with the lens model's own inverse: interpolate the baked uv at many
    points inside each triangle, carry the interpolated direction back to the panel with
    ``distort`` and measure how far it lands from the point, in panel pixels."""
    from vrkit.optics.mesh import grid_indices, mesh_error_px

    profile = load_profile(name)
    eye, n = 0, 32  # about 0.6 to 1.6 px of interpolation error on these profiles
    fov, lens = profile.eye_fov(eye), profile.lens(eye)
    _, _, vw, vh = profile.eye_viewport(eye)
    mesh = bake_eye_mesh(profile.panel_to_eye_uv, eye, (n, n), skip_black=False)
    V = mesh.vertices.astype(np.float64)
    tri = V[grid_indices(n, n).reshape(-1, 3)]  # (T, 3, 8)
    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(3), size=(len(tri), 40))  # barycentric points, (T, 40, 3)
    pts = np.einsum("tsk,tkc->tsc", w, tri).reshape(-1, 8)
    panel_uv = (pts[:, :2] + 1) / 2
    panel_tan = profile.viewport_uv_to_panel_tan(eye, panel_uv)
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    px_per_tan = np.array([vw / (right - left), vh / (top - bottom)])
    worst = 0.0
    for c in range(3):
        uv = pts[:, 2 + 2 * c : 4 + 2 * c]
        exact = profile.panel_to_eye_uv(eye, panel_uv)[c]
        ok = np.all((uv >= 0) & (uv <= 1) & (exact >= 0) & (exact <= 1), axis=1)
        back = lens.distort(uv_to_ideal(uv[ok], fov), c, strict=False)
        d = np.hypot(*((back - panel_tan[ok]) * px_per_tan).T)
        worst = max(worst, float(np.nanmax(d)))
    measured = mesh_error_px(profile.panel_to_eye_uv, eye, (n, n), (vw, vh))
    # The measure samples nine fixed points per cell, the brute force 40 random ones per
    # triangle: the same maximum to within a few per cent (measured 0.7 % to 3 % apart).
    assert measured == pytest.approx(worst, rel=0.05)


def test_mesh_baking_refuses_a_map_that_returns_nan_or_the_wrong_shape():
    profile = load_profile("cardboard-v1")

    def holes(eye, uv):
        out = profile.panel_to_eye_uv(eye, uv)
        out[1, :3] = np.nan
        return out

    with pytest.raises(InputError, match="returned 6 non-finite coordinates for eye 0"):
        bake_eye_mesh(holes, 0, (8, 8))
    with pytest.raises(
        InputError, match=r"must return \(3, 81, 2\) per-channel eye uv, got \(81, 2\)"
    ):
        bake_eye_mesh(lambda eye, uv: uv, 0, (8, 8))


def test_headless_run_with_a_profile_composes_through_the_lens(tmp_path):
    # End to end: `vrkit run --profile` path. The panel must equal the eye images resampled
    # through the lens model (numpy reference, exact per pixel), and black outside the Fov.
    from pathlib import Path

    from vrkit.app import load_scene, run_scene
    from vrkit.backends.base import RunConfig
    from vrkit.backends.headless import HeadlessBackend

    profile = load_profile("cardboard-v1")
    scene = Path(__file__).resolve().parents[1] / "examples" / "optics_pattern.py"
    from vrkit.poses.base import StaticPose

    config = RunConfig(frames=1, out_dir=tmp_path, profile=profile, pose_source=StaticPose())
    backend = HeadlessBackend(config)
    backend.open()
    try:
        run_scene(backend, load_scene(scene))
    finally:
        backend.close()
    panel = cv2.imread(str(tmp_path / "frame_00000_panel.png"))
    assert panel.shape == (1080, 1920, 3)
    for eye, name in ((0, "left"), (1, "right")):
        eye_img = cv2.imread(str(tmp_path / f"frame_00000_{name}.png"))
        h, w = eye_img.shape[:2]
        fov = profile.eye_fov(eye)
        x0, y0, vw, vh = profile.eye_viewport(eye)
        jx, iy = np.meshgrid(np.arange(vw) + 0.5, np.arange(vh) + 0.5)
        ndc = np.stack([2 * jx.ravel() / vw - 1, 1 - 2 * iy.ravel() / vh], 1)
        ref = np.zeros((vh, vw, 3), np.float32)
        for c, bgr in ((0, 2), (1, 1), (2, 0)):
            ideal = profile.lens(eye).undistort(
                profile.viewport_uv_to_panel_tan(eye, (ndc + 1) / 2), c
            )
            uv = ideal_to_uv(ideal, fov)
            mx = (uv[:, 0] * w - 0.5).reshape(vh, vw).astype(np.float32)
            my = ((1 - uv[:, 1]) * h - 0.5).reshape(vh, vw).astype(np.float32)
            inside = (uv[:, 0] >= 0) & (uv[:, 0] <= 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= 1)
            ch = cv2.remap(eye_img[..., bgr], mx, my, cv2.INTER_LINEAR)
            ref[..., bgr] = np.where(inside.reshape(vh, vw), ch, 0)
        got = panel[y0 : y0 + vh, x0 : x0 + vw].astype(np.float32)
        diff = np.abs(got - ref)
        assert diff.mean() < 2.0, f"{name}: mean difference {diff.mean():.2f}"
        # Outside the Fov (Cardboard v1 clamps top and bottom at 40 deg) the panel is black.
        top_row = got[0, vw // 2]
        assert top_row.max() == 0
        if eye == 0:
            # The eye image is rendered with the profile's Fov: the wall's 0-degree line (x = 0,
            # 1 m ahead; the left eye sits ipd/2 to its left) lands where the Fov says.
            tl, tr, _, _ = fov.tangents()
            expected = (profile.ipd_default_m / 2 - tl) / (tr - tl) * w
            band = eye_img[h // 2 - 200 : h // 2 - 100].min(axis=2).min(axis=0)
            cols = np.flatnonzero(band >= 250)
            assert cols.size and abs(cols.mean() + 0.5 - expected) < 2.0


def test_fov_beyond_the_lens_range_is_refused():
    from vrkit.core.types import Fov

    profile = load_profile("cardboard-v1").to_dict()
    profile["lenses"]["left"] = {"kind": "radial", "k": [-0.3]}
    from vrkit.optics.profile import profile_from_dict

    prof = profile_from_dict(profile)
    with pytest.raises(InputError, match="beyond the lens model's usable range"):
        prof.panel_to_eye_uv(0, np.zeros((1, 2)), Fov.from_degrees(-60, 60, 60, -60))


def test_skipped_black_cells_draw_the_same_panel(gl):
    from vrkit.render.panel import PanelLayout

    profile = load_profile("generic-1440x1600")
    eye_size = (720, 800)
    img, _ = dot_grid(*eye_size)
    img[..., 0] = 200  # no black in the eye image: any crack or hole would show
    tex = gl.texture(*eye_size, data=img)
    panels, tri = [], []
    for skip in (False, True):
        meshes = [
            bake_eye_mesh(profile.panel_to_eye_uv, e, (48, 48), skip_black=skip) for e in (0, 1)
        ]
        assert all(m.covers_viewport is not skip for m in meshes)
        tri.append(sum(len(m.indices) // 3 for m in meshes))
        base = layout_for_profile(profile, eye_size=eye_size, distortion=False)
        layout = PanelLayout(
            base.panel_size, base.viewports, base.fovs, base.eye_sizes, base.meshes
        )
        comp = PanelCompositor(gl, layout)
        comp.compose([tex, tex])  # fill the panel first: black must be drawn, not left over
        comp.set_meshes(meshes)
        comp.compose([tex, tex])
        panels.append(comp.read_panel())
        comp.release()
    tex.release()
    assert tri[1] < 0.85 * tri[0]
    np.testing.assert_array_equal(panels[0], panels[1])


def test_baking_takes_any_narrow_uv_map_not_only_a_profile():
    """The baker only calls (eye, panel uv) -> per-channel eye uv, as Monado's does: the
    identity map gives the identity mesh, and an affine map interpolates without error."""
    from vrkit.optics.mesh import identity_mesh, mesh_error_px

    def identity(eye, uv):
        return np.stack([uv, uv, uv])

    mesh = bake_eye_mesh(identity, 1, (4, 3))
    ref = identity_mesh(4, 3)
    np.testing.assert_array_equal(mesh.vertices, ref.vertices)
    np.testing.assert_array_equal(mesh.indices, ref.indices)
    assert mesh.achromatic and mesh.covers_viewport

    def affine(eye, uv):  # red 2 % smaller, blue shifted: still linear in the panel position
        return np.stack([0.98 * uv + 0.01, uv, uv + np.array([0.003, -0.002])])

    assert mesh_error_px(affine, 0, (8, 8), (1440, 1600)) < 1e-3  # float32 vertices: 5e-5 px

    # A curved map is not exact: the error is there, and falls with a finer mesh.
    def curved(eye, uv):
        return np.stack([uv + 0.2 * (uv - 0.5) ** 2] * 3)

    coarse, fine = (mesh_error_px(curved, 0, (n, n), (1440, 1600)) for n in (8, 16))
    assert coarse > 1.0 and 3.0 < coarse / fine < 5.0
