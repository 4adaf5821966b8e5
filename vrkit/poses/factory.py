"""Build a pose source from a ``--pose-source`` spec string."""

from __future__ import annotations

import importlib

from vrkit.core.errors import InputError
from vrkit.poses.base import PoseSource, ScriptedMotion, StaticPose, look_around

#: spec prefix -> ("module:function", what it is). The function takes the text after the colon.
EXTERNAL_SOURCES: dict[str, tuple[str, str]] = {
    "replay": ("vrkit.poses.replay:replay_pose_source", "a recorded pose file, replay:FILE"),
    "tracker": ("vrkit.tracking.poses:tracker_pose_source", "the multi-camera tracker"),
}


def make_pose_source(spec: str | None, start_ns: int | None = None) -> PoseSource | None:
    """Pose source for a spec, or None to let the backend choose its default.

    Specs: ``scripted`` (the demo's look-around motion, from ``start_ns``; None: from the
    first frame's display time), ``static``, ``replay:FILE``, ``tracker[:ARGS]``; backends add their
    own interactive defaults (mouse, runtime).

    Raises:
        InputError: Unknown spec, or a source that this installation cannot provide.
    """
    if spec is None or spec == "default":
        return None
    kind, _, arg = spec.partition(":")
    if kind == "scripted":
        return ScriptedMotion(look_around, start_ns)
    if kind == "static":
        return StaticPose()
    if kind in EXTERNAL_SOURCES:
        target, what = EXTERNAL_SOURCES[kind]
        module_name, func = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"pose source {spec!r} ({what}) is not available: {exc}") from exc
        return getattr(module, func)(arg)
    known = ["default", "scripted", "static", *(f"{k}:..." for k in EXTERNAL_SOURCES)]
    raise InputError(f"unknown pose source {spec!r}", f"use one of: {', '.join(known)}")
