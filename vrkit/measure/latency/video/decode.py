"""Stage 1, read: decode the video once, stamp its frames, gather what the later stages need.

Frames come from the one video reader (:class:`vrkit.vision.video.VideoReader`, PyAV) with
their exact presentation timestamps, as BGR converted to grey by OpenCV. While decoding, a white
top-hat filter keeps bright structures smaller than ``marker_px`` and per-pixel temporal sums of
a downscaled copy are accumulated (for finding the moving regions); every few frames are sampled
for the static background; the frames are kept in memory while they fit the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError
from vrkit.vision.video import DecodeGap, VideoReader

#: A callable taking a frame count, or a tqdm bar (anything with ``update(n)``).
Progress = Callable[[int], Any] | Any

#: Longest side of the downscaled copy used to find the moving regions, pixels.
_DETECT_SIZE = 320
#: Frames sampled (at least, up to twice as many) for the static background of each ROI.
_BG_FRAMES = 40
#: Fewest frames for an estimate.
MIN_FRAMES = 64


def _report(progress: Progress | None, n: int) -> None:
    if progress is None or n <= 0:
        return
    update = getattr(progress, "update", None)
    if callable(update):
        update(n)
    else:
        progress(n)


@dataclass
class _Stats:
    """Per-pixel temporal sums of the downscaled, top-hat filtered frames (for their variance).

    The white top-hat keeps bright structures smaller than ``kernel`` (the markers) and drops
    larger ones, so a flashing or dimming panel background does not count as motion.

    Sums of x and x^2 in float64 are exact enough for 8-bit frames.
    """

    scale: float
    kernel: NDArray[np.uint8]
    n: int = 0
    s1: NDArray[np.float64] | None = None
    s2: NDArray[np.float64] | None = None

    def add(self, grey: NDArray[np.uint8]) -> None:
        small = cv2.resize(grey, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        small = cv2.morphologyEx(small, cv2.MORPH_TOPHAT, self.kernel)
        x = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
        if self.s1 is None or self.s2 is None:
            self.s1 = np.zeros(x.shape, np.float64)
            self.s2 = np.zeros(x.shape, np.float64)
        self.n += 1
        cv2.accumulate(x, self.s1)
        cv2.accumulateSquare(x, self.s2)

    @property
    def std(self) -> NDArray[np.float64]:
        """Per-pixel temporal standard deviation, grey levels (downscaled)."""
        if self.s1 is None or self.s2 is None:
            raise DataError("no frames were accumulated")
        mean = self.s1 / self.n
        return np.sqrt(np.clip(self.s2 / self.n - mean * mean, 0.0, None))


@dataclass
class DecodedVideo:
    """What stage 1 read from the video.

    Attributes:
        path: The video.
        shape: ``(height, width)`` of its frames, pixels.
        pts_ns: (N,) int64 presentation time of each frame from the container, nanoseconds.
        t_s: (N,) float64 frame times used by the analysis, seconds from the first frame
            (``i / fps`` when the frame rate is given, else the container's times).
        rate: Frame rate, frames per second (given, or from the median frame interval).
        stamps: ``"fps"`` or ``"container"``: where ``t_s`` comes from.
        marker_px: Largest marker size including motion blur, pixels.
        kernel: Structuring element of the top-hat filter (``2 * marker_px + 1`` square).
        sample: Evenly spaced grey frames (``_BG_FRAMES`` to twice as many), for backgrounds.
        motion: Temporal sums of the downscaled, filtered frames (None when not gathered).
        frames: Every grey (H, W) uint8 frame, or None when they did not fit the memory
            budget (:meth:`iter_frames` then decodes again).
        gaps: Discontinuities of the container's presentation times.
        warnings: Things the user should check (frame rate, variable rate, lost frames).
    """

    path: Path
    shape: tuple[int, int]
    pts_ns: NDArray[np.int64]
    t_s: NDArray[np.float64]
    rate: float
    stamps: str
    marker_px: int
    kernel: NDArray[np.uint8]
    sample: list[NDArray[np.uint8]]
    motion: _Stats | None
    frames: list[NDArray[np.uint8]] | None
    gaps: list[DecodeGap] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Frames in the video."""
        return int(self.t_s.size)

    def iter_frames(self) -> Iterator[NDArray[np.uint8]]:
        """Every grey frame again: from memory, or by decoding the file a second time."""
        if self.frames is not None:
            yield from self.frames
            return
        with VideoReader(self.path, colour="bgr") as reader:
            for f in reader:
                yield _grey(f.image)


def _grey(bgr: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """OpenCV's grey of a BGR frame (0.299 R + 0.587 G + 0.114 B, full range).

    Not the decoder's luma plane: that is limited-range (16-235) video luma, about 5 % less
    contrast, and the detection thresholds here are tuned on OpenCV's grey (a low-persistence
    clip measured 16.4 ms instead of 12.3 ms, truth 12 ms, on the luma plane).
    """
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def _timestamps(
    path: Path, pts_ns: NDArray[np.int64], fps: float | None, warnings: list[str]
) -> tuple[NDArray[np.float64], float, str]:
    """Frame times (seconds from the first frame), the frame rate and their source."""
    n = pts_ns.size
    if fps is not None:
        return np.arange(n, dtype=np.float64) / fps, float(fps), "fps"
    step = np.diff(pts_ns)
    if not np.all(step > 0):
        bad = int(np.flatnonzero(step <= 0)[0]) + 1
        raise DataError(
            f"{path} has no usable frame timestamps: frame {bad} is stamped "
            f"{pts_ns[bad] * 1e-6:.3f} ms, frame {bad - 1} {pts_ns[bad - 1] * 1e-6:.3f} ms",
            "pass the camera's frame rate with --fps",
        )
    t_s = (pts_ns - pts_ns[0]).astype(np.float64) * 1e-9
    dt = np.diff(t_s)
    rate = 1.0 / float(np.median(dt))
    if np.max(np.abs(dt - 1.0 / rate)) > 0.25 / rate:
        warnings.append(
            f"frame intervals vary from {dt.min() * 1e3:.3f} to {dt.max() * 1e3:.3f} ms "
            "(variable frame rate); the analysis interpolates onto a uniform grid"
        )
    return t_s, rate, "container"


def decode_video(
    path: Path,
    *,
    fps: float | None,
    progress: Progress | None,
    marker_px: int | None,
    memory_mb: float,
    motion: bool,
) -> DecodedVideo:
    """Stage 1: decode every frame, stamp it, and gather the sums and samples.

    Args:
        path: The video.
        fps: Camera frame rate; None to use the container's timestamps.
        progress: Called with the number of frames decoded since the last call, or a tqdm
            bar.
        marker_px: Largest marker size, pixels; None for a sixth of the shorter side.
        memory_mb: Keep the grey frames in memory up to this size.
        motion: Accumulate the temporal sums for finding the moving regions.

    Returns:
        The decoded video.

    Raises:
        InputError: The file is missing.
        DataError: Not a readable video, frames of different sizes, too few frames, or
            timestamps that do not increase.
    """
    pts: list[int] = []
    kept: list[NDArray[np.uint8]] | None = []
    stats: _Stats | None = None
    shape: tuple[int, int] = (0, 0)
    budget = memory_mb * 2**20
    sample: list[NDArray[np.uint8]] = []  # every `step`-th frame, for the background
    step = 1
    pending = 0
    kernel = np.ones((1, 1), np.uint8)
    with VideoReader(path, colour="bgr") as reader:
        if reader.frame_count > 0 and getattr(progress, "total", 0) is None:
            progress.total = reader.frame_count  # a bar without a total gets the container's
        for frame in reader:
            grey = _grey(frame.image)
            if stats is None:
                shape = (int(grey.shape[0]), int(grey.shape[1]))
                if marker_px is None:
                    marker_px = max(9, min(shape) // 6)
                kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * marker_px + 1,) * 2)
                scale = min(1.0, _DETECT_SIZE / max(shape))
                k_small = 2 * max(2, round(marker_px * scale)) + 1
                stats = _Stats(scale, cv2.getStructuringElement(cv2.MORPH_RECT, (k_small, k_small)))
            elif grey.shape != shape:
                raise DataError(
                    f"frame {len(pts)} of {path} is {grey.shape[1]}x{grey.shape[0]}, the first "
                    f"was {shape[1]}x{shape[0]}",
                    "re-encode the video at one resolution",
                )
            if len(pts) % step == 0:
                sample.append(grey)
                if len(sample) >= 2 * _BG_FRAMES:
                    sample, step = sample[::2], 2 * step
            pts.append(frame.pts_ns)
            if motion:
                stats.add(grey)
            if kept is not None:
                kept.append(grey)
                if len(kept) * grey.size > budget:
                    kept = None
            pending += 1
            if pending >= 32:
                _report(progress, pending)
                pending = 0
        _report(progress, pending)
        gaps, missing = list(reader.gaps), reader.missing
    n = len(pts)
    if n == 0 or stats is None or marker_px is None:
        raise DataError(
            f"cannot read any frame from {path}",
            "check that the file is a complete video in a codec FFmpeg decodes",
        )
    if n < MIN_FRAMES:
        raise DataError(
            f"{path} is too short: {n} frames, need at least {MIN_FRAMES}",
            "film several seconds of motion with pauses",
        )
    warnings: list[str] = []
    pts_ns = np.asarray(pts, dtype=np.int64)
    t_s, rate, stamps = _timestamps(path, pts_ns, fps, warnings)
    if rate < 100:
        warnings.append(
            f"frame rate {rate:.1f} fps is low for latency: a high-speed camera (>= 240 fps) "
            "is needed for millisecond accuracy; if this is a slow-motion file stamped at its "
            "playback rate, pass the capture rate with --fps"
        )
    jumps = [g for g in gaps if g.step_ns > 0]
    if jumps:
        g = jumps[0]
        warnings.append(
            f"{len(jumps)} gap(s) in the container's frame times (the first before frame "
            f"{g.index}: {g.step_ns * 1e-6:.3f} ms where {g.expected_ns * 1e-6:.3f} ms is "
            "usual): frames were lost"
            + ("; stamping frames i / fps misplaces the frames after a gap" if fps else "")
        )
    if missing:
        warnings.append(
            f"the container declares {missing} more frame(s) than could be decoded: the file "
            "may be cut short"
        )
    return DecodedVideo(
        path=path,
        shape=shape,
        pts_ns=pts_ns,
        t_s=t_s,
        rate=rate,
        stamps=stamps,
        marker_px=marker_px,
        kernel=kernel,
        sample=sample,
        motion=stats if motion else None,
        frames=kept,
        gaps=gaps,
        warnings=warnings,
    )
