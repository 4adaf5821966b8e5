"""Kalibr camera-chain files (``camchain.yaml``) for multi-camera rigs, in and out.

Kalibr (ethz-asl/kalibr) writes one block per camera, ``cam0``, ``cam1``, ...::

    cam0:
      camera_model: pinhole            # pinhole | omni | eucm | ds
      intrinsics: [fu, fv, pu, pv]     # pixels
      distortion_model: radtan         # radtan | equidistant | fov | none
      distortion_coeffs: [k1, k2, r1, r2]
      resolution: [width, height]
      rostopic: /cam0/image_raw
    cam1:
      ...
      T_cn_cnm1: 4 x 4                 # p_cam1 = T_cn_cnm1 p_cam0 (metres)

Camera frames are OpenCV's (x right, y down, z forward), as vrkit's cameras. ``radtan`` is
OpenCV's ``k1 k2 p1 p2``, ``equidistant`` is ``cv2.fisheye``'s ``k1..k4``; vrkit has no omni,
EUCM, double-sphere or FOV model and refuses them with the reason.

vrkit rigs (``vrkit.tracking.rig/1`` JSON) give each camera ``T_rig_cam``. An import puts the
rig frame at camera 0 with vrkit's axes (+y up, -z forward: ``T_rig_cam0`` is the OpenCV-to-GL
flip) and chains ``T_cn_cnm1`` from there; an export writes each camera relative to the one
before it, so any rig frame round trips. This module reads and writes the rig JSON data, not
the tracking package's objects.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from vrkit.core.documents import validate_document
from vrkit.core.errors import DataError, InputError
from vrkit.vision.camera import CAMERA_FORMAT, CAMERA_VERSION

RIG_SCHEMA = "vrkit.tracking.rig/1"
#: OpenCV camera axes to vrkit / OpenXR axes (a half turn about x).
T_GL_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def _matrix4(value: Any, where: str) -> np.ndarray:
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        m = np.zeros(0)
    if m.shape == (16,):
        m = m.reshape(4, 4)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise DataError(f"Kalibr camchain {where} must be a 4 x 4 matrix, got {value!r}")
    R = m[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
        raise DataError(f"Kalibr camchain {where} is not a rigid transform")
    if not np.allclose(m[3], [0, 0, 0, 1], atol=1e-9):
        raise DataError(f"Kalibr camchain {where} has a last row {m[3].tolist()}, not [0, 0, 0, 1]")
    return m


def _numbers(block: dict[str, Any], key: str, n: int | None, where: str) -> list[float]:
    value = block.get(key)
    if (
        not isinstance(value, list)
        or (n is not None and len(value) != n)
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        want = f"{n} numbers" if n else "a list of numbers"
        raise DataError(f"Kalibr camchain {where}.{key} must be {want}, got {value!r}")
    return [float(v) for v in value]


def rig_from_camchain(data: Any, mounting: str = "world") -> dict[str, Any]:
    """A vrkit rig (JSON data) from a parsed Kalibr ``camchain.yaml``.

    Args:
        data: The parsed YAML mapping.
        mounting: ``"world"`` (outside-in) or ``"head"`` (inside-out) for the rig.

    Raises:
        DataError: No ``cam0``, a gap in the numbering, an unsupported camera or distortion
            model, or a malformed value (named).
    """
    if not isinstance(data, dict):
        raise DataError(f"a Kalibr camchain is a YAML mapping of cam0, cam1, ...; got {data!r}")
    names = sorted((k for k in data if re.fullmatch(r"cam\d+", str(k))), key=lambda k: int(k[3:]))
    if not names:
        raise DataError("Kalibr camchain has no cam0 block")
    if names != [f"cam{i}" for i in range(len(names))]:
        raise DataError(f"Kalibr camchain cameras must be cam0, cam1, ... in order, got {names}")
    cameras = []
    T_rig_prev = T_GL_CV.copy()
    for i, name in enumerate(names):
        block = data[name]
        if not isinstance(block, dict):
            raise DataError(f"Kalibr camchain {name} must be a mapping, got {block!r}")
        cam_model = block.get("camera_model", "pinhole")
        if cam_model != "pinhole":
            raise DataError(
                f"Kalibr camchain {name}.camera_model is {cam_model!r}; vrkit has pinhole "
                "cameras only (radtan or equidistant distortion)"
            )
        dist_model = block.get("distortion_model", "radtan")
        if dist_model == "radtan":
            model, dist = "pinhole", _numbers(block, "distortion_coeffs", 4, name)
        elif dist_model == "equidistant":
            model, dist = "fisheye", _numbers(block, "distortion_coeffs", 4, name)
        elif dist_model == "none":
            model, dist = "pinhole", [0.0] * 4
        else:
            raise DataError(
                f"Kalibr camchain {name}.distortion_model is {dist_model!r}; vrkit reads "
                "radtan, equidistant and none"
            )
        fu, fv, pu, pv = _numbers(block, "intrinsics", 4, name)
        if not (fu > 0 and fv > 0):
            raise DataError(f"Kalibr camchain {name}.intrinsics focal lengths must be > 0")
        w, h = _numbers(block, "resolution", 2, name)
        if i == 0:
            T_rig_cam = T_rig_prev
        else:
            if "T_cn_cnm1" not in block:
                raise DataError(f"Kalibr camchain {name} has no T_cn_cnm1 (its pose)")
            T = _matrix4(block["T_cn_cnm1"], f"{name}.T_cn_cnm1")
            T_rig_cam = T_rig_prev @ np.linalg.inv(T)
        T_rig_prev = T_rig_cam
        cameras.append(
            {
                "name": name,
                "format": CAMERA_FORMAT,
                "version": CAMERA_VERSION,
                "model": model,
                "image_size": [int(w), int(h)],
                "K": [[fu, 0.0, pu], [0.0, fv, pv], [0.0, 0.0, 1.0]],
                "dist": dist,
                "meta": {"source": f"Kalibr camchain {name}"},
                "T_rig_cam": T_rig_cam.tolist(),
            }
        )
    rig = {"schema": RIG_SCHEMA, "mounting": mounting, "cameras": cameras, "report": {}}
    validate_document(rig, "rig", "Kalibr camchain (as a vrkit rig)", DataError)
    return rig


def _image_size(cam: dict[str, Any]) -> tuple[int, int]:
    """A rig camera entry's ``image_size`` (or the older ``width`` / ``height``)."""
    if "image_size" in cam:
        return int(cam["image_size"][0]), int(cam["image_size"][1])
    return int(cam["width"]), int(cam["height"])


def camchain_from_rig(rig: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Kalibr ``camchain.yaml`` data for a vrkit rig (JSON data), and notes.

    Raises:
        InputError: Not a rig, or a camera Kalibr cannot hold (a skewed K, or more than 4
            pinhole coefficients that are not zero).
    """
    if not isinstance(rig, dict) or rig.get("schema") != RIG_SCHEMA:
        raise InputError(f"not a vrkit rig (schema {RIG_SCHEMA!r})")
    notes: list[str] = []
    out: dict[str, Any] = {}
    prev = None
    for i, cam in enumerate(rig["cameras"]):
        K = np.asarray(cam["K"], dtype=np.float64)
        if abs(K[0, 1]) > 1e-12:
            raise InputError(f"camera {cam['name']!r} has a skewed K; Kalibr has no skew")
        dist = [float(v) for v in cam["dist"]]
        if cam.get("model", "pinhole") == "fisheye":
            dmodel = "equidistant"
        else:
            dmodel = "radtan"
            if any(abs(v) > 0 for v in dist[4:]):
                raise InputError(
                    f"camera {cam['name']!r} has {len(dist)} distortion coefficients "
                    f"{dist}; Kalibr's radtan holds k1 k2 p1 p2 only",
                    hint="for a Kalibr export calibrate with k3 fixed at 0 (the default) and "
                    "without --rational",
                )
            dist = dist[:4]
        block: dict[str, Any] = {
            "camera_model": "pinhole",
            "intrinsics": [float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])],
            "distortion_model": dmodel,
            "distortion_coeffs": dist,
            "resolution": [int(v) for v in _image_size(cam)],
            "rostopic": f"/{cam['name']}/image_raw",
        }
        T = np.asarray(cam["T_rig_cam"], dtype=np.float64)
        if prev is not None:
            block["T_cn_cnm1"] = (np.linalg.inv(T) @ prev).tolist()
            block["cam_overlaps"] = [i - 1]
        prev = T
        out[f"cam{i}"] = block
        if cam["name"] != f"cam{i}":
            notes.append(f"camera {cam['name']!r} is cam{i} in the camchain")
    notes.append("the rig frame itself is not part of a camchain: cam0 is the reference")
    return out, notes


def read_camchain(text: str) -> dict[str, Any]:
    """Parse ``camchain.yaml`` text (PyYAML, safe loader).

    Raises:
        DataError: Not YAML (with the line).
    """
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(f"Kalibr camchain is not valid YAML{where}: {problem}") from None


def write_camchain(data: dict[str, Any]) -> str:
    """``camchain.yaml`` text in Kalibr's layout (block style, one list per matrix row)."""
    lines = []
    for name, block in data.items():
        lines.append(f"{name}:")
        for key, value in block.items():
            if key == "T_cn_cnm1":
                lines.append(f"  {key}:")
                lines.extend(f"  - [{', '.join(repr(float(v)) for v in row)}]" for row in value)
            elif isinstance(value, list):
                lines.append(f"  {key}: [{', '.join(repr(v) for v in value)}]")
            else:
                lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"
