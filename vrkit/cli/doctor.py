"""``vrkit doctor``: what is available here, and what to install for what is missing."""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` subcommand."""
    p = sub.add_parser(
        "doctor", help="check EGL, display, OpenXR, cameras, video and serial support"
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=doctor)


def _check_egl() -> tuple[bool, str, str]:
    from vrkit.gl.egl import create_headless_context

    ctx = create_headless_context()
    try:
        info = ctx.info()
    finally:
        ctx.release()
    return True, f"{info['renderer']}, OpenGL {info['version']}", ""


def _check_display() -> tuple[bool, str, str]:
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not display:
        hint = "no DISPLAY: the simulator and display backends need a desktop or Xvfb"
        if shutil.which("Xvfb"):
            hint += " (Xvfb is installed: run `xvfb-run -a vrkit ...`)"
        else:
            hint += " (apt-get install xvfb)"
        return False, "no display", hint
    from vrkit.gl.window import list_monitors

    monitors = list_monitors()
    desc = "; ".join(
        f"{m['index']}: {m['name']} {m['width']}x{m['height']}@{m['refresh_hz']}Hz"
        for m in monitors
    )
    return True, f"DISPLAY={display}, monitors: {desc or 'none'}", ""


def _check_openxr_loader() -> tuple[bool, str, str]:
    if importlib.util.find_spec("xr") is None:
        return False, "pyopenxr not installed", "pip install pyopenxr"
    return True, "pyopenxr importable (bundles the Khronos loader)", ""


def _check_runtime() -> tuple[bool, str, str]:
    from vrkit.backends.openxr.runtime import runtime_manifest

    found = runtime_manifest()
    if os.environ.get("XR_RUNTIME_JSON") and not Path(os.environ["XR_RUNTIME_JSON"]).is_file():
        return (
            False,
            f"XR_RUNTIME_JSON={os.environ['XR_RUNTIME_JSON']} does not exist",
            ("point XR_RUNTIME_JSON at the runtime's manifest JSON"),
        )
    if found is None:
        return False, "no OpenXR runtime found", runtime_advice(_os_release(), _checkout())
    extra = " (monado-service installed)" if shutil.which("monado-service") else ""
    return True, f"runtime manifest {found}{extra}", ""


def _os_release(path: str = "/etc/os-release") -> dict[str, str]:
    """The fields of os-release (``ID``, ``VERSION_ID``, ``ID_LIKE``), empty when unreadable."""
    fields = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return fields


def _checkout() -> Path | None:
    """The source checkout vrkit runs from (editable install), or None for an installed wheel."""
    import vrkit

    root = Path(vrkit.__file__).resolve().parent.parent
    return root if (root / "scripts" / "xr-sim").is_file() and (root / ".git").exists() else None


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def runtime_advice(os_release: dict[str, str], checkout: Path | None) -> str:
    """What to install for an OpenXR runtime, for this distribution and way of installing.

    Args:
        os_release: Fields of ``/etc/os-release`` (``ID``, ``VERSION_ID``, ``ID_LIKE``).
        checkout: The source checkout vrkit runs from, or None (installed from a wheel).

    Returns:
        One line: the distribution's Monado package where it has one (Debian 13, Ubuntu 24.04
        and later), else Monado from source; SteamVR; and for a checkout its xr-sim script.
    """
    distro = os_release.get("ID", "")
    version = _version(os_release.get("VERSION_ID", ""))
    if (distro == "debian" and version >= (13,)) or (distro == "ubuntu" and version >= (24, 4)):
        monado = "`sudo apt install monado-service` (Monado), then run `monado-service`"
    elif distro in ("debian", "ubuntu") or "debian" in os_release.get("ID_LIKE", ""):
        monado = "Monado (packaged from Debian 13 and Ubuntu 24.04 on; else build it from source)"
    else:
        monado = "Monado (your distribution's monado package, or built from source)"
    advice = f"install {monado}, or SteamVR (Steam), or set XR_RUNTIME_JSON to a runtime manifest"
    if checkout is not None:
        advice += (
            f"; in this checkout `{checkout / 'scripts' / 'xr-sim'} CMD` runs CMD against "
            "Monado's simulated headset"
        )
    return advice


def _check_cameras() -> tuple[bool, str, str]:
    devices = sorted(glob.glob("/dev/video*"))
    if importlib.util.find_spec("cv2") is None:
        return False, "OpenCV missing", "pip install opencv-python-headless"
    if not devices:
        return (
            False,
            "no /dev/video* cameras",
            ("plug in a UVC camera; calibration and tracking also read image folders and videos"),
        )
    return True, ", ".join(devices), ""


def _check_video() -> tuple[bool, str, str]:
    from vrkit.vision.video import ffmpeg_version

    return True, f"{ffmpeg_version()} for video reading and MP4 output", ""


def _check_serial() -> tuple[bool, str, str]:
    from serial.tools import list_ports

    ports = [p.device for p in list_ports.comports()]
    if not ports:
        return False, "no serial ports", "connect the latency rig's microcontroller over USB"
    return True, ", ".join(ports), ""


CHECKS: list[tuple[str, Callable[[], tuple[bool, str, str]]]] = [
    ("EGL (headless GL)", _check_egl),
    ("display (GLX/glfw)", _check_display),
    ("OpenXR loader", _check_openxr_loader),
    ("OpenXR runtime", _check_runtime),
    ("cameras", _check_cameras),
    ("video encoding", _check_video),
    ("serial (latency rig)", _check_serial),
]


def run_checks() -> list[dict[str, Any]]:
    """Run every check; a check that raises is reported as missing with its message."""
    results = []
    for name, check in CHECKS:
        try:
            ok, detail, hint = check()
        except Exception as exc:  # a failing probe is a finding, not a crash
            ok, detail, hint = False, f"{type(exc).__name__}: {exc}", ""
        results.append({"check": name, "ok": ok, "detail": detail, "hint": hint})
    return results


def doctor(args: argparse.Namespace) -> int:
    """Print what works here and what to install."""
    results = run_checks()
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    width = max(len(r["check"]) for r in results)
    for r in results:
        mark = "ok     " if r["ok"] else "missing"
        print(f"{mark}  {r['check']:<{width}}  {r['detail']}")
        if r["hint"]:
            print(f"{'':7}  {'':<{width}}  -> {r['hint']}")
    return 0
