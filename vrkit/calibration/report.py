"""Lens-calibration report: residuals by field position, model comparison, heat map PNG."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.fit import LensFit
from vrkit.core.outputs import save_figure
from vrkit.optics.base import CHANNELS

#: Field rings (degrees from the lens axis) for the per-field-position summary.
RING_EDGES_DEG = (0, 10, 20, 30, 40, 50, 60, 90)


def field_angles_deg(ideal: NDArray[np.float64]) -> NDArray[np.float64]:
    """Horizontal and vertical view angles (N, 2), degrees, of ideal tan points (N, 2)."""
    return np.degrees(np.arctan(ideal))


def field_summary(fit: LensFit) -> list[dict[str, Any]]:
    """RMS / max residual per channel in rings of field angle (see :data:`RING_EDGES_DEG`)."""
    r_deg = np.degrees(np.arctan(np.hypot(fit.ideal[:, 0], fit.ideal[:, 1])))
    rows = []
    for lo, hi in itertools.pairwise(RING_EDGES_DEG):
        for c in range(3):
            m = fit.inlier & (fit.obs.channel == c) & (r_deg >= lo) & (r_deg < hi)
            if m.any():
                res = fit.residual_arcmin[m]
                rows.append(
                    {
                        "ring_deg": [lo, hi],
                        "channel": CHANNELS[c],
                        "n": int(m.sum()),
                        "rms_arcmin": float(np.sqrt(np.mean(res**2))),
                        "max_arcmin": float(res.max()),
                    }
                )
    return rows


def fit_report(fit: LensFit) -> dict[str, Any]:
    """Everything about one fit as JSON-friendly data (per observation too)."""
    field = field_angles_deg(fit.ideal)
    return {
        **fit.stats(),
        "lens": fit.lens.to_dict(),
        "lens_centre_px": fit.lens_centre_px.tolist(),
        "camera_rotation_vector_rad": fit.rotation_vector.tolist(),
        "camera_rotation_deg": math.degrees(float(np.linalg.norm(fit.rotation_vector))),
        "by_field_ring": field_summary(fit),
        "observations": {
            "panel_px": np.round(fit.obs.panel_px, 3).tolist(),
            "field_deg": np.round(field, 4).tolist(),
            "channel": [CHANNELS[c] for c in fit.obs.channel],
            "residual_arcmin": np.round(fit.residual_arcmin, 4).tolist(),
            "inlier": fit.inlier.tolist(),
        },
    }


def text_summary(fit: LensFit) -> list[str]:
    """Short human-readable lines about one fit."""
    st = fit.stats()
    lines = [
        f"model {st['model']}: RMS {st['rms_arcmin']:.3f} arcmin, max {st['max_arcmin']:.3f} "
        f"arcmin over {st['n_observations']} features ({st['n_rejected']} rejected as "
        f"outliers), {st['n_params']} parameters, BIC {st['bic']:.1f}",
        f"  lens centre ({fit.lens_centre_px[0]:.2f}, {fit.lens_centre_px[1]:.2f}) px, camera "
        f"rotation {math.degrees(float(np.linalg.norm(fit.rotation_vector))):.3f} deg",
    ]
    for name, pc in st["per_channel"].items():
        lines.append(
            f"  {name:5s}: RMS {pc['rms_arcmin']:.3f} arcmin, max {pc['max_arcmin']:.3f} arcmin, "
            f"{pc['n']} features"
        )
    return lines


def comparison_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Table of a model comparison (rows from :func:`vrkit.calibration.fit.compare_models`)."""
    out = [f"{'model':14s} {'params':>6s} {'RMS arcmin':>10s} {'max arcmin':>10s} {'dBIC':>10s}"]
    for r in rows:
        out.append(
            f"{r['model']:14s} {r['n_params']:6d} {r['rms_arcmin']:10.3f} {r['max_arcmin']:10.3f} "
            f"{r['delta_bic']:10.1f}"
        )
    return out


def write_heatmap(fit: LensFit, path: str | Path) -> Path:
    """Residual heat map: one panel per fitted channel, residual (arcmin) at field position.

    Args:
        fit: The fit.
        path: PNG file to write.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import LinearTriInterpolator, Triangulation

    field = field_angles_deg(fit.ideal)
    chans = [c for c in range(3) if np.any(fit.obs.channel == c)]
    vmax = float(np.nanpercentile(fit.residual_arcmin[fit.inlier], 99)) or 1.0
    fig, axes = plt.subplots(
        1, len(chans), figsize=(5.2 * len(chans), 4.6), squeeze=False, layout="constrained"
    )
    for ax, c in zip(axes[0], chans, strict=True):
        m = fit.obs.channel == c
        inl = m & fit.inlier
        pts, res = field[inl], fit.residual_arcmin[inl]
        if len(pts) >= 3:
            tri = Triangulation(pts[:, 0], pts[:, 1])
            gx, gy = np.meshgrid(
                np.linspace(pts[:, 0].min(), pts[:, 0].max(), 200),
                np.linspace(pts[:, 1].min(), pts[:, 1].max(), 200),
            )
            z = LinearTriInterpolator(tri, res)(gx, gy)
            im = ax.pcolormesh(gx, gy, z, cmap="inferno", vmin=0, vmax=vmax, shading="auto")
        ax.scatter(pts[:, 0], pts[:, 1], s=3, c="white", alpha=0.4, linewidths=0)
        out = m & ~fit.inlier
        if out.any():
            ax.scatter(field[out, 0], field[out, 1], s=30, marker="x", c="cyan", label="rejected")
            ax.legend(loc="lower right", fontsize=7)
        rc = fit.residual_arcmin[inl]
        ax.set_title(
            f"{CHANNELS[c]}: RMS {np.sqrt(np.mean(rc**2)):.2f}', max {rc.max():.2f}'", fontsize=10
        )
        ax.set_xlabel("field x (deg)")
        ax.set_ylabel("field y (deg)")
        ax.set_aspect("equal")
    fig.colorbar(im, ax=axes[0].tolist(), label="residual (arcmin)", shrink=0.85)
    fig.suptitle(f"vrkit lens calibration: {fit.name} model, residual by field position")
    p = Path(path)
    save_figure(fig, p, dpi=90)
    plt.close(fig)
    return p
