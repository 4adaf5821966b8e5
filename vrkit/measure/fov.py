"""Field of view of a headset: from a profile's panel and lens, or from a runtime's views.

From a profile, the definition is the Cardboard SDK's (``LensDistortion::CalculateFov``): for each
eye, take the distance from the lens centre to each edge of the eye's half of the panel along the
lens's horizontal and vertical axes, convert it to tan units (divide by the screen-to-lens
distance), map it through the lens to the eye's tan angle (our ``undistort``, Cardboard's
``Distort``), take the arctangent, and clamp it to the lens limits of the profile. vrkit keeps
the unclamped angles too, evaluates the actual signed edge points (so decentred and non-radial
lenses work) and uses the green channel.

Derived values, all in degrees:

* per eye: ``horizontal = left + right``, ``vertical = up + down``, ``diagonal`` = the larger
  of the angles between the rays through opposite corners of the eye's frustum;
* both eyes, in the head's horizontal plane (each eye yawed outward by ``canting``, eyes
  treated as coincident, i.e. overlap at infinity as hmdq reports it):
  ``total_horizontal`` = from the left eye's outer edge to the right eye's outer edge,
  ``binocular_overlap`` = the angle both eyes see.

Pure numpy; the runtime variant takes :class:`~vrkit.core.types.EyeView` values, so it needs no
OpenXR here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vrkit.core.errors import InputError
from vrkit.core.types import LEFT, RIGHT, EyeView, Fov
from vrkit.math.transforms import matrix_from_quat

if TYPE_CHECKING:
    from vrkit.optics.profile import HeadsetProfile

SIDES = ("left", "right", "up", "down")


@dataclass(frozen=True)
class EyeFov:
    """One eye's field of view from a profile.

    Attributes:
        eye: 0 left, 1 right.
        fov: Clamped field of view (what to render with).
        unclamped_deg: Panel-edge angles before the lens limits, signed degrees keyed ``left,
            right, up, down`` (left and down negative); None where the panel edge lies beyond
            the lens model's usable range (the limit then applies).
        limits_deg: The profile's lens limits for this eye, positive degrees by side.
        clamped: Sides where the lens limit, not the panel edge, sets the angle.
    """

    eye: int
    fov: Fov
    unclamped_deg: dict[str, float | None]
    limits_deg: dict[str, float]
    clamped: tuple[str, ...]


def eye_fov_from_profile(profile: HeadsetProfile, eye: int) -> EyeFov:
    """Compute one eye's field of view from the panel edges through the lens.

    Raises:
        InputError: A panel edge lies beyond the lens model's usable range and the lens limit on
            that side does not fall inside the range either (the model cannot say what the eye
            sees there).
    """
    lens = profile.lens(eye)
    left, right, bottom, top = profile.viewport_extent_tan(eye)
    edges = np.array([[left, 0.0], [right, 0.0], [0.0, top], [0.0, bottom]])
    ideal = lens.undistort(edges, 1, strict=False)
    comp = np.array([ideal[0, 0], ideal[1, 0], ideal[2, 1], ideal[3, 1]])
    lim_l, lim_r, lim_u, lim_d = profile.fov_limits(eye)
    limits = {"left": lim_l, "right": lim_r, "up": lim_u, "down": lim_d}
    signs = {"left": -1.0, "right": 1.0, "up": 1.0, "down": -1.0}
    axis_pts = {"left": (-1, 0), "right": (1, 0), "up": (0, 1), "down": (0, -1)}
    angles: dict[str, float] = {}
    unclamped: dict[str, float | None] = {}
    clamped = []
    for i, side in enumerate(SIDES):
        sign, limit = signs[side], limits[side]
        if np.isfinite(comp[i]):
            a = math.degrees(math.atan(comp[i]))
            unclamped[side] = a
            if sign * a > limit:
                a = sign * limit
                clamped.append(side)
            angles[side] = a
            continue
        # The panel edge is beyond the model's range: the lens limit must lie inside it.
        unclamped[side] = None
        t = math.tan(math.radians(limit))
        d = np.array(axis_pts[side], dtype=float) * t
        panel = lens.distort(d[None, :], 1, strict=False)[0]
        edge = abs(edges[i][0] if i < 2 else edges[i][1])
        reach = abs(panel[0] if i < 2 else panel[1])
        if not (np.all(np.isfinite(panel)) and reach <= edge):
            raise InputError(
                f"the lens model's inverse does not exist over the panel: the {side} edge of the "
                f"{'left' if eye == LEFT else 'right'} eye's viewport is {edge:.4f} tan units from "
                f"the lens centre, beyond the model's usable panel radius "
                f"{lens.max_panel_radius:.4f}, and the {side} FOV limit {limit:g} deg (tan "
                f"{t:.4f}) is beyond its usable ideal radius {lens.max_radius:.4f}",
                hint="lower fov_limits_deg on that side, or fit the lens over the whole panel",
            )
        angles[side] = sign * limit
        clamped.append(side)
    fov = Fov.from_degrees(angles["left"], angles["right"], angles["up"], angles["down"])
    return EyeFov(eye, fov, unclamped, limits, tuple(clamped))


def eye_summary_deg(fov: Fov) -> dict[str, float]:
    """Per-eye angles in degrees: the four sides plus horizontal, vertical and diagonal."""
    deg = fov.degrees()
    tl, tr, tu, td = fov.tangents()
    diagonal = max(
        _ray_angle_deg((tl, tu), (tr, td)),  # top-left to bottom-right
        _ray_angle_deg((tr, tu), (tl, td)),  # top-right to bottom-left
    )
    return {
        "left": deg["left"],
        "right": deg["right"],
        "up": deg["up"],
        "down": deg["down"],
        "horizontal": deg["right"] - deg["left"],
        "vertical": deg["up"] - deg["down"],
        "diagonal": diagonal,
    }


def _ray_angle_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Angle in degrees between the rays through tan-angle points ``a`` and ``b``."""
    va = np.array([a[0], a[1], -1.0])
    vb = np.array([b[0], b[1], -1.0])
    cos = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def combine_eyes_deg(left: Fov, right: Fov, canting_deg: float) -> dict[str, float]:
    """Total horizontal FOV and binocular overlap of two eyes yawed outward by ``canting_deg``.

    Horizontal angles in the head frame, positive to the right; the left eye spans
    ``[left.left - cant, left.right - cant]`` and the right eye the same shifted by ``+cant``.
    """
    ll, lr = left.degrees()["left"] - canting_deg, left.degrees()["right"] - canting_deg
    rl, rr = right.degrees()["left"] + canting_deg, right.degrees()["right"] + canting_deg
    lo, hi = min(ll, rl), max(lr, rr)
    overlap = max(0.0, min(lr, rr) - max(ll, rl))
    up = min(left.degrees()["up"], right.degrees()["up"])
    down = max(left.degrees()["down"], right.degrees()["down"])
    return {
        "total_horizontal": hi - lo,
        "binocular_overlap": overlap,
        "binocular_vertical": max(0.0, up - down),
        "canting": canting_deg,
    }


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
        ef = eye_fov_from_profile(profile, eye)
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
    fig.savefig(path)
    plt.close(fig)
