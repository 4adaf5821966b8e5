"""The only package that imports OpenGL (and glfw, in :mod:`vrkit.gl.window`).

Contexts create and own every GL object; see :mod:`vrkit.gl.context`.
"""
