"""A fixed-seed mutator of JSON files, for the fuzz tests of every format vrkit reads.

Each mutation takes the seed file's text and returns a broken (or subtly wrong) variant with a
short description. Structural mutations work on the parsed tree (pick a node, change it);
textual ones work on the bytes (truncate, flip bytes, empty file). Values JSON's writer cannot
produce (``NaN``, 400-digit integers, 5000-deep nesting) are spliced in as raw text.

Nothing here imports vrkit: the mutator knows JSON, not the formats.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

#: Raw JSON texts spliced in where a value goes (none of them a value vrkit should accept
#: everywhere; some, like 1e-9, are valid JSON numbers that only the loader's checks refuse).
RAW_VALUES = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "-1e308",
    "1e300",
    "1e-300",
    "1e-9",
    "-1e-9",
    "0",
    "-0.0",
    "-1",
    "9" * 400,
    "-" + "9" * 30,
    "9223372036854775808",
    "true",
    "false",
    "null",
    '""',
    '"0.4"',
    '"1e3"',
    "[]",
    "{}",
    "[[]]",
    '{"kind": []}',
    '"../../escape"',
    '"/etc/passwd"',
    '"a\\u0000b"',
)

#: Factors a number is scaled by ("physically impossible" values of the right type).
SCALES = (0.0, -1.0, 1e-9, 1e-3, 1e3, 1e9, 1e12, 1e300)

_MARK = "\u0001RAW{}\u0001"


def _nodes(doc: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every (path, value) in the document, the root included."""
    out = [(path, doc)]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_nodes(v, (*path, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_nodes(v, (*path, i)))
    return out


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple) -> Any:
    node = doc
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return doc


class Mutator:
    """Seeded mutations of JSON text.

    Args:
        seed: The random seed (the same seed gives the same sequence of mutants).
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._raw: list[str] = []
        self.kinds: dict[str, Callable[[Any, str], tuple[Any, str] | tuple[str, str]]] = {
            "delete": self._m_delete,
            "wrong_type": self._m_raw,
            "scale": self._m_scale,
            "nonfinite": self._m_nonfinite,
            "huge": self._m_huge,
            "deep": self._m_deep,
            "long_string": self._m_long_string,
            "long_list": self._m_long_list,
            "rename": self._m_rename,
        }
        #: Relative weights: tree mutations first, then the textual ones (handled in mutate).
        self.weights = {
            "delete": 3,
            "wrong_type": 4,
            "scale": 6,
            "nonfinite": 2,
            "huge": 2,
            "deep": 1,
            "long_string": 1,
            "long_list": 1,
            "rename": 1,
            "truncate": 2,
            "byte_flip": 2,
            "empty": 1,
            "double": 1,
        }

    # ---- tree mutations (return the new document and a description) ------------------------

    def _raw_value(self, text: str) -> str:
        self._raw.append(text)
        return _MARK.format(len(self._raw) - 1)

    def _pick(self, doc: Any, want: Callable[[Any], bool] = lambda v: True) -> tuple | None:
        nodes = [(p, v) for p, v in _nodes(doc) if want(v)]
        if not nodes:
            return None
        return self.rng.choice(nodes)[0]

    def _m_delete(self, doc: Any, _t: str) -> tuple[Any, str]:
        path = self._pick(doc, lambda v: True)
        if not path:
            return {}, "root -> {}"
        return _delete(doc, path), f"delete {list(path)}"

    def _m_raw(self, doc: Any, _t: str) -> tuple[Any, str]:
        path = self._pick(doc)
        raw = self.rng.choice(RAW_VALUES)
        return _set(doc, path or (), self._raw_value(raw)), f"{list(path or ())} = {raw[:20]}"

    def _m_scale(self, doc: Any, t: str) -> tuple[Any, str]:
        def num(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        path = self._pick(doc, num)
        if path is None:
            return self._m_raw(doc, t)
        old = _get(doc, path)
        f = self.rng.choice(SCALES)
        if isinstance(old, int) and f == int(f):
            new = old * int(f)  # exact: a big factor makes an integer of hundreds of digits
        else:
            new = old * f
            if new != new or abs(new) == float("inf"):
                new = 1e300
        return _set(doc, path, new), f"{list(path)} *= {f:g}"

    def _m_nonfinite(self, doc: Any, t: str) -> tuple[Any, str]:
        path = self._pick(doc, lambda v: isinstance(v, (int, float)))
        raw = self.rng.choice(("NaN", "Infinity", "-Infinity", "1e999"))
        return _set(doc, path or (), self._raw_value(raw)), f"{list(path or ())} = {raw}"

    def _m_huge(self, doc: Any, t: str) -> tuple[Any, str]:
        path = self._pick(doc, lambda v: isinstance(v, (int, float)))
        raw = self.rng.choice(("9" * 400, "1e308", "-1e308", "1e300", "-9" + "0" * 25))
        return _set(doc, path or (), self._raw_value(raw)), f"{list(path or ())} = huge"

    def _m_deep(self, doc: Any, t: str) -> tuple[Any, str]:
        path = self._pick(doc)
        depth = self.rng.choice((50, 900, 5000))
        raw = "[" * depth + "]" * depth
        return _set(doc, path or (), self._raw_value(raw)), f"{list(path or ())} nested {depth}"

    def _m_long_string(self, doc: Any, t: str) -> tuple[Any, str]:
        path = self._pick(doc, lambda v: isinstance(v, str)) or self._pick(doc)
        n = self.rng.choice((300, 70_000, 2_000_000))
        return _set(doc, path or (), "x" * n), f"{list(path or ())} = {n} characters"

    def _m_long_list(self, doc: Any, t: str) -> tuple[Any, str]:
        path = self._pick(doc, lambda v: isinstance(v, list) and len(v) > 0)
        if path is None:
            return self._m_raw(doc, t)
        lst = _get(doc, path)
        n = self.rng.choice((17, 100, 2000))
        return _set(doc, path, [lst[i % len(lst)] for i in range(n)]), f"{list(path)} x{n}"

    def _m_rename(self, doc: Any, t: str) -> tuple[Any, str]:
        path = self._pick(doc, lambda v: isinstance(v, dict) and len(v) > 0)
        if path is None:
            return self._m_raw(doc, t)
        d = _get(doc, path)
        key = self.rng.choice(sorted(d))
        d[key + "_"] = d.pop(key)
        return doc, f"{list(path)} rename {key!r}"

    # ---- the entry point --------------------------------------------------------------------

    def mutate(self, text: str) -> tuple[bytes, str]:
        """One mutant of ``text`` (a JSON document) as bytes, with a description."""
        kinds, weights = zip(*self.weights.items(), strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        data = text.encode("utf-8")
        if kind == "truncate":
            n = self.rng.randrange(len(data)) if data else 0
            return data[:n], f"truncated at {n}"
        if kind == "byte_flip":
            out = bytearray(data)
            for _ in range(self.rng.randint(1, 4)):
                if out:
                    i = self.rng.randrange(len(out))
                    out[i] = self.rng.randrange(256)
            return bytes(out), "bytes flipped"
        if kind == "empty":
            return b"", "empty file"
        doc = json.loads(text)
        if kind == "double":  # two tree mutations
            self._raw = []
            doc, d1 = self.kinds["scale"](doc, text)
            doc, d2 = self.kinds[self.rng.choice(list(self.kinds))](doc, text)
            return self._dump(doc), f"{d1}; {d2}"
        self._raw = []
        doc, desc = self.kinds[kind](doc, text)
        return self._dump(doc), f"{kind}: {desc}"

    def _dump(self, doc: Any) -> bytes:
        text = json.dumps(doc)
        for i, raw in enumerate(self._raw):
            text = text.replace(json.dumps(_MARK.format(i)), raw)
        return text.encode("utf-8")


def _get(doc: Any, path: tuple) -> Any:
    node = doc
    for p in path:
        node = node[p]
    return node
