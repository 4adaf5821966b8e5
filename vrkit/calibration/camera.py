"""The measuring camera: its intrinsic model, JSON file, and intrinsic calibration.

Conventions are OpenCV's: the camera frame has +X right, +Y down, +Z forward; pixel
coordinates put the centre of the top-left pixel at (0, 0); ``K`` is the (3, 3) intrinsic
matrix and ``dist`` the distortion vector of ``cv2.calibrateCamera`` (pinhole: 4, 5, 8, 12 or
14 coefficients ``k1 k2 p1 p2 [k3 [k4 k5 k6 [s1..s4 [tx ty]]]]``) or of ``cv2.fisheye``
(fisheye: exactly ``k1 k2 k3 k4`` of the equidistant model).

The camera JSON (``format: "vrkit.camera"``, ``version: 1``) is documented in
``docs/calibration.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError

CAMERA_FORMAT = "vrkit.camera"
CAMERA_VERSION = 1
CameraKind = Literal["pinhole", "fisheye"]
_PINHOLE_DIST_LENGTHS = (4, 5, 8, 12, 14)
_UNDISTORT_CRITERIA = (3, 100, 1e-14)  # cv2.TERM_CRITERIA_COUNT | EPS, iterations, epsilon


@dataclass
class CameraModel:
    """Intrinsics of one camera in OpenCV conventions.

    Attributes:
        kind: ``"pinhole"`` (OpenCV's rational/tilted Brown model) or ``"fisheye"``
            (``cv2.fisheye`` equidistant model).
        image_size: ``(width, height)`` in pixels of the images the model applies to.
        K: (3, 3) intrinsic matrix, pixels.
        dist: Distortion coefficients, (n,) with n in 4, 5, 8, 12, 14 (pinhole) or 4 (fisheye).
        rms_px: Overall reprojection RMS of the calibration, pixels, or None if unknown.
        meta: Free-form provenance (board, views used, date), kept in the JSON.
    """

    kind: CameraKind
    image_size: tuple[int, int]
    K: NDArray[np.float64]
    dist: NDArray[np.float64]
    rms_px: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("pinhole", "fisheye"):
            raise InputError(f"camera kind must be 'pinhole' or 'fisheye', got {self.kind!r}")
        K = np.asarray(self.K, dtype=np.float64)
        if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise InputError(f"camera K must be a finite (3, 3) matrix with fx, fy > 0, got {K}")
        dist = np.asarray(self.dist, dtype=np.float64).ravel()
        allowed = (4,) if self.kind == "fisheye" else _PINHOLE_DIST_LENGTHS
        if dist.size not in allowed or not np.all(np.isfinite(dist)):
            raise InputError(
                f"{self.kind} camera needs {' or '.join(map(str, allowed))} finite distortion "
                f"coefficients, got {dist.size}: {dist.tolist()}"
            )
        w, h = (int(v) for v in self.image_size)
        if w <= 0 or h <= 0:
            raise InputError(f"camera image_size must be positive (width, height), got {(w, h)}")
        self.K, self.dist, self.image_size = K, dist, (w, h)

    # ------------------------------------------------------------------ geometry
    def pixels_to_normalized(self, pixels: ArrayLike) -> NDArray[np.float64]:
        """Undistort pixel positions to normalized image coordinates ``(X/Z, Y/Z)``.

        Args:
            pixels: (N, 2) pixel coordinates (OpenCV convention).

        Returns:
            (N, 2) float64 normalized coordinates on the Z = 1 plane.
        """
        import cv2

        px = np.ascontiguousarray(np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2))
        if px.shape[0] == 0:
            return np.zeros((0, 2))
        if self.kind == "fisheye":
            out = cv2.fisheye.undistortPoints(
                px, self.K, self.dist[:4], criteria=_UNDISTORT_CRITERIA
            )
        else:
            out = cv2.undistortPoints(px, self.K, self.dist, criteria=_UNDISTORT_CRITERIA)
        return out.reshape(-1, 2).astype(np.float64)

    def pixels_to_rays(self, pixels: ArrayLike) -> NDArray[np.float64]:
        """Unit view rays (N, 3) in the camera frame (+Z forward) for pixel positions (N, 2)."""
        xy = self.pixels_to_normalized(pixels)
        rays = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def project(self, points_cam: ArrayLike) -> NDArray[np.float64]:
        """Project (N, 3) points or rays in the camera frame (Z > 0) to (N, 2) pixels."""
        import cv2

        p = np.ascontiguousarray(np.asarray(points_cam, dtype=np.float64).reshape(-1, 1, 3))
        if p.shape[0] == 0:
            return np.zeros((0, 2))
        zero = np.zeros(3)
        if self.kind == "fisheye":
            out, _ = cv2.fisheye.projectPoints(p, zero, zero, self.K, self.dist[:4])
        else:
            out, _ = cv2.projectPoints(p, zero, zero, self.K, self.dist)
        return out.reshape(-1, 2).astype(np.float64)

    def check_image_size(self, size: tuple[int, int], where: str) -> None:
        """Raise DataError when images of ``size`` (width, height) do not match this camera.

        Args:
            size: ``(width, height)`` of the images about to be used.
            where: Name of the images (file or folder) for the message.
        """
        if tuple(int(v) for v in size) != self.image_size:
            raise DataError(
                f"{where} is {size[0]}x{size[1]} pixels but the camera file was calibrated at "
                f"{self.image_size[0]}x{self.image_size[1]}",
                "use the camera calibration made with this camera at this resolution",
            )

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON form (``format: vrkit.camera``)."""
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
    def from_dict(cls, data: dict[str, Any], source: str = "camera JSON") -> CameraModel:
        """Parse the JSON form, raising InputError naming what is wrong.

        Args:
            data: The decoded JSON object.
            source: Name of the file for error messages.
        """
        if not isinstance(data, dict) or data.get("format") != CAMERA_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InputError(
                f"{source} is not a vrkit camera file (format {got!r}, expected {CAMERA_FORMAT!r})",
                "create one with `vrkit calibrate camera`",
            )
        version = data.get("version")
        if version != CAMERA_VERSION:
            raise InputError(
                f"{source} has camera file version {version!r}; this vrkit reads {CAMERA_VERSION}"
            )
        try:
            return cls(
                kind=data["model"],
                image_size=tuple(data["image_size"]),
                K=np.array(data["K"], dtype=np.float64),
                dist=np.array(data["dist"], dtype=np.float64),
                rms_px=data.get("rms_px"),
                meta=dict(data.get("meta") or {}),
            )
        except KeyError as exc:
            raise InputError(f"{source} lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"{source}: {exc}") from None

    def save(self, path: str | Path) -> None:
        """Write the JSON file."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> CameraModel:
        """Read a camera JSON file written by :meth:`save`."""
        p = Path(path)
        data = read_document(p, "camera")
        return cls.from_dict(data, source=f"camera file {str(p)!r}")

    def horizontal_fov_deg(self) -> float:
        """Horizontal field of view through the principal point, degrees."""
        w = self.image_size[0]
        rays = self.pixels_to_rays([[0.0, self.K[1, 2]], [w - 1.0, self.K[1, 2]]])
        return math.degrees(math.acos(float(np.clip(rays[0] @ rays[1], -1.0, 1.0))))
