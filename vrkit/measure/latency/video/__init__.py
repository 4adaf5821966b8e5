"""End-to-end latency from high-speed video of a physical and a rendered marker.

A fixed high-speed camera films two things in one frame: a physical marker (a bright dot or LED
on a rod) moved together with the tracked device, and the marker the headset renders on its
panel at the tracked pose. Both are tracked through the video; each track is projected onto its
own principal motion axis, giving two 1-D position signals sampled at the camera's frame times,
and the delay of the rendered signal behind the physical one is estimated by FFT
cross-correlation (:func:`estimate_position_delay`, built on the sensor-log analyser's segment
sums, lobe search and parabolic sub-sample refinement), with a batch-means confidence interval.

:func:`analyze_video` runs five named stages, each a function returning a dataclass:

1. **read** (:func:`~.decode.decode_video` -> :class:`~.decode.DecodedVideo`): decode every
   frame with the one video reader (PyAV, :mod:`vrkit.vision.video`), stamp it with ``i / fps``
   when ``fps`` is given, else with the container's exact presentation time; gather the
   statistics for finding the moving regions and a sample of frames for the backgrounds.
2. **locate** (:func:`~.regions.locate_markers` -> :class:`~.regions.MarkerRegions`): the two
   regions the markers move in, given or the two with the largest temporal variance.
3. **track** (:func:`~.track.track_positions` -> :class:`~.track.MarkerPositions`): each
   marker's weighted centroid per frame (the one blob finder, :mod:`vrkit.vision.blobs`).
4. **motion signal** (:func:`~.track.motion_signal` -> :class:`~.track.MarkerTrack`): gaps
   filled, projected onto the first principal axis.
5. **estimate** (:func:`~.estimate.assign_roles` -> :class:`~.estimate.MarkerRoles`, then
   :func:`~.estimate.estimate_latency` -> :class:`~.estimate.VideoLatencyResult`): which
   marker is rendered (told from its stepwise motion unless given), the delay, its interval
   and the warnings.

**What the number means.** Both markers are seen in the same exposures, so the camera's own
delay and its timestamp convention cancel. The estimate is the mean delay from the physical
motion to the photon-weighted centre of the frames that show it: the pose-to-photon latency
plus half a refresh period on a full-persistence panel (the frame is shown for its whole
period), plus the pixel response. :func:`vrkit.measure.latency.simulate.simulate_video` (the
synthetic video generator, beside the sensor-log simulator) uses the same definition for its
truth.
"""

from __future__ import annotations

import math
from pathlib import Path

from vrkit.core.errors import InputError
from vrkit.measure.latency.video.decode import MIN_FRAMES, DecodedVideo, Progress, decode_video
from vrkit.measure.latency.video.estimate import (
    MarkerRoles,
    RenderedSide,
    VideoLatencyResult,
    assign_roles,
    estimate_latency,
    estimate_position_delay,
)
from vrkit.measure.latency.video.regions import MarkerRegions, Roi, locate_markers
from vrkit.measure.latency.video.track import (
    MarkerPositions,
    MarkerTrack,
    motion_signal,
    track_positions,
)

__all__ = [
    "MIN_FRAMES",
    "DecodedVideo",
    "MarkerPositions",
    "MarkerRegions",
    "MarkerRoles",
    "MarkerTrack",
    "Progress",
    "RenderedSide",
    "Roi",
    "VideoLatencyResult",
    "analyze_video",
    "assign_roles",
    "decode_video",
    "estimate_latency",
    "estimate_position_delay",
    "locate_markers",
    "motion_signal",
    "track_positions",
]


def analyze_video(
    path: str | Path,
    *,
    fps: float | None = None,
    progress: Progress | None = None,
    rois: tuple[Roi, Roi] | None = None,
    rendered: RenderedSide = "auto",
    max_latency_s: float = 0.25,
    min_latency_s: float = -0.05,
    upsample: int = 4,
    n_segments: int | None = None,
    min_corr: float = 0.5,
    rolling_shutter_s: float = 0.0,
    marker_px: int | None = None,
    memory_mb: float = 1024.0,
) -> VideoLatencyResult:
    """Estimate the delay of the rendered marker behind the physical marker in a video.

    Args:
        path: Video file (anything FFmpeg decodes).
        fps: Camera frame rate, frames per second. Frames are then stamped ``i / fps``. When
            None, the container's timestamps are used; slow-motion files often store a
            playback rate (30 fps) instead of the capture rate: pass the capture rate then.
        progress: Called with the number of frames decoded since the last call, or a tqdm bar
            (its ``update`` is called).
        rois: ``((x, y, w, h) physical, (x, y, w, h) rendered)`` in pixels; found
            automatically when None.
        rendered: Where the rendered marker is relative to the physical one when the ROIs are
            found automatically (``"left"``, ``"right"``, ``"top"``, ``"bottom"``), or
            ``"auto"`` to tell it from its stepwise (panel-refresh) motion.
        max_latency_s: Largest delay searched, seconds.
        min_latency_s: Smallest delay searched, seconds.
        upsample: The signals are interpolated onto a grid this many times finer than the
            frame rate before correlating.
        n_segments: Segments for the confidence interval; None for one per second of video
            (3 to 8). Short segments with little motion make the interval erratic.
        min_corr: Smallest acceptable peak correlation between the two signals.
        rolling_shutter_s: The camera's readout time from the top row to the bottom row,
            seconds (0 for a global shutter). A rolling shutter sees a marker lower in the
            image later; the estimate is corrected by the readout time between the two
            markers' mean rows.
        marker_px: Largest marker size in the video including motion blur, pixels; bright
            structures larger than about twice this (a flashing panel background, lit
            furniture) are ignored. None: a sixth of the frame's shorter side.
        memory_mb: Decoded grey frames are kept in memory up to this size; longer videos are
            decoded a second time instead.

    Returns:
        The estimate with its confidence interval, correlation curve and both tracks.

    Raises:
        InputError: The file is missing, or an argument is out of range.
        DataError: The file is not a readable video, is too short, shows no motion, a marker
            is not found, or the rendered marker does not follow the physical one.
    """
    path = Path(path)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps!r}")
    if rendered not in ("auto", "left", "right", "top", "bottom"):
        raise InputError(f"rendered must be auto, left, right, top or bottom, got {rendered!r}")
    if not (math.isfinite(rolling_shutter_s) and rolling_shutter_s >= 0):
        raise InputError(f"rolling_shutter_s must be >= 0 seconds, got {rolling_shutter_s!r}")
    if marker_px is not None and not (isinstance(marker_px, int) and marker_px >= 2):
        raise InputError(f"marker_px must be an integer >= 2 pixels, got {marker_px!r}")
    if upsample < 1:
        raise InputError(f"upsample must be at least 1, got {upsample}")

    video = decode_video(
        path,
        fps=fps,
        progress=progress,
        marker_px=marker_px,
        memory_mb=memory_mb,
        motion=rois is None,
    )
    regions = locate_markers(video, rois)
    positions = track_positions(video, regions, video.iter_frames())
    if regions.given:
        names = ("the physical marker", "the rendered marker")
    else:
        names = tuple(f"the marker in ROI {r}" for r in regions.rois)
    t0, t1 = (motion_signal(path, names[j], positions[j]) for j in range(2))
    markers = assign_roles(path, (t0, t1), regions, rendered)
    return estimate_latency(
        video,
        markers,
        max_latency_s=max_latency_s,
        min_latency_s=min_latency_s,
        upsample=upsample,
        n_segments=n_segments,
        min_corr=min_corr,
        rolling_shutter_s=rolling_shutter_s,
    )
