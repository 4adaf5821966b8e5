"""An independent, minimal glTF reader for reference values in the tests.

Written from the glTF 2.0 specification only (not from vrkit.render.gltf, and sharing no code
with it): data-URI and .glb buffers, accessors as plain strided reads, node matrices from the
JSON. It handles just what the sample files use, and checks nothing: it is a ruler, not a
loader.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "gltf"
_DT = {5121: "<u1", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_N = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


class RefGltf:
    def __init__(self, path: Path) -> None:
        raw = Path(path).read_bytes()
        self.bin = None
        if raw[:4] == b"glTF":
            n = struct.unpack_from("<I", raw, 12)[0]
            self.doc = json.loads(raw[20 : 20 + n])
            m = struct.unpack_from("<I", raw, 20 + n)[0]
            self.bin = raw[28 + n : 28 + n + m]
        else:
            self.doc = json.loads(raw)
        self.buffers = []
        for b in self.doc["buffers"]:
            uri = b.get("uri")
            self.buffers.append(self.bin if uri is None else base64.b64decode(uri.split(",", 1)[1]))

    def accessor(self, i: int) -> np.ndarray:
        a = self.doc["accessors"][i]
        v = self.doc["bufferViews"][a["bufferView"]]
        buf = self.buffers[v["buffer"]]
        n = _N[a["type"]]
        dt = np.dtype(_DT[a["componentType"]])
        stride = v.get("byteStride") or dt.itemsize * n
        start = v.get("byteOffset", 0) + a.get("byteOffset", 0)
        rows = [
            np.frombuffer(buf, dt, n, start + k * stride) for k in range(a["count"])
        ]  # slow on purpose: nothing clever
        return np.array(rows)

    def node_matrix(self, j: int) -> np.ndarray:
        """Local matrix of node ``j`` (only 'matrix' or identity: what the samples use)."""
        node = self.doc["nodes"][j]
        if "matrix" in node:
            return np.array(node["matrix"], float).reshape(4, 4).T
        assert not any(k in node for k in ("translation", "rotation", "scale"))
        return np.eye(4)

    def image_rgb(self, i: int) -> np.ndarray:
        from PIL import Image

        im = self.doc["images"][i]
        if "bufferView" in im:
            v = self.doc["bufferViews"][im["bufferView"]]
            data = self.buffers[v["buffer"]][v.get("byteOffset", 0) :][: v["byteLength"]]
        else:
            data = base64.b64decode(im["uri"].split(",", 1)[1])
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def srgb_to_linear(c):
    c = np.asarray(c, float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c):
    c = np.clip(np.asarray(c, float), 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray, wrap: bool) -> np.ndarray:
    """Sample (H, W, C) ``img`` at continuous pixel coordinates (pixel centres at i + 0.5)."""
    h, w = img.shape[:2]
    x = np.asarray(x, float) - 0.5
    y = np.asarray(y, float) - 0.5
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]

    def at(xx, yy):
        if wrap:
            xx, yy = xx % w, yy % h
        else:
            xx, yy = np.clip(xx, 0, w - 1), np.clip(yy, 0, h - 1)
        return img[yy, xx].astype(float)

    return (
        at(x0, y0) * (1 - fx) * (1 - fy)
        + at(x0 + 1, y0) * fx * (1 - fy)
        + at(x0, y0 + 1) * (1 - fx) * fy
        + at(x0 + 1, y0 + 1) * fx * fy
    )
