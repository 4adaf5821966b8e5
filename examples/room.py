"""A room: textured walls and floor, a table with a glTF model on it, objects at known positions.

Metres, OpenXR world: +Y up, -Z ahead. The viewer stands at the origin with eyes at 1.6 m,
looking down -Z, in a 6 m x 6.5 m room with a 3 m ceiling (walls at x = +-3, z = -4.5 and
z = 2). Textures are made here with numpy (planks, plaster, wood grain, a rug, two pictures);
the desk globe on the table is ``examples/assets/globe.glb``, a glTF model loaded with
:func:`vrkit.render.gltf.load_gltf` and placed with :meth:`Scene.add_model`, as a scene file
places any model. Colours are picked in sRGB (:func:`srgb_color`) and shaded in linear light.

Object centres (the tests project some of them):

========  ==================  =============================================
name      centre (x, y, z)    shape
========  ==================  =============================================
red_box   (0.0, 1.6, -2.0)    0.3 m cube, straight ahead, on a plinth
green     (-0.8, 1.2, -2.5)   0.2 m radius sphere, on a stand
blue_box  (0.9, 0.4, -1.5)    0.4 x 0.8 x 0.4 m crate
pillar_*  (+-2.5, 1.5, -4.0)  0.3 x 3 x 0.3 m pillars
spinner   (0.0, 2.3, -3.0)    0.25 m cube turning about +Y
table     (-0.15, 0.75, -1.2) 1.1 x 0.6 m top, 0.75 m high
globe     (-0.35, 0.77, -1.2) the glTF model's origin (its foot), turning
========  ==================  =============================================
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from vrkit.math.transforms import matrix_from_quat, quat_from_axis_angle, transform
from vrkit.render.color import srgb_color
from vrkit.render.gltf import load_gltf
from vrkit.render.meshes import box, plane, quad, sphere
from vrkit.render.scene import Material, Mesh, Sampler, Scene

ASSETS = Path(__file__).resolve().parent / "assets"
OBJECTS = {
    "red_box": (0.0, 1.6, -2.0),
    "green": (-0.8, 1.2, -2.5),
    "blue_box": (0.9, 0.4, -1.5),
    "pillar_left": (-2.5, 1.5, -4.0),
    "pillar_right": (2.5, 1.5, -4.0),
    "spinner": (0.0, 2.3, -3.0),
    "table": (-0.15, 0.75, -1.2),
    "globe": (-0.35, 0.77, -1.2),
}
ROOM_X, ROOM_BACK, ROOM_FRONT, ROOM_H = 3.0, -4.5, 2.0, 3.0
TILE = Sampler("repeat", "repeat")
_RNG = np.random.default_rng(2024)


# --- textures (sRGB bytes, made with numpy) ------------------------------------------------------


def _noise(h: int, w: int, scale: int) -> np.ndarray:
    """Smooth value noise in [0, 1], (h, w), tileable."""
    coarse = _RNG.random((h // scale, w // scale))
    up = np.kron(coarse, np.ones((scale, scale)))
    for axis in (0, 1):  # a few box blurs, wrapping: smooth and still tileable
        for _ in range(2):
            up = (up + np.roll(up, scale // 2, axis) + np.roll(up, -scale // 2, axis)) / 3
    return (up - up.min()) / (np.ptp(up) + 1e-9)


def planks(size: int = 512) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    board = y // (size // 8)
    offset = (board * 157) % size
    grain = np.sin((x + offset) / size * 2 * np.pi * 3 + 8 * _noise(size, size, 32)) * 0.5 + 0.5
    shade = 0.85 + 0.3 * ((board * 37) % 7) / 7
    tone = (0.75 + 0.25 * grain) * shade
    img = np.stack([150 * tone, 100 * tone, 62 * tone], -1)
    seam = (y % (size // 8) < 2) | (((x + offset) % size) < 2)
    img[seam] = (55, 38, 26)
    return np.clip(img, 0, 255).astype(np.uint8)


def plaster(size: int = 256, color=(214, 206, 190)) -> np.ndarray:
    n = 0.6 * _noise(size, size, 16) + 0.4 * _noise(size, size, 4)
    img = np.array(color)[None, None, :] * (0.92 + 0.1 * n[..., None])
    return np.clip(img, 0, 255).astype(np.uint8)


def wood(size: int = 256) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    rings = np.sin(60 * (y + 0.04 * np.sin(5 * x) + 0.08 * _noise(size, size, 32))) * 0.5 + 0.5
    img = np.stack([110 + 40 * rings, 66 + 26 * rings, 36 + 14 * rings], -1)
    return img.astype(np.uint8)


def rug(w: int = 256, h: int = 160) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3))
    img[:] = (120, 30, 40)
    border = (np.minimum(x, w - 1 - x) < 14) | (np.minimum(y, h - 1 - y) < 14)
    img[border] = (200, 160, 90)
    diamond = (np.abs(x - w / 2) / (w / 3) + np.abs(y - h / 2) / (h / 3)) < 1.0
    img[diamond & ~border] = (30, 60, 110)
    ring = np.abs(np.abs(x - w / 2) / (w / 3) + np.abs(y - h / 2) / (h / 3) - 0.75) < 0.05
    img[ring] = (210, 190, 140)
    img *= (0.9 + 0.15 * _noise(h, w, 4))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def landscape(w: int = 256, h: int = 160) -> np.ndarray:
    """A painted evening: sky gradient, sun, hills, lake."""
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    sky = np.stack([250 - 90 * y, 170 - 40 * y, 120 + 90 * y], -1)
    img = sky.copy()
    sun = (x - 0.7) ** 2 + ((y - 0.35) * h / w) ** 2 < 0.004
    img[sun] = (255, 230, 170)
    hills = y > 0.55 + 0.08 * np.sin(x * 9) + 0.04 * np.sin(x * 23 + 1)
    img[hills] = np.stack([40 + 30 * x, 80 + 30 * y, 50 + 0 * x], -1)[hills]
    lake = (y > 0.78) & (np.abs(x - 0.4) < 0.25 - (y - 0.78))
    img[lake] = (70, 110, 160)
    return np.clip(img, 0, 255).astype(np.uint8)


def frame_art(w: int = 160, h: int = 200) -> np.ndarray:
    """Bold coloured rectangles, like a print of a modern painting."""
    img = np.full((h, w, 3), 235, np.uint8)
    blocks = (
        (0, 0, 100, 120, (200, 40, 30)),
        (110, 0, 160, 60, (240, 200, 40)),
        (110, 70, 160, 200, (30, 60, 150)),
        (0, 130, 100, 200, (240, 240, 230)),
    )
    for x0, y0, x1, y1, c in blocks:
        img[y0:y1, x0:x1] = c
    img[:, 100:110] = img[120:130, :] = img[60:70, 110:] = 20
    return img


def _tiled(mesh: Mesh, repeats_u: float, repeats_v: float) -> Mesh:
    assert mesh.uvs is not None
    mesh.uvs = mesh.uvs * np.float32([repeats_u, repeats_v])
    return mesh


def _rot_y(angle: float) -> np.ndarray:
    return matrix_from_quat(quat_from_axis_angle([0, 1, 0], angle))


def _rot_x(angle: float) -> np.ndarray:
    return matrix_from_quat(quat_from_axis_angle([1, 0, 0], angle))


# --- the scene -----------------------------------------------------------------------------------


def _spin(scene: Scene, t_s: float) -> None:
    node = scene.find("spinner")
    R = matrix_from_quat(quat_from_axis_angle([0, 1, 0], 0.8 * t_s))
    node.transform = transform(R, OBJECTS["spinner"])
    globe = scene.find("globe")  # the sphere node inside the model, turning on its own axis
    globe.transform = transform(_rot_y(0.3 * t_s))


def build_scene() -> Scene:
    scene = Scene(
        clear_color=srgb_color(0.55, 0.65, 0.8),
        light_dir=np.array([0.35, 1.0, 0.55]),
        ambient=0.4,
        name="room",
        on_update=_spin,
    )
    width, depth = 2 * ROOM_X, ROOM_FRONT - ROOM_BACK
    mid_z = (ROOM_FRONT + ROOM_BACK) / 2
    floor = Material(texture=planks(), sampler=TILE, name="planks")
    scene.add(
        _tiled(plane(width, depth), width / 2, depth / 2),
        transform(None, [0, 0, mid_z]),
        floor,
        "floor",
    )
    walls = Material(texture=plaster(), sampler=TILE, name="plaster")
    ceiling = Material(srgb_color(0.92, 0.92, 0.9), name="ceiling")
    scene.add(
        plane(width, depth), transform(_rot_x(math.pi), [0, ROOM_H, mid_z]), ceiling, "ceiling"
    )
    for name, R, pos, size in (
        ("wall_back", np.eye(3), (0, ROOM_H / 2, ROOM_BACK), width),
        ("wall_front", _rot_y(math.pi), (0, ROOM_H / 2, ROOM_FRONT), width),
        ("wall_left", _rot_y(math.pi / 2), (-ROOM_X, ROOM_H / 2, mid_z), depth),
        ("wall_right", _rot_y(-math.pi / 2), (ROOM_X, ROOM_H / 2, mid_z), depth),
    ):
        scene.add(
            _tiled(quad(size, ROOM_H), size / 1.5, ROOM_H / 1.5), transform(R, pos), walls, name
        )
        skirting = Material(srgb_color(0.3, 0.2, 0.14), name="skirting")
        scene.add(
            box([size, 0.12, 0.02]),
            transform(R, [pos[0], 0.06, pos[2]]) @ transform(None, [0, 0, 0.01]),
            skirting,
            f"{name}_skirting",
        )
    # Pictures on the walls (unlit prints behind glass would glare; these are matte).
    scene.add(
        quad(1.2, 0.75),
        transform(None, [-1.1, 1.75, ROOM_BACK + 0.03]),
        Material(texture=landscape(), name="landscape"),
        "picture_back",
    )
    scene.add(
        quad(0.7, 0.875),
        transform(_rot_y(math.pi / 2), [-ROOM_X + 0.02, 1.6, -1.5]),
        Material(texture=frame_art(), name="print"),
        "picture_left",
    )
    scene.add(
        box([1.3, 0.95, 0.03]),
        transform(None, [-1.1, 1.75, ROOM_BACK + 0.005]),
        Material(srgb_color(0.12, 0.1, 0.08)),
        "picture_back_frame",
    )
    scene.add(
        _tiled(plane(2.2, 1.4), 1, 1),
        transform(None, [-0.15, 0.003, -1.2]),
        Material(texture=rug(), name="rug"),
        "rug",
    )
    # The table and what stands on it.
    tx, top_y, tz = OBJECTS["table"]
    grain = Material(texture=wood(), sampler=TILE, name="wood")
    scene.add(
        _tiled(box([1.1, 0.04, 0.6]), 1.5, 1),
        transform(None, [tx, top_y - 0.02, tz]),
        grain,
        "table",
    )
    for dx in (-0.5, 0.5):
        for dz in (-0.25, 0.25):
            scene.add(
                box([0.05, top_y - 0.04, 0.05]),
                transform(None, [tx + dx, (top_y - 0.04) / 2, tz + dz]),
                grain,
                "table_leg",
            )
    globe = load_gltf(ASSETS / "globe.glb")
    gx, gy, gz = OBJECTS["globe"]
    scene.add_model(globe, transform(_rot_y(0.4), [gx, gy, gz]), "globe_model")
    scene.add(
        box([0.16, 0.03, 0.22]),
        transform(_rot_y(-0.2), [0.15, top_y + 0.015, tz + 0.05]),
        Material(srgb_color(0.2, 0.3, 0.55)),
        "book",
    )
    scene.add(
        box([0.15, 0.025, 0.21]),
        transform(_rot_y(0.1), [0.16, top_y + 0.0425, tz + 0.04]),
        Material(srgb_color(0.75, 0.2, 0.15)),
        "book_top",
    )
    # The documented objects, now on plinths and stands.
    stone = Material(srgb_color(0.82, 0.8, 0.74), name="stone")
    scene.add(
        box([0.3, 0.3, 0.3]),
        transform(None, OBJECTS["red_box"]),
        Material(srgb_color(0.9, 0.15, 0.1)),
        "red_box",
    )
    scene.add(box([0.22, 1.45, 0.22]), transform(None, [0, 0.725, -2.0]), stone, "plinth")
    scene.add(
        sphere(0.2, 48, 24),
        transform(None, OBJECTS["green"]),
        Material(srgb_color(0.1, 0.8, 0.2)),
        "green",
    )
    scene.add(box([0.04, 1.0, 0.04]), transform(None, [-0.8, 0.5, -2.5]), stone, "stand")
    crate = np.kron(plaster(64, (70, 110, 200)), np.ones((2, 2, 1), np.uint8))
    crate[::32] = crate[:, ::32] = (40, 60, 120)
    scene.add(
        box([0.4, 0.8, 0.4]),
        transform(None, OBJECTS["blue_box"]),
        Material(texture=crate, name="crate"),
        "blue_box",
    )
    for name in ("pillar_left", "pillar_right"):
        scene.add(box([0.3, 3.0, 0.3]), transform(None, OBJECTS[name]), stone, name)
    scene.add(
        box([0.25, 0.25, 0.25]),
        transform(None, OBJECTS["spinner"]),
        Material(srgb_color(0.95, 0.75, 0.1)),
        "spinner",
    )
    _spin(scene, 0.0)
    return scene
