"""Reading JSON files that users hand to vrkit, strictly, with errors that name the file and place.

Python's ``json`` accepts more than JSON: ``NaN`` and ``Infinity``, numbers that overflow a float
to infinity, integers of any length, and the same key twice in one object (the last one wins,
silently). vrkit refuses all of them, naming the JSON path of the value, because each one either
reaches the numerics as a number that is not one or hides a typo. A document nested too deeply
for the parser is refused the same way, as one line.

:func:`read_json` parses; :mod:`vrkit.core.documents` adds the schema check of each file format.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from pathlib import Path
from typing import Any

from vrkit.core.errors import InputError, VrkitError

#: Largest magnitude of an integer in a vrkit file (64-bit signed, as nanosecond timestamps).
INT_LIMIT = 2**63
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _ShortRepr(reprlib.Repr):
    """``reprlib`` limits, with JSON's words for booleans and null."""

    def repr_bool(self, x: bool, level: int) -> str:
        return "true" if x else "false"

    def repr_NoneType(self, x: None, level: int) -> str:
        return "null"


_short = _ShortRepr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlong = 40
_short.maxlevel = 2
_short.maxlist = _short.maxtuple = 6
_short.maxdict = 4


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to a bounded length (about 200 characters at most, however large)."""
    if isinstance(value, _Refused):
        return value.token
    return _short.repr(value)


def json_path(parts: Any) -> str:
    """JSONPath text (``$.cameras[0].K``) for a sequence of keys and indices, keys cut short."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _IDENTIFIER.match(p) and len(p) <= 60:
            out += f".{p}"
        else:
            out += f"[{short_repr(p)}]"
    return out


class _Refused:
    """A value the JSON parser met and vrkit refuses: kept in place to find its path later."""

    __slots__ = ("expected", "token")

    def __init__(self, token: str, expected: str) -> None:
        self.token = token if len(token) <= 40 else f"{token[:20]}...({len(token)} characters)"
        self.expected = expected


class _DuplicateKeys(dict):
    """A JSON object that named a key more than once (the key is in ``duplicate``)."""

    duplicate: str = ""


class _Parser:
    """Hooks for :func:`json.loads` that mark refused values instead of letting them through."""

    def __init__(self) -> None:
        self.refused = False

    def constant(self, name: str) -> _Refused:
        self.refused = True
        return _Refused(name, "a finite number (JSON has no NaN or Infinity)")

    def float(self, text: str) -> float | _Refused:
        value = float(text)
        if math.isfinite(value):
            return value
        self.refused = True
        return _Refused(text, "a finite number (this one overflows a 64-bit float)")

    def int(self, text: str) -> int | _Refused:
        digits = len(text) - text.startswith("-")
        if digits <= 18:
            return int(text)
        value = int(text) if digits <= 400 else None
        if value is not None and -INT_LIMIT <= value < INT_LIMIT:
            return value
        self.refused = True
        return _Refused(text, "an integer that fits in 64 bits")

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        marked = _DuplicateKeys(obj)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                marked.duplicate = key
                break
            seen.add(key)
        self.refused = True
        return marked


def _first_refused(doc: Any) -> tuple[list[str | int], str, str] | None:
    """Path, expectation and token of the first refused value in ``doc`` (document order)."""
    stack: list[tuple[Any, list[str | int]]] = [(doc, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Refused):
            return path, node.expected, node.token
        if isinstance(node, _DuplicateKeys):
            return path, "each field once", f"field {short_repr(node.duplicate)} twice"
        if isinstance(node, dict):
            stack.extend((v, [*path, k]) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in reversed(list(enumerate(node))))
    return None


def parse_json(text: str, where: str, error: type[VrkitError] = InputError) -> Any:
    """Parse JSON text strictly (see the module docstring).

    Args:
        text: The JSON text.
        where: What and where the text is, for messages (``"rig file 'rig.json'"``).
        error: The error class to raise.

    Returns:
        The parsed document (dicts, lists, str, int, float, bool, None).

    Raises:
        VrkitError: ``error``, one line naming ``where`` and the line and column (syntax) or the
            JSON path (a refused value) with what was expected.
    """
    hooks = _Parser()
    try:
        doc = json.loads(
            text,
            parse_constant=hooks.constant,
            parse_float=hooks.float,
            parse_int=hooks.int,
            object_pairs_hook=hooks.object,
        )
    except json.JSONDecodeError as exc:
        raise error(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise error(
            f"{where} is nested too deeply to read (vrkit files nest a few levels, this one "
            "hundreds)"
        ) from None
    if hooks.refused:
        found = _first_refused(doc)
        if found is not None:
            path, expected, token = found
            raise error(f"{where}: {json_path(path)}: expected {expected}, got {token}")
    return doc


def read_json(
    path: str | Path, what: str, error: type[VrkitError] = InputError, hint: str | None = None
) -> Any:
    """Parse a JSON file strictly (no NaN/Infinity, no overflowing numbers, no repeated keys).

    Args:
        path: The file.
        what: What the file is, for messages ("rig file", "camera file", ...).
        error: The error class to raise (e.g. ProfileError for calibration files).
        hint: What to do when the file is missing, or None.

    Returns:
        The parsed document.

    Raises:
        VrkitError: ``error`` when the file does not exist, cannot be read, is not valid JSON
            (naming the line and column) or holds a value JSON or vrkit does not allow (naming
            its JSON path).
    """
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} {str(p)!r} does not exist", hint)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {str(p)!r} cannot be read: {exc}") from None
    return parse_json(text, f"{what} {str(p)!r}", error)
