"""The one calibration-board definition: checkerboard, ChArUco and ArUco grid.

A board knows its squares *and* its inner corners, its object points, its ArUco dictionary, how
to find itself in an image and how it looks printed. Camera intrinsics (``vrkit calibrate
camera``) and rig calibration (``vrkit track calibrate-rig``) both take it, as a spec string or
a board file, through :func:`load_board`.

Spec strings (``--board``). The count's unit may be written after it; without one it is the
unit OpenCV's own functions take, as the README documents:

* ``checkerboard:COLSxROWS:SQUARE`` -- **inner corners** across and down (OpenCV's
  ``patternSize``), square side in metres: ``checkerboard:9x6:0.025`` is a board of 10x7
  squares. Explicit: ``checkerboard:9x6corners:0.025`` or ``checkerboard:10x7squares:0.025``.
* ``charuco:COLSxROWS:SQUARE:MARKER[:DICT]`` -- **squares** across and down (OpenCV's
  ``CharucoBoard``), square and marker side in metres, ArUco dictionary (default
  ``DICT_4X4_50``): ``charuco:7x5:0.04:0.03:DICT_4X4_50``; ``charuco:6x4corners:...`` also works.
* ``aruco:COLSxROWS:MARKER:GAP[:DICT]`` -- **markers** across and down (OpenCV's ``GridBoard``),
  marker side and the gap between markers in metres: ``aruco:5x7:0.04:0.01``.

Board files (``"schema": "vrkit.tracking.board/1"``, named by squares, e.g.
``calibration/tracking-board-checkerboard-10x7.json``)::

    {"schema": "vrkit.tracking.board/1", "kind": "checkerboard", "squares": [10, 7],
     "square_size": 0.025}
    {"schema": "vrkit.tracking.board/1", "kind": "charuco", "squares": [9, 7],
     "square_size": 0.035, "marker_size": 0.026, "dictionary": "DICT_4X4_50"}
    {"schema": "vrkit.tracking.board/1", "kind": "aruco", "markers": [5, 7],
     "marker_size": 0.04, "marker_separation": 0.01, "dictionary": "DICT_4X4_50"}

A checkerboard file may give ``"inner_corners": [9, 6]`` instead of ``squares``.

Board frame (metres, z = 0 on the print, z into the board): x right and y down the print.
Origin: a checkerboard's first inner corner; a ChArUco board's outer top-left corner; an ArUco
grid's first marker's top-left corner (all as OpenCV's own boards). A checkerboard's top-left
square is black, as OpenCV's printed pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import InputError, ProfileError
from vrkit.resources import resolve_file, shipped_names
from vrkit.vision.corners import as_gray, refine_marker_corners, refine_saddle_corners

F64 = NDArray[np.float64]
BoardKind = Literal["checkerboard", "charuco", "aruco"]
BOARD_SCHEMA = "vrkit.tracking.board/1"
DEFAULT_DICTIONARY = "DICT_4X4_50"
#: Fewest features a detection must hold (ChArUco corners, checkerboard always has them all).
MIN_POINTS = 6
_KINDS = ("checkerboard", "charuco", "aruco")
_SPEC_HELP = (
    "write checkerboard:9x6:0.025 (inner corners; or 10x7squares), "
    "charuco:7x5:0.04:0.03[:DICT_4X4_50] (squares, square and marker metres) or "
    "aruco:5x7:0.04:0.01[:DICT_4X4_50] (markers, marker and gap metres), or give a board file"
)


def aruco_dictionary(name: str) -> Any:
    """The ``cv2.aruco`` predefined dictionary called ``name`` (e.g. ``"DICT_4X4_50"``).

    Raises:
        ProfileError: No such dictionary in this OpenCV.
    """
    import cv2

    code = getattr(cv2.aruco, str(name), None) if str(name).startswith("DICT_") else None
    if not isinstance(code, int):
        raise ProfileError(f"unknown ArUco dictionary {name!r}", "use e.g. 'DICT_4X4_50'")
    return cv2.aruco.getPredefinedDictionary(code)


@dataclass
class BoardDetection:
    """Board features found in one image.

    Attributes:
        ids: (N,) int64 indices into :meth:`Board.object_points`, ascending.
        image_points: (N, 2) float64 pixels (OpenCV convention), sub-pixel refined.
        object_points: (N, 3) float64 board-frame points of the same features, metres.
    """

    ids: NDArray[np.int64]
    image_points: F64
    object_points: F64


@dataclass(frozen=True)
class Board:
    """A planar calibration board (see the module docstring for the conventions).

    Attributes:
        kind: ``"checkerboard"``, ``"charuco"`` or ``"aruco"`` (an ArUco grid board).
        grid: ``(columns, rows)`` of **squares** (checkerboard, ChArUco) or of **markers**
            (ArUco grid). A checkerboard of ``grid`` squares has ``grid - 1`` inner corners.
        square_size: Square side in metres (checkerboard, ChArUco).
        marker_size: Marker side in metres, black border included (ChArUco, ArUco grid).
        dictionary: ArUco dictionary name (ChArUco, ArUco grid).
        marker_separation: Gap between neighbouring markers in metres (ArUco grid).

    Raises:
        ProfileError: A value the board cannot have, named in one line.
    """

    kind: BoardKind
    grid: tuple[int, int]
    square_size: float = 0.0
    marker_size: float = 0.0
    dictionary: str = DEFAULT_DICTIONARY
    marker_separation: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ProfileError(
                f"board kind must be checkerboard, charuco or aruco, got {self.kind!r}"
            )
        try:
            cols, rows = (int(v) for v in self.grid)
            sizes = [float(v) for v in (self.square_size, self.marker_size, self.marker_separation)]
        except (TypeError, ValueError):
            raise ProfileError(f"board {self.kind}: grid and sizes must be numbers") from None
        object.__setattr__(self, "grid", (cols, rows))
        for name, v in zip(("square_size", "marker_size", "marker_separation"), sizes, strict=True):
            if not np.isfinite(v):
                raise ProfileError(f"board {name} must be a finite number of metres, got {v}")
            object.__setattr__(self, name, v)
        if self.kind == "aruco":
            if cols < 1 or rows < 1 or cols * rows < 2:
                raise ProfileError(f"an ArUco grid needs at least 2 markers, got {cols}x{rows}")
            if not self.marker_size > 0 or not self.marker_separation > 0:
                raise ProfileError(
                    f"an ArUco grid needs marker_size > 0 and marker_separation > 0 metres, got "
                    f"{self.marker_size} and {self.marker_separation}"
                )
        else:
            least = 3
            if cols < least or rows < least:
                raise ProfileError(
                    f"a {self.kind} board needs at least {least}x{least} squares "
                    f"({least - 1}x{least - 1} inner corners), got {cols}x{rows} squares"
                )
            if not self.square_size > 0:
                raise ProfileError(f"board square_size must be > 0 metres, got {self.square_size}")
        if self.kind == "charuco" and not 0 < self.marker_size < self.square_size:
            raise ProfileError(
                f"ChArUco marker_size must be > 0 and < square_size {self.square_size:g} m, got "
                f"{self.marker_size:g}"
            )
        if self.kind != "checkerboard":
            d = aruco_dictionary(self.dictionary)
            if self.n_markers > d.bytesList.shape[0]:
                raise ProfileError(
                    f"{self.describe()} needs {self.n_markers} markers but {self.dictionary} "
                    f"has {d.bytesList.shape[0]}",
                    "use a larger dictionary (e.g. DICT_4X4_250) or a smaller board",
                )

    # ------------------------------------------------------------------ counts
    @property
    def squares(self) -> tuple[int, int]:
        """``(columns, rows)`` of squares (checkerboard, ChArUco)."""
        self._require("squares", ("checkerboard", "charuco"))
        return self.grid

    @property
    def inner_corners(self) -> tuple[int, int]:
        """Inner corners ``(columns, rows)``, OpenCV's ``patternSize`` (checkerboard, ChArUco)."""
        self._require("inner corners", ("checkerboard", "charuco"))
        return (self.grid[0] - 1, self.grid[1] - 1)

    @property
    def markers(self) -> tuple[int, int]:
        """``(columns, rows)`` of markers (ArUco grid)."""
        self._require("a marker grid", ("aruco",))
        return self.grid

    @property
    def n_markers(self) -> int:
        """Number of ArUco markers on the board (0 for a checkerboard)."""
        cols, rows = self.grid
        if self.kind == "aruco":
            return cols * rows
        if self.kind == "charuco":
            return (cols * rows) // 2
        return 0

    @property
    def n_points(self) -> int:
        """Number of features: inner corners, or 4 corners per marker (ArUco grid)."""
        cols, rows = self.grid
        return 4 * cols * rows if self.kind == "aruco" else (cols - 1) * (rows - 1)

    def _require(self, what: str, kinds: tuple[str, ...]) -> None:
        if self.kind not in kinds:
            raise InputError(f"{self.describe()} has no {what}")

    # ------------------------------------------------------------------ geometry
    def object_points(self) -> F64:
        """Features (N, 3) in the board frame (z = 0), metres, in id order.

        Checkerboard and ChArUco: inner corners row by row (x fastest), id = ``row * (columns
        - 1) + column``. ArUco grid: the 4 corners (top-left, top-right, bottom-right,
        bottom-left) of marker ``m = row * columns + column``, id = ``4 m + k``.
        """
        cols, rows = self.grid
        if self.kind == "aruco":
            step = self.marker_size + self.marker_separation
            j, i = np.mgrid[0:rows, 0:cols]
            tl = np.stack([i.ravel() * step, j.ravel() * step], axis=1)
            s = self.marker_size
            offs = np.array([[0.0, 0.0], [s, 0.0], [s, s], [0.0, s]])
            xy = (tl[:, None, :] + offs[None]).reshape(-1, 2)
        else:
            j, i = np.mgrid[0 : rows - 1, 0 : cols - 1]
            first = 0.0 if self.kind == "checkerboard" else 1.0
            xy = (np.stack([i.ravel(), j.ravel()], axis=1) + first) * self.square_size
        return np.hstack([xy, np.zeros((len(xy), 1))])

    def outline(self) -> tuple[float, float]:
        """Printed size ``(width, height)`` of the pattern (no margin), metres."""
        cols, rows = self.grid
        if self.kind == "aruco":
            step = self.marker_size + self.marker_separation
            return (cols * step - self.marker_separation, rows * step - self.marker_separation)
        return (cols * self.square_size, rows * self.square_size)

    @property
    def pitch(self) -> float:
        """Square side (checkerboard, ChArUco) or marker side (ArUco grid), metres.

        The board's length unit: one "square" of :meth:`texture` and :meth:`texture_rect`.
        """
        return self.marker_size if self.kind == "aruco" else self.square_size

    def texture_rect(self, margin_squares: float = 0.5) -> tuple[tuple[float, float], ...]:
        """Board-frame ``(x, y)`` of the top-left and bottom-right corners of :meth:`texture`.

        Args:
            margin_squares: The white margin around the pattern, in squares (in marker sides
                for an ArUco grid).

        Returns:
            ``((x0, y0), (x1, y1))`` in metres.
        """
        m = margin_squares * self.pitch
        w, h = self.outline()
        off = self.square_size if self.kind == "checkerboard" else 0.0
        return (-off - m, -off - m), (w - off + m, h - off + m)

    def texture(self, px_per_square: int = 64, margin_squares: float = 0.5) -> NDArray[np.uint8]:
        """The printed board as a grey (H, W) uint8 image with a white margin.

        Args:
            px_per_square: Pixels per square side (per marker side for an ArUco grid).
            margin_squares: White margin around the pattern, in squares (marker sides).

        Returns:
            The image; it spans :meth:`texture_rect` of the board frame, at
            ``px_per_square / square`` pixels per metre.
        """
        import cv2

        cols, rows = self.grid
        px_per_m = px_per_square / self.pitch
        w, h = (round(v * px_per_m) for v in self.outline())
        if self.kind == "checkerboard":
            yy, xx = np.mgrid[0:rows, 0:cols]
            cells = np.where((xx + yy) % 2 == 0, 0, 255).astype(np.uint8)
            img = np.kron(cells, np.ones((px_per_square, px_per_square), np.uint8))
        else:
            img = self.cv_board.generateImage((w, h), marginSize=0, borderBits=1)
        m = round(margin_squares * px_per_square)
        return cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT, value=255)

    # ------------------------------------------------------------------ OpenCV objects
    @cached_property
    def cv_board(self) -> Any:
        """OpenCV's own board: ``cv2.aruco.CharucoBoard`` or ``cv2.aruco.GridBoard``."""
        import cv2

        self._require("OpenCV ArUco board", ("charuco", "aruco"))
        d = aruco_dictionary(self.dictionary)
        if self.kind == "charuco":
            return cv2.aruco.CharucoBoard(self.grid, self.square_size, self.marker_size, d)
        return cv2.aruco.GridBoard(self.grid, self.marker_size, self.marker_separation, d)

    # ------------------------------------------------------------------ detection
    def detect(
        self, image: NDArray[Any], subpix_window: int | None = None
    ) -> BoardDetection | None:
        """Find the board in an image, refined to sub-pixel accuracy.

        * Checkerboard: ``cv2.findChessboardCorners`` (``findChessboardCornersSB`` when that
          fails), ``cv2.cornerSubPix``, and the corners put in a canonical order that matches
          :meth:`object_points` in every view (needed when several cameras see one board).
        * ChArUco: ``cv2.aruco.CharucoDetector``, then each corner moved to the saddle point
          of the blurred X-junction (:func:`~vrkit.vision.corners.refine_saddle_corners`).
        * ArUco grid: ``cv2.aruco.ArucoDetector``, each marker corner refined by fitting lines
          to the marker's edges (:func:`~vrkit.vision.corners.refine_marker_corners`).

        Args:
            image: (H, W) grey or (H, W, 3) BGR image.
            subpix_window: Checkerboard only: half side of ``cv2.cornerSubPix``'s window in
                pixels; None picks 0.4x the smallest corner spacing (2 to 11), so the window
                never reaches the neighbouring corners. OpenCV's calibration sample uses 11.

        Returns:
            The detection, or None when the board is not found or fewer than
            :data:`MIN_POINTS` features are (ChArUco, ArUco grid).
        """
        gray = as_gray(image)
        if self.kind == "charuco":
            return self._detect_charuco(gray)
        if self.kind == "aruco":
            return self._detect_aruco(gray)
        return self._detect_checkerboard(gray, subpix_window)

    def _detection(self, ids: NDArray[np.int64], px: F64) -> BoardDetection:
        order = np.argsort(ids, kind="stable")
        ids = ids[order].astype(np.int64)
        return BoardDetection(ids, px[order].astype(np.float64), self.object_points()[ids])

    def _detect_checkerboard(
        self, gray: NDArray[np.uint8], subpix_window: int | None
    ) -> BoardDetection | None:
        import cv2

        pattern = self.inner_corners
        # no CALIB_CB_FAST_CHECK: it turns away boards that the full search finds (measured on
        # a steep fisheye view, whose fallback corners were then off by up to 1.4 px)
        flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
        found, corners = cv2.findChessboardCorners(gray, pattern, flags=flags)
        if found:
            pts = corners.reshape(pattern[1], pattern[0], 2)
            spacing = min(
                float(np.min(np.linalg.norm(np.diff(pts, axis=1), axis=2))),
                float(np.min(np.linalg.norm(np.diff(pts, axis=0), axis=2))),
            )
            win = subpix_window or int(np.clip(spacing * 0.4, 2, 11))
            crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
            corners = cv2.cornerSubPix(gray, corners, (win, win), (-1, -1), crit)
        else:
            found, corners = cv2.findChessboardCornersSB(
                gray, pattern, flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_ACCURACY
            )
            if not found:
                return None
        px = self._canonical_order(gray, corners.reshape(-1, 2).astype(np.float64))
        return self._detection(np.arange(len(px), dtype=np.int64), px)

    def _canonical_order(self, image: NDArray[np.uint8], px: F64) -> F64:
        """Reorder checkerboard corners (N, 2) so that they match :meth:`object_points`.

        OpenCV may return the grid starting at any corner, mirrored or not. Seen from the
        front, the board's x and y axes keep their handedness in the image (so mirrored orders
        are wrong), and the square between corners 0, 1, n, n + 1 is black (decides between
        the two half-turn orders when ``columns + rows`` of squares is odd; a board with an
        even sum looks the same after a half turn, so either order is right).
        """
        n, m = self.inner_corners
        g = px.reshape(m, n, 2)
        best = g
        for cand in (g, g[::-1, ::-1], g[::-1], g[:, ::-1]):
            ex, ey = cand[0, 1] - cand[0, 0], cand[1, 0] - cand[0, 0]
            if ex[0] * ey[1] - ex[1] * ey[0] <= 0:
                continue
            cx, cy = cand[:2, :2].reshape(-1, 2).mean(axis=0)
            x0, y0 = round(cx), round(cy)
            patch = image[max(y0 - 1, 0) : y0 + 2, max(x0 - 1, 0) : x0 + 2]
            ox, oy = cand[-2:, -2:].reshape(-1, 2).mean(axis=0)  # the opposite end's square
            x1, y1 = round(ox), round(oy)
            other = image[max(y1 - 1, 0) : y1 + 2, max(x1 - 1, 0) : x1 + 2]
            best = cand
            if (self.grid[0] + self.grid[1]) % 2 == 0 or (
                patch.size and other.size and patch.mean() < other.mean()
            ):
                break
        return np.ascontiguousarray(best.reshape(-1, 2))

    def _detect_charuco(self, gray: NDArray[np.uint8]) -> BoardDetection | None:
        import cv2

        corners, ids, _, _ = self._charuco_detector.detectBoard(gray)
        if ids is None or len(ids) < MIN_POINTS:
            return None
        ids = ids.ravel().astype(np.int64)
        px = corners.reshape(-1, 2).astype(np.float64)
        # Saddle-point refinement: the window grows with the local square size in the image
        # (from the board-to-image homography) but stays inside the gap between a corner and
        # the nearest marker edge.
        obj = self.object_points()[ids, :2]
        H, _ = cv2.findHomography(obj, px)
        if H is None:
            return None

        def to_image(p: F64) -> F64:
            q = np.c_[p, np.ones(len(p))] @ H.T
            return q[:, :2] / q[:, 2:]

        s = self.square_size
        p0 = to_image(obj)
        side = np.minimum(
            np.linalg.norm(to_image(obj + np.array([s, 0.0])) - p0, axis=1),
            np.linalg.norm(to_image(obj + np.array([0.0, s])) - p0, axis=1),
        )
        gap = 0.5 * (self.square_size - self.marker_size) / self.square_size
        radius = np.clip(np.floor(gap * side), 2, 4).astype(np.int64)
        px, ok = refine_saddle_corners(gray, px, radius, sigma=1.0)
        if ok.sum() < MIN_POINTS:
            return None
        return self._detection(ids[ok], px[ok])

    @cached_property
    def _charuco_detector(self) -> Any:
        import cv2

        return cv2.aruco.CharucoDetector(self.cv_board)

    @cached_property
    def _aruco_detector(self) -> Any:
        import cv2

        return cv2.aruco.ArucoDetector(
            aruco_dictionary(self.dictionary), cv2.aruco.DetectorParameters()
        )

    def _detect_aruco(self, gray: NDArray[np.uint8]) -> BoardDetection | None:
        corners, ids, _ = self._aruco_detector.detectMarkers(gray)
        if ids is None:
            return None
        ids = ids.ravel().astype(np.int64)
        keep = (ids >= 0) & (ids < self.n_markers)
        if keep.sum() * 4 < MIN_POINTS:
            return None
        # edge-line refinement: OpenCV's corner refinements are off by 0.4-0.7 px (median) on
        # the convex corners of the markers, the edge fit 0.07 px (test_vision_board.py)
        c = refine_marker_corners(gray, np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2))
        c = c[keep]
        point_ids = (4 * ids[keep][:, None] + np.arange(4)[None, :]).ravel()
        return self._detection(point_ids, c.reshape(-1, 2))

    # ------------------------------------------------------------------ text and files
    def spec(self) -> str:
        """The spec string with an explicit unit, e.g. ``checkerboard:9x6corners:0.025``."""
        c, r = self.grid
        if self.kind == "checkerboard":
            return f"checkerboard:{c - 1}x{r - 1}corners:{self.square_size:g}"
        if self.kind == "charuco":
            return (
                f"charuco:{c}x{r}squares:{self.square_size:g}:{self.marker_size:g}:"
                f"{self.dictionary}"
            )
        return (
            f"aruco:{c}x{r}markers:{self.marker_size:g}:{self.marker_separation:g}:"
            f"{self.dictionary}"
        )

    def __str__(self) -> str:
        return self.spec()

    def describe(self) -> str:
        """A human description naming both counts, e.g. for error messages."""
        c, r = self.grid
        if self.kind == "checkerboard":
            return (
                f"checkerboard of {c}x{r} squares ({c - 1}x{r - 1} inner corners), "
                f"{self.square_size * 1e3:g} mm squares"
            )
        if self.kind == "charuco":
            return (
                f"ChArUco board of {c}x{r} squares ({c - 1}x{r - 1} inner corners), "
                f"{self.square_size * 1e3:g} mm squares, {self.marker_size * 1e3:g} mm "
                f"{self.dictionary} markers"
            )
        return (
            f"ArUco grid of {c}x{r} markers, {self.marker_size * 1e3:g} mm {self.dictionary} "
            f"markers {self.marker_separation * 1e3:g} mm apart"
        )

    @classmethod
    def parse(cls, text: str) -> Board:
        """Parse a spec string (see the module docstring).

        Raises:
            InputError: The text is not a board spec; the message shows the accepted forms.
        """
        m = re.fullmatch(
            r"(checkerboard|chessboard|charuco|aruco):(\d+)x(\d+)([a-z]*):([^:]+)"
            r"(?::([^:]+))?(?::(\w+))?",
            text.strip(),
        )
        if not m:
            raise InputError(f"cannot read board {text!r}", _SPEC_HELP)
        kind = "checkerboard" if m.group(1) == "chessboard" else m.group(1)
        cols, rows, unit = int(m.group(2)), int(m.group(3)), m.group(4)
        default = {"checkerboard": "corners", "charuco": "squares", "aruco": "markers"}[kind]
        unit = unit or default
        allowed = ("markers",) if kind == "aruco" else ("corners", "squares")
        if unit not in allowed:
            name = {"checkerboard": "a checkerboard", "charuco": "a ChArUco board",
                    "aruco": "an ArUco grid"}[kind]  # fmt: skip
            raise InputError(
                f"board {text!r}: {name} is counted in {' or '.join(allowed)}, not {unit!r}",
                _SPEC_HELP,
            )
        if unit == "corners":
            cols, rows = cols + 1, rows + 1
        try:
            size = float(m.group(5))
            second = (
                float(m.group(6)) if m.group(6) and not m.group(6).startswith("DICT_") else None
            )
        except ValueError:
            raise InputError(
                f"board {text!r}: sizes must be numbers in metres", _SPEC_HELP
            ) from None
        dictionary = m.group(7)
        if m.group(6) and m.group(6).startswith("DICT_") and not dictionary:
            second, dictionary = None, m.group(6)
        if kind == "checkerboard":
            if second is not None or dictionary:
                raise InputError(
                    f"board {text!r}: a checkerboard takes one size (the square side, metres)",
                    _SPEC_HELP,
                )
            return _parsed(text, cls, kind, (cols, rows), square_size=size)
        if second is None:
            what = (
                "a ChArUco board needs a marker size"
                if kind == "charuco"
                else ("an ArUco grid needs the gap between markers")
            )
            raise InputError(f"board {text!r}: {what}", _SPEC_HELP)
        dictionary = dictionary or DEFAULT_DICTIONARY
        if kind == "charuco":
            return _parsed(text, cls, kind, (cols, rows), size, second, dictionary)
        return _parsed(text, cls, kind, (cols, rows), 0.0, size, dictionary, second)

    def to_dict(self) -> dict[str, Any]:
        """The board file's JSON form."""
        d: dict[str, Any] = {"schema": BOARD_SCHEMA, "kind": self.kind}
        if self.kind == "aruco":
            d.update(
                markers=list(self.grid),
                marker_size=self.marker_size,
                marker_separation=self.marker_separation,
                dictionary=self.dictionary,
            )
            return d
        d.update(squares=list(self.grid), square_size=self.square_size)
        if self.kind == "charuco":
            d.update(marker_size=self.marker_size, dictionary=self.dictionary)
        return d

    @classmethod
    def from_dict(cls, data: Any, source: str = "board") -> Board:
        """Parse the board file's JSON form; problems are one-line errors naming ``source``."""
        if not isinstance(data, dict) or data.get("schema") != BOARD_SCHEMA:
            got = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise ProfileError(
                f"{source}: schema {got!r}, expected {BOARD_SCHEMA!r}",
                "is this a vrkit board file? See docs/tracking.md",
            )
        kind = data.get("kind")
        if kind not in _KINDS:
            raise ProfileError(
                f"{source}: kind must be checkerboard, charuco or aruco, got {kind!r}"
            )
        counts = {k: data[k] for k in ("squares", "inner_corners", "markers") if k in data}
        want = ("markers",) if kind == "aruco" else ("squares", "inner_corners")
        name = {"checkerboard": "a checkerboard", "charuco": "a ChArUco board",
                "aruco": "an ArUco grid"}[kind]  # fmt: skip
        wrong = [k for k in counts if k not in want]
        if wrong:
            raise ProfileError(f"{source}: {name} has no {wrong[0]!r}; give {want[0]!r}")
        given = [k for k in counts if k in want]
        if not given:
            raise ProfileError(f"{source} lacks the field {want[0]!r} ({name}'s grid)")
        grids = {}
        for k in given:
            v = counts[k]
            if (
                not isinstance(v, list)
                or len(v) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in v)
            ):
                raise ProfileError(
                    f"{source}: {k} must be [columns, rows] whole numbers, got {v!r}"
                )
            grids[k] = (v[0] + 1, v[1] + 1) if k == "inner_corners" else (v[0], v[1])
        if len(set(grids.values())) > 1:
            raise ProfileError(
                f"{source}: squares {counts['squares']} and inner_corners "
                f"{counts['inner_corners']} disagree (a board of NxM squares has "
                f"(N-1)x(M-1) inner corners)"
            )
        grid = next(iter(grids.values()))
        sizes = {}
        need = {"checkerboard": ("square_size",), "charuco": ("square_size", "marker_size"),
                "aruco": ("marker_size", "marker_separation")}[kind]  # fmt: skip
        for k in ("square_size", "marker_size", "marker_separation"):
            if k not in data:
                if k in need:
                    raise ProfileError(f"{source} lacks the field {k!r} (metres)")
                continue
            v = data[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ProfileError(f"{source}: {k} must be a number of metres, got {v!r}")
            sizes[k] = float(v)
        dictionary = data.get("dictionary", DEFAULT_DICTIONARY)
        if not isinstance(dictionary, str):
            raise ProfileError(f"{source}: dictionary must be a name such as 'DICT_4X4_50'")
        try:
            return cls(kind, grid, dictionary=dictionary, **sizes)
        except ProfileError as exc:
            raise ProfileError(f"{source}: {exc.message}", exc.hint) from None

    @classmethod
    def load(cls, path: str | Path) -> Board:
        """Read a board file (``vrkit.tracking.board/1``)."""
        p = Path(path)
        data = read_document(p, "board", ProfileError)
        return cls.from_dict(data, source=f"board file {str(p)!r}")


def _parsed(text: str, cls: type[Board], *args: Any, **kwargs: Any) -> Board:
    """``cls(*args, **kwargs)`` with a value error turned into InputError naming the spec."""
    try:
        return cls(*args, **kwargs)
    except ProfileError as exc:
        raise InputError(f"board {text!r}: {exc.message}", exc.hint or _SPEC_HELP) from None


def load_board(spec_or_path: str | Path) -> Board:
    """A board from a spec string (``checkerboard:9x6:0.025``) or a board file path.

    Args:
        spec_or_path: What the user gave to ``--board``: a spec, a file, or the name of a
            shipped board (``checkerboard-10x7``, see ``vrkit data list``).

    Returns:
        The board.

    Raises:
        InputError: Neither a spec nor a readable board file; one line naming it.
    """
    text = str(spec_or_path).strip()
    p = resolve_file("board", text)
    if p.is_file():
        return Board.load(p)
    if re.match(r"(checkerboard|chessboard|charuco|aruco):", text) or (
        ":" in text and p.suffix.lower() != ".json"
    ):
        return Board.parse(text)
    if p.suffix.lower() == ".json":
        return Board.load(p)  # names the missing file
    raise InputError(
        f"board {text!r} is neither a board spec, a file nor a shipped board "
        f"({', '.join(shipped_names('board'))})",
        _SPEC_HELP,
    )
