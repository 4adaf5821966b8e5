"""The baseline the GL benchmarks compare against: a scene drawn with PyOpenGL directly.

What a careful author writes without vrkit: compile the scene shaders, upload each node's mesh
once into its own vertex array, then per view set the uniforms and draw every node. Shared by
``bench_render`` (offscreen eyes) and ``bench_openxr`` (runtime swapchains), so both compare
vrkit against the same hand-written draw code, on the same scene (:func:`bench_scene`).
"""

from __future__ import annotations

import ctypes

import numpy as np
from OpenGL import GL

from vrkit.gl.shaders import load_source
from vrkit.math.transforms import transform
from vrkit.render.meshes import plane, sphere
from vrkit.render.scene import Material, Scene

_UNIFORMS = (
    "u_model", "u_view_proj", "u_normal_matrix", "u_color", "u_lit", "u_textured",
    "u_light_dir", "u_ambient",
)  # fmt: skip
LIGHT = np.array([0.3, 1.0, 0.5]) / np.linalg.norm([0.3, 1.0, 0.5])


def bench_scene(name: str = "bench") -> Scene:
    """The GL benchmarks' scene: a 10 m floor and ten spheres 2.5 m ahead, about 10k triangles."""
    scene = Scene(name=name)
    scene.add(plane(10, 10), None, Material((0.4, 0.4, 0.4, 1)))
    for i in range(10):
        x = (i % 5 - 2) * 0.6
        y = 1.2 + (i // 5) * 0.6
        scene.add(
            sphere(0.25, 32, 16),
            transform(None, [x, y, -2.5]),
            Material((0.2 + i * 0.07, 0.5, 0.8, 1)),
        )
    return scene


def compile_program(vert: str, frag: str, defines: dict | None = None) -> int:
    """Link a program from two files in ``shaders/`` (no error reporting: a baseline)."""
    prog = GL.glCreateProgram()
    for kind, name in ((GL.GL_VERTEX_SHADER, vert), (GL.GL_FRAGMENT_SHADER, frag)):
        s = GL.glCreateShader(kind)
        GL.glShaderSource(s, load_source(name, defines)[0])
        GL.glCompileShader(s)
        GL.glAttachShader(prog, s)
    GL.glLinkProgram(prog)
    return prog


class RawSceneDraws:
    """The scene's nodes uploaded once; ``draw(view_proj)`` draws them all into the bound target.

    Args:
        scene: The scene; every node is drawn lit and untextured with its material colour.
    """

    def __init__(self, scene: Scene) -> None:
        self.prog = compile_program("scene.vert", "scene.frag")
        self.u = {n: GL.glGetUniformLocation(self.prog, n) for n in _UNIFORMS}
        self.draws = []
        for node in scene.nodes:
            vao = GL.glGenVertexArrays(1)
            GL.glBindVertexArray(vao)
            vbo, ibo = GL.glGenBuffers(2)
            data = node.mesh.interleaved()
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, GL.GL_STATIC_DRAW)
            for loc, n, off in ((0, 3, 0), (1, 3, 12), (2, 4, 24), (3, 2, 40)):
                GL.glEnableVertexAttribArray(loc)
                GL.glVertexAttribPointer(loc, n, GL.GL_FLOAT, GL.GL_FALSE, 48, ctypes.c_void_p(off))
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, ibo)
            idx = node.mesh.indices
            GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, idx.nbytes, idx, GL.GL_STATIC_DRAW)
            GL.glBindVertexArray(0)
            m = node.transform.astype(np.float32)
            nm = np.linalg.inv(node.transform[:3, :3]).T.astype(np.float32)
            self.draws.append((vao, len(idx), m, nm, node.material.color))

    def draw(self, view_proj: np.ndarray) -> None:
        """Draw every node with one (4, 4) row-major view-projection matrix."""
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glUseProgram(self.prog)
        GL.glUniformMatrix4fv(self.u["u_view_proj"], 1, GL.GL_TRUE, view_proj.astype(np.float32))
        GL.glUniform3f(self.u["u_light_dir"], *LIGHT)
        GL.glUniform1f(self.u["u_ambient"], 0.3)
        GL.glUniform1i(self.u["u_textured"], 0)
        GL.glUniform1i(self.u["u_lit"], 1)
        for vao, count, m, nm, color in self.draws:
            GL.glUniformMatrix4fv(self.u["u_model"], 1, GL.GL_TRUE, m)
            GL.glUniformMatrix3fv(self.u["u_normal_matrix"], 1, GL.GL_TRUE, nm)
            GL.glUniform4f(self.u["u_color"], *color)
            GL.glBindVertexArray(vao)
            GL.glDrawElements(GL.GL_TRIANGLES, count, GL.GL_UNSIGNED_INT, None)
