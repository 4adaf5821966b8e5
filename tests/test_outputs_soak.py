"""Memory stays flat with run length (issue 18): a short version of ``benchmarks/soak.py``.

Headless frames at 16x16 with an output folder (run.json streams its records, three PNGs a
frame) of a scene that replaces a node's Mesh every frame. Asserted: RSS slope under 0.05 MB
per 1,000 frames after warm-up, a flat GL object count, and a mesh cache holding only the
meshes the scene holds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _soak_module():
    spec = importlib.util.spec_from_file_location("vrkit_soak", ROOT / "benchmarks" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rss_and_gl_objects_stay_flat(tmp_path):
    soak = _soak_module()
    res = soak.soak(2500, tmp_path / "run", sample=100, eye=16, warmup=0.2)
    assert res["rss_slope_mb_per_1000"] < soak.GOAL_MB_PER_1000, res["samples"]
    lo, hi = res["gl_objects"]
    assert hi - lo <= 1, res["samples"]
    assert res["cached_meshes"] == 2  # the floor and this frame's box; none of the old boxes
    assert len(list((tmp_path / "run").glob("frame_*_panel.png"))) == 2500


def test_mesh_cache_forgets_freed_meshes_and_is_bounded(gl):
    from vrkit.core.types import Fov, FrameInfo, Pose
    from vrkit.math.stereo import eye_views
    from vrkit.render.meshes import box
    from vrkit.render.renderer import StereoRenderer
    from vrkit.render.scene import Scene
    from vrkit.render.targets import EyeTargets

    eyes = EyeTargets(gl, [(16, 16), (16, 16)], 1)
    head = Pose([0.0, 1.6, 0.0])
    fov = Fov.from_degrees(-45, 45, 45, -45)
    frame = FrameInfo(0, 0, 1, eye_views(head, fov, fov, 0.063), head)
    renderer = StereoRenderer(gl, mesh_cache_limit=3)
    scene = Scene()
    node = scene.add(box(), np.eye(4))
    renderer.render(scene, frame, eyes.targets)
    base = gl.live_objects
    for _ in range(50):  # a new mesh each frame: the old one's GPU copy goes
        node.mesh = box()
        renderer.render(scene, frame, eyes.targets)
    assert renderer.cached_meshes == 1 and gl.live_objects == base
    kept = [box() for _ in range(6)]  # alive but not all drawn: the limit holds
    for m in kept:
        node.mesh = m
        renderer.render(scene, frame, eyes.targets)
    assert renderer.cached_meshes == 3
    assert gl.live_objects == base + 2 * 3  # three objects (VAO, IBO, VBO) per mesh
    renderer.release()
    eyes.release()
