"""Google Cardboard viewer profiles: ``DeviceParams`` as bytes, viewer URL and QR code.

A Cardboard viewer is described by the ``DeviceParams`` protocol-buffer message of the
Cardboard SDK (googlevr/cardboard ``proto/cardboard_device.proto``, proto2):

====  ===========================  =========================================  ===============
 no.  field                        meaning                                    wire type
====  ===========================  =========================================  ===============
   1  vendor                       string                                     2 (bytes)
   2  model                        string                                     2
   3  screen_to_lens_distance      metres (float)                             5 (fixed32)
   4  inter_lens_distance          metres (float)                             5
   5  left_eye_field_of_view_angles  left, right, bottom, top, degrees        2 (packed)
   6  tray_to_lens_distance        metres (float)                             5
   7  distortion_coefficients      K1, K2, ... (panel tan -> eye tan)         2 (packed)
  11  vertical_alignment           BOTTOM 0, CENTER 1, TOP 2                  0 (varint)
  12  primary_button               NONE 0, MAGNET 1, TOUCH 2, INDIRECT_TOUCH 3  0
====  ===========================  =========================================  ===============

A QR code or NFC tag carries ``https://google.com/cardboard/cfg?p=`` followed by the message in
URL-safe base64 without padding; ``https://g.co/cardboard`` means the original Cardboard v1
(whose parameters the SDK builds in). The message is small and fixed, so vrkit reads and writes
the protobuf wire format itself (varints, 32-bit floats, length-delimited strings and packed
floats) instead of depending on ``protobuf`` and generated code. Unknown fields are skipped as a
protobuf parser would; anything malformed is refused with the byte offset.

The phone's screen is not part of a viewer profile: an import needs a panel (by default the
5.0" 1920x1080 phone of the shipped Cardboard profiles).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.core.errors import DataError, InputError
from vrkit.interop._common import ARCMIN, lateral_colour_arcmin, ray_angle, slug, viewport_samples
from vrkit.interop._io import read_bytes, write_atomic
from vrkit.optics.models import RadialPolynomialLens
from vrkit.optics.profile import HeadsetProfile, MirroredLens, load_profile

#: Prefix of a viewer URL (the SDK accepts exactly this host and path).
URL_PREFIX = "https://google.com/cardboard/cfg?p="
#: The original Cardboard's QR code (the SDK answers it with its built-in v1 parameters).
ORIGINAL_URL = "https://g.co/cardboard"
#: Header of the Android SDK's stored ``current_device_params`` file (big-endian).
STREAM_SENTINEL = 0x35587A2B
#: Hosts of URL shorteners that viewer makers have printed on QR codes.
SHORTENER_HOSTS = {
    "goo.gl",
    "g.co",
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
}

ALIGNMENTS = ("bottom", "center", "top")
BUTTONS = ("none", "magnet", "touch", "indirect_touch")

# field number -> (name, expected wire type, kind)
_FIELDS: dict[int, tuple[str, int, str]] = {
    1: ("vendor", 2, "string"),
    2: ("model", 2, "string"),
    3: ("screen_to_lens_distance", 5, "float"),
    4: ("inter_lens_distance", 5, "float"),
    5: ("left_eye_field_of_view_angles", 2, "floats"),
    6: ("tray_to_lens_distance", 5, "float"),
    7: ("distortion_coefficients", 2, "floats"),
    11: ("vertical_alignment", 0, "enum"),
    12: ("primary_button", 0, "enum"),
}
_WIRE_NAMES = {0: "varint", 1: "64-bit", 2: "length-delimited", 3: "group start", 5: "32-bit"}


@dataclass(frozen=True)
class DeviceParams:
    """The fields of a Cardboard ``DeviceParams`` message; None where the message lacks them.

    Floats keep the value of the 32-bit float they were read from, written with the fewest
    decimal digits that give back the same float (``0.042``, not ``0.041999999433755875``).

    Attributes:
        vendor: Viewer maker.
        model: Viewer model.
        screen_to_lens_distance: Metres.
        inter_lens_distance: Metres.
        left_eye_field_of_view_angles: ``(left, right, bottom, top)`` degrees of the left eye.
        tray_to_lens_distance: Metres.
        distortion_coefficients: ``(K1, K2, ...)``.
        vertical_alignment: ``"bottom"``, ``"center"`` or ``"top"`` (message default bottom).
        primary_button: ``"none"``, ``"magnet"``, ``"touch"``, ``"indirect_touch"`` (default
            magnet).
        unknown_fields: Field numbers present in the message that this version does not know.
    """

    vendor: str | None = None
    model: str | None = None
    screen_to_lens_distance: float | None = None
    inter_lens_distance: float | None = None
    left_eye_field_of_view_angles: tuple[float, ...] | None = None
    tray_to_lens_distance: float | None = None
    distortion_coefficients: tuple[float, ...] | None = None
    vertical_alignment: str | None = None
    primary_button: str | None = None
    unknown_fields: tuple[int, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The present fields as JSON data, named as in the proto."""
        out: dict[str, Any] = {}
        for name, _, _ in _FIELDS.values():
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


def _f32(value: float) -> float:
    """The shortest decimal that names the same 32-bit float as ``value``."""
    return float(str(np.float32(value)))


# --------------------------------------------------------------------------------------------
# wire format


def _read_varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise DataError(
                f"Cardboard DeviceParams is truncated: {what} at byte {pos} runs past the end "
                f"({len(data)} bytes)"
            )
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise DataError(f"Cardboard DeviceParams is garbled: {what} at byte {pos} is over 10 bytes")


def decode_device_params(data: bytes) -> DeviceParams:
    """Parse a serialized ``DeviceParams`` message.

    Args:
        data: The message bytes (no length prefix).

    Returns:
        The fields found.

    Raises:
        DataError: Truncated or garbled bytes, or a field of the wrong type; the message names
            the field and the byte offset.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise InputError(f"DeviceParams must be bytes, got {type(data).__name__}")
    data = bytes(data)
    values: dict[str, Any] = {}
    floats: dict[str, list[float]] = {}
    unknown: list[int] = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _read_varint(data, pos, "a field key")
        number, wire = key >> 3, key & 7
        if number == 0 or wire in (3, 4, 6, 7):
            raise DataError(
                f"Cardboard DeviceParams is garbled: byte {start} holds no valid field key "
                f"(field {number}, wire type {wire}); not a DeviceParams message?"
            )
        spec = _FIELDS.get(number)
        # Read the payload by wire type (needed to skip unknown fields too).
        if wire == 0:
            payload, pos = _read_varint(data, pos, f"field {number}")
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise DataError(
                    f"Cardboard DeviceParams is truncated: field {number}"
                    f"{f' ({spec[0]})' if spec else ''} needs {size} bytes at byte {pos}, "
                    f"{len(data) - pos} left"
                )
            payload = data[pos : pos + size]
            pos += size
        else:  # wire == 2
            length, pos = _read_varint(data, pos, f"the length of field {number}")
            if pos + length > len(data):
                raise DataError(
                    f"Cardboard DeviceParams is truncated: field {number}"
                    f"{f' ({spec[0]})' if spec else ''} declares {length} bytes at byte {pos}, "
                    f"{len(data) - pos} left"
                )
            payload = data[pos : pos + length]
            pos += length
        if spec is None:
            unknown.append(number)
            continue
        name, want, kind = spec
        if kind == "floats" and wire == 5:
            floats.setdefault(name, []).append(struct.unpack("<f", payload)[0])
            continue
        if wire != want:
            raise DataError(
                f"Cardboard DeviceParams field {number} ({name}) has wire type {wire} "
                f"({_WIRE_NAMES.get(wire, '?')}), expected {want} ({_WIRE_NAMES[want]}); "
                "garbled message?"
            )
        if kind == "string":
            try:
                values[name] = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(
                    f"Cardboard DeviceParams field {number} ({name}) is not UTF-8 text: "
                    f"{payload[:20]!r}"
                ) from None
        elif kind == "float":
            values[name] = _f32(struct.unpack("<f", payload)[0])
        elif kind == "floats":
            if len(payload) % 4:
                raise DataError(
                    f"Cardboard DeviceParams field {number} ({name}) holds {len(payload)} bytes,"
                    " not a whole number of 32-bit floats; garbled message?"
                )
            floats.setdefault(name, []).extend(struct.unpack(f"<{len(payload) // 4}f", payload))
        else:  # enum
            names = ALIGNMENTS if name == "vertical_alignment" else BUTTONS
            if payload >= len(names):
                raise DataError(
                    f"Cardboard DeviceParams field {number} ({name}) = {payload} is not one of "
                    + ", ".join(f"{n.upper()} {i}" for i, n in enumerate(names))
                )
            values[name] = names[payload]
    for name, seq in floats.items():
        values[name] = tuple(_f32(v) for v in seq)
    bad = [
        (n, v)
        for n, v in values.items()
        if (isinstance(v, float) and not math.isfinite(v))
        or (isinstance(v, tuple) and not all(math.isfinite(x) for x in v))
    ]
    if bad:
        raise DataError(f"Cardboard DeviceParams field {bad[0][0]} is not finite: {bad[0][1]}")
    return DeviceParams(**values, unknown_fields=tuple(unknown))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_device_params(params: DeviceParams) -> bytes:
    """Serialize ``params`` in field-number order, as protobuf does (floats as float32).

    Raises:
        InputError: A value cannot be encoded (non-finite float, unknown enum name).
    """
    out = bytearray()
    for number, (name, wire, kind) in sorted(_FIELDS.items()):
        value = getattr(params, name)
        if value is None:
            continue
        out += _varint(number << 3 | wire)
        if kind == "string":
            raw = value.encode("utf-8")
            out += _varint(len(raw)) + raw
        elif kind == "float":
            if not math.isfinite(value):
                raise InputError(f"DeviceParams.{name} must be finite, got {value}")
            out += struct.pack("<f", value)
        elif kind == "floats":
            if not all(math.isfinite(v) for v in value):
                raise InputError(f"DeviceParams.{name} must be finite, got {list(value)}")
            raw = struct.pack(f"<{len(value)}f", *value)
            out += _varint(len(raw)) + raw
        else:
            names = ALIGNMENTS if name == "vertical_alignment" else BUTTONS
            if value not in names:
                raise InputError(f"DeviceParams.{name} must be one of {list(names)}, got {value!r}")
            out += _varint(names.index(value))
    return bytes(out)


# The original Cardboard (2014) as the SDK builds it in for https://g.co/cardboard.
CARDBOARD_V1 = DeviceParams(
    vendor="Google, Inc.",
    model="Cardboard v1",
    screen_to_lens_distance=0.042,
    inter_lens_distance=0.06,
    left_eye_field_of_view_angles=(40.0, 40.0, 40.0, 40.0),
    tray_to_lens_distance=0.035,
    distortion_coefficients=(0.441, 0.156),
    vertical_alignment="bottom",
    primary_button="magnet",
)


# --------------------------------------------------------------------------------------------
# URL and files


def url_from_params(params: DeviceParams) -> str:
    """The viewer URL a QR code carries: :data:`URL_PREFIX` + base64url without padding."""
    raw = encode_device_params(params)
    return URL_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def params_from_url(url: str) -> DeviceParams:
    """Decode a viewer URL.

    Accepts ``https://google.com/cardboard/cfg?p=...`` (also ``http://``, ``www.`` or no
    scheme) and the original ``https://g.co/cardboard``.

    Raises:
        InputError: A short link (cannot be followed offline), another site, or no ``p``.
        DataError: The parameter is not base64url or not a DeviceParams message.
    """
    text = url.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        text = "https://" + text
    parts = urllib.parse.urlsplit(text)
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/")
    if host in ("g.co", "www.g.co") and path.lower() == "/cardboard":
        return CARDBOARD_V1
    if host in SHORTENER_HOSTS or (host.startswith("www.") and host[4:] in SHORTENER_HOSTS):
        raise InputError(
            f"{url.strip()!r} is a short link; vrkit works offline and cannot follow it",
            hint=f"open it in a browser and pass the long URL it leads to ({URL_PREFIX}...)",
        )
    if host not in ("google.com", "www.google.com") or path != "/cardboard/cfg":
        raise InputError(
            f"{url.strip()!r} is not a Cardboard viewer URL (host {host or 'none'!r}, path "
            f"{parts.path or '/'!r})",
            hint=f"a viewer QR code holds {URL_PREFIX}<parameters>",
        )
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if not query.get("p") or not query["p"][0]:
        raise InputError(f"viewer URL {url.strip()!r} has no p=<parameters>")
    p = query["p"][0].strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", p):
        bad = next(ch for ch in p if not re.match(r"[A-Za-z0-9_=-]", ch))
        raise DataError(
            f"the viewer URL's parameters are not base64url: character {bad!r} (from {p[:24]!r}...)"
        )
    try:
        raw = base64.urlsafe_b64decode(p.rstrip("=") + "=" * (-len(p.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DataError(f"the viewer URL's parameters are not base64url: {exc}") from None
    return decode_device_params(raw)


def params_from_bytes(data: bytes) -> DeviceParams:
    """Decode raw message bytes, or the Android SDK's stored params (sentinel + length + message).

    Raises:
        DataError: Not a DeviceParams message.
    """
    if len(data) >= 8 and struct.unpack(">I", data[:4])[0] == STREAM_SENTINEL:
        length = struct.unpack(">I", data[4:8])[0]
        if 8 + length > len(data):
            raise DataError(
                f"Cardboard stored params declare {length} bytes, file has {len(data) - 8}"
            )
        data = data[8 : 8 + length]
    return decode_device_params(data)


def read_qr_text(path: str | Path) -> str:
    """The text of the first QR code OpenCV finds in an image (photo or screenshot).

    Tries the image as it is, then scaled, with ``cv2.QRCodeDetector`` and the ArUco-based
    detector.

    Raises:
        InputError: Not an image OpenCV can read.
        DataError: No QR code found.
    """
    import cv2

    raw = read_bytes(path, "QR image")
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"{str(path)!r} is not an image OpenCV can read (PNG, JPEG, ...)")
    detectors = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        detectors.append(cv2.QRCodeDetectorAruco())
    for scale in (1.0, 0.5, 2.0, 0.25):
        im = img if scale == 1.0 else cv2.resize(img, None, fx=scale, fy=scale)
        if min(im.shape) < 21:
            continue
        for det in detectors:
            text, _corners, _ = det.detectAndDecode(im)
            if text:
                return text
    raise DataError(
        f"no QR code found in {str(path)!r} ({img.shape[1]}x{img.shape[0]} px)",
        hint="photograph the code square-on, filling a good part of the frame, in even light",
    )


def qr_bytes(url: str, kind: str = "png", scale: int = 8) -> bytes:
    """``url`` as a QR code image (segno): ``kind`` ``"png"`` or ``"svg"``.

    Error correction level M, a 4-module quiet zone and ``scale`` pixels per module, which
    OpenCV's detector and phone cameras read reliably.

    Raises:
        InputError: Another kind.
    """
    import io

    import segno

    if kind not in ("png", "svg"):
        raise InputError(f"QR code images are png or svg, got {kind!r}")
    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind=kind, scale=scale, border=4)
    return buf.getvalue()


def write_qr(url: str, path: str | Path, scale: int = 8) -> Path:
    """Write ``url`` as a QR code image, PNG or SVG by the file's suffix (atomically).

    Raises:
        InputError: Another suffix, or the file cannot be written.
    """
    p = Path(path)
    kind = p.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise InputError(f"QR code file {str(p)!r} must end in .png or .svg")
    return write_atomic(p, qr_bytes(url, kind, scale))


# --------------------------------------------------------------------------------------------
# profile conversion


def default_phone() -> dict[str, Any]:
    """The panel of the shipped Cardboard profiles (a 5.0" 1920x1080 phone, 110 x 62 mm)."""
    return dict(load_profile("cardboard-v1").to_dict()["panel"])


def profile_from_params(
    params: DeviceParams,
    panel: dict[str, Any] | None = None,
    screen_border_m: float = 0.003,
    name: str | None = None,
    source: str = "",
) -> tuple[dict[str, Any], list[str]]:
    """A headset profile (JSON data) from a viewer profile and a phone panel.

    Args:
        params: The viewer.
        panel: ``{"resolution_px", "size_m", "refresh_hz"}`` of the phone; :func:`default_phone`
            when None.
        screen_border_m: The phone's bezel between the tray and the screen.
        name: Profile name; from the model when None.
        source: Where the parameters came from (URL, file), for the profile's ``source``.

    Returns:
        ``(profile data, notes)``; notes say what was assumed.

    Raises:
        DataError: A field the geometry needs is missing or out of range.
    """
    notes: list[str] = []

    def need(value: Any, field_name: str, number: int) -> Any:
        if value is None:
            raise DataError(
                f"the Cardboard viewer profile has no {field_name} (field {number}); a headset "
                "profile needs it"
            )
        return value

    s2l = need(params.screen_to_lens_distance, "screen_to_lens_distance", 3)
    sep = need(params.inter_lens_distance, "inter_lens_distance", 4)
    fov = need(params.left_eye_field_of_view_angles, "left_eye_field_of_view_angles", 5)
    if len(fov) != 4:
        raise DataError(
            f"left_eye_field_of_view_angles must have 4 values (left, right, bottom, top), "
            f"got {list(fov)}"
        )
    align = params.vertical_alignment or "bottom"
    optics: dict[str, Any] = {
        "lens_separation_m": sep,
        "screen_to_lens_m": s2l,
        "vertical_alignment": align,
        "screen_border_m": screen_border_m,
    }
    if params.tray_to_lens_distance is not None:
        optics["tray_to_lens_m"] = params.tray_to_lens_distance
    elif align != "center":
        need(None, "tray_to_lens_distance", 6)
    k = list(params.distortion_coefficients or ())
    if not k:
        notes.append("no distortion_coefficients: the lens is taken as distortion-free (K = 0)")
        k = [0.0]
    if panel is None:
        panel = default_phone()
        notes.append(
            "phone panel: 1920x1080, 110 x 62 mm, 60 Hz (the shipped Cardboard profiles' phone);"
            " pass --panel for yours"
        )
    model = " ".join(v for v in (params.vendor, params.model) if v) or "Cardboard viewer"
    data: dict[str, Any] = {
        "schema_version": 1,
        "name": name or slug(params.model or model, "cardboard-viewer"),
        "description": f"{model} (Cardboard viewer profile) with a "
        f"{panel['resolution_px'][0]}x{panel['resolution_px'][1]} panel",
        "source": f"Cardboard DeviceParams{f' from {source}' if source else ''}: "
        f"screen_to_lens {s2l} m, inter_lens {sep} m, K = {k}, FOV limits {list(fov)} deg "
        "(left, right, bottom, top)",
        "panel": panel,
        "optics": optics,
        "lenses": {"left": {"kind": "radial", "k": k}},
        "fov_limits_deg": {"outer": fov[0], "inner": fov[1], "down": fov[2], "up": fov[3]},
    }
    if 0.04 <= sep <= 0.09:
        data["ipd_default_m"] = sep
    device = {
        key: value
        for key, value in (
            ("vendor", params.vendor),
            ("model", params.model),
            ("primary_button", params.primary_button),
        )
        if value is not None
    }
    if device:
        data["device"] = device
    if params.unknown_fields:
        notes.append(f"skipped unknown DeviceParams field(s) {list(params.unknown_fields)}")
    return data, notes


def _radial_k(model: Any) -> np.ndarray | None:
    inner = model.inner if isinstance(model, MirroredLens) else model
    return inner.k if isinstance(inner, RadialPolynomialLens) else None


def fit_cardboard_k(
    profile: HeadsetProfile, n_terms: int = 2
) -> tuple[list[float], float, list[str]]:
    """Cardboard ``K1..Kn`` for a profile's lenses, and how far they miss.

    Radial polynomial lenses give their own coefficients (green); other models are fitted by
    least squares over both eyes' viewports (where the model is defined), the right eye as the
    mirror of the left, as Cardboard assumes.

    Returns:
        ``(K, max error arcmin, notes)``: the error is the largest angle between the profile's
        green direction and the Cardboard polynomial's over the sampled viewports.
    """
    notes: list[str] = []
    lens = profile.lens(0)
    k = _radial_k(lens)
    samples = []
    for eye in (0, 1):
        p = viewport_samples(profile, eye)
        q = profile.lens(eye).undistort(p, 1, strict=False)
        ok = np.all(np.isfinite(q), axis=1)
        if eye == 1:  # mirror into the left eye's frame
            p, q = p * [-1, 1], q * [-1, 1]
        samples.append((p[ok], q[ok]))
    if (
        k is None
        or _radial_k(profile.lens(1)) is None
        or not np.allclose(_radial_k(profile.lens(1)), k)
    ):
        p = np.concatenate([s[0] for s in samples])
        q = np.concatenate([s[1] for s in samples])
        r2 = np.sum(p * p, axis=1)
        cols = [p * (r2 ** (i + 1))[:, None] for i in range(n_terms)]
        A = np.stack([c.ravel() for c in cols], axis=1)
        k = np.linalg.lstsq(A, (q - p).ravel(), rcond=None)[0]
        notes.append(
            f"the {lens.kind} lens is not a Cardboard radial polynomial: K1..K{n_terms} fitted by"
            " least squares over both eyes' viewports"
        )
    err = 0.0
    for p, q in samples:
        r2 = np.sum(p * p, axis=1)
        scale = 1 + sum(kk * r2 ** (i + 1) for i, kk in enumerate(k))
        err = max(err, float(np.max(ray_angle(q, p * scale[:, None]))) / ARCMIN)
    return [float(v) for v in k], err, notes


def params_from_profile(
    profile: HeadsetProfile,
    n_terms: int = 2,
    max_error_arcmin: float = 1.0,
    vendor: str | None = None,
    model: str | None = None,
    primary_button: str | None = None,
) -> tuple[DeviceParams, list[str]]:
    """The viewer profile of a headset profile.

    Args:
        profile: The headset.
        n_terms: Number of K coefficients when the lens must be fitted.
        max_error_arcmin: Largest acceptable fit error.
        vendor: Viewer maker; the profile's ``device.vendor`` when None.
        model: Viewer model; the profile's ``device.model`` (else its name) when None.
        primary_button: ``none``, ``magnet``, ``touch`` or ``indirect_touch``; the profile's
            ``device.primary_button`` (else left out: the SDK then assumes a magnet) when None.

    Returns:
        ``(params, notes)``.

    Raises:
        DataError: The lens has no Cardboard form within ``max_error_arcmin`` (the message gives
            the best fit's error), or the geometry cannot be expressed.
    """
    k, err, notes = fit_cardboard_k(profile, n_terms)
    if not err <= max_error_arcmin:
        raise DataError(
            f"profile {profile.name!r}: its {profile.lens(0).kind} lens has no Cardboard K1..K"
            f"{len(k)} within {max_error_arcmin} arcmin (the best fit misses by {err:.2f} "
            "arcmin); Cardboard describes only radially symmetric lenses centred on the lens "
            "axis",
            hint="raise --max-error-arcmin to accept it, or export a format that keeps the lens",
        )
    if err > 1e-6:
        notes.append(f"Cardboard K fit error: {err:.3f} arcmin (max over both viewports)")
    colour = lateral_colour_arcmin(profile)
    if colour > 0.05:
        notes.append(
            "Cardboard has no colour terms: the lens's lateral colour is dropped (red and blue "
            f"differ from green by up to {colour:.1f} arcmin)"
        )
    if profile.canting_deg:
        notes.append(f"Cardboard has no canting: canting_deg {profile.canting_deg:g} is dropped")
    lim = profile.fov_limits_deg
    align = profile.vertical_alignment
    tray = profile.tray_to_lens_m
    if align == "center" and tray is None:
        tray = 0.035  # the proto asks for 0.035 with CENTER (an early SDK bug)
    device = profile.device
    params = DeviceParams(
        vendor=vendor if vendor is not None else device.get("vendor"),
        model=model if model is not None else device.get("model", profile.name),
        screen_to_lens_distance=_f32(profile.screen_to_lens_m),
        inter_lens_distance=_f32(profile.lens_separation_m),
        left_eye_field_of_view_angles=tuple(_f32(lim[s]) for s in ("outer", "inner", "down", "up")),
        tray_to_lens_distance=None if tray is None else _f32(tray),
        distortion_coefficients=tuple(_f32(v) for v in k),
        vertical_alignment=align,
        primary_button=primary_button
        if primary_button is not None
        else device.get("primary_button"),
    )
    notes.append(
        "the phone's screen is not part of a viewer profile: the Cardboard SDK uses the phone's own"
    )
    return replace(params), notes
