"""The one video reader and writer, on PyAV: exact presentation timestamps in nanoseconds.

:class:`VideoReader` decodes a video file frame by frame and stamps each frame with its
presentation timestamp from the container, ``frame.pts * time_base``, converted exactly to
integer nanoseconds (rounded to the nearest ns). OpenCV's ``CAP_PROP_POS_MSEC`` is a float in
milliseconds that backends derive from a nominal frame rate on some files; on variable-rate
(slow-motion) recordings it is not the frame's time. The reader also reports decode gaps:
presentation times that go backwards or repeat, and jumps much longer than the usual frame
interval (dropped or lost frames).

:class:`VideoWriter` encodes frames to a temporary file next to the final one and renames it
on :meth:`VideoWriter.close`, so no half-written video is ever left under the final name. Each
frame may carry its own presentation time (variable frame rate).

This module is the only importer of ``av`` (import-linter contract ``av-owner``). FFmpeg's own
log messages stay silenced (PyAV's default log level, ``None``); errors become one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray

from vrkit.core.errors import DataError, InputError

#: Pixel layouts the reader returns: grey (H, W), BGR (H, W, 3) (OpenCV's order) or RGB.
ColourMode = Literal["gray", "bgr", "rgb"]
_AV_FORMAT = {"gray": "gray", "bgr": "bgr24", "rgb": "rgb24"}
#: Encoder per OpenCV FourCC, for callers used to ``cv2.VideoWriter``.
FOURCC_CODECS = {"mp4v": "mpeg4", "MJPG": "mjpeg", "FFV1": "ffv1", "avc1": "libx264"}


#: Lossy encoders given OpenCV's quality settings (so files match ``cv2.VideoWriter``'s).
_QUALITY_CODECS = {"mpeg4", "mjpeg"}


def ffmpeg_version() -> str:
    """PyAV's and its FFmpeg libraries' versions, e.g. ``"PyAV 18.1.0 (libavcodec 61.19.101)"``."""
    v = av.library_versions.get("libavcodec", ())
    return f"PyAV {av.__version__} (libavcodec {'.'.join(str(x) for x in v)})"


def _ns(pts: int, time_base: Fraction) -> int:
    """``pts * time_base`` seconds as integer nanoseconds (exact, rounded half to even)."""
    return round(pts * time_base * 1_000_000_000)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    Attributes:
        index: Position in presentation order, 0 for the first frame.
        pts_ns: Presentation time from the container, integer nanoseconds (the container's
            clock: the first frame need not be at 0).
        image: (H, W) uint8 grey, or (H, W, 3) uint8 BGR/RGB, per the reader's ``colour``.
    """

    index: int
    pts_ns: int
    image: NDArray[np.uint8]


@dataclass(frozen=True)
class DecodeGap:
    """A discontinuity in the presentation times.

    Attributes:
        index: The frame after the gap.
        step_ns: Its time minus the previous frame's, nanoseconds (<= 0: not increasing).
        expected_ns: The usual frame interval at that point, nanoseconds.
    """

    index: int
    step_ns: int
    expected_ns: int


class VideoReader:
    """Decode a video file with exact per-frame presentation timestamps.

    Iterate over it for :class:`VideoFrame` s (one pass; open another reader to decode again).
    Use as a context manager, or call :meth:`close`.

    Args:
        path: Video file (anything FFmpeg demuxes and decodes).
        colour: ``"gray"`` (H, W), ``"bgr"`` or ``"rgb"`` (H, W, 3) uint8 frames.
        gap_factor: A step between presentation times longer than this many times the usual
            interval (median of the last 32 steps) is reported as a gap.

    Attributes:
        path: The file.
        width: Frame width, pixels.
        height: Frame height, pixels.
        time_base: The stream's time base, seconds per pts unit.
        average_rate: The container's average frame rate, frames per second (None if unknown;
            a slow-motion file often stores its playback rate).
        frame_count: Frames the container declares (0 if it does not say).
        codec: Decoder name.
        gaps: Decode gaps found so far (filled while iterating).
        frames_read: Frames decoded so far; fewer than a non-zero ``frame_count`` at the end
            means the file is cut short (see :attr:`missing`).

    Raises:
        InputError: The file does not exist.
        DataError: FFmpeg cannot open it or it has no video stream (one line, FFmpeg's reason).
    """

    def __init__(
        self, path: str | Path, colour: ColourMode = "gray", gap_factor: float = 1.5
    ) -> None:
        self.path = Path(path)
        if colour not in _AV_FORMAT:
            raise InputError(f"colour must be gray, bgr or rgb, got {colour!r}")
        if not gap_factor > 1:
            raise InputError(f"gap_factor must be > 1, got {gap_factor!r}")
        if not self.path.is_file():
            raise InputError(f"video file not found: {self.path}", "check the path")
        self.colour = colour
        self.gap_factor = float(gap_factor)
        self.gaps: list[DecodeGap] = []
        self._container: Any = None
        try:
            self._container = av.open(str(self.path), "r")
            streams = self._container.streams.video
            if not streams:
                raise DataError(
                    f"{self.path} has no video stream", "give a video file (mp4, mov, avi, mkv)"
                )
            self._stream = streams[0]
            self._stream.thread_type = "AUTO"
            cc = self._stream.codec_context
            self.width, self.height = int(cc.width), int(cc.height)
            self.codec = str(cc.name)
        except av.error.FFmpegError as exc:
            self.close()
            raise DataError(
                f"cannot read {self.path} as a video: {_one_line(exc)}",
                "check that the file is a complete video in a codec FFmpeg decodes",
            ) from exc
        except BaseException:
            self.close()
            raise
        tb = self._stream.time_base
        if tb is None:
            raise DataError(f"{self.path}: the video stream has no time base")
        self.time_base = Fraction(tb.numerator, tb.denominator)
        rate = self._stream.average_rate
        self.average_rate = float(rate) if rate else None
        self.frame_count = int(self._stream.frames or 0)
        self.frames_read = 0
        self._used = False

    def __iter__(self) -> Iterator[VideoFrame]:
        """Frames in presentation order, with their timestamps; gaps land in ``gaps``.

        Raises:
            DataError: A frame has no timestamp, or decoding fails part way (a truncated or
                corrupt file): one line naming the file and the frame.
        """
        if self._used:
            raise InputError(f"{self.path}: a VideoReader decodes once; open a new one")
        self._used = True
        fmt = _AV_FORMAT[self.colour]
        sws = VideoReformatter()
        steps: list[int] = []
        prev: int | None = None
        index = 0
        try:
            for frame in self._container.decode(self._stream):
                if frame.pts is None:
                    raise DataError(
                        f"{self.path}: frame {index} has no presentation timestamp",
                        "re-mux the video (ffmpeg -i IN -c copy OUT.mkv)",
                    )
                tb = frame.time_base or self._stream.time_base
                t = _ns(int(frame.pts), Fraction(tb.numerator, tb.denominator))
                if prev is not None:
                    step = t - prev
                    usual = int(np.median(steps[-32:])) if steps else step
                    if step <= 0 or (steps and step > self.gap_factor * usual):
                        self.gaps.append(DecodeGap(index, step, usual))
                    if step > 0:
                        steps.append(step)
                prev = t
                # One reformatter for the whole stream: frame.to_ndarray(format=...) builds a
                # new swscale context per frame (3x the decode time on 320x240 mpeg4).
                image = sws.reformat(frame, format=fmt).to_ndarray()
                yield VideoFrame(index, t, np.ascontiguousarray(image))
                index += 1
                self.frames_read = index
        except av.error.FFmpegError as exc:
            raise DataError(
                f"cannot decode {self.path} after frame {index}: {_one_line(exc)}",
                "the file is truncated or damaged; re-encode or re-record it",
            ) from exc

    @property
    def missing(self) -> int:
        """Frames the container declares but that were not decoded (0 when it declares none)."""
        return max(0, self.frame_count - self.frames_read)

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_timestamps(path: str | Path) -> tuple[NDArray[np.int64], list[DecodeGap]]:
    """Presentation times of every frame, integer nanoseconds, and the decode gaps.

    Args:
        path: Video file.

    Returns:
        ``(pts_ns (N,) int64, gaps)``.
    """
    with VideoReader(path) as reader:
        t = [f.pts_ns for f in reader]
        return np.array(t, dtype=np.int64), list(reader.gaps)


class VideoWriter:
    """Encode frames into a video file, renamed into place only when complete.

    Frames go to ``.NAME.partial.EXT`` in the same folder; :meth:`close` flushes the encoder
    and renames it to the final name. Leaving a ``with`` block by an exception deletes the
    temporary file instead, and so does :meth:`discard`.

    Args:
        path: Output file; the container follows its extension (``.mp4``, ``.avi``, ``.mkv``,
            ``.mov``).
        size: ``(width, height)`` in pixels.
        fps: Nominal frame rate, frames per second (stored in the container; a frame written
            without a time is stamped ``i / fps``).
        codec: FFmpeg encoder name (``"mpeg4"``, ``"mjpeg"``, ``"ffv1"``, ``"libx264"``) or an
            OpenCV FourCC from :data:`FOURCC_CODECS`.
        time_base: Time base of the stream, seconds per pts unit; None: ``1 / fps`` (fps as
            a fraction with a denominator up to 1001, e.g. 30000/1001). Give a finer one for
            variable-rate clips (e.g. 1/10000; mpeg4 allows at most 65535 units a second).
        pix_fmt: Pixel format of the encoded video; None: the encoder's usual one.
        options: Encoder options (FFmpeg ``-opt value`` pairs as strings).

    Raises:
        InputError: Bad size or rate, an unknown encoder, or the file cannot be created.
    """

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int],
        fps: float,
        *,
        codec: str = "mpeg4",
        time_base: Fraction | None = None,
        pix_fmt: str | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        w, h = (int(v) for v in size)
        if w < 1 or h < 1:
            raise InputError(f"video size must be positive, got {size!r}")
        if not (np.isfinite(fps) and fps > 0):
            raise InputError(f"fps must be a positive number, got {fps!r}")
        codec = FOURCC_CODECS.get(codec, codec)
        if codec not in av.codecs_available:
            raise InputError(
                f"unknown video encoder {codec!r}",
                f"use one of {', '.join(sorted(set(FOURCC_CODECS.values())))}",
            )
        rate = Fraction(fps).limit_denominator(1001)
        if time_base is None:
            time_base = 1 / rate
        self.time_base = Fraction(time_base)
        self.size = (w, h)
        self.fps = float(fps)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.frames = 0
        self._last_pts: int | None = None
        try:
            self._container = av.open(str(self.tmp), "w")
            self._stream = self._container.add_stream(codec, rate=rate, options=options or {})
            self._stream.width, self._stream.height = w, h
            self._stream.time_base = self.time_base
            self._stream.codec_context.time_base = self.time_base
            default_fmt = {"mjpeg": "yuvj420p", "ffv1": "yuv420p"}.get(codec, "yuv420p")
            self._stream.pix_fmt = pix_fmt or default_fmt
            if codec in _QUALITY_CODECS:
                # As OpenCV's FFmpeg writer: a bit rate the encoder never reaches, quality
                # bounded by the quantiser (qmin 3), an intra frame every 12 frames.
                cc = self._stream.codec_context
                cc.bit_rate = min(int(1.5 * w * h * fps * 64), 2**31 - 1)
                cc.qmin = 3
                cc.gop_size = 12
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            self.discard()
            raise InputError(
                f"cannot write {self.path} with encoder {codec!r}: {_one_line(exc)}",
                "check the folder and that the extension suits the codec (mp4v: .mp4, MJPG: .avi)",
            ) from exc

    def write(self, image: NDArray[np.uint8], pts_ns: int | None = None) -> None:
        """Append one frame.

        Args:
            image: (H, W) grey, or (H, W, 3) BGR uint8 (OpenCV's channel order).
            pts_ns: Its presentation time, integer nanoseconds (rounded to the time base);
                None: ``frames / fps``.

        Raises:
            InputError: The image has the wrong shape, or the time does not increase.
        """
        img = np.asarray(image)
        w, h = self.size
        if img.dtype != np.uint8 or img.shape[:2] != (h, w) or img.ndim not in (2, 3):
            raise InputError(
                f"expected a ({h}, {w}) or ({h}, {w}, 3) uint8 frame, got {img.dtype} {img.shape}"
            )
        if pts_ns is None:
            pts = round(Fraction(self.frames) / Fraction(self.fps) / self.time_base)
        else:
            pts = round(Fraction(int(pts_ns), 1_000_000_000) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise InputError(
                f"frame {self.frames} of {self.path} at pts {pts} does not come after the "
                f"previous frame's {self._last_pts} (time base {self.time_base})",
                "give increasing times at least one time-base unit apart",
            )
        fmt = "gray" if img.ndim == 2 else "bgr24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format=fmt)
        frame.pts = pts
        frame.time_base = self.time_base
        try:
            self._container.mux(self._stream.encode(frame))
        except av.error.FFmpegError as exc:
            raise InputError(
                f"cannot encode frame {self.frames} of {self.path} with "
                f"{self._stream.codec_context.name!r} at time base {self.time_base}: "
                f"{_one_line(exc)}",
                "mpeg4 needs a time base of at most 1/65535 s; try another codec or time base",
            ) from exc
        self._last_pts = pts
        self.frames += 1

    def close(self) -> Path:
        """Flush the encoder, close the file and rename it into place.

        Returns:
            The final path.
        """
        if self._container is None:
            return self.path
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
        except BaseException:
            self.discard()
            raise
        self._container = None
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Stop and delete the temporary file; nothing appears under the final name."""
        c = getattr(self, "_container", None)
        self._container = None
        if c is not None:
            try:
                c.close()
            except av.error.FFmpegError:
                pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
