"""Several headsets' fields of view side by side: one table, one angular plot.

Each entry is a FOV report (:func:`vrkit.measure.fov.fov_report` or
:func:`~vrkit.measure.fov.fov_report_from_views`) with a display name and, for headsets read
from hmdq files, hmdq's own figures (:func:`vrkit.interop.hmdq.hmdq_figures` or as recorded),
shown beside vrkit's where the definitions differ (vertical and diagonal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vrkit.core.outputs import save_figure


@dataclass
class Headset:
    """One headset to compare.

    Attributes:
        name: Label for the table and plot.
        report: vrkit's FOV report (degrees).
        hmdq: hmdq's ``fov_tot`` figures (degrees) when the source was an hmdq file, else None.
    """

    name: str
    report: dict[str, Any]
    hmdq: dict[str, float] | None = None


def compare_rows(headsets: list[Headset]) -> list[dict[str, Any]]:
    """The comparison as JSON-friendly rows (degrees)."""
    rows = []
    for h in headsets:
        r = h.report
        left, right = r["eyes"]["left"], r["eyes"]["right"]
        row: dict[str, Any] = {
            "name": h.name,
            "eye_horizontal": [left["horizontal"], right["horizontal"]],
            "eye_vertical": [left["vertical"], right["vertical"]],
            "eye_diagonal": [left["diagonal"], right["diagonal"]],
            "total_horizontal": r["total_horizontal"],
            "binocular_overlap": r["binocular_overlap"],
            "binocular_vertical": r["binocular_vertical"],
            "canting": r["canting"],
        }
        if "ipd_m" in r:
            row["ipd_m"] = r["ipd_m"]
        if h.hmdq is not None:
            row["hmdq"] = dict(h.hmdq)
        rows.append(row)
    return rows


def format_compare(headsets: list[Headset]) -> str:
    """A text table of the headsets (degrees), hmdq's figures beside vrkit's where given."""
    rows = compare_rows(headsets)
    width = max(12, *(len(r["name"]) for r in rows))
    head = (
        f"{'headset':{width}} {'eye H':>13} {'eye V':>13} {'eye diag':>13} {'total H':>8} "
        f"{'overlap':>8} {'binoc V':>8} {'cant':>5}"
    )
    lines = ["Field of view, degrees (vrkit's definitions; eye values left/right)", head]
    for r in rows:
        pair = "{:6.1f}/{:<6.1f}"
        lines.append(
            f"{r['name']:{width}} {pair.format(*r['eye_horizontal'])} "
            f"{pair.format(*r['eye_vertical'])} {pair.format(*r['eye_diagonal'])} "
            f"{r['total_horizontal']:8.1f} {r['binocular_overlap']:8.1f} "
            f"{r['binocular_vertical']:8.1f} {r['canting']:5.1f}"
        )
    with_hmdq = [r for r in rows if "hmdq" in r]
    if with_hmdq:
        lines.append(
            "hmdq's figures (its definitions: vertical = mean of the two eyes, diagonal = "
            "binocular, left eye's bottom-left to right eye's top-right)"
        )
        lines.append(
            f"{'headset':{width}} {'total H':>8} {'overlap':>8} {'vertical':>8} {'diagonal':>8}"
        )
        for r in with_hmdq:
            t = r["hmdq"]
            lines.append(
                f"{r['name']:{width}} {t['fov_hor']:8.1f} {t['overlap']:8.1f} "
                f"{t['fov_ver']:8.1f} {t['fov_diag']:8.1f}"
            )
    return "\n".join(lines)


def eye_outline_deg(eye: dict[str, float], yaw_deg: float, n: int = 60) -> np.ndarray:
    """The border of one eye's frustum as (azimuth, elevation) degrees in the head frame (4n, 2).

    Args:
        eye: ``left``, ``right``, ``up``, ``down`` signed degrees in the eye's frame.
        yaw_deg: The eye's yaw in the head (outward canting: negative for the left eye).
        n: Samples per side.
    """
    tl, tr = math.tan(math.radians(eye["left"])), math.tan(math.radians(eye["right"]))
    tu, td = math.tan(math.radians(eye["up"])), math.tan(math.radians(eye["down"]))
    t = np.linspace(0, 1, n, endpoint=False)
    x = np.concatenate([tl + (tr - tl) * t, np.full(n, tr), tr - (tr - tl) * t, np.full(n, tl)])
    y = np.concatenate([np.full(n, tu), tu - (tu - td) * t, np.full(n, td), td + (tu - td) * t])
    # Ray (x, y, -1) in the eye frame, yawed about +y into the head frame.
    c, s = math.cos(math.radians(-yaw_deg)), math.sin(math.radians(-yaw_deg))
    hx, hz = c * x + s * -1.0, -s * x + c * -1.0
    az = np.degrees(np.arctan2(hx, -hz))
    el = np.degrees(np.arctan2(y, np.hypot(hx, hz)))
    return np.stack([az, el], axis=1)


def plot_compare(headsets: list[Headset], path: Any) -> None:
    """Draw every headset's two eye fields on one azimuth / elevation grid (PNG, matplotlib).

    Each headset has one colour; its left eye is outlined solid, its right eye dashed, and the
    binocular overlap is where both outlines enclose.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6.5), dpi=100)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, h in enumerate(headsets):
        colour = colours[i % len(colours)]
        cant = h.report.get("canting", 0.0)
        for name, yaw, style in (("left", -cant, "-"), ("right", cant, "--")):
            b = eye_outline_deg(h.report["eyes"][name], yaw)
            ax.plot(
                np.append(b[:, 0], b[0, 0]),
                np.append(b[:, 1], b[0, 1]),
                color=colour,
                linestyle=style,
                label=f"{h.name} ({h.report['total_horizontal']:.0f} deg total H)"
                if name == "left"
                else None,
            )
            ax.fill(b[:, 0], b[:, 1], color=colour, alpha=0.06)
    ax.set_xlabel("azimuth (deg, + right)")
    ax.set_ylabel("elevation (deg, + up)")
    ax.set_title("Fields of view (solid: left eye, dashed: right eye)")
    ax.set_xticks(np.arange(-90, 91, 10))
    ax.set_yticks(np.arange(-90, 91, 10))
    ax.grid(True, alpha=0.4)
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
