"""The one place that imports pyopenxr, and the runtime errors that end a session.

pyopenxr's Linux platform module swaps PyOpenGL's platform for GLX when it is imported; the
import runs inside :func:`vrkit.gl.platform.keep_platform` so vrkit stays on EGL.
"""

from __future__ import annotations

from vrkit.gl.platform import keep_platform

try:
    with keep_platform():
        import xr
        import xr.exception
except ImportError as _exc:  # the backend registry reports this as "cannot be loaded: ..."
    raise ImportError(f"pyopenxr cannot be imported ({_exc}); pip install pyopenxr") from _exc

#: Errors that mean the runtime (or its connection) is gone: the session cannot continue.
LOST_ERRORS: tuple[type[BaseException], ...] = (
    xr.exception.InstanceLostError,
    xr.exception.SessionLostError,
    xr.exception.RuntimeFailureError,
    xr.exception.RuntimeUnavailableError,
)

__all__ = ["LOST_ERRORS", "xr"]
