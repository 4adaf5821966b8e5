"""Camera and rig model: intrinsics, distortion and extrinsics, saved as JSON.

Conventions (the one place where they meet):

* A camera frame ``cam`` follows OpenCV: x right, y down, +z forward (the optical axis).
  Pixel coordinates follow OpenCV too: the centre of the top-left pixel is (0, 0).
* The rig frame ``rig`` and every world or head frame follow vrkit/OpenXR: +y up, -z forward.
* ``T_rig_cam`` maps points from the OpenCV camera frame into the rig frame. It is an ordinary
  rigid transform; the axis flip between the two conventions lives inside it, and the only helper
  that builds one from a vrkit-style "look" pose is :func:`cv_camera_pose`, through
  :data:`T_GLCAM_CVCAM`.

Each camera's intrinsics are the one camera model of vrkit
(:class:`vrkit.vision.camera.CameraModel`); a rig file's camera entry is a camera file's fields
plus ``name`` and ``T_rig_cam``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import ProfileError
from vrkit.core.outputs import write_json
from vrkit.math import transforms as tf
from vrkit.vision.camera import CAMERA_FORMAT, CAMERA_VERSION, CameraModel

F64 = NDArray[np.float64]

#: Maps points from an OpenCV camera frame (y down, +z forward) to the GL/OpenXR camera frame
#: (y up, -z forward) of the same camera: a 180 degree turn about x.
T_GLCAM_CVCAM: F64 = np.diag([1.0, -1.0, -1.0, 1.0])

RIG_SCHEMA = "vrkit.tracking.rig/1"
#: Largest rig-frame coordinate of a camera, metres (as ``metres`` in the rig schema).
MAX_TRANSLATION_M = 1000.0


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


@dataclass(eq=False)
class Camera:
    """One camera of a rig: a name, its intrinsics and its pose in the rig frame.

    Attributes:
        name: Unique name in the rig (used in logs, reports and recordings).
        intrinsics: The camera model (K, distortion, image size; OpenCV conventions).
        T_rig_cam: (4, 4) pose of the camera (OpenCV axes) in the rig frame, metres.
    """

    name: str
    intrinsics: CameraModel
    T_rig_cam: F64 = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ProfileError(f"a camera needs a name (a non-empty string), got {self.name!r}")
        if not isinstance(self.intrinsics, CameraModel):
            raise ProfileError(
                f"camera {self.name!r}: intrinsics must be a CameraModel, got "
                f"{type(self.intrinsics).__name__}"
            )
        try:
            self.T_rig_cam = tf.as_array(self.T_rig_cam, (4, 4), f"camera {self.name!r} T_rig_cam")
        except ValueError as exc:
            raise ProfileError(str(exc)) from None
        R = self.T_rig_cam[:3, :3]
        if (
            not np.allclose(R @ R.T, np.eye(3), atol=1e-6)
            or np.linalg.det(R) < 0
            or not np.allclose(self.T_rig_cam[3], [0.0, 0.0, 0.0, 1.0])
        ):
            raise ProfileError(f"camera {self.name!r}: T_rig_cam is not a rigid transform")
        t = float(np.max(np.abs(self.T_rig_cam[:3, 3])))
        if not t <= MAX_TRANSLATION_M:
            raise ProfileError(
                f"camera {self.name!r}: T_rig_cam translation is {t:g} m, beyond any rig "
                f"(|x|, |y|, |z| <= {MAX_TRANSLATION_M:g} m, as the rig schema)"
            )

    # The intrinsics, read-only here: replace ``intrinsics`` to change them.
    @property
    def width(self) -> int:
        """Image width, pixels."""
        return self.intrinsics.width

    @property
    def height(self) -> int:
        """Image height, pixels."""
        return self.intrinsics.height

    @property
    def K(self) -> F64:
        """(3, 3) intrinsic matrix, pixels."""
        return self.intrinsics.K

    @property
    def dist(self) -> F64:
        """Distortion coefficients (n,) (OpenCV's, see :mod:`vrkit.vision.camera`)."""
        return self.intrinsics.dist

    @property
    def kind(self) -> str:
        """``"pinhole"`` or ``"fisheye"``."""
        return self.intrinsics.kind

    @property
    def focal(self) -> float:
        """Mean focal length in pixels (scales normalised residuals to pixels)."""
        return self.intrinsics.focal

    @property
    def T_cam_rig(self) -> F64:
        """(4, 4) inverse of ``T_rig_cam``."""
        return tf.invert_transform(self.T_rig_cam)

    def project(self, points_cam: ArrayLike) -> F64:
        """Project (N, 3) points in this camera's OpenCV frame to (N, 2) pixels (NaN behind)."""
        return self.intrinsics.project(points_cam)

    def project_rig(self, points_rig: ArrayLike) -> F64:
        """Project points given in the rig frame; (N, 3) metres -> (N, 2) pixels."""
        return self.intrinsics.project(tf.transform_points(self.T_cam_rig, points_rig))

    def undistort_points(self, pixels: ArrayLike) -> F64:
        """Undistort (N, 2) pixels to (N, 2) normalised coordinates on this camera's z = 1 plane."""
        return self.intrinsics.undistort_points(pixels)

    def check_image(self, image: NDArray, where: str = "") -> None:
        """Raise :class:`DataError` when an image does not have this camera's size."""
        h, w = image.shape[:2]
        self.intrinsics.check_image_size((w, h), f"camera {self.name!r}{where}", "the rig file")

    def to_dict(self) -> dict:
        """JSON form: the camera file's fields plus ``name`` and ``T_rig_cam``."""
        return {
            "name": self.name,
            **self.intrinsics.to_dict(),
            "T_rig_cam": self.T_rig_cam.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "camera entry") -> Camera:
        """Inverse of :meth:`to_dict`; also reads the older layout (``width``, ``height``).

        Raises:
            ProfileError: A missing or impossible field, in one line naming ``source``.
        """
        if not isinstance(data, dict):
            raise ProfileError(f"{source} must be an object, got {type(data).__name__}")
        if "name" not in data:
            raise ProfileError(f"{source} lacks the field 'name'")
        name = data["name"]
        where = f"{source} ({name!r})"
        if "format" in data:
            intrinsics = CameraModel.from_dict(data, where)
        else:  # the layout before the camera file format was shared (vrkit 0.1)
            for key in ("width", "height", "K"):
                if key not in data:
                    raise ProfileError(f"{where} lacks the field {key!r}")
            legacy = {
                "format": CAMERA_FORMAT,
                "version": CAMERA_VERSION,
                "model": data.get("model", "pinhole"),
                "image_size": [data["width"], data["height"]],
                "K": data["K"],
                "dist": data.get("dist", [0.0] * 5),
            }
            intrinsics = CameraModel.from_dict(legacy, where)
        try:
            return cls(str(name), intrinsics, data.get("T_rig_cam", np.eye(4).tolist()))
        except ProfileError as exc:
            raise ProfileError(f"{source}: {exc.message}", exc.hint) from None


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
        """Inverse of :meth:`to_dict` (also reads rig files of the older camera layout)."""
        if not isinstance(data, dict) or data.get("schema") != RIG_SCHEMA:
            got = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise ProfileError(
                f"rig schema is {got!r}, expected {RIG_SCHEMA!r}",
                "is this a vrkit rig file (vrkit track calibrate-rig writes one)?",
            )
        cams = data.get("cameras")
        if not isinstance(cams, list):
            raise ProfileError("rig file has no 'cameras' list")
        cameras = [Camera.from_dict(c, f"camera {i}") for i, c in enumerate(cams)]
        return cls(cameras, mounting=data.get("mounting", "world"), report=data.get("report", {}))

    def save(self, path: str | Path) -> None:
        """Write the rig as JSON."""
        write_json(path, self.to_dict(), indent=2)

    @classmethod
    def load(cls, path: str | Path) -> Rig:
        """Read a rig JSON file; errors name the file."""
        path = Path(path)
        data = read_document(path, "rig", ProfileError)
        try:
            return cls.from_dict(data)
        except ProfileError as exc:
            raise ProfileError(f"rig file {str(path)!r}: {exc.message}", exc.hint) from exc
