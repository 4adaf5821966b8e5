"""Frame sources: live cameras, video files, image folders and recordings, one interface.

A source yields :class:`~vrkit.tracking.frames.FrameSet` objects (see
:mod:`vrkit.tracking.frames`). Live cameras stamp frames with the host monotonic clock at
capture; files carry their own timeline.

Spec strings (``vrkit track run --source SPEC``):

* ``rec:DIR`` or ``DIR`` holding ``index.json``: a recording (see :mod:`vrkit.tracking.record`);
* ``images:DIR0,DIR1,...``: one folder of images per camera, sorted by name, at ``fps``;
* ``video:A.mp4,B.mp4,...``: one video file per camera, timestamps from the container;
* ``live:0,1,2,3``: ``cv2.VideoCapture`` devices (indices or URLs), one capture thread each.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError
from vrkit.tracking.frames import IMAGE_SUFFIXES, FrameSet, FrameSource, read_image, to_gray
from vrkit.tracking.record import RecordingSource
from vrkit.vision.video import VideoReader

log = logging.getLogger(__name__)


class ImageFolderSource(FrameSource):
    """One folder of images per camera, matched by sorted position; timestamps at ``fps``.

    Args:
        folders: One folder per camera.
        fps: Frame rate used to make timestamps, Hz.
        names: Camera names (default: folder names).
    """

    def __init__(
        self, folders: list[str | Path], fps: float = 60.0, names: list[str] | None = None
    ):
        self.folders = [Path(f) for f in folders]
        for f in self.folders:
            if not f.is_dir():
                raise InputError(f"image folder {str(f)!r} does not exist")
        self.files = [
            sorted(p for p in f.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            for f in self.folders
        ]
        counts = [len(x) for x in self.files]
        if min(counts) == 0:
            raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {self.folders}: {counts}")
        if len(set(counts)) > 1:
            log.warning("image folders hold different numbers of images %s; cameras with fewer "
                        "images drop out when theirs run out", counts)  # fmt: skip
        self.camera_names = names or [f.name for f in self.folders]
        self.period_ns = round(1e9 / fps)
        self._i = 0
        self._n = max(counts)

    def read(self) -> FrameSet | None:
        """Next frame set (cameras whose folder ran out give None with a reason)."""
        if self._i >= self._n:
            return None
        imgs, errs = [], []
        for files in self.files:
            if self._i < len(files):
                img, err = read_image(files[self._i])
            else:
                img, err = None, "no more images"
            imgs.append(img)
            errs.append(err)
        fs = FrameSet(self._i, self._i * self.period_ns, imgs, errs)
        self._i += 1
        return fs


class VideoFileSource(FrameSource):
    """One video file per camera; the frame time is the first camera's presentation time.

    Frames and their exact presentation timestamps (integer ns) come from the one video
    reader, :class:`vrkit.vision.video.VideoReader`.

    Args:
        paths: One video file per camera.
        names: Camera names (default: file stems).
    """

    def __init__(self, paths: list[str | Path], names: list[str] | None = None) -> None:
        self.readers: list[VideoReader] = []
        for p in paths:
            if not Path(p).is_file():
                self.close()
                raise InputError(f"video file {str(p)!r} does not exist")
            try:
                self.readers.append(VideoReader(p, colour="bgr"))
            except DataError as exc:
                self.close()
                raise InputError(
                    f"cannot open video {str(p)!r}", "is it a video file ffmpeg reads?"
                ) from exc
        self._frames = [iter(r) for r in self.readers]
        self.camera_names = names or [Path(p).stem for p in paths]
        self.live = [True] * len(self.readers)
        #: Per camera the frame set its video ended at, and its last decode gap's reason.
        self._ended: list[int | None] = [None] * len(self.readers)
        self._gap: list[str | None] = [None] * len(self.readers)
        self._i = 0

    def read(self) -> FrameSet | None:
        """Next frame of every video; None once all have ended.

        A camera whose video shows a decode gap at this frame (its presentation time jumped,
        see :class:`~vrkit.vision.video.DecodeGap`), or whose video ended while others go on
        (frame-count drift: the videos no longer cover the same frames), is marked in
        :attr:`FrameSet.suspect` for this frame and every later one: past a gap its frames
        no longer line up with the others by position.
        """
        if not any(self.live):
            return None
        imgs, errs, ts = [], [], []
        for k, frames in enumerate(self._frames):
            frame = next(frames, None) if self.live[k] else None
            if frame is None and self.live[k]:
                self.live[k] = False
                self._ended[k] = self._i
            imgs.append(to_gray(frame.image) if frame is not None else None)
            errs.append(None if frame is not None else f"{self.camera_names[k]}: video ended")
            ts.append(frame.pts_ns if frame is not None else None)
            gaps = self.readers[k].gaps if k < len(self.readers) else []
            if frame is not None and gaps and gaps[-1].index == frame.index:
                g = gaps[-1]
                self._gap[k] = (
                    f"decode gap at video frame {g.index}: presentation time stepped "
                    f"{g.step_ns * 1e-6:.1f} ms, usually {g.expected_ns * 1e-6:.1f} ms"
                )
        if not any(im is not None for im in imgs):
            return None
        suspect: list[str | None] = []
        for k in range(len(imgs)):
            why = self._gap[k]
            if self._ended[k] is not None:
                why = (f"video ended after {self._ended[k]} frames while the other cameras' "
                       "videos go on (frame-count drift)")  # fmt: skip
            suspect.append(why)
        t = next(t for t in ts if t is not None)
        fs = FrameSet(self._i, t, imgs, errs, ts, suspect)
        self._i += 1
        return fs

    def close(self) -> None:
        """Close the files; safe to call twice."""
        for r in self.readers:
            r.close()
        self.readers = []


class LiveCameraSource(FrameSource):
    """Live cameras through ``cv2.VideoCapture``, one capture thread per camera.

    Each thread grabs continuously and stamps every frame with the host monotonic clock right
    after ``grab()`` returns. :meth:`read` waits until every running camera has a frame newer
    than the last one handed out (or ``timeout_s`` passed) and returns the newest of each; a
    camera that delivers nothing within the timeout is reported missing, and one whose capture
    fails stays missing ("stopped").

    Args:
        devices: Device indices or URLs/paths ``cv2.VideoCapture`` opens.
        width: Requested width (0 = device default).
        height: Requested height (0 = device default).
        fps: Requested frame rate (0 = device default).
        timeout_s: How long :meth:`read` waits for a camera.
        names: Camera names (default ``cam0``, ``cam1``...).
        max_frames: Stop after this many frame sets (0 = run until every camera stopped).
    """

    def __init__(
        self,
        devices: list[int | str],
        width: int = 0,
        height: int = 0,
        fps: float = 0.0,
        timeout_s: float = 0.5,
        names: list[str] | None = None,
        max_frames: int = 0,
    ) -> None:
        import cv2

        self.camera_names = names or [f"cam{i}" for i in range(len(devices))]
        self.timeout_s = timeout_s
        self.max_frames = max_frames
        self._cond = threading.Condition()
        self._latest: list[tuple[int, int, NDArray] | None] = [None] * len(devices)
        self._stopped = [False] * len(devices)
        self._reasons: list[str | None] = [None] * len(devices)
        self._seen = [-1] * len(devices)
        self._running = True
        self._threads = []
        self._caps = []
        for k, dev in enumerate(devices):
            cap = cv2.VideoCapture(dev)
            if not cap.isOpened():
                for c in self._caps:
                    c.release()
                raise InputError(f"cannot open camera {dev!r}", "check the device index or URL")
            if width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
            self._caps.append(cap)
            th = threading.Thread(target=self._run, args=(k, cap), daemon=True,
                                  name=f"vrkit-cam{k}")  # fmt: skip
            self._threads.append(th)
        self._i = 0
        for th in self._threads:
            th.start()

    def _run(self, k: int, cap: object) -> None:
        n = 0
        while self._running:
            if not cap.grab():
                with self._cond:
                    self._stopped[k] = True
                    self._reasons[k] = f"{self.camera_names[k]}: capture stopped"
                    self._cond.notify_all()
                return
            t = time.monotonic_ns()  # the edge: capture time on the host clock
            ok, img = cap.retrieve()
            if not ok or img is None:
                continue
            gray = to_gray(img)
            with self._cond:
                self._latest[k] = (n, t, gray)
                self._cond.notify_all()
            n += 1

    def read(self) -> FrameSet | None:
        """Newest frame of every camera (waits for fresh ones up to ``timeout_s``)."""
        if self.max_frames and self._i >= self.max_frames:
            return None
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while True:
                fresh = [
                    self._stopped[k] or (lt is not None and lt[0] > self._seen[k])
                    for k, lt in enumerate(self._latest)
                ]
                if all(fresh):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if all(self._stopped) and not any(
                lt is not None and lt[0] > self._seen[k] for k, lt in enumerate(self._latest)
            ):
                return None
            imgs, errs, ts = [], [], []
            for k, lt in enumerate(self._latest):
                if lt is not None and lt[0] > self._seen[k]:
                    self._seen[k] = lt[0]
                    imgs.append(lt[2])
                    errs.append(None)
                    ts.append(lt[1])
                else:
                    imgs.append(None)
                    errs.append(self._reasons[k] or f"{self.camera_names[k]}: no new frame within "
                                f"{self.timeout_s * 1e3:.0f} ms")  # fmt: skip
                    ts.append(None)
        valid = [t for t in ts if t is not None]
        fs = FrameSet(self._i, int(np.median(valid)) if valid else 0, imgs, errs, ts)
        self._i += 1
        return fs

    def close(self) -> None:
        """Stop the threads and release the devices; safe to call twice."""
        self._running = False
        for th in self._threads:
            th.join(timeout=2.0)
        for cap in self._caps:
            cap.release()
        self._threads, self._caps = [], []


def open_source(
    spec: str, fps: float = 60.0, max_frames: int = 0, allow_outside: bool = False
) -> FrameSource:
    """Open a source from a spec string (see the module docstring).

    ``allow_outside``: a recording may name files outside its folder.

    Raises:
        InputError: The spec names no known kind or its files do not exist.
    """
    kind, _, rest = spec.partition(":")
    if not rest:
        if (Path(spec) / "index.json").is_file():
            return RecordingSource(spec, allow_outside=allow_outside)
        raise InputError(
            f"source {spec!r}: expected rec:DIR, images:D0,D1.., video:A,B.. or live:0,1..",
            "a recording folder must contain index.json",
        )
    items = [s for s in rest.split(",") if s]
    if kind == "rec":
        return RecordingSource(rest, allow_outside=allow_outside)
    if kind == "images":
        return ImageFolderSource(items, fps)
    if kind == "video":
        return VideoFileSource(items)
    if kind == "live":
        devs: list[int | str] = [int(s) if s.isdigit() else s for s in items]
        return LiveCameraSource(devs, fps=fps, max_frames=max_frames)
    raise InputError(f"unknown source kind {kind!r} in {spec!r}", "use rec, images, video or live")
