"""The one blob finder (vrkit.vision.blobs) on images drawn here with known spot centres."""

import numpy as np
import pytest

from vrkit.core.errors import InputError
from vrkit.vision.blobs import Blobs, find_blobs, find_blobs_adaptive


def spots(shape, centres, sigma, peaks, background=0.0):
    """Gaussian spots sampled at pixel centres (x right, y down, centres on integers)."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.full(shape, float(background))
    for (cx, cy), p in zip(centres, peaks, strict=True):
        img += p * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2.0 * sigma**2))
    return img


def match(found, truth):
    """Distance from each true centre to the nearest found one."""
    d = np.linalg.norm(found[None, :, :] - truth[:, None, :], axis=2)
    return d.min(axis=1)


def test_subpixel_centroids_of_symmetric_spots():
    rng = np.random.default_rng(3)
    truth = np.column_stack([rng.uniform(10, 150, 12), rng.uniform(10, 110, 12)])
    # Keep the spots apart so that their tails do not pull each other's centroids.
    truth = truth[
        np.all(
            (np.linalg.norm(truth[:, None] - truth[None], axis=2) > 12) | np.eye(12, dtype=bool),
            axis=1,
        )
    ]
    img = spots((120, 160), truth, 1.6, np.full(len(truth), 200.0), background=10)
    blobs = find_blobs(np.clip(img, 0, 255).astype(np.uint8), 40, weight_floor=10, grow_px=2)
    assert len(blobs) == len(truth)
    assert blobs.centers.shape == (len(truth), 2)
    assert blobs.areas.dtype == np.int64 and blobs.boxes.shape == (len(truth), 4)
    # uint8 quantisation limits the centroid to a few hundredths of a pixel.
    assert match(blobs.centers, truth).max() < 0.03


def test_filters_roi_and_order():
    # A small dim spot, a large bright one, one cut by the left edge.
    truth = np.array([[30.0, 30.0], [80.0, 40.0], [0.5, 60.0]])
    img = spots((90, 120), truth[:2], 1.5, [90.0, 250.0])
    img += spots((90, 120), truth[2:], 3.0, [180.0])
    img[5:25, 90:115] = 255  # a lamp: 500 pixels
    blobs = find_blobs(img, 50)
    assert len(blobs) == 4
    assert np.all(np.diff(blobs.peaks) <= 0), "sorted by descending peak"
    assert int(blobs.areas.max()) == 500
    kept = find_blobs(img, 50, max_area=400, border_px=2)
    assert len(kept) == 2
    assert match(kept.centers, truth[:2]).max() < 0.02
    assert kept.peaks[0] > kept.peaks[1]  # the bright spot first
    small = find_blobs(img, 50, max_area=400, border_px=2, max_size_px=4)
    assert match(small.centers, truth[:1]).max() < 0.02 and len(small) == 1
    # A region: the result is in full-image pixels.
    roi = find_blobs(img, 50, roi=(60, 30, 88, 55))
    assert len(roi) == 1 and np.abs(roi.centers[0] - truth[1]).max() < 0.02
    assert tuple(roi.boxes[0, :2]) == (78, 38)
    assert len(find_blobs(img, 50, roi=(200, 200, 300, 300))) == 0


def test_combined_centroid_is_that_of_all_pixels_above_the_threshold():
    rng = np.random.default_rng(8)
    img = rng.uniform(0, 100, (40, 50))
    thr = 60.0
    w = np.clip(img - thr, 0, None)
    ys, xs = np.mgrid[0:40, 0:50]
    expect = (float((w * xs).sum() / w.sum()), float((w * ys).sum() / w.sum()), float(w.sum()))
    got = find_blobs(img, thr).combined()
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    assert np.isnan(Blobs.empty().combined()[0])


def test_adaptive_threshold_under_vignetting():
    # A dot grid whose brightness falls to a third at the corners, on a sloped background:
    # no single grey level separates the dots from the background everywhere.
    cx, cy = np.meshgrid(np.arange(15.0, 300, 24.3), np.arange(14.0, 220, 23.7))
    truth = np.column_stack([cx.ravel(), cy.ravel()])
    h, w = 230, 310
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    # The background rises from 20 to 160 grey levels left to right, and the dots' peaks
    # above it fall from 180 to about 60 towards the corners.
    vignette = 1.0 - 0.8 * (((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2) / 2
    img = spots((h, w), truth, 2.0, np.full(len(truth), 180.0)) * vignette + 20 + xs / 2.2
    rng = np.random.default_rng(0)
    img = np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).astype(np.float32)
    # No global threshold finds more than 92 of the 108 dots within 0.2 px.
    best = max(
        int(np.sum(match(find_blobs(img, t, min_area=3, max_size_px=12).centers, truth) < 0.2))
        for t in range(30, 250, 5)
    )
    assert best < 0.9 * len(truth)
    blobs = find_blobs_adaptive(img)
    inner = truth[
        (truth[:, 0] > 8) & (truth[:, 0] < w - 8) & (truth[:, 1] > 8) & (truth[:, 1] < h - 8)
    ]
    assert len(blobs) == len(inner)
    assert match(blobs.centers, inner).max() < 0.3
    assert len(find_blobs_adaptive(np.zeros((50, 50), np.float32))) == 0


def test_bad_input_is_one_line():
    with pytest.raises(
        InputError, match=r"^expected a single-channel \(H, W\) image, got shape \(4, 4, 3\)$"
    ):
        find_blobs(np.zeros((4, 4, 3)), 1)
    with pytest.raises(InputError, match=r"^grow_px must be >= 0 pixels, got -1$"):
        find_blobs(np.zeros((4, 4)), 1, grow_px=-1)
