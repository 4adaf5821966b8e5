"""The one place that imports pyopenxr, and the translation of its errors.

pyopenxr's Linux platform module replaces PyOpenGL's platform with GLX when it is imported
(``OpenGL.platform.PLATFORM = GLXPlatform()``), which would send later PyOpenGL function lookups
through GLX while vrkit renders on EGL. The import here puts vrkit's platform back.
"""

from __future__ import annotations

import OpenGL.platform as _gl_platform

_saved_platform = _gl_platform.PLATFORM
import xr  # noqa: E402
import xr.exception  # noqa: E402

_gl_platform.PLATFORM = _saved_platform

#: Errors that mean the runtime (or its connection) is gone: the session cannot continue.
LOST_ERRORS: tuple[type[BaseException], ...] = (
    xr.exception.InstanceLostError,
    xr.exception.SessionLostError,
    xr.exception.RuntimeFailureError,
    xr.exception.RuntimeUnavailableError,
)

__all__ = ["LOST_ERRORS", "xr"]
