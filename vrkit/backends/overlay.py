"""The simulator's frame-time overlay: seven-segment digits and a bar graph, as triangles.

:func:`overlay_geometry` is pure numpy (rectangles in window pixels, tested without GL);
:class:`Overlay` draws its triangles over the window with alpha blending.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from vrkit.gl.context import GLContext
from vrkit.gl.resources import Program, VertexArray

# Seven-segment cell of height 1 and width 0.6; segments a..g as (x, y, w, h), y down.
_T = 0.12
_W = 0.6
_SEGMENT_RECTS = np.array(
    [
        [_T, 0.0, _W - 2 * _T, _T],  # a: top
        [_W - _T, _T, _T, 0.5 - 1.5 * _T],  # b: upper right
        [_W - _T, 0.5 + 0.5 * _T, _T, 0.5 - 1.5 * _T],  # c: lower right
        [_T, 1.0 - _T, _W - 2 * _T, _T],  # d: bottom
        [0.0, 0.5 + 0.5 * _T, _T, 0.5 - 1.5 * _T],  # e: lower left
        [0.0, _T, _T, 0.5 - 1.5 * _T],  # f: upper left
        [_T, 0.5 - 0.5 * _T, _W - 2 * _T, _T],  # g: middle
    ]
)
GLYPHS = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg", "5": "acdfg",
    "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg", "-": "g", " ": "",
    "F": "aefg", "P": "abefg", "S": "acdfg", "E": "adefg", "r": "eg", "o": "cdeg",
    "t": "defg", "c": "deg", "n": "ceg", "A": "abcefg",
}  # fmt: skip
_GLYPH_MASKS = {ch: np.array([s in segs for s in "abcdefg"]) for ch, segs in GLYPHS.items()}


def seven_segment_rects(text: str, x: float, y: float, height: float) -> NDArray[np.float64]:
    """Rectangles drawing ``text`` as seven-segment glyphs.

    Args:
        text: Characters from :data:`GLYPHS` plus ``"."`` (a point after the previous glyph).
        x: Left edge in pixels.
        y: Top edge in pixels (y down).
        height: Glyph height in pixels.

    Returns:
        (N, 4) ``[x, y, w, h]`` pixel rectangles.
    """
    masks, origins, dots = [], [], []
    advance = (_W + 0.25) * height
    cx = x
    for ch in text:
        if ch == ".":
            dots.append([cx - 0.2 * height, y + (1 - _T) * height, _T * height, _T * height])
            continue
        if ch not in _GLYPH_MASKS:
            raise ValueError(f"no seven-segment glyph for {ch!r} in {text!r}")
        masks.append(_GLYPH_MASKS[ch])
        origins.append([cx, y])
        cx += advance
    rects = np.zeros((0, 4))
    if masks:
        m = np.array(masks)  # (chars, 7)
        ci, si = np.nonzero(m)
        rects = _SEGMENT_RECTS[si] * height
        rects[:, :2] += np.asarray(origins)[ci]
    return np.vstack([rects, np.reshape(dots, (-1, 4))])


def quads_to_triangles(
    rects: NDArray[np.float64], colors: NDArray[np.float64]
) -> NDArray[np.float32]:
    """Two triangles per rectangle as (6N, 6) float32 ``[x, y, r, g, b, a]`` vertices.

    Args:
        rects: (N, 4) ``[x, y, w, h]`` in pixels.
        colors: (N, 4) or (4,) RGBA in [0, 1].
    """
    r = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    x0, y0 = r[:, 0], r[:, 1]
    x1, y1 = x0 + r[:, 2], y0 + r[:, 3]
    xs = np.stack([x0, x1, x1, x0, x1, x0], 1)
    ys = np.stack([y0, y0, y1, y0, y1, y1], 1)
    c = np.broadcast_to(np.asarray(colors, dtype=np.float64), (len(r), 4))
    verts = np.concatenate(
        [np.stack([xs, ys], -1), np.broadcast_to(c[:, None, :], (len(r), 6, 4))], -1
    )
    return verts.reshape(-1, 6).astype(np.float32)


OVERLAY_BOX = (8.0, 8.0, 232.0, 108.0)  # x, y, w, h in window pixels (top-left origin)
OVERLAY_BACKGROUND = (0.0, 0.0, 0.0, 0.65)
FPS_COLOR = (0.3, 1.0, 0.35, 1.0)
MS_COLOR = (1.0, 0.85, 0.2, 1.0)
BAR_OK_COLOR = (0.3, 0.85, 1.0, 0.9)
BAR_LATE_COLOR = (1.0, 0.3, 0.25, 0.95)


#: Seven-segment labels of the timewarp modes (``vrkit run --warp``) in the overlay.
WARP_LABELS = {"off": "oFF", "rotation": "rot", "rotation+scanline": "rot ScAn", "position": "PoS"}
WARP_COLOR = (0.75, 0.75, 1.0, 1.0)


def overlay_geometry(
    frame_times_ms: list[float] | NDArray[np.float64],
    fps: float,
    period_ms: float,
    warp: str | None = None,
) -> NDArray[np.float32]:
    """Triangles of the overlay: box, FPS and frame-time digits, and a frame-time bar graph.

    Layout (pixels from the window's top-left corner): FPS in green and the latest frame time
    in milliseconds (one decimal) in yellow on the top row; below, one bar per recent frame
    (height proportional to its time, full height = two periods), cyan when within 5 % of
    the period and red when late, with a white line at one period.

    Args:
        frame_times_ms: Recent frame times, oldest first (the last 64 are drawn).
        fps: Frames per second to print.
        period_ms: The display period in milliseconds (target line and colour threshold).
        warp: The run's timewarp mode, shown under the FPS (:data:`WARP_LABELS`), or None.
    """
    bx, by, bw, bh = OVERLAY_BOX
    rects = [np.array([[bx, by, bw, bh]])]
    colors = [np.array([OVERLAY_BACKGROUND])]
    fps_text = f"{min(round(fps), 999):d}"
    d = seven_segment_rects(fps_text + " FPS", bx + 8, by + 8, 22)
    rects.append(d)
    colors.append(np.tile(FPS_COLOR, (len(d), 1)))
    times = np.asarray(frame_times_ms, dtype=np.float64)[-64:]
    ms_text = f"{min(times[-1], 999.9):.1f}" if len(times) else "-"
    d = seven_segment_rects(ms_text, bx + 150, by + 8, 22)
    rects.append(d)
    colors.append(np.tile(MS_COLOR, (len(d), 1)))
    if warp is not None:
        d = seven_segment_rects(WARP_LABELS.get(warp, "-"), bx + 8, by + 36, 12)
        rects.append(d)
        colors.append(np.tile(WARP_COLOR, (len(d), 1)))
    base_y, graph_h = by + bh - 8, 46.0
    full_ms = 2.0 * period_ms
    if len(times):
        hgt = np.clip(times / full_ms, 0.02, 1.0) * graph_h
        xs = bx + 8 + 3.3 * np.arange(len(times))
        bars = np.stack([xs, base_y - hgt, np.full_like(xs, 2.4), hgt], 1)
        late = times > 1.05 * period_ms
        rects.append(bars)
        colors.append(np.where(late[:, None], BAR_LATE_COLOR, BAR_OK_COLOR))
    rects.append(np.array([[bx + 6, base_y - graph_h / 2 - 0.5, 3.3 * 64 + 2, 1.0]]))
    colors.append(np.array([[1.0, 1.0, 1.0, 0.8]]))
    return quads_to_triangles(np.vstack(rects), np.vstack(colors))


class Overlay:
    """Draws :func:`overlay_geometry` over the window with alpha blending.

    Args:
        ctx: The window's GL context (owns the program and buffers).
    """

    def __init__(self, ctx: GLContext) -> None:
        self.ctx = ctx
        self.program: Program = ctx.program("overlay.vert", "overlay.frag")
        self._vbo = ctx.buffer(np.zeros((6, 6), np.float32))
        stride = 6 * 4
        self._vao: VertexArray = ctx.vertex_array(
            self.program,
            {"a_position": (self._vbo, 2, stride, 0), "a_color": (self._vbo, 4, stride, 8)},
            None,
            0,
        )

    def draw(self, window_size: tuple[int, int], vertices: NDArray[np.float32]) -> None:
        """Draw the triangles (from :func:`overlay_geometry`) into the bound window."""
        w, h = window_size
        self._vbo.write(np.ascontiguousarray(vertices, np.float32))
        self._vao.count = len(vertices)
        self.ctx.bind_framebuffer(0, (0, 0, w, h))
        self.ctx.set_state(depth_test=False, blend=True)
        self.program.use()
        self.program.set_vec("u_size", w, h)
        self._vao.draw()
        self.ctx.set_state(depth_test=False, blend=False)

    def release(self) -> None:
        """Release GPU objects; safe to call twice."""
        for obj in (self._vao, self._vbo, self.program):
            obj.release()
