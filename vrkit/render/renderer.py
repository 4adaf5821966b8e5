"""The stereo renderer: draws a scene once per view into the backend's render targets."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from vrkit.core.types import EyeView, FrameInfo
from vrkit.gl.context import GLContext
from vrkit.gl.resources import LINES, TRIANGLES, Program, Texture, VertexArray
from vrkit.math.projection import projection_from_fov
from vrkit.math.transforms import invert_transform
from vrkit.render.scene import Material, Mesh, Node, Scene
from vrkit.render.targets import RenderTarget

_STRIDE = 12 * 4  # position 3, normal 3, color 4, uv 2 (float32)
#: Default clip planes in metres (a backend that submits depth needs the same values).
NEAR_M = 0.05
FAR_M = 100.0
_IDENTITY = np.eye(4, dtype=np.float32)


class _GpuMesh:
    def __init__(self, ctx: GLContext, program: Program, mesh: Mesh) -> None:
        self.vbo = ctx.buffer(mesh.interleaved())
        self.ibo = ctx.index_buffer(mesh.indices)
        mode = TRIANGLES if mesh.primitive == "triangles" else LINES
        self.vao = ctx.vertex_array(
            program,
            {
                "a_position": (self.vbo, 3, _STRIDE, 0),
                "a_normal": (self.vbo, 3, _STRIDE, 12),
                "a_color": (self.vbo, 4, _STRIDE, 24),
                "a_uv": (self.vbo, 2, _STRIDE, 40),
            },
            self.ibo,
            len(mesh.indices),
            mode,
        )

    def release(self) -> None:
        for obj in (self.vao, self.ibo, self.vbo):
            obj.release()


class StereoRenderer:
    """Draws scenes into per-view render targets with each view's pose and asymmetric frustum.

    GPU copies of meshes and textures are made on first use and cached by object identity, so
    a scene's geometry is uploaded once; moving nodes only changes their transforms.

    A target may carry a ``hidden_area`` :class:`Mesh` (the pixels the lens hides, e.g. an
    OpenXR visibility mask): positions (N, 3) in the view's frame at z = -1 (x, y are tangents
    of the view angles). It is drawn after the clear into the depth buffer only, at the near
    plane (depth 0), so every scene fragment there fails the depth test and keeps the clear
    colour.

    Args:
        ctx: The GL context that owns everything the renderer creates.
        near: Near clip plane in metres.
        far: Far clip plane in metres.
    """

    def __init__(self, ctx: GLContext, near: float = NEAR_M, far: float = FAR_M) -> None:
        self.ctx = ctx
        self.near, self.far = near, far
        self.program = ctx.program("scene.vert", "scene.frag")
        p = self.program
        self._loc = {name: p.location(name) for name in (
            "u_model", "u_view_proj", "u_normal_matrix", "u_color", "u_lit", "u_textured",
            "u_texture", "u_light_dir", "u_ambient",
        )}  # fmt: skip
        self._meshes: dict[int, tuple[Mesh, _GpuMesh]] = {}
        self._textures: dict[int, tuple[Material, Texture]] = {}
        self._hidden: dict[int, tuple[Mesh, _GpuMesh]] = {}  # per view: the current mask only

    def _gpu_mesh(self, mesh: Mesh) -> VertexArray:
        entry = self._meshes.get(id(mesh))
        if entry is None or entry[0] is not mesh:
            entry = (mesh, _GpuMesh(self.ctx, self.program, mesh))
            self._meshes[id(mesh)] = entry
        return entry[1].vao

    def _hidden_area_vao(self, eye: int, mesh: Mesh) -> VertexArray:
        """The GPU copy of a view's hidden-area mesh; a new mesh replaces (releases) the old."""
        entry = self._hidden.get(eye)
        if entry is None or entry[0] is not mesh:
            if entry is not None:
                entry[1].release()
            entry = (mesh, _GpuMesh(self.ctx, self.program, mesh))
            self._hidden[eye] = entry
        return entry[1].vao

    def _texture(self, material: Material) -> Texture:
        entry = self._textures.get(id(material))
        if entry is None or entry[0] is not material:
            img = np.asarray(material.texture)
            tex = self.ctx.texture(img.shape[1], img.shape[0], data=img)
            tex.generate_mipmaps()
            entry = (material, tex)
            self._textures[id(material)] = entry
        return entry[1]

    def render(self, scene: Scene, frame: FrameInfo, targets: list[RenderTarget]) -> None:
        """Draw ``scene`` for every view of ``frame`` into the matching target.

        Args:
            scene: What to draw.
            frame: The frame's views (pose ``T_space_eye`` and Fov per view).
            targets: One render target per view, in view order.
        """
        if len(targets) != len(frame.views):
            raise ValueError(f"{len(frame.views)} views but {len(targets)} render targets")
        draws = self._node_uniforms(scene)
        for view, target in zip(frame.views, targets, strict=True):
            self._draw_view(scene, view, target, draws)

    def render_view(self, scene: Scene, view: EyeView, target: RenderTarget) -> None:
        """Draw ``scene`` as seen from one view into one target."""
        self._draw_view(scene, view, target, self._node_uniforms(scene))

    @staticmethod
    def _node_uniforms(scene: Scene) -> list[tuple[Node, NDArray[np.float32], NDArray[np.float32]]]:
        """Per visible node: model matrix (4, 4) and normal matrix (3, 3), float32, once a frame.

        The normal matrices are one batched inverse over all nodes, shared by every view.
        """
        nodes = [n for n in scene.nodes if n.visible]
        if not nodes:
            return []
        models = np.stack([n.transform for n in nodes]).astype(np.float64)
        normals = np.linalg.inv(models[:, :3, :3]).transpose(0, 2, 1).astype(np.float32)
        return list(zip(nodes, models.astype(np.float32), normals, strict=True))

    def _draw_view(
        self,
        scene: Scene,
        view: EyeView,
        target: RenderTarget,
        draws: list[tuple[Node, NDArray[np.float32], NDArray[np.float32]]],
    ) -> None:
        proj = projection_from_fov(view.fov, self.near, self.far)
        view_proj = proj @ invert_transform(view.pose.matrix())
        target.bind(self.ctx)
        self.ctx.clear(scene.clear_color)
        self.ctx.set_state(depth_test=True)
        p = self.program
        p.use()
        hidden = target.hidden_area
        if hidden is not None:
            # x, y (and w = 1) as the view's projection makes them; z_ndc = -1: depth 0.
            mask_proj = proj.copy()
            mask_proj[2] = (0.0, 0.0, 0.0, -1.0)
            p.set_mat4("u_view_proj", mask_proj)
            p.set_mat4("u_model", _IDENTITY)
            self.ctx.set_color_write(False)
            self._hidden_area_vao(view.eye, hidden).draw()
            self.ctx.set_color_write(True)
        p.set_mat4("u_view_proj", view_proj)
        light = np.asarray(scene.light_dir, dtype=np.float64)
        p.set_vec("u_light_dir", *(light / np.linalg.norm(light)))
        p.set_vec("u_ambient", scene.ambient)
        p.set_int("u_texture", 0)
        for node, model, normal in draws:
            p.set_mat4("u_model", model)
            p.set_mat3("u_normal_matrix", normal)
            mat = node.material
            p.set_vec("u_color", *mat.color)
            p.set_int("u_lit", mat.lit)
            p.set_int("u_textured", mat.texture is not None)
            if mat.texture is not None:
                self._texture(mat).bind(0)
            self._gpu_mesh(node.mesh).draw()

    def forget(self, mesh: Mesh) -> None:
        """Release the GPU copy of a mesh that will not be drawn again."""
        entry = self._meshes.pop(id(mesh), None)
        if entry is not None:
            entry[1].release()

    def release(self) -> None:
        """Release GPU copies and the program; safe to call twice."""
        for _mesh, gpu in (*self._meshes.values(), *self._hidden.values()):
            gpu.release()
        self._meshes.clear()
        self._hidden.clear()
        for _mat, tex in self._textures.values():
            tex.release()
        self._textures.clear()
        self.program.release()
