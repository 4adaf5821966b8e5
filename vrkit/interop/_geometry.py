"""Profiles whose lenses are defined on the eye viewports (North Star, lighthouse, OSVR)."""

from __future__ import annotations

import copy
from typing import Any

from vrkit.core.errors import DataError, ProfileError
from vrkit.optics.profile import EYE_NAMES, profile_from_dict


def with_viewport_lenses(profile: dict[str, Any], lens_for_eye: Any, what: str) -> dict[str, Any]:
    """Fill ``profile["lenses"]`` with models placed on the viewports the geometry gives.

    Args:
        profile: Profile data with panel and optics set (its lenses are replaced).
        lens_for_eye: ``(eye index, viewport_tan list) -> lens dict``.
        what: The source format, for messages.

    Raises:
        DataError: The geometry itself is impossible (the loader's message is included).
    """
    probe = copy.deepcopy(profile)
    probe["lenses"] = {"left": {"kind": "radial", "k": [0.0]}}
    probe["fov_limits_deg"] = {"outer": 30.0, "inner": 30.0, "up": 30.0, "down": 30.0}
    try:
        geometry = profile_from_dict(probe)
    except ProfileError as exc:
        raise DataError(f"{what} gives an impossible headset geometry: {exc}") from None
    out = copy.deepcopy(profile)
    out["lenses"] = {
        name: lens_for_eye(i, list(geometry.viewport_extent_tan(i)))
        for i, name in enumerate(EYE_NAMES)
    }
    return out
