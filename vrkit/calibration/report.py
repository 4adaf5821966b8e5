"""Lens-calibration report: residuals by field position, model comparison, heat map PNG."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.acceptance import DEFAULT_RULE, AcceptanceRule
from vrkit.calibration.fit import LensFit
from vrkit.core.outputs import save_figure
from vrkit.optics.base import CHANNELS

if TYPE_CHECKING:
    from vrkit.calibration.viewpoint import Viewpoint

#: Field rings (degrees from the lens axis) for the per-field-position summary.
RING_EDGES_DEG = (0, 10, 20, 30, 40, 50, 60, 90)


def field_angles_deg(ideal: NDArray[np.float64]) -> NDArray[np.float64]:
    """Horizontal and vertical view angles (N, 2), degrees, of ideal tan points (N, 2)."""
    return np.degrees(np.arctan(ideal))


def field_summary(fit: LensFit) -> list[dict[str, Any]]:
    """Residuals per channel in rings of field angle (see :data:`RING_EDGES_DEG`).

    Every detected feature counts: ``n`` features in the ring, ``n_rejected`` of them rejected,
    ``rms_arcmin`` over the kept ones, ``rms_all_arcmin`` / ``max_arcmin`` over all of them.
    """
    r_deg = np.degrees(np.arctan(np.hypot(fit.ideal[:, 0], fit.ideal[:, 1])))
    rows = []
    for lo, hi in itertools.pairwise(RING_EDGES_DEG):
        for c in range(3):
            m = (fit.obs.channel == c) & (r_deg >= lo) & (r_deg < hi)
            if m.any():
                res = fit.residual_arcmin[m]
                kept = fit.residual_arcmin[m & fit.inlier]
                rows.append(
                    {
                        "ring_deg": [lo, hi],
                        "channel": CHANNELS[c],
                        "n": int(m.sum()),
                        "n_rejected": int((m & ~fit.inlier).sum()),
                        "rms_arcmin": float(np.sqrt(np.mean(kept**2))) if len(kept) else None,
                        "rms_all_arcmin": float(np.sqrt(np.mean(res**2))),
                        "max_arcmin": float(res.max()),
                    }
                )
    return rows


def fit_report(fit: LensFit, rule: AcceptanceRule = DEFAULT_RULE) -> dict[str, Any]:
    """Everything about one fit as JSON-friendly data (per observation too)."""
    field = field_angles_deg(fit.ideal)
    return {
        **fit.stats(rule),
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


def text_summary(fit: LensFit, rule: AcceptanceRule = DEFAULT_RULE) -> list[str]:
    """Short human-readable lines about one fit, ending with its verdict."""
    st = fit.stats(rule)
    lines = [
        f"model {st['model']}: {st['n_features']} features, {st['n_rejected']} rejected "
        f"({100 * st['rejected_fraction']:.1f} %, cut-off {st['cutoff_arcmin']:.2f} arcmin); "
        f"RMS {st['rms_arcmin']:.3f} arcmin kept / {st['rms_all_arcmin']:.3f} all, max "
        f"{st['max_arcmin']:.3f} arcmin all ({st['max_kept_arcmin']:.3f} kept); "
        f"{st['n_params']} parameters, BIC {st['bic']:.1f}",
        f"  lens centre ({fit.lens_centre_px[0]:.2f}, {fit.lens_centre_px[1]:.2f}) px, camera "
        f"rotation {math.degrees(float(np.linalg.norm(fit.rotation_vector))):.3f} deg",
    ]
    for name, pc in st["per_channel"].items():
        lines.append(
            f"  {name:5s}: RMS {pc['rms_arcmin']:.3f} arcmin kept / {pc['rms_all_arcmin']:.3f} "
            f"all, max {pc['max_arcmin']:.3f} arcmin, {pc['n']} features, "
            f"{pc['n_rejected']} rejected"
        )
    fd = fit.field_deg()
    rej = ~fit.inlier
    if rej.any():
        rad = np.degrees(np.arctan(np.hypot(*fit.ideal[rej].T)))
        lines.append(
            f"  rejected features lie {rad.min():.0f}-{rad.max():.0f} deg from the axis "
            f"(median {np.median(rad):.0f}); field x {fd[rej, 0].min():+.0f}..."
            f"{fd[rej, 0].max():+.0f}, y {fd[rej, 1].min():+.0f}...{fd[rej, 1].max():+.0f} deg"
        )
    verdict = fit.verdict(rule)
    lines += [f"  {c.text()}" for c in verdict.clusters if not c.model_error]
    lines.append(f"  verdict: {verdict.summary()}")
    return lines


def comparison_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Table of a model comparison (rows from :func:`vrkit.calibration.fit.compare_models`)."""
    out = [
        f"{'model':14s} {'params':>6s} {'rejected':>8s} {'RMS kept':>8s} {'RMS all':>8s} "
        f"{'max all':>8s} {'dBIC':>9s}  verdict"
    ]
    for r in rows:
        mark = " (recommended)" if r.get("recommended") else ""
        out.append(
            f"{r['model']:14s} {r['n_params']:6d} {r['n_rejected']:8d} {r['rms_arcmin']:8.3f} "
            f"{r['rms_all_arcmin']:8.3f} {r['max_arcmin']:8.3f} {r['delta_bic']:9.1f}  "
            f"{'acceptable' if r['acceptable'] else 'NOT acceptable'}{mark}"
        )
        if not r["acceptable"]:
            out.append(f"{'':16s}why: {r['why']}")
    return out


def write_heatmap(fit: LensFit, path: str | Path, rule: AcceptanceRule = DEFAULT_RULE) -> Path:
    """Residual heat map: one panel per fitted channel, residual (arcmin) at field position.

    The colour is interpolated over *all* detected features (rejected ones at their residual);
    rejected features are marked with a cross, rejection clusters are outlined, and the title
    carries the verdict of the acceptance rule (:mod:`vrkit.calibration.acceptance`).

    Args:
        fit: The fit.
        path: PNG file to write.
        rule: The acceptance rule.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from matplotlib.tri import LinearTriInterpolator, Triangulation

    field = field_angles_deg(fit.ideal)
    verdict = fit.verdict(rule)
    chans = [c for c in range(3) if np.any(fit.obs.channel == c)]
    vmax = float(np.nanpercentile(fit.residual_arcmin, 99)) or 1.0
    fig, axes = plt.subplots(
        1, len(chans), figsize=(5.2 * len(chans), 4.9), squeeze=False, layout="constrained"
    )
    im = None
    for ax, c in zip(axes[0], chans, strict=True):
        m = fit.obs.channel == c
        pts, res = field[m], fit.residual_arcmin[m]
        if len(pts) >= 3:
            tri = Triangulation(pts[:, 0], pts[:, 1])
            gx, gy = np.meshgrid(
                np.linspace(pts[:, 0].min(), pts[:, 0].max(), 200),
                np.linspace(pts[:, 1].min(), pts[:, 1].max(), 200),
            )
            z = LinearTriInterpolator(tri, res)(gx, gy)
            im = ax.pcolormesh(gx, gy, z, cmap="inferno", vmin=0, vmax=vmax, shading="auto")
        inl = m & fit.inlier
        ax.scatter(field[inl, 0], field[inl, 1], s=3, c="white", alpha=0.4, linewidths=0)
        out = m & ~fit.inlier
        if out.any():
            ax.scatter(
                field[out, 0],
                field[out, 1],
                s=24,
                marker="x",
                c="cyan",
                label=f"rejected ({int(out.sum())})",
            )
        labelled: set[bool] = set()
        for cl in verdict.clusters:
            x0, x1, y0, y1 = cl.box_deg
            bad = cl.model_error
            ax.add_patch(
                Rectangle(
                    (x0, y0),
                    x1 - x0,
                    y1 - y0,
                    fill=False,
                    ec="lime" if bad else "silver",
                    lw=1.5,
                    ls="--" if bad else ":",
                    label=None
                    if bad in labelled
                    else ("model does not fit here" if bad else "noisy region"),
                )
            )
            labelled.add(bad)
        if out.any() or verdict.clusters:
            ax.legend(loc="lower right", fontsize=7)
        ra, rk = fit.residual_arcmin[m], fit.residual_arcmin[inl]
        rms_k = np.sqrt(np.mean(rk**2)) if len(rk) else float("nan")
        ax.set_title(
            f"{CHANNELS[c]}: RMS {rms_k:.2f}' kept / {np.sqrt(np.mean(ra**2)):.2f}' all, "
            f"max {ra.max():.2f}' all",
            fontsize=9,
        )
        ax.set_xlabel("field x (deg)")
        ax.set_ylabel("field y (deg)")
        ax.set_aspect("equal")
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), label="residual (arcmin)", shrink=0.85)
    text = verdict.summary()
    fig.suptitle(
        f"vrkit lens calibration: {fit.name} model, residual of all features by field position\n"
        f"{text if len(text) < 160 else text[:157] + '...'}",
        fontsize=10,
        color="black" if verdict.acceptable else "red",
    )
    p = Path(path)
    save_figure(fig, p, dpi=90)
    plt.close(fig)
    return p


def read_lens_report(path: str | Path, eye: str) -> tuple[NDArray[np.float64], Viewpoint | None]:
    """The camera rotation and measured viewpoint of one eye in a ``calibrate lens`` report.

    Args:
        path: ``report.json`` of ``vrkit calibrate lens`` (one eye, or both under ``eyes``).
        eye: ``"left"`` or ``"right"``: the eye the captures being measured are of.

    Returns:
        ``(rotation_vector (3,) radians, viewpoint)``: the camera's rotation in the eye frame
        about the fitted lens axis, and the camera offset measured with ``--stage`` (None when
        the run measured none).

    Raises:
        InputError: One line naming the file: not JSON, not a lens report (schema), for the
            other eye, or without a measured FOV.
    """
    from vrkit.calibration.viewpoint import Viewpoint
    from vrkit.core.documents import read_document
    from vrkit.core.errors import InputError

    hint = "give the report.json that `vrkit calibrate lens` wrote for these captures"
    data = read_document(path, "lens-report", hint=hint)
    eyes = data["eyes"] if "eyes" in data else {data["eye"]: data}
    if eye not in eyes:
        raise InputError(
            f"lens report {str(path)!r} has the {' and '.join(sorted(eyes))} eye, the captures "
            f"are of the {eye} eye",
            hint,
        )
    rep = eyes[eye]
    if rep["fov_measured"] is None:
        raise InputError(
            f"lens report {str(path)!r} has no measured FOV for the {eye} eye (its captures had "
            "no full-on / full-off frames), so no camera rotation about the lens axis",
            "give --camera-rotation, or calibrate from captures with the dense patterns",
        )
    rv = np.asarray(rep["fov_measured"]["camera_rotation_vector_rad"], dtype=np.float64)
    v = rep["viewpoint"]
    return rv, (Viewpoint.from_dict(v) if v["measured"] else None)
