"""Find pattern features in captures taken through the lens, with sub-pixel positions.

Dots: background-normalised threshold, connected components, intensity-weighted centroids
(first image moments) over each dot's dilated footprint; the larger anchor dot fixes grid
index (0, 0), and the grid is walked outwards from it, predicting each neighbour from the
positions already found, so that strong lens distortion and a partly visible grid are fine.
Checkerboards: ``cv2.findChessboardCornersSB`` (whole board visible) plus ``cornerSubPix``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.patterns import ANCHOR_SCALE, PatternFrame
from vrkit.core.errors import DataError


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


def _block_reduce(image: NDArray[np.float32], f: int, reduce: str) -> NDArray[np.float32]:
    """Max or min over ``f`` x ``f`` blocks (edge-padded), (H, W) -> (ceil(H/f), ceil(W/f))."""
    h, w = image.shape
    hp, wp = -(-h // f) * f, -(-w // f) * f
    pad = np.pad(image, ((0, hp - h), (0, wp - w)), mode="edge")
    blocks = pad.reshape(hp // f, f, wp // f, f)
    out = blocks.max(axis=(1, 3)) if reduce == "max" else blocks.min(axis=(1, 3))
    return out.astype(np.float32)


def _normalise(image: NDArray[np.float32], spacing_px: float) -> NDArray[np.float32]:
    """Remove slow background and vignetting: divide by a local maximum envelope.

    The envelope (local max) and background (local min) over ~3 dot pitches are smooth by
    construction, so they are computed on a max/min-pooled image ``f`` times smaller (``f`` =
    pitch / 8) and interpolated back: the same result to well under the sensor noise, ~20x
    faster than full-resolution morphology with a kernel that wide.
    """
    import cv2

    h, w = image.shape
    f = max(1, int(spacing_px // 8))
    k = int(max(3, 2 * round(spacing_px * 1.5 / f) + 1))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    sigma = spacing_px / f

    def smooth(reduce: str) -> NDArray[np.float32]:
        small = _block_reduce(image, f, reduce)
        op = cv2.dilate if reduce == "max" else cv2.erode
        small = cv2.GaussianBlur(op(small, kernel), (0, 0), sigma)
        if f == 1:
            return small
        big = cv2.resize(
            small, (small.shape[1] * f, small.shape[0] * f), interpolation=cv2.INTER_LINEAR
        )
        return big[:h, :w]

    env, bg = smooth("max"), smooth("min")
    # Where the local contrast is not well above the sensor noise there is no pattern.
    noise = 1.4826 * float(np.median(np.abs(image - cv2.blur(image, (3, 3))))) * 1.06
    span = env - bg
    out = np.where(span > 6.0 * noise + 2.0, (image - bg) / np.maximum(span, 1e-3), 0.0)
    return np.clip(out, 0.0, 1.5).astype(np.float32)


def find_blobs(
    image: NDArray[np.float32], spacing_px_est: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bright blobs in a (H, W) image: intensity-weighted centroids and areas.

    Args:
        image: (H, W) float or uint8 single-channel image, bright dots on dark.
        spacing_px_est: Rough dot spacing in camera pixels (estimated when None).

    Returns:
        ``(centroids (N, 2), areas (N,))`` in camera pixels / pixels squared.
    """
    import cv2

    img = np.asarray(image, dtype=np.float32)
    if spacing_px_est is None:
        # First pass with a global threshold to estimate the spacing.
        thr = 0.5 * (float(np.percentile(img, 99.5)) + float(np.percentile(img, 50)))
        n, _, stats, cents = cv2.connectedComponentsWithStats((img > thr).astype(np.uint8), 8)
        pts = cents[1:][stats[1:, cv2.CC_STAT_AREA] >= 3]
        if len(pts) < 4:
            return np.zeros((0, 2)), np.zeros(0)
        from scipy.spatial import cKDTree

        d, _ = cKDTree(pts).query(pts, k=2)
        spacing_px_est = float(np.median(d[:, 1]))
    norm = _normalise(img, spacing_px_est)
    mask = (norm > 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, 8)
    if n <= 1:
        return np.zeros((0, 2)), np.zeros(0)
    # Weighted centroid over each blob's footprint grown by 2 px (captures the blurred rim),
    # weights are the normalised intensity above a small floor.
    grown = cv2.dilate(labels.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int32)
    lab = np.where(labels > 0, labels, grown)
    w = np.clip(norm - 0.05, 0.0, None).astype(np.float64)
    h, wd = img.shape
    ys, xs = np.mgrid[0:h, 0:wd]
    flat = lab.ravel()
    sw = np.bincount(flat, w.ravel(), minlength=n)
    sx = np.bincount(flat, (w * xs).ravel(), minlength=n)
    sy = np.bincount(flat, (w * ys).ravel(), minlength=n)
    keep = np.arange(n) > 0
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    keep &= (area >= 3) & (sw > 0)
    keep &= (bw < 0.8 * spacing_px_est) & (bh < 0.8 * spacing_px_est)  # not merged / not a blob
    # Blobs touching the image border are cut: their centroid is wrong.
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    keep &= (x0 > 1) & (y0 > 1) & (x0 + bw < wd - 1) & (y0 + bh < h - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cents = np.stack([sx / sw, sy / sw], axis=1)
    return cents[keep], area[keep]


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

    cents, areas = find_blobs(image)
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
