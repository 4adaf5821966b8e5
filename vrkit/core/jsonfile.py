"""Reading JSON files that users hand to vrkit, with errors that name the file and the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vrkit.core.errors import InputError, VrkitError


def read_json(
    path: str | Path, what: str, error: type[VrkitError] = InputError, hint: str | None = None
) -> Any:
    """Parse a JSON file.

    Args:
        path: The file.
        what: What the file is, for messages ("rig file", "camera file", ...).
        error: The error class to raise (e.g. ProfileError for calibration files).
        hint: What to do when the file is missing, or None.

    Returns:
        The parsed document.

    Raises:
        VrkitError: ``error`` when the file does not exist, cannot be read, or is not valid
            JSON (naming the line and column).
    """
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} {str(p)!r} does not exist", hint)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise error(
            f"{what} {str(p)!r} is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {str(p)!r} cannot be read: {exc}") from None
