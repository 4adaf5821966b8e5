"""The only package that imports OpenGL (and glfw, in :mod:`vrkit.gl.window`).

Modules, in dependency order (each imports only those before it):

* :mod:`~vrkit.gl.shaders`: shader source loading (defines, ``#line``, file names in errors).
* :mod:`~vrkit.gl.platform`: process-wide state (PyOpenGL's platform, glvnd's current context).
* :mod:`~vrkit.gl.resources`: buffers, textures, framebuffers, programs, vertex arrays.
* :mod:`~vrkit.gl.context`: :class:`~vrkit.gl.context.GLContext`, which creates and owns them.
* :mod:`~vrkit.gl.egl`: headless contexts (:func:`~vrkit.gl.egl.create_headless_context`).
* :mod:`~vrkit.gl.window`: glfw windows (:func:`~vrkit.gl.window.create_window_context`).
"""
