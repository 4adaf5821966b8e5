"""Printable calibration targets: a board file as a PDF or PNG page at true physical size.

The page is the paper (A-series, letter, legal, tabloid) in the orientation the board fits,
the pattern centred on it, and a caption naming the board and its square size under it, with a
50 mm scale bar to check the print with a ruler. The PDF draws a checkerboard's squares as
vector rectangles and embeds the ArUco / ChArUco pattern as an image placed at its exact size
(no resampling by vrkit); the PNG is rendered at the given DPI (pixels per inch, stored in the
file), every square edge within half a pixel of its true place. Print at 100 % ("actual size",
no "fit to page").
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError
from vrkit.vision.board import Board

#: Paper sizes, portrait (width, height) in millimetres.
PAPERS: dict[str, tuple[float, float]] = {
    "a5": (148.0, 210.0),
    "a4": (210.0, 297.0),
    "a3": (297.0, 420.0),
    "a2": (420.0, 594.0),
    "a1": (594.0, 841.0),
    "a0": (841.0, 1189.0),
    "letter": (215.9, 279.4),
    "legal": (215.9, 355.6),
    "tabloid": (279.4, 431.8),
}

_INCH_M = 0.0254
_CAPTION_M = 0.012  # space under the pattern for the caption and scale bar
_SCALE_BAR_M = 0.05


def page_layout(
    board: Board, paper: str, margin_m: float = 0.01
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Page size and the pattern's top-left corner on it, in metres.

    Args:
        board: The board.
        paper: A key of :data:`PAPERS`.
        margin_m: Unprinted border kept free on every side (printers cannot print to the
            edge), metres.

    Returns:
        ``((page_w, page_h), (x0, y0))``: the page in the orientation the pattern fits
        (portrait preferred), and where the pattern's top-left corner goes.

    Raises:
        InputError: Unknown paper, or the pattern and caption fit in neither orientation.
    """
    if paper not in PAPERS:
        raise InputError(f"unknown paper {paper!r}", f"choose one of {', '.join(PAPERS)}")
    w_mm, h_mm = PAPERS[paper]
    ow, oh = board.outline()
    need = (ow + 2 * margin_m, oh + _CAPTION_M + 2 * margin_m)
    for pw, ph in ((w_mm / 1e3, h_mm / 1e3), (h_mm / 1e3, w_mm / 1e3)):
        if need[0] <= pw + 1e-9 and need[1] <= ph + 1e-9:
            return (pw, ph), ((pw - ow) / 2, (ph - oh - _CAPTION_M) / 2)
    larger = [
        name
        for name, (a, b) in PAPERS.items()
        if max(need) <= max(a, b) / 1e3 and min(need) <= min(a, b) / 1e3
    ]
    hint = f"use --paper {larger[0]}" if larger else "use a board with smaller squares"
    raise InputError(
        f"board {board.spec()} is {ow * 1e3:.0f} x {oh * 1e3:.0f} mm and does not fit on "
        f"{paper} paper ({w_mm:g} x {h_mm:g} mm, {margin_m * 1e3:g} mm margins, caption "
        f"{_CAPTION_M * 1e3:g} mm)",
        hint,
    )


def _caption(board: Board) -> str:
    return (
        f"{board.describe()}  |  print at 100 % (actual size): "
        f"the bar is {_SCALE_BAR_M * 1e3:.0f} mm"
    )


def _pattern_image(board: Board, px_per_square: int) -> NDArray[np.uint8]:
    """The pattern without margin, grey (H, W) uint8, ``px_per_square`` pixels per pitch."""
    return board.texture(px_per_square=px_per_square, margin_squares=0.0)


def render_png(
    board: Board, paper: str = "a4", dpi: float = 300.0, margin_m: float = 0.01
) -> NDArray[np.uint8]:
    """The page as a grey (H, W) uint8 image at ``dpi`` pixels per inch.

    Args:
        board: The board.
        paper: A key of :data:`PAPERS`.
        dpi: Pixels per inch of the printout.
        margin_m: Unprinted border on every side, metres.

    Returns:
        The page; one board pitch spans ``pitch / 0.0254 * dpi`` pixels.
    """
    import cv2

    (pw, ph), (x0, y0) = page_layout(board, paper, margin_m)
    px_per_m = dpi / _INCH_M
    page = np.full((round(ph * px_per_m), round(pw * px_per_m)), 255, np.uint8)
    ow, oh = board.outline()
    x_px, y_px = round(x0 * px_per_m), round(y0 * px_per_m)
    w_px, h_px = round(ow * px_per_m), round(oh * px_per_m)
    # Render finer than the page, then area-average down: edges land within half a pixel.
    fine = _pattern_image(board, max(16, 4 * math.ceil(board.pitch * px_per_m)))
    page[y_px : y_px + h_px, x_px : x_px + w_px] = cv2.resize(
        fine, (w_px, h_px), interpolation=cv2.INTER_AREA
    )
    # Caption and scale bar under the pattern.
    top = y_px + h_px + round(0.003 * px_per_m)
    bar_h = max(1, round(0.001 * px_per_m))
    page[top : top + bar_h, x_px : x_px + round(_SCALE_BAR_M * px_per_m)] = 0
    scale = 0.0025 * px_per_m / 22.0  # Hershey simplex: about 22 px high at scale 1
    cv2.putText(
        page,
        _caption(board),
        (x_px, top + bar_h + round(0.005 * px_per_m)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        0,
        max(1, round(scale * 1.5)),
        cv2.LINE_AA,
    )
    return page


def png_bytes(page: NDArray[np.uint8], dpi: float) -> bytes:
    """A grey page as PNG bytes with its DPI recorded (pHYs), so viewers print it to size."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(page, mode="L").save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def pdf_bytes(board: Board, paper: str = "a4", margin_m: float = 0.01) -> bytes:
    """The page as a one-page PDF of the paper's exact size."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    (pw, ph), (x0, y0) = page_layout(board, paper, margin_m)
    fig = Figure(figsize=(pw / _INCH_M, ph / _INCH_M))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, pw)
    ax.set_ylim(ph, 0.0)  # y down, as on the page
    ax.set_axis_off()
    ow, oh = board.outline()
    if board.kind == "checkerboard":
        cols, rows = board.grid
        s = board.square_size
        for r in range(rows):
            for c in range(cols):
                if (r + c) % 2 == 0:
                    ax.add_patch(Rectangle((x0 + c * s, y0 + r * s), s, s, facecolor="black", lw=0))
    else:
        image = _pattern_image(board, 120)
        ax.imshow(
            image,
            cmap="gray",
            vmin=0,
            vmax=255,
            extent=(x0, x0 + ow, y0 + oh, y0),
            interpolation="none",
            aspect="auto",  # the axes already span the page at 1:1; never let imshow resize it
        )
        ax.set_xlim(0.0, pw)
        ax.set_ylim(ph, 0.0)
    top = y0 + oh + 0.003
    ax.add_patch(Rectangle((x0, top), _SCALE_BAR_M, 0.001, facecolor="black", lw=0))
    ax.text(x0, top + 0.0065, _caption(board), fontsize=7, va="baseline", ha="left")
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    return buf.getvalue()


def write_target(
    board: Board, out: str | Path, paper: str = "a4", dpi: float = 300.0, margin_m: float = 0.01
) -> Path:
    """Write the printable target of a board: ``.pdf`` (vector page) or ``.png`` (at ``dpi``).

    The whole page is made in memory first, then written to a temporary file beside ``out``
    and renamed, so a failure leaves nothing under the final name.

    Args:
        board: The board.
        out: The file to write; its suffix picks the format.
        paper: A key of :data:`PAPERS`.
        dpi: Pixels per inch (PNG only).
        margin_m: Unprinted border on every side, metres.

    Returns:
        The written path.

    Raises:
        InputError: Another suffix, unknown paper, or a board too big for the paper.
    """
    p = Path(out)
    suffix = p.suffix.lower()
    if suffix == ".png":
        data = png_bytes(render_png(board, paper, dpi, margin_m), dpi)
    elif suffix == ".pdf":
        data = pdf_bytes(board, paper, margin_m)
    else:
        raise InputError(f"--out {str(p)!r} must end in .pdf or .png")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent if str(p.parent) else ".")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
