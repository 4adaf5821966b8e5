"""Vectorised root finders used to invert lens models. Pure numpy.

Two solvers, both over whole arrays of points at once (no per-point Python loop):

* :func:`solve_increasing` inverts a 1-D function that increases on ``[0, r_max]`` (the radial
  part of a lens) by Newton steps safeguarded with a bisection bracket, so it always converges;
* :func:`solve_2d` inverts a smooth 2-D map by damped Newton steps (backtracking on the residual)
  with a finite-difference Jacobian, for lenses that are not radially symmetric.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

#: Absolute residual (tan units) at which a solve counts as converged.
SOLVE_TOL = 1e-13


def solve_increasing(
    f: Callable[[F64], F64],
    df: Callable[[F64], F64],
    target: F64,
    r_max: float,
    max_iter: int = 100,
) -> F64:
    """Solve ``f(r) = target`` for ``r`` in ``[0, r_max]``, element-wise.

    ``f`` must be increasing on ``[0, r_max]`` with ``f(0) = 0``, and every target must lie in
    ``[0, f(r_max)]`` (the caller checks the range and reports points outside it).

    Args:
        f: The function, vectorised over an (N,) array.
        df: Its derivative, vectorised.
        target: (N,) values to invert.
        r_max: Upper end of the bracket.
        max_iter: Iteration cap; bisection alone halves the bracket each step.

    Returns:
        (N,) solutions.
    """
    target = np.asarray(target, dtype=np.float64)
    lo = np.zeros_like(target)
    hi = np.full_like(target, r_max)
    f_hi = float(f(np.array([r_max]))[0])
    r = np.clip(target * (r_max / f_hi), 0.0, r_max)
    tol = SOLVE_TOL * np.maximum(1.0, np.abs(target))
    for _ in range(max_iter):
        fr = f(r) - target
        if np.all((np.abs(fr) <= tol) | (hi - lo <= 1e-16)):
            break
        lo = np.where(fr < 0, r, lo)
        hi = np.where(fr > 0, r, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = r - fr / df(r)
        bad = ~np.isfinite(step) | (step <= lo) | (step >= hi)
        r = np.where(np.abs(fr) <= tol, r, np.where(bad, 0.5 * (lo + hi), step))
    return r


def solve_2d(
    F: Callable[[F64], F64],
    target: F64,
    x0: F64,
    max_iter: int = 60,
    step_h: float = 1e-7,
) -> tuple[F64, F64]:
    """Solve ``F(x) = target`` for (N, 2) points by damped Newton iteration.

    Each step solves the 2x2 Newton system with a central-difference Jacobian and halves the
    step (up to 20 times) until the residual norm decreases, so a poor start cannot diverge.

    Args:
        F: The map, vectorised over (N, 2) arrays.
        target: (N, 2) values to invert.
        x0: (N, 2) starting points.
        max_iter: Iteration cap.
        step_h: Finite-difference step for the Jacobian (tan units).

    Returns:
        ``(x, residual)``: (N, 2) solutions and (N,) final residual norms. The caller decides
        which points converged (residual below its tolerance) and reports the others.
    """
    x = np.array(x0, dtype=np.float64, copy=True)
    res = F(x) - target
    norm = np.linalg.norm(res, axis=1)
    tol = SOLVE_TOL * np.maximum(1.0, np.linalg.norm(target, axis=1))
    ex = np.array([step_h, 0.0])
    ey = np.array([0.0, step_h])
    # A point no halved step improved stays where it is, so the next iteration would repeat
    # the same failed search: it is left out from then on (same result, bounded cost).
    stuck = np.zeros(len(x), dtype=bool)
    for _ in range(max_iter):
        active = (norm > tol) & ~stuck
        if not np.any(active):
            break
        xa, ra = x[active], res[active]
        jx = (F(xa + ex) - F(xa - ex)) / (2 * step_h)
        jy = (F(xa + ey) - F(xa - ey)) / (2 * step_h)
        det = jx[:, 0] * jy[:, 1] - jy[:, 0] * jx[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = -(jy[:, 1] * ra[:, 0] - jy[:, 0] * ra[:, 1]) / det
            dy = -(-jx[:, 1] * ra[:, 0] + jx[:, 0] * ra[:, 1]) / det
        delta = np.stack([dx, dy], axis=1)
        delta[~np.isfinite(delta)] = 0.0
        na = norm[active]
        scale = np.ones(len(xa))
        new_x, new_res, new_norm = xa, ra, na
        pending = np.ones(len(xa), dtype=bool)
        for _ in range(20):
            cand = xa + delta * scale[:, None]
            cres = F(cand) - target[active]
            cnorm = np.linalg.norm(cres, axis=1)
            ok = pending & np.isfinite(cnorm) & (cnorm < na)
            new_x = np.where(ok[:, None], cand, new_x)
            new_res = np.where(ok[:, None], cres, new_res)
            new_norm = np.where(ok, cnorm, new_norm)
            pending &= ~ok
            if not np.any(pending):
                break
            scale = np.where(pending, scale * 0.5, scale)
        x[active], res[active], norm[active] = new_x, new_res, new_norm
        stuck[np.flatnonzero(active)[pending]] = True
    return x, norm
