"""The OpenXR backend: the only package that imports pyopenxr (``xr``).

:class:`OpenXRBackend` is imported lazily so that ``vrkit.backends.openxr.lifecycle`` (pure logic)
and the runtime checks stay importable without touching pyopenxr or OpenGL.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OpenXRBackend"]


def __getattr__(name: str) -> Any:
    if name == "OpenXRBackend":
        from vrkit.backends.openxr.backend import OpenXRBackend

        return OpenXRBackend
    raise AttributeError(name)
