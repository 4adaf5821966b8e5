"""Finding the OpenXR runtime: the manifest the loader would use, and why none can be loaded.

No pyopenxr here: ``vrkit doctor``, the backend registry's cheap availability check and the
missing-runtime message work where pyopenxr (or a runtime) is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path

NO_RUNTIME = "no OpenXR runtime found; install Monado or SteamVR, or set XR_RUNTIME_JSON"
_MANIFEST_NAMES = ("active_runtime.x86_64.json", "active_runtime.json")


def manifest_candidates() -> list[Path]:
    """Every path the Linux OpenXR loader looks at for the active runtime, in its order.

    ``XR_RUNTIME_JSON`` first (when set); then ``openxr/1/active_runtime[.x86_64].json`` in
    ``$XDG_CONFIG_HOME`` (default ``~/.config``), each of ``$XDG_CONFIG_DIRS`` (default
    ``/etc/xdg``), ``/usr/local/etc`` and ``/etc``. The paths need not exist.
    """
    paths = []
    env = os.environ.get("XR_RUNTIME_JSON")
    if env:
        paths.append(Path(env))
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs = [home, *(os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")]
    dirs += ["/usr/local/etc", "/etc"]
    for d in dirs:
        paths += [Path(d) / "openxr" / "1" / name for name in _MANIFEST_NAMES]
    return paths


def runtime_manifest() -> Path | None:
    """The runtime manifest the OpenXR loader would use on Linux, or None.

    ``XR_RUNTIME_JSON`` wins (None when it names a missing file: the loader does not fall back);
    otherwise the first existing file of :func:`manifest_candidates`.
    """
    env = os.environ.get("XR_RUNTIME_JSON")
    if env:
        return Path(env) if Path(env).is_file() else None
    return next((p for p in manifest_candidates() if p.is_file()), None)


def no_runtime_reason() -> str | None:
    """Why no runtime can be loaded (the one clear message), or None when a manifest exists."""
    if runtime_manifest() is not None:
        return None
    env = os.environ.get("XR_RUNTIME_JSON")
    if env:
        return f"{NO_RUNTIME} (XR_RUNTIME_JSON={env} does not exist)"
    return NO_RUNTIME
