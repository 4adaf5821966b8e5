"""The one boundary between numpy (row-major arrays) and pyglm (column-major matrices)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyglm import glm

from vrkit.math.transforms import as_array


def to_glm_mat4(m: ArrayLike) -> glm.mat4:
    """Pyglm mat4 from a row-major (4, 4) array (``result[col][row] == m[row, col]``)."""
    a = as_array(m, (4, 4), "matrix")
    return glm.mat4(*a.T.ravel().tolist())


def from_glm_mat4(m: glm.mat4) -> NDArray[np.float64]:
    """Row-major (4, 4) float64 array from a pyglm mat4."""
    return np.array(m.to_list(), dtype=np.float64).T


def to_glm_quat(q: ArrayLike) -> glm.quat:
    """Pyglm quat from an ``(x, y, z, w)`` array (pyglm's constructor takes w first)."""
    x, y, z, w = as_array(q, (4,), "quaternion")
    return glm.quat(w, x, y, z)


def from_glm_quat(q: glm.quat) -> NDArray[np.float64]:
    """``(x, y, z, w)`` array from a pyglm quat."""
    return np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
