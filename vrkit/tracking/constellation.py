"""LED constellation correspondence search: which blob is which LED, without IDs.

Two cases, as in constellation trackers:

* **With a prior pose** (the filter's prediction): project the model LEDs that face each camera
  and assign blobs to them with the Hungarian method (``scipy.optimize.linear_sum_assignment``)
  inside a gate in pixels.
* **Without a prior** (start-up, or after tracking was lost): hypothesise. An anchor blob and
  its two nearest image neighbours are paired with an LED and two of its nearest model
  neighbours (ordered), P3P gives up to four poses per hypothesis, poses that turn any of the
  three LEDs away from the camera are pruned (LED normals), and the survivors are scored by
  how many blobs lie within the gate of a projected, camera-facing LED. The best pose is
  refined with the joint solver over all cameras.

Work happens on undistorted normalised image coordinates, so hypotheses cost a few matrix
products each.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vrkit.core.errors import DataError
from vrkit.math import transforms as tf
from vrkit.tracking.camera import Rig
from vrkit.tracking.solve import Observation, PoseSolution, solve_pose, visible_projections
from vrkit.tracking.target import Target

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]


def match_blobs(
    rig: Rig,
    camera: int,
    blobs: F64,
    target: Target,
    T_world_head: F64,
    mode: str,
    gate_px: float = 4.0,
) -> Observation:
    """Assign blobs to model LEDs near their predicted positions (Hungarian, gated).

    Args:
        rig: The rig.
        camera: Camera index.
        blobs: (B, 2) blob centres in pixels.
        target: An LED target.
        T_world_head: (4, 4) predicted pose.
        mode: ``"outside_in"`` or ``"inside_out"``.
        gate_px: Largest accepted blob-to-prediction distance in pixels.

    Returns:
        The matched correspondences (possibly empty).
    """
    from scipy.optimize import linear_sum_assignment

    px, vis = visible_projections(
        rig, camera, target.leds, target.normals, T_world_head, mode, target.view_cone_deg + 10,
        margin_px=-gate_px,
    )  # fmt: skip
    idx = np.flatnonzero(vis)
    if len(idx) == 0 or len(blobs) == 0:
        return Observation(camera, np.zeros((0, 2)), np.zeros((0, 3)))
    D = np.linalg.norm(blobs[:, None, :] - px[idx][None, :, :], axis=2)
    r, c = linear_sum_assignment(np.minimum(D, 1e3))
    ok = D[r, c] <= gate_px
    r, c = r[ok], c[ok]
    return Observation(camera, blobs[r], target.leds[idx[c]], idx[c])


@dataclass
class _Model:
    X: F64
    N: F64
    cos_cone: float
    neighbours: NDArray[np.int64]


def _model(target: Target, k: int) -> _Model:
    X, N = target.leds, target.normals
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    # only LEDs that can be seen together (normals less than 100 degrees apart) are neighbours
    D[(N @ N.T) < np.cos(np.radians(100.0))] = np.inf
    np.fill_diagonal(D, np.inf)
    return _Model(X, N, float(np.cos(np.radians(target.view_cone_deg + 10))),
                  np.argsort(D, axis=1)[:, :k])  # fmt: skip


def _score(
    model: _Model, R: F64, t: F64, xy: F64, gate: float
) -> tuple[int, NDArray[np.int64], NDArray[np.int64]]:
    """Inlier count and (blob, led) pairs of a camera-frame pose ``X_cam = R X + t``."""
    Xc = model.X @ R.T + t
    z = Xc[:, 2]
    facing = np.sum((model.N @ R.T) * -Xc, axis=1) > model.cos_cone * np.linalg.norm(Xc, axis=1)
    vis = np.flatnonzero((z > 1e-3) & facing)
    if len(vis) == 0:
        return 0, np.zeros(0, int), np.zeros(0, int)
    proj = Xc[vis, :2] / z[vis, None]
    D = np.linalg.norm(xy[:, None] - proj[None], axis=2)
    j = np.argmin(D, axis=1)
    ok = D[np.arange(len(xy)), j] < gate
    b = np.flatnonzero(ok)
    leds = vis[j[ok]]
    # one LED explains at most one blob
    _, first = np.unique(leds, return_index=True)
    return len(first), b[first], leds[first]


def acquire(
    rig: Rig,
    blobs: dict[int, F64],
    target: Target,
    mode: str,
    gate_px: float = 3.0,
    max_blobs: int = 16,
    neighbours: int = 5,
    min_inliers: int = 6,
    good_fraction: float = 0.8,
) -> PoseSolution:
    """Find the pose of an LED constellation without a prior (brute-force hypotheses).

    Args:
        rig: The rig.
        blobs: Camera index -> (B, 2) blob centres in pixels.
        target: An LED target.
        mode: ``"outside_in"`` or ``"inside_out"``.
        gate_px: Inlier distance in pixels.
        max_blobs: Brightest blobs per camera considered as anchors.
        neighbours: Model neighbours per LED used to form hypotheses.
        min_inliers: Fewest blobs a hypothesis must explain in its camera.
        good_fraction: Stop searching once a hypothesis explains this fraction of the blobs.

    Returns:
        The jointly refined pose over all cameras.

    Raises:
        DataError: No camera sees >= 4 blobs, or no hypothesis explains ``min_inliers`` blobs.
    """
    import cv2

    model = _model(target, neighbours)
    order = sorted(blobs, key=lambda c: -len(blobs[c]))
    if not order or len(blobs[order[0]]) < 4:
        raise DataError(
            f"LED acquisition needs >= 4 blobs in one camera, got "
            f"{ {c: len(b) for c, b in blobs.items()} }"
        )
    best: tuple[int, int, F64] | None = None  # (inliers, camera, T_world_head)
    for cam_i in order:
        px = blobs[cam_i][:max_blobs]
        if len(px) < 4:
            continue
        cam = rig.cameras[cam_i]
        xy = cam.undistort_points(px)
        gate = gate_px / cam.focal
        target_count = max(min_inliers, int(np.ceil(good_fraction * len(xy))))
        Dimg = np.linalg.norm(xy[:, None] - xy[None], axis=2)
        np.fill_diagonal(Dimg, np.inf)
        img_nb = np.argsort(Dimg, axis=1)[:, :2]
        found = None
        for a in range(len(xy)):
            tri_img = xy[[a, *img_nb[a]]]
            for m in range(len(model.X)):
                for p, q in itertools.permutations(model.neighbours[m], 2):
                    tri = model.X[[m, p, q]]
                    n, rvecs, tvecs = cv2.solveP3P(
                        tri.reshape(-1, 1, 3), tri_img.reshape(-1, 1, 2), np.eye(3), None,
                        flags=cv2.SOLVEPNP_P3P,
                    )  # fmt: skip
                    for s in range(n or 0):
                        R = tf.matrix_from_rotation_vector(rvecs[s].ravel())
                        t = tvecs[s].ravel()
                        Xc = tri @ R.T + t
                        if np.any(np.sum((model.N[[m, p, q]] @ R.T) * -Xc, axis=1) <= 0):
                            continue
                        score, _, _ = _score(model, R, t, xy, gate)
                        if best is None or score > best[0]:
                            T_cam_model = tf.transform(R, t)
                            T_rig_model = cam.T_rig_cam @ T_cam_model
                            T = T_rig_model if mode == "outside_in" else tf.invert_transform(
                                T_rig_model
                            )  # fmt: skip
                            best = (score, cam_i, T)
                        if score >= target_count:
                            found = True
                            break
                    if found:
                        break
                if found:
                    break
            if found:
                break
        if found:
            break
    if best is None or best[0] < min_inliers:
        raise DataError(
            f"no LED constellation hypothesis explains >= {min_inliers} blobs "
            f"(best {0 if best is None else best[0]})"
        )
    return refine_with_all_cameras(rig, blobs, target, best[2], mode, gate_px)


def refine_with_all_cameras(
    rig: Rig, blobs: dict[int, F64], target: Target, T_world_head: F64, mode: str, gate_px: float
) -> PoseSolution:
    """Match blobs in every camera around a pose, solve jointly, and repeat once.

    Raises:
        DataError: Too few matches for a pose.
    """
    T = T_world_head
    sol = None
    for gate in (2.0 * gate_px, gate_px):
        obs = [match_blobs(rig, c, b, target, T, mode, gate) for c, b in blobs.items()]
        sol = solve_pose(rig, obs, mode, prior=T, outlier_px=gate_px)
        T = sol.T_world_head
    return sol
