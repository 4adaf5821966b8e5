"""A run's panel layout (from its profile or the side-by-side default) and its frames."""

from __future__ import annotations

from typing import Any

from vrkit.backends.base import RunConfig
from vrkit.core.types import FrameInfo
from vrkit.math.stereo import DEFAULT_IPD_M, eye_views
from vrkit.poses.base import PoseSource
from vrkit.render.distortion import layout_for_profile
from vrkit.render.panel import (
    PanelLayout,
    Warp,
    side_by_side_layout,
    warp_pose,
    warp_rotation,
)

DEFAULT_EYE_SIZE = (960, 1080)


def run_ipd_m(config: RunConfig) -> float:
    """The run's interpupillary distance in metres.

    ``config.ipd_m`` when given (``--ipd``), else the profile's ``ipd_default_m``, else
    :data:`~vrkit.math.stereo.DEFAULT_IPD_M` (0.063 m).
    """
    if config.ipd_m is not None:
        return float(config.ipd_m)
    if config.profile is not None:
        return float(config.profile.ipd_default_m)
    return DEFAULT_IPD_M


def panel_layout(config: RunConfig) -> PanelLayout:
    """Panel size, eye viewports, per-eye Fov, eye sizes, meshes and eye placement for a run.

    Without a profile: two undistorted eyes side by side at ``config.eye_size`` (default
    960x1080 per eye) with the default 90 x 100 degree field, not canted. With a profile: the
    profile's panel, lens geometry, baked distortion meshes (identity meshes when
    ``config.distortion`` is False) and canting. Either way the eyes sit :func:`run_ipd_m`
    apart.
    """
    ipd = run_ipd_m(config)
    if config.profile is None:
        return side_by_side_layout(config.eye_size or DEFAULT_EYE_SIZE, ipd_m=ipd)
    return layout_for_profile(
        config.profile, eye_size=config.eye_size, distortion=config.distortion, ipd_m=ipd
    )


def frame_from_pose_source(
    index: int,
    source: PoseSource,
    layout: PanelLayout,
    now_ns: int,
    display_ns: int,
    period_ns: int,
) -> FrameInfo:
    """A frame whose eyes follow ``source``'s head pose predicted to the display time.

    Polls the source at ``now_ns`` (the pose sample time), asks for the head pose at
    ``display_ns`` and places both eyes with the layout's Fovs, IPD and canting; both times go
    into the frame's timing record.

    Args:
        index: Frame number.
        source: The head-pose source.
        layout: The panel layout (its ``fovs``, ``ipd_m`` and ``cant_rad`` place the eyes).
        now_ns: Host time of the pose sample, nanoseconds.
        display_ns: Predicted display time of the frame, nanoseconds.
        period_ns: Frame period, nanoseconds.
    """
    source.poll(now_ns)
    head = source.pose_at(display_ns)
    views = eye_views(head, *layout.fovs, ipd_m=layout.ipd_m, cant_rad=layout.cant_rad)
    frame = FrameInfo(index, display_ns, period_ns, views, head)
    frame.timing["pose_sample_ns"] = now_ns
    frame.timing["predicted_display_ns"] = display_ns
    return frame


def latch_warp(
    frame: FrameInfo, source: PoseSource, layout: PanelLayout, now_ns: int, mode: str
) -> list[Warp]:
    """Late latching: sample the pose again just before the distortion pass; per-eye warps.

    Polls ``source`` at ``now_ns``, predicts the head pose for the frame's display time (and,
    for ``"rotation+scanline"``, for the end of its scan-out one period later) and returns per
    eye the rotation from the newest eye pose to the one the frame was rendered with
    (:func:`~vrkit.render.panel.warp_rotation`), for ``"position"`` the full delta pose
    (:func:`~vrkit.render.panel.warp_pose`). Stamps ``warp_pose_sample_ns`` into the frame's
    timing.

    Args:
        frame: The rendered frame (its ``views`` are the render poses).
        source: The head-pose source.
        layout: The panel layout (eye placement).
        now_ns: Host time of the late pose sample, nanoseconds.
        mode: ``"rotation"``, ``"rotation+scanline"`` or ``"position"``.

    Returns:
        Per eye a (3, 3) rotation, ``(start, end)`` rotations for the scan-line warp, or a
        :class:`~vrkit.render.panel.PoseWarp`.
    """
    source.poll(now_ns)
    frame.timing["warp_pose_sample_ns"] = int(now_ns)

    def rotations(display_ns: int) -> list[Any]:
        views = eye_views(
            source.pose_at(display_ns), *layout.fovs, ipd_m=layout.ipd_m, cant_rad=layout.cant_rad
        )
        if mode == "position":
            return [warp_pose(r, n) for r, n in zip(frame.views, views, strict=True)]
        return [warp_rotation(r, n) for r, n in zip(frame.views, views, strict=True)]

    start = rotations(frame.predicted_display_time_ns)
    if mode != "rotation+scanline":
        return start
    end = rotations(frame.predicted_display_time_ns + frame.period_ns)
    return list(zip(start, end, strict=True))


def warp_fields(frame: FrameInfo, mode: str) -> dict[str, Any]:
    """Per-frame ``run.json`` fields: the warp mode and each stage's pose age at display.

    ``pose_age_ns`` maps ``render`` (the pose the eye images were rendered with) and, with a
    warp, ``warp`` (the late-latched pose the distortion pass used) to ``display time -
    sample time`` in ns.
    """
    display = frame.predicted_display_time_ns
    ages = {"render": display - frame.timing["pose_sample_ns"]}
    if "warp_pose_sample_ns" in frame.timing:
        ages["warp"] = display - frame.timing["warp_pose_sample_ns"]
    return {"warp": mode, "pose_age_ns": ages}
