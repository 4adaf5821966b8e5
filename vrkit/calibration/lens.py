"""From a capture folder to matched observations, with a verdict on every capture.

Checks, each named in the report: a capture missing for a pattern frame (skipped), an image
whose size differs from the camera calibration (refused: the whole run stops, since the camera
file belongs to another camera or resolution), a pattern not found (skipped), a blurred capture
(skipped: normalised sharpness below ``blur_ratio`` x the median of the captures), and no usable
green capture (refused: the lens model is anchored on green).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.capture import capture_files, read_rgb
from vrkit.calibration.detect import Detection, detect_frame
from vrkit.calibration.fit import Observations
from vrkit.calibration.patterns import STRUCTURED_KINDS, PatternSet
from vrkit.core.errors import DataError
from vrkit.optics.base import CHANNELS
from vrkit.vision.camera import CameraModel


@dataclass
class CaptureResult:
    """Verdict on one capture channel.

    Attributes:
        frame: Pattern frame name.
        file: Capture file name ("" when missing).
        channel: Colour channel measured (0, 1, 2).
        status: ``"used"`` or ``"rejected"``.
        reason: Why it was rejected.
        n_found: Features identified.
        n_expected: Features in the pattern frame.
        sharpness: Normalised sharpness (variance of Laplacian / variance of the image).
    """

    frame: str
    file: str
    channel: int
    status: str = "used"
    reason: str = ""
    n_found: int = 0
    n_expected: int = 0
    sharpness: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        d = dict(self.__dict__)
        d["channel"] = CHANNELS[self.channel]
        return d

    def line(self) -> str:
        """One report line."""
        what = f"{self.frame} [{CHANNELS[self.channel]}]"
        if self.status == "used":
            return f"  used      {what}: {self.n_found}/{self.n_expected} features ({self.file})"
        return f"  rejected  {what}: {self.reason}"


def normalised_sharpness(channel: NDArray[np.float32], points: NDArray[np.float64]) -> float:
    """Variance of the Laplacian over variance of the image, inside the points' bounding box.

    Independent of exposure, so captures of different colours compare.
    """
    import cv2

    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    h, w = channel.shape
    roi = channel[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)].astype(np.float32)
    if roi.size < 64:
        roi = channel.astype(np.float32)
    var = float(roi.var())
    return float(cv2.Laplacian(roi, cv2.CV_32F).var()) / max(var, 1e-9)


def measure_captures(
    captures_dir: str | Path,
    pattern: PatternSet,
    camera: CameraModel,
    *,
    blur_ratio: float = 0.5,
    progress: bool = False,
) -> tuple[Observations, list[CaptureResult]]:
    """Detect every frame's features in its capture and match them to the pattern.

    Args:
        captures_dir: The capture folder.
        pattern: The pattern set that was shown.
        camera: The measuring camera (its image size must match the captures).
        blur_ratio: Captures sharper than this fraction of the median pass.
        progress: Show a tqdm bar on stderr.

    Returns:
        ``(observations, verdicts)``.

    Raises:
        DataError: A capture's size does not match the camera file, or no green channel
            capture is usable.
    """
    from vrkit.core.progress import progress_bar

    files = capture_files(captures_dir, pattern)
    results: list[CaptureResult] = []
    found: list[tuple[CaptureResult, Detection]] = []
    feature_frames = [f for f in pattern.frames if f.kind not in STRUCTURED_KINDS]
    for frame in progress_bar(feature_frames, desc="detecting", unit="capture", enabled=progress):
        path = files[frame.name]
        if path is None:
            for c in frame.channels():
                results.append(
                    CaptureResult(
                        frame.name,
                        "",
                        c,
                        "rejected",
                        "no capture file for this frame",
                        0,
                        len(frame.features),
                    )
                )
            continue
        image = read_rgb(path)
        camera.check_image_size((image.shape[1], image.shape[0]), f"capture {path.name!r}")
        for c in frame.channels():
            res = CaptureResult(frame.name, path.name, c, n_expected=len(frame.features))
            results.append(res)
            chan = image[..., c].astype(np.float32)
            try:
                det = detect_frame(chan, frame)
            except DataError as exc:
                res.status, res.reason = "rejected", str(exc)
                continue
            res.n_found = len(det.camera_px)
            res.sharpness = normalised_sharpness(chan, det.camera_px)
            found.append((res, det))
    if found:
        med = float(np.median([r.sharpness for r, _ in found]))
        kept = []
        for r, det in found:
            if r.sharpness is not None and r.sharpness < blur_ratio * med:
                r.status = "rejected"
                r.reason = (
                    f"blurred: sharpness {r.sharpness:.3f} < {blur_ratio:g} x median {med:.3f} "
                    "of the captures; refocus the camera or hold it still"
                )
            else:
                kept.append((r, det))
        found = kept
    if not any(r.channel == 1 for r, _ in found):
        reasons = "; ".join(r.line().strip() for r in results if r.status != "used")
        raise DataError(
            "no usable green-channel capture: the lens model is anchored on green"
            + (f" ({reasons})" if reasons else ""),
            "capture the green (or white) pattern sharply with the centre dot in view",
        )
    cam_px, panel_px, chan_idx, source = [], [], [], []
    for r, det in found:
        frame = pattern.frame(r.frame)
        cam_px.append(det.camera_px)
        panel_px.append(frame.features[det.feature_index])
        chan_idx.append(np.full(len(det.camera_px), r.channel, dtype=np.int64))
        source.append(np.full(len(det.camera_px), r.frame))
    obs = Observations(
        np.concatenate(cam_px),
        np.concatenate(panel_px),
        np.concatenate(chan_idx),
        np.concatenate(source),
    )
    return obs, results
