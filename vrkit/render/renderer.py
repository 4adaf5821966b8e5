"""The stereo renderer: draws a scene once per view into the backend's render targets."""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray

from vrkit.core.types import EyeView, FrameInfo
from vrkit.gl.context import GLContext
from vrkit.gl.resources import LINES, SRGB8_ALPHA8, TRIANGLES, Program, Texture, VertexArray
from vrkit.math.projection import projection_from_fov
from vrkit.math.transforms import invert_transform
from vrkit.render.scene import Material, Mesh, Node, Sampler, Scene
from vrkit.render.targets import RenderTarget

_STRIDE = 12 * 4  # position 3, normal 3, color 4, uv 2 (float32)
#: Default clip planes in metres (a backend that submits depth needs the same values).
NEAR_M = 0.05
FAR_M = 100.0
#: GPU mesh copies the renderer keeps before it releases the least recently drawn.
MESH_CACHE_LIMIT = 4096
#: GPU memory the texture cache may hold before it releases textures a frame did not use.
TEXTURE_BUDGET_BYTES = 512 * 2**20
_IDENTITY = np.eye(4, dtype=np.float32)
_ALPHA_MODES = {"opaque": 0, "mask": 1, "blend": 2}

#: One draw: node, model matrix (4, 4), normal matrix (3, 3), front faces counter-clockwise.
Draw = tuple[Node, NDArray[np.float32], NDArray[np.float32], bool]


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

    GPU copies of meshes are made on first use and cached by object identity, so a scene's
    geometry is uploaded once; moving nodes only changes their transforms. The cache holds
    meshes weakly: once the scene no longer holds a mesh (it was replaced or removed and freed),
    its GPU copy is released at the end of the next frame; and it is bounded: beyond
    ``mesh_cache_limit`` copies, those not drawn for the longest time are released (and
    uploaded again if drawn again). Textures are cached
    by image and sampler (``GL_SRGB8_ALPHA8``: decoded to linear when sampled); the cache is
    bounded: once it holds more than ``texture_budget_bytes`` it releases, least recently used
    first, the textures the last frame did not draw with.

    Per view: opaque and masked nodes first, then blended nodes back to front (by the distance
    of their origin along the view axis) with depth writes off. Single-sided materials cull
    back faces (front faces flip under a mirroring transform). A multisampled target is resolved
    when its view is done, before anything samples it.

    A target may carry a ``hidden_area`` :class:`Mesh` (the pixels the lens hides, e.g. an
    OpenXR visibility mask): positions (N, 3) in the view's frame at z = -1 (x, y are tangents
    of the view angles). It is drawn after the clear into the depth buffer only, at the near
    plane (depth 0), so every scene fragment there fails the depth test and keeps the clear
    colour.

    Args:
        ctx: The GL context that owns everything the renderer creates.
        near: Near clip plane in metres.
        far: Far clip plane in metres.
        texture_budget_bytes: Texture cache size before unused textures are released.
        mesh_cache_limit: GPU mesh copies kept before the least recently drawn are released.
    """

    def __init__(
        self,
        ctx: GLContext,
        near: float = NEAR_M,
        far: float = FAR_M,
        texture_budget_bytes: int = TEXTURE_BUDGET_BYTES,
        mesh_cache_limit: int = MESH_CACHE_LIMIT,
    ) -> None:
        self.ctx = ctx
        self.near, self.far = near, far
        self.program = ctx.program("scene.vert", "scene.frag")
        # id(mesh) -> (weak reference to the mesh, GPU copy), least recently drawn first.
        self._meshes: OrderedDict[int, tuple[weakref.ref[Mesh], _GpuMesh]] = OrderedDict()
        # (id, weak reference) of meshes freed since the last frame end: released there, with
        # the context current (a weakref callback may run anywhere).
        self._freed_meshes: list[tuple[int, weakref.ref[Mesh]]] = []
        self.mesh_cache_limit = max(1, int(mesh_cache_limit))
        # (id(image), sampler) -> (image, texture, frame last drawn with), least recent first.
        self._textures: OrderedDict[tuple[int, Sampler], tuple[np.ndarray, Texture, int]] = (
            OrderedDict()
        )
        self._texture_bytes = 0
        self.texture_budget_bytes = int(texture_budget_bytes)
        self._frame = 0
        self._hidden: dict[int, tuple[Mesh, _GpuMesh]] = {}  # per view: the current mask only

    def _gpu_mesh(self, mesh: Mesh) -> VertexArray:
        key = id(mesh)
        entry = self._meshes.get(key)
        if entry is None or entry[0]() is not mesh:
            if entry is not None:  # a new mesh at a recycled id: the old one was freed
                self._meshes.pop(key)[1].release()
            freed = self._freed_meshes
            ref = weakref.ref(mesh, lambda r, k=key, freed=freed: freed.append((k, r)))
            entry = (ref, _GpuMesh(self.ctx, self.program, mesh))
            self._meshes[key] = entry
        self._meshes.move_to_end(key)
        return entry[1].vao

    def _trim_meshes(self) -> None:
        """Release the GPU copies of freed meshes, then the least recently drawn over the limit."""
        while self._freed_meshes:
            key, ref = self._freed_meshes.pop()
            entry = self._meshes.get(key)
            if entry is not None and entry[0] is ref:
                self._meshes.pop(key)[1].release()
        while len(self._meshes) > self.mesh_cache_limit:
            self._meshes.popitem(last=False)[1][1].release()

    @property
    def cached_meshes(self) -> int:
        """GPU mesh copies the renderer holds now."""
        return len(self._meshes)

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
        img = material.texture
        assert img is not None
        key = (id(img), material.sampler)
        entry = self._textures.get(key)
        if entry is None or entry[0] is not img:
            if entry is not None:  # a new array at a recycled id (the old one was freed)
                self._drop_texture(key)
            arr = np.asarray(img)
            tex = self.ctx.texture(arr.shape[1], arr.shape[0], SRGB8_ALPHA8, data=arr)
            s = material.sampler
            tex.set_sampling(s.wrap_s, s.wrap_t, s.mag_filter, s.min_filter)
            self._texture_bytes += tex.nbytes * (4 if s.mipmaps else 3) // 3
            entry = (img, tex, self._frame)
        self._textures[key] = (entry[0], entry[1], self._frame)
        self._textures.move_to_end(key)
        return entry[1]

    def _drop_texture(self, key: tuple[int, Sampler]) -> None:
        _img, tex, _last = self._textures.pop(key)
        self._texture_bytes -= tex.nbytes * (4 if key[1].mipmaps else 3) // 3
        tex.release()

    def _trim_textures(self) -> None:
        """Release least-recently-used textures the last frame did not use, down to the budget."""
        while self._texture_bytes > self.texture_budget_bytes and self._textures:
            key, (_img, _tex, last) = next(iter(self._textures.items()))
            if last >= self._frame:
                break  # everything left was drawn this frame
            self._drop_texture(key)

    @property
    def texture_count(self) -> int:
        """Textures on the GPU now."""
        return len(self._textures)

    def render(self, scene: Scene, frame: FrameInfo, targets: list[RenderTarget]) -> None:
        """Draw ``scene`` for every view of ``frame`` into the matching target.

        Args:
            scene: What to draw.
            frame: The frame's views (pose ``T_space_eye`` and Fov per view).
            targets: One render target per view, in view order.
        """
        if len(targets) != len(frame.views):
            raise ValueError(f"{len(frame.views)} views but {len(targets)} render targets")
        draws = self._draws(scene)
        for view, target in zip(frame.views, targets, strict=True):
            self._draw_view(scene, view, target, draws)
        self._end_frame()

    def render_view(self, scene: Scene, view: EyeView, target: RenderTarget) -> None:
        """Draw ``scene`` as seen from one view into one target."""
        self._draw_view(scene, view, target, self._draws(scene))
        self._end_frame()

    def _end_frame(self) -> None:
        self._trim_meshes()
        self._trim_textures()
        self._frame += 1

    @staticmethod
    def _draws(scene: Scene) -> list[Draw]:
        """Per shown mesh node: model matrix, normal matrix and winding, float32, once a frame.

        World transforms come from the node hierarchy in one batched product per level; the
        normal matrices are one batched inverse over all nodes, shared by every view.
        """
        nodes, models = scene.drawables()
        if not nodes:
            return []
        linear = models[:, :3, :3]
        normals = np.linalg.inv(linear).transpose(0, 2, 1).astype(np.float32)
        ccw = np.linalg.det(linear) > 0
        return list(zip(nodes, models.astype(np.float32), normals, ccw.tolist(), strict=True))

    def _draw_view(
        self,
        scene: Scene,
        view: EyeView,
        target: RenderTarget,
        draws: list[Draw],
    ) -> None:
        proj = projection_from_fov(view.fov, self.near, self.far)
        T_eye_world = invert_transform(view.pose.matrix())
        view_proj = proj @ T_eye_world
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
        opaque = [d for d in draws if d[0].material.alpha_mode != "blend"]
        blended = [d for d in draws if d[0].material.alpha_mode == "blend"]
        self._draw_nodes(opaque)
        if blended:
            # Back to front: farthest origin first (most negative z in the eye frame).
            origins = np.stack([d[1][:3, 3] for d in blended]).astype(np.float64)
            z_eye = origins @ T_eye_world[2, :3] + T_eye_world[2, 3]
            self.ctx.set_blending(True)
            self._draw_nodes([blended[i] for i in np.argsort(z_eye, kind="stable")])
            self.ctx.set_blending(False)
        self.ctx.set_culling(False)
        target.finish()

    def _draw_nodes(self, draws: list[Draw]) -> None:
        p = self.program
        cull_state: tuple[bool, bool] | None = None
        for node, model, normal, ccw in draws:
            mat = node.material
            cull = (not mat.double_sided, ccw)
            if cull != cull_state:
                self.ctx.set_culling(*cull)
                cull_state = cull
            p.set_mat4("u_model", model)
            p.set_mat3("u_normal_matrix", normal)
            p.set_vec("u_color", *mat.color)
            p.set_int("u_lit", mat.lit)
            p.set_int("u_alpha_mode", _ALPHA_MODES[mat.alpha_mode])
            if mat.alpha_mode == "mask":
                p.set_vec("u_alpha_cutoff", mat.alpha_cutoff)
            p.set_int("u_textured", mat.texture is not None)
            if mat.texture is not None:
                self._texture(mat).bind(0)
            assert node.mesh is not None
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
        self._freed_meshes.clear()
        self._hidden.clear()
        for key in list(self._textures):
            self._drop_texture(key)
        self.program.release()
