"""A small scene API: meshes, materials, nodes in a hierarchy. Pure numpy (GPU upload: renderer).

A scene file (``examples/room.py``) is a Python module with ``build_scene() -> Scene``; glTF 2.0
models (:mod:`vrkit.render.gltf`) load into the same classes and are placed with
:meth:`Scene.add_model`.

Colour is linear everywhere in this API: :attr:`Material.color`, vertex colours and
:attr:`Scene.clear_color` are linear-light values, as glTF's ``baseColorFactor`` and
``COLOR_0``; only texture images hold sRGB-encoded bytes (as image files do), which the GPU
decodes when it samples them. :func:`vrkit.render.color.srgb_to_linear` converts a colour picked
in an image editor. See ``docs/scenes.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.math.transforms import as_array


@dataclass(eq=False)
class Mesh:
    """Triangle or line geometry in the mesh's own frame.

    Attributes:
        positions: (N, 3) float32 vertex positions, metres.
        normals: (N, 3) float32 unit normals.
        indices: (M,) uint32 vertex indices (triangles: M % 3 == 0; lines: M % 2 == 0).
        colors: (N, 4) float32 per-vertex linear RGBA in [0, 1] (white when absent).
        uvs: (N, 2) float32 texture coordinates (0, 0 bottom-left), or None.
        primitive: ``"triangles"`` or ``"lines"``.
    """

    positions: NDArray[np.float32]
    normals: NDArray[np.float32]
    indices: NDArray[np.uint32]
    colors: NDArray[np.float32] | None = None
    uvs: NDArray[np.float32] | None = None
    primitive: Literal["triangles", "lines"] = "triangles"

    def __post_init__(self) -> None:
        self.positions = _float32(self.positions, (None, 3), "Mesh.positions")
        n = len(self.positions)
        self.normals = _float32(self.normals, (n, 3), "Mesh.normals")
        idx = np.asarray(self.indices)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n)):
            raise ValueError(f"Mesh.indices must be 1-D in [0, {n}), got shape {idx.shape}")
        per = 3 if self.primitive == "triangles" else 2
        if idx.size % per:
            raise ValueError(f"{self.primitive} need a multiple of {per} indices, got {idx.size}")
        self.indices = idx.astype(np.uint32, copy=False)
        if self.colors is None:
            self.colors = np.ones((n, 4), np.float32)
        self.colors = _float32(self.colors, (n, 4), "Mesh.colors")
        if self.uvs is not None:
            self.uvs = _float32(self.uvs, (n, 2), "Mesh.uvs")

    @property
    def triangle_count(self) -> int:
        """Number of triangles (0 for line meshes)."""
        return len(self.indices) // 3 if self.primitive == "triangles" else 0

    def interleaved(self) -> NDArray[np.float32]:
        """Vertex data (N, 12) as position(3), normal(3), color(4), uv(2) for upload."""
        uvs = self.uvs if self.uvs is not None else np.zeros((len(self.positions), 2), np.float32)
        return np.ascontiguousarray(
            np.hstack([self.positions, self.normals, self.colors, uvs]), dtype=np.float32
        )


def _float32(value: ArrayLike, shape: tuple[int | None, ...], name: str) -> NDArray[np.float32]:
    """A finite float32 array of ``shape`` (no copy when it already is one), or ValueError."""
    arr = np.asarray(value)
    if arr.dtype != np.float32:
        return as_array(arr, shape, name).astype(np.float32)
    if arr.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, arr.shape, strict=False)
    ):
        return as_array(arr, shape, name).astype(np.float32)  # raises with the shapes
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


WrapMode = Literal["repeat", "clamp", "mirror"]
MinFilter = Literal[
    "nearest",
    "linear",
    "nearest_mipmap_nearest",
    "linear_mipmap_nearest",
    "nearest_mipmap_linear",
    "linear_mipmap_linear",
]
_WRAPS = ("repeat", "clamp", "mirror")
_MIN_FILTERS = (
    "nearest", "linear", "nearest_mipmap_nearest", "linear_mipmap_nearest",
    "nearest_mipmap_linear", "linear_mipmap_linear",
)  # fmt: skip


@dataclass(frozen=True)
class Sampler:
    """How a texture is sampled: wrapping per axis and filtering (glTF's sampler, by name).

    Attributes:
        wrap_s: Along u: ``"repeat"``, ``"clamp"`` (to edge) or ``"mirror"`` (mirrored repeat).
        wrap_t: Along v, the same choices.
        mag_filter: ``"linear"`` or ``"nearest"`` when a texel covers several pixels.
        min_filter: When a pixel covers several texels: ``"nearest"``, ``"linear"`` or one
            of the mipmapped filters (``"linear_mipmap_linear"``: trilinear). Mipmaps are
            built only for the mipmapped filters.
    """

    wrap_s: WrapMode = "clamp"
    wrap_t: WrapMode = "clamp"
    mag_filter: Literal["linear", "nearest"] = "linear"
    min_filter: MinFilter = "linear_mipmap_linear"

    def __post_init__(self) -> None:
        for name in ("wrap_s", "wrap_t"):
            if getattr(self, name) not in _WRAPS:
                raise ValueError(
                    f"Sampler.{name} must be one of {_WRAPS}, got {getattr(self, name)!r}"
                )
        if self.mag_filter not in ("linear", "nearest"):
            raise ValueError(
                f"Sampler.mag_filter must be 'linear' or 'nearest', got {self.mag_filter!r}"
            )
        if self.min_filter not in _MIN_FILTERS:
            raise ValueError(
                f"Sampler.min_filter must be one of {_MIN_FILTERS}, got {self.min_filter!r}"
            )

    @property
    def mipmaps(self) -> bool:
        """True when the minification filter reads mipmaps."""
        return "mipmap" in self.min_filter


AlphaMode = Literal["opaque", "mask", "blend"]


@dataclass(eq=False)
class Material:
    """How a mesh is shaded: a base colour, optionally textured, lit or unlit.

    Attributes:
        color: Linear RGBA in [0, 1] (glTF ``baseColorFactor``), multiplied with the vertex
            colours and the texture.
        lit: Lambert lighting from the scene's light; unlit draws the colour as is
            (``KHR_materials_unlit``).
        texture: Optional (H, W, 3|4) uint8 image, top row first, sRGB-encoded like an image
            file; decoded to linear by the GPU when sampled.
        sampler: Wrapping and filtering of the texture.
        alpha_mode: ``"opaque"`` (alpha ignored), ``"mask"`` (fragments with alpha below
            ``alpha_cutoff`` are discarded) or ``"blend"`` (drawn after the opaque nodes, back
            to front, blended over them).
        alpha_cutoff: Threshold of ``"mask"``, 0 to 1.
        double_sided: Draw both faces; False culls the back faces (glTF's default).
        name: For messages.
    """

    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    lit: bool = True
    texture: NDArray[np.uint8] | None = None
    sampler: Sampler = field(default_factory=Sampler)
    alpha_mode: AlphaMode = "opaque"
    alpha_cutoff: float = 0.5
    double_sided: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        c = as_array(self.color, (4,), f"Material {self.name!r} color")
        self.color = (float(c[0]), float(c[1]), float(c[2]), float(c[3]))
        if self.alpha_mode not in ("opaque", "mask", "blend"):
            raise ValueError(
                f"Material {self.name!r}: alpha_mode must be 'opaque', 'mask' or 'blend', "
                f"got {self.alpha_mode!r}"
            )
        if not 0.0 <= self.alpha_cutoff <= 1.0:
            raise ValueError(
                f"Material {self.name!r}: alpha_cutoff must be in [0, 1], got {self.alpha_cutoff}"
            )
        if self.texture is not None:
            img = np.asarray(self.texture)
            if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4):
                raise ValueError(
                    f"Material {self.name!r}: texture must be (H, W, 3|4) uint8, got "
                    f"{img.dtype} {img.shape}"
                )


@dataclass(eq=False)
class Node:
    """A mesh (or an empty group) placed relative to its parent, or to the world.

    Attributes:
        mesh: The geometry, or None for a node that only carries a transform (a group).
        transform: (4, 4) ``T_parent_node`` (``T_world_node`` when ``parent`` is None); any
            affine matrix (rotation, translation, scale).
        material: Shading.
        name: For lookups and messages.
        visible: Skipped, with its descendants, when False.
        parent: The node this one moves with, or None.
    """

    mesh: Mesh | None
    transform: NDArray[np.float64] = field(default_factory=lambda: np.eye(4))
    material: Material = field(default_factory=Material)
    name: str = ""
    visible: bool = True
    parent: Node | None = None

    def __post_init__(self) -> None:
        self.transform = as_array(self.transform, (4, 4), f"Node {self.name!r} transform")


def world_transforms(nodes: list[Node]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """``T_world_node`` of every node and whether it is shown (it and all its ancestors visible).

    One batched matrix product per level of the hierarchy, so the cost per frame is a few
    numpy calls however many nodes there are.

    Args:
        nodes: Every node of a scene; each node's parent must be in the list.

    Returns:
        ``(N, 4, 4)`` world transforms and ``(N,)`` effective visibility, in list order.

    Raises:
        ValueError: A parent is not in the list, or the parents form a cycle.
    """
    n = len(nodes)
    local = np.empty((n, 4, 4))
    for i, node in enumerate(nodes):
        local[i] = node.transform
    shown = np.fromiter((node.visible for node in nodes), bool, n)
    if all(node.parent is None for node in nodes):
        return local, shown
    index = {id(node): i for i, node in enumerate(nodes)}
    parent = np.full(n, -1)
    for i, node in enumerate(nodes):
        if node.parent is not None:
            p = index.get(id(node.parent))
            if p is None:
                raise ValueError(
                    f"node {node.name!r} has parent {node.parent.name!r}, which is not in the scene"
                )
            parent[i] = p
    depth = np.full(n, -1)
    for i in range(n):
        chain = []
        j = i
        while j >= 0 and depth[j] < 0:
            chain.append(j)
            if len(chain) > n:
                raise ValueError(f"node {nodes[i].name!r} is its own ancestor (a parent cycle)")
            j = parent[j]
        base = depth[j] if j >= 0 else -1
        for k in reversed(chain):
            base += 1
            depth[k] = base
    world = local.copy()
    for level in range(1, int(depth.max()) + 1):
        at = np.nonzero(depth == level)[0]
        world[at] = world[parent[at]] @ local[at]
        shown[at] &= shown[parent[at]]
    return world, shown


class Model(Protocol):
    """What :meth:`Scene.add_model` needs of a model (:class:`vrkit.render.gltf.Model` is one).

    Attributes:
        name: Default name of the model's group node.
    """

    name: str

    def copy_nodes(self, parent: Node | None) -> list[Node]:
        """New nodes sharing the model's meshes and materials, roots parented to ``parent``."""
        ...


@dataclass(eq=False)
class Scene:
    """Nodes, background and light; ``update`` animates it per frame.

    Attributes:
        nodes: Drawn in order (blended materials after the rest, back to front); a parent
            comes anywhere in the list.
        clear_color: Background linear RGBA.
        light_dir: (3,) direction towards the light in world space.
        ambient: Ambient fraction for lit materials, 0 to 1.
        on_update: Optional ``f(scene, t_s)`` called before each frame with the frame time.
        name: Shown in logs and run.json.
        info: What a builder wants reported with the run (e.g. where a model was placed).
    """

    nodes: list[Node] = field(default_factory=list)
    clear_color: tuple[float, float, float, float] = (0.005, 0.005, 0.008, 1.0)
    light_dir: NDArray[np.float64] = field(default_factory=lambda: np.array([0.3, 1.0, 0.5]))
    ambient: float = 0.3
    on_update: Callable[[Scene, float], None] | None = None
    name: str = "scene"
    info: dict[str, object] = field(default_factory=dict)

    def add(
        self,
        mesh: Mesh | None,
        transform: ArrayLike | None = None,
        material: Material | None = None,
        name: str = "",
        parent: Node | None = None,
    ) -> Node:
        """Append a node and return it.

        Args:
            mesh: Geometry, or None for a group node.
            transform: (4, 4) ``T_parent_node`` (world when ``parent`` is None); identity if None.
            material: Shading; a default white lit material if None.
            name: For :meth:`find`.
            parent: The node this one moves with.
        """
        node = Node(
            mesh,
            np.eye(4) if transform is None else np.asarray(transform, dtype=np.float64),
            material or Material(),
            name,
            parent=parent,
        )
        self.nodes.append(node)
        return node

    def add_model(
        self,
        model: Model,
        transform: ArrayLike | None = None,
        name: str | None = None,
        parent: Node | None = None,
    ) -> Node:
        """Place a loaded model (:func:`vrkit.render.gltf.load_gltf`) in the scene.

        The model's nodes are copied under a new group node (its meshes and materials are
        shared, so a model added twice is uploaded to the GPU once); move the model later by
        changing the returned node's ``transform``.

        Args:
            model: The loaded model.
            transform: (4, 4) ``T_parent_model``: where the model's origin goes (and its scale).
            name: Name of the group node (default: the model's name).
            parent: Optional parent of the group node.

        Returns:
            The group node.
        """
        root = self.add(None, transform, None, model.name if name is None else name, parent)
        self.nodes.extend(model.copy_nodes(root))
        return root

    def find(self, name: str) -> Node:
        """The first node called ``name``; KeyError names the nodes there are."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(
            f"no node {name!r} in scene {self.name!r}; nodes: {[n.name for n in self.nodes]}"
        )

    def update(self, t_s: float) -> None:
        """Run the scene's animation hook for time ``t_s`` (seconds since the run started)."""
        if self.on_update is not None:
            self.on_update(self, t_s)

    def drawables(self) -> tuple[list[Node], NDArray[np.float64]]:
        """The shown nodes that have a mesh, and their ``T_world_node`` ``(N, 4, 4)``."""
        if not self.nodes:
            return [], np.empty((0, 4, 4))
        world, shown = world_transforms(self.nodes)
        keep = [i for i, node in enumerate(self.nodes) if shown[i] and node.mesh is not None]
        return [self.nodes[i] for i in keep], world[keep]

    @property
    def triangle_count(self) -> int:
        """Triangles over all shown nodes."""
        return sum(n.mesh.triangle_count for n in self.drawables()[0] if n.mesh is not None)


def bounds(nodes: Iterable[Node], transforms: NDArray[np.float64]) -> NDArray[np.float64]:
    """Axis-aligned box ``(2, 3)`` (min, max) around the meshes of ``nodes``, metres.

    Args:
        nodes: Nodes with meshes.
        transforms: ``(N, 4, 4)`` transforms that place each node's mesh (e.g. world).

    Raises:
        ValueError: There is no vertex at all.
    """
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for node, T in zip(nodes, transforms, strict=True):
        if node.mesh is None or not len(node.mesh.positions):
            continue
        p = node.mesh.positions.astype(np.float64) @ T[:3, :3].T + T[:3, 3]
        lo = np.minimum(lo, p.min(axis=0))
        hi = np.maximum(hi, p.max(axis=0))
    if not np.all(np.isfinite(lo)):
        raise ValueError("no vertices to bound")
    return np.stack([lo, hi])
