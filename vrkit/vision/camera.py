"""The one camera model of vrkit: intrinsics in OpenCV conventions, projection, and camera files.

Conventions are OpenCV's: the camera frame has +X right, +Y down, +Z forward (the optical axis);
pixel coordinates put the centre of the top-left pixel at (0, 0); ``K`` is the (3, 3) intrinsic
matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (no skew) and ``dist`` the distortion vector of

* ``"pinhole"``: ``cv2.calibrateCamera`` / ``cv2.projectPoints``, 4, 5, 8, 12 or 14
  coefficients ``k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [tx ty]]]]``;
* ``"fisheye"``: ``cv2.fisheye`` (equidistant), exactly ``k1 k2 k3 k4``.

Files (:func:`load_camera`, :meth:`CameraModel.save`):

* vrkit's camera JSON (``format: "vrkit.camera"``, ``version: 1``; docs/calibration.md);
* OpenCV ``cv2.FileStorage`` files in YAML, XML or JSON as OpenCV's calibration sample and ROS
  ``camera_info`` write them: ``camera_matrix`` (or ``K``), ``distortion_coefficients`` (or
  ``D``), ``image_width`` / ``image_height``, and where present the model hint
  ``fisheye_model`` (0/1) or ``distortion_model`` (``fisheye``/``equidistant`` or
  ``plumb_bob``/``rational_polynomial``/...). ``cv2.FileStorage`` itself parses them.

Every field of K is used or refused: a skew or a third row other than ``[0, 0, 1]`` is refused,
as are impossible values (focal lengths <= 0, NaN, a principal point far outside the image).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import validate_document
from vrkit.core.errors import DataError, ProfileError
from vrkit.core.jsonfile import parse_json, short_repr

F64 = NDArray[np.float64]
CAMERA_FORMAT = "vrkit.camera"
CAMERA_VERSION = 1
CameraKind = Literal["pinhole", "fisheye"]
PINHOLE_DIST_LENGTHS = (4, 5, 8, 12, 14)
FISHEYE_DIST_LENGTH = 4
#: File suffixes written as OpenCV FileStorage by :meth:`CameraModel.save` (``.json`` is vrkit's).
OPENCV_SUFFIXES = (".yml", ".yaml", ".xml")
#: A principal point may lie this fraction of the image size outside the image, no further.
PRINCIPAL_POINT_MARGIN = 0.25
#: Focal lengths a camera may have, pixels (as ``focal_px`` in the schemas).
FOCAL_RANGE_PX = (1.0, 1e6)
# cv2.undistortPoints: stop at 1e-12 px reprojection error or 100 iterations.
_UNDISTORT_CRITERIA = (3, 100, 1e-12)  # cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS
_K_KEYS = ("camera_matrix", "cameraMatrix", "K")
_DIST_KEYS = ("distortion_coefficients", "dist_coeffs", "distCoeffs", "D", "dist")
_FISHEYE_NAMES = ("fisheye", "equidistant", "kannala_brandt", "kb4")
_PINHOLE_NAMES = ("pinhole", "plumb_bob", "rational_polynomial", "radtan", "brown", "opencv")


@dataclass(eq=False)
class CameraModel:
    """Intrinsics of one camera in OpenCV conventions (see the module docstring).

    Attributes:
        kind: ``"pinhole"`` (OpenCV's Brown model with rational, thin-prism and tilt terms) or
            ``"fisheye"`` (``cv2.fisheye``'s equidistant model).
        image_size: ``(width, height)`` in pixels of the images the model applies to.
        K: (3, 3) intrinsic matrix, pixels: ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``.
        dist: Distortion coefficients (n,): n in 4, 5, 8, 12, 14 (pinhole) or 4 (fisheye);
            None gives zeros of the shortest length.
        rms_px: Reprojection RMS of the calibration that made the model, pixels, or None.
        meta: Free-form provenance (board, views used, date), kept in vrkit's JSON.

    Raises:
        ProfileError: An impossible or unsupported value, named in one line.
    """

    kind: CameraKind
    image_size: tuple[int, int]
    K: F64
    dist: F64 | None = None
    rms_px: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("pinhole", "fisheye"):
            raise ProfileError(
                f"camera model must be 'pinhole' or 'fisheye', got {self.kind!r}",
                "pinhole = cv2.calibrateCamera's model, fisheye = cv2.fisheye's",
            )
        try:
            size = np.array(self.image_size, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            size = np.zeros(0)
        if (
            size.size != 2
            or not np.all(np.isfinite(size))
            or np.any(size <= 0)
            or np.any(size != np.round(size))
        ):
            raise ProfileError(
                f"camera image_size must be [width, height] in whole pixels > 0, got "
                f"{self.image_size!r}"
            )
        w, h = int(size[0]), int(size[1])
        self.image_size = (w, h)
        self.K = _check_K(self.K, w, h)
        if self.dist is None:
            self.dist = np.zeros(FISHEYE_DIST_LENGTH if self.kind == "fisheye" else 5)
        try:
            dist = np.array(self.dist, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise ProfileError(
                f"camera distortion coefficients must be numbers, got {self.dist!r}"
            ) from None
        allowed = (FISHEYE_DIST_LENGTH,) if self.kind == "fisheye" else PINHOLE_DIST_LENGTHS
        if dist.size not in allowed:
            counts = ", ".join(map(str, allowed[:-1])) + " or " if len(allowed) > 1 else ""
            raise ProfileError(
                f"a {self.kind} camera needs {counts}{allowed[-1]} distortion coefficients, "
                f"got {dist.size}: {dist.tolist()}",
                "fisheye: k1 k2 k3 k4; pinhole: k1 k2 p1 p2 [k3 [k4 k5 k6 [s1..s4 [tx ty]]]]",
            )
        if not np.all(np.isfinite(dist)):
            raise ProfileError(
                f"camera distortion coefficients must be finite, got {dist.tolist()}"
            )
        self.dist = dist
        if self.rms_px is not None:
            rms = self.rms_px
            if isinstance(rms, bool) or not isinstance(rms, (int, float, np.floating)):
                raise ProfileError(f"camera rms_px must be a number of pixels, got {rms!r}")
            if not (math.isfinite(rms) and rms >= 0):
                raise ProfileError(f"camera rms_px must be a number >= 0 pixels, got {rms}")
            self.rms_px = float(rms)
        if not isinstance(self.meta, dict):
            raise ProfileError(f"camera meta must be an object, got {type(self.meta).__name__}")

    # ------------------------------------------------------------------ properties
    @property
    def width(self) -> int:
        """Image width, pixels."""
        return self.image_size[0]

    @property
    def height(self) -> int:
        """Image height, pixels."""
        return self.image_size[1]

    @property
    def focal(self) -> float:
        """Mean focal length ``(fx + fy) / 2`` in pixels (scales normalised errors to pixels)."""
        return 0.5 * float(self.K[0, 0] + self.K[1, 1])

    def replace(self, **changes: Any) -> CameraModel:
        """A copy with some fields changed (e.g. ``K=..., dist=...``), validated as a new model."""
        fields = {
            "kind": self.kind,
            "image_size": self.image_size,
            "K": self.K.copy(),
            "dist": self.dist.copy(),
            "rms_px": self.rms_px,
            "meta": dict(self.meta),
        }
        fields.update(changes)
        return CameraModel(**fields)

    # ------------------------------------------------------------------ geometry
    def project(self, points_cam: ArrayLike) -> F64:
        """Project points in the camera frame to distorted pixels.

        Args:
            points_cam: (N, 3) points (or rays) in the OpenCV camera frame, metres.

        Returns:
            (N, 2) float64 pixels (OpenCV convention); points at or behind the camera's
            plane (Z <= 0) give NaN.
        """
        import cv2

        p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
        out = np.full((len(p), 2), np.nan)
        front = p[:, 2] > 1e-9
        if np.any(front):
            pts = np.ascontiguousarray(p[front].reshape(-1, 1, 3))
            zero = np.zeros(3)
            if self.kind == "fisheye":
                uv, _ = cv2.fisheye.projectPoints(pts, zero, zero, self.K, self.dist)
            else:
                uv, _ = cv2.projectPoints(pts, zero, zero, self.K, self.dist)
            out[front] = uv.reshape(-1, 2)
        return out

    def undistort_points(self, pixels: ArrayLike) -> F64:
        """Undistort pixel positions to normalised image coordinates ``(X/Z, Y/Z)``.

        Args:
            pixels: (N, 2) distorted pixel coordinates (OpenCV convention).

        Returns:
            (N, 2) float64 coordinates on the Z = 1 plane of the camera, the inverse of
            :meth:`project` to 1e-12 pixels where the distortion is invertible.
        """
        import cv2

        px = np.ascontiguousarray(np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2))
        if px.shape[0] == 0:
            return np.zeros((0, 2))
        if self.kind == "fisheye":
            out = cv2.fisheye.undistortPoints(px, self.K, self.dist, criteria=_UNDISTORT_CRITERIA)
        elif not np.any(self.dist):
            f = np.array([self.K[0, 0], self.K[1, 1]])
            return (px.reshape(-1, 2) - self.K[:2, 2]) / f
        else:
            out = cv2.undistortPoints(px, self.K, self.dist, criteria=_UNDISTORT_CRITERIA)
        return out.reshape(-1, 2).astype(np.float64)

    def pixels_to_rays(self, pixels: ArrayLike) -> F64:
        """Unit view rays (N, 3) in the camera frame (+Z forward) through pixels (N, 2)."""
        xy = self.undistort_points(pixels)
        rays = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def horizontal_fov_deg(self) -> float:
        """Horizontal field of view through the principal point, degrees."""
        w = self.image_size[0]
        rays = self.pixels_to_rays([[0.0, self.K[1, 2]], [w - 1.0, self.K[1, 2]]])
        return math.degrees(math.acos(float(np.clip(rays[0] @ rays[1], -1.0, 1.0))))

    def check_image_size(self, size: tuple[int, int], where: str, source: str = "") -> None:
        """Raise DataError when images of ``size`` (width, height) do not fit this camera.

        Args:
            size: ``(width, height)`` of the images about to be used, pixels.
            where: The images (a file, a folder, a camera and frame) for the message.
            source: Where the camera came from, for the message (default "the camera file").
        """
        w, h = (int(v) for v in size)
        if (w, h) != self.image_size:
            cw, ch = self.image_size
            raise DataError(
                f"{where}: image is {w}x{h} but {source or 'the camera file'} says {cw}x{ch}",
                "use the camera calibration made with this camera at this resolution",
            )

    # ------------------------------------------------------------------ vrkit JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON form of vrkit's camera file (``format: vrkit.camera``, ``version: 1``)."""
        return {
            "format": CAMERA_FORMAT,
            "version": CAMERA_VERSION,
            "model": self.kind,
            "image_size": list(self.image_size),
            "K": self.K.tolist(),
            "dist": self.dist.tolist(),
            "rms_px": self.rms_px,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "camera JSON") -> CameraModel:
        """Parse vrkit's JSON form; every problem is a one-line ProfileError naming ``source``.

        Args:
            data: The decoded JSON object.
            source: The file (or place in a file) for error messages.
        """
        if not isinstance(data, dict) or data.get("format") != CAMERA_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ProfileError(
                f"{source} is not a vrkit camera file (format {got!r}, expected {CAMERA_FORMAT!r})",
                "create one with `vrkit calibrate camera`, or give an OpenCV FileStorage "
                "camera file (.yml, .xml)",
            )
        version = data.get("version")
        if version != CAMERA_VERSION:
            raise ProfileError(
                f"{source} has camera file version {version!r}; this vrkit reads {CAMERA_VERSION}"
            )
        for key in ("model", "image_size", "K", "dist"):
            if key not in data:
                raise ProfileError(f"{source} lacks the field {key!r}")
        return _build(
            source,
            kind=data["model"],
            image_size=_numbers(data["image_size"], "image_size", source),
            K=_numbers(data["K"], "K", source),
            dist=_numbers(data["dist"], "dist", source),
            rms_px=data.get("rms_px"),
            meta=data.get("meta") or {},
        )

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path, fmt: Literal["auto", "vrkit", "opencv"] = "auto") -> None:
        """Write the camera file, atomically (a temporary file renamed into place).

        Args:
            path: The file. With ``fmt="auto"``, ``.yml``, ``.yaml`` and ``.xml`` are written as
                OpenCV FileStorage (read back by ``cv2.FileStorage``, OpenCV's calibration
                sample keys), anything else as vrkit's JSON.
            fmt: ``"vrkit"`` or ``"opencv"`` to force a form (``"opencv"`` with ``.json``
                writes FileStorage JSON).
        """
        p = Path(path)
        if fmt not in ("auto", "vrkit", "opencv"):
            raise ProfileError(f"camera file format must be auto, vrkit or opencv, got {fmt!r}")
        opencv = fmt == "opencv" or (fmt == "auto" and p.suffix.lower() in OPENCV_SUFFIXES)
        if opencv:
            _write_filestorage(self, p)
        else:
            _write_atomic(p, (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    @classmethod
    def load(cls, path: str | Path) -> CameraModel:
        """Read a camera file: vrkit's JSON or OpenCV FileStorage (see :func:`load_camera`)."""
        return load_camera(path)


# ---------------------------------------------------------------------- validation
def _check_K(K: ArrayLike, w: int, h: int) -> F64:
    """``K`` as a finite (3, 3) float64 pinhole matrix, or a one-line ProfileError."""
    try:
        K = np.array(K, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProfileError(
            f"camera K must be a (3, 3) matrix of numbers, got {short_repr(K)}"
        ) from None
    if K.shape == (9,):
        K = K.reshape(3, 3)
    if K.shape != (3, 3):
        raise ProfileError(f"camera K must be a (3, 3) matrix, got shape {K.shape}")
    if not np.all(np.isfinite(K)):
        raise ProfileError(f"camera K holds NaN or infinite values: {K.tolist()}")
    if K[2].tolist() != [0.0, 0.0, 1.0]:
        raise ProfileError(
            f"camera K's third row is {K[2].tolist()}, expected [0, 0, 1]",
            "K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (divide K by K[2][2] if it is "
            "only scaled)",
        )
    if K[0, 1] != 0.0:
        raise ProfileError(
            f"camera K[0][1] (skew) is {K[0, 1]:g}, but vrkit's camera model has no skew",
            "recalibrate without skew (cv2.calibrateCamera fits none; cv2.fisheye with "
            "CALIB_FIX_SKEW)",
        )
    if K[1, 0] != 0.0:
        raise ProfileError(
            f"camera K[1][0] is {K[1, 0]:g}, expected 0",
            "K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]",
        )
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    lo, hi = FOCAL_RANGE_PX
    if not (lo <= fx <= hi and lo <= fy <= hi):
        raise ProfileError(
            f"camera focal lengths must be {lo:g} to {hi:g} pixels "
            f"(as the camera schema), got fx={fx:g}, fy={fy:g}"
        )
    m = PRINCIPAL_POINT_MARGIN
    if not (-m * w <= cx <= (1 + m) * w and -m * h <= cy <= (1 + m) * h):
        raise ProfileError(
            f"camera principal point ({cx:g}, {cy:g}) px lies far outside the {w}x{h} image",
            "is K for another resolution? image_size must be the size the camera was calibrated at",
        )
    return K


def _numbers(value: Any, key: str, source: str) -> F64:
    """A JSON field as a float64 array, or a one-line ProfileError naming it."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProfileError(f"{source}: {key} must hold numbers, got {value!r}") from None
    return arr


def _build(source: str, **fields: Any) -> CameraModel:
    """CameraModel(**fields), its validation errors prefixed with ``source``."""
    try:
        return CameraModel(**fields)
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc.message}", exc.hint) from None


# ---------------------------------------------------------------------- reading files
def load_camera(path: str | Path) -> CameraModel:
    """Read a camera file of any supported form.

    vrkit's camera JSON is recognised by its ``format`` field; anything else (YAML, XML, or
    JSON without ``format``) is parsed by ``cv2.FileStorage`` as an OpenCV camera file.

    Args:
        path: The file.

    Returns:
        The camera model.

    Raises:
        ProfileError: The file is missing, unreadable, broken, or holds no usable camera; one
            line naming the file and what is wrong.
    """
    p = Path(path)
    name = f"camera file {str(p)!r}"
    if not p.is_file():
        raise ProfileError(
            f"{name} does not exist", "make one with `vrkit calibrate camera --out FILE`"
        )
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{name} cannot be read: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        data = parse_json(text, name, ProfileError)  # strict: NaN, duplicate keys refused
        if isinstance(data, dict) and "format" in data:
            validate_document(data, "camera", name, ProfileError)
            return CameraModel.from_dict(data, source=name)
    return _read_filestorage(p, name)


def _filestorage_error(exc: BaseException) -> str:
    """The useful part of a cv2.FileStorage parse error, as one line."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    msg = " ".join(str(cause).split())
    m = re.search(r"in function '.*?\((\d+)\): (.*)'$", msg)
    if m:
        return f"line {m.group(1)}: {m.group(2)}"
    if "buf in function 'open'" in msg:
        return "it is empty or not a text file"
    m = re.search(r"error: \(-?\d+:([^)]*)\) (.*)$", msg)
    return f"{m.group(1)}: {m.group(2)}" if m else msg


def _fs_value(node: Any) -> Any:
    """A ``cv2.FileNode`` as Python: numbers, strings, lists, dicts; opencv-matrix -> ndarray."""
    if node.isNone():
        return None
    if node.isInt():
        return int(node.real())
    if node.isReal():
        return float(node.real())
    if node.isString():
        return node.string()
    if node.isSeq():
        return [_fs_value(node.at(i)) for i in range(node.size())]
    if node.isMap():
        keys = list(node.keys())
        if "dt" in keys and "data" in keys:
            return np.asarray(node.mat(), dtype=np.float64)  # OpenCV's own matrix reader
        return {k: _fs_value(node.getNode(k)) for k in keys}
    return None


def _fs_matrix(value: Any, key: str, name: str) -> F64:
    """A matrix from an opencv-matrix, a ROS ``{rows, cols, data}`` map or nested lists."""
    if isinstance(value, dict) and "data" in value:
        data = _numbers(value["data"], f"{key}.data", name).ravel()
        rows, cols = value.get("rows"), value.get("cols")
        if isinstance(rows, int) and isinstance(cols, int):
            if rows * cols != data.size:
                raise ProfileError(f"{name}: {key} says {rows}x{cols} but holds {data.size} values")
            return data.reshape(rows, cols)
        return data
    if value is None or isinstance(value, (str, dict)):
        raise ProfileError(f"{name}: {key} is not a matrix of numbers, got {value!r}")
    return _numbers(value, key, name)


def _first(doc: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for k in keys:
        if k in doc and doc[k] is not None:
            return k, doc[k]
    return None


def _kind_from_hints(doc: dict[str, Any], name: str) -> CameraKind:
    """``"fisheye"`` or ``"pinhole"`` from ``fisheye_model`` / ``distortion_model`` hints."""
    kinds = set()
    flag = doc.get("fisheye_model")
    if flag is not None:
        if not isinstance(flag, (int, float)) or isinstance(flag, bool):
            raise ProfileError(f"{name}: fisheye_model must be 0 or 1, got {flag!r}")
        kinds.add("fisheye" if flag else "pinhole")
    for key in ("distortion_model", "camera_model"):
        hint = doc.get(key)
        if hint is None:
            continue
        h = str(hint).strip().lower()
        if h in _FISHEYE_NAMES:
            kinds.add("fisheye")
        elif h in _PINHOLE_NAMES:
            kinds.add("pinhole")
        else:
            raise ProfileError(
                f"{name}: {key} {hint!r} is not a model vrkit knows",
                f"fisheye: {', '.join(_FISHEYE_NAMES)}; pinhole: {', '.join(_PINHOLE_NAMES)}",
            )
    if len(kinds) > 1:
        raise ProfileError(
            f"{name}: the model hints disagree (fisheye_model {flag!r}, distortion_model "
            f"{doc.get('distortion_model')!r})"
        )
    return kinds.pop() if kinds else "pinhole"


def _read_filestorage(p: Path, name: str) -> CameraModel:
    """Parse an OpenCV FileStorage camera file with ``cv2.FileStorage``."""
    import cv2

    try:
        fs = cv2.FileStorage(str(p), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:
        raise ProfileError(
            f"{name} is neither vrkit camera JSON nor an OpenCV FileStorage file (YAML, XML, "
            f"JSON): {_filestorage_error(exc)}"
        ) from None
    try:
        if not fs.isOpened():
            raise ProfileError(f"{name} cannot be opened by cv2.FileStorage")
        root = fs.root()
        if not root.isMap():
            raise ProfileError(f"{name}: the top level is not a map of named entries")
        doc = {k: _fs_value(root.getNode(k)) for k in root.keys()}
    except cv2.error as exc:
        raise ProfileError(f"{name}: {_filestorage_error(exc)}") from None
    finally:
        fs.release()
    found_K = _first(doc, _K_KEYS)
    if found_K is None:
        raise ProfileError(
            f"{name} has no camera matrix (looked for {', '.join(_K_KEYS)}); keys: "
            f"{', '.join(doc) or 'none'}",
            "an OpenCV camera file holds camera_matrix, distortion_coefficients, image_width "
            "and image_height",
        )
    found_D = _first(doc, _DIST_KEYS)
    if found_D is None:
        raise ProfileError(
            f"{name} has no distortion coefficients (looked for {', '.join(_DIST_KEYS)})",
            "write zeros for a camera without distortion",
        )
    if doc.get("image_width") is not None and doc.get("image_height") is not None:
        size: Any = [doc["image_width"], doc["image_height"]]
    elif doc.get("image_size") is not None:
        size = doc["image_size"]
    else:
        raise ProfileError(
            f"{name} has no image size (image_width and image_height)",
            "add the width and height in pixels of the images the calibration was made at",
        )
    size = _numbers(size, "image size", name).ravel()
    rms = doc.get("avg_reprojection_error")
    return _build(
        name,
        kind=_kind_from_hints(doc, name),
        image_size=size,
        K=_fs_matrix(found_K[1], found_K[0], name),
        dist=_fs_matrix(found_D[1], found_D[0], name).ravel(),
        rms_px=rms if isinstance(rms, (int, float)) else None,
    )


# ---------------------------------------------------------------------- writing files
def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_filestorage(cam: CameraModel, path: Path) -> None:
    """Write OpenCV's calibration-sample keys with ``cv2.FileStorage``, atomically."""
    import cv2

    suffix = path.suffix.lower()
    flag = {".xml": cv2.FILE_STORAGE_FORMAT_XML, ".json": cv2.FILE_STORAGE_FORMAT_JSON}.get(
        suffix, cv2.FILE_STORAGE_FORMAT_YAML
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".yml", dir=path.parent)
    os.close(fd)
    try:
        fs = cv2.FileStorage(tmp, cv2.FILE_STORAGE_WRITE | flag)
        fs.write("image_width", int(cam.width))
        fs.write("image_height", int(cam.height))
        fs.write("fisheye_model", 1 if cam.kind == "fisheye" else 0)
        fs.write("camera_matrix", cam.K)
        fs.write("distortion_coefficients", cam.dist.reshape(-1, 1))
        if cam.rms_px is not None:
            fs.write("avg_reprojection_error", float(cam.rms_px))
        fs.release()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def intrinsics_from_fov(width: int, height: int, hfov_deg: float) -> F64:
    """A centred pinhole K (3, 3) with square pixels and the given horizontal FOV in degrees."""
    f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
