"""Broken glTF files give one line naming the file and the problem; unsupported features warn.

The broken files are the Khronos samples of tests/data/gltf, damaged the way files get damaged
(cut short, renamed, separated from their .bin, edited by hand, a texture swapped for
something else).
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys

import numpy as np
import pytest
from gltf_ref import DATA

from vrkit.core.errors import InputError
from vrkit.render.gltf import load_gltf


def one_line(exc: InputError, path) -> str:
    text = str(exc)
    assert "\n" not in text and str(path) in text, text
    return text


def test_truncated_glb(tmp_path):
    data = (DATA / "Duck.glb").read_bytes()
    bad = tmp_path / "cut.glb"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        load_gltf(bad)
    assert f"truncated .glb: the header says {len(data)} bytes, the file has" in one_line(
        err.value, bad
    )
    bad.write_bytes(data[:7])
    with pytest.raises(InputError, match="shorter than its 12-byte header"):
        load_gltf(bad)


def test_glb_whose_chunk_runs_past_the_end(tmp_path):
    data = bytearray((DATA / "Duck.glb").read_bytes())
    data[12:16] = (len(data)).to_bytes(4, "little")  # the JSON chunk claims the whole file
    bad = tmp_path / "chunk.glb"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        load_gltf(bad)
    assert "chunk 0" in one_line(err.value, bad) and "runs past the end" in str(err.value)


def test_wrong_magic(tmp_path):
    bad = tmp_path / "magic.glb"
    bad.write_bytes(b"glTX" + (DATA / "Duck.glb").read_bytes()[4:])
    with pytest.raises(InputError) as err:
        load_gltf(bad)
    assert "not a binary glTF" in one_line(err.value, bad) and "b'glTX'" in str(err.value)
    png = tmp_path / "photo.gltf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(InputError, match=r"neither JSON text nor a \.glb"):
        load_gltf(png)


def _external_duck(tmp_path):
    doc = json.loads((DATA / "Duck.gltf").read_text())
    (tmp_path / "Duck0.bin").write_bytes(base64.b64decode(doc["buffers"][0]["uri"].split(",")[1]))
    doc["buffers"][0]["uri"] = "Duck0.bin"
    path = tmp_path / "Duck.gltf"
    path.write_text(json.dumps(doc))
    return path


def test_missing_buffer_file(tmp_path):
    path = _external_duck(tmp_path)
    (tmp_path / "Duck0.bin").unlink()
    with pytest.raises(InputError) as err:
        load_gltf(path)
    text = one_line(err.value, path)
    assert "buffer 0 file 'Duck0.bin' not found" in text and "beside the .gltf" in text


def test_short_buffer_file(tmp_path):
    path = _external_duck(tmp_path)
    (tmp_path / "Duck0.bin").write_bytes((tmp_path / "Duck0.bin").read_bytes()[:1000])
    with pytest.raises(InputError) as err:
        load_gltf(path)
    assert "buffer 0 has 1000 bytes but its byteLength is 102040" in one_line(err.value, path)


def test_buffer_uri_outside_the_folder_is_refused(tmp_path):
    doc = json.loads((DATA / "Box.gltf").read_text())
    for uri, why in (
        ("/etc/passwd", "absolute path"),
        ("https://example.com/a.bin", "vrkit reads only"),
    ):
        doc["buffers"][0]["uri"] = uri
        path = tmp_path / "abs.gltf"
        path.write_text(json.dumps(doc))
        with pytest.raises(InputError) as err:
            load_gltf(path)
        assert why in one_line(err.value, path)


EDITS = {
    "count": (
        lambda d: d["accessors"][2].update(count=2400),
        "accessor 2 is out of range: it reads bytes 288..29088 of bufferView 1, which has 576",
    ),
    "offset": (lambda d: d["accessors"][0].update(byteOffset=70), "accessor 0 is out of range"),
    "view": (
        lambda d: d["bufferViews"][0].update(byteLength=4000),
        "bufferView 0 (bytes 576..4576) runs past the end of buffer 0 (648 bytes)",
    ),
    "index": (
        lambda d: d["meshes"][0]["primitives"][0].update(indices=7),
        "accessor 7 does not exist",
    ),
    "cycle": (lambda d: d["nodes"][0].update(children=[0]), "node 0 is reached twice"),
    "alpha": (lambda d: d["materials"][0].update(alphaMode="GLASS"), "alphaMode 'GLASS'"),
    "version": (lambda d: d["asset"].update(version="1.0"), "glTF version '1.0'"),
}


@pytest.mark.parametrize(("edit", "message"), list(EDITS.values()), ids=list(EDITS))
def test_malformed_references(tmp_path, edit, message):
    doc = json.loads((DATA / "Box.gltf").read_text())
    edit(doc)
    path = tmp_path / "box.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_gltf(path)
    assert message in one_line(err.value, path)


def test_index_out_of_range(tmp_path):
    doc = json.loads((DATA / "Box.gltf").read_text())
    raw = bytearray(base64.b64decode(doc["buffers"][0]["uri"].split(",")[1]))
    raw[576:578] = (99).to_bytes(2, "little")  # first index of the index bufferView
    doc["buffers"][0]["uri"] = (
        "data:application/octet-stream;base64," + base64.b64encode(bytes(raw)).decode()
    )
    path = tmp_path / "box.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_gltf(path)
    assert "index 99 is out of range for 24 vertices" in one_line(err.value, path)


def test_texture_that_is_not_an_image(tmp_path):
    doc = json.loads((DATA / "BoxTextured.gltf").read_text())
    doc["images"][0]["uri"] = (
        "data:image/png;base64," + base64.b64encode(b"<html>404</html>").decode()
    )
    path = tmp_path / "box.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_gltf(path)
    assert "texture image 0 is not an image vrkit can decode" in one_line(err.value, path)
    # ... and a PNG cut short (a real PNG header, then nothing).
    png = base64.b64decode(
        json.loads((DATA / "BoxTextured.gltf").read_text())["images"][0]["uri"].split(",")[1]
    )
    (tmp_path / "cut.png").write_bytes(png[:200])
    doc["images"][0]["uri"] = "cut.png"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_gltf(path)
    assert "texture image 0, cut.png is not an image vrkit can decode" in one_line(err.value, path)


def test_corrupt_base64_and_bad_json(tmp_path):
    doc = json.loads((DATA / "Box.gltf").read_text())
    doc["buffers"][0]["uri"] = doc["buffers"][0]["uri"][:-7] + "!!!"
    path = tmp_path / "box.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="base64 data URI is corrupt"):
        load_gltf(path)
    path.write_text('{"asset": {"version": "2.0"}, "nodes": [')
    with pytest.raises(InputError) as err:
        load_gltf(path)
    assert "is not valid JSON: Expecting value at line 1" in one_line(err.value, path)
    path.write_text('{"asset": {"version": "2.0"}, "nodes": [{"translation": [NaN, 0, 0]}]}')
    with pytest.raises(InputError) as err:
        load_gltf(path)
    assert "$.nodes[0].translation[0]: expected a finite number" in one_line(err.value, path)
    with pytest.raises(InputError, match="does not exist"):
        load_gltf(tmp_path / "nothing.glb")


def test_cli_reports_a_broken_model_in_one_line(tmp_path):
    bad = tmp_path / "cut.glb"
    bad.write_bytes((DATA / "Duck.glb").read_bytes()[:5000])
    result = subprocess.run(
        [sys.executable, "-m", "vrkit", "run", str(bad), "--backend", "headless",
         "--out", str(tmp_path / "out"), "--frames", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vrkit run: error: {bad}: truncated .glb")
    assert not (tmp_path / "out").exists()


# --- features vrkit does not draw: one warning line each, never a crash ------------------------


def _triangle_doc() -> dict:
    """A hand-written glTF: one triangle (three float VEC3 positions, no indices)."""
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "<f4").tobytes()
    return {
        "asset": {"version": "2.0"},
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "tri"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "buffers": [
            {
                "byteLength": 36,
                "uri": "data:application/octet-stream;base64," + base64.b64encode(pos).decode(),
            }
        ],
    }


def test_unsupported_features_warn_once_each_and_the_rest_loads(tmp_path, caplog):
    doc = _triangle_doc()
    doc["nodes"] += [
        {"name": "bone"},
        {"name": "lamp", "extensions": {"KHR_lights_punctual": {"light": 0}}},
    ]
    doc["scenes"][0]["nodes"] += [1, 2]
    doc["nodes"][0]["skin"] = 0
    doc["skins"] = [{"joints": [1], "name": "rig"}]
    doc["meshes"][0]["primitives"][0]["targets"] = [{"POSITION": 0}]
    # A Draco primitive: its accessor has no bufferView of its own (the data is compressed).
    doc["accessors"].append({"componentType": 5126, "count": 3, "type": "VEC3"})
    draco = {"KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}
    doc["meshes"][0]["primitives"].append({"attributes": {"POSITION": 1}, "extensions": draco})
    doc["animations"] = [{"channels": [], "samplers": []}]
    doc["extensionsUsed"] = ["KHR_draco_mesh_compression", "KHR_lights_punctual", "EXT_fancy"]
    doc["extensionsRequired"] = ["KHR_draco_mesh_compression", "EXT_fancy"]
    doc["extensions"] = {"KHR_lights_punctual": {"lights": [{"type": "spot"}]}}
    path = tmp_path / "features.gltf"
    path.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="vrkit.render.gltf"):
        model = load_gltf(path)
    warned = model.report.warnings
    for feature in (
        "skins",
        "morph targets",
        "Draco compression",
        "animations",
        "required extension",
    ):
        (line,) = [w for w in warned if f": {feature} not supported" in w]
        assert line.startswith("features.gltf: ") and "\n" not in line
    assert "EXT_fancy" in next(w for w in warned if "required extension" in w)
    assert "rig" in next(w for w in warned if "skins" in w)
    assert [r.getMessage() for r in caplog.records] == warned
    assert model.report.lights == ["lamp (spot)"]
    # The triangle itself is there, with flat normals computed (the file has none).
    (mesh,) = [n.mesh for n in model.nodes if n.mesh is not None]
    np.testing.assert_allclose(mesh.normals, [[0, 0, 1]] * 3)


def test_meshopt_compressed_geometry_is_skipped_with_a_warning(tmp_path):
    doc = _triangle_doc()
    doc["bufferViews"][0]["extensions"] = {"EXT_meshopt_compression": {"buffer": 0}}
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["EXT_meshopt_compression"]
    path = tmp_path / "meshopt.gltf"
    path.write_text(json.dumps(doc))
    model = load_gltf(path)
    assert [n.mesh for n in model.nodes] == [None]
    assert any("meshopt compression not supported" in w for w in model.report.warnings)
