"""Latency test scene: a horizontal luminance gradient, so brightness follows the tracked yaw.

As in Di Luca (2010), "New method to measure end-to-end delay of virtual reality": a photodiode
taped to the lens sees one spot of the panel; the world holds a wall whose brightness falls from
white on the left to black on the right, so turning the head left (positive yaw about +Y) brings
brighter parts of the wall to the spot. The photodiode's reading is then a monotone
function of the *rendered* yaw, i.e. of the tracked motion delayed by the motion-to-photon
latency, and ``vrkit latency analyze`` recovers that delay from a ``t_s,motion,light`` log.

The ramp covers +-RAMP_DEG of yaw around straight ahead (brightness saturates beyond); the wall is
wide enough that the view's centre never leaves it. Keep the motion within the ramp.

The panel's bytes fall linearly across the ramp (as an image editor's gradient does): vrkit
shades in linear light and encodes to sRGB at the end, so the vertex colours hold the linear
values of an evenly spaced sRGB ramp, RAMP_STEPS segments (within 0.1 of a byte of linear).
"""

import math

import numpy as np

from vrkit.math.transforms import transform
from vrkit.render.color import srgb_to_linear
from vrkit.render.scene import Material, Mesh, Scene

DISTANCE_M = 1.0
RAMP_DEG = 40.0
RAMP_STEPS = 64
EYE_HEIGHT_M = 1.6
_WIDE_M = 50.0


def gradient_wall(distance_m: float = DISTANCE_M, ramp_deg: float = RAMP_DEG) -> Mesh:
    """A wall in the XY plane: white at x <= -a, black at x >= a, linear between (a = d tan r).

    Linear in the displayed (sRGB-encoded) value; the vertex colours are linear light.
    """
    a = distance_m * math.tan(math.radians(ramp_deg))
    ramp = np.linspace(-a, a, RAMP_STEPS + 1)
    xs = np.concatenate([[-_WIDE_M], ramp, [_WIDE_M]])
    shown = np.concatenate([[1.0], 1.0 - (ramp + a) / (2 * a), [0.0]])
    shade = srgb_to_linear(shown)
    k = len(xs)
    pos = np.array([[x, y, 0.0] for y in (-_WIDE_M, _WIDE_M) for x in xs])
    colors = np.array([[s, s, s, 1.0] for _ in range(2) for s in shade])
    idx = []
    for i in range(k - 1):
        b, t = i, i + k
        idx += [b, b + 1, t + 1, b, t + 1, t]
    return Mesh(pos, np.tile([0.0, 0.0, 1.0], (2 * k, 1)), idx, colors=colors)


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
