"""Decode Gray-code + phase-shift captures to dense per-camera-pixel maps of panel position.

The frames (:func:`vrkit.calibration.patterns.make_structured_frames`) give, per colour
channel and per axis, a Gray code numbering stripes of half a sinusoid period, with an inverse
for every bit, and ``N`` phase-shifted sinusoids. Per camera pixel, all numpy, no loops over
pixels:

* **lit**: full-on minus full-off contrast above ``min_contrast`` x the 99th percentile; the
  pixels within ``edge_px`` of the lit field's border are dropped (the sinusoid is cut there).
* **bits**: bit = (frame > inverse); a bit is *ambiguous* where ``|frame - inverse|`` is below
  ``bit_threshold`` x the contrast. One ambiguous bit is harmless (at a stripe border only one
  Gray bit changes, and the phase decides); two or more make the pixel invalid.
* **phase**: ``phi = atan2(sum I_k sin(2 pi k/N), sum I_k cos(2 pi k/N))``; its modulation must
  reach ``min_modulation`` x the contrast.
* **unwrap**: the stripe's centre (Gray code) picks the sinusoid period; where the phase
  position and the stripe centre disagree by more than 3/8 of a period the pixel is invalid.

Whole-set checks, each named in :attr:`DenseMap.problems` and making the affected map invalid
(never a wrong map): a **missing frame**; a Gray-code frame **out of order** (its stripes are
not the width its bit should have: the number of stripe edges per camera row, relative to what
the bit has on the panel, differs from the other bits' by more than 1.5x); the **camera moved**
(every frame + its inverse, and every phase pair half a period apart, must add up to the
full-on + full-off frames: a pair whose lit field's centroid is shifted against theirs by more
than ``max_shift_px`` or whose sum differs in more than ``motion_fraction`` of the lit
pixels was taken from elsewhere); a **shadow** (unlit pixels enclosed by the lit field:
counted, located, marked invalid; the rest of the map stands).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.calibration.patterns import STRUCTURED_KINDS, PatternFrame, PatternSet
from vrkit.core.errors import DataError
from vrkit.optics.base import CHANNELS

#: Why a camera pixel has no panel position (:attr:`DenseMap.reason`).
REASONS = {
    0: "valid",
    1: "unlit (outside the visible field)",
    2: "shadow inside the visible field",
    3: "border of the lit field",
    4: "low phase modulation",
    5: "ambiguous Gray code",
    6: "Gray code and phase disagree",
    7: "outside the viewport",
    8: "frame set unusable (see problems)",
}


@dataclass(frozen=True)
class DecodeSettings:
    """Thresholds of the decoder (module docstring)."""

    min_contrast: float = 0.05
    bit_threshold: float = 0.12
    min_modulation: float = 0.2
    edge_px: int = 2
    motion_fraction: float = 0.01
    motion_tolerance: float = 0.25
    max_shift_px: float = 0.5


@dataclass
class DenseMap:
    """Panel position seen by every camera pixel, one colour channel.

    Attributes:
        channel: 0 red, 1 green, 2 blue.
        panel_px: (H, W, 2) float64 panel pixel position (vrkit panel convention), NaN where
            invalid.
        reason: (H, W) uint8 code of :data:`REASONS` (0: valid).
        problems: Whole-set problems, one line each (missing / out-of-order frames, camera
            motion, shadows).
        frame_set: Name prefix of the frames decoded (``sl_<colour>``).
        contrast: (H, W) full-on minus full-off, the lit field (None when not decoded).
    """

    channel: int
    panel_px: NDArray[np.float64]
    reason: NDArray[np.uint8]
    problems: list[str] = field(default_factory=list)
    frame_set: str = ""
    contrast: NDArray[np.float32] | None = None

    @property
    def valid(self) -> NDArray[np.bool_]:
        """(H, W) bool, pixels with a panel position."""
        return self.reason == 0

    def counts(self) -> dict[str, int]:
        """Pixels per reason."""
        vals, n = np.unique(self.reason, return_counts=True)
        return {REASONS[int(v)]: int(k) for v, k in zip(vals, n, strict=True)}

    def samples(self, step: int = 8) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Valid pixels on a ``step`` x ``step`` grid plus the valid field's border pixels.

        The border (every ``step // 2``-th pixel of it) is added so that the samples reach the
        edge of the visible field, not only the last grid row inside it.

        Returns:
            ``(camera_px (M, 2), panel_px (M, 2))``, camera pixels in the OpenCV convention
            (pixel centres at integers).
        """
        from scipy import ndimage

        h, w = self.reason.shape
        off = step // 2
        pick = np.zeros((h, w), bool)
        pick[off::step, off::step] = True
        v = self.valid
        border = v & ~ndimage.binary_erosion(v)
        ys, xs = np.nonzero(border)
        if len(xs):
            # Every (step // 2)-th border pixel in order of angle about the field's centre.
            vy, vx = np.nonzero(v)
            order = np.argsort(np.arctan2(ys - vy.mean(), xs - vx.mean()))
            keep = order[:: max(step // 2, 1)]
            pick[ys[keep], xs[keep]] = True
        ys, xs = np.nonzero(pick & v)
        cam = np.stack([xs, ys], axis=1).astype(np.float64)
        return cam, self.panel_px[ys, xs]

    def to_dict(self) -> dict[str, Any]:
        """JSON summary (no per-pixel data)."""
        return {
            "channel": CHANNELS[self.channel],
            "frame_set": self.frame_set,
            "valid_pixels": int(self.valid.sum()),
            "pixels_by_reason": self.counts(),
            "problems": list(self.problems),
        }


def gray_to_binary(bits: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Binary-reflected Gray code to integers.

    Args:
        bits: (n_bits, ...) bool, most significant bit first.

    Returns:
        (...) int64 stripe numbers.
    """
    b = np.array(bits[0], dtype=bool)
    out = b.astype(np.int64)
    for i in range(1, bits.shape[0]):
        np.logical_xor(b, bits[i], out=b)  # binary bit i = binary bit i-1 xor Gray bit i
        out <<= 1
        out |= b
    return out


def _edge_counts(
    d: NDArray[np.float32], ok: NDArray[np.bool_], thr: NDArray[np.float32], axis: str
) -> float:
    """Mean number of sign changes of ``d`` per camera line, ambiguous pixels skipped."""
    a = d if axis == "x" else d.T
    m = (ok & (np.abs(d) > thr)) if axis == "x" else (ok & (np.abs(d) > thr)).T
    s = np.where(m, np.sign(a), 0.0)
    # Forward-fill zeros along each line so that skipped pixels do not split an edge.
    idx = np.where(s != 0, np.arange(s.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = np.take_along_axis(s, idx, axis=1)
    changes = np.sum((filled[:, 1:] * filled[:, :-1]) < 0, axis=1)
    lines = np.sum(m.any(axis=1))
    return float(changes.sum()) / max(int(lines), 1)


def _panel_edges(frame: PatternFrame) -> int:
    """Stripe edges of a Gray-code frame's bit across the viewport."""
    e = frame.extra
    n_stripes = 1 << e["n_bits"]
    s = np.arange(n_stripes)
    bit = ((s ^ (s >> 1)) >> (e["n_bits"] - 1 - e["bit"])) & 1
    return int(np.sum(bit[1:] != bit[:-1]))


def _box(mask: NDArray[np.bool_]) -> str:
    ys, xs = np.nonzero(mask)
    return f"camera x {xs.min()}..{xs.max()}, y {ys.min()}..{ys.max()}"


def decode_channel(
    images: Mapping[str, NDArray[np.floating] | None],
    frames: list[PatternFrame],
    viewport: tuple[int, int, int, int],
    channel: int,
    settings: DecodeSettings = DecodeSettings(),
) -> DenseMap:
    """Decode one frame set in one camera colour channel.

    Args:
        images: Frame name -> (H, W) camera channel image (any scale), None when missing.
        frames: The frame set (one ``sl_<colour>`` prefix), in display order.
        viewport: ``(x, y, w, h)`` of the coded viewport, panel pixels.
        channel: Colour channel decoded (for the map's label).
        settings: Thresholds.

    Returns:
        The map; invalid pixels carry their reason.
    """
    prefix = "_".join(frames[0].name.split("_")[:2]) if frames else ""
    problems: list[str] = []
    missing = [f.name for f in frames if images.get(f.name) is None]
    shape = next((np.shape(v) for v in images.values() if v is not None), (1, 1))
    h, w = shape[:2]
    reason = np.zeros((h, w), np.uint8)
    panel = np.full((h, w, 2), np.nan)
    if missing:
        problems.append(
            f"{CHANNELS[channel]}: frame(s) {', '.join(missing)} missing: map not decoded"
        )
        reason[:] = 8
        return DenseMap(channel, panel, reason, problems, prefix)

    cache: dict[str, NDArray[np.float32]] = {}

    def img(name: str) -> NDArray[np.float32]:
        if name not in cache:
            cache[name] = np.asarray(images[name], dtype=np.float32)
        return cache[name]

    by_name = {f.name: f for f in frames}
    white = img(f"{prefix}_white")
    black = img(f"{prefix}_black")
    contrast = white - black
    c99 = float(np.percentile(contrast, 99))
    if c99 <= 0:
        problems.append(f"{CHANNELS[channel]}: the full-on frame is no brighter than full-off")
        reason[:] = 8
        return DenseMap(channel, panel, reason, problems, prefix)
    lit = contrast > settings.min_contrast * c99
    from scipy import ndimage

    # Lit field: the largest lit component; unlit holes in it are shadows.
    lab, n = ndimage.label(lit)
    if n > 1:
        sizes = ndimage.sum(lit, lab, range(1, n + 1))
        lit = lab == (1 + int(np.argmax(sizes)))
    filled = ndimage.binary_fill_holes(lit)
    shadow = filled & ~lit
    reason[~filled] = 1
    reason[shadow] = 2
    if shadow.sum() >= 20:
        _, n_s = ndimage.label(shadow)
        problems.append(
            f"{CHANNELS[channel]}: shadow: {int(shadow.sum())} camera pixels in {n_s} region(s) "
            f"inside the visible field are unlit ({_box(shadow)}), marked invalid"
        )
    inner = ndimage.binary_erosion(lit, iterations=settings.edge_px) if settings.edge_px else lit
    reason[lit & ~inner] = 3
    env = white + black
    env_tol = settings.motion_tolerance * np.maximum(contrast, settings.min_contrast * c99)

    level = 2.0 * black + settings.min_contrast * c99
    yy, xx = np.mgrid[0:h, 0:w]

    def field_centre(total: NDArray[np.float32]) -> NDArray[np.float64]:
        # Centroid of the lit field's outline: moves exactly with the camera, and a few
        # pixels flickering at the threshold do not move it.
        m = (total > level).astype(np.float64)
        n = max(float(m.sum()), 1.0)
        return np.array([float((m * xx).sum()) / n, float((m * yy).sum()) / n])

    env_centre = field_centre(env)

    def moved(a: NDArray[np.float32], b: NDArray[np.float32]) -> tuple[float, float]:
        """Shift (px) of a pair's sum against white + black, and the fraction that differs."""
        pair = a + b
        dx, dy = field_centre(pair) - env_centre
        bad = np.abs(pair - env) > env_tol
        return float(np.hypot(dx, dy)), float(np.sum(bad & lit)) / max(int(lit.sum()), 1)

    def motion_problem(what: str, a: NDArray[np.float32], b: NDArray[np.float32]) -> str | None:
        shift, frac = moved(a, b)
        if shift <= settings.max_shift_px and frac <= settings.motion_fraction:
            return None
        return (
            f"{CHANNELS[channel]}: {what} add up to full-on + full-off shifted by {shift:.1f} "
            f"px, {100 * frac:.1f} % of the field differing: the camera moved (or the panel "
            "changed) during the captures; map not decoded"
        )

    bad_set = False
    axes_out: dict[str, tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.uint8]]] = {}
    for axis in ("x", "y"):
        gray = sorted(
            (f for f in frames if f.kind == "graycode" and f.extra["axis"] == axis),
            key=lambda f: (f.extra["bit"], f.extra["inverse"]),
        )
        phase = sorted(
            (f for f in frames if f.kind == "phase" and f.extra["axis"] == axis),
            key=lambda f: f.extra["step"],
        )
        if not gray or len(phase) < 3:
            problems.append(f"{CHANNELS[channel]}: the {axis} axis has no Gray code / phase frames")
            bad_set = True
            continue
        pos = [f for f in gray if not f.extra["inverse"]]
        neg = [by_name[f.name + "i"] for f in pos]
        stripe = float(pos[0].extra["stripe_px"])
        period = float(phase[0].extra["period_px"])
        steps = len(phase)
        d = np.stack([img(p.name) - img(q.name) for p, q in zip(pos, neg, strict=True)])
        # Camera motion: a frame and its inverse add up to white + black.
        pairs = list(zip(pos, neg, strict=True))
        if steps % 2 == 0:
            pairs += [(phase[k], phase[k + steps // 2]) for k in range(steps // 2)]
        for p, q in pairs:
            prob = motion_problem(f"frames {p.name} + {q.name}", img(p.name), img(q.name))
            if prob:
                problems.append(prob)
                bad_set = True
        # Order: the stripe edges per line of each bit, relative to the panel's, agree.
        thr = settings.bit_threshold * np.maximum(contrast, 1e-6)
        ratios = []
        for b, p in enumerate(pos):
            expect = _panel_edges(p)
            seen = _edge_counts(d[b], inner, thr, axis)
            ratios.append((p, seen / expect if expect >= 4 else None))
        ref = [r for _, r in ratios if r is not None]
        if ref:
            med = float(np.median(ref))
            for p, r in ratios:
                if r is not None and med > 0 and not (1 / 1.5 <= r / med <= 1.5):
                    problems.append(
                        f"{CHANNELS[channel]}: frame {p.name} has {r / med:.1f}x the stripe "
                        f"edges its bit should have: out of order or from another pattern; "
                        "map not decoded"
                    )
                    bad_set = True
        bits = d > 0
        n_amb = np.sum(np.abs(d) < thr[None], axis=0)
        s = gray_to_binary(bits)
        centre = (s + 0.5) * stripe
        k = np.arange(steps, dtype=np.float32)[:, None, None] * (2 * np.pi / steps)
        ph = np.stack([img(f.name) for f in phase])
        cs = np.sum(ph * np.cos(k), axis=0)
        sn = np.sum(ph * np.sin(k), axis=0)
        phi = np.arctan2(sn, cs)
        modulation = 2.0 * np.hypot(cs, sn) / steps
        u_ph = np.mod(phi / (2 * np.pi) * period, period)
        u = u_ph + period * np.round((centre - u_ph) / period)
        r_axis = np.zeros((h, w), np.uint8)
        r_axis[modulation < settings.min_modulation * 0.5 * np.maximum(contrast, 1e-6)] = 4
        r_axis[n_amb >= 2] = 5
        r_axis[np.abs(u - centre) > 0.75 * stripe] = 6
        lim = viewport[2] if axis == "x" else viewport[3]
        r_axis[(u < 0) | (u > lim)] = 7
        origin = viewport[0] if axis == "x" else viewport[1]
        axes_out[axis] = (origin + u, r_axis == 0, r_axis)
        disagree = np.sum((r_axis == 6) & inner) / max(int(inner.sum()), 1)
        if disagree > 0.05 and not bad_set:
            problems.append(
                f"{CHANNELS[channel]}: the {axis} Gray code and phase disagree in "
                f"{100 * disagree:.0f} % of the field: a frame out of order or the camera "
                "moved; map not decoded"
            )
            bad_set = True
    if bad_set or len(axes_out) < 2:
        reason[reason == 0] = 8
        return DenseMap(channel, panel, reason, problems, prefix, contrast)
    ok = reason == 0
    for axis, j in (("x", 0), ("y", 1)):
        pos_a, _, r_a = axes_out[axis]
        upd = ok & (r_a != 0)
        reason[upd] = r_a[upd]
        ok &= r_a == 0
        panel[..., j] = pos_a
    panel[~ok] = np.nan
    return DenseMap(channel, panel, reason, problems, prefix, contrast)


def structured_sets(pattern: PatternSet) -> dict[str, list[PatternFrame]]:
    """Structured-light frames of a pattern set, grouped by their ``sl_<colour>`` prefix."""
    out: dict[str, list[PatternFrame]] = {}
    for f in pattern.frames:
        if f.kind in STRUCTURED_KINDS:
            out.setdefault("_".join(f.name.split("_")[:2]), []).append(f)
    return out


def decode_images(
    images: Mapping[str, NDArray[np.uint8] | None],
    pattern: PatternSet,
    settings: DecodeSettings = DecodeSettings(),
    progress: bool = False,
) -> list[DenseMap]:
    """Decode every structured-light set of a pattern from RGB camera images.

    Args:
        images: Frame name -> (H, W, 3) RGB capture, None (or absent) when missing.
        pattern: The pattern set shown.
        settings: Thresholds.
        progress: Progress bar on stderr (on a terminal).

    Returns:
        One map per decoded channel (a ``white`` set gives red, green and blue).
    """
    from vrkit.core.progress import progress_bar

    sets = structured_sets(pattern)
    jobs = [(p, c) for p, fr in sets.items() for c in fr[0].channels()]
    maps = []
    for prefix, c in progress_bar(jobs, desc="decoding", unit="map", enabled=progress):
        frames = sets[prefix]
        chan = {
            f.name: (None if images.get(f.name) is None else np.asarray(images[f.name])[..., c])
            for f in frames
        }
        maps.append(decode_channel(chan, frames, pattern.panel.viewport_px, c, settings))
    return maps


def decode_captures(
    captures_dir: str | Path,
    pattern: PatternSet,
    image_size: tuple[int, int] | None = None,
    settings: DecodeSettings = DecodeSettings(),
    progress: bool = False,
) -> list[DenseMap]:
    """Read a capture folder's structured-light captures and decode them.

    Raises:
        DataError: The pattern has no structured-light frames, or a capture's size differs
            from ``image_size`` (width, height).
    """
    from vrkit.calibration.capture import capture_files, read_rgb
    from vrkit.core.progress import progress_bar

    sets = structured_sets(pattern)
    if not sets:
        raise DataError(
            "the pattern has no Gray-code frames",
            "make one with `vrkit calibrate pattern --kinds graycode`",
        )
    files = capture_files(captures_dir, pattern)
    images: dict[str, NDArray[np.uint8] | None] = {}
    names = [f.name for fr in sets.values() for f in fr]
    for name in progress_bar(names, desc="reading", unit="capture", enabled=progress):
        p = files.get(name)
        if p is None:
            images[name] = None
            continue
        im = read_rgb(p)
        if image_size is not None and (im.shape[1], im.shape[0]) != tuple(image_size):
            raise DataError(
                f"capture {p.name!r} is {im.shape[1]}x{im.shape[0]} but the camera file says "
                f"{image_size[0]}x{image_size[1]}",
                "use the camera file of this camera at this resolution",
            )
        images[name] = im
    return decode_images(images, pattern, settings, progress)


def dense_observations(maps: list[DenseMap], step: int = 8) -> Any:
    """Fit observations from dense maps, subsampled on a ``step``-pixel camera grid.

    Returns:
        :class:`vrkit.calibration.fit.Observations` (source ``"dense:<frame set>"``).

    Raises:
        DataError: No map has valid pixels.
    """
    from vrkit.calibration.fit import Observations

    cam, pan, ch, src = [], [], [], []
    for m in maps:
        c, p = m.samples(step)
        cam.append(c)
        pan.append(p)
        ch.append(np.full(len(c), m.channel, np.int64))
        src.append(np.full(len(c), f"dense:{m.frame_set}"))
    if not maps or sum(len(c) for c in cam) == 0:
        raise DataError(
            "no valid decoded pixels in the structured-light captures",
            "see the decode problems in the report",
        )
    return Observations(
        np.concatenate(cam), np.concatenate(pan), np.concatenate(ch), np.concatenate(src)
    )
