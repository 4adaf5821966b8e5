"""Image files: encode in memory, write through :mod:`vrkit.core.outputs` (never ``cv2.imwrite``).

``cv2.imwrite`` answers True for an empty file on a full disk and prints libpng errors instead
of raising; encoding with ``cv2.imencode`` and writing the bytes ourselves makes a failed write
an :class:`~vrkit.core.outputs.OutputError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vrkit.core.outputs import OutputError, write_bytes


def encode_image(path: str | Path, bgr: Any, params: list[int] | None = None) -> bytes:
    """Encode an image in memory in the format ``path``'s suffix names.

    Args:
        path: Only its suffix is used (``.png``, ``.jpg``...).
        bgr: (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA uint8/uint16 image.
        params: ``cv2.imencode`` parameters.

    Raises:
        OutputError: OpenCV cannot encode it in that format.
    """
    suffix = os.path.splitext(path)[1].lower() or ".png"
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(bgr), params or [])
    if not ok:
        raise OutputError(f"writing {path} failed: OpenCV cannot encode a {suffix} image")
    return buf.tobytes()


def write_image(
    path: str | Path, bgr: Any, params: list[int] | None = None, kept: str | None = None
) -> None:
    """Encode ``bgr`` (OpenCV channel order) and write it atomically; see :func:`write_bytes`."""
    write_bytes(path, encode_image(path, bgr, params), kept)
