"""Find pattern features in captures taken through the lens, with sub-pixel positions.

Dots: :func:`vrkit.vision.blobs.find_blobs_adaptive` (background-normalised threshold,
connected components, intensity-weighted centroids over each dot's grown footprint); the larger
anchor dot fixes grid index (0, 0), and the grid is walked outwards from it, predicting each
neighbour from the positions already found, so that strong lens distortion and a partly visible
grid are fine.
Checkerboards: ``cv2.findChessboardCornersSB`` (whole board visible) plus ``cornerSubPix``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.patterns import ANCHOR_SCALE, PatternFrame
from vrkit.core.errors import DataError
from vrkit.vision.blobs import find_blobs_adaptive


@dataclass
class Detection:
    """Features of one pattern frame found in one camera image channel.

    Attributes:
        camera_px: (N, 2) float64 camera pixel positions (OpenCV convention).
        feature_index: (N,) int indices into the frame's ``features``.
        n_blobs: Candidate blobs seen (dots), for the report.
    """

    camera_px: NDArray[np.float64]
    feature_index: NDArray[np.int64]
    n_blobs: int = 0


def detect_dots(image: NDArray[np.float32], frame: PatternFrame) -> Detection:
    """Find and identify the dots of a dot-grid frame in one camera channel.

    Args:
        image: (H, W) single-channel camera image (the frame's colour channel).
        frame: The pattern frame shown.

    Returns:
        The identified dots.

    Raises:
        DataError: Too few dots, or no anchor dot found (the pattern is not in the image).
    """
    from scipy.spatial import cKDTree

    blobs = find_blobs_adaptive(image)
    cents, areas = blobs.centers, blobs.areas.astype(np.float64)
    if len(cents) < 9:
        raise DataError(f"pattern not found: {len(cents)} dots seen, need at least 9")
    tree = cKDTree(cents)
    d, nn = tree.query(cents, k=min(5, len(cents)))
    step = float(np.median(d[:, 1]))
    # Anchor: the blob much larger than its neighbours and than the dots in general (small
    # dots at a dim, blurred edge can look large next to even smaller neighbours).
    neigh_area = np.median(areas[nn[:, 1:]], axis=1)
    ratio = np.minimum(
        areas / np.maximum(neigh_area, 1e-9), areas / max(float(np.median(areas)), 1e-9)
    )
    a = int(np.argmax(ratio))
    if ratio[a] < 0.5 * (1 + ANCHOR_SCALE**2):
        raise DataError(
            f"pattern not found: no anchor dot (largest dot is {ratio[a]:.2f}x its neighbours' "
            f"area, expected about {ANCHOR_SCALE**2:.1f}x)",
            "make sure the centre of the pattern is in view of the camera",
        )
    # Lattice vectors at the anchor: neighbours most along +x and +y (camera upright; panel x
    # right and y down appear as camera x right and y down).
    vecs = cents[nn[a, 1:]] - cents[a]
    u = vecs[np.argmax(vecs[:, 0])]
    v = vecs[np.argmax(vecs[:, 1])]
    if abs(u[0]) < 0.5 * step or abs(v[1]) < 0.5 * step:
        raise DataError("pattern not found: dots around the anchor do not form a grid")
    known: dict[tuple[int, int], int] = {(0, 0): a}
    used = {a}
    local = {(0, 0): (u, v)}
    queue = deque([(0, 0)])
    radius = 0.35
    while queue:
        i, j = queue.popleft()
        p = cents[known[(i, j)]]
        lu, lv = local[(i, j)]
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            key = (i + di, j + dj)
            if key in known:
                continue
            back = (i - di, j - dj)
            if back in known:  # extrapolate along the line: follows the distortion
                pred = 2 * p - cents[known[back]]
            else:
                pred = p + di * lu + dj * lv
            dist, idx = tree.query(pred)
            scale = np.linalg.norm(lu if di else lv)
            if dist > radius * scale or idx in used:
                continue
            known[key] = int(idx)
            used.add(int(idx))
            delta = cents[idx] - p
            local[key] = (delta * di, lv) if di else (lu, delta * dj)
            queue.append(key)
    ij_to_feat = {(int(i), int(j)): k for k, (i, j) in enumerate(frame.ij)}
    pts, idx = [], []
    for key, blob in known.items():
        if key in ij_to_feat:
            pts.append(cents[blob])
            idx.append(ij_to_feat[key])
    if len(pts) < 9:
        raise DataError(f"pattern not found: only {len(pts)} dots identified")
    return Detection(np.array(pts), np.array(idx, dtype=np.int64), len(cents))


def detect_checkerboard(image: NDArray[np.float32], frame: PatternFrame) -> Detection:
    """Find the inner corners of a checkerboard frame (the whole board must be visible).

    Raises:
        DataError: The board is not found.
    """
    import cv2

    cols, rows = frame.extra["inner_corners"]
    img = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(img, 1), np.percentile(img, 99)
    gray = np.clip((img - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    found, corners = cv2.findChessboardCornersSB(
        gray, (cols, rows), flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE
    )
    if not found:
        raise DataError(
            f"pattern not found: checkerboard with {cols}x{rows} inner corners",
            "the whole board must be visible; use the dot pattern for a partial view",
        )
    pts = corners.reshape(rows, cols, 2).astype(np.float64)
    # OpenCV may start at any corner: orient rows left->right and columns top->bottom.
    if pts[0, -1, 0] < pts[0, 0, 0] and pts[-1, 0, 1] < pts[0, 0, 1]:
        pts = pts[::-1, ::-1]
    elif pts[0, -1, 0] < pts[0, 0, 0]:
        pts = pts[:, ::-1]
    elif pts[-1, 0, 1] < pts[0, 0, 1]:
        pts = pts[::-1, :]
    if abs(pts[0, -1, 1] - pts[0, 0, 1]) > abs(pts[0, -1, 0] - pts[0, 0, 0]):
        raise DataError("checkerboard appears rotated by 90 degrees; keep the camera upright")
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    spacing = float(np.median(np.linalg.norm(np.diff(pts, axis=1), axis=2)))
    win = int(np.clip(spacing * 0.35, 2, 11))
    refined = cv2.cornerSubPix(
        gray, pts.reshape(-1, 1, 2).astype(np.float32), (win, win), (-1, -1), crit
    ).reshape(-1, 2)
    ij_to_feat = {(int(i), int(j)): k for k, (i, j) in enumerate(frame.ij)}
    jj, ii = np.mgrid[0:rows, 0:cols]
    idx = np.array(
        [ij_to_feat[(int(i), int(j))] for i, j in zip(ii.ravel(), jj.ravel(), strict=True)]
    )
    return Detection(refined.astype(np.float64), idx, cols * rows)


def detect_frame(image: NDArray[np.float32], frame: PatternFrame) -> Detection:
    """Detect a frame's features in one camera channel (dispatch on the frame kind)."""
    if frame.kind == "dots":
        return detect_dots(image, frame)
    return detect_checkerboard(image, frame)
