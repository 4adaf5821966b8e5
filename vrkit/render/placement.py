"""Putting a model where a viewer can see it: ``vrkit run model.glb``.

:func:`place_in_front` decides scale and position from the model's bounding box (pure numpy);
:func:`model_scene` loads a glTF file and builds a scene around it: the model in front of a
viewer standing at the origin (eyes at 1.6 m, looking down -Z, the OpenXR convention), on a
floor, with the placement written to ``scene.info`` and the log.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.render.color import srgb_color
from vrkit.render.meshes import plane
from vrkit.render.scene import Material, Mesh, Sampler, Scene

log = logging.getLogger(__name__)

EYE_HEIGHT_M = 1.6
#: Models whose largest side is within this range (metres) are shown at their true size.
TRUE_SCALE_RANGE_M = (0.05, 4.0)
#: Other models are scaled so that their largest side is this long.
FIT_SIZE_M = 1.0
#: Half the angle the model's bounding sphere fills at the viewing distance, degrees.
HALF_ANGLE_DEG = 20.0
#: Nearest comfortable distance to the model's centre, metres.
MIN_DISTANCE_M = 0.6
#: Models at least this tall (after scaling) stand on the floor; smaller ones float at chest
#: height, where a hand would hold them.
FLOOR_HEIGHT_M = 1.0
CHEST_HEIGHT_M = 1.3


@dataclass
class Placement:
    """Where and how large a model is shown.

    Attributes:
        transform: (4, 4) ``T_world_model`` (uniform scale, then translation).
        scale: Uniform scale applied to the model (1: true size).
        size_m: (3,) the model's box size as shown, metres.
        center: (3,) the box centre in the world, metres.
        distance_m: Horizontal distance from the viewer's eyes to the box centre, metres.
        on_floor: The model stands on the floor (else it floats at chest height).
    """

    transform: NDArray[np.float64]
    scale: float
    size_m: NDArray[np.float64]
    center: NDArray[np.float64]
    distance_m: float
    on_floor: bool

    def describe(self, name: str) -> str:
        """One line for the log: size, scale, where."""
        w, h, d = self.size_m
        scale = "true size" if self.scale == 1.0 else f"scaled by {self.scale:.4g} to fit"
        where = "standing on the floor" if self.on_floor else "at chest height"
        return (
            f"{name}: {w:.2f} x {h:.2f} x {d:.2f} m ({scale}), {where}, "
            f"{self.distance_m:.2f} m in front of the viewer"
        )


def place_in_front(box: ArrayLike, eye_height_m: float = EYE_HEIGHT_M) -> Placement:
    """Scale and place a model so a viewer at the origin looking down -Z sees all of it.

    A model whose largest side is within :data:`TRUE_SCALE_RANGE_M` keeps its size (glTF is in
    metres: a chair should look like a chair); others are scaled to :data:`FIT_SIZE_M`. The
    model is centred left-right, at a distance where its bounding sphere fills
    2 x :data:`HALF_ANGLE_DEG` of the view (at least :data:`MIN_DISTANCE_M`), standing on the
    floor when it is at least :data:`FLOOR_HEIGHT_M` tall and at chest height otherwise.

    Args:
        box: ``(2, 3)`` min and max corners of the model in its own frame, metres.
        eye_height_m: Height of the viewer's eyes above the floor, metres.

    Raises:
        ValueError: The box is empty, inverted or not finite.
    """
    lo, hi = np.asarray(box, dtype=np.float64)
    size = hi - lo
    if not (np.all(np.isfinite(size)) and np.all(size >= 0) and size.max() > 0):
        raise ValueError(f"cannot place a model with bounds {lo} .. {hi}")
    largest = float(size.max())
    low, high = TRUE_SCALE_RANGE_M
    scale = 1.0 if low <= largest <= high else FIT_SIZE_M / largest
    shown = size * scale
    radius = 0.5 * float(np.linalg.norm(shown))
    distance = max(MIN_DISTANCE_M, radius / math.tan(math.radians(HALF_ANGLE_DEG)))
    on_floor = shown[1] >= FLOOR_HEIGHT_M
    centre_y = shown[1] / 2 if on_floor else min(CHEST_HEIGHT_M, eye_height_m)
    center = np.array([0.0, centre_y, -distance])
    T = np.eye(4)
    T[:3, :3] *= scale
    T[:3, 3] = center - scale * (lo + hi) / 2
    return Placement(T, scale, shown, center, distance, bool(on_floor))


def floor_texture(size: int = 256, tiles: int = 4) -> NDArray[np.uint8]:
    """A light checkerboard with thin seams, (size, size, 3) uint8 sRGB, repeated on the floor."""
    cell = size // tiles
    y, x = np.mgrid[0:size, 0:size]
    check = ((x // cell + y // cell) % 2).astype(np.float64)
    img = 150 + 30 * check
    seam = (x % cell < 2) | (y % cell < 2)
    img = np.where(seam, 95, img)
    return np.repeat(img[:, :, None], 3, axis=2).astype(np.uint8)


def _floor_mesh(size_m: float, repeats: float) -> Mesh:
    mesh = plane(size_m, size_m)
    assert mesh.uvs is not None
    mesh.uvs = mesh.uvs * np.float32(repeats)
    return mesh


def model_scene(path: str | Path) -> Scene:
    """A scene that shows one glTF model: on a floor, in front of the viewer, reported.

    Args:
        path: A .gltf or .glb file.

    Raises:
        InputError: The file cannot be loaded (see :func:`vrkit.render.gltf.load_gltf`).
    """
    from vrkit.render.gltf import load_gltf

    model = load_gltf(path)
    placement = place_in_front(model.bounds())
    scene = Scene(
        clear_color=srgb_color(0.62, 0.70, 0.80), light_dir=np.array([0.4, 1.0, 0.8]),
        ambient=0.35, name=model.name,
    )  # fmt: skip
    floor = Material(
        (1.0, 1.0, 1.0, 1.0), texture=floor_texture(),
        sampler=Sampler("repeat", "repeat"), name="floor",
    )  # fmt: skip
    scene.add(_floor_mesh(40.0, 40.0), None, floor, "floor")
    scene.add_model(model, placement.transform)
    line = placement.describe(Path(path).name)
    log.info("%s", line)
    scene.info.update(
        placement=line,
        model_scale=placement.scale,
        model_center_m=[round(float(c), 4) for c in placement.center],
        gltf=model.report.summary(),
        gltf_warnings=list(model.report.warnings),
    )
    return scene
