"""glTF 2.0 models (.gltf with external or embedded buffers, .glb) into vrkit's scene API.

:func:`load_gltf` reads a file into a :class:`Model`: vrkit :class:`~vrkit.render.scene.Node`
objects in the file's hierarchy (TRS or matrix transforms), one mesh per primitive (indexed or
not; strips and fans become triangle lists, loops and strips line lists), flat normals where
the file has none (as the glTF specification asks), vertex colours, the base colour factor and
texture with its sampler, alpha modes OPAQUE / MASK / BLEND, double-sidedness and
``KHR_materials_unlit``. Meshes and materials used by several nodes are shared, so the GPU holds
them once. Units are glTF's and OpenXR's: metres, +Y up.

Parsing the JSON into typed records is pygltflib's job; this module checks the container and
every byte range itself, so a broken file gives one line naming the file and the problem
(:class:`~vrkit.core.errors.InputError`), and decodes accessors with numpy (no Python per
vertex). Images are decoded by Pillow. What vrkit does not draw is reported, never a crash:
lights and cameras are listed in the :class:`GltfReport`; skins, morph targets, animations,
Draco or meshopt compression, texture transforms and other extensions get one warning line each
naming them; metallic-roughness, normal, occlusion and emissive maps are listed as ignored (vrkit
shades Lambert + ambient).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import struct
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.core.jsonfile import parse_json
from vrkit.math.transforms import matrix_from_quat
from vrkit.render.scene import Material, Mesh, Node, Sampler, bounds, world_transforms

log = logging.getLogger(__name__)

GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_COMPONENTS = {
    5120: np.dtype("<i1"),
    5121: np.dtype("<u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
_TYPES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_WRAP = {33071: "clamp", 33648: "mirror", 10497: "repeat"}
_MAG = {9728: "nearest", 9729: "linear"}
_MIN = {
    9728: "nearest",
    9729: "linear",
    9984: "nearest_mipmap_nearest",
    9985: "linear_mipmap_nearest",
    9986: "nearest_mipmap_linear",
    9987: "linear_mipmap_linear",
}
_MODES = {0: "points", 1: "lines", 2: "line loop", 3: "line strip", 4: "triangles",
          5: "triangle strip", 6: "triangle fan"}  # fmt: skip
#: Extensions vrkit honours (lights are read to be reported; quantized attributes are decoded).
SUPPORTED_EXTENSIONS = frozenset(
    {
        "KHR_materials_unlit",
        "KHR_lights_punctual",
        "KHR_mesh_quantization",
        "KHR_materials_pbrSpecularGlossiness",
        "EXT_texture_webp",
    }
)
#: Material extensions that only refine physically based shading, which vrkit does not do:
#: listed as ignored, like the material's metallic-roughness and normal maps.
SHADING_EXTENSIONS = frozenset(
    {
        "KHR_materials_emissive_strength",
        "KHR_materials_ior",
        "KHR_materials_specular",
        "KHR_materials_clearcoat",
        "KHR_materials_sheen",
        "KHR_materials_transmission",
        "KHR_materials_volume",
        "KHR_materials_iridescence",
        "KHR_materials_anisotropy",
        "KHR_materials_dispersion",
        "KHR_materials_variants",
    }
)


@dataclass
class GltfReport:
    """What a glTF file held and what vrkit did with it.

    Attributes:
        path: The file.
        generator: The exporter named in the file's ``asset``.
        nodes: glTF nodes in the loaded scene.
        meshes: vrkit meshes made (one per drawable primitive).
        triangles: Triangles over all mesh nodes (instances counted each time).
        images: Images decoded.
        cameras: Cameras in the file, reported and not used (vrkit's views come from the
            headset).
        lights: Punctual lights in the file, reported and not used (vrkit has one light).
        warnings: One line per unsupported feature, naming it and what vrkit drew instead.
        ignored: Material maps and extensions vrkit does not shade with.
    """

    path: Path
    generator: str = ""
    nodes: int = 0
    meshes: int = 0
    triangles: int = 0
    images: int = 0
    cameras: list[str] = field(default_factory=list)
    lights: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts, and what was reported and ignored."""
        parts = [
            f"{self.path.name}: {self.nodes} nodes, {self.meshes} meshes, "
            f"{self.triangles} triangles, {self.images} images"
        ]
        if self.cameras:
            parts.append(f"{len(self.cameras)} camera(s) ignored")
        if self.lights:
            parts.append(f"{len(self.lights)} light(s) ignored")
        if self.ignored:
            parts.append("not shaded: " + ", ".join(self.ignored))
        return "; ".join(parts)


@dataclass(eq=False)
class Model:
    """A loaded glTF scene: its nodes in the file's hierarchy, ready to place in a Scene.

    Attributes:
        name: The file's stem.
        path: The file.
        nodes: Nodes, parents before children; the file's root nodes have ``parent`` None.
        report: What the file held and what was drawn, reported or ignored.
    """

    name: str
    path: Path
    nodes: list[Node]
    report: GltfReport

    def copy_nodes(self, parent: Node | None = None) -> list[Node]:
        """New nodes with the same meshes and materials, the roots parented to ``parent``."""
        copies: dict[int, Node] = {}
        out = []
        for node in self.nodes:
            up = copies[id(node.parent)] if node.parent is not None else parent
            copy = Node(node.mesh, node.transform.copy(), node.material, node.name, node.visible,
                        up)  # fmt: skip
            copies[id(node)] = copy
            out.append(copy)
        return out

    def bounds(self) -> NDArray[np.float64]:
        """Axis-aligned box ``(2, 3)`` (min, max) of the model in its own frame, metres.

        Raises:
            InputError: The model has no vertices.
        """
        if not self.nodes:
            raise InputError(f"{self.path}: the model has no nodes to show")
        world, shown = world_transforms(self.nodes)
        keep = [i for i, n in enumerate(self.nodes) if shown[i] and n.mesh is not None]
        try:
            return bounds([self.nodes[i] for i in keep], world[keep])
        except ValueError:
            raise InputError(f"{self.path}: the model has no vertices to show") from None

    @property
    def triangle_count(self) -> int:
        """Triangles over all mesh nodes."""
        return sum(n.mesh.triangle_count for n in self.nodes if n.mesh is not None)


def load_gltf(path: str | Path) -> Model:
    """Load a glTF 2.0 file (.gltf with external or data-URI buffers, or .glb).

    Args:
        path: The file. External buffers and images are read relative to its folder.

    Returns:
        The model of the file's default scene (or its only root nodes when it has no scene).

    Raises:
        InputError: The file is missing, truncated or malformed (wrong magic, a buffer or
            image that cannot be read, an accessor or index out of range, a texture that is not
            an image): one line naming the file and the problem.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"glTF file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a glTF file") from None
    except OSError as exc:
        raise InputError(f"cannot read glTF file {path}: {exc.strerror}") from exc
    model = _Loader(path, data).load()
    for line in model.report.warnings:
        log.warning("%s", line)
    log.info("%s", model.report.summary())
    return model


class _Loader:
    """One file's parse: container, buffers, accessors, images, materials, meshes, nodes."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        self.bin: bytes | None = None
        self.report = GltfReport(path)
        self._buffers: dict[int, bytes] = {}
        self._accessors: dict[int, NDArray[Any]] = {}  # (index << 1) | normalize
        self._images: dict[int, NDArray[np.uint8] | None] = {}
        self._materials: dict[int | None, tuple[Material, int]] = {}
        self._meshes: dict[int, list[tuple[Mesh, Material]]] = {}
        self._warned: dict[str, list[str]] = {}

    # --- errors and warnings ----------------------------------------------------------------
    def error(self, problem: str, hint: str | None = None) -> InputError:
        return InputError(f"{self.path}: {problem}", hint)

    def warn(self, feature: str, detail: str) -> None:
        """Collect an unsupported feature; one line per feature is reported at the end."""
        self._warned.setdefault(feature, [])
        if detail not in self._warned[feature]:
            self._warned[feature].append(detail)

    def ignore(self, what: str) -> None:
        if what not in self.report.ignored:
            self.report.ignored.append(what)

    # --- container -------------------------------------------------------------------------
    def load(self) -> Model:
        text = self._json_text()
        doc = parse_json(text, str(self.path))  # strict: no NaN, no repeated keys
        if not isinstance(doc, dict) or not isinstance(doc.get("asset"), dict):
            raise self.error("no 'asset' object: not a glTF file")
        version = str(doc["asset"].get("version", ""))
        if not version.startswith("2."):
            raise self.error(f"glTF version {version!r}; vrkit reads glTF 2.0")
        import pygltflib

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.gltf = pygltflib.GLTF2.from_json(text, infer_missing=True)
        except Exception as exc:  # pygltflib's own complaint about a malformed field
            raise self.error(f"malformed glTF: {type(exc).__name__}: {exc}") from None
        self.report.generator = str(self.gltf.asset.generator or "")
        self._check_extensions()
        nodes = self._nodes()
        self.report.meshes = len({id(n.mesh) for n in nodes if n.mesh is not None})
        self.report.triangles = sum(n.mesh.triangle_count for n in nodes if n.mesh is not None)
        self.report.images = sum(1 for img in self._images.values() if img is not None)
        for feature, details in self._warned.items():
            self.report.warnings.append(
                f"{self.path.name}: {feature} not supported ({'; '.join(details)})"
            )
        return Model(self.path.stem, self.path, nodes, self.report)

    def _json_text(self) -> str:
        data = self.data
        if data[:4] == GLB_MAGIC:
            return self._glb()
        if self.path.suffix.lower() == ".glb":
            raise self.error(
                f"not a binary glTF: the file starts with {data[:4]!r}, not the magic b'glTF'"
            )
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise self.error(
                f"not a glTF file: neither JSON text nor a .glb (starts with {data[:4]!r})"
            ) from None

    def _glb(self) -> str:
        data = self.data
        if len(data) < 12:
            raise self.error(f"truncated .glb: {len(data)} bytes, shorter than its 12-byte header")
        _magic, version, length = struct.unpack_from("<4sII", data)
        if version != 2:
            raise self.error(f".glb container version {version}; vrkit reads version 2")
        if length > len(data):
            raise self.error(
                f"truncated .glb: the header says {length} bytes, the file has {len(data)}",
                "copy or export the file again",
            )
        pos, k, text = 12, 0, None
        while pos < length:
            if pos + 8 > length:
                raise self.error(f"truncated .glb: chunk {k} header at byte {pos} is cut off")
            size, kind = struct.unpack_from("<II", data, pos)
            end = pos + 8 + size
            if end > length:
                raise self.error(
                    f"truncated .glb: chunk {k} ({size} bytes at byte {pos + 8}) runs past the "
                    f"end of the file ({length} bytes)",
                    "copy or export the file again",
                )
            chunk = data[pos + 8 : end]
            if k == 0:
                if kind != _CHUNK_JSON:
                    raise self.error(f".glb chunk 0 has type 0x{kind:08x}, not JSON")
                try:
                    text = chunk.decode("utf-8")
                except UnicodeDecodeError:
                    raise self.error(".glb JSON chunk is not UTF-8 text") from None
            elif kind == _CHUNK_BIN and self.bin is None:
                self.bin = chunk
            pos, k = end, k + 1
        if text is None:
            raise self.error(".glb has no JSON chunk")
        return text

    def _check_extensions(self) -> None:
        g = self.gltf
        required = [e for e in (g.extensionsRequired or []) if e not in SUPPORTED_EXTENSIONS]
        for ext in required:
            if ext in ("KHR_draco_mesh_compression", "EXT_meshopt_compression"):
                continue  # named where a primitive is skipped
            self.warn("required extension", ext)
        if g.skins:
            names = [s.name or f"skin {i}" for i, s in enumerate(g.skins)]
            self.warn("skins", f"{', '.join(names)}: meshes drawn in their bind pose")
        if g.animations:
            self.warn("animations", f"{len(g.animations)} animation(s) not played")

    # --- bytes -----------------------------------------------------------------------------
    def _uri_bytes(self, uri: str, what: str) -> bytes:
        if uri.startswith("data:"):
            head, sep, payload = uri.partition(",")
            if not sep or not head.endswith(";base64"):
                raise self.error(f"{what} is a data URI that is not base64 ({head[:40]!r})")
            try:
                return base64.b64decode("".join(payload.split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise self.error(f"{what}: its base64 data URI is corrupt ({exc})") from None
        parsed = urllib.parse.urlparse(uri)
        if parsed.scheme and len(parsed.scheme) > 1:
            raise self.error(
                f"{what} refers to {uri!r}; vrkit reads only files beside the model and data URIs"
            )
        rel = Path(urllib.parse.unquote(uri))
        if rel.is_absolute():
            raise self.error(
                f"{what} refers to the absolute path {uri!r}; glTF URIs are relative to the file"
            )
        target = self.path.parent / rel
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise self.error(
                f"{what} file {uri!r} not found (looked for {target})",
                "keep the .bin and image files beside the .gltf, or use a .glb",
            ) from None
        except OSError as exc:
            raise self.error(f"cannot read {what} file {target}: {exc.strerror}") from exc

    def _buffer(self, i: int) -> bytes:
        if i in self._buffers:
            return self._buffers[i]
        buffers = self.gltf.buffers or []
        if not isinstance(i, int) or not 0 <= i < len(buffers):
            raise self.error(f"buffer {i} does not exist (the file has {len(buffers)})")
        b = buffers[i]
        if b.uri is None:
            if i != 0 or self.bin is None:
                raise self.error(f"buffer {i} has no uri and the file has no .glb BIN chunk")
            data = self.bin
        else:
            data = self._uri_bytes(str(b.uri), f"buffer {i}")
        n = b.byteLength
        if not isinstance(n, int) or n < 0:
            raise self.error(f"buffer {i} has no valid byteLength ({n!r})")
        if len(data) < n:
            raise self.error(
                f"buffer {i} has {len(data)} bytes but its byteLength is {n} (truncated?)"
            )
        self._buffers[i] = data
        return data

    def _view(self, v: int, what: str) -> tuple[bytes, int, int, int | None]:
        """(buffer bytes, start, length, stride) of a bufferView, checked against its buffer."""
        views = self.gltf.bufferViews or []
        if not isinstance(v, int) or not 0 <= v < len(views):
            raise self.error(f"{what} uses bufferView {v}, which does not exist ({len(views)})")
        view = views[v]
        buf = self._buffer(view.buffer)
        start = view.byteOffset or 0
        length = view.byteLength
        if not isinstance(start, int) or not isinstance(length, int) or start < 0 or length < 0:
            raise self.error(f"bufferView {v} has an invalid range ({start!r}, {length!r})")
        if start + length > len(buf):
            raise self.error(
                f"bufferView {v} (bytes {start}..{start + length}) runs past the end of "
                f"buffer {view.buffer} ({len(buf)} bytes)"
            )
        return buf, start, length, view.byteStride

    def accessor(self, i: int, *, normalize: bool = False) -> NDArray[Any]:
        """Accessor ``i`` as a numpy array ``(count, components)`` (``(count,)`` for SCALAR).

        Integer data is converted to float32 in [0, 1] / [-1, 1] when the accessor is
        ``normalized`` or ``normalize`` asks (colours and texture coordinates).
        """
        accessors = self.gltf.accessors or []
        if not isinstance(i, int) or not 0 <= i < len(accessors):
            raise self.error(f"accessor {i} does not exist (the file has {len(accessors)})")
        key = (i << 1) | normalize
        if key in self._accessors:
            return self._accessors[key]
        a = accessors[i]
        what = f"accessor {i}" + (f" ({a.name})" if a.name else "")
        dtype = _COMPONENTS.get(a.componentType)
        ncomp = _TYPES.get(a.type)
        if dtype is None or ncomp is None:
            raise self.error(f"{what} has componentType {a.componentType!r} / type {a.type!r}")
        count = a.count
        if not isinstance(count, int) or count < 0:
            raise self.error(f"{what} has an invalid count {count!r}")
        item = dtype.itemsize * ncomp
        if a.bufferView is None:
            arr = np.zeros((count, ncomp), dtype)
        else:
            buf, start, length, stride = self._view(a.bufferView, what)
            stride = stride or item
            offset = a.byteOffset or 0
            if not isinstance(offset, int) or offset < 0 or stride < item:
                raise self.error(f"{what} has byteOffset {offset!r} / byteStride {stride!r}")
            need = offset + stride * (count - 1) + item if count else 0
            if need > length:
                raise self.error(
                    f"{what} is out of range: it reads bytes {offset}..{need} of bufferView "
                    f"{a.bufferView}, which has {length}"
                )
            arr = np.ndarray(
                (count, ncomp), dtype, buffer=buf, offset=start + offset,
                strides=(stride, dtype.itemsize),
            ).copy()  # fmt: skip
        if a.sparse is not None:
            self._apply_sparse(arr, a.sparse, what, count, dtype, ncomp)
        if dtype.kind in "iu" and (a.normalized or normalize):
            info = np.iinfo(dtype)
            arr = np.maximum(arr.astype(np.float32) / info.max, -1.0).astype(np.float32)
        if ncomp == 1:
            arr = arr[:, 0]
        self._accessors[key] = arr
        return arr

    def _apply_sparse(
        self, arr: NDArray[Any], sparse: Any, what: str, count: int, dtype: np.dtype, ncomp: int
    ) -> None:
        n = sparse.count
        idx_t = _COMPONENTS.get(getattr(sparse.indices, "componentType", None))
        if not isinstance(n, int) or n < 0 or idx_t is None or idx_t.kind != "u":
            raise self.error(f"{what} has a malformed sparse section")
        parts = []
        for part, part_dtype, width in ((sparse.indices, idx_t, 1), (sparse.values, dtype, ncomp)):
            buf, start, length, _stride = self._view(part.bufferView, f"{what} sparse data")
            off = part.byteOffset or 0
            if (
                not isinstance(off, int)
                or off < 0
                or off + n * width * part_dtype.itemsize > length
            ):
                raise self.error(f"{what}: its sparse data runs past its bufferView")
            parts.append(np.frombuffer(buf, part_dtype, n * width, start + off))
        idx, vals = parts
        if n and int(idx.max()) >= count:
            raise self.error(f"{what}: sparse index {int(idx.max())} is out of range ({count})")
        arr[idx.astype(np.int64)] = vals.reshape(n, ncomp)

    # --- images, textures, materials -------------------------------------------------------
    def image(self, i: int) -> NDArray[np.uint8] | None:
        if i in self._images:
            return self._images[i]
        images = self.gltf.images or []
        if not isinstance(i, int) or not 0 <= i < len(images):
            raise self.error(f"image {i} does not exist (the file has {len(images)})")
        im = images[i]
        name = f"image {i}" + (f" ({im.name})" if im.name else "")
        if im.bufferView is not None:
            buf, start, length, _stride = self._view(im.bufferView, name)
            data = buf[start : start + length]
            where = f"{name}, bufferView {im.bufferView}"
        elif im.uri:
            data = self._uri_bytes(str(im.uri), name)
            where = name if str(im.uri).startswith("data:") else f"{name}, {im.uri}"
        else:
            raise self.error(f"{name} has neither a uri nor a bufferView")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                has_alpha = "A" in img.getbands() or "transparency" in img.info
                pixels = np.asarray(img.convert("RGBA" if has_alpha else "RGB"), np.uint8)
        except UnidentifiedImageError:
            raise self.error(
                f"texture {where} is not an image vrkit can decode: not PNG, JPEG or another "
                f"format Pillow reads (its data starts with {data[:8]!r})"
            ) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise self.error(f"texture {where} is not an image vrkit can decode: {exc}") from None
        self._images[i] = pixels
        return pixels

    def texture(self, info: Any, where: str) -> tuple[NDArray[np.uint8] | None, Sampler, int]:
        """(image, sampler, texCoord set) of a textureInfo (a pygltflib record or a dict)."""
        get = info.get if isinstance(info, dict) else lambda k, d=None: getattr(info, k, d)
        index = get("index")
        texcoord = get("texCoord") or 0
        extensions = get("extensions") or {}
        if "KHR_texture_transform" in extensions:
            self.warn("KHR_texture_transform", f"{where}: texture drawn untransformed")
        textures = self.gltf.textures or []
        if not isinstance(index, int) or not 0 <= index < len(textures):
            raise self.error(f"{where} uses texture {index}, which does not exist")
        t = textures[index]
        source = t.source
        ext = t.extensions or {}
        if "EXT_texture_webp" in ext:
            source = ext["EXT_texture_webp"].get("source", source)
        if source is None:
            kinds = ", ".join(ext) or "no source image"
            self.warn("texture formats", f"texture {index} ({kinds}): drawn untextured")
            return None, Sampler(), texcoord
        img = self.image(source)
        return img, self._sampler(t.sampler), texcoord

    def _sampler(self, i: int | None) -> Sampler:
        if i is None:  # glTF's default: repeat, filters up to the renderer (trilinear)
            return Sampler("repeat", "repeat", "linear", "linear_mipmap_linear")
        samplers = self.gltf.samplers or []
        if not isinstance(i, int) or not 0 <= i < len(samplers):
            raise self.error(f"sampler {i} does not exist (the file has {len(samplers)})")
        s = samplers[i]
        wrap_s = _WRAP.get(s.wrapS if s.wrapS is not None else 10497)
        wrap_t = _WRAP.get(s.wrapT if s.wrapT is not None else 10497)
        mag = _MAG.get(s.magFilter, "linear") if s.magFilter is not None else "linear"
        mnf = _MIN.get(s.minFilter) if s.minFilter is not None else "linear_mipmap_linear"
        if wrap_s is None or wrap_t is None or mnf is None:
            raise self.error(
                f"sampler {i} has wrap {s.wrapS!r}/{s.wrapT!r}, minFilter {s.minFilter!r}: "
                "not glTF values"
            )
        return Sampler(wrap_s, wrap_t, mag, mnf)  # type: ignore[arg-type]

    def material(self, i: int | None) -> tuple[Material, int]:
        """(vrkit material, texCoord set of its texture) of glTF material ``i`` (None: default)."""
        if i in self._materials:
            return self._materials[i]
        if i is None:  # glTF's default material: white, lit, single-sided
            result = (Material((1.0, 1.0, 1.0, 1.0), double_sided=False, name="default"), 0)
            self._materials[i] = result
            return result
        materials = self.gltf.materials or []
        if not isinstance(i, int) or not 0 <= i < len(materials):
            raise self.error(f"material {i} does not exist (the file has {len(materials)})")
        m = materials[i]
        name = m.name or f"material {i}"
        ext = m.extensions or {}
        pbr = m.pbrMetallicRoughness
        color = list(pbr.baseColorFactor) if pbr and pbr.baseColorFactor else [1.0] * 4
        tex_info = pbr.baseColorTexture if pbr else None
        if "KHR_materials_pbrSpecularGlossiness" in ext:
            sg = ext["KHR_materials_pbrSpecularGlossiness"]
            color = list(sg.get("diffuseFactor", [1.0] * 4))
            tex_info = sg.get("diffuseTexture")
            self.ignore("specular-glossiness (diffuse used as base colour)")
        image, sampler, texcoord = (None, Sampler(), 0)
        if tex_info is not None:
            image, sampler, texcoord = self.texture(tex_info, f"material {name!r}")
        if pbr and pbr.metallicRoughnessTexture is not None:
            self.ignore("metallic-roughness maps")
        for attr, label in (("normalTexture", "normal maps"), ("occlusionTexture",
                            "occlusion maps"), ("emissiveTexture", "emissive maps")):  # fmt: skip
            if getattr(m, attr, None) is not None:
                self.ignore(label)
        if any(float(c) for c in (m.emissiveFactor or [])):
            self.ignore("emissive colour")
        for e in ext:
            if e in SHADING_EXTENSIONS:
                self.ignore(e)
            elif e not in SUPPORTED_EXTENSIONS:
                self.warn("material extensions", f"{e} on {name!r}")
        mode = str(m.alphaMode or "OPAQUE").lower()
        if mode not in ("opaque", "mask", "blend"):
            raise self.error(f"material {name!r} has alphaMode {m.alphaMode!r}")
        cutoff = 0.5 if m.alphaCutoff is None else float(m.alphaCutoff)
        try:
            material = Material(
                tuple(float(c) for c in color),  # type: ignore[arg-type]
                lit="KHR_materials_unlit" not in ext,
                texture=image,
                sampler=sampler,
                alpha_mode=mode,  # type: ignore[arg-type]
                alpha_cutoff=min(max(cutoff, 0.0), 1.0),
                double_sided=bool(m.doubleSided),
                name=name,
            )
        except ValueError as exc:
            raise self.error(str(exc)) from None
        self._materials[i] = (material, texcoord)
        return self._materials[i]

    # --- meshes ----------------------------------------------------------------------------
    def mesh(self, i: int) -> list[tuple[Mesh, Material]]:
        """The drawable primitives of glTF mesh ``i`` (shared by every node that uses it)."""
        if i in self._meshes:
            return self._meshes[i]
        meshes = self.gltf.meshes or []
        if not isinstance(i, int) or not 0 <= i < len(meshes):
            raise self.error(f"mesh {i} does not exist (the file has {len(meshes)})")
        m = meshes[i]
        name = m.name or f"mesh {i}"
        out = []
        for k, prim in enumerate(m.primitives or []):
            where = f"mesh {name!r} primitive {k}"
            material, texcoord = self.material(prim.material)
            mesh = self._primitive(prim, where, texcoord)
            if mesh is not None:
                out.append((mesh, material))
        self._meshes[i] = out
        return out

    def _primitive(self, prim: Any, where: str, texcoord: int) -> Mesh | None:
        attrs = prim.attributes
        get = (lambda k: getattr(attrs, k, None)) if not isinstance(attrs, dict) else attrs.get
        ext = prim.extensions or {}
        if "KHR_draco_mesh_compression" in ext and not self._plain(get("POSITION")):
            self.warn("Draco compression", f"{where} skipped")
            return None
        if self._meshopt(prim, get):
            self.warn("meshopt compression", f"{where} skipped")
            return None
        mode = 4 if prim.mode is None else prim.mode
        if mode not in _MODES:
            raise self.error(f"{where} has mode {mode!r}, not a glTF primitive mode")
        if mode == 0:
            self.warn("points", f"{where} skipped")
            return None
        if get("POSITION") is None:
            self.warn("primitives without POSITION", f"{where} skipped")
            return None
        if prim.targets:
            self.warn("morph targets", f"{where}: base shape drawn")
        pos = self.accessor(get("POSITION"), normalize=False)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise self.error(f"{where}: POSITION is not VEC3")
        pos = pos.astype(np.float32, copy=False)
        n = len(pos)
        if prim.indices is not None:
            idx = self.accessor(prim.indices).ravel()
            if idx.dtype.kind != "u":
                raise self.error(f"{where}: indices are {idx.dtype}, not unsigned integers")
            if idx.size and int(idx.max()) >= n:
                raise self.error(
                    f"{where}: index {int(idx.max())} is out of range for {n} vertices"
                )
            idx = idx.astype(np.uint32, copy=False)
        else:
            idx = np.arange(n, dtype=np.uint32)
        idx = self._topology(idx, mode, where)
        triangles = mode in (4, 5, 6)
        normals = None
        if triangles and get("NORMAL") is not None:
            normals = self.accessor(get("NORMAL"), normalize=True).astype(np.float32, copy=False)
            if normals.shape != (n, 3):
                raise self.error(f"{where}: NORMAL is not one VEC3 per vertex")
        colors = None
        if get("COLOR_0") is not None:
            c = self.accessor(get("COLOR_0"), normalize=True).astype(np.float32, copy=False)
            if c.ndim != 2 or c.shape[0] != n or c.shape[1] not in (3, 4):
                raise self.error(f"{where}: COLOR_0 is not one VEC3/VEC4 per vertex")
            colors = c if c.shape[1] == 4 else np.hstack([c, np.ones((n, 1), np.float32)])
        uvs = None
        uv_id = get(f"TEXCOORD_{texcoord}")
        if uv_id is not None:
            uv = self.accessor(uv_id, normalize=True).astype(np.float32, copy=False)
            if uv.shape != (n, 2):
                raise self.error(f"{where}: TEXCOORD_{texcoord} is not one VEC2 per vertex")
            uvs = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])  # glTF v runs down the image
        if triangles and normals is None:
            # Flat normals (the glTF specification's rule): one vertex per triangle corner.
            pos = pos[idx]
            colors = colors[idx] if colors is not None else None
            uvs = uvs[idx] if uvs is not None else None
            tri = pos.reshape(-1, 3, 3).astype(np.float64)
            face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            length = np.linalg.norm(face, axis=1, keepdims=True)
            face = np.where(length > 0, face / np.where(length > 0, length, 1.0), [0.0, 1.0, 0.0])
            normals = np.repeat(face, 3, axis=0).astype(np.float32)
            idx = np.arange(len(pos), dtype=np.uint32)
        elif normals is None:
            normals = np.tile(np.float32([0.0, 1.0, 0.0]), (n, 1))
        try:
            return Mesh(pos, normals, idx, colors, uvs,
                        "triangles" if triangles else "lines")  # fmt: skip
        except ValueError as exc:
            raise self.error(f"{where}: {exc}") from None

    def _plain(self, accessor: Any) -> bool:
        """True when accessor ``accessor`` has data of its own (not only a compressed form)."""
        accessors = self.gltf.accessors or []
        if not isinstance(accessor, int) or not 0 <= accessor < len(accessors):
            return False
        a = accessors[accessor]
        return a.bufferView is not None or a.sparse is not None

    def _meshopt(self, prim: Any, get: Any) -> bool:
        """True when a buffer view the primitive reads is EXT_meshopt_compression data."""
        views = self.gltf.bufferViews or []
        accessors = self.gltf.accessors or []
        names = ["POSITION", "NORMAL", "COLOR_0", "TEXCOORD_0", "TEXCOORD_1"]
        ids = [get(k) for k in names] + [prim.indices]
        for i in ids:
            if isinstance(i, int) and 0 <= i < len(accessors):
                v = accessors[i].bufferView
                if isinstance(v, int) and 0 <= v < len(views):
                    if "EXT_meshopt_compression" in (views[v].extensions or {}):
                        return True
        return False

    def _topology(self, idx: NDArray[np.uint32], mode: int, where: str) -> NDArray[np.uint32]:
        """Indices as a triangle list (modes 4-6) or a line list (modes 1-3)."""
        m = len(idx)
        if mode == 4:
            if m % 3:
                raise self.error(f"{where}: {m} triangle indices, not a multiple of 3")
            return idx
        if mode == 5:  # strip: triangle i is (i, i + 1 + i % 2, i + 2 - i % 2)
            if m < 3:
                return idx[:0]
            i = np.arange(m - 2)
            odd = i % 2
            return np.stack([idx[i], idx[i + 1 + odd], idx[i + 2 - odd]], 1).ravel()
        if mode == 6:  # fan: triangle i is (i + 1, i + 2, 0)
            if m < 3:
                return idx[:0]
            i = np.arange(m - 2)
            return np.stack([idx[i + 1], idx[i + 2], np.full(m - 2, idx[0])], 1).ravel()
        if mode == 1:
            if m % 2:
                raise self.error(f"{where}: {m} line indices, not a multiple of 2")
            return idx
        if m < 2:
            return idx[:0]
        pairs = np.stack([idx[:-1], idx[1:]], 1)
        if mode == 2:  # loop: closed
            pairs = np.vstack([pairs, [[idx[-1], idx[0]]]])
        return pairs.ravel()

    # --- nodes -----------------------------------------------------------------------------
    def _local(self, j: int, node: Any) -> NDArray[np.float64]:
        if node.matrix is not None:
            m = np.asarray(node.matrix, dtype=np.float64)
            if m.shape != (16,) or not np.all(np.isfinite(m)):
                raise self.error(f"node {j} has a matrix that is not 16 finite numbers")
            return m.reshape(4, 4).T  # column-major in the file
        t = np.asarray(node.translation if node.translation is not None else [0, 0, 0], float)
        r = np.asarray(node.rotation if node.rotation is not None else [0, 0, 0, 1], float)
        s = np.asarray(node.scale if node.scale is not None else [1, 1, 1], float)
        if t.shape != (3,) or r.shape != (4,) or s.shape != (3,):
            raise self.error(f"node {j} has a malformed translation, rotation or scale")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(r)) and np.all(np.isfinite(s))):
            raise self.error(f"node {j} has a non-finite translation, rotation or scale")
        norm = np.linalg.norm(r)
        if norm == 0:
            raise self.error(f"node {j} has a zero rotation quaternion")
        out = np.eye(4)
        out[:3, :3] = matrix_from_quat(r / norm) * s  # R @ diag(s)
        out[:3, 3] = t
        return out

    def _nodes(self) -> list[Node]:
        g = self.gltf
        all_nodes = g.nodes or []
        if g.scenes:
            scene = g.scene if isinstance(g.scene, int) else 0
            if not 0 <= scene < len(g.scenes):
                raise self.error(f"default scene {scene} does not exist ({len(g.scenes)} scenes)")
            roots = list(g.scenes[scene].nodes or [])
        else:
            children = {c for n in all_nodes for c in (n.children or [])}
            roots = [j for j in range(len(all_nodes)) if j not in children]
        out: list[Node] = []
        seen: set[int] = set()
        stack: list[tuple[int, Node | None]] = [(j, None) for j in reversed(roots)]
        cameras = g.cameras or []
        lights = ((g.extensions or {}).get("KHR_lights_punctual") or {}).get("lights") or []
        while stack:
            j, parent = stack.pop()
            if not isinstance(j, int) or not 0 <= j < len(all_nodes):
                raise self.error(f"node {j} does not exist (the file has {len(all_nodes)})")
            if j in seen:
                raise self.error(f"node {j} is reached twice: glTF nodes must form a tree")
            seen.add(j)
            gn = all_nodes[j]
            name = gn.name or f"node {j}"
            parts = self.mesh(gn.mesh) if gn.mesh is not None else []
            own = parts[0] if len(parts) == 1 else None
            node = Node(
                own[0] if own else None,
                self._local(j, gn),
                own[1] if own else Material(),
                name,
                parent=parent,
            )
            out.append(node)
            if len(parts) > 1:
                for k, (mesh, material) in enumerate(parts):
                    out.append(Node(mesh, np.eye(4), material, f"{name}/{k}", parent=node))
            if gn.camera is not None:
                cam = cameras[gn.camera] if 0 <= gn.camera < len(cameras) else None
                kind = getattr(cam, "type", None) or "camera"
                self.report.cameras.append(f"{name} ({kind})")
            light = ((gn.extensions or {}).get("KHR_lights_punctual") or {}).get("light")
            if light is not None:
                info = lights[light] if isinstance(light, int) and 0 <= light < len(lights) else {}
                self.report.lights.append(f"{name} ({info.get('type', 'light')})")
            if gn.skin is not None:
                self.warn("skins", f"node {name!r} drawn in its bind pose")
            if getattr(gn, "weights", None):
                self.warn("morph targets", f"node {name!r} weights not applied")
            stack.extend((c, node) for c in reversed(gn.children or []))
        self.report.nodes = len(seen)
        if self.report.cameras:
            log.info("%s: cameras reported and ignored: %s", self.path.name,
                     ", ".join(self.report.cameras))  # fmt: skip
        if self.report.lights:
            log.info("%s: lights reported and ignored: %s", self.path.name,
                     ", ".join(self.report.lights))  # fmt: skip
        return out
