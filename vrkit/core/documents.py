"""One validator for every file vrkit reads: strict JSON, checked against its format's JSON Schema.

Each file format has a schema ``calibration/schema/<kind>.schema.json`` (JSON Schema draft
2020-12), checked with the ``jsonschema`` library. :func:`read_document` parses a file strictly
(:mod:`vrkit.core.jsonfile`) and validates it; the first problem is raised as one line naming
the file, the JSON path, the value (its repr cut short) and what was expected::

    rig file 'rig.json': $.cameras[0].K[0][0]: expected a number >= 1 <= 1000000, got '500'

Two rules hold in every schema, through the type checker here rather than in each schema:
``"number"`` means a finite int or float (never ``true``, never NaN or infinity) and
``"integer"`` means an int (never ``3.0``). Checks that span fields or need the model (a lens
model's invertibility, a rig's rigid transforms) stay with the loader, after the schema passed.

Long lists of flat records (a tracker pose file's frames: one object of numbers and short
strings per frame) are checked column by column in numpy instead of item by item
(:func:`_flat_items`): types, finiteness, ranges, lengths, required and dependent fields of all
items at once. Only the items that fail that check go through ``jsonschema``, so a bad value is
reported exactly as before, with its JSON path (``$.frames[17321].qz``), and a valid
20,000-frame file is read many times faster.
"""

from __future__ import annotations

import itertools
import json
import math
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import referencing
from jsonschema.exceptions import ValidationError, best_match

from vrkit.core.errors import InputError, VrkitError
from vrkit.core.jsonfile import json_path, read_json, short_repr
from vrkit.resources import SHIPPED, data_dir, resolve_file, shipped_hint

#: File format (schema name) -> what the file is called in messages.
FORMATS: dict[str, str] = {
    "headset-profile": "headset profile file",
    "rig": "rig file",
    "target": "target file",
    "board": "board file",
    "recording": "recording index",
    "tracker-poses": "tracker pose file",
    "tracker-config": "tracker config",
    "pose-file": "pose file",
    "camera": "camera file",
    "pattern": "pattern description",
    "captures": "capture index",
    "lens-report": "lens-calibration report",
    "run": "run file",
    # other tools' files that vrkit reads (vrkit.interop)
    "views": "views file",
    "hmdq": "hmdq file",
    "north-star": "North Star calibration",
    "lighthouse": "lighthouse config",
    "osvr-display": "OSVR display descriptor",
    "openhmd": "OpenHMD properties",
    "opencv-detections": "detection file",
}

#: Keywords that describe and never constrain (merged into an inlined ``$ref``).
_ANNOTATIONS = frozenset({"description", "title", "default", "examples"})

#: Errors looked at to choose the one to report (bounds the cost on a badly broken file).
_ERRORS_CONSIDERED = 50

#: Keywords of a size cap: the first error, when it is one of these, is reported at once.
_SIZE_KEYWORDS = frozenset({"maxItems", "maxLength", "maxProperties"})

_TYPE_NAMES = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "array": "an array",
    "object": "an object",
    "boolean": "true or false",
    "null": "null",
}


def schema_dir() -> Path:
    """Folder of the shipped JSON schemas (``calibration/schema``)."""
    return data_dir("calibration") / "schema"


def schema_path(kind: str) -> Path:
    """The schema file of a format named in :data:`FORMATS`."""
    if kind not in FORMATS:
        raise ValueError(f"unknown file format {kind!r}; known: {sorted(FORMATS)}")
    return schema_dir() / f"{kind}.schema.json"


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The parsed JSON schema of a format named in :data:`FORMATS`."""
    return json.loads(schema_path(kind).read_text(encoding="utf-8"))


def _is_number(_checker: object, value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (isinstance(value, int) or math.isfinite(value))
    )


def _is_integer(_checker: object, value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Keywords a flat record's field may use to be checked in columns (annotations aside).
_COLUMN_KEYWORDS = frozenset(
    {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
     "maxLength", "enum", "const"}
)  # fmt: skip
#: Keywords a flat record itself may use.
_RECORD_KEYWORDS = frozenset(
    {"type", "required", "properties", "additionalProperties", "dependentRequired"}
)
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float),
    "integer": (int,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}
#: Lists shorter than this are left to jsonschema (the column check would not pay).
_FLAT_MIN_ITEMS = 64
_INT64 = (-(2**63), 2**63 - 1)


def _column_check(node: dict) -> Any | None:
    """A check of a list of one field's values (``values -> bool``), or None.

    None when the field's schema is not a simple scalar one (then it is left to jsonschema).
    """
    if set(node) - _COLUMN_KEYWORDS - _ANNOTATIONS:
        return None
    types = node.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if not types or any(t not in _PY_TYPES for t in types):
        return None
    if any(isinstance(node.get(k), str) or isinstance(node.get(k), bool)
           for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):  # fmt: skip
        return None
    choices = node.get("enum", [node["const"]] if "const" in node else None)
    if choices is not None and not all(isinstance(c, str) for c in choices):
        return None
    allowed = {t for name in types for t in _PY_TYPES[name]}
    numbers = "number" in types or "integer" in types
    only_int = "integer" in types and "number" not in types

    def check(values: list) -> bool:
        kinds = set(map(type, values))
        if not kinds <= allowed:
            return False
        if choices is not None and not set(v for v in values if type(v) is str) <= set(choices):
            return False
        strings = [v for v in values if type(v) is str] if kinds - {str} else values
        if str in kinds and strings:
            n = list(map(len, strings))
            if max(n) > node.get("maxLength", max(n)) or min(n) < node.get("minLength", 0):
                return False
        if not numbers or not kinds & {int, float}:
            return True
        nums = values if kinds <= {int, float} else [v for v in values if type(v) in (int, float)]
        if only_int or float not in kinds:
            if not all(_INT64[0] <= v <= _INT64[1] for v in (min(nums), max(nums))):
                return False  # past int64: let jsonschema judge it exactly
            arr = np.array(nums, dtype=np.int64)
            bounds_exact = all(
                isinstance(node.get(k, 0), int) or abs(node[k]) < 2**53
                for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            )
            if not bounds_exact:
                return False
        else:
            try:
                arr = np.array(nums, dtype=np.float64)
            except OverflowError:
                return False
            if not np.isfinite(arr).all():
                return False
            if int in kinds and np.abs(arr).max(initial=0) >= 2**53:
                return False  # ints that float64 cannot hold exactly
        lo, hi = arr.min(), arr.max()
        return not (
            ("minimum" in node and lo < node["minimum"])
            or ("maximum" in node and hi > node["maximum"])
            or ("exclusiveMinimum" in node and lo <= node["exclusiveMinimum"])
            or ("exclusiveMaximum" in node and hi >= node["exclusiveMaximum"])
        )

    return check


def _record_check(node: Any) -> Any | None:
    """A check of a whole list of flat records at once (``items -> bool``), or None.

    None when ``node`` (an ``items`` schema) is not a flat record (see the module docstring).
    """
    if not isinstance(node, dict) or node.get("type") != "object":
        return None
    if set(node) - _RECORD_KEYWORDS - _ANNOTATIONS:
        return None
    props = node.get("properties", {})
    columns = {k: _column_check(v) for k, v in props.items()}
    if any(c is None for c in columns.values()):
        return None
    extra = node.get("additionalProperties", True)
    if extra not in (True, False):
        return None
    required = list(node.get("required", []))
    dependent = dict(node.get("dependentRequired", {}))
    known = frozenset(props)

    def check(items: list) -> bool:
        if not all(type(x) is dict for x in items):
            return False
        for k in required:
            if not all(k in x for x in items):
                return False
        if extra is False and not all(x.keys() <= known for x in items):
            return False
        for k, needs in dependent.items():
            if not all(n in x for x in items if k in x for n in needs):
                return False
        for k, col in columns.items():
            values = [x[k] for x in items if k in x]
            if values and not col(values):
                return False
        return True

    return check


#: id() of a flat ``items`` schema -> its column check (the schemas live as long as the cache).
_FLAT_CHECKS: dict[int, Any] = {}


def _flat_items(validator: Any, items_schema: Any, instance: Any, _schema: Any) -> Any:
    """The ``vrkitFlatItems`` keyword: ``items`` for a long list of flat records.

    All items are checked in columns first; when that fails, the items failing it one at a
    time are checked by jsonschema, in order, which gives the same errors as ``items``.
    """
    if not validator.is_type(instance, "array"):
        return
    check = _FLAT_CHECKS[id(items_schema)]
    if len(instance) >= _FLAT_MIN_ITEMS and check(instance):
        return
    for index, item in enumerate(instance):
        if len(instance) < _FLAT_MIN_ITEMS or not check([item]):
            yield from validator.descend(item, items_schema, path=index)


def _use_flat_items(node: Any) -> Any:
    """``node`` with ``items`` of flat records replaced by ``vrkitFlatItems``."""
    if isinstance(node, list):
        return [_use_flat_items(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _use_flat_items(v) for k, v in node.items()}
    items = out.get("items")
    if isinstance(items, dict) and "prefixItems" not in out:
        check = _record_check(items)
        if check is not None:
            del out["items"]
            out["vrkitFlatItems"] = items
            _FLAT_CHECKS[id(items)] = check
    return out


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    validators={"vrkitFlatItems": _flat_items},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_number, "integer": _is_integer}
    ),
)


@lru_cache(maxsize=1)
def _registry() -> referencing.Registry:
    """Every shipped schema under its ``$id``, so that schemas can ``$ref`` each other."""
    resources = [
        referencing.Resource.from_contents(json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(schema_dir().glob("*.schema.json"))
    ]
    return referencing.Registry().with_resources((r.id(), r) for r in resources)


def _inline(node: Any, resolver: Any) -> Any:
    """``node`` with every ``$ref`` replaced by what it points to (vrkit's schemas never recurse).

    ``resolver`` is a ``referencing`` resolver for the resource ``node`` belongs to.

    A ``$ref`` resolved through the registry on every instance it checks costs more than the
    checks themselves (URL joins, pointer walks); inlined once, a 10,000-frame run.json is
    checked several times faster. ``$ref`` beside other keywords becomes an ``allOf``, as the
    2020-12 draft defines it (merged into it when the other keywords only describe).
    """
    if isinstance(node, list):
        return [_inline(v, resolver) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline(v, resolver) for k, v in node.items() if k != "$ref"}
    if "$ref" not in node:
        return out
    resolved = resolver.lookup(node["$ref"])
    target = _inline(resolved.contents, resolved.resolver)
    if set(out) <= _ANNOTATIONS:  # a description beside a $ref: no extra level to check
        return {**target, **out}
    out.setdefault("allOf", []).append(target)
    return out


@cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    """The ``jsonschema`` validator of a format (strict number and integer types, refs inlined)."""
    schema = load_schema(kind)
    resolver = _registry().resolver(base_uri=schema.get("$id", ""))
    inlined = _inline({k: v for k, v in schema.items() if k != "$defs"}, resolver)
    return _Validator(_use_flat_items(inlined))


@cache
def _identity_validator(kind: str) -> jsonschema.protocols.Validator:
    """Checks only the top-level constant fields of a format (its format/schema/version marks)."""
    props = load_schema(kind).get("properties", {})
    marks = {k: v for k, v in props.items() if isinstance(v, dict) and "const" in v}
    return _Validator({"properties": marks})


def describe(node: Any) -> str:
    """What a schema node expects, in words: ``"a number > 0 <= 1"``, ``"one of ['a', 'b']"``."""
    if not isinstance(node, dict):
        return "a valid value" if node else "nothing here"
    if "const" in node:
        return f"exactly {node['const']!r}"
    if "enum" in node:
        return f"one of {node['enum']!r}"
    types = node.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if not types:  # a node that only narrows (in an if/then): name the type its keywords imply
        implied = (
            ("array", ("minItems", "maxItems")),
            ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")),
            ("string", ("pattern", "maxLength")),
        )
        types = [t for t, keys in implied if any(k in node for k in keys)][:1]
    parts = [" or ".join(_TYPE_NAMES.get(t, t) for t in types)] if types else []
    for key, text in (
        ("exclusiveMinimum", ">"),
        ("minimum", ">="),
        ("exclusiveMaximum", "<"),
        ("maximum", "<="),
    ):
        if key in node:
            parts.append(f"{text} {node[key]!r}")
    if "minItems" in node or "maxItems" in node:
        lo, hi = node.get("minItems", 0), node.get("maxItems")
        if lo == hi:
            parts.append(f"of {lo} items")
        else:
            parts.append(f"of {lo} to {hi} items" if hi is not None else f"of >= {lo} items")
    if "pattern" in node:
        parts.append(f"matching {node['pattern']}")
    if "maxLength" in node:
        parts.append(f"of at most {node['maxLength']} characters")
    return " ".join(parts) or "a valid value"


def error_message(err: ValidationError, where: str) -> str:
    """One line for a ``jsonschema`` error: where, JSON path, what was expected, the value."""
    path = json_path(err.absolute_path)
    value, node, keyword = err.instance, err.schema, err.validator
    got = short_repr(value)
    if keyword == "required" and isinstance(value, dict):
        missing = [k for k in err.validator_value if k not in value]
        expected = f"required field(s) {missing}"
        got = f"an object with fields {short_repr(sorted(value))}"
    elif keyword == "additionalProperties" and isinstance(value, dict):
        known = node.get("properties", {}) if isinstance(node, dict) else {}
        unknown = sorted(k for k in value if k not in known)
        expected = f"only the fields {sorted(known)}"
        got = f"unknown field(s) {short_repr(unknown)}"
    elif keyword in ("minItems", "maxItems") and isinstance(value, list):
        expected = describe(node)
        got = f"{len(value)} item(s): {got}"
    elif keyword in ("minLength", "maxLength") and isinstance(value, str):
        expected = describe(node)
        got = f"a string of {len(value)} characters: {got}"
    elif keyword in ("minProperties", "maxProperties") and isinstance(value, dict):
        word = "at least" if keyword == "minProperties" else "at most"
        expected = f"an object with {word} {err.validator_value} fields"
        got = f"{len(value)} fields"
    elif keyword == "uniqueItems":
        expected = "items that are all different"
    elif keyword in (
        "type",
        "const",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "pattern",
    ):
        expected = describe(node)
        if keyword == "type" and isinstance(value, float) and not math.isfinite(value):
            expected = expected.replace("a number", "a finite number")
    else:  # a keyword vrkit's schemas rarely fail on: say which one
        expected = f"a value valid under {keyword!r} {short_repr(err.validator_value)}"
    if "propertyNames" in err.relative_schema_path:
        expected = f"field names {expected}"
    return f"{where}: {path}: expected {expected}, got {got}"


def validate_document(
    data: Any, kind: str, where: str | None = None, error: type[VrkitError] = InputError
) -> None:
    """Check parsed data against a format's schema.

    Args:
        data: The parsed document.
        kind: The format, a key of :data:`FORMATS`.
        where: What and where the data is, for messages; default the format's name.
        error: The error class to raise.

    Raises:
        VrkitError: ``error`` for the most relevant problem, as one line (see the module
            docstring).
    """
    # A wrong "format"/"schema"/"version" marker says "this is another kind of file": report
    # it before the fields such a file lacks.
    err = best_match(_identity_validator(kind).iter_errors(data))
    if err is None:
        errors = validator(kind).iter_errors(data)
        first = next(errors, None)
        if first is not None and first.validator in _SIZE_KEYWORDS:
            # A list or string over its cap: report it now rather than check each of its
            # (possibly very many) items; the schemas list caps before items for this.
            err = first
        elif first is not None:
            err = best_match(
                itertools.chain([first], itertools.islice(errors, _ERRORS_CONSIDERED - 1))
            )
    if err is not None:
        raise error(error_message(err, where or FORMATS[kind]))


def read_document(
    path: str | Path, kind: str, error: type[VrkitError] = InputError, hint: str | None = None
) -> Any:
    """Read a vrkit file: strict JSON, validated against its format's schema.

    Args:
        path: The file; for the kinds vrkit ships (boards, rigs, targets, profiles), also the
            name of a shipped file (:func:`vrkit.resources.resolve_file`).
        kind: The format, a key of :data:`FORMATS` (``"rig"``, ``"camera"``, ...).
        error: The error class to raise (e.g. ProfileError for calibration files).
        hint: What to do when the file is missing, or None.

    Returns:
        The parsed document, valid under the schema.

    Raises:
        VrkitError: ``error``, one line naming the file: it is missing or unreadable, not JSON
            (line and column), or not valid (JSON path, value and what was expected).
    """
    what = FORMATS[kind]
    if kind in SHIPPED:  # a shipped file may be given by name (vrkit.resources)
        path = resolve_file(kind, path)
        hint = hint or shipped_hint(kind)
    data = read_json(path, what, error, hint)
    validate_document(data, kind, f"{what} {str(path)!r}", error)
    return data
