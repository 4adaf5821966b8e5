"""Lens distortion pass (baked mesh) vs a plain textured blit of the same size; mesh vs per-pixel.

Panel 2880x1600 (generic-1440x1600 profile), two 1440x1600 eye textures with content. In one EGL
context, round-robin (one frame of each per round), each frame waits for the GPU (glFinish):

* blit: each eye texture copied into its half of the panel with ``blit.frag`` (one sample);
* mesh, chromatic: the baked mesh per eye at the automatic resolution, three samples per
  fragment (production path), and the same at 40x40 (the Cardboard SDK's density);
* mesh, achromatic: the same mesh with one sample (what a lens without chromatic terms gets);
* per-pixel: ``distortion_perpixel.frag`` evaluating the lens polynomial per fragment;
* the three-sample shader on two triangles per eye (no lens): what three samples alone cost.

Also reported: mesh baking time on the CPU (numpy), once per profile load. Quality of mesh vs
per-pixel is checked in tests/test_distortion_pass.py (mean absolute difference < 0.5 / 255).
"""

from __future__ import annotations

import time

import numpy as np
from _timing import round_robin_ms

from vrkit.gl.egl import create_headless_context
from vrkit.optics.profile import load_profile
from vrkit.render.distortion import (
    PerPixelDistortionPass,
    layout_for_profile,
    meshes_for_profile,
    profile_mesh_resolution,
)
from vrkit.render.panel import PanelCompositor

EYE = (1440, 1600)


def _eye_image(w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 4), dtype=np.uint8)
    img = np.repeat(np.repeat(img, 8, 0), 8, 1)[:h, :w].copy()
    img[..., 3] = 255
    return img


def run(quick: bool) -> list[dict]:
    profile = load_profile("generic-1440x1600")
    t0 = time.perf_counter()
    res = profile_mesh_resolution(profile, "auto")
    auto_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    meshes_for_profile(profile, res)
    bake_s = time.perf_counter() - t0

    ctx = create_headless_context()
    layout = layout_for_profile(profile, eye_size=EYE, resolution=res)
    eyes = [ctx.texture(*EYE, data=_eye_image(*EYE, s)) for s in (1, 2)]
    mesh = PanelCompositor(ctx, layout)
    mesh_achromatic = PanelCompositor(ctx, layout)
    mesh_achromatic._achromatic = True  # one sample per pixel: the green channel's UV for all three
    mesh40 = PanelCompositor(ctx, layout_for_profile(profile, eye_size=EYE, resolution=(40, 40)))
    # Two triangles per eye, three samples: the shader's own cost without any mesh.
    quad3 = PanelCompositor(ctx, layout_for_profile(profile, eye_size=EYE, distortion=False))
    quad3._achromatic = False  # three samples per pixel although the quad needs no per-channel UVs
    perpixel = PerPixelDistortionPass(ctx, profile, layout)
    blit_prog = ctx.program("blit.vert", "blit.frag")
    blit_fb = ctx.framebuffer(*layout.panel_size, depth=False)
    ph = layout.panel_size[1]

    def blit_frame():
        ctx.set_state(depth_test=False)
        blit_prog.use()
        blit_prog.set_int("u_image", 0)
        for (x, y, w, h), tex in zip(layout.viewports, eyes, strict=True):
            ctx.bind_framebuffer(blit_fb.fbo, (x, ph - y - h, w, h))
            tex.bind(0)
            ctx.draw_fullscreen_triangle()
        ctx.finish()

    def mesh_frame():
        mesh.compose(eyes)
        ctx.finish()

    def achromatic_frame():
        mesh_achromatic.compose(eyes)
        ctx.finish()

    def mesh40_frame():
        mesh40.compose(eyes)
        ctx.finish()

    def quad3_frame():
        quad3.compose(eyes)
        ctx.finish()

    def perpixel_frame():
        perpixel.compose(eyes)
        ctx.finish()

    fns = {
        "blit": blit_frame,
        "mesh": mesh_frame,
        "achromatic": achromatic_frame,
        "mesh40": mesh40_frame,
        "quad3": quad3_frame,
        "perpixel": perpixel_frame,
    }
    for fn in fns.values():  # warm-up: shader compile, first upload
        fn()
    ctx.check_error("distortion benchmark warm-up")
    # Round-robin, one frame of each variant per round, so load from other processes on this
    # machine hits every variant alike.
    med = round_robin_ms(fns, 15 if quick else 60)
    ctx.check_error("distortion benchmark")
    renderer = ctx.info()["renderer"]
    ctx.release()
    size = f"{layout.panel_size[0]}x{layout.panel_size[1]} panel from 2x{EYE[0]}x{EYE[1]} eyes"
    return [
        {
            "name": "distortion pass (mesh, chromatic) vs plain blit",
            "value": med["mesh"],
            "unit": "ms",
            "baseline": med["blit"],
            "ratio": med["mesh"] / med["blit"],
            "note": f"goal <= 1.25; {size}, auto mesh {res[0]}x{res[1]} per eye (<= 0.25 px "
            f"interpolation error), 3 samples/fragment, {renderer}",
        },
        {
            "name": "distortion pass (mesh 40x40, chromatic) vs plain blit",
            "value": med["mesh40"],
            "unit": "ms",
            "baseline": med["blit"],
            "ratio": med["mesh40"] / med["blit"],
            "note": "Cardboard SDK's mesh density (coarser: up to ~1 px interpolation error here)",
        },
        {
            "name": "distortion pass (mesh, achromatic) vs plain blit",
            "value": med["achromatic"],
            "unit": "ms",
            "baseline": med["blit"],
            "ratio": med["achromatic"] / med["blit"],
            "note": "1 sample/fragment (lens without chromatic terms)",
        },
        {
            "name": "3-sample shader on 2 triangles/eye (no lens) vs plain blit",
            "value": med["quad3"],
            "unit": "ms",
            "baseline": med["blit"],
            "ratio": med["quad3"] / med["blit"],
            "note": "three samples on every pixel of both viewports, nothing skipped, no mesh",
        },
        {
            "name": "per-pixel polynomial vs mesh (chromatic)",
            "value": med["perpixel"],
            "unit": "ms",
            "baseline": med["mesh"],
            "ratio": med["perpixel"] / med["mesh"],
            "note": "distortion_perpixel.frag, comparison variant only",
        },
        {
            "name": f"mesh baking, both eyes {res[0]}x{res[1]} (numpy)",
            "value": bake_s * 1e3,
            "unit": "ms",
            "note": f"once per profile load; choosing the resolution took {auto_s * 1e3:.0f} ms",
        },
    ]


if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
