"""Frame sets and the frame-source interface shared by live sources, recordings and replays.

A source yields :class:`FrameSet` objects: one image per camera (``None`` when that camera has
no frame: unreadable file, camera stopped, timeout), a frame time in integer ns, and a reason per
missing image. The sources themselves are in :mod:`vrkit.tracking.sources` and
:mod:`vrkit.tracking.record`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vrkit.core.jsonfile import short_repr

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm")


@dataclass
class FrameSet:
    """The images of all cameras for one tracking frame.

    Attributes:
        index: Frame counter from 0.
        t_ns: Frame time (middle of exposure when known), ns.
        images: Per camera an (H, W) uint8 grey image, or None when missing.
        errors: Per camera the reason an image is missing, or None.
        camera_t_ns: Per camera its own capture time in ns (None when missing).
        suspect: Per camera why the source distrusts this camera's image (or its absence) in
            this frame, or None: a decode gap in its video, a video that ended before the
            others (frame-count drift). The tracker leaves such images out and counts the
            frame degraded.
    """

    index: int
    t_ns: int
    images: list[NDArray[np.uint8] | None]
    errors: list[str | None] = field(default_factory=list)
    camera_t_ns: list[int | None] = field(default_factory=list)
    suspect: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.images)
        if len(self.errors) != n:
            self.errors = [None if im is not None else "no image" for im in self.images]
        if len(self.camera_t_ns) != n:
            self.camera_t_ns = [self.t_ns if im is not None else None for im in self.images]
        if len(self.suspect) != n:
            self.suspect = [None] * n


class FrameSource(ABC):
    """Anything that yields frame sets until it runs out."""

    #: Camera names in rig order.
    camera_names: list[str]

    @abstractmethod
    def read(self) -> FrameSet | None:
        """The next frame set, or None at the end of the source."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and devices; safe to call twice."""

    def __iter__(self) -> Iterator[FrameSet]:
        while True:
            fs = self.read()
            if fs is None:
                return
            yield fs

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_gray(image: NDArray | None) -> NDArray[np.uint8] | None:
    """Grey uint8 (H, W) from a grey or BGR(A) image; None stays None."""
    if image is None:
        return None
    import cv2

    if image.ndim == 3:
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(image, code)
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    return image


def read_image(path: Path) -> tuple[NDArray[np.uint8] | None, str | None]:
    """Read one image as grey; returns (image, None) or (None, reason)."""
    import cv2

    try:
        if not path.is_file():
            return None, f"{short_repr(str(path))} does not exist"
    except OSError as exc:  # a name too long for the file system
        return None, f"{short_repr(str(path))} cannot be read: {exc.strerror}"
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None, f"{path} is not a readable image"
    return to_gray(img), None
