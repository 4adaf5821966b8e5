"""Primitive meshes, built with numpy (no per-vertex Python loops)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from vrkit.render.scene import Mesh


def box(size: ArrayLike = (1.0, 1.0, 1.0)) -> Mesh:
    """An axis-aligned box centred on the origin with flat normals.

    Args:
        size: (3,) edge lengths in metres.
    """
    sx, sy, sz = np.asarray(size, dtype=np.float64) / 2
    faces = []  # (normal, u axis, v axis)
    for axis in range(3):
        for sign in (1.0, -1.0):
            n = np.zeros(3)
            n[axis] = sign
            u = np.zeros(3)
            u[(axis + 1) % 3] = 1.0
            v = np.cross(n, u)
            faces.append((n, u, v))
    pos, nor, uv, idx = [], [], [], []
    half = np.array([sx, sy, sz])
    for i, (n, u, v) in enumerate(faces):
        corners = np.array([-u - v, u - v, u + v, -u + v]) + n
        pos.append(corners * half)
        nor.append(np.repeat(n[None], 4, 0))
        uv.append([[0, 0], [1, 0], [1, 1], [0, 1]])
        idx.append(np.array([0, 1, 2, 0, 2, 3]) + 4 * i)
    return Mesh(np.vstack(pos), np.vstack(nor), np.concatenate(idx), uvs=np.vstack(uv))


def sphere(radius: float = 0.5, segments: int = 32, rings: int = 16) -> Mesh:
    """A UV sphere centred on the origin.

    Args:
        radius: Metres.
        segments: Divisions around the Y axis.
        rings: Divisions from pole to pole.
    """
    theta = np.linspace(0, np.pi, rings + 1)[:, None]
    phi = np.linspace(0, 2 * np.pi, segments + 1)[None, :]
    n = np.stack(
        [
            np.sin(theta) * np.cos(phi),
            np.cos(theta) * np.ones_like(phi),
            -np.sin(theta) * np.sin(phi),
        ],
        axis=-1,
    ).reshape(-1, 3)
    uv = np.stack(np.broadcast_arrays(phi / (2 * np.pi), 1 - theta / np.pi), -1).reshape(-1, 2)
    r, s = np.meshgrid(np.arange(rings), np.arange(segments), indexing="ij")
    a = (r * (segments + 1) + s).ravel()
    b = a + segments + 1
    idx = np.stack([a, b, a + 1, a + 1, b, b + 1], -1).ravel()
    return Mesh(n * radius, n, idx, uvs=uv)


def plane(width: float = 1.0, depth: float = 1.0) -> Mesh:
    """A horizontal rectangle in the XZ plane facing +Y, centred on the origin."""
    w, d = width / 2, depth / 2
    pos = np.array([[-w, 0, d], [w, 0, d], [w, 0, -d], [-w, 0, -d]])
    return Mesh(
        pos,
        np.tile([0.0, 1.0, 0.0], (4, 1)),
        [0, 1, 2, 0, 2, 3],
        uvs=[[0, 0], [1, 0], [1, 1], [0, 1]],
    )


def quad(width: float = 1.0, height: float = 1.0) -> Mesh:
    """A vertical rectangle in the XY plane facing +Z, centred; UV (0, 0) at bottom-left."""
    w, h = width / 2, height / 2
    pos = np.array([[-w, -h, 0], [w, -h, 0], [w, h, 0], [-w, h, 0]])
    return Mesh(
        pos,
        np.tile([0.0, 0.0, 1.0], (4, 1)),
        [0, 1, 2, 0, 2, 3],
        uvs=[[0, 0], [1, 0], [1, 1], [0, 1]],
    )


def grid(size: float = 10.0, step: float = 1.0) -> Mesh:
    """Floor grid lines in the XZ plane, ``size`` metres across with lines every ``step`` metres."""
    if step <= 0 or size <= 0:
        raise ValueError(f"grid needs positive size and step, got size={size}, step={step}")
    ticks = np.arange(-size / 2, size / 2 + step / 2, step)
    h = size / 2
    k = len(ticks)
    along_x = np.stack([np.full(k, -h), np.zeros(k), ticks, np.full(k, h), np.zeros(k), ticks], 1)
    along_z = np.stack([ticks, np.zeros(k), np.full(k, -h), ticks, np.zeros(k), np.full(k, h)], 1)
    pos = np.vstack([along_x, along_z]).reshape(-1, 3)
    return Mesh(
        pos, np.tile([0.0, 1.0, 0.0], (len(pos), 1)), np.arange(len(pos)), primitive="lines"
    )


def merge(meshes: list[Mesh]) -> Mesh:
    """Concatenate meshes of the same primitive into one (one draw call)."""
    if not meshes:
        raise ValueError("merge needs at least one mesh")
    kinds = {m.primitive for m in meshes}
    if len(kinds) != 1:
        raise ValueError(f"cannot merge different primitives: {sorted(kinds)}")
    offsets = np.cumsum([0] + [len(m.positions) for m in meshes[:-1]])
    uvs = None
    if all(m.uvs is not None for m in meshes):
        uvs = np.vstack([m.uvs for m in meshes])
    return Mesh(
        np.vstack([m.positions for m in meshes]),
        np.vstack([m.normals for m in meshes]),
        np.concatenate([m.indices + o for m, o in zip(meshes, offsets, strict=True)]),
        np.vstack([m.colors for m in meshes]),
        uvs,
        meshes[0].primitive,
    )
