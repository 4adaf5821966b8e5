"""A room: floor grid and objects at known positions (metres, OpenXR world: +Y up, -Z ahead).

The viewer stands at the origin with eyes at 1.6 m, looking down -Z. Object centres:

========  ==================  =========================
name      centre (x, y, z)    shape
========  ==================  =========================
red_box   (0.0, 1.6, -2.0)    0.3 m cube, straight ahead
green     (-0.8, 1.2, -2.5)   0.2 m radius sphere
blue_box  (0.9, 0.4, -1.5)    0.4 x 0.8 x 0.4 m
pillar_*  (+-2.5, 1.5, -4.0)  0.3 x 3 x 0.3 m pillars
spinner   (0.0, 2.3, -3.0)    0.25 m cube turning about +Y
========  ==================  =========================
"""

import math

import numpy as np

from vrkit.math.transforms import matrix_from_quat, quat_from_axis_angle, transform
from vrkit.render.meshes import box, grid, plane, sphere
from vrkit.render.scene import Material, Scene

OBJECTS = {
    "red_box": (0.0, 1.6, -2.0),
    "green": (-0.8, 1.2, -2.5),
    "blue_box": (0.9, 0.4, -1.5),
    "pillar_left": (-2.5, 1.5, -4.0),
    "pillar_right": (2.5, 1.5, -4.0),
    "spinner": (0.0, 2.3, -3.0),
}


def _spin(scene: Scene, t_s: float) -> None:
    node = scene.find("spinner")
    R = matrix_from_quat(quat_from_axis_angle([0, 1, 0], 0.8 * t_s))
    node.transform = transform(R, OBJECTS["spinner"])


def build_scene() -> Scene:
    scene = Scene(clear_color=(0.55, 0.65, 0.8, 1.0), name="room", on_update=_spin)
    scene.add(
        plane(12, 12), transform(None, [0, -0.001, 0]), Material((0.35, 0.33, 0.3, 1)), "floor"
    )
    scene.add(
        grid(12, 0.5),
        transform(None, [0, 0.004, 0]),
        Material((0.9, 0.9, 0.9, 1), lit=False),
        "grid",
    )
    scene.add(
        box([0.3, 0.3, 0.3]),
        transform(None, OBJECTS["red_box"]),
        Material((0.9, 0.15, 0.1, 1)),
        "red_box",
    )
    scene.add(
        sphere(0.2, 48, 24),
        transform(None, OBJECTS["green"]),
        Material((0.1, 0.8, 0.2, 1)),
        "green",
    )
    scene.add(
        box([0.4, 0.8, 0.4]),
        transform(None, OBJECTS["blue_box"]),
        Material((0.15, 0.3, 0.95, 1)),
        "blue_box",
    )
    for name in ("pillar_left", "pillar_right"):
        scene.add(
            box([0.3, 3.0, 0.3]),
            transform(None, OBJECTS[name]),
            Material((0.85, 0.8, 0.7, 1)),
            name,
        )
    scene.add(
        box([0.25, 0.25, 0.25]),
        transform(None, OBJECTS["spinner"]),
        Material((0.95, 0.75, 0.1, 1)),
        "spinner",
    )
    _spin(scene, 0.0)
    assert np.allclose(scene.find("red_box").transform[:3, 3], OBJECTS["red_box"])
    assert math.isclose(scene.find("spinner").transform[1, 3], 2.3)
    return scene
