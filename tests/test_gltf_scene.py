"""The scene side of models: hierarchy, placing models, the GPU caches, `vrkit run model.glb`,
and the room demo's model on its table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from gltf_ref import DATA

from vrkit.cli import main
from vrkit.core.types import LEFT, EyeView, Fov, FrameInfo, Pose
from vrkit.math.projection import project_to_pixels
from vrkit.math.stereo import eye_views
from vrkit.math.transforms import invert_transform, transform
from vrkit.render import meshes
from vrkit.render.gltf import load_gltf
from vrkit.render.placement import place_in_front
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Node, Scene, world_transforms
from vrkit.render.targets import EyeTargets

ROOT = Path(__file__).resolve().parents[1]


def test_world_transforms_compose_parents_and_hide_subtrees():
    a = Node(None, transform(None, [1, 0, 0]), name="a")
    R = np.eye(4)
    R[:3, :3] = np.diag([2.0, 2.0, 2.0])
    b = Node(None, R, name="b", parent=a)
    c = Node(meshes.box(), transform(None, [0, 1, 0]), name="c", parent=b)
    world, shown = world_transforms([c, b, a])  # children first: order does not matter
    np.testing.assert_allclose(world[0][:3, 3], [1, 2, 0])  # a's shift + b's scale of c's
    np.testing.assert_allclose(world[0][:3, :3], 2 * np.eye(3))
    assert shown.all()
    a.visible = False
    assert not world_transforms([a, b, c])[1].any()
    with pytest.raises(ValueError, match="not in the scene"):
        world_transforms([c])
    a.parent = c
    with pytest.raises(ValueError, match="its own ancestor"):
        world_transforms([a, b, c])


def test_a_model_added_twice_is_uploaded_once_and_moves_with_its_group(gl):
    model = load_gltf(DATA / "BoxTextured.gltf")
    scene = Scene()
    one = scene.add_model(model, transform(None, [-1, 0, -4]))
    two = scene.add_model(model, transform(None, [1, 0, -4]))
    nodes, world = scene.drawables()
    assert len(nodes) == 2 and nodes[0].mesh is nodes[1].mesh
    np.testing.assert_allclose(world[:, :3, 3], [[-1, 0, -4], [1, 0, -4]])
    two.transform = transform(None, [1, 2, -4])
    np.testing.assert_allclose(scene.drawables()[1][1][:3, 3], [1, 2, -4])
    assert one.name == "BoxTextured" and scene.triangle_count == 24
    targets = EyeTargets(gl, [(32, 32)])
    renderer = StereoRenderer(gl)
    try:
        renderer.render_view(scene, EyeView(LEFT, Pose(), Fov.from_degrees(-45, 45, 45, -45)),
                             targets.targets[0])  # fmt: skip
        assert len(renderer._meshes) == 1 and renderer.texture_count == 1
    finally:
        renderer.release()
        targets.release()


def test_texture_cache_is_bounded_by_its_budget(gl):
    """A scene that gives its card a new texture every frame keeps at most what a frame uses
    once the budget is passed; nothing leaks (the gl fixture counts GL objects)."""
    scene = Scene()
    card = scene.add(meshes.quad(1, 1), transform(None, [0, 0, -2]), Material(lit=False))
    steady = scene.add(meshes.quad(1, 1), transform(None, [1, 0, -2]),
                       Material(texture=np.full((64, 64, 3), 90, np.uint8), lit=False))  # fmt: skip
    targets = EyeTargets(gl, [(16, 16)])
    renderer = StereoRenderer(gl, texture_budget_bytes=3 * 4 * 64 * 64 * 4 // 3)
    view = EyeView(LEFT, Pose(), Fov.from_degrees(-45, 45, 45, -45))
    try:
        counts = []
        for k in range(12):
            card.material = Material(texture=np.full((64, 64, 3), k, np.uint8), lit=False)
            renderer.render_view(scene, view, targets.targets[0])
            counts.append(renderer.texture_count)
        assert max(counts) <= 4 and counts[-1] >= 2  # the budget, and this frame's two
        assert any(id(steady.material.texture) == key[0] for key in renderer._textures)
    finally:
        renderer.release()
        targets.release()


@pytest.mark.parametrize(
    ("box", "scale", "on_floor"),
    [
        (([-0.5, 0, -0.3], [0.5, 0.8, 0.3]), 1.0, False),  # a 1 m object: true size
        (([-30, 0, -30], [30, 80, 30]), 1 / 80, True),  # 80 "m" (centimetres?): fitted to 1 m
        (([-0.01, -0.01, -0.01], [0.01, 0.01, 0.01]), 50.0, True),  # 2 cm: made 1 m
        (([-0.2, -0.1, -0.01], [0.2, 0.1, 0.01]), 1.0, False),  # 40 cm: at chest height
        (([-0.4, 0, -0.3], [0.4, 1.8, 0.3]), 1.0, True),  # a person-sized model stands
    ],
)
def test_a_model_is_placed_in_front_at_a_sensible_scale(box, scale, on_floor):
    p = place_in_front(box)
    assert p.scale == pytest.approx(scale) and p.on_floor == on_floor
    lo, hi = np.asarray(box, float)
    corners = np.array([[x, y, z, 1] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])  # fmt: skip
    world = (p.transform @ corners.T).T[:, :3]
    if on_floor:
        assert world[:, 1].min() == pytest.approx(0.0, abs=1e-9)
    # Everything is in front of the viewer and inside the default 90 x 100 degree view.
    eye = world - [0, 1.6, 0]
    assert np.all(eye[:, 2] < -0.3)
    assert np.all(np.abs(np.degrees(np.arctan2(eye[:, 0], -eye[:, 2]))) < 40)
    assert np.all(np.abs(np.degrees(np.arctan2(eye[:, 1], -eye[:, 2]))) < 45)


def test_vrkit_run_shows_a_model_and_reports_where(tmp_path, capsys):
    out = tmp_path / "duck"
    args = ["run", str(DATA / "Duck.glb"), "--backend", "headless", "--frames", "1",
            "--eye-size", "64x64", "--msaa", "2", "--pose-source", "static", "--out", str(out),
            "--json"]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["scene"] == "Duck" and summary["msaa_samples"] == 2
    assert (
        "Duck.glb: 1.65 x 1.54 x 1.15 m (true size), standing on the floor"
        in (summary["placement"])
    )
    assert "1 camera(s) ignored" in summary["gltf"]
    assert (out / "frame_00000_panel.png").is_file()
    assert main(["run", str(DATA / "Duck.glb"), "--msaa", "3"]) == 1
    assert "--msaa must be one of 0, 1, 2, 4, 8, 16, got 3" in capsys.readouterr().err


def test_room_demo_has_its_glb_model_on_the_table(gl):
    from vrkit.app import load_scene

    scene = load_scene(ROOT / "examples" / "room.py")
    group = scene.find("globe_model")
    assert group.parent is None and group.mesh is None
    nodes, world = scene.drawables()
    by_name = {n.name: (n, T) for n, T in zip(nodes, world, strict=True)}
    base_node, T_base = by_name["base"]
    assert base_node.parent is group and base_node.material.texture is not None
    table_top = 0.75
    foot = base_node.mesh.positions.astype(float) @ T_base[:3, :3].T + T_base[:3, 3]
    assert foot[:, 1].min() == pytest.approx(table_top + 0.02, abs=0.005)  # on the top
    # Seen from the viewer's left eye, the turning sphere is where its node says it is.
    head = Pose([0.0, 1.6, 0.0])
    fov = Fov.from_degrees(-45, 45, 50, -50)
    view = eye_views(head, fov, fov)[LEFT]
    globe_centre = by_name["globe"][1][:3, 3]
    p_eye = (invert_transform(view.pose.matrix()) @ np.append(globe_centre, 1))[:3]
    u, v = project_to_pixels(p_eye[None], fov, 160, 180)[0]
    images = []
    for shown in (True, False):
        group.visible = shown
        targets = EyeTargets(gl, [(160, 180)])
        renderer = StereoRenderer(gl)
        try:
            renderer.render(scene, FrameInfo(0, 0, 0, [view], head), targets.targets)
            images.append(targets.framebuffers[0].read_rgba().astype(int))
        finally:
            renderer.release()
            targets.release()
    group.visible = True
    diff = np.abs(images[0] - images[1])[..., :3].sum(axis=2)
    assert diff[int(v), int(u)] > 30  # the globe covers its projected centre
    ys, xs = np.nonzero(diff > 30)
    assert abs(xs.mean() - u) < 4 and abs(ys.mean() - v) < 8  # and is drawn around it
    # The spinner still turns with time, and the globe with it.
    before = by_name["globe"][1].copy()
    scene.update(1.0)
    after = dict(zip(*scene.drawables(), strict=True))
    assert not np.allclose(after[by_name["globe"][0]], before)
    np.testing.assert_allclose(after[by_name["globe"][0]][:3, 3], before[:3, 3], atol=1e-9)
    assert math.isclose(scene.find("spinner").transform[1, 3], 2.3)
