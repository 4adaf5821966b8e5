"""Image sources for captures, and the capture folder (``captures.json``).

One interface over a live camera (``cv2.VideoCapture`` on a device index), a video file (PyAV,
:mod:`vrkit.vision.video`) and a folder of images: :meth:`FrameSource.grab` returns the average
of ``n`` frames (averaging reduces sensor noise by sqrt(n)). :func:`record_captures` shows each
pattern frame, grabs it and writes the capture folder in the documented format
(``docs/calibration.md``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.intrinsics import IMAGE_SUFFIXES
from vrkit.calibration.patterns import PatternFrame, PatternSet
from vrkit.core.documents import read_document
from vrkit.core.errors import BackendUnavailableError, DataError, InputError
from vrkit.core.jsonfile import short_repr
from vrkit.core.outputs import inside, safe_name, write_json
from vrkit.vision.imagefiles import write_image
from vrkit.vision.video import VideoReader

CAPTURES_FORMAT = "vrkit.captures"
CAPTURES_VERSION = 1


class FrameSource(ABC):
    """Something that yields camera frames (H, W, 3) uint8 RGB."""

    name: str = "source"

    @abstractmethod
    def read(self) -> NDArray[np.uint8]:
        """The next frame, (H, W, 3) uint8 RGB.

        Raises:
            DataError: The source has no more frames.
        """

    def grab(self, n: int = 1) -> NDArray[np.uint8]:
        """Average of the next ``n`` frames, (H, W, 3) uint8 RGB.

        Raises:
            InputError: ``n`` < 1, or the frames differ in size.
        """
        if n < 1:
            raise InputError(f"number of frames to average must be >= 1, got {n}")
        first = self.read()
        acc = first.astype(np.float64)
        for _ in range(n - 1):
            f = self.read()
            if f.shape != first.shape:
                raise DataError(f"{self.name}: frame size changed from {first.shape} to {f.shape}")
            acc += f
        return np.clip(np.rint(acc / n), 0, 255).astype(np.uint8)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or file (idempotent)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _to_rgb(frame: NDArray[Any]) -> NDArray[np.uint8]:
    import cv2

    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class _CvCapture(FrameSource):
    """A ``cv2.VideoCapture`` (a live device)."""

    def __init__(self, target: int | str, name: str) -> None:
        import cv2

        self.name = name
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            if isinstance(target, int):
                raise BackendUnavailableError(
                    f"cannot open camera {target}", "check the device index and that it is free"
                )
            raise InputError(f"cannot open video {target!r}", "check the file and its codec")

    def read(self) -> NDArray[np.uint8]:
        """The next frame."""
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise DataError(f"{self.name}: no more frames")
        return _to_rgb(frame)

    def close(self) -> None:
        """Release the capture."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class CameraSource(_CvCapture):
    """A live camera by device index; ``warmup`` frames are dropped after opening.

    Args:
        index: ``cv2.VideoCapture`` device index.
        size: Optional ``(width, height)`` to request.
        warmup: Frames to discard (auto-exposure settling).
    """

    def __init__(self, index: int, size: tuple[int, int] | None = None, warmup: int = 5) -> None:
        import cv2

        super().__init__(int(index), f"camera {index}")
        if size:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        for _ in range(warmup):
            self._cap.read()


class VideoSource(FrameSource):
    """Frames of a video file, in order (the one video reader, :mod:`vrkit.vision.video`)."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"video file {str(p)!r} does not exist")
        self.name = f"video {p.name}"
        self._reader: VideoReader | None = VideoReader(p, colour="rgb")
        self._frames = iter(self._reader)

    def read(self) -> NDArray[np.uint8]:
        """The next frame."""
        frame = next(self._frames, None)
        if frame is None:
            raise DataError(f"{self.name}: no more frames")
        return frame.image

    def close(self) -> None:
        """Close the file."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class FolderSource(FrameSource):
    """Image files of a folder in name order, one frame each."""

    def __init__(self, folder: str | Path) -> None:
        d = Path(folder)
        if not d.is_dir():
            raise InputError(f"image folder {str(d)!r} does not exist")
        self.name = f"folder {d.name}"
        self._files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise InputError(f"image folder {str(d)!r} holds no images")
        self._next = 0

    @property
    def count(self) -> int:
        """Number of images in the folder."""
        return len(self._files)

    def read(self) -> NDArray[np.uint8]:
        """The next image."""
        if self._next >= len(self._files):
            raise DataError(f"{self.name}: no more images after {len(self._files)}")
        p = self._files[self._next]
        self._next += 1
        return read_rgb(p)


def open_source(spec: str) -> FrameSource:
    """Open ``camera:N``, ``video:PATH`` or ``folder:PATH`` (a bare path: video or folder)."""
    kind, _, rest = spec.partition(":")
    if kind == "camera" and rest.isdigit():
        return CameraSource(int(rest))
    if kind == "video" and rest:
        return VideoSource(rest)
    if kind == "folder" and rest:
        return FolderSource(rest)
    p = Path(spec)
    if p.is_dir():
        return FolderSource(p)
    if p.is_file():
        return VideoSource(p)
    raise InputError(
        f"cannot open capture source {spec!r}", "use camera:0, video:FILE.mp4 or folder:DIR"
    )


def read_rgb(path: str | Path) -> NDArray[np.uint8]:
    """Read an image file as (H, W, 3) uint8 RGB (gray files are expanded)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"cannot read image {str(path)!r}")
    if img.dtype != np.uint8:
        img = np.clip(img / 257.0 if img.dtype == np.uint16 else img, 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    return _to_rgb(img)


def write_rgb(path: str | Path, image: NDArray[np.uint8], kept: str | None = None) -> None:
    """Write (H, W, 3) uint8 RGB to an image file (PNG keeps it lossless), atomically.

    Raises:
        OutputError: The image could not be encoded or written, naming it.
    """
    write_image(path, image[..., ::-1], kept=kept)


# --- the capture folder -------------------------------------------------------------------------


def write_captures_json(
    folder: str | Path, files: dict[str, str], meta: dict[str, Any] | None = None
) -> Path:
    """Write ``captures.json``: which image file shows which pattern frame."""
    d = Path(folder)
    data = {
        "format": CAPTURES_FORMAT,
        "version": CAPTURES_VERSION,
        "frames": dict(files),
        "meta": meta or {},
    }
    return write_json(d / "captures.json", data)


def capture_files(
    folder: str | Path, pattern: PatternSet, allow_outside: bool = False
) -> dict[str, Path | None]:
    """Image file of every pattern frame in a capture folder (None when it is missing).

    With ``captures.json`` its ``frames`` mapping is used; without it, a file whose stem is the
    frame name (any image suffix) is taken.

    ``allow_outside``: ``captures.json`` may name files outside the folder.

    Raises:
        InputError: The folder or its ``captures.json`` is unreadable, names a missing file,
            or (without ``allow_outside``) a file outside the folder.
    """
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"capture folder {str(d)!r} does not exist")
    index = d / "captures.json"
    out: dict[str, Path | None] = {f.name: None for f in pattern.frames}
    if index.is_file():
        data = read_document(index, "captures")
        if data.get("format") != CAPTURES_FORMAT or data.get("version") != CAPTURES_VERSION:
            raise InputError(
                f"{index} is not a vrkit captures file version {CAPTURES_VERSION} "
                f"(format {data.get('format')!r}, version {data.get('version')!r})"
            )
        for name, file in dict(data.get("frames", {})).items():
            if name not in out:
                raise InputError(
                    f"{index} names frame {name!r}, which the pattern does not have",
                    f"pattern frames: {sorted(out)}",
                )
            p = inside(d, file, f"{index}: capture of frame {short_repr(name)}", allow_outside)
            try:
                found = p.is_file()
            except OSError:  # a name too long for the file system
                found = False
            if not found:
                raise InputError(
                    f"{index}: capture {short_repr(file)} of frame {short_repr(name)} does "
                    "not exist"
                )
            out[name] = p
        return out
    for p in sorted(d.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem in out and out[p.stem] is None:
            out[p.stem] = p
    return out


def record_captures(
    source: FrameSource,
    pattern: PatternSet,
    out_dir: str | Path,
    *,
    n_average: int = 8,
    show: Callable[[PatternFrame], None] | None = None,
) -> Path:
    """Show every pattern frame, grab it from ``source`` and write the capture folder.

    Args:
        source: Where the frames come from.
        pattern: The pattern set shown.
        out_dir: Capture folder to write (created).
        n_average: Frames averaged per capture.
        show: Called with each frame before grabbing it (puts it on the panel and waits until
            it is up); None when the frames are already in the source in pattern order.

    Returns:
        Path of the written ``captures.json``.
    """
    from vrkit.core.progress import progress_bar

    d = Path(out_dir)
    files = {}
    for frame in progress_bar(pattern.frames, desc="capturing", unit="frame"):
        if show is not None:
            show(frame)
        image = source.grab(n_average)
        name = f"{safe_name(frame.name, 'pattern frame name')}.png"
        write_rgb(d / name, image, kept=f"{len(files)} captures were written before it")
        files[frame.name] = name
    return write_captures_json(d, files, {"source": source.name, "n_average": n_average})
