"""glTF 2.0 sample models no one here wrote, loaded and rendered; features checked on pixels.

The files in tests/data/gltf are Khronos glTF-Sample-Models (see the README there). Reference
values come from ``gltf_ref`` (a separate minimal reader written from the specification) and
from hand-worked projections, never from vrkit's loader.
"""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
from gltf_ref import DATA, RefGltf, bilinear, linear_to_srgb, srgb_to_linear

from vrkit.core.types import LEFT, EyeView, Fov, Pose
from vrkit.math.projection import project_to_pixels
from vrkit.math.transforms import transform
from vrkit.render.gltf import load_gltf
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Scene
from vrkit.render.targets import EyeTargets

FOV = Fov.from_degrees(-30, 30, 30, -30)
VIEW = EyeView(LEFT, Pose(), FOV)  # at the origin, looking down -Z
BLACK = (0.0, 0.0, 0.0, 1.0)


def render(gl, scene, size=(240, 240), samples=1, view=VIEW):
    targets = EyeTargets(gl, [size], samples)
    renderer = StereoRenderer(gl)
    try:
        renderer.render_view(scene, view, targets.targets[0])
        return targets.framebuffers[0].read_rgba()
    finally:
        renderer.release()
        targets.release()


def model_scene(model, T, light=(0.0, 0.0, 1.0), ambient=0.3):
    scene = Scene(clear_color=BLACK, light_dir=np.array(light), ambient=ambient)
    scene.add_model(model, T)
    return scene


def pixel_bounds(mask):
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), xs.max() + 1, ys.min(), ys.max() + 1], float)


# --- Box: a face colour where it must be ---------------------------------------------------------


def test_box_front_face_colour_and_outline(gl):
    model = load_gltf(DATA / "Box.gltf")
    img = render(gl, model_scene(model, transform(None, [0, 0, -2.0])))
    # The material's baseColorFactor, read here from the JSON: linear (0.8, 0, 0). The front
    # face (+Z, towards the light) gets ambient + (1 - ambient) * 1 = 1: 0.8 linear, encoded.
    factor = json.loads((DATA / "Box.gltf").read_text())["materials"][0]["pbrMetallicRoughness"]
    red = 255 * linear_to_srgb(factor["baseColorFactor"][0])  # 231.1
    assert abs(int(img[120, 120, 0]) - red) <= 1 and img[120, 120, 1:3].max() == 0
    # The front face is the 1 m square at z = -1.5: tangents +-1/3, so pixels 50 .. 190 (the
    # side faces hide behind it). Within 1 px.
    edge = (1 / 3 + math.tan(math.radians(30))) / (2 * math.tan(math.radians(30))) * 240
    mask = img[..., 0] > 100
    np.testing.assert_allclose(pixel_bounds(mask), [240 - edge, edge, 240 - edge, edge], atol=1)
    # Everything else is the clear colour.
    assert img[~mask][:, :3].max() == 0


def test_box_a_face_turned_from_the_light_is_darker_by_lambert(gl):
    model = load_gltf(DATA / "Box.gltf")
    # Light 60 degrees off the front face's normal: diffuse 0.5, shade 0.3 + 0.7 * 0.5.
    light = (math.sin(math.radians(60)), 0.0, math.cos(math.radians(60)))
    img = render(gl, model_scene(model, transform(None, [0, 0, -2.0]), light=light))
    want = 255 * linear_to_srgb(0.8 * (0.3 + 0.7 * 0.5))  # lighting in linear light: 178.7
    assert abs(int(img[120, 120, 0]) - want) <= 1
    assert abs(want - 255 * 0.8 * 0.65) > 20  # what shading the encoded value would give


# --- BoxTextured: texels at their projected positions --------------------------------------------


def _front_face_samples(ref, T_world_model, n=40):
    """World points and glTF UVs spread over the triangles that face the viewer."""
    idx = ref.accessor(0).ravel().astype(int)
    normals, positions, uvs = ref.accessor(1), ref.accessor(2), ref.accessor(3)
    M = T_world_model @ ref.node_matrix(0) @ ref.node_matrix(2)
    world = positions @ M[:3, :3].T + M[:3, 3]
    nrm = normals @ M[:3, :3].T
    pts, tex = [], []
    s, t = np.meshgrid(np.linspace(0.06, 0.94, n), np.linspace(0.06, 0.94, n))
    s, t = s.ravel(), t.ravel()
    keep = s + t <= 0.94
    s, t = s[keep], t[keep]
    for tri in idx.reshape(-1, 3):
        if nrm[tri[0]] @ [0, 0, 1] < 0.99:
            continue
        a, b, c = world[tri]
        ua, ub, uc = uvs[tri]
        pts.append(a + np.outer(s, b - a) + np.outer(t, c - a))
        tex.append(ua + np.outer(s, ub - ua) + np.outer(t, uc - ua))
    assert len(pts) == 2, "the front face is two triangles"
    return np.vstack(pts), np.vstack(tex)


def test_box_textured_texels_land_at_their_projected_pixels(gl):
    ref = RefGltf(DATA / "BoxTextured.gltf")
    T = transform(None, [0, 0, -1.5])
    model = load_gltf(DATA / "BoxTextured.gltf")
    size = 400
    # Ambient 1: every lit fragment shows exactly its texel (decoded, then encoded again).
    img = render(gl, model_scene(model, T, ambient=1.0), size=(size, size))
    pts, uv = _front_face_samples(ref, T)
    px = project_to_pixels(pts, FOV, size, size)
    texture = srgb_to_linear(ref.image_rgb(0) / 255.0)
    h, w = texture.shape[:2]
    # glTF UV (0, 0) is the image's top-left corner; the sampler repeats.
    want = 255 * linear_to_srgb(bilinear(texture, uv[:, 0] * w, uv[:, 1] * h, wrap=True))

    def error(dx, dy):
        got = bilinear(img[..., :3], px[:, 0] + dx, px[:, 1] + dy, wrap=False)
        return float(np.mean(np.abs(got - want)))

    errors = {(dx, dy): error(dx, dy) for dx in range(-3, 4) for dy in range(-3, 4)}
    best = min(errors, key=errors.get)
    assert max(abs(best[0]), abs(best[1])) <= 1, errors
    assert errors[(0, 0)] < 4.0, errors[(0, 0)]  # grey levels: filtering differences only
    assert errors[(3, 0)] > 3 * errors[(0, 0)] and errors[(0, 3)] > 3 * errors[(0, 0)]
    # A loader that forgot glTF's top-left UV origin would show the image upside down.
    flipped = 255 * linear_to_srgb(bilinear(texture, uv[:, 0] * w, (1 - uv[:, 1]) * h, True))
    got = bilinear(img[..., :3], px[:, 0], px[:, 1], wrap=False)
    assert np.mean(np.abs(got - flipped)) > 4 * errors[(0, 0)]


# --- Duck: a child node where its parent's transform puts it -------------------------------------


@pytest.mark.parametrize("name", ["Duck.gltf", "Duck.glb"])
def test_duck_mesh_sits_where_its_parent_scale_puts_it(gl, name):
    ref = RefGltf(DATA / name)
    root = ref.doc["scenes"][0]["nodes"][0]
    child = next(c for c in ref.doc["nodes"][root]["children"] if "mesh" in ref.doc["nodes"][c])
    M_root = ref.node_matrix(root)
    assert np.allclose(np.diag(M_root)[:3], 0.01)  # the file's centimetres -> metres
    T = transform(None, [0.0, -0.85, -3.0])
    world = T @ M_root @ ref.node_matrix(child)
    positions = ref.accessor(2)  # the primitive's POSITION accessor
    p_eye = positions @ world[:3, :3].T + world[:3, 3]
    px = project_to_pixels(p_eye, FOV, 240, 240)
    img = render(gl, model_scene(load_gltf(DATA / name), T))
    mask = img[..., :3].max(axis=2) > 0
    expect = [px[:, 0].min(), px[:, 0].max(), px[:, 1].min(), px[:, 1].max()]
    np.testing.assert_allclose(pixel_bounds(mask), expect, atol=1.0)


def test_duck_variants_render_the_same_pixels(gl, tmp_path):
    """Embedded .gltf, .glb, and .gltf with external .bin and .png: one model, one image."""
    doc = json.loads((DATA / "Duck.gltf").read_text())
    (tmp_path / "Duck0.bin").write_bytes(base64.b64decode(doc["buffers"][0]["uri"].split(",")[1]))
    (tmp_path / "DuckCM.png").write_bytes(base64.b64decode(doc["images"][0]["uri"].split(",")[1]))
    doc["buffers"][0]["uri"] = "Duck0.bin"
    doc["images"][0]["uri"] = "DuckCM.png"
    (tmp_path / "Duck.gltf").write_text(json.dumps(doc))
    T = transform(None, [0.0, -0.85, -3.0])
    images = [
        render(gl, model_scene(load_gltf(p), T))
        for p in (DATA / "Duck.gltf", DATA / "Duck.glb", tmp_path / "Duck.gltf")
    ]
    assert (images[0][..., :3] > 0).any()
    for other in images[1:]:
        np.testing.assert_array_equal(other, images[0])


def test_duck_camera_is_reported_and_the_texture_sampler_kept():
    model = load_gltf(DATA / "Duck.gltf")
    assert model.report.cameras == ["node 1 (perspective)"]
    assert model.report.warnings == []
    (mesh_node,) = [n for n in model.nodes if n.mesh is not None]
    assert mesh_node.parent is model.nodes[0] and mesh_node.parent.parent is None
    s = mesh_node.material.sampler
    # The file's sampler: magFilter 9729, minFilter 9986, wrap 10497 / 10497.
    assert (s.wrap_s, s.wrap_t, s.mag_filter, s.min_filter) == (
        "repeat", "repeat", "linear", "nearest_mipmap_linear",
    )  # fmt: skip
    assert mesh_node.material.texture.shape == (512, 512, 3)
    assert model.triangle_count == 12636 // 3


def test_each_sample_model_renders_something_in_a_headless_run(tmp_path):
    from vrkit.app import load_scene, run_scene
    from vrkit.backends.base import RunConfig
    from vrkit.backends.headless import HeadlessBackend
    from vrkit.poses.base import StaticPose

    for name in ("Box.gltf", "BoxTextured.gltf", "Duck.glb"):
        scene = load_scene(DATA / name)
        assert "placement" in scene.info
        backend = HeadlessBackend(
            RunConfig(frames=1, eye_size=(64, 64), pose_source=StaticPose(Pose([0, 1.6, 0])))
        )
        with backend:
            run_scene(backend, scene)
            panel = backend.last_panel
        centre = panel[24:40, 16:48, :3].astype(int)  # middle of the left eye
        sky = np.array(panel[2, 2, :3], int)
        assert np.abs(centre - sky).sum(axis=2).max() > 60, name
