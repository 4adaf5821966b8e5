"""Camera and rig model: intrinsics, distortion and extrinsics, saved as JSON.

Conventions (the one place where they meet):

* A camera frame ``cam`` follows OpenCV: x right, y down, +z forward (the optical axis).
  Pixel coordinates follow OpenCV too: the centre of the top-left pixel is (0, 0).
* The rig frame ``rig`` and every world or head frame follow vrkit/OpenXR: +y up, -z forward.
* ``T_rig_cam`` maps points from the OpenCV camera frame into the rig frame. It is an ordinary
  rigid transform; the axis flip between the two conventions lives inside it, and the only helper
  that builds one from a vrkit-style "look" pose is :func:`cv_camera_pose`, through
  :data:`T_GLCAM_CVCAM`.

Distortion models: ``"pinhole"`` uses OpenCV's rational/tangential coefficients (4, 5, 8, 12 or
14 values, as ``cv2.projectPoints``); ``"fisheye"`` uses ``cv2.fisheye``'s 4 coefficients.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import InputError, ProfileError
from vrkit.math import transforms as tf

F64 = NDArray[np.float64]

#: Maps points from an OpenCV camera frame (y down, +z forward) to the GL/OpenXR camera frame
#: (y up, -z forward) of the same camera: a 180 degree turn about x.
T_GLCAM_CVCAM: F64 = np.diag([1.0, -1.0, -1.0, 1.0])

RIG_SCHEMA = "vrkit.tracking.rig/1"
_PINHOLE_NCOEF = (4, 5, 8, 12, 14)


def cv_camera_pose(T_parent_glcam: ArrayLike) -> F64:
    """Turn a vrkit-style camera pose (-z forward, y up) into ``T_parent_cam`` (OpenCV axes).

    Args:
        T_parent_glcam: (4, 4) pose of a camera that looks down its -z axis, e.g. from
            :func:`vrkit.math.transforms.look_at`.

    Returns:
        (4, 4) ``T_parent_cam`` for the same camera with OpenCV axes.
    """
    return tf.as_array(T_parent_glcam, (4, 4), "T_parent_glcam") @ T_GLCAM_CVCAM


def gl_camera_pose(T_parent_cam: ArrayLike) -> F64:
    """Inverse of :func:`cv_camera_pose`: ``T_parent_glcam`` (4, 4) for rendering."""
    return tf.as_array(T_parent_cam, (4, 4), "T_parent_cam") @ T_GLCAM_CVCAM


@dataclass
class Camera:
    """One calibrated camera.

    Attributes:
        name: Unique name in the rig (used in logs, reports and recordings).
        width: Image width in pixels.
        height: Image height in pixels.
        K: (3, 3) intrinsic matrix in pixels.
        dist: Distortion coefficients, (n,) (see module docstring).
        model: ``"pinhole"`` or ``"fisheye"``.
        T_rig_cam: (4, 4) pose of the camera (OpenCV axes) in the rig frame, metres.
    """

    name: str
    width: int
    height: int
    K: F64
    dist: F64 = field(default_factory=lambda: np.zeros(5))
    model: str = "pinhole"
    T_rig_cam: F64 = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        if self.model not in ("pinhole", "fisheye"):
            raise ProfileError(
                f"camera {self.name!r}: unknown model {self.model!r}", "use 'pinhole' or 'fisheye'"
            )
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ProfileError(f"camera {self.name!r}: bad image size {self.width}x{self.height}")
        self.width, self.height = int(self.width), int(self.height)
        try:
            self.K = tf.as_array(self.K, (3, 3), f"camera {self.name!r} K")
            self.dist = np.array(self.dist, dtype=np.float64).ravel()
            self.T_rig_cam = tf.as_array(self.T_rig_cam, (4, 4), f"camera {self.name!r} T_rig_cam")
        except ValueError as exc:
            raise ProfileError(str(exc)) from exc
        n = self.dist.size
        if self.model == "pinhole" and n not in _PINHOLE_NCOEF:
            raise ProfileError(
                f"camera {self.name!r}: expected 4, 5, 8, 12 or 14 distortion coefficients, got {n}"
            )
        if self.model == "fisheye" and n != 4:
            raise ProfileError(f"camera {self.name!r}: fisheye needs 4 coefficients, got {n}")
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise ProfileError(f"camera {self.name!r}: focal lengths must be > 0, got {self.K}")
        R = self.T_rig_cam[:3, :3]
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ProfileError(f"camera {self.name!r}: T_rig_cam is not a rigid transform")

    @property
    def T_cam_rig(self) -> F64:
        """(4, 4) inverse of ``T_rig_cam``."""
        return tf.invert_transform(self.T_rig_cam)

    @property
    def focal(self) -> float:
        """Mean focal length in pixels (scales normalised residuals to pixels)."""
        return 0.5 * float(self.K[0, 0] + self.K[1, 1])

    def project(self, points_cam: ArrayLike) -> F64:
        """Project points in this camera's frame to distorted pixel coordinates.

        Args:
            points_cam: (N, 3) points in the OpenCV camera frame, metres.

        Returns:
            (N, 2) pixels (OpenCV convention). Points behind the camera give NaN.
        """
        import cv2

        p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
        out = np.full((len(p), 2), np.nan)
        front = p[:, 2] > 1e-9
        if np.any(front):
            pts = p[front].reshape(-1, 1, 3)
            z = np.zeros(3)
            if self.model == "fisheye":
                uv, _ = cv2.fisheye.projectPoints(pts, z, z, self.K, self.dist)
            else:
                uv, _ = cv2.projectPoints(pts, z, z, self.K, self.dist)
            out[front] = uv.reshape(-1, 2)
        return out

    def project_rig(self, points_rig: ArrayLike) -> F64:
        """Project points given in the rig frame; (N, 3) metres -> (N, 2) pixels."""
        return self.project(tf.transform_points(self.T_cam_rig, points_rig))

    def normalize(self, pixels: ArrayLike) -> F64:
        """Undistort pixels to normalised image coordinates ``(x/z, y/z)``.

        Args:
            pixels: (N, 2) distorted pixel coordinates.

        Returns:
            (N, 2) normalised coordinates on the z = 1 plane of the camera.
        """
        import cv2

        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
        if len(px) == 0:
            return np.zeros((0, 2))
        if self.model == "fisheye":
            return cv2.fisheye.undistortPoints(px, self.K, self.dist).reshape(-1, 2)
        if not np.any(self.dist):
            return ((px.reshape(-1, 2) - self.K[:2, 2]) / np.diag(self.K)[:2]).reshape(-1, 2)
        crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
        return cv2.undistortPoints(px, self.K, self.dist, None, None, None, crit).reshape(-1, 2)

    def check_image(self, image: NDArray, where: str = "") -> None:
        """Raise :class:`InputError` when an image does not have this camera's size."""
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            raise InputError(
                f"camera {self.name!r}{where}: image is {w}x{h} but the rig file says "
                f"{self.width}x{self.height}",
                "use the rig calibrated for this camera mode or recalibrate",
            )

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "K": self.K.tolist(),
            "dist": self.dist.tolist(),
            "T_rig_cam": self.T_rig_cam.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Camera:
        """Inverse of :meth:`to_dict`; raises :class:`ProfileError` naming a missing key."""
        try:
            return cls(
                name=str(data["name"]),
                width=data["width"],
                height=data["height"],
                K=data["K"],
                dist=data.get("dist", [0.0] * 5),
                model=data.get("model", "pinhole"),
                T_rig_cam=data.get("T_rig_cam", np.eye(4).tolist()),
            )
        except KeyError as exc:
            raise ProfileError(f"camera entry misses key {exc}") from exc


@dataclass
class Rig:
    """N calibrated cameras with extrinsics in one rig frame.

    For outside-in tracking the rig frame is the world (room); for inside-out the rig frame is
    the head (the cameras ride on the headset).

    Attributes:
        cameras: The cameras; names must be unique.
        mounting: ``"world"`` (outside-in) or ``"head"`` (inside-out).
        report: Free-form calibration report (RMS values) kept with the file.
    """

    cameras: list[Camera]
    mounting: str = "world"
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ProfileError("a rig needs at least one camera")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ProfileError(f"camera names must be unique, got {names}")
        if self.mounting not in ("world", "head"):
            raise ProfileError(
                f"rig mounting must be 'world' or 'head', got {self.mounting!r}",
                "'world' = outside-in cameras in the room, 'head' = inside-out cameras",
            )

    def __len__(self) -> int:
        return len(self.cameras)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "schema": RIG_SCHEMA,
            "mounting": self.mounting,
            "cameras": [c.to_dict() for c in self.cameras],
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Rig:
        """Inverse of :meth:`to_dict`."""
        if data.get("schema") != RIG_SCHEMA:
            raise ProfileError(
                f"rig schema is {data.get('schema')!r}, expected {RIG_SCHEMA!r}",
                "is this a vrkit rig file (vrkit track calibrate-rig writes one)?",
            )
        cams = data.get("cameras")
        if not isinstance(cams, list):
            raise ProfileError("rig file has no 'cameras' list")
        return cls(
            [Camera.from_dict(c) for c in cams],
            mounting=data.get("mounting", "world"),
            report=data.get("report", {}),
        )

    def save(self, path: str | Path) -> None:
        """Write the rig as JSON."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Rig:
        """Read a rig JSON file; errors name the file."""
        path = Path(path)
        data = read_document(path, "rig", ProfileError)
        try:
            return cls.from_dict(data)
        except ProfileError as exc:
            raise ProfileError(f"rig file {str(path)!r}: {exc.message}", exc.hint) from exc


def intrinsics_from_fov(width: int, height: int, hfov_deg: float) -> F64:
    """A centred pinhole K (3, 3) with square pixels and the given horizontal FOV in degrees."""
    f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
