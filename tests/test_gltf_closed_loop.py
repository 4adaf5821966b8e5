"""Closed loop: a scene built in Python, written to .glb by pygltflib, loaded back by vrkit,
renders the same pixels as the Python scene.

The writer below is the test's own (pygltflib records filled from the Python scene, by the
glTF specification); it shares no code with vrkit's loader. The scene exercises what the loader
maps: a three-level hierarchy with TRS (non-uniform scale) and matrix transforms, a mesh with
two primitives (triangles with vertex colours, unlit; lines), an indexed and a non-indexed
primitive, a primitive without normals (flat normals computed on load), a texture with a
nearest / repeat / mirror sampler, alpha MASK and BLEND, single- and double-sided materials.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pygltflib as g
from PIL import Image

from vrkit.core.types import LEFT, EyeView, Fov, Pose
from vrkit.math.transforms import matrix_from_quat, quat_from_axis_angle
from vrkit.render import meshes
from vrkit.render.gltf import load_gltf
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Material, Mesh, Sampler, Scene
from vrkit.render.targets import EyeTargets

W = H = 200
VIEW = EyeView(LEFT, Pose([0.0, 0.1, 0.0]), Fov.from_degrees(-20, 20, 18, -18))


def trs(t=(0, 0, 0), q=(0, 0, 0, 1), s=(1, 1, 1)):
    m = np.eye(4)
    m[:3, :3] = matrix_from_quat(np.asarray(q, float)) * np.asarray(s, float)
    m[:3, 3] = t
    return m


def checker_rgba(n=8, px=8):
    y, x = np.mgrid[0 : n * px, 0 : n * px]
    cell = (x // px + y // px) % 2
    img = np.zeros((n * px, n * px, 4), np.uint8)
    img[..., 0] = np.where(cell, 230, 30)
    img[..., 1] = np.where(cell, 180, 60)
    img[..., 2] = 90
    img[..., 3] = np.where((x // px) % 3 == 0, 40, 255)  # every third column cut by MASK
    return img


def python_scene():
    """The scene, built with vrkit's API; returns it and a description for the writer."""
    q_parent = quat_from_axis_angle([0, 1, 0], math.radians(25))
    parent_T = dict(t=(0.1, 0.0, -2.6), q=q_parent, s=(1.2, 1.0, 0.9))
    box_T = dict(t=(-0.45, 0.15, 0.1), q=quat_from_axis_angle([1, 0.3, 0], math.radians(30)))
    ball_T = dict(t=(0.0, 0.35, 0.0), s=(0.5, 0.5, 0.5))
    quad_M = trs((0.45, 0.1, 0.05), quat_from_axis_angle([0, 0, 1], math.radians(10)))

    colored = meshes.sphere(0.18, 16, 8)
    colored.colors = np.column_stack(
        [0.5 + 0.5 * colored.normals, np.ones(len(colored.normals))]
    ).astype(np.float32)
    lines = meshes.grid(0.8, 0.2)
    # Non-indexed, no normals in the file: the loader computes flat normals. Built here with
    # flat normals directly (one vertex per corner), as the specification asks.
    tri_pos = np.array([[-0.3, -0.45, 0.2], [0.3, -0.45, 0.2], [0.0, -0.1, -0.1]], np.float32)
    n = np.cross(tri_pos[1] - tri_pos[0], tri_pos[2] - tri_pos[0])
    tri = Mesh(tri_pos, np.tile(n / np.linalg.norm(n), (3, 1)), np.arange(3))
    quad = meshes.quad(0.5, 0.5)
    quad.uvs = quad.uvs * 2.0 - 0.5  # samples outside [0, 1]: the wrap modes show
    glass = meshes.quad(0.6, 0.35)

    mats = {
        "red": Material((0.8, 0.1, 0.05, 1.0), double_sided=False, name="red"),
        "white": Material((0.9, 0.9, 0.9, 1.0), name="white"),
        "vc": Material((1.0, 1.0, 1.0, 1.0), lit=False, double_sided=False, name="vc"),
        "line": Material((0.1, 0.1, 0.6, 1.0), lit=False, name="line"),
        "tex": Material(
            (1.0, 1.0, 1.0, 1.0),
            texture=checker_rgba(),
            sampler=Sampler("repeat", "mirror", "nearest", "nearest"),
            alpha_mode="mask",
            alpha_cutoff=0.5,
            name="tex",
        ),
        "glass": Material((0.1, 0.9, 0.3, 0.45), lit=False, alpha_mode="blend", name="glass"),
    }
    scene = Scene(clear_color=(0.02, 0.02, 0.03, 1.0), light_dir=np.array([0.3, 0.8, 0.6]))
    parent = scene.add(None, trs(**parent_T), None, "parent")
    box = scene.add(meshes.box([0.35, 0.35, 0.35]), trs(**box_T), mats["red"], "box", parent)
    scene.add(meshes.sphere(0.15, 20, 10), trs(**ball_T), mats["white"], "ball", box)
    scene.add(quad, quad_M, mats["tex"], "quad", parent)
    group_q = quat_from_axis_angle([1, 0, 0], math.radians(50))
    group = scene.add(None, trs((0.0, -0.05, -0.4), group_q), None, "group", parent)
    scene.add(colored, np.eye(4), mats["vc"], "group/0", group)
    scene.add(lines, np.eye(4), mats["line"], "group/1", group)
    scene.add(tri, np.eye(4), mats["white"], "tri", parent)
    scene.add(glass, trs((0.15, 0.05, -1.6)), mats["glass"], "glass")
    spec = dict(parent_T=parent_T, box_T=box_T, ball_T=ball_T, quad_M=quad_M, mats=mats,
                group_q=group_q,
                meshes=dict(box=box.mesh, ball=scene.find("ball").mesh, quad=quad,
                            colored=colored, lines=lines, tri=tri, glass=glass))  # fmt: skip
    return scene, spec


class GlbWriter:
    """Fills pygltflib records: one buffer, views and accessors appended as arrays come."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.gltf = g.GLTF2(asset=g.Asset(version="2.0"), scene=0)

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
        v = self.view(arr.tobytes(), target)
        acc = g.Accessor(bufferView=v, componentType=ctype, count=len(arr), type=kind)
        if bounds:
            acc.min, acc.max = arr.min(axis=0).tolist(), arr.max(axis=0).tolist()
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def primitive(self, mesh: Mesh, material: int, *, indexed=True, normals=True, colors=False):
        a = {"POSITION": self.accessor(mesh.positions.astype("<f4"), g.FLOAT, g.VEC3,
                                       g.ARRAY_BUFFER, True)}  # fmt: skip
        if normals:
            a["NORMAL"] = self.accessor(mesh.normals.astype("<f4"), g.FLOAT, g.VEC3, g.ARRAY_BUFFER)
        if colors:  # as unsigned shorts, normalized, to take the integer path
            c = np.round(mesh.colors * 65535).astype("<u2")
            a["COLOR_0"] = self.accessor(c, g.UNSIGNED_SHORT, g.VEC4, g.ARRAY_BUFFER)
            self.gltf.accessors[a["COLOR_0"]].normalized = True
        if mesh.uvs is not None:
            uv = np.column_stack([mesh.uvs[:, 0], 1.0 - mesh.uvs[:, 1]]).astype("<f4")
            a["TEXCOORD_0"] = self.accessor(uv, g.FLOAT, g.VEC2, g.ARRAY_BUFFER)
        mode = g.TRIANGLES if mesh.primitive == "triangles" else g.LINES
        prim = g.Primitive(attributes=g.Attributes(**a), material=material, mode=mode)
        if indexed:
            prim.indices = self.accessor(mesh.indices.astype("<u4"), g.UNSIGNED_INT, g.SCALAR,
                                         g.ELEMENT_ARRAY_BUFFER)  # fmt: skip
        return prim

    def save(self, path) -> None:
        self.gltf.buffers = [g.Buffer(byteLength=len(self.blob))]
        self.gltf.set_binary_blob(bytes(self.blob))
        self.gltf.save_binary(str(path))


def export(spec, path) -> None:
    w = GlbWriter()
    gl = w.gltf
    mats = spec["mats"]
    names = list(mats)
    for name in names:
        m = mats[name]
        gm = g.Material(
            name=name,
            pbrMetallicRoughness=g.PbrMetallicRoughness(baseColorFactor=list(m.color)),
            alphaMode=m.alpha_mode.upper(),
            alphaCutoff=m.alpha_cutoff if m.alpha_mode == "mask" else None,
            doubleSided=m.double_sided,
        )
        if not m.lit:
            gm.extensions = {"KHR_materials_unlit": {}}
        if m.texture is not None:
            png = io.BytesIO()
            Image.fromarray(m.texture).save(png, format="PNG")
            gl.images.append(g.Image(bufferView=w.view(png.getvalue()), mimeType="image/png"))
            wrap = {"repeat": g.REPEAT, "mirror": g.MIRRORED_REPEAT, "clamp": g.CLAMP_TO_EDGE}
            s = m.sampler
            gl.samplers.append(g.Sampler(wrapS=wrap[s.wrap_s], wrapT=wrap[s.wrap_t],
                                         magFilter=g.NEAREST, minFilter=g.NEAREST))  # fmt: skip
            gl.textures.append(g.Texture(sampler=0, source=0))
            gm.pbrMetallicRoughness.baseColorTexture = g.TextureInfo(index=0)
        gl.materials.append(gm)
    gl.extensionsUsed = ["KHR_materials_unlit"]
    mi = {n: i for i, n in enumerate(names)}
    ms = spec["meshes"]
    mesh_prims = [
        [w.primitive(ms["box"], mi["red"])],
        [w.primitive(ms["ball"], mi["white"])],
        [w.primitive(ms["quad"], mi["tex"])],
        [w.primitive(ms["colored"], mi["vc"], colors=True), w.primitive(ms["lines"], mi["line"])],
        [w.primitive(ms["tri"], mi["white"], indexed=False, normals=False)],
        [w.primitive(ms["glass"], mi["glass"])],
    ]
    gl.meshes = [g.Mesh(primitives=p) for p in mesh_prims]

    def tr(d):
        node = g.Node(translation=list(map(float, d.get("t", (0, 0, 0)))))
        if "q" in d:
            node.rotation = list(map(float, d["q"]))
        if "s" in d:
            node.scale = list(map(float, d["s"]))
        return node

    nodes = [tr(spec["parent_T"]), tr(spec["box_T"]), tr(spec["ball_T"]),
             g.Node(matrix=spec["quad_M"].T.ravel().tolist()),
             g.Node(translation=[0, -0.05, -0.4], rotation=list(map(float, spec["group_q"]))),
             g.Node(), g.Node(translation=[0.15, 0.05, -1.6])]  # fmt: skip
    for node, (name, mesh, children) in zip(nodes, [
        ("parent", None, [1, 3, 4, 5]), ("box", 0, [2]), ("ball", 1, []), ("quad", 2, []),
        ("group", 3, []), ("tri", 4, []), ("glass", 5, []),
    ], strict=True):  # fmt: skip
        node.name, node.mesh, node.children = name, mesh, children
    gl.nodes = nodes
    gl.scenes = [g.Scene(nodes=[0, 6])]
    w.save(path)


def render(gl_ctx, scene, samples):
    targets = EyeTargets(gl_ctx, [(W, H)], samples)
    renderer = StereoRenderer(gl_ctx)
    try:
        renderer.render_view(scene, VIEW, targets.targets[0])
        return targets.framebuffers[0].read_rgba()
    finally:
        renderer.release()
        targets.release()


def test_python_scene_and_its_glb_render_the_same_pixels(gl, tmp_path):
    scene, spec = python_scene()
    path = tmp_path / "scene.glb"
    export(spec, path)
    model = load_gltf(path)
    assert model.report.warnings == []
    loaded = Scene(clear_color=scene.clear_color, light_dir=scene.light_dir)
    loaded.add_model(model)
    # The same node tree: one node per glTF node, a child per primitive of the two-part mesh.
    assert sorted(n.name for n in loaded.nodes) == sorted(
        ["scene", "parent", "box", "ball", "quad", "group", "group/0", "group/1", "tri", "glass"]
    )
    for samples in (1, 4):
        want = render(gl, scene, samples)
        got = render(gl, loaded, samples)
        # Every feature is on screen: the textured quad's cut columns, the glass, the lines ...
        assert len(np.unique(want[..., :3].reshape(-1, 3), axis=0)) > 50
        diff = np.abs(got.astype(int) - want.astype(int))[..., :3].max(axis=2)
        # Same pixels: float32 rounding of a transform may move an edge pixel, nothing more.
        assert (diff > 0).mean() < 0.002 and np.percentile(diff, 99.9) <= 2, diff.max()


def test_the_closed_loop_notices_a_difference(gl, tmp_path):
    """The comparison can fail: the same file with one node moved by 1 cm does not match."""
    scene, spec = python_scene()
    spec["box_T"] = dict(spec["box_T"], t=(-0.44, 0.15, 0.1))
    path = tmp_path / "moved.glb"
    export(spec, path)
    loaded = Scene(clear_color=scene.clear_color, light_dir=scene.light_dir)
    loaded.add_model(load_gltf(path))
    diff = np.abs(render(gl, loaded, 1).astype(int) - render(gl, scene, 1).astype(int))
    assert (diff[..., :3].max(axis=2) > 0).mean() > 0.002
