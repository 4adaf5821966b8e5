"""Long lists of flat records are validated in columns (issue 18: a 20,000-frame tracker pose
file took ~12 s, all in jsonschema), with errors as precise as item-by-item validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vrkit.core import documents
from vrkit.core.documents import read_document, validate_document
from vrkit.core.errors import InputError

N = 20_000


def _rows(n: int) -> list[dict]:
    return [
        {"index": k, "t_ns": k * 16_666_667, "status": "tracking", "px": 0.01 * (k % 7),
         "py": 1.6, "pz": -0.2, "qx": 0.0, "qy": 0.1, "qz": 0.0, "qw": 0.995, "n_points": 20,
         "cameras_used": "cam0 cam1", "message": ""}
        for k in range(n)
    ]  # fmt: skip


def _reference_error(doc: dict) -> str | None:
    """The error of plain jsonschema, item by item (the schema without the column check)."""
    v = documents.validator("tracker-poses")
    plain = documents._Validator(_plain(v.schema))
    err = documents.best_match(plain.iter_errors(doc))
    return None if err is None else documents.error_message(err, "tracker pose file")


def _plain(node):
    if isinstance(node, list):
        return [_plain(x) for x in node]
    if not isinstance(node, dict):
        return node
    return {("items" if k == "vrkitFlatItems" else k): _plain(v) for k, v in node.items()}


def test_the_pose_rows_are_checked_in_columns() -> None:
    assert "vrkitFlatItems" in documents.validator("tracker-poses").schema["properties"]["frames"]


def test_bad_value_deep_in_a_20000_frame_file_is_named_by_its_path(tmp_path: Path) -> None:
    rows = _rows(N)
    rows[17_321]["qz"] = 7.5
    path = tmp_path / "poses.json"
    path.write_text(json.dumps({"summary": {}, "frames": rows}))
    with pytest.raises(InputError) as exc:
        read_document(path, "tracker-poses")
    assert str(exc.value) == (
        f"tracker pose file {str(path)!r}: $.frames[17321].qz: expected a number >= -2 <= 2, "
        "got 7.5"
    )


@pytest.mark.parametrize(
    ("k", "field", "value"),
    [
        (5, "qz", 7.5),
        (19_999, "t_ns", -1),
        (300, "t_ns", 2**63),
        (301, "t_ns", 3.0),
        (302, "index", True),
        (303, "px", math.nan),
        (304, "px", math.inf),
        (305, "py", 1e300),
        (306, "status", 5),
        (307, "status", "x" * 65),
        (308, "message", None),
        (309, "px", "0.1"),
        (310, "extra", [1, 2]),  # rows may carry more columns
        (311, "qw", 2),  # an int where a number is expected: fine
        (312, "py", 2**60),  # an int float64 cannot hold exactly, out of range
    ],
)
def test_column_check_gives_the_same_error_as_jsonschema(k: int, field: str, value) -> None:
    rows = _rows(400 if k < 400 else N)
    rows[k][field] = value
    doc = {"frames": rows}
    expected = _reference_error(doc)
    if expected is None:
        validate_document(doc, "tracker-poses")
        return
    with pytest.raises(InputError) as exc:
        validate_document(doc, "tracker-poses")
    assert str(exc.value) == expected


@pytest.mark.parametrize("edit", ["missing t_ns", "px alone", "not an object", "two bad"])
def test_structure_errors_match_jsonschema(edit: str) -> None:
    rows = _rows(200)
    if edit == "missing t_ns":
        del rows[150]["t_ns"]
    elif edit == "px alone":
        for f in ("py", "pz", "qx", "qy", "qz", "qw"):
            del rows[120][f]
    elif edit == "not an object":
        rows[99] = [1, 2, 3]
    else:
        rows[10]["qz"], rows[190]["status"] = 9.0, []
    doc = {"frames": rows}
    expected = _reference_error(doc)
    assert expected is not None
    with pytest.raises(InputError) as exc:
        validate_document(doc, "tracker-poses")
    assert str(exc.value) == expected
