"""vrkit: a toolkit for people who build VR headsets.

Importing vrkit pins PyOpenGL to its EGL platform before anything else can import OpenGL.
PyOpenGL picks its platform once, at first import; pyopenxr imports OpenGL and would otherwise
leave it on GLX. EGL's dispatch (through libglvnd) also drives glfw/GLX windows, so one platform
serves the headless, windowed and OpenXR paths alike.
"""

import os as _os

_os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

__version__ = "0.1.0"
