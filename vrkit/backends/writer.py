"""Writes frames to disk on a background thread: PNG per image, optionally an MP4 of the panel.

Encoding runs off the render thread (OpenCV and ffmpeg release the GIL), through a bounded
queue so memory stays flat. A failure on the writer thread is raised on the next call from the
render thread, so nothing is lost silently. Each PNG is encoded in memory and written through
:mod:`vrkit.core.outputs` (temporary name, fsync, check, rename): a full disk stops the run with
the failing file's name, and no empty or truncated PNG is left under a frame's name.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import VrkitError
from vrkit.core.outputs import OutputError, sync_folder, write_bytes
from vrkit.vision.imagefiles import encode_image

log = logging.getLogger(__name__)

_STOP = object()


class FrameWriter:
    """Background PNG/MP4 writer.

    Args:
        out_dir: Existing, writable folder.
        video_fps: Write ``panel.mp4`` at this frame rate, or None for no video
            (:class:`vrkit.vision.video.VideoWriter`: renamed into place when complete).
        max_pending: Frames queued before ``submit`` blocks.
        png_compression: zlib level 0-9 (1 is fast and still lossless).
    """

    def __init__(
        self,
        out_dir: Path,
        video_fps: float | None = None,
        max_pending: int = 4,
        png_compression: int = 1,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.video_path = self.out_dir / "panel.mp4" if video_fps else None
        self._video_fps = video_fps
        self._video: Any = None
        self._png_params = [16, int(png_compression)]  # cv2.IMWRITE_PNG_COMPRESSION
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._reported = False
        #: Images written so far, and whole submissions (frames) whose images are all on disk.
        self.written = 0
        self.frames_done = 0
        self._thread = threading.Thread(target=self._work, name="vrkit-frame-writer", daemon=True)
        self._thread.start()

    def submit(
        self, images: dict[str, NDArray[np.uint8]], panel_for_video: NDArray[np.uint8] | None
    ) -> None:
        """Queue images (name -> (H, W, 4) RGBA, top row first) and a video frame.

        Raises:
            OutputError: The writer thread failed earlier (disk full, permissions, codec),
                naming the file.
        """
        self._raise_pending()
        self._queue.put((images, panel_for_video))

    @property
    def failed(self) -> BaseException | None:
        """The writer thread's error, if it had one (reported or not)."""
        return self._error

    def close(self) -> None:
        """Flush everything queued and finish the video; safe to call twice.

        Raises:
            OutputError: A write failed and was not reported by :meth:`submit` yet.
        """
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise_pending()

    def _raise_pending(self) -> None:
        if self._error is not None and not self._reported:
            self._reported = True
            err = self._error
            if isinstance(err, VrkitError):
                raise err
            raise OutputError(f"writing frames to {self.out_dir} failed: {err}") from err

    def _work(self) -> None:
        import cv2

        out = os.fspath(self.out_dir)
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if self._error is not None:
                continue  # drain; the error is reported to the render thread
            images, panel = item
            try:
                for name, rgba in images.items():
                    path = os.path.join(out, name)  # a str: pathlib interns every name
                    bgr = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)
                    # No fsync per image (three a frame would halve the frame rate); the
                    # folder is synced once at close. A killed run still leaves only whole
                    # PNGs under frame names: each is renamed after it is written and checked.
                    write_bytes(path, encode_image(path, bgr, self._png_params), sync=False)
                    self.written += 1
                if panel is not None and self.video_path is not None:
                    self._write_video(panel)
                self.frames_done += 1
            except BaseException as exc:  # handed to the render thread
                self._error = exc
        try:
            if self._video is not None:
                # A failed run leaves no panel.mp4 rather than a truncated one.
                if self._error is not None:
                    self._video.discard()
                else:
                    self._video.close()
            sync_folder(self.out_dir)
        except BaseException as exc:  # reported by close()
            self._error = self._error or exc

    def _write_video(self, rgba: NDArray[np.uint8]) -> None:
        h, w = rgba.shape[:2]
        if self._video is None:
            from vrkit.vision.video import VideoWriter

            # H.264 in yuv420p needs even sizes; CRF 10 is near-lossless.
            self._video = VideoWriter(
                self.video_path, (w - w % 2, h - h % 2), self._video_fps, codec="libx264",
                pix_fmt="yuv420p", options={"crf": "10"},
            )  # fmt: skip
        self._video.write(rgba[: h - h % 2, : w - w % 2, 2::-1])  # RGBA -> BGR
