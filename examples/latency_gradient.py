"""Latency test scene: a horizontal luminance gradient, so brightness follows the tracked yaw.

As in Di Luca (2010), "New method to measure end-to-end delay of virtual reality": a photodiode
taped to the lens sees one spot of the panel; the world holds a wall whose brightness falls from
white on the left to black on the right, so turning the head left (positive yaw about +Y) brings
brighter parts of the wall to the spot. The photodiode's reading is then a monotone
function of the *rendered* yaw, i.e. of the tracked motion delayed by the motion-to-photon
latency, and ``vrkit latency analyze`` recovers that delay from a ``t_s,motion,light`` log.

The ramp covers +-RAMP_DEG of yaw around straight ahead (brightness saturates beyond); the wall is
wide enough that the view's centre never leaves it. Keep the motion within the ramp.
"""

import math

import numpy as np

from vrkit.math.transforms import transform
from vrkit.render.scene import Material, Mesh, Scene

DISTANCE_M = 1.0
RAMP_DEG = 40.0
EYE_HEIGHT_M = 1.6
_WIDE_M = 50.0


def gradient_wall(distance_m: float = DISTANCE_M, ramp_deg: float = RAMP_DEG) -> Mesh:
    """A wall in the XY plane: white at x <= -a, black at x >= a, linear between (a = d tan r)."""
    a = distance_m * math.tan(math.radians(ramp_deg))
    xs = np.array([-_WIDE_M, -a, a, _WIDE_M])
    shade = np.array([1.0, 1.0, 0.0, 0.0])
    pos = np.array([[x, y, 0.0] for y in (-_WIDE_M, _WIDE_M) for x in xs])
    colors = np.array([[s, s, s, 1.0] for _ in range(2) for s in shade])
    idx = []
    for i in range(3):
        b, t = i, i + 4
        idx += [b, b + 1, t + 1, b, t + 1, t]
    return Mesh(pos, np.tile([0.0, 0.0, 1.0], (8, 1)), idx, colors=colors)


def build_scene() -> Scene:
    """The gradient wall 1 m ahead at eye height, unlit, on black."""
    scene = Scene(clear_color=(0, 0, 0, 1), name="latency_gradient")
    scene.add(
        gradient_wall(),
        transform(None, [0.0, EYE_HEIGHT_M, -DISTANCE_M]),
        Material((1, 1, 1, 1), lit=False),
        "gradient",
    )
    return scene
