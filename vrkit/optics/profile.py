"""Headset profiles: load, validate and query the geometry of a panel behind two lenses.

A profile is a JSON file following ``calibration/schema/headset-profile.schema.json`` (version 1).
That schema file is the documented truth: :func:`validate_profile_dict` checks it with
``jsonschema`` (:mod:`vrkit.core.documents`), then runs each lens model's own checks; loading
adds the checks that span several fields. Every error names the JSON path, the value and what
was expected.

Geometry follows the Cardboard SDK's ``DeviceParams``: the lenses sit ``lens_separation_m``
apart, centred on the panel's vertical centre line; their height above the panel's bottom edge
is set by ``vertical_alignment`` (``tray_to_lens_m - screen_border_m`` from the bottom, the same
from the top, or half the panel height). Each eye uses one half of the panel. Tan units are
metres on the panel divided by ``screen_to_lens_m``.

Pure numpy; no GL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import load_schema as load_document_schema
from vrkit.core.documents import validate_document
from vrkit.core.errors import InputError, ProfileError
from vrkit.core.jsonfile import read_json
from vrkit.core.types import LEFT, RIGHT, Fov
from vrkit.optics.base import LensModel
from vrkit.optics.fov import EyeFov, fov_through_lens, ideal_to_uv
from vrkit.optics.models import lens_model_from_dict
from vrkit.resources import data_dir, resolve_file, shipped_names

SCHEMA_VERSION = 1
SCHEMA_KIND = "headset-profile"
SCHEMA_FILE = f"{SCHEMA_KIND}.schema.json"
EYE_NAMES = ("left", "right")
#: Largest eye render target side :meth:`HeadsetProfile.recommended_eye_size` may reach.
MAX_EYE_SIZE = 4096
#: Smallest field of view (degrees, horizontal and vertical, each eye) a profile may give: a
#: lens that shows the eye less than this is a mistake in its numbers, not a headset.
MIN_EYE_FOV_DEG = 5.0


# --------------------------------------------------------------------------------------------
# the schema


def load_schema() -> dict[str, Any]:
    """The headset-profile JSON schema shipped in ``calibration/schema/``."""
    return load_document_schema(SCHEMA_KIND)


# --------------------------------------------------------------------------------------------
# the profile


class MirroredLens(LensModel):
    """A lens model mirrored left-right (the right lens of a symmetric headset)."""

    def __init__(self, inner: LensModel) -> None:
        self.inner = inner
        self.kind = inner.kind  # type: ignore[misc]
        if inner.viewport_tan is not None:
            left, right, bottom, top = inner.viewport_tan
            self.viewport_tan = (-right, -left, bottom, top)

    @property
    def axis_signs(self) -> tuple[int, int]:
        """Same as the inner model (a mirror keeps each axis's orientation)."""
        return self.inner.axis_signs

    @staticmethod
    def _flip(pts: ArrayLike) -> NDArray[np.float64]:
        out = np.array(pts, dtype=np.float64, copy=True)
        out[..., 0] *= -1
        return out

    def distort(
        self, ideal: ArrayLike, channel: int = 1, strict: bool = True
    ) -> NDArray[np.float64]:
        """Mirror of the inner model's ``distort`` (see :class:`LensModel`)."""
        return self._flip(self.inner.distort(self._flip(ideal), channel, strict=strict))

    def undistort(
        self, panel: ArrayLike, channel: int = 1, strict: bool = True
    ) -> NDArray[np.float64]:
        """Mirror of the inner model's ``undistort`` (see :class:`LensModel`)."""
        return self._flip(self.inner.undistort(self._flip(panel), channel, strict=strict))

    @property
    def max_radius(self) -> float:
        """Same as the inner model."""
        return self.inner.max_radius

    @property
    def max_panel_radius(self) -> float:
        """Same as the inner model."""
        return self.inner.max_panel_radius

    def to_dict(self) -> dict[str, Any]:
        """The inner model's parameters (the mirror is implied by its place in a profile)."""
        return self.inner.to_dict()


@dataclass(frozen=True, eq=False)
class HeadsetProfile:
    """A validated headset profile. Build with :func:`load_profile` or :func:`profile_from_dict`.

    Attributes:
        name: Identifier.
        description: One line for humans.
        source: Where the numbers come from.
        resolution_px: Panel ``(width, height)`` in pixels (both eyes).
        size_m: Panel active area ``(width, height)`` in metres.
        refresh_hz: Refresh rate.
        lens_separation_m: Lens centre-to-centre distance.
        screen_to_lens_m: Panel-to-lens distance; panel metres / this = tan units.
        eye_relief_m: Cornea-to-lens distance, or None (reported only).
        vertical_alignment: ``"bottom"``, ``"center"`` or ``"top"``.
        tray_to_lens_m: Tray-to-lens-centre distance, or None for ``"center"``.
        screen_border_m: Tray to the active area (phone bezel).
        canting_deg: Outward yaw of each eye.
        lenses: ``(left, right)`` lens models.
        fov_limits_deg: ``{"outer", "inner", "up", "down"}`` lens limits in degrees.
        ipd_default_m: Default interpupillary distance.
        path: File the profile was loaded from, or None.
        device: ``vendor``, ``model``, ``primary_button`` of the viewer, where known (kept for
            exports such as the Cardboard viewer profile).
    """

    name: str
    description: str
    source: str
    resolution_px: tuple[int, int]
    size_m: tuple[float, float]
    refresh_hz: float
    lens_separation_m: float
    screen_to_lens_m: float
    eye_relief_m: float | None
    vertical_alignment: str
    tray_to_lens_m: float | None
    screen_border_m: float
    canting_deg: float
    lenses: tuple[LensModel, LensModel]
    fov_limits_deg: dict[str, float]
    ipd_default_m: float
    path: Path | None = None
    device: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ---- geometry -------------------------------------------------------------------------

    def lens(self, eye: int) -> LensModel:
        """The lens model of ``eye`` (0 left, 1 right)."""
        return self.lenses[_eye(eye)]

    @property
    def lens_height_m(self) -> float:
        """Height of the lens centres above the panel's bottom edge (Cardboard y_eye_offset)."""
        h = self.size_m[1]
        if self.vertical_alignment == "bottom":
            return float(self.tray_to_lens_m) - self.screen_border_m  # type: ignore[arg-type]
        if self.vertical_alignment == "top":
            return h - float(self.tray_to_lens_m) - self.screen_border_m  # type: ignore[arg-type]
        return h / 2

    def lens_center_m(self, eye: int) -> tuple[float, float]:
        """Lens centre of ``eye`` on the panel, metres from the panel's bottom-left corner."""
        sign = -1 if _eye(eye) == LEFT else 1
        return self.size_m[0] / 2 + sign * self.lens_separation_m / 2, self.lens_height_m

    def eye_viewport(self, eye: int) -> tuple[int, int, int, int]:
        """The eye's part of the panel ``(x, y, width, height)`` in pixels.

        ``(x, y)`` is the viewport's top-left corner counted from the panel's top-left corner
        (as :class:`vrkit.render.panel.PanelLayout` takes it). The left eye gets the left half,
        the right eye the right half, both the full height.
        """
        w, h = self.resolution_px
        half = w // 2
        return (0, 0, half, h) if _eye(eye) == LEFT else (half, 0, w - half, h)

    def viewport_extent_m(self, eye: int) -> tuple[float, float, float, float]:
        """Eye viewport edges in metres relative to its lens centre: ``(left, right, bottom, top)``.

        Left and bottom are negative when the lens centre is inside the viewport.
        """
        x, y, w, h = self.eye_viewport(eye)
        px = self.size_m[0] / self.resolution_px[0]
        py = self.size_m[1] / self.resolution_px[1]
        cx, cy = self.lens_center_m(eye)
        bottom_px = self.resolution_px[1] - y - h  # rows below the viewport
        return x * px - cx, (x + w) * px - cx, bottom_px * py - cy, (bottom_px + h) * py - cy

    def viewport_extent_tan(self, eye: int) -> tuple[float, float, float, float]:
        """:meth:`viewport_extent_m` in panel tan units (divided by ``screen_to_lens_m``)."""
        return tuple(v / self.screen_to_lens_m for v in self.viewport_extent_m(eye))  # type: ignore[return-value]

    def fov_limits(self, eye: int) -> tuple[float, float, float, float]:
        """Lens limits of ``eye`` as ``(left, right, up, down)`` positive degrees."""
        lim = self.fov_limits_deg
        if _eye(eye) == LEFT:
            return lim["outer"], lim["inner"], lim["up"], lim["down"]
        return lim["inner"], lim["outer"], lim["up"], lim["down"]

    @cached_property
    def eye_fovs(self) -> tuple[EyeFov, EyeFov]:
        """Both eyes' fields of view through their lenses (``optics.fov.fov_through_lens``).

        Computed once per profile (the profile is frozen) and kept; :func:`profile_from_dict`
        computes them while loading, so a loaded profile always has them.

        Raises:
            InputError: A lens model's inverse does not cover its eye's panel edges; the
                message starts with the lens's field path (``lenses.left: ...``).
        """
        fovs = []
        for eye in (LEFT, RIGHT):
            lens, name = self.lens(eye), EYE_NAMES[eye]
            try:
                limits = self.fov_limits(eye)
                fovs.append(fov_through_lens(lens, self.viewport_extent_tan(eye), limits, name))
            except InputError as exc:
                raise InputError(f"lenses.{name}: {exc.message}", exc.hint) from None
        return fovs[0], fovs[1]

    def eye_fov(self, eye: int) -> Fov:
        """The eye's field of view (clamped to the lens limits): what to render each eye with."""
        return self.eye_fovs[_eye(eye)].fov

    def viewport_uv_to_panel_tan(self, eye: int, uv: ArrayLike) -> NDArray[np.float64]:
        """Panel tan coordinates about the eye's lens centre of points in its viewport.

        Args:
            eye: 0 left, 1 right.
            uv: (N, 2) positions in the eye's viewport, (0, 0) its bottom-left corner and
                (1, 1) its top-right.

        Returns:
            (N, 2) panel points in tan units about the lens centre (x right, y up).
        """
        uv = np.asarray(uv, dtype=np.float64)
        left, right, bottom, top = self.viewport_extent_tan(eye)
        return np.stack([left + uv[:, 0] * (right - left), bottom + uv[:, 1] * (top - bottom)], 1)

    def panel_to_eye_uv(
        self, eye: int, panel_uv: ArrayLike, fov: Fov | None = None
    ) -> NDArray[np.float64]:
        """Where in the eye image each panel point's content comes from, per colour channel.

        This is the narrow map mesh baking takes (:mod:`vrkit.optics.mesh`): the panel point's
        tan position about the lens centre goes through the lens's ``undistort`` per channel to
        the eye's tan angle, then to a texture coordinate of the eye image rendered with
        ``fov``. Panel points beyond the lens model's usable range get a direction far outside
        the Fov, growing outward (drawn black), never NaN.

        Args:
            eye: 0 left, 1 right.
            panel_uv: (N, 2) positions in the eye's viewport, (0, 0) bottom-left.
            fov: The Fov the eye image is rendered with; :meth:`eye_fov` by default.

        Returns:
            (3, N, 2) eye-image texture coordinates for red, green, blue ((0, 0) bottom-left).

        Raises:
            InputError: ``fov`` reaches beyond the lens model's usable range.
        """
        lens = self.lens(eye)
        if fov is None:
            fov = self.eye_fov(eye)
        else:
            reach = float(np.max(np.abs(fov.tangents())))
            if reach > lens.max_radius:
                raise InputError(
                    f"the eye Fov {fov.degrees()} reaches tan {reach:.4f}, beyond the lens "
                    f"model's usable range (ideal radius {lens.max_radius:.4f}); the panel "
                    "cannot show it",
                    hint="use the profile's eye_fov(eye) or a narrower Fov",
                )
        panel = self.viewport_uv_to_panel_tan(eye, panel_uv)
        r = np.hypot(panel[:, 0], panel[:, 1])
        # Beyond the model's range: a direction far outside the Fov (drawn black), growing outward.
        far = 1.5 * float(np.max(np.abs(fov.tangents()))) * np.sqrt(2) + lens.max_radius
        r_lim = max(lens.max_panel_radius, 1e-9)
        with np.errstate(invalid="ignore", divide="ignore"):
            outward = panel * (far / r_lim) * np.maximum(1.0, r / r_lim)[:, None]
        out = np.empty((3, len(panel), 2))
        for channel in range(3):
            ideal = lens.undistort(panel, channel, strict=False)
            bad = ~np.all(np.isfinite(ideal), axis=1)
            ideal[bad] = outward[bad]
            out[channel] = ideal_to_uv(ideal, fov)
        return out

    def recommended_eye_size(self, eye: int = LEFT) -> tuple[int, int]:
        """Eye render size ``(width, height)`` matching the panel's density at the lens centre.

        At the centre one panel tan unit covers ``ppm * screen_to_lens`` panel pixels and maps
        to ``1 / g'(0)`` eye tan units (``g'(0)`` the lens's central magnification, estimated
        from the green channel); the eye image spans the Fov's tangent range at that density,
        rounded up to a multiple of 8, at most :data:`MAX_EYE_SIZE`.
        """
        tl, tr, tu, td = self.eye_fov(eye).tangents()
        lens = self.lens(eye)
        h = 1e-4
        # Central differences about the lens centre, by magnitude: a decentred lens need not map
        # the centre to the axis, and a mirror optic (North Star) flips an axis.
        d = lens.undistort(np.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]]), 1)
        mag = np.abs([d[0, 0] - d[1, 0], d[2, 1] - d[3, 1]]) / (2 * h)
        ppx = self.resolution_px[0] / self.size_m[0] * self.screen_to_lens_m / mag[0]
        ppy = self.resolution_px[1] / self.size_m[1] * self.screen_to_lens_m / mag[1]
        w = int(min(MAX_EYE_SIZE, max(16, np.ceil((tr - tl) * ppx / 8) * 8)))
        hh = int(min(MAX_EYE_SIZE, max(16, np.ceil((tu - td) * ppy / 8) * 8)))
        return w, hh

    @property
    def has_lens(self) -> bool:
        """True: every profile has a lens model (an identity lens is ``radial`` with ``k=[0]``)."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON data (as loaded)."""
        return json.loads(json.dumps(self.data))

    def summary(self) -> str:
        """A few lines for ``vrkit profile show``."""
        w, h = self.resolution_px
        right = self.lenses[1]
        right_text = "mirrored left" if isinstance(right, MirroredLens) else repr(right)
        lines = [
            f"{self.name}: {self.description}",
            f"  panel       {w} x {h} px, {self.size_m[0] * 1e3:.2f} x {self.size_m[1] * 1e3:.2f}"
            f" mm, {self.refresh_hz:g} Hz",
            f"  lenses      separation {self.lens_separation_m * 1e3:.1f} mm, screen-to-lens "
            f"{self.screen_to_lens_m * 1e3:.1f} mm, {self.vertical_alignment}-aligned, "
            f"height {self.lens_height_m * 1e3:.1f} mm",
            f"  lens model  left {self.lenses[0]!r}, right {right_text}",
            f"  fov limits  {self.fov_limits_deg} deg, canting {self.canting_deg:g} deg, "
            f"default IPD {self.ipd_default_m * 1e3:.1f} mm",
        ]
        if self.eye_relief_m is not None:
            lines.append(f"  eye relief  {self.eye_relief_m * 1e3:.1f} mm")
        if self.source:
            lines.append(f"  source      {self.source}")
        return "\n".join(lines)


def _eye(eye: int) -> int:
    if eye not in (LEFT, RIGHT):
        raise ValueError(f"eye must be 0 (left) or 1 (right), got {eye!r}")
    return int(eye)


# --------------------------------------------------------------------------------------------
# loading


def validate_profile_dict(data: Any, where: str = "profile") -> None:
    """Check profile data against the schema, then each lens model's own checks.

    The schema (checked by ``jsonschema`` through :mod:`vrkit.core.documents`) covers every
    field's type and range and caps coefficient counts, so the lens checks after it run in
    bounded time; the lens models then check what a schema cannot (exact coefficient counts,
    increasing knots, invertibility near the centre).

    Raises:
        ProfileError: One line naming ``where``, the JSON path, the value and what was expected.
    """
    validate_document(data, SCHEMA_KIND, where, ProfileError)
    for side, lens in data["lenses"].items():
        lens_model_from_dict(lens, f"{where}: $.lenses.{side}")


def profile_from_dict(data: Any, path: Path | None = None) -> HeadsetProfile:
    """Validate profile data and build a :class:`HeadsetProfile`.

    Args:
        data: Parsed JSON.
        path: File it came from (for messages), or None.

    Raises:
        ProfileError: The first problem found, naming the field path, value and expectation.
    """
    where = f"{path}: profile" if path else "profile"
    validate_profile_dict(data, where)
    panel, optics = data["panel"], data["optics"]
    align = optics["vertical_alignment"]
    tray = optics.get("tray_to_lens_m")
    if align != "center" and tray is None:
        raise ProfileError(
            f"{where}.optics.tray_to_lens_m is required when vertical_alignment is {align!r}"
        )
    (wpx, hpx), (wm, hm) = panel["resolution_px"], panel["size_m"]
    aspect = (wm / wpx) / (hm / hpx)
    if not 0.8 <= aspect <= 1.25:
        raise ProfileError(
            f"{where}.panel: pixel aspect ratio (size_m / resolution_px) is {aspect:.3f}, "
            "expected 0.8 to 1.25 (square-ish pixels); check that size_m and resolution_px are "
            "both [width, height]"
        )
    sep = optics["lens_separation_m"]
    if not sep < wm:
        raise ProfileError(
            f"{where}.optics.lens_separation_m = {sep} puts the lenses outside the panel "
            f"(panel width {wm} m); expected < {wm}"
        )
    left = lens_model_from_dict(data["lenses"]["left"], f"{where}.lenses.left")
    right_data = data["lenses"].get("right")
    right = (
        MirroredLens(left)
        if right_data is None
        else lens_model_from_dict(right_data, f"{where}.lenses.right")
    )
    profile = HeadsetProfile(
        name=data["name"],
        description=data.get("description", ""),
        source=data.get("source", ""),
        resolution_px=(int(wpx), int(hpx)),
        size_m=(float(wm), float(hm)),
        refresh_hz=float(panel["refresh_hz"]),
        lens_separation_m=float(sep),
        screen_to_lens_m=float(optics["screen_to_lens_m"]),
        eye_relief_m=optics.get("eye_relief_m"),
        vertical_alignment=align,
        tray_to_lens_m=None if tray is None else float(tray),
        screen_border_m=float(optics.get("screen_border_m", 0.003)),
        canting_deg=float(optics.get("canting_deg", 0.0)),
        lenses=(left, right),
        fov_limits_deg={k: float(v) for k, v in data["fov_limits_deg"].items()},
        ipd_default_m=float(data.get("ipd_default_m", 0.063)),
        path=path,
        device=dict(data.get("device", {})),
        data=data,
    )
    y = profile.lens_height_m
    if not 0 < y < hm:
        raise ProfileError(
            f"{where}.optics: lens centre height {y:.4f} m (from tray_to_lens_m={tray}, "
            f"screen_border_m={profile.screen_border_m}, {align}-aligned) is outside the panel "
            f"height 0..{hm} m"
        )
    # Models defined on the viewport's UV square must sit on the viewport the geometry gives.
    for eye in (LEFT, RIGHT):
        vt = profile.lens(eye).viewport_tan
        if vt is not None:
            want = np.array(profile.viewport_extent_tan(eye))
            if not np.allclose(vt, want, rtol=1e-6, atol=1e-9):
                raise ProfileError(
                    f"{where}.lenses.{EYE_NAMES[eye]}.viewport_tan {np.round(vt, 6).tolist()} "
                    f"does not match the {EYE_NAMES[eye]} eye viewport the panel and optics "
                    f"give ({np.round(want, 6).tolist()} tan units)",
                    hint="the lens is defined on that viewport: keep panel, lens_separation_m, "
                    "screen_to_lens_m and the lens height as imported, or re-import",
                )
    # The lens model must be invertible over every panel edge the eye can see. This computes
    # the eye FOVs once; the profile keeps them.
    try:
        fovs = profile.eye_fovs
    except InputError as exc:
        raise ProfileError(f"{where}.{exc}") from None
    for eye, eye_fov in enumerate(fovs):
        deg = eye_fov.fov.degrees()
        spans = {"horizontal": deg["right"] - deg["left"], "vertical": deg["up"] - deg["down"]}
        for axis, span in spans.items():
            if not span >= MIN_EYE_FOV_DEG:
                raise ProfileError(
                    f"{where}.lenses.{EYE_NAMES[eye]}: the {EYE_NAMES[eye]} eye sees a "
                    f"{axis} field of view of {span:.2f} deg through this lens, expected at "
                    f"least {MIN_EYE_FOV_DEG:g} deg",
                    hint="check the lens coefficients' scale (a lens that shrinks the panel "
                    "to a point) and fov_limits_deg",
                )
    return profile


def shipped_profiles_dir() -> Path:
    """Folder of the profiles that ship with vrkit."""
    return data_dir("calibration") / "profiles"


def shipped_profile_names() -> list[str]:
    """Names of the shipped profiles, sorted."""
    return shipped_names("headset-profile")


def load_profile(name_or_path: str | Path) -> HeadsetProfile:
    """Load a profile by shipped name (``"cardboard-v1"``) or by file path.

    Raises:
        ProfileError: Unknown name, missing file, invalid JSON or an invalid profile.
    """
    text = str(name_or_path)
    path = resolve_file("headset-profile", text)
    if not (path.suffix == ".json" or path.exists() or "/" in text):
        raise ProfileError(
            f"unknown headset profile {text!r}",
            hint=f"shipped profiles: {', '.join(shipped_profile_names())}; or give a path "
            "to a .json file",
        )
    data = read_json(path, "headset profile file", ProfileError)
    return profile_from_dict(data, path)
