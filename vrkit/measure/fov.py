"""FOV reports: from a profile's panel and lens, or from a runtime's views; table and plot.

The geometry (an eye's FOV through its lens, per-eye summaries, the binocular combination with
canting) lives in :mod:`vrkit.optics.fov`; this module turns it into reports. A profile's report
uses the eye FOVs the profile computed once (:attr:`HeadsetProfile.eye_fovs
<vrkit.optics.profile.HeadsetProfile.eye_fovs>`) and its canting; a report from views (e.g.
``xrLocateViews``, or the views a vrkit backend rendered) recovers canting and IPD from the eye
poses, so the two can be compared.

Pure numpy; the runtime variant takes :class:`~vrkit.core.types.EyeView` values, so it needs no
OpenXR here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from vrkit.core.errors import InputError
from vrkit.core.outputs import save_figure
from vrkit.core.types import LEFT, RIGHT, EyeView
from vrkit.math.transforms import matrix_from_quat
from vrkit.optics.fov import combine_eyes_deg, eye_summary_deg

if TYPE_CHECKING:
    from vrkit.optics.profile import HeadsetProfile


def fov_report(profile: HeadsetProfile) -> dict[str, Any]:
    """The FOV report of a profile (JSON-friendly, degrees).

    Returns:
        ``{"source": "profile", "profile": name, "eyes": {"left": {...}, "right": {...}},
        "total_horizontal", "binocular_overlap", "binocular_vertical", "canting"}``; each eye has
        the clamped angles and summary (:func:`eye_summary_deg`), ``"unclamped"``, ``"limits"``,
        ``"clamped"`` and its ``"viewport_px"``.
    """
    eyes = {}
    fovs = []
    for eye, name in ((LEFT, "left"), (RIGHT, "right")):
        ef = profile.eye_fovs[eye]
        fovs.append(ef.fov)
        entry: dict[str, Any] = eye_summary_deg(ef.fov)
        entry["unclamped"] = ef.unclamped_deg
        unc = ef.unclamped_deg
        if all(v is not None for v in unc.values()):
            entry["unclamped_horizontal"] = unc["right"] - unc["left"]  # type: ignore[operator]
            entry["unclamped_vertical"] = unc["up"] - unc["down"]  # type: ignore[operator]
        entry["limits"] = ef.limits_deg
        entry["clamped"] = list(ef.clamped)
        entry["viewport_px"] = list(profile.eye_viewport(eye))
        eyes[name] = entry
    report: dict[str, Any] = {"source": "profile", "profile": profile.name, "eyes": eyes}
    report.update(combine_eyes_deg(fovs[0], fovs[1], profile.canting_deg))
    return report


def fov_report_from_views(views: list[EyeView]) -> dict[str, Any]:
    """The FOV report from a runtime's located views (e.g. ``xrLocateViews``), like hmdq.

    Canting is half the yaw between the two eyes' forward directions (outward positive); the IPD
    is the distance between the eye positions.

    Args:
        views: Two views, left (eye 0) and right (eye 1), poses in one space.

    Raises:
        InputError: Not exactly one left and one right view.
    """
    if len(views) != 2 or sorted(v.eye for v in views) != [LEFT, RIGHT]:
        got = [getattr(v, "eye", v) for v in views]
        raise InputError(f"need one left and one right view, got eyes {got}")
    left = next(v for v in views if v.eye == LEFT)
    right = next(v for v in views if v.eye == RIGHT)
    R_l = matrix_from_quat(left.pose.orientation)
    R_r = matrix_from_quat(right.pose.orientation)
    fwd_r_in_l = R_l.T @ R_r @ np.array([0.0, 0.0, -1.0])
    # Yaw of the right eye relative to the left, positive when it turns right (outward).
    yaw = math.degrees(math.atan2(fwd_r_in_l[0], -fwd_r_in_l[2]))
    cant = yaw / 2
    eyes = {"left": eye_summary_deg(left.fov), "right": eye_summary_deg(right.fov)}
    report: dict[str, Any] = {"source": "views", "eyes": eyes}
    report.update(combine_eyes_deg(left.fov, right.fov, cant))
    report["ipd_m"] = float(np.linalg.norm(right.pose.position - left.pose.position))
    return report


def format_report(report: dict[str, Any]) -> str:
    """Human-readable table of a FOV report."""
    head = report.get("profile") or report.get("source", "")
    lines = [f"Field of view ({head}), degrees"]
    lines.append(
        f"{'eye':6} {'left':>7} {'right':>7} {'up':>7} {'down':>7} {'horiz':>7} {'vert':>7} "
        f"{'diag':>7}"
    )
    for name, e in report["eyes"].items():
        lines.append(
            f"{name:6} {e['left']:7.2f} {e['right']:7.2f} {e['up']:7.2f} {e['down']:7.2f} "
            f"{e['horizontal']:7.2f} {e['vertical']:7.2f} {e['diagonal']:7.2f}"
        )
        if "unclamped" in e:
            unc = " ".join(
                f"{k} {'beyond model' if v is None else f'{v:.2f}'}"
                for k, v in e["unclamped"].items()
            )
            clamped = ", ".join(e["clamped"]) or "none"
            lines.append(f"       unclamped: {unc}; clamped by lens limits: {clamped}")
    lines.append(
        f"total horizontal {report['total_horizontal']:.2f}, binocular overlap "
        f"{report['binocular_overlap']:.2f}, binocular vertical {report['binocular_vertical']:.2f}"
        f", canting {report['canting']:.2f}"
    )
    if "ipd_m" in report:
        lines.append(f"IPD {report['ipd_m'] * 1e3:.1f} mm")
    return "\n".join(lines)


def _boundary_deg(eye: dict[str, float], yaw_deg: float, n: int = 100) -> np.ndarray:
    """The border of an eye's frustum as (azimuth, elevation) degrees, (4n, 2)."""
    tl, tr = math.tan(math.radians(eye["left"])), math.tan(math.radians(eye["right"]))
    tu, td = math.tan(math.radians(eye["up"])), math.tan(math.radians(eye["down"]))
    t = np.linspace(0, 1, n, endpoint=False)
    x = np.concatenate([tl + (tr - tl) * t, np.full(n, tr), tr - (tr - tl) * t, np.full(n, tl)])
    y = np.concatenate([np.full(n, tu), tu - (tu - td) * t, np.full(n, td), td + (tu - td) * t])
    az = np.degrees(np.arctan(x)) + yaw_deg
    el = np.degrees(np.arctan2(y, np.sqrt(1 + x * x)))
    return np.stack([az, el], axis=1)


def plot_fov(report: dict[str, Any], path: Any) -> None:
    """Draw both eyes' fields and their overlap on an angular grid (PNG, matplotlib Agg).

    Azimuth / elevation in degrees in the head frame; each eye's frustum is outlined and filled,
    so the binocular overlap shows where the fills mix; dashed: the panel edges before the lens
    limits (profile reports).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cant = report.get("canting", 0.0)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    for name, colour, yaw in (("left", "tab:blue", -cant), ("right", "tab:red", cant)):
        b = _boundary_deg(report["eyes"][name], yaw)
        ax.fill(b[:, 0], b[:, 1], color=colour, alpha=0.25, label=f"{name} eye")
        ax.plot(np.append(b[:, 0], b[0, 0]), np.append(b[:, 1], b[0, 1]), color=colour)
        unclamped = report["eyes"][name].get("unclamped")
        if unclamped and all(v is not None for v in unclamped.values()):
            u = _boundary_deg(unclamped, yaw)
            ax.plot(
                np.append(u[:, 0], u[0, 0]),
                np.append(u[:, 1], u[0, 1]),
                color=colour,
                linestyle="--",
                linewidth=0.8,
                label=f"{name} eye through the panel edges (unclamped)",
            )
    ax.set_xlabel("azimuth (deg, + right)")
    ax.set_ylabel("elevation (deg, + up)")
    title = report.get("profile") or report.get("source", "")
    ax.set_title(
        f"FOV {title}: total H {report['total_horizontal']:.1f} deg, binocular overlap "
        f"{report['binocular_overlap']:.1f} deg"
    )
    ax.set_xticks(np.arange(-90, 91, 10))
    ax.set_yticks(np.arange(-90, 91, 10))
    ax.grid(True, alpha=0.4)
    ax.set_aspect("equal")
    ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
