"""The profile formats vrkit imports and exports, and how a source is recognised.

``import_profile(src)`` turns a file or URL into headset-profile data (validated by the optics
loader before it is returned); ``export_profile(profile, fmt)`` gives the bytes or text of
another tool's form. Each format lives in its own module of :mod:`vrkit.interop`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrkit.core.documents import read_document
from vrkit.core.errors import DataError, InputError, ProfileError
from vrkit.core.jsonfile import read_json
from vrkit.interop import cardboard, lighthouse, monado, northstar, openhmd, osvr
from vrkit.interop._io import read_bytes
from vrkit.optics.profile import HeadsetProfile, profile_from_dict

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}

#: name -> (imports?, exports?, one line)
FORMATS: dict[str, tuple[bool, bool, str]] = {
    "cardboard": (
        True,
        True,
        "Google Cardboard viewer profile: URL, QR image (PNG/SVG, photos in), raw DeviceParams",
    ),
    "northstar": (True, True, "Project North Star v2 calibration (NorthStarCalibration.json)"),
    "monado": (False, True, "Monado north_star driver config (NS_CONFIG_PATH)"),
    "lighthouse": (True, False, "Valve lighthouse headset config (Vive, Vive Pro, Index)"),
    "osvr": (True, False, "OSVR HMD display descriptor"),
    "openhmd": (True, True, "OpenHMD device properties (universal distortion)"),
}


@dataclass
class ImportOptions:
    """What a source file may lack.

    Attributes:
        name: Profile name (default: from the source).
        panel: ``{"resolution_px", "size_m", "refresh_hz"}`` to use instead of the format's
            assumption (Cardboard: the phone; North Star: the Gen 2 display).
        refresh_hz: Refresh rate for formats without one.
    """

    name: str | None = None
    panel: dict[str, Any] | None = None
    refresh_hz: float | None = None


@dataclass
class ImportResult:
    """A profile read from another tool's file.

    Attributes:
        data: Headset-profile JSON data (validated).
        profile: The loaded profile.
        fmt: The format it was read as.
        notes: What was assumed or dropped, one line each.
    """

    data: dict[str, Any]
    profile: HeadsetProfile
    fmt: str
    notes: list[str] = field(default_factory=list)


def _looks_like_url(text: str) -> bool:
    t = text.strip().lower()
    return t.startswith(("http://", "https://")) or (
        "/" in t and "." in t.split("/")[0] and " " not in t and "\n" not in t
    )


def sniff_json(path: str | Path) -> Any:
    """A file's JSON for choosing its format by its keys, or None when it is not JSON.

    Only to choose: the file is then read with :func:`vrkit.core.documents.read_document` under
    the chosen format's schema.

    Raises:
        DataError: The file starts like JSON but is not valid JSON (line and column).
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(64).lstrip()
    except OSError:
        return None
    if not head.startswith((b"{", b"[")):
        return None
    return read_json(p, "JSON file", DataError)


def detect_format(src: str) -> str:
    """The import format of a file or URL, when only one fits.

    Raises:
        InputError: Nothing or more than one format fits (the message says which and how to
            choose), or a file does not exist.
    """
    path = Path(src)
    if not path.exists():
        if _looks_like_url(src):
            return "cardboard"
        raise InputError(f"{src!r} is neither an existing file nor a URL")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "cardboard"
    raw = read_bytes(path, "import source")
    data = sniff_json(path)
    if data is not None:
        fits = [
            name
            for name, test in (
                ("northstar", northstar.is_northstar),
                ("lighthouse", lighthouse.is_lighthouse),
                ("osvr", osvr.is_osvr),
                ("openhmd", openhmd.is_openhmd),
            )
            if test(data)
        ]
        if len(fits) == 1:
            return fits[0]
        if not fits:
            if isinstance(data, dict) and "schema_version" in data and "lenses" in data:
                raise InputError(f"{src!r} is already a vrkit headset profile")
            raise InputError(
                f"JSON file {src!r} is not a format vrkit imports (North Star, lighthouse, "
                "OSVR, OpenHMD)",
                hint="pass --format if it is one of them",
            )
        raise InputError(f"{src!r} fits several formats ({', '.join(fits)})", hint="pass --format")
    text = raw[:4096].decode("utf-8", "replace").strip()
    if text and _looks_like_url(text.splitlines()[0]):
        return "cardboard"
    return "cardboard"  # binary: raw DeviceParams (or the Android SDK's stored params)


def _cardboard_params(src: str) -> tuple[cardboard.DeviceParams, str]:
    path = Path(src)
    if not path.exists():
        return cardboard.params_from_url(src), src.strip()
    if path.suffix.lower() in IMAGE_SUFFIXES:
        url = cardboard.read_qr_text(path)
        return cardboard.params_from_url(url), f"the QR code in {path.name} ({url})"
    raw = read_bytes(path, "Cardboard viewer profile")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = ""
    if text and _looks_like_url(text.splitlines()[0]):
        return cardboard.params_from_url(text.splitlines()[0]), path.name
    return cardboard.params_from_bytes(raw), path.name


def _json_file(src: str, fmt: str) -> Any:
    """Read an import source of a JSON format: strict JSON, checked against its schema."""
    if fmt == "northstar":
        return read_document(src, "north-star", DataError)
    if fmt == "lighthouse":
        return read_document(src, "lighthouse", DataError)
    if fmt == "osvr":
        return read_document(src, "osvr-display", DataError)
    return read_document(src, "openhmd", DataError)


def import_profile(
    src: str, fmt: str | None = None, options: ImportOptions | None = None
) -> ImportResult:
    """Read another tool's file (or a Cardboard URL) as a validated headset profile.

    Args:
        src: A file path, or a viewer URL.
        fmt: The format, or None to detect it (:func:`detect_format`).
        options: Overrides for what the file lacks.

    Raises:
        InputError: Unknown or undetectable format, unreadable or malformed source (the message
            names what is wrong); DataError / ProfileError from the readers.
    """
    opts = options or ImportOptions()
    if fmt is None:
        fmt = detect_format(src)
    if fmt not in FORMATS or not FORMATS[fmt][0]:
        readable = [n for n, (imp, _, _) in FORMATS.items() if imp]
        raise InputError(f"cannot import format {fmt!r}; importable: {', '.join(readable)}")
    name = Path(src).name if Path(src).exists() else src
    kwargs: dict[str, Any] = {"name": opts.name}
    if fmt == "cardboard":
        params, where = _cardboard_params(src)
        panel = opts.panel
        data, notes = cardboard.profile_from_params(
            params, panel=panel, name=opts.name, source=where
        )
    else:
        doc = _json_file(src, fmt)
        if opts.refresh_hz:
            kwargs["refresh_hz"] = opts.refresh_hz
        if fmt == "northstar":
            data, notes = northstar.profile_from_northstar(
                doc, panel=opts.panel, source=name, **kwargs
            )
        elif fmt == "lighthouse":
            data, notes, _ = lighthouse.profile_from_lighthouse(doc, source=name, **kwargs)
        elif fmt == "osvr":
            data, notes = osvr.profile_from_osvr(doc, source=name, **kwargs)
        else:
            data, notes = openhmd.profile_from_openhmd(doc, source=name, **kwargs)
    try:
        profile = profile_from_dict(data)
    except ProfileError as exc:
        raise ProfileError(f"the {fmt} file gives a profile vrkit cannot use: {exc}") from None
    return ImportResult(data=data, profile=profile, fmt=fmt, notes=notes)


@dataclass
class ExportOptions:
    """Choices for an export.

    Attributes:
        max_error_arcmin: Largest error accepted when the format must approximate the lens.
        k_terms: Cardboard K coefficients to fit when the lens is not radial.
        vendor: Cardboard vendor (default: the profile's ``device.vendor``).
        model: Cardboard model (default: ``device.model`` or the profile's name).
        button: Cardboard primary button.
    """

    max_error_arcmin: float = 1.0
    k_terms: int = 2
    vendor: str | None = None
    model: str | None = None
    button: str | None = None


@dataclass
class ExportResult:
    """Another tool's form of a profile.

    Attributes:
        payload: Bytes to write (or None when ``text`` is the whole result).
        text: Text to print or write (URL, JSON).
        notes: What was fitted or dropped.
    """

    payload: bytes | None
    text: str | None
    notes: list[str]


def export_profile(
    profile: HeadsetProfile,
    fmt: str,
    out: str | Path | None = None,
    options: ExportOptions | None = None,
) -> ExportResult:
    """Convert a profile into another tool's form (nothing is written here).

    For ``cardboard`` the output file's suffix picks the form: ``.png`` / ``.svg`` a QR code,
    ``.bin`` / ``.pb`` the raw message, ``.txt`` / ``.url`` or none the URL.

    Raises:
        InputError: Unknown format or output suffix; DataError when the lens cannot be
            represented within ``max_error_arcmin``.
    """
    opts = options or ExportOptions()
    if fmt not in FORMATS or not FORMATS[fmt][1]:
        writable = [n for n, (_, exp, _) in FORMATS.items() if exp]
        raise InputError(f"cannot export format {fmt!r}; exportable: {', '.join(writable)}, mesh")
    if fmt == "cardboard":
        params, notes = cardboard.params_from_profile(
            profile,
            n_terms=opts.k_terms,
            max_error_arcmin=opts.max_error_arcmin,
            vendor=opts.vendor,
            model=opts.model,
            primary_button=opts.button,
        )
        url = cardboard.url_from_params(params)
        suffix = Path(out).suffix.lower() if out is not None else ""
        if suffix in ("", ".txt", ".url"):
            return ExportResult(None, url + "\n", notes)
        if suffix in (".bin", ".pb"):
            return ExportResult(cardboard.encode_device_params(params), None, notes)
        if suffix in (".png", ".svg"):
            return ExportResult(
                cardboard.qr_bytes(url, suffix[1:]), None, [*notes, f"the QR code holds {url}"]
            )
        raise InputError(
            f"Cardboard export to {str(out)!r}: use .png or .svg (QR code), .bin (DeviceParams "
            "bytes) or .txt (URL)"
        )
    if fmt == "northstar":
        data, notes = northstar.northstar_from_profile(profile, opts.max_error_arcmin)
    elif fmt == "monado":
        data, notes = monado.monado_from_profile(profile, opts.max_error_arcmin)
    else:
        data, notes = openhmd.openhmd_from_profile(profile, opts.max_error_arcmin)
    return ExportResult(None, json.dumps(data, indent=2) + "\n", notes)
