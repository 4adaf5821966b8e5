"""What the OpenXR runtime reports: runtime, system, views, sizes, refresh rates, FOV per view.

Both functions open a short session (the FOV and eye poses only exist for a located frame), take
a focused frame's views, and pump the session to EXITING before returning.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vrkit.backends.base import RunConfig
from vrkit.backends.openxr.backend import OpenXRBackend
from vrkit.core.errors import SessionLostError
from vrkit.core.types import EyeView, FrameInfo

#: Frames to wait for a focused session with valid views (20 Hz null compositor: 2 s).
MAX_FRAMES = 40
#: Focused frames before the frame period is read (the runtime's pacing settles).
SETTLE_FRAMES = 5


def _first_located_frame(backend: Any, settle: int = 0) -> FrameInfo:
    """The first focused frame with views, or the ``settle``-th focused frame after it.

    Monado predicts a default period for the first frames and its real pacing after a few, so
    the frame period is read after settling.
    """
    last = None
    focused = 0
    for _ in range(MAX_FRAMES + settle):
        frame = backend.begin_frame()
        if frame is None:
            break
        backend.end_frame(frame)
        last = frame
        if frame.should_render and backend.lifecycle.focused:
            if focused == settle:
                return frame
            focused += 1
    if last is None:
        raise SessionLostError("the OpenXR session ended before its first frame")
    return last


def _open(config: RunConfig | None) -> OpenXRBackend:
    cfg = config or RunConfig()
    cfg.frames = None
    backend = OpenXRBackend(cfg)
    backend.open()
    return backend


def locate_views(config: RunConfig | None = None) -> list[EyeView]:
    """The runtime's eye views (pose in the reference space and FOV) for one frame.

    Args:
        config: Backend options (``extra["openxr_space"]``...); None for the defaults.

    Raises:
        BackendUnavailableError: No runtime or no headset.
        SessionLostError: The runtime went away meanwhile.
    """
    backend = _open(config)
    try:
        return list(_first_located_frame(backend).views)
    finally:
        backend.close()


def runtime_info(config: RunConfig | None = None) -> dict[str, Any]:
    """Runtime, system, view configuration, recommended / max sizes, refresh rates, FOV per view.

    Args:
        config: Backend options; None for the defaults.

    Returns:
        A JSON-friendly dict. Angles in degrees (``fov_deg``) and radians (``fov_rad``),
        positions in metres, ``ipd_m`` from the two eye positions, ``period_ns`` of the
        runtime's frame timing.

    Raises:
        BackendUnavailableError: No runtime or no headset.
        SessionLostError: The runtime went away meanwhile.
    """
    backend = _open(config)
    try:
        frame = _first_located_frame(backend, settle=SETTLE_FRAMES)
        views = []
        for i, (cv, ev) in enumerate(zip(backend.view_config_views, frame.views, strict=False)):
            views.append(
                {
                    "index": i,
                    "eye": ("left", "right")[i] if i < 2 else str(i),
                    "recommended_size": [
                        int(cv.recommended_image_rect_width),
                        int(cv.recommended_image_rect_height),
                    ],
                    "max_size": [int(cv.max_image_rect_width), int(cv.max_image_rect_height)],
                    "recommended_samples": int(cv.recommended_swapchain_sample_count),
                    "fov_deg": {k: round(v, 3) for k, v in ev.fov.degrees().items()},
                    "fov_rad": ev.fov.to_dict(),
                    "pose": ev.pose.to_dict(),
                }
            )
        ipd = None
        if len(frame.views) >= 2:
            ipd = float(np.linalg.norm(frame.views[1].pose.position - frame.views[0].pose.position))
        period = frame.period_ns
        return {
            "runtime": {"name": backend.runtime_name, "version": backend.runtime_version},
            "system": {"name": backend.system_name},
            "view_configuration": "PRIMARY_STEREO",
            "views": views,
            "ipd_m": ipd,
            "refresh_rates_hz": backend.refresh_rates,
            "refresh_rate_hz": backend.refresh_rate,
            "period_ns": period,
            "frame_rate_hz": round(1e9 / period, 3) if period else math.nan,
            "blend_mode": getattr(backend.blend_mode, "name", str(backend.blend_mode)),
            "reference_space": backend.space_name,
            "graphics_binding": backend.graphics_binding,
            "extensions": backend.enabled_extensions,
            "swapchain_format": backend.swapchains[0].format if backend.swapchains else None,
            "visibility_mask_sizes": [list(s) for s in backend.visibility_mask_sizes],
            "display_clock": backend.display_clock,
        }
    finally:
        backend.close()
