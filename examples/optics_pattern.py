"""Optics test pattern: an angular grid on a wall, for judging distortion and chromatic error.

A 4 m x 4 m wall stands 1 m in front of the viewer (eyes at 1.6 m). Its texture draws lines
every 5 degrees of view angle seen from the eye point (thicker every 10 and at 0), plus red,
green and blue rings at 20, 30 and 40 degrees off axis: with the right lens profile, straight
lines stay straight and the three rings stay concentric with no colour fringes.
"""

import numpy as np

from vrkit.math.transforms import transform
from vrkit.render.meshes import quad
from vrkit.render.scene import Material, Scene

DISTANCE_M = 1.0
WALL_M = 4.0
TEXTURE_PX = 2048


def angular_grid_texture(size: int = TEXTURE_PX) -> np.ndarray:
    half = WALL_M / 2
    coords = (np.arange(size) + 0.5) / size * WALL_M - half
    ax = np.degrees(np.arctan2(coords, DISTANCE_M))  # angle of each texel column / row
    img = np.full((size, size, 3), 24, np.uint8)
    px_per_deg = size / WALL_M * DISTANCE_M * np.pi / 180  # near the axis
    for step, width, value in ((5, 0.6, 150), (10, 1.2, 230)):
        near = np.abs(((ax + step / 2) % step) - step / 2) * px_per_deg < width
        img[near, :] = value
        img[:, near] = value
    axis = np.abs(ax) * px_per_deg < 2.0
    img[axis, :] = 255
    img[:, axis] = 255
    yy, xx = np.meshgrid(coords[::-1], coords, indexing="ij")
    off_axis = np.degrees(np.arctan(np.hypot(xx, yy) / DISTANCE_M))
    for deg, channel in ((20, 0), (30, 1), (40, 2)):
        ring = np.abs(off_axis - deg) < 0.35
        img[ring] = 0
        img[ring, channel] = 255
    return img


def build_scene() -> Scene:
    scene = Scene(clear_color=(0, 0, 0, 1), name="optics_pattern")
    scene.add(
        quad(WALL_M, WALL_M),
        transform(None, [0.0, 1.6, -DISTANCE_M]),
        Material((1, 1, 1, 1), lit=False, texture=angular_grid_texture()),
        "wall",
    )
    return scene
