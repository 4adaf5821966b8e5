"""A run's panel layout (from its profile or the side-by-side default) and its frames."""

from __future__ import annotations

from vrkit.backends.base import RunConfig
from vrkit.core.types import FrameInfo
from vrkit.math.stereo import eye_views
from vrkit.poses.base import PoseSource
from vrkit.render.panel import PanelLayout, side_by_side_layout

DEFAULT_EYE_SIZE = (960, 1080)


def panel_layout(config: RunConfig) -> PanelLayout:
    """Panel size, eye viewports, per-eye Fov, eye target sizes and meshes for a run.

    Without a profile: two undistorted eyes side by side at ``config.eye_size`` (default
    960x1080 per eye) with the default 90 x 100 degree field. With a profile: the profile's
    panel, lens geometry and baked distortion meshes (identity meshes when
    ``config.distortion`` is False).
    """
    if config.profile is None:
        return side_by_side_layout(config.eye_size or DEFAULT_EYE_SIZE)
    from vrkit.render.distortion import layout_for_profile

    return layout_for_profile(
        config.profile, eye_size=config.eye_size, distortion=config.distortion
    )


def frame_from_pose_source(
    index: int,
    source: PoseSource,
    layout: PanelLayout,
    ipd_m: float,
    now_ns: int,
    display_ns: int,
    period_ns: int,
) -> FrameInfo:
    """A frame whose eyes follow ``source``'s head pose predicted to the display time.

    Polls the source at ``now_ns`` (the pose sample time), asks for the head pose at
    ``display_ns`` and places both eyes with the layout's Fovs and the IPD; both times go into
    the frame's timing record.

    Args:
        index: Frame number.
        source: The head-pose source.
        layout: The panel layout (its ``fovs`` are the eyes' fields of view).
        ipd_m: Interpupillary distance, metres.
        now_ns: Host time of the pose sample, nanoseconds.
        display_ns: Predicted display time of the frame, nanoseconds.
        period_ns: Frame period, nanoseconds.
    """
    source.poll(now_ns)
    head = source.pose_at(display_ns)
    views = eye_views(head, *layout.fovs, ipd_m=ipd_m)
    frame = FrameInfo(index, display_ns, period_ns, views, head)
    frame.timing["pose_sample_ns"] = now_ns
    frame.timing["predicted_display_ns"] = display_ns
    return frame
