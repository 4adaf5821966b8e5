"""View-geometry JSON: one view per eye, as OpenXR's ``xrLocateViews`` gives it.

::

    {"views": [
      {"eye": "left",
       "pose": {"position": [x, y, z], "orientation": [x, y, z, w]},
       "fov": {"angle_left": rad, "angle_right": rad, "angle_up": rad, "angle_down": rad}},
      {"eye": "right", ...}]}

OpenXR conventions: metres, radians, right-handed with +Y up and -Z forward; ``angle_left`` and
``angle_down`` are negative for a view that contains its axis; poses are ``T_space_eye`` in one
space. ``vrkit fov --openxr --json`` writes the views in this form, ``vrkit fov --views`` reads
them. An optional ``"source"`` string says where they came from.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError
from vrkit.core.types import LEFT, RIGHT, EyeView, Fov, Pose

EYES = {"left": LEFT, "right": RIGHT}
FOV_KEYS = ("angle_left", "angle_right", "angle_up", "angle_down")


def is_views(data: Any) -> bool:
    """True for a JSON object with a ``views`` list."""
    return isinstance(data, dict) and isinstance(data.get("views"), list)


def _vector(value: Any, n: int, where: str) -> np.ndarray:
    if (
        not isinstance(value, list)
        or len(value) != n
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        raise DataError(f"views file {where} must be {n} finite numbers, got {value!r}")
    return np.asarray(value, dtype=np.float64)


def views_from_json(data: Any) -> list[EyeView]:
    """Parse views JSON into ``[left, right]`` :class:`EyeView` values.

    Raises:
        DataError: Not one left and one right view, or a malformed pose or fov (named).
    """
    if not is_views(data):
        raise DataError("views file has no 'views' list")
    views: dict[int, EyeView] = {}
    for i, item in enumerate(data["views"]):
        where = f"views[{i}]"
        if not isinstance(item, dict):
            raise DataError(f"views file {where} must be an object, got {item!r}")
        eye = EYES.get(item.get("eye"))
        if eye is None:
            raise DataError(
                f"views file {where}.eye must be 'left' or 'right', got {item.get('eye')!r}"
            )
        if eye in views:
            raise DataError(f"views file has two {item['eye']} views")
        pose = item.get("pose")
        if not isinstance(pose, dict):
            raise DataError(
                f"views file {where}.pose must be an object with position and orientation"
            )
        position = _vector(pose.get("position"), 3, f"{where}.pose.position")
        quat = _vector(pose.get("orientation"), 4, f"{where}.pose.orientation")
        norm = float(np.linalg.norm(quat))
        if abs(norm - 1) > 1e-3:
            raise DataError(
                f"views file {where}.pose.orientation {quat.tolist()} is not a unit quaternion "
                f"(x, y, z, w; norm {norm:.4f})"
            )
        fov = item.get("fov")
        if not isinstance(fov, dict) or any(k not in fov for k in FOV_KEYS):
            raise DataError(f"views file {where}.fov must have {list(FOV_KEYS)}, got {fov!r}")
        angles = [fov[k] for k in FOV_KEYS]
        if not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in angles):
            raise DataError(f"views file {where}.fov angles must be numbers, got {angles}")
        try:
            f = Fov(*angles)
        except ValueError as exc:
            raise DataError(f"views file {where}.fov: {exc} (radians, OpenXR signs)") from None
        views[eye] = EyeView(eye, Pose(position, quat / norm), f)
    if sorted(views) != [LEFT, RIGHT]:
        raise DataError(f"views file needs one left and one right view, got {len(views)}")
    return [views[LEFT], views[RIGHT]]


def load_views(path: str | Path) -> list[EyeView]:
    """Read a views file (schema ``views``, then :func:`views_from_json`).

    Raises:
        DataError: Missing, not JSON, or not views (one line naming the value).
    """
    return views_from_json(read_document(path, "views", DataError))


def views_to_json(views: list[EyeView], source: str | None = None) -> dict[str, Any]:
    """Views as JSON data (the form :func:`views_from_json` reads)."""
    names = {LEFT: "left", RIGHT: "right"}
    out: dict[str, Any] = {
        "views": [
            {"eye": names[v.eye], "pose": v.pose.to_dict(), "fov": v.fov.to_dict()}
            for v in sorted(views, key=lambda v: v.eye)
        ]
    }
    if source:
        out["source"] = source
    return out
