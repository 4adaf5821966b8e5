"""MSAA on the eye images (coverage on pixels, resolved before the lens pass) and colour end to
end (textures decoded, lighting linear, one sRGB encoding at the end)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gltf_ref import linear_to_srgb, srgb_to_linear

from vrkit.app import run_scene
from vrkit.backends.base import RunConfig
from vrkit.backends.headless import HeadlessBackend
from vrkit.core.errors import InputError
from vrkit.core.types import LEFT, EyeView, Fov, Pose
from vrkit.math.projection import project_to_pixels
from vrkit.math.transforms import matrix_from_quat, quat_from_axis_angle, transform
from vrkit.poses.base import StaticPose
from vrkit.render.meshes import quad
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Sampler, Scene
from vrkit.render.targets import EyeTargets, choose_samples

W, H = 96, 64
FOV = Fov.from_degrees(-30, 30, 20, -20)
VIEW = EyeView(LEFT, Pose(), FOV)


def slanted_edge_scene():
    """A white unlit quad whose right edge crosses the view, 4 degrees off vertical."""
    R = np.eye(3)
    c, s = math.cos(math.radians(4)), math.sin(math.radians(4))
    R[:2, :2] = [[c, -s], [s, c]]
    scene = Scene(clear_color=(0, 0, 0, 1))
    T = transform(R, [-0.47, 0.0, -1.0])
    scene.add(quad(1.0, 2.0), T, Material((1, 1, 1, 1), lit=False), "card")
    return scene, T


def render(gl, scene, samples, view=VIEW, size=(W, H)):
    targets = EyeTargets(gl, [size], samples)
    renderer = StereoRenderer(gl)
    try:
        renderer.render_view(scene, view, targets.targets[0])
        return targets.framebuffers[0].read_rgba()
    finally:
        renderer.release()
        targets.release()


def edge_x(T, rows):
    """Pixel x of the card's right edge at each row centre (projection of its two ends)."""
    ends = (T @ np.array([[0.5, -1.0, 0, 1], [0.5, 1.0, 0, 1]]).T).T[:, :3]
    (x0, y0), (x1, y1) = project_to_pixels(ends, FOV, W, H)
    return x0 + (rows + 0.5 - y0) * (x1 - x0) / (y1 - y0)


def test_edge_is_binary_without_msaa_and_ramps_with_it(gl):
    scene, T = slanted_edge_scene()
    rows = np.arange(8, H - 8)
    truth = edge_x(T, rows)
    off = render(gl, scene, 1)[rows, :, 0]
    on = render(gl, scene, 4)[rows, :, 0]
    assert set(np.unique(off)) == {0, 255}  # binary: each pixel in or out
    ramp = on[(on > 0) & (on < 255)]
    assert len(ramp) >= len(rows) * 0.7  # most rows have a partly covered pixel
    assert len(np.unique(ramp)) >= 3  # 1/4, 2/4, 3/4 coverage
    # Each row's covered area, summed in linear light, is the edge's position: the samples are
    # averaged in linear light (an encoded average would read 2/4 as 128, not 188).
    covered = srgb_to_linear(on / 255.0).sum(axis=1)
    np.testing.assert_allclose(covered, truth, atol=0.3)
    assert np.abs(covered - truth).mean() < 0.12
    # Without MSAA a row's count only knows which pixel centres are inside: up to 0.5 px off.
    hard = (off == 255).sum(axis=1)
    assert np.abs(hard - truth).max() > 0.3
    # Each ramp is monotone from covered to empty over at most two pixels.
    for row in on.astype(int):
        assert np.all(np.diff(row) <= 0) and ((row > 0) & (row < 255)).sum() <= 2


def test_resolve_happens_before_the_lens_pass():
    """The panel is made from the resolved eye image: an identity lens shows the ramps."""
    panels, eyes = {}, {}
    for msaa in (0, 4):
        cfg = RunConfig(frames=1, eye_size=(W, H), msaa=msaa, pose_source=StaticPose(Pose()))
        backend = HeadlessBackend(cfg)
        scene, _T = slanted_edge_scene()
        with backend:
            run_scene(backend, scene)
            panels[msaa] = backend.last_panel
            eyes[msaa] = backend.eyes.framebuffers[0].read_rgba()
            assert backend.summary()["msaa_samples"] == max(msaa, 1)
    left = {m: p[:, :W] for m, p in panels.items()}
    # The lens pass samples each eye image texel for texel here, so the panel is the resolved
    # eye image: the partly covered pixels are there with MSAA, and only with it.
    for m in (0, 4):
        np.testing.assert_array_equal(left[m], eyes[m])
    partial = [((p[..., 0] > 0) & (p[..., 0] < 255)).sum() for p in (left[0], left[4])]
    assert partial[0] == 0 and partial[1] > 30


def test_msaa_choice():
    assert choose_samples(None, 4) == 4 and choose_samples(None, 16) == 4
    assert choose_samples(None, 2) == 2 and choose_samples(None, 1) == 1
    assert choose_samples(0, 4) == 1 and choose_samples(1, 4) == 1 and choose_samples(2, 4) == 2
    with pytest.raises(InputError, match=r"--msaa 8 is more than this GL supports \(4"):
        choose_samples(8, 4)
    with pytest.raises(InputError, match="--msaa must be one of 0, 1, 2, 4, 8, 16, got 3"):
        choose_samples(3, 16)


# --- colour -----------------------------------------------------------------------------------


def grey_card_scene(level: int, lit: bool = False):
    texture = np.full((16, 16, 3), level, np.uint8)
    scene = Scene(clear_color=(0, 0, 0, 1), ambient=1.0)
    scene.add(quad(4, 4), transform(None, [0, 0, -1.0]), Material(texture=texture, lit=lit))
    return scene


@pytest.mark.parametrize("profile", [None, "oculus-dk1"])
def test_mid_grey_texture_shows_as_the_same_grey_on_the_panel(profile):
    from vrkit.optics.profile import load_profile

    for level in (64, 128, 200):
        cfg = RunConfig(
            frames=1,
            eye_size=(64, 64) if profile is None else None,
            profile=load_profile(profile) if profile else None,
            pose_source=StaticPose(Pose()),
        )
        backend = HeadlessBackend(cfg)
        with backend:
            run_scene(backend, grey_card_scene(level, lit=level == 200))
            panel = backend.last_panel
            eye = backend.eyes.framebuffers[0].read_rgba()
            x, y, w, h = backend.layout.viewports[0]
        # The texture's byte, decoded to linear when sampled, filtered, resolved and lens-warped
        # in linear light, encoded once: the same byte on the panel (and in the eye image).
        centre = panel[y + h // 2 - 2 : y + h // 2 + 2, x + w // 2 - 2 : x + w // 2 + 2, :3]
        assert np.abs(centre.astype(int) - level).max() <= 1, (profile, level, centre[0, 0])
        eh, ew = eye.shape[0] // 2, eye.shape[1] // 2
        assert np.abs(eye[eh - 4 : eh + 4, ew - 4 : ew + 4, :3].astype(int) - level).max() <= 1


def test_lighting_is_in_linear_light(gl):
    """A lit white card turned 60 degrees from the light: diffuse 0.5, shaded in linear."""
    scene = Scene(clear_color=(0, 0, 0, 1), ambient=0.0)
    scene.light_dir = np.array([0.0, math.sin(math.radians(60)), math.cos(math.radians(60))])
    scene.add(quad(4, 4), transform(None, [0, 0, -1.0]), Material((0.5, 0.5, 0.5, 1)))
    img = render(gl, scene, 1)
    want = 255 * linear_to_srgb(0.5 * 0.5)  # 136.9; shading encoded values would give 64
    assert np.abs(img[20:40, 30:60, :3].astype(int) - want).max() <= 1


def test_vertex_colours_and_material_colour_are_linear(gl):
    scene = Scene(clear_color=(0, 0, 0, 1))
    card = quad(4, 4)
    card.colors[:] = (0.5, 0.25, 1.0, 1.0)
    scene.add(card, transform(None, [0, 0, -1.0]), Material((0.5, 1.0, 0.2, 1), lit=False))
    img = render(gl, scene, 4)
    want = 255 * linear_to_srgb(np.array([0.25, 0.25, 0.2]))
    assert np.abs(img[32, 48, :3] - want).max() <= 1


def test_blended_nodes_are_drawn_back_to_front_in_linear_light(gl):
    """Two half-transparent cards over a blue one, listed near-first: drawn far-first."""
    scene = Scene(clear_color=(0, 0, 0, 1))
    near = Material((1.0, 0.0, 0.0, 0.5), lit=False, alpha_mode="blend")
    far = Material((0.0, 1.0, 0.0, 0.5), lit=False, alpha_mode="blend")
    scene.add(quad(4, 4), transform(None, [0, 0, -1.0]), near, "near")
    scene.add(quad(4, 4), transform(None, [0, 0, -2.0]), far, "far")
    scene.add(quad(9, 9), transform(None, [0, 0, -3.0]), Material((0, 0, 1, 1), lit=False))
    img = render(gl, scene, 1)
    # blue, then green over it, then red over that; each blend in linear light
    lin = np.array([0.0, 0.0, 1.0])
    lin = 0.5 * np.array([0.0, 1.0, 0.0]) + 0.5 * lin
    lin = 0.5 * np.array([1.0, 0.0, 0.0]) + 0.5 * lin
    want = 255 * linear_to_srgb(lin)
    assert np.abs(img[32, 48, :3].astype(int) - want).max() <= 2, (img[32, 48], want)


def test_mask_cuts_by_texture_alpha_and_culling_hides_back_faces(gl):
    texture = np.zeros((2, 2, 4), np.uint8)
    texture[..., :3] = 255
    texture[:, 0, 3] = 60  # left half below the 0.5 cutoff
    texture[:, 1, 3] = 200
    nearest = Sampler(mag_filter="nearest", min_filter="nearest")
    mask = Material(texture=texture, lit=False, alpha_mode="mask", sampler=nearest)
    scene = Scene(clear_color=(0, 0, 0, 1))
    scene.add(quad(4, 4), transform(None, [0, 0, -1.0]), mask)
    img = render(gl, scene, 1)
    assert img[32, 20, :3].max() == 0 and img[32, 76, :3].min() == 255
    # A single-sided card seen from behind is culled; a double-sided one is drawn.
    back = transform(matrix_from_quat(quat_from_axis_angle([0, 1, 0], np.pi)), [0, 0, -1.0])
    for double, seen in ((False, 0), (True, 255)):
        scene = Scene(clear_color=(0, 0, 0, 1))
        scene.add(quad(4, 4), back, Material(lit=False, double_sided=double))
        assert render(gl, scene, 1)[32, 48, 0] == seen


def test_an_undistorted_panel_copies_srgb_eye_images_byte_for_byte(gl):
    """Every code, and random neighbours, through decode + encode: the same bytes (a texel for
    texel copy: no filtering in linear light can mix a bright texel into a dark one)."""
    from vrkit.gl.resources import SRGB8_ALPHA8
    from vrkit.render.panel import PanelCompositor, side_by_side_layout

    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(4, 0)
    noise = np.random.default_rng(3).integers(0, 256, (4, 256, 3), dtype=np.uint8)
    for image in (ramp, noise):
        textures = [gl.texture(256, 4, SRGB8_ALPHA8, data=image) for _ in range(2)]
        compositor = PanelCompositor(gl, side_by_side_layout((256, 4)))
        try:
            compositor.compose(textures)
            np.testing.assert_array_equal(compositor.read_panel()[:, :256, :3], image)
        finally:
            compositor.release()
            for t in textures:
                t.release()
