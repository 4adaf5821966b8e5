"""OpenCV multi-view calibration detection files, in: a rig solved from detections made elsewhere.

OpenCV's multi-view calibration samples and tests (opencv_extra
``testdata/cv/cameracalibration/multiview/*/cam_*.json``, read by
``modules/calib/test/test_multiview_calib.cpp``) keep one ``cv::FileStorage`` JSON file per
camera: a node ``frame_<i>`` per view in which that camera saw the pattern, holding an
``opencv-matrix`` of the pattern's points in pixels (``N x 1``, two channels, or ``2N x 1``); a
view a camera missed has no node. The files carry neither the image size nor the pattern: both
are given (the sample's readme states them). Point ``k`` of every view is pattern point ``k``.

Patterns (object points in metres, z = 0, as OpenCV generates them):

* ``acircles:COLSxROWS:SPACING`` -- OpenCV's asymmetric circle grid
  (``genAsymmetricObjectPoints``): point ``(2 j + i % 2) s, i s`` for row ``i`` < ROWS and
  column ``j`` < COLS;
* ``circles:COLSxROWS:SPACING`` and ``chessboard:COLSxROWS:SPACING`` -- the regular grid
  ``(j s, i s)`` (symmetric circles, or inner corners).

The files are read with ``cv2.FileStorage`` itself, as OpenCV's test does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError

F64 = NDArray[np.float64]
_PATTERN = re.compile(r"^(acircles|circles|chessboard):(\d+)x(\d+):([0-9.eE+-]+)$")


@dataclass(frozen=True)
class PointPattern:
    """A planar pattern known only by its points (the detections were made elsewhere).

    Provides what rig calibration takes from a board: :meth:`object_points`, ``pitch`` (the
    point spacing, metres) and :meth:`to_dict`.

    Attributes:
        kind: ``"acircles"``, ``"circles"`` or ``"chessboard"``.
        size: ``(columns, rows)`` of points as OpenCV's ``patternSize``.
        square_size: Spacing in metres.
    """

    kind: str
    size: tuple[int, int]
    square_size: float

    @classmethod
    def parse(cls, spec: str) -> PointPattern:
        """Parse ``KIND:COLSxROWS:SPACING`` (see the module docstring).

        Raises:
            InputError: Another form, too few points, or a spacing that is not positive.
        """
        m = _PATTERN.match(spec.strip())
        if not m:
            raise InputError(
                f"pattern {spec!r} is not KIND:COLSxROWS:SPACING",
                hint="e.g. acircles:8x11:0.04 (OpenCV's 3cams-one-line sample), "
                "circles:7x6:0.03 or chessboard:9x6:0.025",
            )
        kind, cols, rows, s = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))
        if cols < 2 or rows < 2 or not s > 0:
            raise InputError(f"pattern {spec!r}: needs at least 2x2 points and a spacing > 0 m")
        return cls(kind, (cols, rows), s)

    def object_points(self) -> F64:
        """(N, 3) pattern points in metres, in OpenCV's order."""
        cols, rows = self.size
        s = self.square_size
        pts = []
        for i in range(rows):
            for j in range(cols):
                x = (2 * j + i % 2) * s if self.kind == "acircles" else j * s
                pts.append((x, i * s, 0.0))
        return np.asarray(pts, dtype=np.float64)

    @property
    def pitch(self) -> float:
        """The spacing of neighbouring points, metres (as a board's ``pitch``)."""
        return self.square_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for reports)."""
        return {"kind": self.kind, "size": list(self.size), "spacing": self.square_size}


def _cv_reason(exc: BaseException) -> str:
    """``"Parsing error near line 3"`` from an OpenCV error's text."""
    text = " ".join(str(exc).split())
    m = re.search(r"\(-?\d+:([^)]*)\)", text)
    reason = m.group(1).strip() if m else "unreadable"
    line = re.search(r"\((\d+)\): ", text)
    return f"{reason} near line {line.group(1)}" if line else reason


def read_detection_file(path: str | Path) -> dict[int, F64]:
    """One camera's detections: ``{view index: (N, 2) pixels}``.

    Raises:
        InputError: The file is missing.
        DataError: Not a FileStorage file, no ``frame_<i>`` node, or a node that is not a
            matrix of point pairs (named).
    """
    import cv2

    p = Path(path)
    if not p.is_file():
        raise InputError(f"detection file {str(p)!r} does not exist")
    if p.suffix.lower() == ".json":  # FileStorage JSON: strict JSON under its schema first
        read_document(p, "opencv-detections", DataError)
    try:
        fs = cv2.FileStorage(str(p), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:
        # cv2 raises SystemError around the cv2.error of a parse failure
        raise DataError(
            f"detection file {str(p)!r} is not an OpenCV FileStorage file: "
            f"{_cv_reason(exc.__cause__ or exc)}"
        ) from None
    try:
        if not fs.isOpened():
            raise DataError(f"detection file {str(p)!r} cannot be opened by cv2.FileStorage")
        out: dict[int, F64] = {}
        for key in fs.root().keys():
            m = re.fullmatch(r"frame_(\d+)", key)
            if not m:
                continue
            try:
                mat = fs.getNode(key).mat()
            except cv2.error:  # rows x cols does not match the data's length
                mat = None
            if mat is None or mat.size == 0 or mat.size % 2:
                raise DataError(
                    f"detection file {str(p)!r}: {key} is not a matrix of (x, y) points"
                )
            pts = np.asarray(mat, dtype=np.float64).reshape(-1, 2)
            if not np.all(np.isfinite(pts)):
                raise DataError(f"detection file {str(p)!r}: {key} holds non-finite values")
            out[int(m.group(1))] = pts
    finally:
        fs.release()
    if not out:
        raise DataError(f"detection file {str(p)!r} has no frame_<i> nodes")
    return out


def read_detections(
    paths: list[str | Path], pattern: PointPattern, image_sizes: list[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[list[tuple[NDArray[np.int64], F64] | None]], list[int]]:
    """All cameras' detections aligned by view.

    Args:
        paths: One file per camera, in rig order.
        pattern: The pattern the points belong to.
        image_sizes: ``(width, height)`` per camera (or one for all).

    Returns:
        ``(image sizes, views, view indices)``: ``views[v][c]`` is ``(point ids (N,),
        pixels (N, 2))`` or None where camera ``c`` missed view ``v``; points outside the
        image or marked ``-1`` (OpenCV's "not seen") are left out. Views one camera saw alone
        are kept (they help that camera's intrinsics).

    Raises:
        DataError: A view holds another number of points than the pattern, or sizes do not
            match the files.
    """
    if len(image_sizes) == 1:
        image_sizes = image_sizes * len(paths)
    if len(image_sizes) != len(paths):
        raise InputError(f"{len(paths)} detection files but {len(image_sizes)} image sizes")
    n_obj = len(pattern.object_points())
    per_cam = [read_detection_file(p) for p in paths]
    indices = sorted(set().union(*per_cam))
    views = []
    kept = []
    for v in indices:
        row: list[tuple[NDArray[np.int64], F64] | None] = []
        for c, frames in enumerate(per_cam):
            pts = frames.get(v)
            if pts is None:
                row.append(None)
                continue
            if len(pts) != n_obj:
                raise DataError(
                    f"{Path(paths[c]).name} frame_{v} has {len(pts)} points; the pattern "
                    f"{pattern.kind}:{pattern.size[0]}x{pattern.size[1]} has {n_obj}"
                )
            w, h = image_sizes[c]
            ok = (pts[:, 0] >= 0) & (pts[:, 0] <= w) & (pts[:, 1] >= 0) & (pts[:, 1] <= h)
            row.append((np.flatnonzero(ok).astype(np.int64), pts[ok]) if ok.sum() >= 4 else None)
        if any(r is not None for r in row):
            views.append(row)
            kept.append(v)
    if not any(sum(r is not None for r in row) >= 2 for row in views):
        raise DataError("no view is seen by two cameras: the files share no frame_<i>")
    return list(image_sizes), views, kept
