"""The hidden-area mesh of a view (XR_KHR_visibility_mask) as a renderer mesh.

Pure numpy and the renderer's types; no pyopenxr here, so the masking pass is testable on any
machine with GL (``tests/test_visibility_mask.py``). A :class:`~vrkit.render.targets.RenderTarget`
carries the mesh in its ``hidden_area``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from vrkit.render.scene import Mesh


def hidden_area_mesh(vertices: ArrayLike, indices: ArrayLike) -> Mesh | None:
    """A renderer mesh from an OpenXR hidden triangle mesh.

    Args:
        vertices: (N, 2) points in the view's frame on the plane z = -1 (tangents of the view
            angles: x right, y up), as ``xrGetVisibilityMaskKHR`` returns them.
        indices: (M,) triangle vertex indices, M a multiple of 3.

    Returns:
        A triangle mesh with positions (N, 3) at z = -1, or None when the mask is empty.

    Raises:
        ValueError: ``vertices`` is not (N, 2), or the indices do not form triangles of it.
    """
    v = np.asarray(vertices, dtype=np.float64)
    idx = np.asarray(indices, dtype=np.int64).ravel()
    if v.ndim != 2 or v.shape[1] != 2:
        raise ValueError(f"visibility mask vertices must be (N, 2), got shape {v.shape}")
    if idx.size == 0 or len(v) == 0:
        return None
    positions = np.column_stack([v, np.full(len(v), -1.0)])
    normals = np.tile([0.0, 0.0, 1.0], (len(v), 1))
    return Mesh(positions, normals, idx)
