"""Writes examples/assets/globe.glb: a desk globe for the room demo, as any exporter would.

Run ``python examples/assets/make_globe.py`` to make it again (the file is committed; numpy,
Pillow and pygltflib are vrkit dependencies). The globe is a small node hierarchy in metres,
+Y up, as glTF defines: ``base`` (a turned wooden foot) > ``axis`` (tilted 23.4 degrees, a brass
rod) > ``globe`` (a textured sphere of radius 0.12 m, which the room turns about the axis).
The earth-like texture is made from seeded noise: an invented planet, no map data.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pygltflib as g
from PIL import Image

HERE = Path(__file__).resolve().parent
RADIUS_M = 0.12
TILT_DEG = 23.4


def lathe(profile: np.ndarray, segments: int = 40):
    """Surface of revolution about +Y of (r, y) points; smooth normals, indexed."""
    r, y = profile[:, 0], profile[:, 1]
    phi = np.linspace(0, 2 * np.pi, segments + 1)
    dr, dy = np.gradient(r), np.gradient(y)
    n2 = np.stack([dy, -dr], 1)
    n2 /= np.linalg.norm(n2, axis=1, keepdims=True) + 1e-12
    pos = np.stack(
        [np.outer(r, np.cos(phi)), np.repeat(y[:, None], len(phi), 1), -np.outer(r, np.sin(phi))],
        -1,
    ).reshape(-1, 3)
    nrm = np.stack(
        [
            np.outer(n2[:, 0], np.cos(phi)),
            np.repeat(n2[:, 1:2], len(phi), 1),
            -np.outer(n2[:, 0], np.sin(phi)),
        ],
        -1,
    ).reshape(-1, 3)
    rows, cols = len(r), len(phi)
    a = (np.arange(rows - 1)[:, None] * cols + np.arange(cols - 1)[None]).ravel()
    idx = np.stack([a, a + 1, a + cols, a + 1, a + cols + 1, a + cols], 1).ravel()
    return pos, nrm, idx


def sphere(radius: float, segments: int = 48, rings: int = 24):
    theta = np.linspace(0, np.pi, rings + 1)[:, None]
    phi = np.linspace(0, 2 * np.pi, segments + 1)[None, :]
    n = np.stack(
        [
            np.sin(theta) * np.cos(phi),
            np.cos(theta) * np.ones_like(phi),
            -np.sin(theta) * np.sin(phi),
        ],
        -1,
    ).reshape(-1, 3)
    # glTF UV: (0, 0) at the image's top-left; u follows longitude, v goes north to south.
    uv = np.stack(np.broadcast_arrays(phi / (2 * np.pi), theta / np.pi), -1).reshape(-1, 2)
    cols = segments + 1
    a = (np.arange(rings)[:, None] * cols + np.arange(segments)[None]).ravel()
    idx = np.stack([a, a + cols, a + 1, a + 1, a + cols, a + cols + 1], 1).ravel()
    return n * radius, n, uv, idx


def planet_texture(w: int = 256, h: int = 128, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lon = np.linspace(0, 2 * np.pi, w, endpoint=False)[None, :]
    lat = np.linspace(np.pi / 2, -np.pi / 2, h)[:, None]
    x, y, z = np.cos(lat) * np.cos(lon), np.sin(lat) * np.ones_like(lon), np.cos(lat) * np.sin(lon)
    field = np.zeros((h, w))
    for octave in range(5):  # smooth noise on the sphere: random plane waves
        k = 2.0 * 2**octave
        for _ in range(6):
            d = rng.normal(size=3)
            d /= np.linalg.norm(d)
            field += np.sin(k * (d[0] * x + d[1] * y + d[2] * z) + rng.uniform(0, 6.3)) / 2**octave
    land = field > 0.5
    img = np.zeros((h, w, 3))
    depth = np.clip((0.5 - field) / 2.0, 0, 1)[..., None]
    img[:] = (1 - depth) * np.array([40, 110, 170]) + depth * np.array([12, 40, 95])
    high = np.clip((field - 0.5) / 1.5, 0, 1)[..., None]
    img = np.where(
        land[..., None], (1 - high) * np.array([60, 120, 50]) + high * np.array([140, 115, 75]), img
    )
    ice = np.abs(lat) > np.radians(72) + 0.05 * np.sin(5 * lon)
    img = np.where(ice[..., None], np.array([235, 240, 245]), img)
    return np.clip(img, 0, 255).astype(np.uint8)


def wood_texture(size: int = 128, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    rings = np.sin(40 * (x + 0.05 * np.sin(6 * y + rng.uniform(0, 6)))) * 0.5 + 0.5
    base = np.array([120, 72, 40]) + 35 * rings[..., None] * np.array([1.0, 0.7, 0.45])
    return np.clip(base, 0, 255).astype(np.uint8)


class Writer:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.gltf = g.GLTF2(
            asset=g.Asset(version="2.0", generator="vrkit examples/assets/make_globe.py"), scene=0
        )

    def view(self, data: bytes, target=None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(
            g.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=len(data), target=target)
        )
        self.blob += data
        return len(self.gltf.bufferViews) - 1

    def accessor(self, arr, ctype, kind, target=None, bounds=False) -> int:
        arr = np.ascontiguousarray(arr)
        acc = g.Accessor(
            bufferView=self.view(arr.tobytes(), target),
            componentType=ctype,
            count=len(arr),
            type=kind,
        )
        if bounds:
            acc.min, acc.max = arr.min(0).tolist(), arr.max(0).tolist()
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def mesh(self, name, pos, nrm, idx, material, uv=None) -> int:
        attrs = {
            "POSITION": self.accessor(pos.astype("<f4"), g.FLOAT, g.VEC3, g.ARRAY_BUFFER, True),
            "NORMAL": self.accessor(nrm.astype("<f4"), g.FLOAT, g.VEC3, g.ARRAY_BUFFER),
        }
        if uv is not None:
            attrs["TEXCOORD_0"] = self.accessor(uv.astype("<f4"), g.FLOAT, g.VEC2, g.ARRAY_BUFFER)
        ind = self.accessor(idx.astype("<u2"), g.UNSIGNED_SHORT, g.SCALAR, g.ELEMENT_ARRAY_BUFFER)
        prim = g.Primitive(attributes=g.Attributes(**attrs), indices=ind, material=material)
        self.gltf.meshes.append(g.Mesh(name=name, primitives=[prim]))
        return len(self.gltf.meshes) - 1

    def texture(self, img: np.ndarray) -> int:
        png = io.BytesIO()
        Image.fromarray(img).save(png, format="PNG", optimize=True)
        self.gltf.images.append(g.Image(bufferView=self.view(png.getvalue()), mimeType="image/png"))
        self.gltf.textures.append(g.Texture(sampler=0, source=len(self.gltf.images) - 1))
        return len(self.gltf.textures) - 1


def main() -> None:
    w = Writer()
    gl = w.gltf
    gl.samplers = [
        g.Sampler(
            magFilter=g.LINEAR,
            minFilter=g.LINEAR_MIPMAP_LINEAR,
            wrapS=g.REPEAT,
            wrapT=g.CLAMP_TO_EDGE,
        )
    ]
    planet, wood = w.texture(planet_texture()), w.texture(wood_texture())
    pbr = g.PbrMetallicRoughness

    def textured(name: str, texture: int) -> g.Material:
        info = g.TextureInfo(index=texture)
        return g.Material(name=name, pbrMetallicRoughness=pbr(baseColorTexture=info))

    brass = pbr(baseColorFactor=[0.75, 0.52, 0.2, 1.0], metallicFactor=1.0, roughnessFactor=0.3)
    gl.materials = [
        textured("planet", planet),
        textured("wood", wood),
        g.Material(name="brass", pbrMetallicRoughness=brass),
    ]
    foot = np.array(
        [
            [0.0, 0.0],
            [0.09, 0.0],
            [0.095, 0.008],
            [0.09, 0.02],
            [0.06, 0.03],
            [0.025, 0.045],
            [0.018, 0.07],
            [0.02, 0.08],
            [0.0, 0.085],
        ]
    )
    pos, nrm, idx = lathe(foot)
    uv = np.column_stack([np.arctan2(pos[:, 2], pos[:, 0]) / (2 * np.pi) + 0.5, pos[:, 1] * 8])
    base = w.mesh("base", pos, nrm, idx, 1, uv)
    rod_len = 2 * RADIUS_M + 0.05
    rod = np.array(
        [[0.0, -rod_len / 2], [0.004, -rod_len / 2], [0.004, rod_len / 2], [0.0, rod_len / 2]]
    )
    axis = w.mesh("axis", *lathe(rod, 12), 2)
    pos, nrm, uv, idx = sphere(RADIUS_M)
    globe = w.mesh("globe", pos, nrm, idx, 0, uv)
    tilt = math.radians(TILT_DEG) / 2
    gl.nodes = [
        g.Node(name="base", mesh=base, children=[1]),
        g.Node(
            name="axis",
            mesh=axis,
            children=[2],
            translation=[0.0, 0.085 + RADIUS_M + 0.01, 0.0],
            rotation=[0.0, 0.0, math.sin(tilt), math.cos(tilt)],
        ),
        g.Node(name="globe", mesh=globe),
    ]
    gl.scenes = [g.Scene(nodes=[0])]
    gl.buffers = [g.Buffer(byteLength=len(w.blob))]
    gl.set_binary_blob(bytes(w.blob))
    gl.save_binary(str(HERE / "globe.glb"))
    print(f"wrote {HERE / 'globe.glb'} ({(HERE / 'globe.glb').stat().st_size} bytes)")


if __name__ == "__main__":
    main()
