"""Locate the data folders that ship with vrkit (``shaders/``, ``calibration/``).

In a wheel they live inside the package as ``vrkit/_shaders`` and ``vrkit/_calibration``; in a
source checkout (editable install) they are the top-level folders beside ``vrkit/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder of a shipped data set.

    Args:
        name: ``"shaders"`` or ``"calibration"``.

    Returns:
        The existing folder.

    Raises:
        FileNotFoundError: Neither the installed nor the source-tree copy exists.
    """
    for candidate in (_PACKAGE_DIR / f"_{name}", _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"vrkit data folder {name!r} not found beside {_PACKAGE_DIR}; reinstall vrkit"
    )
