"""Errors that vrkit raises on purpose.

Every error carries the offending value and, where there is one, what to do about it. The CLI
prints ``str(error)`` as one line and exits non-zero; a traceback is only shown with ``--debug``.
"""

from __future__ import annotations

#: Longest error line the CLI prints; a longer one is cut in the middle (a value from a file
#: can be megabytes long and must not be echoed whole).
MAX_LINE_CHARS = 2000


def one_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text`` on one line (line breaks as spaces), cut in the middle to at most ``limit``."""
    text = " ".join(text.splitlines())
    if len(text) <= limit:
        return text
    cut = f" ...({len(text) - limit + 40} characters cut)... "
    keep = (limit - len(cut)) // 2
    return text[:keep] + cut + text[len(text) - keep :]


class VrkitError(Exception):
    """Base of all deliberate vrkit errors.

    Args:
        message: What went wrong, naming the offending value.
        hint: What the user can do about it, or None.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class InputError(VrkitError, ValueError):
    """Bad input from the user: a file, an argument, a value out of range."""


class ProfileError(InputError):
    """A headset profile (or another calibration file) is malformed or out of range."""


class DataError(InputError):
    """Recorded data (images, sensor logs, captures) cannot support the requested result."""


class BackendUnavailableError(VrkitError):
    """A backend cannot be opened here (no display, no runtime, no EGL)."""


class SessionLostError(VrkitError):
    """A running backend lost its session, display or runtime."""


class GLError(VrkitError):
    """OpenGL reported an error, or a GL object was used after release."""


class ShaderError(GLError):
    """A shader failed to compile or link; the message names the file and line."""
