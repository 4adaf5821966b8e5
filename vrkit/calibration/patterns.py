"""Panel patterns for lens calibration and their description file (``pattern.json``).

A pattern set is what vrkit puts on the panel, one frame at a time: dot grids or checkerboards,
drawn in one colour channel (``red``, ``green``, ``blue``) or in all three (``white``). The
description records the panel geometry and, for every frame, the panel position of every
feature, so that a capture can be fitted without the generator. Format (``format:
"vrkit.pattern"``, ``version: 1``) documented in ``docs/calibration.md``.

Panel pixel coordinates: x right, y down, (0, 0) at the top-left corner of the top-left pixel,
so pixel centres sit at ``i + 0.5`` (the vrkit image convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import InputError
from vrkit.core.outputs import safe_name, write_json
from vrkit.vision.imagefiles import write_image

PATTERN_FORMAT = "vrkit.pattern"
PATTERN_VERSION = 1
CHANNEL_NAMES = ("red", "green", "blue", "white")
KINDS = ("dots", "checkerboard")
#: Structured-light frame kinds (:func:`make_structured_frames`); ``"graycode"`` in
#: :func:`make_pattern_set`'s ``kinds`` makes the whole set.
STRUCTURED_KINDS = ("flat", "graycode", "phase")
ANCHOR_SCALE = 1.6  # the anchor dot's radius relative to the others


@dataclass(frozen=True)
class PanelGeometry:
    """Where one eye's image sits on the panel, and how panel pixels map to tan units.

    Attributes:
        width_px: Whole panel width, pixels.
        height_px: Whole panel height, pixels.
        pixel_pitch_m: (x, y) pixel pitch, metres.
        screen_to_lens_m: Distance from the panel to the lens, metres (the lens model's
            tan-unit scale: panel tan = metres from the lens centre / this distance).
        viewport_px: ``(x, y, w, h)`` of this eye's region of the panel, pixels.
        lens_centre_px: Nominal lens-axis position on the panel ``(x, y)``, pixels.
        eye: ``"left"`` or ``"right"``.
    """

    width_px: int
    height_px: int
    pixel_pitch_m: tuple[float, float]
    screen_to_lens_m: float
    viewport_px: tuple[int, int, int, int]
    lens_centre_px: tuple[float, float]
    eye: str = "left"

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0:
            raise InputError(f"panel size must be positive, got {self.width_px}x{self.height_px}")
        if min(self.pixel_pitch_m) <= 0 or self.screen_to_lens_m <= 0:
            raise InputError(
                f"pixel pitch {self.pixel_pitch_m} and screen-to-lens distance "
                f"{self.screen_to_lens_m} m must be positive"
            )
        x, y, w, h = self.viewport_px
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > self.width_px or y + h > self.height_px:
            raise InputError(
                f"viewport {self.viewport_px} does not fit the "
                f"{self.width_px}x{self.height_px} panel"
            )
        if self.eye not in ("left", "right"):
            raise InputError(f"eye must be 'left' or 'right', got {self.eye!r}")

    def tan_per_px(self) -> NDArray[np.float64]:
        """(2,) tan units per panel pixel along x and y."""
        return np.asarray(self.pixel_pitch_m, dtype=np.float64) / self.screen_to_lens_m

    def px_to_tan(self, px: ArrayLike, centre_px: ArrayLike | None = None) -> NDArray[np.float64]:
        """Panel pixels (N, 2) to panel tan units about a lens centre (y flipped to up)."""
        c = np.asarray(self.lens_centre_px if centre_px is None else centre_px, dtype=np.float64)
        d = (np.asarray(px, dtype=np.float64) - c) * self.tan_per_px()
        return d * np.array([1.0, -1.0])

    def tan_to_px(self, tan: ArrayLike, centre_px: ArrayLike | None = None) -> NDArray[np.float64]:
        """Inverse of :meth:`px_to_tan`."""
        c = np.asarray(self.lens_centre_px if centre_px is None else centre_px, dtype=np.float64)
        return np.asarray(tan, dtype=np.float64) * np.array([1.0, -1.0]) / self.tan_per_px() + c

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "width_px": self.width_px,
            "height_px": self.height_px,
            "pixel_pitch_m": list(self.pixel_pitch_m),
            "screen_to_lens_m": self.screen_to_lens_m,
            "viewport_px": list(self.viewport_px),
            "lens_centre_px": list(self.lens_centre_px),
            "eye": self.eye,
        }

    @classmethod
    def from_profile(cls, profile: Any, eye: int = 0) -> PanelGeometry:
        """Geometry of one eye of a :class:`vrkit.optics.profile.HeadsetProfile`.

        The lens centre comes from the profile's ``lens_center_m`` (metres from the panel's
        bottom-left corner), converted to panel pixels from the top-left corner.
        """
        (wpx, hpx), (wm, hm) = profile.resolution_px, profile.size_m
        pitch = (wm / wpx, hm / hpx)
        cx_m, cy_m = profile.lens_center_m(eye)
        return cls(
            int(wpx),
            int(hpx),
            pitch,
            float(profile.screen_to_lens_m),
            tuple(int(v) for v in profile.eye_viewport(eye)),
            (cx_m / pitch[0], (hm - cy_m) / pitch[1]),
            "left" if eye == 0 else "right",
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PanelGeometry:
        """Parse :meth:`to_dict` output."""
        return cls(
            int(d["width_px"]),
            int(d["height_px"]),
            tuple(float(v) for v in d["pixel_pitch_m"]),
            float(d["screen_to_lens_m"]),
            tuple(int(v) for v in d["viewport_px"]),
            tuple(float(v) for v in d["lens_centre_px"]),
            str(d.get("eye", "left")),
        )


@dataclass
class PatternFrame:
    """One image shown on the panel.

    Attributes:
        name: Frame name; captures of it are named after it.
        kind: ``"dots"`` or ``"checkerboard"``.
        channel: ``"red"``, ``"green"``, ``"blue"`` or ``"white"``.
        features: (N, 2) panel pixel positions of the features.
        ij: (N, 2) integer grid indices of the features, (0, 0) at the anchor (dots) or the
            first inner corner (checkerboard); i grows right, j grows down.
        spacing_px: Grid pitch, panel pixels.
        dot_radius_px: Dot radius, panel pixels (dots only).
        file: Image file name, beside the description.
    """

    name: str
    kind: str
    channel: str
    features: NDArray[np.float64]
    ij: NDArray[np.int64]
    spacing_px: float
    dot_radius_px: float = 0.0
    file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def channels(self) -> list[int]:
        """Colour channels (0 red, 1 green, 2 blue) this frame measures."""
        return [0, 1, 2] if self.channel == "white" else [CHANNEL_NAMES.index(self.channel)]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "file": self.file,
            "kind": self.kind,
            "channel": self.channel,
            "spacing_px": self.spacing_px,
            "dot_radius_px": self.dot_radius_px,
            "ij": self.ij.tolist(),
            "features": self.features.tolist(),
            **self.extra,
        }


@dataclass
class PatternSet:
    """A set of frames for one eye, with the panel geometry.

    Attributes:
        panel: Panel geometry of the eye.
        frames: The frames, in display order.
    """

    panel: PanelGeometry
    frames: list[PatternFrame]

    def frame(self, name: str) -> PatternFrame:
        """The frame called ``name``."""
        for f in self.frames:
            if f.name == name:
                return f
        raise InputError(f"pattern has no frame {name!r}; it has {[f.name for f in self.frames]}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "format": PATTERN_FORMAT,
            "version": PATTERN_VERSION,
            "panel": self.panel.to_dict(),
            "frames": [f.to_dict() for f in self.frames],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "pattern description") -> PatternSet:
        """Parse the JSON form, raising InputError that names the problem."""
        if not isinstance(data, dict) or data.get("format") != PATTERN_FORMAT:
            raise InputError(
                f"{source} is not a vrkit pattern description (format "
                f"{data.get('format') if isinstance(data, dict) else None!r})",
                "write one with `vrkit calibrate pattern`",
            )
        if data.get("version") != PATTERN_VERSION:
            raise InputError(
                f"{source} has version {data.get('version')!r}; this vrkit reads {PATTERN_VERSION}"
            )
        try:
            panel = PanelGeometry.from_dict(data["panel"])
            frames = []
            for fd in data["frames"]:
                known = {"name", "file", "kind", "channel", "spacing_px", "dot_radius_px"}
                known |= {"ij", "features"}
                if fd["kind"] not in KINDS + STRUCTURED_KINDS or fd["channel"] not in CHANNEL_NAMES:
                    raise InputError(
                        f"{source}: frame {fd.get('name')!r} has kind {fd['kind']!r} / channel "
                        f"{fd['channel']!r}; expected one of {KINDS + STRUCTURED_KINDS} / "
                        f"{CHANNEL_NAMES}"
                    )
                feats = np.asarray(fd["features"], dtype=np.float64).reshape(-1, 2)
                ij = np.asarray(fd["ij"], dtype=np.int64).reshape(-1, 2)
                if len(feats) != len(ij):
                    raise InputError(
                        f"{source}: frame {fd['name']!r} has {len(feats)} features "
                        f"but {len(ij)} grid indices"
                    )
                frames.append(
                    PatternFrame(
                        safe_name(fd["name"], f"frame name in {source}"),
                        fd["kind"],
                        fd["channel"],
                        feats,
                        ij,
                        float(fd["spacing_px"]),
                        float(fd.get("dot_radius_px", 0.0)),
                        str(fd.get("file", "")),
                        {k: v for k, v in fd.items() if k not in known},
                    )
                )
        except KeyError as exc:
            raise InputError(f"{source} lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"{source}: {exc}") from None
        if not frames:
            raise InputError(f"{source} has no frames")
        return cls(panel, frames)

    def save(self, folder: str | Path, images: bool = True) -> Path:
        """Write ``pattern.json`` and (with ``images``) one PNG per frame into ``folder``.

        Each file is written atomically (:mod:`vrkit.core.outputs`); ``pattern.json`` last.

        Raises:
            InputError: A frame name that cannot be a file name.
            OutputError: A file could not be written, naming it.
        """
        d = Path(folder)
        for f in self.frames:
            f.file = f"{safe_name(f.name, 'pattern frame name')}.png"
        for k, f in enumerate(self.frames):
            if images:
                rgb = render_frame(self.panel, f)
                write_image(d / f.file, rgb[..., ::-1], kept=f"{k} frame images were written")
        return write_json(d / "pattern.json", self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> PatternSet:
        """Read ``pattern.json``."""
        p = Path(path)
        if p.is_dir():
            p = p / "pattern.json"
        data = read_document(p, "pattern")
        return cls.from_dict(data, f"pattern description {str(p)!r}")


def make_pattern_set(
    panel: PanelGeometry,
    kinds: tuple[str, ...] = ("dots",),
    channels: tuple[str, ...] = ("red", "green", "blue"),
    spacing_px: float = 48.0,
    dot_radius_px: float | None = None,
    margin_px: float | None = None,
) -> PatternSet:
    """Lay out pattern frames over one eye's viewport.

    Dots: a square grid through the nominal lens centre (where the larger anchor dot sits),
    covering the viewport less a margin. Checkerboard: squares of ``spacing_px`` with an inner
    corner on the lens centre; features are the inner corners.

    Args:
        panel: Panel geometry.
        kinds: Pattern kinds to make, from ``("dots", "checkerboard")``.
        channels: Colours, from ``("red", "green", "blue", "white")``.
        spacing_px: Grid pitch in panel pixels.
        dot_radius_px: Dot radius (default ``spacing_px / 7``).
        margin_px: Distance kept from the viewport edge (default ``spacing_px / 2``).

    Returns:
        One frame per kind and channel, named ``<kind>_<channel>``; the kind ``"graycode"``
        adds the structured-light frames of :func:`make_structured_frames` per channel.
    """
    structured = "graycode" in kinds
    kinds = tuple(k for k in kinds if k != "graycode")
    for k in kinds:
        if k not in KINDS:
            raise InputError(f"unknown pattern kind {k!r}; expected one of {(*KINDS, 'graycode')}")
    for c in channels:
        if c not in CHANNEL_NAMES:
            raise InputError(f"unknown channel {c!r}; expected one of {CHANNEL_NAMES}")
    if spacing_px < 8:
        raise InputError(f"pattern spacing must be >= 8 panel pixels, got {spacing_px}")
    radius = spacing_px / 7.0 if dot_radius_px is None else float(dot_radius_px)
    if not 1.0 <= radius * ANCHOR_SCALE < spacing_px / 2.5:
        raise InputError(
            f"dot radius {radius} px does not fit spacing {spacing_px} px "
            f"(need 1 <= {ANCHOR_SCALE} x radius < spacing / 2.5)"
        )
    margin = spacing_px / 2 if margin_px is None else float(margin_px)
    vx, vy, vw, vh = panel.viewport_px
    cx, cy = panel.lens_centre_px
    i_lo = int(np.ceil((vx + margin - cx) / spacing_px))
    i_hi = int(np.floor((vx + vw - margin - cx) / spacing_px))
    j_lo = int(np.ceil((vy + margin - cy) / spacing_px))
    j_hi = int(np.floor((vy + vh - margin - cy) / spacing_px))
    if i_hi - i_lo < 3 or j_hi - j_lo < 3:
        raise InputError(
            f"spacing {spacing_px} px leaves fewer than 4x4 features in viewport "
            f"{panel.viewport_px}"
        )
    jj, ii = np.mgrid[j_lo : j_hi + 1, i_lo : i_hi + 1]
    ij = np.stack([ii.ravel(), jj.ravel()], axis=1).astype(np.int64)
    feats = np.array([cx, cy]) + ij * spacing_px
    frames = []
    for kind in kinds:
        for ch in channels:
            if kind == "dots":
                frames.append(
                    PatternFrame(
                        f"dots_{ch}", "dots", ch, feats.copy(), ij.copy(), spacing_px, radius
                    )
                )
            else:
                # Inner corners need a square on each side: drop the outermost ring.
                inner = (
                    (ij[:, 0] > i_lo) & (ij[:, 0] < i_hi) & (ij[:, 1] > j_lo) & (ij[:, 1] < j_hi)
                )
                sub_ij = ij[inner] - np.array([i_lo + 1, j_lo + 1])
                frames.append(
                    PatternFrame(
                        f"checkerboard_{ch}",
                        "checkerboard",
                        ch,
                        feats[inner].copy(),
                        sub_ij,
                        spacing_px,
                        0.0,
                        extra={
                            "squares_origin_ij": [int(i_lo), int(j_lo)],
                            "inner_corners": [int(i_hi - i_lo - 1), int(j_hi - j_lo - 1)],
                        },
                    )
                )
    for ch in channels if structured else ():
        frames += make_structured_frames(panel, ch)
    return PatternSet(panel, frames)


def gray_bits(n_stripes: int) -> int:
    """Bits of the Gray code that numbers ``n_stripes`` stripes."""
    return max(1, int(np.ceil(np.log2(max(n_stripes, 2)))))


def make_structured_frames(
    panel: PanelGeometry, channel: str = "white", period_px: int = 16, steps: int = 4
) -> list[PatternFrame]:
    """Gray-code + phase-shift frames over one eye's viewport, in one colour.

    Per axis (``x`` then ``y``): a binary-reflected Gray code numbering stripes of
    ``period_px / 2`` panel pixels (most significant bit first), each bit followed by its
    inverse (per-pixel validity: a camera pixel reads a bit only where the frame and its
    inverse differ clearly), then ``steps`` phase-shifted sinusoids of period ``period_px``
    (``0.5 + 0.5 cos(2 pi u / period - 2 pi k / steps)``, ``u`` the pixel centre's distance
    from the viewport's left / top edge). First a full-on and a full-off frame (``flat``):
    the lit field, shadows and the contrast each pixel can have.

    Frame names: ``sl_<channel>_white``, ``sl_<channel>_black``, ``sl_<channel>_<axis>_g<bit>``
    and ``..._g<bit>i`` (bit 0 the most significant), ``sl_<channel>_<axis>_p<k>``.

    Args:
        panel: Panel geometry (the viewport is coded).
        channel: ``red``, ``green``, ``blue`` or ``white`` (one set measures all three).
        period_px: Sinusoid period, panel pixels (even, >= 4).
        steps: Phase steps (>= 3; an even number also gives pairs for the motion check).

    Returns:
        The frames, in display order.
    """
    if channel not in CHANNEL_NAMES:
        raise InputError(f"unknown channel {channel!r}; expected one of {CHANNEL_NAMES}")
    if period_px < 4 or period_px % 2:
        raise InputError(f"phase period must be an even number >= 4 panel pixels, got {period_px}")
    if steps < 3:
        raise InputError(f"phase steps must be >= 3, got {steps}")
    empty_f, empty_i = np.zeros((0, 2)), np.zeros((0, 2), np.int64)
    stripe = period_px // 2
    pre = f"sl_{channel}"

    def frame(name: str, kind: str, **extra: Any) -> PatternFrame:
        return PatternFrame(name, kind, channel, empty_f, empty_i, float(period_px), extra=extra)

    frames = [frame(f"{pre}_white", "flat", level=1), frame(f"{pre}_black", "flat", level=0)]
    _, _, vw, vh = panel.viewport_px
    for axis, size in (("x", vw), ("y", vh)):
        n_stripes = -(-size // stripe)
        nb = gray_bits(n_stripes)
        common = {"axis": axis, "n_bits": nb, "stripe_px": stripe, "period_px": period_px}
        for b in range(nb):
            for inv in (False, True):
                frames.append(
                    frame(
                        f"{pre}_{axis}_g{b:02d}{'i' if inv else ''}",
                        "graycode",
                        bit=b,
                        inverse=inv,
                        **common,
                    )
                )
        for k in range(steps):
            frames.append(frame(f"{pre}_{axis}_p{k}", "phase", step=k, steps=steps, **common))
    return frames


def _structured_image(panel: PanelGeometry, frame: PatternFrame) -> NDArray[np.float32]:
    """Intensity (H, W) in 0..1 of a structured-light frame (lit inside the viewport only)."""
    h, w = panel.height_px, panel.width_px
    vx, vy, vw, vh = panel.viewport_px
    img = np.zeros((h, w), np.float32)
    e = frame.extra
    if frame.kind == "flat":
        img[vy : vy + vh, vx : vx + vw] = float(e["level"])
        return img
    n = vw if e["axis"] == "x" else vh
    u = np.arange(n) + 0.5  # pixel centres from the viewport edge
    if frame.kind == "graycode":
        s = np.floor(u / e["stripe_px"]).astype(np.int64)
        g = s ^ (s >> 1)
        line = ((g >> (e["n_bits"] - 1 - e["bit"])) & 1).astype(np.float32)
        if e["inverse"]:
            line = 1.0 - line
    else:
        ph = 2 * np.pi * u / e["period_px"] - 2 * np.pi * e["step"] / e["steps"]
        line = (0.5 + 0.5 * np.cos(ph)).astype(np.float32)
    if e["axis"] == "x":
        img[vy : vy + vh, vx : vx + vw] = line[None, :]
    else:
        img[vy : vy + vh, vx : vx + vw] = line[:, None]
    return img


def render_frame(
    panel: PanelGeometry, frame: PatternFrame, supersample: int = 4
) -> NDArray[np.uint8]:
    """The panel image (H, W, 3) uint8 RGB of one frame: white features on black.

    Dots are anti-aliased by ``supersample`` x ``supersample`` coverage sampling; the anchor
    dot (grid index (0, 0)) is ``ANCHOR_SCALE`` times larger. Only the colour channel(s) of the
    frame are lit.
    """
    h, w = panel.height_px, panel.width_px
    img = np.zeros((h, w), np.float32)
    if frame.kind in STRUCTURED_KINDS:
        img = _structured_image(panel, frame)
    elif frame.kind == "dots":
        r = frame.dot_radius_px
        s = int(supersample)
        big = ANCHOR_SCALE * r
        half = int(np.ceil(big)) + 2
        offs = (np.arange(2 * half * s) + 0.5) / s  # sub-sample positions from the patch corner
        for (x, y), (i, j) in zip(frame.features, frame.ij, strict=True):
            rad = big if (i == 0 and j == 0) else r
            x0, y0 = int(np.floor(x)) - half, int(np.floor(y)) - half
            sx = x0 + offs[None, :] - x
            sy = y0 + offs[:, None] - y
            inside = ((sx**2 + sy**2) <= rad * rad).astype(np.float32)
            cov = inside.reshape(2 * half, s, 2 * half, s).mean(axis=(1, 3))
            ys, xs = (
                slice(max(y0, 0), min(y0 + 2 * half, h)),
                slice(max(x0, 0), min(x0 + 2 * half, w)),
            )
            img[ys, xs] = np.maximum(
                img[ys, xs], cov[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
            )
    else:
        i0, j0 = frame.extra["squares_origin_ij"]
        cx, cy = panel.lens_centre_px
        n_i, n_j = (np.array(frame.extra["inner_corners"]) + 1).tolist()
        yy, xx = np.mgrid[0:h, 0:w]
        u = (xx + 0.5 - cx) / frame.spacing_px - i0
        v = (yy + 0.5 - cy) / frame.spacing_px - j0
        inside = (u >= 0) & (u < n_i) & (v >= 0) & (v < n_j)
        img = ((np.floor(u) + np.floor(v)) % 2 == 0) & inside
        img = img.astype(np.float32)
    out = np.zeros((h, w, 3), np.uint8)
    val = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    for c in frame.channels():
        out[..., c] = val
    return out
