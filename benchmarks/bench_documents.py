"""Reading vrkit's largest files through the validator: a long run.json and a recording index.

``vrkit`` row: :func:`vrkit.core.documents.read_document`, which parses strictly (no NaN, no
overflowing numbers, no repeated keys) and checks the whole document against its JSON schema
with ``jsonschema``. Baseline: ``json.loads`` of the same text, the least any reader does. The
ratio is what validating every field costs; the note gives it per frame. The files are written
as vrkit writes them: a 10,000-frame run.json (a 111 s run at 90 Hz: pose, display time and six
timestamps per frame) and a 10,000-frame, 4-camera recording index; and a 20,000-frame tracker
pose file (``vrkit track run --out poses.json``), whose flat rows are checked in columns
(:func:`vrkit.core.documents._flat_items`): its second row is the same check item by item
(plain jsonschema ``items``), the ratio the speed-up.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from vrkit.core.documents import read_document


def _run_json(n: int) -> dict:
    frames = []
    for k in range(n):
        t = 1_000_000_000 + k * 11_111_111
        stamps = ("pose_sample_ns", "render_start_ns", "render_end_cpu_ns", "gpu_done_ns",
                  "submit_ns", "predicted_display_ns")  # fmt: skip
        frames.append(
            {
                "index": k,
                "display_time_ns": t + 11_111_111,
                "head_pose": {"position": [0.01 * k % 1, 1.6, -0.3], "orientation": [0, 0, 0, 1]},
                "timing": {s: t + i * 1_000_000 for i, s in enumerate(stamps)},
            }
        )
    return {"backend": "headless", "frames_rendered": n, "period_ns": 11_111_111, "frames": frames}


def _recording(n: int) -> dict:
    cams = ["cam0", "cam1", "cam2", "cam3"]
    frames = [
        {
            "index": k,
            "t_ns": 5_000_000 + k * 16_666_667,
            "camera_t_ns": [5_000_000 + k * 16_666_667 + c for c in range(4)],
            "files": [f"{c}/{k:06d}.png" for c in cams],
            "errors": [None] * 4,
        }
        for k in range(n)
    ]
    return {"schema": "vrkit.tracking.recording/1", "cameras": cams, "frames": frames}


def _poses(n: int) -> dict:
    rows = [
        {"index": k, "t_ns": k * 16_666_667, "status": "tracking", "px": 0.01 * (k % 7),
         "py": 1.6, "pz": -0.2, "qx": 0.0, "qy": 0.1, "qz": 0.0, "qw": 0.995,
         "sigma_pos_mm": 0.3, "sigma_rot_deg": 0.01, "rms_px": 0.2, "n_points": 20,
         "cameras_active": "cam0 cam1", "cameras_used": "cam0 cam1", "message": ""}
        for k in range(n)
    ]  # fmt: skip
    return {"summary": {"frames": n}, "frames": rows}


def _item_by_item(node: object) -> object:
    """A schema with the column check turned back into plain ``items``."""
    if isinstance(node, list):
        return [_item_by_item(x) for x in node]
    if not isinstance(node, dict):
        return node
    return {("items" if k == "vrkitFlatItems" else k): _item_by_item(v) for k, v in node.items()}


def _columns_vs_items(quick: bool) -> dict:
    from vrkit.core import documents

    n = 4_000 if quick else 20_000
    doc = _poses(n)
    fast = documents.validator("tracker-poses")
    plain = documents._Validator(_item_by_item(fast.schema))
    t_fast, t_plain = [], []
    for _ in range(1 if quick else 3):
        s = time.perf_counter()
        documents.validate_document(doc, "tracker-poses")
        t_fast.append(time.perf_counter() - s)
        s = time.perf_counter()
        assert next(plain.iter_errors(doc), None) is None
        t_plain.append(time.perf_counter() - s)
    a, b = statistics.median(t_fast), statistics.median(t_plain)
    return {
        "name": f"validate_tracker_poses_{n}_frames_columns",
        "value": round(a, 4),
        "unit": "s",
        "baseline": round(b, 4),
        "ratio": round(a / b, 3),
        "note": f"item by item (plain jsonschema) {b:.2f} s; {b / a:.0f}x faster in columns",
    }


def run(quick: bool) -> list[dict]:
    n = 2_000 if quick else 10_000
    repeats = 1 if quick else 5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind, doc in (
            ("run.json", "run", _run_json(n)),
            ("index.json", "recording", _recording(n)),
            ("poses.json", "tracker-poses", _poses(2 * n)),
        ):
            path = Path(tmp) / name
            m = len(doc["frames"])
            path.write_text(json.dumps(doc, indent=1))
            read_document(path, kind)  # warm-up: schema and validator built once
            t_doc, t_json = [], []
            for _ in range(repeats):  # interleaved, so that machine load hits both alike
                s = time.perf_counter()
                read_document(path, kind)
                t_doc.append(time.perf_counter() - s)
                s = time.perf_counter()
                json.loads(path.read_text())
                t_json.append(time.perf_counter() - s)
            a, b = statistics.median(t_doc), statistics.median(t_json)
            rows.append(
                {
                    "name": f"read_document_{kind}_{m}_frames",
                    "value": round(a, 4),
                    "unit": "s",
                    "baseline": round(b, 4),
                    "ratio": round(a / b, 1),
                    "note": f"{a / m * 1e6:.0f} us per frame; {path.stat().st_size / 1e6:.1f} MB",
                }
            )
    rows.append(_columns_vs_items(quick))
    return rows
