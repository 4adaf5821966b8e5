"""A small scene API: meshes, materials, nodes. Pure numpy; GPU upload happens in the renderer.

A scene file (``examples/room.py``) is a Python module with ``build_scene() -> Scene``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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
        colors: (N, 4) float32 per-vertex RGBA in [0, 1] (white when absent).
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
        self.positions = as_array(self.positions, (None, 3), "Mesh.positions").astype(np.float32)
        n = len(self.positions)
        self.normals = as_array(self.normals, (n, 3), "Mesh.normals").astype(np.float32)
        idx = np.asarray(self.indices)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n)):
            raise ValueError(f"Mesh.indices must be 1-D in [0, {n}), got shape {idx.shape}")
        per = 3 if self.primitive == "triangles" else 2
        if idx.size % per:
            raise ValueError(f"{self.primitive} need a multiple of {per} indices, got {idx.size}")
        self.indices = idx.astype(np.uint32)
        if self.colors is None:
            self.colors = np.ones((n, 4), np.float32)
        self.colors = as_array(self.colors, (n, 4), "Mesh.colors").astype(np.float32)
        if self.uvs is not None:
            self.uvs = as_array(self.uvs, (n, 2), "Mesh.uvs").astype(np.float32)

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


@dataclass(eq=False)
class Material:
    """How a mesh is shaded.

    Attributes:
        color: RGBA in [0, 1].
        lit: Lambert lighting from the scene's light; unlit draws the colour as is.
        texture: Optional (H, W, 3|4) uint8 image, top row first, multiplied with the colour.
    """

    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    lit: bool = True
    texture: NDArray[np.uint8] | None = None


@dataclass(eq=False)
class Node:
    """A mesh placed in the world.

    Attributes:
        mesh: The geometry.
        transform: (4, 4) ``T_world_node``.
        material: Shading.
        name: For lookups and messages.
        visible: Skipped when False.
    """

    mesh: Mesh
    transform: NDArray[np.float64] = field(default_factory=lambda: np.eye(4))
    material: Material = field(default_factory=Material)
    name: str = ""
    visible: bool = True

    def __post_init__(self) -> None:
        self.transform = as_array(self.transform, (4, 4), f"Node {self.name!r} transform")


@dataclass(eq=False)
class Scene:
    """Nodes, background and light; ``update`` animates it per frame.

    Attributes:
        nodes: Drawn in order.
        clear_color: Background RGBA.
        light_dir: (3,) direction towards the light in world space.
        ambient: Ambient fraction for lit materials, 0 to 1.
        on_update: Optional ``f(scene, t_s)`` called before each frame with the frame time.
        name: Shown in logs and run.json.
    """

    nodes: list[Node] = field(default_factory=list)
    clear_color: tuple[float, float, float, float] = (0.05, 0.05, 0.08, 1.0)
    light_dir: NDArray[np.float64] = field(default_factory=lambda: np.array([0.3, 1.0, 0.5]))
    ambient: float = 0.3
    on_update: Callable[[Scene, float], None] | None = None
    name: str = "scene"

    def add(
        self,
        mesh: Mesh,
        transform: ArrayLike | None = None,
        material: Material | None = None,
        name: str = "",
    ) -> Node:
        """Append a node and return it."""
        node = Node(
            mesh,
            np.eye(4) if transform is None else np.asarray(transform, dtype=np.float64),
            material or Material(),
            name,
        )
        self.nodes.append(node)
        return node

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

    @property
    def triangle_count(self) -> int:
        """Triangles over all visible nodes."""
        return sum(n.mesh.triangle_count for n in self.nodes if n.visible)
