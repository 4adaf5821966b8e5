"""glTF loading: vrkit's loader vs the least a loader must do, on the Duck and a 1M-triangle model.

* Duck: Khronos' ``Duck.gltf`` (embedded base64 buffers and PNG, 4,212 triangles).
* Generated: a 708 x 708 vertex height-field grid, 999,698 triangles, positions + normals +
  UVs + uint32 indices in a .glb written by pygltflib (about 28 MB), made in a temporary folder.

Baseline, same run: read the file, parse the JSON, base64-decode the buffers, ``np.frombuffer``
every accessor and decode the images (no checks, no mesh building). vrkit's loader does that
plus pygltflib's typed parse, every range check, the v flip, interleaving into vrkit meshes and
validation of every array. Loads are warm (pygltflib imported once before timing; the import
itself costs about 0.3 s).
"""

from __future__ import annotations

import base64
import io
import json
import statistics
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from vrkit.render.gltf import load_gltf

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "gltf"
_DT = {5121: "<u1", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_N = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def baseline_load(path: Path) -> int:
    """The floor: bytes, JSON, buffers, every accessor as a numpy view, images decoded."""
    from PIL import Image

    raw = path.read_bytes()
    if raw[:4] == b"glTF":
        n = struct.unpack_from("<I", raw, 12)[0]
        doc = json.loads(raw[20 : 20 + n])
        bins = [raw[28 + n :]]
    else:
        doc = json.loads(raw)
        bins = [base64.b64decode(b["uri"].split(",", 1)[1]) for b in doc["buffers"]]
    total = 0
    for a in doc["accessors"]:
        v = doc["bufferViews"][a["bufferView"]]
        dt = np.dtype(_DT[a["componentType"]])
        stride = v.get("byteStride") or dt.itemsize * _N[a["type"]]
        arr = np.ndarray(
            (a["count"], _N[a["type"]]), dt, bins[v["buffer"]],
            v.get("byteOffset", 0) + a.get("byteOffset", 0), (stride, dt.itemsize),
        ).copy()  # fmt: skip
        total += arr.size
    for im in doc.get("images", []):
        if "uri" in im:
            data = base64.b64decode(im["uri"].split(",", 1)[1])
        else:
            v = doc["bufferViews"][im["bufferView"]]
            data = bins[v["buffer"]][v.get("byteOffset", 0) :][: v["byteLength"]]
        np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return total


def generated_glb(path: Path, n: int = 708) -> int:
    """A height-field grid of n x n vertices as .glb; returns its triangle count."""
    import pygltflib as g

    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    height = 0.05 * np.sin(12 * u) * np.cos(9 * v)
    pos = np.stack([u - 0.5, height, v - 0.5], -1).reshape(-1, 3).astype("<f4")
    nrm = np.tile(np.float32([0, 1, 0]), (n * n, 1))
    uv = np.stack([u, v], -1).reshape(-1, 2).astype("<f4")
    a = (np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None]).ravel()
    idx = np.stack([a, a + n, a + 1, a + 1, a + n, a + n + 1], 1).ravel().astype("<u4")
    blob, views, accessors = bytearray(), [], []
    for arr, ctype, kind in ((pos, g.FLOAT, g.VEC3), (nrm, g.FLOAT, g.VEC3),
                             (uv, g.FLOAT, g.VEC2), (idx, g.UNSIGNED_INT, g.SCALAR)):  # fmt: skip
        views.append(g.BufferView(buffer=0, byteOffset=len(blob), byteLength=arr.nbytes))
        acc = g.Accessor(bufferView=len(views) - 1, componentType=ctype, count=len(arr), type=kind)
        if kind == g.VEC3 and not accessors:
            acc.min, acc.max = pos.min(0).tolist(), pos.max(0).tolist()
        accessors.append(acc)
        blob += arr.tobytes()
    attrs = g.Attributes(POSITION=0, NORMAL=1, TEXCOORD_0=2)
    mesh = g.Mesh(primitives=[g.Primitive(attributes=attrs, indices=3)])
    gltf = g.GLTF2(
        asset=g.Asset(version="2.0"), scene=0, scenes=[g.Scene(nodes=[0])],
        nodes=[g.Node(mesh=0)], meshes=[mesh],
        accessors=accessors, bufferViews=views, buffers=[g.Buffer(byteLength=len(blob))],
    )  # fmt: skip
    gltf.set_binary_blob(bytes(blob))
    gltf.save_binary(str(path))
    return len(idx) // 3


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        s = time.perf_counter()
        fn()
        times.append(time.perf_counter() - s)
    return statistics.median(times)


def run(quick: bool) -> list[dict]:
    load_gltf(DATA / "Box.gltf")  # import pygltflib and PIL outside the timings
    rows = []
    duck = DATA / "Duck.gltf"
    reps = 3 if quick else 9
    v = _median(lambda: load_gltf(duck), reps)
    b = _median(lambda: baseline_load(duck), reps)
    rows.append({"name": "load Duck.gltf (embedded, 4212 triangles, 512x512 PNG)",
                 "value": v, "unit": "s", "baseline": b, "ratio": v / b})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grid.glb"
        tris = generated_glb(path, 400 if quick else 708)
        reps = 1 if quick else 3
        v = _median(lambda: load_gltf(path), reps)
        b = _median(lambda: baseline_load(path), reps)
        size_mb = path.stat().st_size / 1e6
    rows.append({"name": f"load a generated .glb, {tris} triangles ({size_mb:.0f} MB)",
                 "value": v, "unit": "s", "baseline": b, "ratio": v / b})  # fmt: skip
    return rows
