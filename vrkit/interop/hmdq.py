"""hmdq output files (risa2000/hmdq): a commercial headset's view geometry, and hmdq's figures.

hmdq records what a VR runtime reports and saves it as JSON (output version 5, hmdq 2.x):
``misc.log_ver``; per subsystem (``openvr``, or ``oculus`` with ``default_fov`` / ``max_fov``) a
``geometry`` object with ``raw_eye`` (per eye ``tan_left``, ``tan_right``, ``tan_bottom``,
``tan_top``), ``eye2head`` (3 x 4 eye-to-head matrices), and hmdq's own results ``view_geom``,
``fov_head`` and ``fov_tot``. The eye blocks are keyed ``Left`` and ``Right``. Its geometry
database (risa2000.github.io/hmdgdb) holds hundreds of headsets.

vrkit turns the raw frusta and eye poses into :class:`~vrkit.core.types.EyeView` values and
measures them its own way (:func:`vrkit.measure.fov.fov_report_from_views`). It also computes
hmdq's figures (:func:`hmdq_figures`, from hmdq's ``calcview.cpp`` and ``geom2.cpp`` for a
frustum without a hidden-area mesh), because some are defined differently:

* hmdq's per-eye angles are in the head frame: left/right where the (canted) frustum crosses the
  head's horizontal plane, bottom/top where it crosses the head's vertical plane; vrkit's are in
  each eye's own frame;
* hmdq's vertical total is the mean of the two eyes' verticals; vrkit's binocular vertical is
  what both eyes see;
* hmdq's diagonal is binocular: the mean of the angles from the left eye's bottom-left corner to
  the right eye's top-right corner and from its top-left to the right's bottom-right; vrkit's
  diagonal is per eye (the larger of its two corner-to-corner angles).

Total horizontal and overlap agree.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError
from vrkit.core.types import LEFT, RIGHT, EyeView, Fov, Pose

SUPPORTED_LOG_VERSION = 5
EYE_KEYS = ("Left", "Right")
TAN_KEYS = ("tan_left", "tan_right", "tan_bottom", "tan_top")


def is_hmdq(data: Any) -> bool:
    """True for a JSON object with hmdq's ``misc`` block."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("misc"), dict)
        and ("log_ver" in data["misc"] or "hmdq_ver" in data["misc"])
    )


def _geometry(data: dict[str, Any], subsystem: str | None) -> tuple[str, dict[str, Any]]:
    choices = []
    if isinstance(data.get("openvr"), dict) and isinstance(data["openvr"].get("geometry"), dict):
        choices.append(("openvr", data["openvr"]["geometry"]))
    oculus = data.get("oculus")
    if isinstance(oculus, dict) and isinstance(oculus.get("geometry"), dict):
        for key in ("default_fov", "max_fov"):
            if isinstance(oculus["geometry"].get(key), dict):
                choices.append((f"oculus.{key}", oculus["geometry"][key]))
    choices = [(n, g) for n, g in choices if "raw_eye" in g and "eye2head" in g]
    if subsystem is not None:
        choices = [(n, g) for n, g in choices if n == subsystem or n.startswith(subsystem + ".")]
    if not choices:
        want = f" for {subsystem!r}" if subsystem else ""
        raise DataError(f"hmdq file has no geometry (raw_eye and eye2head){want}")
    return choices[0]


def read_hmdq(data: Any, subsystem: str | None = None) -> dict[str, Any]:
    """The views and hmdq's recorded figures of an hmdq output file.

    Args:
        data: The parsed JSON.
        subsystem: ``"openvr"``, ``"oculus"`` (``default_fov``) or ``"oculus.max_fov"``; the
            first one present when None.

    Returns:
        ``{"views": [left, right] EyeView, "subsystem", "recorded": {view_geom, fov_head,
        fov_tot} (as in the file, where present), "hidden_area_mesh": bool, "hmdq_ver"}``.

    Raises:
        DataError: Another output version, or a missing / malformed block (named).
    """
    if not is_hmdq(data):
        raise DataError("not an hmdq output file: no misc.log_ver")
    ver = data["misc"].get("log_ver")
    if ver != SUPPORTED_LOG_VERSION:
        raise DataError(
            f"hmdq output version {ver!r} (hmdq {data['misc'].get('hmdq_ver', '?')}); vrkit reads "
            f"version {SUPPORTED_LOG_VERSION} (hmdq 2.x): open and save the file with hmdv 2.x"
        )
    name, geom = _geometry(data, subsystem)
    views = []
    for eye, key in zip((LEFT, RIGHT), EYE_KEYS, strict=True):
        raw = geom["raw_eye"].get(key)
        if not isinstance(raw, dict) or any(k not in raw for k in TAN_KEYS):
            raise DataError(f"hmdq file {name}.geometry.raw_eye.{key} must have {list(TAN_KEYS)}")
        tans = [raw[k] for k in TAN_KEYS]
        if not all(isinstance(t, (int, float)) and math.isfinite(t) for t in tans):
            raise DataError(f"hmdq file {name}.geometry.raw_eye.{key} is not numbers: {tans}")
        left, right, bottom, top = tans
        try:
            fov = Fov(math.atan(left), math.atan(right), math.atan(top), math.atan(bottom))
        except ValueError as exc:
            raise DataError(f"hmdq file {name}.geometry.raw_eye.{key}: {exc}") from None
        try:
            m = np.asarray(geom["eye2head"].get(key), dtype=np.float64)
        except (TypeError, ValueError):
            m = np.zeros(0)
        if m.shape != (3, 4) or not np.all(np.isfinite(m)):
            raise DataError(f"hmdq file {name}.geometry.eye2head.{key} must be a 3 x 4 matrix")
        T = np.eye(4)
        T[:3] = m
        views.append(EyeView(eye, Pose.from_matrix(T), fov))
    ham = geom.get("ham_mesh") or {}
    has_ham = any(
        isinstance(ham.get(k), dict) and (ham[k].get("ham_area") or 0) > 0 for k in EYE_KEYS
    )
    recorded = {k: geom[k] for k in ("view_geom", "fov_head", "fov_tot") if k in geom}
    return {
        "views": views,
        "subsystem": name,
        "recorded": recorded,
        "hidden_area_mesh": has_ham,
        "hmdq_ver": data["misc"].get("hmdq_ver"),
    }


def load_hmdq(path: str | Path, subsystem: str | None = None) -> dict[str, Any]:
    """Read an hmdq output file (schema ``hmdq``, then :func:`read_hmdq`).

    Raises:
        DataError: Missing, not JSON, another output version or a malformed block (one line).
    """
    return read_hmdq(read_document(path, "hmdq", DataError), subsystem)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(np.dot(a, b))))


def _fov_points(view: EyeView) -> dict[str, np.ndarray]:
    """Hmdq's eight FOV points of a frustum without a hidden-area mesh, in the head frame.

    Corners are the rotated frustum corners; left/right are where the rotated frustum's border
    crosses the head's horizontal plane (y = 0) on that side, bottom/top where it crosses the
    vertical plane (x = 0); all projected to z = -1.
    """
    R = np.asarray(view.pose.matrix()[:3, :3])
    tl, tr, tu, td = view.fov.tangents()
    corners = {
        "left_bottom": R @ [tl, td, -1.0],
        "right_bottom": R @ [tr, td, -1.0],
        "right_top": R @ [tr, tu, -1.0],
        "left_top": R @ [tl, tu, -1.0],
    }
    ring = [corners[k] for k in ("left_bottom", "right_bottom", "right_top", "left_top")]
    edges = [(ring[i], ring[(i + 1) % 4]) for i in range(4)]

    def crossing(axis: int, side_axis: int, sign: float) -> np.ndarray:
        best = None
        for p, q in edges:
            a, b = p[axis], q[axis]
            if (a > 0) == (b > 0) and a != 0 and b != 0:
                continue
            t = a / (a - b) if a != b else 0.0
            pt = p + t * (q - p)
            if np.sign(pt[side_axis]) != sign:
                continue
            if best is None or np.linalg.norm(pt) < np.linalg.norm(best):
                best = pt
        if best is None:
            raise DataError("hmdq geometry: the frustum does not contain the head's forward axis")
        return best

    points = dict(corners)
    points["left"] = crossing(1, 0, -1.0)
    points["right"] = crossing(1, 0, 1.0)
    points["bottom"] = crossing(0, 1, -1.0)
    points["top"] = crossing(0, 1, 1.0)
    return {k: v / abs(v[2]) for k, v in points.items()}


def hmdq_figures(views: list[EyeView]) -> dict[str, Any]:
    """Hmdq's ``fov_head``, ``fov_tot`` and ``view_geom`` for two views (no hidden-area mesh).

    Returns:
        ``{"fov_head": {"Left": {deg_left, deg_right, deg_bottom, deg_top, deg_hor, deg_ver},
        "Right": ...}, "fov_tot": {fov_hor, fov_ver, fov_diag, overlap}, "view_geom":
        {left_rot, right_rot, ipd}}`` in degrees (IPD in metres), as hmdq names them.
    """
    forward = np.array([0.0, 0.0, -1.0])
    head: dict[str, dict[str, float]] = {}
    pts = {}
    for view, key in zip(sorted(views, key=lambda v: v.eye), EYE_KEYS, strict=True):
        p = _fov_points(view)
        pts[key] = p
        d = {s: _angle_deg(forward, p[s]) for s in ("left", "right", "bottom", "top")}
        head[key] = {
            "deg_left": -d["left"],
            "deg_right": d["right"],
            "deg_bottom": -d["bottom"],
            "deg_top": d["top"],
            "deg_hor": d["right"] + d["left"],
            "deg_ver": d["bottom"] + d["top"],
        }
    diag1 = _angle_deg(pts["Left"]["left_bottom"], pts["Right"]["right_top"])
    diag2 = _angle_deg(pts["Left"]["left_top"], pts["Right"]["right_bottom"])
    tot = {
        "fov_hor": head["Right"]["deg_right"] - head["Left"]["deg_left"],
        "fov_ver": (
            head["Right"]["deg_top"]
            - head["Right"]["deg_bottom"]
            + head["Left"]["deg_top"]
            - head["Left"]["deg_bottom"]
        )
        / 2,
        "fov_diag": (diag1 + diag2) / 2,
        "overlap": head["Left"]["deg_right"] - head["Right"]["deg_left"],
    }
    rots = []
    for view in sorted(views, key=lambda v: v.eye):
        m = view.pose.matrix()
        rots.append(
            math.degrees(math.acos(max(-1.0, min(1.0, m[2, 2])))) * (-1 if m[0, 2] > 0 else 1)
        )
    ipd = float(np.linalg.norm(views[1].pose.position - views[0].pose.position))
    return {
        "fov_head": head,
        "fov_tot": tot,
        "view_geom": {"left_rot": rots[0], "right_rot": rots[1], "ipd": ipd},
    }
