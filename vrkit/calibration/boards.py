"""Calibration boards for the measuring camera: checkerboard and ChArUco.

A board is given on the command line as a short string:

* ``checkerboard:COLSxROWS:SQUARE`` -- inner corners across and down, square side in metres,
  e.g. ``checkerboard:9x6:0.025``;
* ``charuco:COLSxROWS:SQUARE:MARKER[:DICT]`` -- squares across and down, square and marker side
  in metres, ArUco dictionary name (default ``DICT_4X4_50``), e.g.
  ``charuco:7x5:0.04:0.03:DICT_4X4_50``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import InputError

BoardKind = Literal["checkerboard", "charuco"]


@dataclass(frozen=True)
class BoardSpec:
    """A planar calibration target.

    Attributes:
        kind: ``"checkerboard"`` or ``"charuco"``.
        cols: Checkerboard: inner corners across; ChArUco: squares across.
        rows: Checkerboard: inner corners down; ChArUco: squares down.
        square_m: Side of one square, metres.
        marker_m: ChArUco marker side, metres (None for a checkerboard).
        dictionary: ChArUco ArUco dictionary name, e.g. ``"DICT_4X4_50"``.
    """

    kind: BoardKind
    cols: int
    rows: int
    square_m: float
    marker_m: float | None = None
    dictionary: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("checkerboard", "charuco"):
            raise InputError(f"board kind must be checkerboard or charuco, got {self.kind!r}")
        least = 2 if self.kind == "checkerboard" else 3
        if self.cols < least or self.rows < least:
            raise InputError(f"{self.kind} needs at least {least}x{least}, got {self}")
        if not self.square_m > 0:
            raise InputError(f"board square size must be > 0 metres, got {self.square_m}")
        if self.kind == "charuco":
            if self.marker_m is None or not 0 < self.marker_m < self.square_m:
                raise InputError(
                    f"ChArUco marker side must be > 0 and < square side {self.square_m}, "
                    f"got {self.marker_m}"
                )
            import cv2

            if not hasattr(cv2.aruco, str(self.dictionary)):
                raise InputError(
                    f"unknown ArUco dictionary {self.dictionary!r}", "use e.g. DICT_4X4_50"
                )

    @classmethod
    def parse(cls, text: str) -> BoardSpec:
        """Parse the command-line form (see the module docstring)."""
        m = re.fullmatch(
            r"(checkerboard|chessboard|charuco):(\d+)x(\d+):([0-9.eE+-]+)"
            r"(?::([0-9.eE+-]+))?(?::(DICT_\w+))?",
            text.strip(),
        )
        if not m:
            raise InputError(
                f"cannot read board {text!r}",
                "write checkerboard:9x6:0.025 (inner corners, square metres) or "
                "charuco:7x5:0.04:0.03:DICT_4X4_50 (squares, square and marker metres)",
            )
        kind = "checkerboard" if m.group(1) in ("checkerboard", "chessboard") else "charuco"
        try:
            square = float(m.group(4))
            marker = float(m.group(5)) if m.group(5) else None
        except ValueError:
            raise InputError(f"board {text!r}: sizes must be numbers in metres") from None
        if kind == "checkerboard" and (marker is not None or m.group(6)):
            raise InputError(f"board {text!r}: a checkerboard takes no marker size or dictionary")
        if kind == "charuco" and marker is None:
            raise InputError(f"board {text!r}: a ChArUco board needs a marker size")
        dictionary = (m.group(6) or "DICT_4X4_50") if kind == "charuco" else None
        return cls(kind, int(m.group(2)), int(m.group(3)), square, marker, dictionary)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "kind": self.kind,
            "cols": self.cols,
            "rows": self.rows,
            "square_m": self.square_m,
            "marker_m": self.marker_m,
            "dictionary": self.dictionary,
        }

    def __str__(self) -> str:
        if self.kind == "checkerboard":
            return f"checkerboard:{self.cols}x{self.rows}:{self.square_m:g}"
        return (
            f"charuco:{self.cols}x{self.rows}:{self.square_m:g}:{self.marker_m:g}:{self.dictionary}"
        )

    # ------------------------------------------------------------------ OpenCV objects
    def charuco_board(self) -> Any:
        """The ``cv2.aruco.CharucoBoard`` (ChArUco boards only)."""
        import cv2

        if self.kind != "charuco":
            raise InputError(f"{self} is not a ChArUco board")
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, str(self.dictionary)))
        return cv2.aruco.CharucoBoard(
            (self.cols, self.rows), self.square_m, float(self.marker_m), dictionary
        )

    def corner_object_points(self) -> NDArray[np.float64]:
        """Checkerboard inner corners (cols*rows, 3) in board metres, row-major, z = 0."""
        if self.kind != "checkerboard":
            return np.asarray(self.charuco_board().getChessboardCorners(), dtype=np.float64)
        j, i = np.mgrid[0 : self.rows, 0 : self.cols]
        pts = np.stack([i.ravel(), j.ravel(), np.zeros(i.size)], axis=1)
        return pts * self.square_m

    def board_size_m(self) -> tuple[float, float]:
        """Printed size ``(width, height)`` of the whole board in metres."""
        if self.kind == "checkerboard":
            return ((self.cols + 1) * self.square_m, (self.rows + 1) * self.square_m)
        return (self.cols * self.square_m, self.rows * self.square_m)

    def render(self, px_per_square: int = 60) -> NDArray[np.uint8]:
        """Printable board image, uint8 (H, W), one square per ``px_per_square`` pixels.

        The board's object origin (first inner corner for a checkerboard, the board's top-left
        outer corner for ChArUco) sits one square (checkerboard) or zero squares (ChArUco) from
        the image's top-left corner.
        """
        if self.kind == "charuco":
            size = (self.cols * px_per_square, self.rows * px_per_square)
            return self.charuco_board().generateImage(size, marginSize=0, borderBits=1)
        n_x, n_y = self.cols + 1, self.rows + 1
        yy, xx = np.mgrid[0:n_y, 0:n_x]
        squares = ((xx + yy) % 2 == 0).astype(np.uint8) * 255
        return np.kron(squares, np.ones((px_per_square, px_per_square), dtype=np.uint8))


@dataclass
class BoardDetection:
    """Board features found in one image.

    Attributes:
        object_points: (N, 3) float64 board coordinates, metres.
        image_points: (N, 2) float64 pixel positions (OpenCV convention), sub-pixel refined.
    """

    object_points: NDArray[np.float64]
    image_points: NDArray[np.float64]


def detect_board(
    gray: NDArray[np.uint8], board: BoardSpec, subpix_window: int | None = None
) -> BoardDetection | None:
    """Find the board in a grayscale image, refining corners to sub-pixel accuracy.

    Args:
        gray: (H, W) uint8 image.
        board: What to look for.
        subpix_window: Half side of the ``cv2.cornerSubPix`` search window in pixels; None
            picks 0.4x the smallest corner spacing (at most 11), so that the window never
            reaches the neighbouring corners. OpenCV's calibration sample uses 11.

    Returns:
        The detection, or None when the board is not found (or, for ChArUco, fewer than 6
        corners are seen).
    """
    import cv2

    if board.kind == "charuco":
        detector = cv2.aruco.CharucoDetector(board.charuco_board())
        corners, ids, _, _ = detector.detectBoard(gray)
        if ids is None or len(ids) < 6:
            return None
        obj, img = board.charuco_board().matchImagePoints(corners, ids)
        return BoardDetection(obj.reshape(-1, 3).astype(np.float64), img.reshape(-1, 2))

    size = (board.cols, board.rows)
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(gray, size, flags=flags)
    if found:
        pts = corners.reshape(-1, 2)
        # Search window: at most half the smallest distance between neighbouring corners.
        grid = pts.reshape(board.rows, board.cols, 2)
        spacing = min(
            float(np.min(np.linalg.norm(np.diff(grid, axis=1), axis=2))),
            float(np.min(np.linalg.norm(np.diff(grid, axis=0), axis=2))),
        )
        win = subpix_window or int(np.clip(spacing * 0.4, 2, 11))
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
        corners = cv2.cornerSubPix(gray, corners, (win, win), (-1, -1), crit)
    else:
        found, corners = cv2.findChessboardCornersSB(
            gray, size, flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_ACCURACY
        )
        if not found:
            return None
    return BoardDetection(board.corner_object_points(), corners.reshape(-1, 2).astype(np.float64))


def sharpness(gray: NDArray[np.uint8], region: NDArray[np.float64] | None = None) -> float:
    """Focus measure: variance of the Laplacian, inside the bounding box of ``region``.

    Args:
        gray: (H, W) uint8 image.
        region: (N, 2) pixel points whose bounding box is measured, or None for the whole image.

    Returns:
        The variance of the 3x3 Laplacian (grey levels squared); low means blurred.
    """
    import cv2

    img = gray
    if region is not None and len(region):
        x0, y0 = np.floor(region.min(axis=0)).astype(int)
        x1, y1 = np.ceil(region.max(axis=0)).astype(int) + 1
        h, w = gray.shape[:2]
        img = gray[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
        if img.size < 16:
            img = gray
    return float(cv2.Laplacian(img, cv2.CV_64F).var())
