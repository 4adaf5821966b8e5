"""Stereo render + panel composition: vrkit's path vs a minimal raw PyOpenGL script.

Scene: ~10k triangles (10 lit spheres of 1024 triangles plus a floor), drawn into two
1440x1600 eye targets and composed side by side into a 2880x1600 panel. Both paths run in the
same EGL context, interleaved in blocks, and wait for the GPU each frame (glFinish), so the
ratio is vrkit's per-frame cost over the raw script's.

Like with like: both draw into sRGB eye textures (GL_FRAMEBUFFER_SRGB encodes the linear shader
output) and encode once in the panel pass, as correct colour needs; both without MSAA, then both
with 4x MSAA (multisampled renderbuffers resolved by a blit before the panel pass). The last row
is what MSAA costs vrkit (llvmpipe shades and stores per sample).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from _rawgl import RawSceneDraws, bench_scene, compile_program
from OpenGL import GL

from vrkit.core.types import Fov, FrameInfo, Pose
from vrkit.gl.egl import create_headless_context
from vrkit.math.projection import projection_from_fov
from vrkit.math.stereo import eye_views
from vrkit.math.transforms import invert_transform
from vrkit.render.panel import PanelCompositor, side_by_side_layout
from vrkit.render.renderer import StereoRenderer
from vrkit.render.scene import Scene
from vrkit.render.targets import EyeTargets, RenderTarget

EYE = (1440, 1600)
FOV = Fov.from_degrees(-50, 45, 52, -55)


class RawScript:
    """What a careful author would write with PyOpenGL directly, no vrkit."""

    def __init__(self, scene: Scene, samples: int = 1) -> None:
        self.scene_draws = RawSceneDraws(scene)
        self.panel_prog = compile_program("blit.vert", "blit.frag", {"ENCODE_SRGB": True})
        self.fbos, self.texs, self.ms_fbos = [], [], []
        for i, (w, h) in enumerate((EYE, EYE, (2 * EYE[0], EYE[1]))):
            fbo = GL.glGenFramebuffers(1)
            tex = GL.glGenTextures(1)
            fmt = GL.GL_SRGB8_ALPHA8 if i < 2 else GL.GL_RGBA8
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
            GL.glTexImage2D(
                GL.GL_TEXTURE_2D, 0, fmt, w, h, 0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, None
            )
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0
            )
            rb = GL.glGenRenderbuffers(1)
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rb)
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, w, h)
            GL.glFramebufferRenderbuffer(
                GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, rb
            )
            self.fbos.append(fbo)
            self.texs.append(tex)
            if samples > 1 and i < 2:
                ms = GL.glGenFramebuffers(1)
                GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, ms)
                for fmt, point in ((GL.GL_SRGB8_ALPHA8, GL.GL_COLOR_ATTACHMENT0),
                                   (GL.GL_DEPTH_COMPONENT24, GL.GL_DEPTH_ATTACHMENT)):  # fmt: skip
                    rb = GL.glGenRenderbuffers(1)
                    GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rb)
                    GL.glRenderbufferStorageMultisample(GL.GL_RENDERBUFFER, samples, fmt, w, h)
                    GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, point, GL.GL_RENDERBUFFER, rb)
                self.ms_fbos.append(ms)
        self.empty_vao = GL.glGenVertexArrays(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)

    def frame(self, views) -> None:
        GL.glEnable(GL.GL_FRAMEBUFFER_SRGB)
        for i, (view, fbo) in enumerate(zip(views, self.fbos[:2], strict=True)):
            vp = (projection_from_fov(view.fov) @ invert_transform(view.pose.matrix())).astype(
                np.float32
            )
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.ms_fbos[i] if self.ms_fbos else fbo)
            GL.glViewport(0, 0, *EYE)
            GL.glClearColor(0.05, 0.05, 0.08, 1)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
            self.scene_draws.draw(vp)
            if self.ms_fbos:
                GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.ms_fbos[i])
                GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, fbo)
                GL.glBlitFramebuffer(
                    0, 0, *EYE, 0, 0, *EYE, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST
                )  # fmt: skip
        GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbos[2])
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glUseProgram(self.panel_prog)
        GL.glBindVertexArray(self.empty_vao)
        for i, tex in enumerate(self.texs[:2]):
            GL.glViewport(i * EYE[0], 0, *EYE)
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glFinish()


def _time_pair(fa, fb, blocks: int, per_block: int) -> tuple[float, float]:
    fa(), fb()  # warm-up: shader compile, first upload
    ta, tb = [], []
    for _ in range(blocks):
        for fn, out in ((fa, ta), (fb, tb)):
            for _ in range(per_block):
                s = time.perf_counter()
                fn()
                out.append(time.perf_counter() - s)
    return statistics.median(ta), statistics.median(tb)


def run(quick: bool) -> list[dict]:
    ctx = create_headless_context()
    scene = bench_scene()
    tris = scene.triangle_count
    renderer = StereoRenderer(ctx)
    views = eye_views(Pose([0, 1.6, 0]), FOV, FOV)
    frame = FrameInfo(0, 0, 0, views, Pose())
    compositor = PanelCompositor(ctx, side_by_side_layout(EYE, FOV))
    blocks, per_block = (3, 4) if quick else (8, 12)
    results = {}
    for samples in (1, 4):
        eyes = EyeTargets(ctx, [EYE, EYE], samples)
        raw = RawScript(scene, samples)

        def vrkit_frame(eyes=eyes):
            renderer.render(scene, frame, eyes.targets)
            compositor.compose([fb.color for fb in eyes.framebuffers])
            ctx.finish()

        def raw_frame(raw=raw):
            raw.frame(views)

        results[samples] = _time_pair(vrkit_frame, raw_frame, blocks, per_block)
        if samples == 1:
            # What correct colour costs: the same frame into plain GL_RGBA8 eye textures, no
            # encoding anywhere (the pre-sRGB pipeline).
            plain_fbs = [ctx.framebuffer(*EYE) for _ in range(2)]
            plain = [RenderTarget(fb.fbo, *EYE, framebuffer=fb) for fb in plain_fbs]

            def plain_frame(plain=plain, plain_fbs=plain_fbs):
                renderer.render(scene, frame, plain)
                compositor.compose([fb.color for fb in plain_fbs])
                ctx.finish()

            results["plain"] = _time_pair(vrkit_frame, plain_frame, blocks // 2, per_block)
            for fb in plain_fbs:
                fb.release()
        eyes.release()
    renderer_name = ctx.info()["renderer"]
    ctx.release()
    note = (
        f"{tris} triangles, 2x{EYE[0]}x{EYE[1]} sRGB eyes + {2 * EYE[0]}x{EYE[1]} panel, "
        f"{renderer_name}"
    )
    (v1, r1), (v4, r4) = results[1], results[4]
    return [
        {"name": "stereo frame, vrkit (fps)", "value": 1 / v1, "unit": "fps", "note": note},
        {"name": "stereo frame, raw PyOpenGL (fps)", "value": 1 / r1, "unit": "fps"},
        {
            "name": "frame time vrkit vs raw, MSAA off",
            "value": v1 * 1e3,
            "unit": "ms",
            "baseline": r1 * 1e3,
            "ratio": v1 / r1,
            "note": "goal <= 1.10",
        },
        {
            "name": "frame time vrkit vs raw, MSAA 4x",
            "value": v4 * 1e3,
            "unit": "ms",
            "baseline": r4 * 1e3,
            "ratio": v4 / r4,
            "note": "goal <= 1.10",
        },
        {
            "name": "frame time vrkit sRGB (correct colour) vs plain RGBA8, MSAA off",
            "value": results["plain"][0] * 1e3,
            "unit": "ms",
            "baseline": results["plain"][1] * 1e3,
            "ratio": results["plain"][0] / results["plain"][1],
            "note": "reported: llvmpipe converts in software",
        },
        {
            "name": "frame time vrkit MSAA 4x vs MSAA off",
            "value": v4 * 1e3,
            "unit": "ms",
            "baseline": v1 * 1e3,
            "ratio": v4 / v1,
            "note": "reported: llvmpipe shades per sample",
        },
    ]
