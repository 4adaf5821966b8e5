"""The panel layout a run uses: from its headset profile, or the built-in side-by-side default."""

from __future__ import annotations

from vrkit.backends.base import RunConfig
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
