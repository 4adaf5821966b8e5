"""The compositor's panel pass: timewarp on vs off, vs a three-samples floor, vs a 40x40 mesh.

Panel 2880x1600 (generic-1440x1600 profile), two 1440x1600 eye textures with content, one EGL
context, round-robin (one frame of each variant per round, each waiting for the GPU with
glFinish) so that load from other processes hits every variant alike. Only ratios within the
run mean anything.

* off: the baked pass (production path without warp), auto mesh (<= 0.25 px interpolation
  error), three samples per fragment;
* rotation: the timewarp pass (``panel_warp.vert``: tan-angle mesh, a 3x3 rotation per vertex)
  with a 2-degree yaw;
* rotation+scanline: the same with start and end rotations blended down the panel;
* position: the positional warp (``POSITION`` variant: per vertex and channel two depth
  lookups from a 1440x1600 depth texture per eye, a slanted floor-like depth ramp) with a 2-degree
  yaw and 4 cm of sideways head motion;
* floor: the three-sample shader on two triangles per eye (no lens, every viewport pixel), and
  the same scaled by the fraction of viewport pixels the lens shows (the visible pixels): what
  three samples per visible pixel cost, the floor for a chromatic pass on a software
  rasteriser;
* mesh40: the baked pass on the Cardboard SDK's 40x40 mesh per eye (its interpolation error
  measured with :func:`vrkit.optics.mesh.mesh_error_px`).

No GPU was available where these were first run; the pass-vs-blit row on a GPU is not measured
here (``bench_distortion.py`` has the blit baseline).
"""

from __future__ import annotations

import math

import numpy as np
from _timing import round_robin_ms

from vrkit.core.types import LEFT, RIGHT
from vrkit.gl.egl import create_headless_context
from vrkit.math.transforms import matrix_from_quat, quat_from_axis_angle
from vrkit.optics.mesh import mesh_error_px
from vrkit.optics.profile import load_profile
from vrkit.render.distortion import layout_for_profile, profile_mesh_resolution
from vrkit.render.panel import PanelCompositor, PoseWarp

EYE = (1440, 1600)


def _eye_image(w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 4), dtype=np.uint8)
    img = np.repeat(np.repeat(img, 8, 0), 8, 1)[:h, :w].copy()
    img[..., 3] = 255
    return img


def _depth_texture(ctx, w: int, h: int):
    """A window-depth texture (vrkit's near and far) of a floor-like ramp: 0.5 m at the bottom
    row to 20 m at the top."""
    from OpenGL import GL

    from vrkit.render.renderer import FAR_M, NEAR_M

    z = np.geomspace(0.5, 20.0, h)[:, None].repeat(w, 1)
    n, f = NEAR_M, FAR_M
    window = (0.5 * ((f + n) / (f - n) - 2 * f * n / ((f - n) * z)) + 0.5).astype(np.float32)
    tex = ctx.texture(w, h, internal_format=GL.GL_DEPTH_COMPONENT32F, filter=GL.GL_NEAREST)
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex.glo)
    GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
    GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, w, h, GL.GL_DEPTH_COMPONENT, GL.GL_FLOAT, window)
    GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
    return tex


def run(quick: bool) -> list[dict]:
    profile = load_profile("generic-1440x1600")
    res = profile_mesh_resolution(profile, "auto")
    sizes = [profile.eye_viewport(e)[2:] for e in (LEFT, RIGHT)]
    err40 = max(
        mesh_error_px(profile.panel_to_eye_uv, e, (40, 40), tuple(sizes[e]))  # type: ignore[arg-type]
        for e in (LEFT, RIGHT)
    )
    ctx = create_headless_context()
    layout = layout_for_profile(profile, eye_size=EYE, resolution=res)
    eyes = [ctx.texture(*EYE, data=_eye_image(*EYE, s)) for s in (1, 2)]
    off = PanelCompositor(ctx, layout)
    rot = PanelCompositor(ctx, layout, warp="rotation")
    scan = PanelCompositor(ctx, layout, warp="rotation+scanline")
    pos = PanelCompositor(ctx, layout, warp="position")
    depth = [_depth_texture(ctx, *EYE) for _ in (0, 1)]
    mesh40 = PanelCompositor(ctx, layout_for_profile(profile, eye_size=EYE, resolution=(40, 40)))
    floor = PanelCompositor(ctx, layout_for_profile(profile, eye_size=EYE, distortion=False))
    floor.program = floor._program(False, False)  # three samples even without chromatic uv
    floor._achromatic = False
    r1 = matrix_from_quat(quat_from_axis_angle([0, 1, 0], math.radians(2.0)))
    r2 = matrix_from_quat(quat_from_axis_angle([0, 1, 0], math.radians(2.5)))

    # Visible pixels: what the lens shows of a white eye image.
    white = [ctx.texture(*EYE, data=np.full((EYE[1], EYE[0], 4), 255, np.uint8)) for _ in (0, 1)]
    off.compose(white)
    panel = off.read_panel()
    visible = float(np.mean(panel[..., 1] > 0))
    for t in white:
        t.release()

    def frame(comp, warp=None):
        def fn():
            comp.compose(eyes, warp=warp, depth=depth if comp is pos else None)
            ctx.finish()

        return fn

    fns = {
        "off": frame(off),
        "rotation": frame(rot, [r1, r1]),
        "scanline": frame(scan, [(r1, r2), (r1, r2)]),
        "position": frame(pos, [PoseWarp(r1, np.array([0.04, 0.0, 0.0]))] * 2),
        "floor": frame(floor),
        "mesh40": frame(mesh40),
    }
    for fn in fns.values():  # warm-up: shader compile, first upload
        fn()
    ctx.check_error("compositor benchmark warm-up")
    med = round_robin_ms(fns, 5 if quick else 30)
    ctx.check_error("compositor benchmark")
    renderer = ctx.info()["renderer"]
    for obj in (off, rot, scan, pos, mesh40, floor, *eyes, *depth):
        obj.release()
    ctx.release()
    floor_visible = med["floor"] * visible
    size = f"{layout.panel_size[0]}x{layout.panel_size[1]} panel, 2x{EYE[0]}x{EYE[1]} eyes"
    return [
        {
            "name": "timewarp (rotation) vs no warp, panel pass",
            "value": med["rotation"],
            "unit": "ms",
            "baseline": med["off"],
            "ratio": med["rotation"] / med["off"],
            "note": f"goal <= 1.05; {size}, auto mesh {res[0]}x{res[1]}, {renderer}",
        },
        {
            "name": "timewarp (rotation+scanline) vs no warp, panel pass",
            "value": med["scanline"],
            "unit": "ms",
            "baseline": med["off"],
            "ratio": med["scanline"] / med["off"],
            "note": "two rotations blended per vertex",
        },
        {
            "name": "timewarp (position, depth) vs no warp, panel pass",
            "value": med["position"],
            "unit": "ms",
            "baseline": med["off"],
            "ratio": med["position"] / med["off"],
            "note": "6 depth lookups (2 per channel) per vertex; nothing more per pixel",
        },
        {
            "name": "timewarp (position, depth) vs timewarp (rotation), panel pass",
            "value": med["position"],
            "unit": "ms",
            "baseline": med["rotation"],
            "ratio": med["position"] / med["rotation"],
            "note": "same run, same mesh",
        },
        {
            "name": "panel pass (no warp) vs 3 samples per visible pixel (floor)",
            "value": med["off"],
            "unit": "ms",
            "baseline": floor_visible,
            "ratio": med["off"] / floor_visible,
            "goal": "ratio <= 1.10",
            "note": f"at <= 0.25 px; floor = 3-sample quad per eye "
            f"({med['floor']:.1f} ms, every viewport pixel) x visible fraction {visible:.3f}",
        },
        {
            "name": "panel pass (timewarp) vs 3 samples per visible pixel (floor)",
            "value": med["rotation"],
            "unit": "ms",
            "baseline": floor_visible,
            "ratio": med["rotation"] / floor_visible,
            "note": "as above, with the rotation warp",
        },
        {
            "name": "panel pass (auto mesh) vs Cardboard-style 40x40 mesh",
            "value": med["off"],
            "unit": "ms",
            "baseline": med["mesh40"],
            "ratio": med["off"] / med["mesh40"],
            "note": f"auto {res[0]}x{res[1]} <= 0.25 px; 40x40 interpolation error "
            f"{err40:.2f} px on this profile",
        },
    ]


if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
