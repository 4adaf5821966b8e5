"""Does the measuring camera file fit the captures? A check on a lens fit's residuals.

A lens fit maps each detected dot back through the camera model and the fitted lens; what is
left is the residual angle per dot. With the right camera file, and a lens model that describes
the lens, that residual is dot detection noise: centroids of sharp dots are found to a small
fraction of a camera pixel. A wrong camera file (a distortion coefficient with the wrong sign,
another camera's calibration) bends every ray the fit starts from; the lens model absorbs part
of it (camera and lens distortion are both nearly radial), the rest stays as a residual of
about a camera pixel, which in arcminutes can still look acceptable (issue 18: a sign-flipped
``dist[0]`` gave 4.67 arcmin RMS, under a 5 arcmin acceptance, with the wrong coefficients).

So the residual is judged in the unit of the measurement, camera pixels (the angle times the
camera's focal length): above :data:`MAX_RESIDUAL_PX` RMS the captures and the camera file do
not fit together. On the synthetic bench (``vrkit calibrate bench``, no noise) the right camera
file leaves 0.02 px and the sign-flipped one 0.55 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vrkit.calibration.fit import LensFit
from vrkit.optics.base import CHANNELS
from vrkit.vision.camera import CameraModel

#: Largest RMS residual, in camera pixels, that dot detection noise explains.
MAX_RESIDUAL_PX = 0.3
_ARCMIN = math.pi / (180 * 60)


@dataclass(frozen=True)
class CameraFitCheck:
    """Outcome of :func:`check_camera_fit`.

    Attributes:
        ok: False when the residual is larger than detection noise explains.
        rms_px: Per channel name, the RMS residual of the inliers in camera pixels.
        message: One line for the user when not ok, else "".
    """

    ok: bool
    rms_px: dict[str, float]
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (for the calibration report)."""
        return {"ok": self.ok, "rms_px": self.rms_px, "max_rms_px": MAX_RESIDUAL_PX}


def check_camera_fit(fit: LensFit, camera: CameraModel) -> CameraFitCheck:
    """Judge whether a lens fit's residual is detection noise or a camera file that does not fit.

    Args:
        fit: A lens fit (its inlier residuals, arcmin).
        camera: The measuring camera the fit used (its focal length, pixels).

    Returns:
        The verdict with the per-channel RMS in camera pixels.
    """
    rms: dict[str, float] = {}
    for c, name in enumerate(CHANNELS):
        m = fit.inlier & (fit.obs.channel == c) & np.isfinite(fit.residual_arcmin)
        if np.any(m):
            r = fit.residual_arcmin[m] * _ARCMIN * camera.focal
            rms[name] = float(np.sqrt(np.mean(r**2)))
    bad = [n for n, v in rms.items() if v > MAX_RESIDUAL_PX]
    if not bad:
        return CameraFitCheck(True, rms)
    worst = max(bad, key=lambda n: rms[n])
    message = (
        f"the captures do not fit the camera file: the {fit.name} fit leaves "
        f"{rms[worst]:.2f} camera px RMS in the {worst} channel, more than dot detection noise "
        f"explains (<= {MAX_RESIDUAL_PX:g} px)"
    )
    return CameraFitCheck(False, rms, message)
