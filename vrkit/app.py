"""The frame loop: a backend, the stereo renderer and a scene."""

from __future__ import annotations

import importlib.util
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vrkit.backends.base import Backend
from vrkit.core.errors import InputError
from vrkit.core.types import FrameInfo
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Scene
from vrkit.resources import resolve_file, shipped_names

log = logging.getLogger(__name__)


def _where(exc: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return f"{path}:{frames[-1].lineno}" if frames else str(path)


#: Model files ``vrkit run`` shows directly (:func:`vrkit.render.placement.model_scene`).
MODEL_SUFFIXES = (".gltf", ".glb")


def load_scene(path: str | Path) -> Scene:
    """Import a scene file and call its ``build_scene()``, or show a glTF model.

    Args:
        path: A Python file defining ``build_scene() -> Scene``, the name of a shipped scene
            (``"room"``, see :func:`vrkit.resources.shipped_names`), or a ``.gltf`` / ``.glb``
            model, which is placed in front of the viewer on a floor
            (:func:`vrkit.render.placement.model_scene`).

    Raises:
        InputError: The file is missing, does not define ``build_scene``, raises, or returns
            something that is not a Scene, or the model cannot be loaded; the message names
            the file (and line).
    """
    given = str(path)
    path = resolve_file("scene", given).resolve()
    if not path.is_file():
        raise InputError(
            f"scene {given!r} is neither a file nor a shipped scene",
            f"shipped scenes: {', '.join(shipped_names('scene'))} (`vrkit run --list`)",
        )
    if path.suffix.lower() in MODEL_SUFFIXES:
        from vrkit.render.placement import model_scene

        return model_scene(path)
    spec = importlib.util.spec_from_file_location(f"vrkit_scene_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path} is not a Python scene file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        build = getattr(module, "build_scene", None)
        if build is None:
            raise InputError(f"scene file {path} has no build_scene() function")
        scene = build()
    except InputError:
        raise
    except Exception as exc:  # the scene's own bug: report where, not a traceback wall
        raise InputError(f"scene {_where(exc, path)} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(scene, Scene):
        raise InputError(f"build_scene() in {path} returned {type(scene).__name__}, not a Scene")
    if not scene.name or scene.name == "scene":
        scene.name = path.stem
    return scene


def run_scene(
    backend: Backend, scene: Scene, on_frame: Callable[[FrameInfo], None] | None = None
) -> dict[str, Any]:
    """Drive an opened backend until it has no more frames.

    Per frame: the scene's ``update`` hook at the frame's display time, then the render into
    the backend's eye targets, then ``end_frame``. Render start and CPU end are stamped into
    ``frame.timing`` from the backend's clock (``RunConfig.clock``: host CLOCK_MONOTONIC ns, or
    a manual clock for a reproducible run).

    Args:
        backend: An opened backend (it stays open; the caller closes it).
        scene: What to draw.
        on_frame: Called after each ``end_frame`` (progress bars, live plots).

    Returns:
        The backend's summary plus frame count and the run's duration on its clock
        (``wall_s``).
    """
    renderer = StereoRenderer(backend.gl)
    clock = backend.clock
    start = clock.now_ns()
    t0: int | None = None
    frames = 0
    try:
        while (frame := backend.begin_frame()) is not None:
            t0 = frame.predicted_display_time_ns if t0 is None else t0
            try:
                scene.update((frame.predicted_display_time_ns - t0) * 1e-9)
            except Exception as exc:  # the scene's bug, named
                raise InputError(
                    f"scene {scene.name!r} update raised {type(exc).__name__}: {exc}"
                ) from exc
            if frame.should_render:
                frame.timing["render_start_ns"] = clock.now_ns()
                renderer.render(scene, frame, backend.eye_targets(frame))
                frame.timing["render_end_cpu_ns"] = clock.now_ns()
            backend.end_frame(frame)
            frames += 1
            if on_frame is not None:
                on_frame(frame)
    finally:
        renderer.release()
    wall_s = (clock.now_ns() - start) * 1e-9
    return {**backend.summary(), "frames": frames, "wall_s": round(wall_s, 3)}
