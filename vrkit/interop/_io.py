"""Writing and reading the files the interop formats exchange.

Every output is written to a temporary file in the target's folder, flushed, synced and then
renamed over the final name, so a failed export never leaves a half-written file under that
name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from vrkit.core.errors import InputError


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Args:
        path: The final file name; its folder must exist.
        data: Bytes, or text (written as UTF-8).

    Returns:
        The path written.

    Raises:
        InputError: The folder does not exist or cannot be written (nothing is left behind).
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"cannot write {str(p)!r}: folder {str(folder)!r} does not exist",
            hint="create the folder first or choose another --out",
        )
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, p)
        tmp_name = None
    except OSError as exc:
        raise InputError(f"cannot write {str(p)!r}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON (indented, newline-terminated) atomically; see :func:`write_atomic`."""
    return write_atomic(path, json.dumps(data, indent=2) + "\n")


def read_bytes(path: str | Path, what: str) -> bytes:
    """Read a whole file, with an error naming it and what it was meant to be.

    Raises:
        InputError: Missing or unreadable.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {str(p)!r} does not exist")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"{what} {str(p)!r} cannot be read: {exc.strerror or exc}") from None
