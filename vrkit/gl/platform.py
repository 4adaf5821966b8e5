"""Keep PyOpenGL on the EGL platform across imports that try to change it.

pyopenxr's ``xr.platform.linux`` replaces ``OpenGL.platform.PLATFORM`` with a GLX platform when
it is imported. GL entry points created after that would resolve through GLX, which breaks EGL
(headless) contexts. The OpenXR backend imports ``xr`` inside :func:`keep_platform`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import OpenGL.platform


@contextlib.contextmanager
def keep_platform() -> Iterator[None]:
    """Restore PyOpenGL's platform object after the ``with`` block, whatever it did."""
    saved = OpenGL.platform.PLATFORM
    try:
        yield
    finally:
        OpenGL.platform.PLATFORM = saved


def platform_name() -> str:
    """Class name of PyOpenGL's current platform, e.g. ``"EGLPlatform"``."""
    return type(OpenGL.platform.PLATFORM).__name__
