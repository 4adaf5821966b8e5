"""One validator for every file vrkit reads: schemas, strict JSON, and one-line errors.

Every JSON format vrkit reads has a schema in calibration/schema/ and a loader that checks it
through vrkit.core.documents. Each format is written here by vrkit's own writer (or copied from
the shipped examples), broken four ways (a field missing, a wrong type, a value out of range, a
NaN) and fed to its real loader, which must answer with one line naming the file, the JSON path,
the value and what was expected.
"""

from __future__ import annotations

import ast
import json
import shutil
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from vrkit.calibration.capture import capture_files, write_captures_json
from vrkit.calibration.patterns import PanelGeometry, PatternSet, make_pattern_set
from vrkit.calibration.report import read_lens_report
from vrkit.calibration.viewpoint import Viewpoint
from vrkit.cli import main
from vrkit.core import documents
from vrkit.core.documents import FORMATS, read_document, validate_document
from vrkit.core.errors import InputError, ProfileError, VrkitError
from vrkit.core.jsonfile import parse_json, read_json
from vrkit.core.types import Fov, Pose
from vrkit.interop.formats import import_profile
from vrkit.interop.hmdq import load_hmdq
from vrkit.interop.opencv_multiview import read_detection_file
from vrkit.interop.views import load_views, views_to_json
from vrkit.math.stereo import eye_views
from vrkit.measure.latency.timing import FrameTimingRecorder
from vrkit.optics.profile import load_profile, profile_from_dict
from vrkit.poses.replay import PoseTrack, load_pose_file, save_pose_file
from vrkit.tracking.camera import Rig
from vrkit.tracking.poses import read_poses, tracker_pose_source, write_poses
from vrkit.tracking.record import Recorder, RecordingSource
from vrkit.tracking.sources import FrameSet
from vrkit.tracking.target import Target
from vrkit.vision.board import Board
from vrkit.vision.camera import CameraModel

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "calibration"
DROP = object()
NAN = float("nan")

# --------------------------------------------------------------------------------------------
# valid files of every format, written by vrkit (or shipped with it)


def _profile(d: Path) -> Path:
    return Path(shutil.copy(CALIBRATION / "profiles" / "cardboard-v1.json", d / "profile.json"))


def _rig(d: Path) -> Path:
    return Path(shutil.copy(CALIBRATION / "tracking-rig-inside-out-4cam.json", d / "rig.json"))


def _target(d: Path) -> Path:
    return Path(shutil.copy(CALIBRATION / "tracking-target-headset-leds.json", d / "target.json"))


def _board(d: Path) -> Path:
    return Path(shutil.copy(CALIBRATION / "tracking-board-charuco-9x7.json", d / "board.json"))


def _recording(d: Path) -> Path:
    folder = d / "rec"
    img = np.full((8, 8), 128, np.uint8)
    with Recorder(folder, ["cam0", "cam1"]) as rec:
        for k in range(3):
            fs = FrameSet(k, 1_000_000 + k * 16_666_667, [img, None if k == 1 else img])
            rec.write(fs, truth_T_world_head=np.eye(4))
    return folder / "index.json"


def _tracker_poses(d: Path) -> Path:
    rows = [
        {"index": 0, "t_ns": 100, "status": "tracking", "px": 0.1, "py": 1.6, "pz": -0.2,
         "qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 1.0, "message": ""},
        {"index": 1, "t_ns": 200, "status": "tracking", "px": 0.1, "py": 1.6, "pz": -0.2,
         "qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 1.0, "message": ""},
        {"index": 2, "t_ns": 300, "status": "lost", "message": "no target"},
    ]  # fmt: skip
    write_poses(d / "poses.json", rows, {"frames": 3, "tracked": 2})
    return d / "poses.json"


def _tracker_config(d: Path) -> Path:
    _rig(d), _target(d)
    cfg = {"rig": "rig.json", "target": "target.json", "source": "rec:rec", "fps": 60}
    (d / "live.json").write_text(json.dumps(cfg))
    return d / "live.json"


def _pose_file(d: Path) -> Path:
    t = np.array([0, 10_000_000, 20_000_000])
    track = PoseTrack(t, [[0, 1.6, 0]] * 3, [[0, 0, 0, 1]] * 3)
    return save_pose_file(d / "poses.json", track)


def _camera(d: Path) -> Path:
    K = [[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]]
    CameraModel("pinhole", (640, 480), K, [0.1, -0.05, 0.0, 0.0, 0.0], 0.3).save(d / "cam.json")
    return d / "cam.json"


def _pattern_set() -> PatternSet:
    panel = PanelGeometry(1440, 1600, (5e-5, 5e-5), 0.04, (0, 0, 720, 1600), (360.0, 800.0))
    return make_pattern_set(panel, kinds=("dots", "checkerboard"), channels=("green",))


def _pattern(d: Path) -> Path:
    return _pattern_set().save(d / "pattern", images=False)


def _captures(d: Path) -> Path:
    folder = d / "captures"
    folder.mkdir()
    names = [f.name for f in _pattern_set().frames]
    for n in names:
        (folder / f"{n}.png").write_bytes(b"")
    return write_captures_json(folder, {n: f"{n}.png" for n in names}, {"n_average": 8})


def _lens_report(d: Path) -> Path:
    # The fields `fov --from-report` reads, as `calibrate lens` writes them (both eyes).
    vp = Viewpoint(
        np.array([0.0025, -0.0015, 0.003]), np.full(3, 1e-4), 1.5, 0.02, 0.66, 0.3, 0.5, 400,
        np.array([0.0, 0.0, -0.013]), 0.016, 0.05, {"left": 40}, 0.016,
    )  # fmt: skip
    eye = {
        "eye": "left",
        "fov_measured": {"left_deg": 50.0, "camera_rotation_vector_rad": [0.01, -0.02, 0.0]},
        "viewpoint": {"measured": True, **vp.to_dict()},
        "fits": [],
    }
    right = {**eye, "eye": "right", "fov_measured": None, "viewpoint": {"measured": False}}
    report = {"format": "vrkit.lens-report", "version": 1, "eyes": {"left": eye, "right": right}}
    (d / "report.json").write_text(json.dumps(report))
    return d / "report.json"


def _load_lens_report(path: Path) -> object:
    rv, vp = read_lens_report(path, "left")
    assert vp is not None and abs(vp.camera_offset_m[0] - 0.0025) < 1e-9
    return rv


def _run(d: Path) -> Path:
    frames = []
    for k in range(3):
        t = 1_000_000_000 + k * 11_111_111
        timing = {"pose_sample_ns": t, "render_start_ns": t + 100_000,
                  "render_end_cpu_ns": t + 600_000, "gpu_done_ns": t + 2_000_000,
                  "submit_ns": t + 2_100_000, "predicted_display_ns": t + 11_111_111}  # fmt: skip
        frames.append({"index": k, "display_time_ns": t + 11_111_111,
                       "head_pose": {"position": [0, 1.6, 0], "orientation": [0, 0, 0, 1]},
                       "timing": timing})  # fmt: skip
    doc = {"backend": "headless", "clock": "virtual", "frames_rendered": 3, "frames": frames}
    (d / "run.json").write_text(json.dumps(doc, indent=1))
    return d / "run.json"


INTEROP = ROOT / "tests" / "data" / "interop"


def _views(d: Path) -> Path:
    views = eye_views(Pose([0, 1.6, 0]), Fov.from_degrees(-50, 45, 48, -52),
                      Fov.from_degrees(-45, 50, 48, -52), ipd_m=0.064)  # fmt: skip
    (d / "views.json").write_text(json.dumps(views_to_json(views, source="test")))
    return d / "views.json"


def _copy(name: str, dest: str):  # a maker of CASES
    return lambda d: Path(shutil.copy(INTEROP / name, d / dest))


def _openhmd(d: Path) -> Path:
    # OpenHMD's Rift DK1 device properties (its oculus driver's values)
    props = {
        "screen_horizontal_size": 0.14976, "screen_vertical_size": 0.0936,
        "screen_horizontal_resolution": 1280, "screen_vertical_resolution": 800,
        "lens_horizontal_separation": 0.0635, "lens_vertical_position": 0.0468,
        "universal_distortion_k": [0.098, 0.324, -0.241, 0.819],
        "universal_aberration_k": [0.995, 1.0, 1.008], "left_eye_fov": 1.78,
    }  # fmt: skip
    (d / "openhmd.json").write_text(json.dumps(props))
    return d / "openhmd.json"


def _import(fmt: str):  # a loader of CASES
    return lambda p: import_profile(str(p), fmt)


def _load_tracker_config(path: Path) -> object:
    return tracker_pose_source(f"live:{path}")


def _load_captures(path: Path) -> object:
    return capture_files(path.parent, _pattern_set())


# format -> (make a valid file in a folder, the real loader, four breakages:
#            (JSON path as keys/indices, new value or DROP, JSON path text, value text))
CASES = {
    "headset-profile": (_profile, load_profile, [
        (("panel", "refresh_hz"), DROP, "$.panel", "['refresh_hz']"),
        (("panel", "refresh_hz"), "60", "$.panel.refresh_hz", "'60'"),
        (("fov_limits_deg", "up"), 95, "$.fov_limits_deg.up", "95"),
        (("panel", "size_m", 0), NAN, "$.panel.size_m[0]", "NaN"),
    ]),
    "rig": (_rig, Rig.load, [
        (("cameras", 1, "K"), DROP, "$.cameras[1]", "['K']"),
        (("cameras", 0, "width"), "640", "$.cameras[0].width", "'640'"),
        (("cameras", 0, "K", 0, 0), 1e-9, "$.cameras[0].K[0][0]", "1e-09"),
        (("cameras", 2, "T_rig_cam", 0, 3), NAN, "$.cameras[2].T_rig_cam[0][3]", "NaN"),
    ]),
    "target": (_target, Target.load, [
        (("kind",), DROP, "$", "['kind']"),
        (("leds", 3), "0,0,0", "$.leds[3]", "'0,0,0'"),
        (("view_cone_deg",), 720, "$.view_cone_deg", "720"),
        (("led_radius",), NAN, "$.led_radius", "NaN"),
    ]),
    "board": (_board, Board.load, [
        (("square_size",), DROP, "$", "['square_size']"),
        (("squares", 0), 9.5, "$.squares[0]", "9.5"),
        (("squares", 1), 2, "$.squares[1]", "2"),
        (("marker_size",), NAN, "$.marker_size", "NaN"),
    ]),
    "recording": (_recording, lambda p: RecordingSource(p.parent), [
        (("frames", 1, "t_ns"), DROP, "$.frames[1]", "['t_ns']"),
        (("frames", 0, "files"), "cam0/000000.png", "$.frames[0].files", "'cam0/000000.png'"),
        (("frames", 2, "t_ns"), -5, "$.frames[2].t_ns", "-5"),
        (("frames", 0, "truth_T_world_head", 1, 3), NAN, "$.frames[0].truth_T_world_head[1][3]",
         "NaN"),
    ]),
    "tracker-poses": (_tracker_poses, read_poses, [
        (("frames", 0, "status"), DROP, "$.frames[0]", "['status']"),
        (("frames", 1, "t_ns"), "200", "$.frames[1].t_ns", "'200'"),
        (("frames", 1, "qw"), 7.0, "$.frames[1].qw", "7.0"),
        (("frames", 0, "px"), NAN, "$.frames[0].px", "NaN"),
    ]),
    "tracker-config": (_tracker_config, _load_tracker_config, [
        (("source",), DROP, "$", "['source']"),
        (("fps",), "60", "$.fps", "'60'"),
        (("fps",), 0, "$.fps", "0"),
        (("fps",), NAN, "$.fps", "NaN"),
    ]),
    "pose-file": (_pose_file, load_pose_file, [
        (("samples", 0, "position"), DROP, "$.samples[0]", "['position']"),
        (("samples", 1, "t_ns"), 1.5, "$.samples[1].t_ns", "1.5"),
        (("samples", 1, "orientation", 3), 9, "$.samples[1].orientation[3]", "9"),
        (("samples", 0, "position", 2), NAN, "$.samples[0].position[2]", "NaN"),
    ]),
    "camera": (_camera, CameraModel.load, [
        (("K",), DROP, "$", "['K']"),
        (("image_size", 0), "640", "$.image_size[0]", "'640'"),
        (("K", 0, 0), -500.0, "$.K[0][0]", "-500.0"),
        (("dist", 1), NAN, "$.dist[1]", "NaN"),
    ]),
    "pattern": (_pattern, PatternSet.load, [
        (("panel", "screen_to_lens_m"), DROP, "$.panel", "['screen_to_lens_m']"),
        (("frames", 0, "features", 3), "x", "$.frames[0].features[3]", "'x'"),
        (("panel", "pixel_pitch_m", 0), 5.0, "$.panel.pixel_pitch_m[0]", "5.0"),
        (("frames", 1, "spacing_px"), NAN, "$.frames[1].spacing_px", "NaN"),
    ]),
    "captures": (_captures, _load_captures, [
        (("frames",), DROP, "$", "['frames']"),
        (("frames", "dots_green"), 7, "$.frames.dots_green", "7"),
        (("frames", "../escape"), "x.png", "$.frames", "'../escape'"),
        (("meta", "n_average"), NAN, "$.meta.n_average", "NaN"),
    ]),
    "lens-report": (_lens_report, _load_lens_report, [
        (("eyes", "left", "viewpoint"), DROP, "$.eyes.left", "['viewpoint']"),
        (("eyes", "left", "viewpoint", "camera_offset_mm", 1), "1.5",
         "$.eyes.left.viewpoint.camera_offset_mm[1]", "'1.5'"),
        (("eyes", "left", "fov_measured", "camera_rotation_vector_rad", 2), 7.0,
         "$.eyes.left.fov_measured.camera_rotation_vector_rad[2]", "7.0"),
        (("eyes", "left", "viewpoint", "image_distance_m"), NAN,
         "$.eyes.left.viewpoint.image_distance_m", "NaN"),
    ]),
    "run": (_run, FrameTimingRecorder.from_run_json, [
        (("frames", 0, "timing"), DROP, None, None),  # allowed: timing is optional per frame
        (("frames", 0, "timing", "gpu_done_ns"), 1.5e9, "$.frames[0].timing.gpu_done_ns",
         "1500000000.0"),
        (("frames", 1, "timing", "submit_ns"), -1, "$.frames[1].timing.submit_ns", "-1"),
        (("frames", 2, "head_pose", "position", 1), NAN, "$.frames[2].head_pose.position[1]",
         "NaN"),
    ]),
    # other tools' files (vrkit.interop)
    "views": (_views, load_views, [
        (("views", 0, "eye"), DROP, "$.views[0]", "['eye']"),
        (("views", 1, "fov", "angle_up"), "0.5", "$.views[1].fov.angle_up", "'0.5'"),
        (("views", 0, "fov", "angle_left"), -2.0, "$.views[0].fov.angle_left", "-2.0"),
        (("views", 0, "pose", "position", 1), NAN, "$.views[0].pose.position[1]", "NaN"),
    ]),
    "hmdq": (_copy("hmdq/ViveFocus3_Native_R90.hmdq.json", "dump.hmdq.json"), load_hmdq, [
        (("openvr", "geometry", "raw_eye", "Left"), DROP, "$.openvr.geometry.raw_eye",
         "['Left']"),
        (("openvr", "geometry", "raw_eye", "Right", "tan_top"), "1.1",
         "$.openvr.geometry.raw_eye.Right.tan_top", "'1.1'"),
        (("openvr", "geometry", "raw_eye", "Left", "tan_left"), -500,
         "$.openvr.geometry.raw_eye.Left.tan_left", "-500"),
        (("openvr", "geometry", "eye2head", "Left", 0, 3), NAN,
         "$.openvr.geometry.eye2head.Left[0][3]", "NaN"),
    ]),
    "north-star": (_copy("northstar/25cm-64mm-NorthStarCalibration.json", "ns.json"),
                   _import("northstar"), [
        (("left_uv_to_rect_y",), DROP, "$", "['left_uv_to_rect_y']"),
        (("baseline",), "64", "$.baseline", "'64'"),
        (("baseline",), 6400, "$.baseline", "6400"),
        (("right_uv_to_rect_x", 3), NAN, "$.right_uv_to_rect_x[3]", "NaN"),
    ]),
    "lighthouse": (_copy("lighthouse-synthetic-vive.json", "config.json"), _import("lighthouse"), [
        (("tracking_to_eye_transform", 0, "intrinsics"), DROP, "$.tracking_to_eye_transform[0]",
         "['intrinsics']"),
        (("lens_separation",), "0.063", "$.lens_separation", "'0.063'"),
        (("device", "physical_aspect_x_over_y"), 0, "$.device.physical_aspect_x_over_y", "0"),
        (("tracking_to_eye_transform", 1, "distortion", "center_x"), NAN,
         "$.tracking_to_eye_transform[1].distortion.center_x", "NaN"),
    ]),
    "osvr-display": (_copy("osvr/OSVR_HDK_1_3.json", "hdk.json"), _import("osvr"), [
        (("hmd", "resolutions"), DROP, "$.hmd", "['resolutions']"),
        (("hmd", "resolutions", 0, "width"), "1920", "$.hmd.resolutions[0].width", "'1920'"),
        (("hmd", "field_of_view", "monocular_horizontal"), 190,
         "$.hmd.field_of_view.monocular_horizontal", "190"),
        (("hmd", "distortion", "polynomial_coeffs_red", 1), NAN,
         "$.hmd.distortion.polynomial_coeffs_red[1]", "NaN"),
    ]),
    "openhmd": (_openhmd, _import("openhmd"), [
        (("universal_distortion_k",), DROP, "$", "['universal_distortion_k']"),
        (("screen_horizontal_resolution",), "1920", "$.screen_horizontal_resolution", "'1920'"),
        (("universal_aberration_k", 1), -1.0, "$.universal_aberration_k[1]", "-1.0"),
        (("lens_horizontal_separation",), NAN, "$.lens_horizontal_separation", "NaN"),
    ]),
    "opencv-detections": (_copy("opencv-3cams-one-line/cam_3.json", "cam_3.json"),
                          read_detection_file, [
        (("frame_0", "rows"), DROP, "$.frame_0", "['rows']"),
        (("frame_4", "data", 2), "1200.5", "$.frame_4.data[2]", "'1200.5'"),
        (("frame_5", "type_id"), "opencv-mat", "$.frame_5.type_id", "'opencv-mat'"),
        (("frame_7", "data", 0), NAN, "$.frame_7.data[0]", "NaN"),
    ]),
}  # fmt: skip


def _mutate(doc: object, path: tuple, value: object) -> object:
    node = doc
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    if value is DROP:
        del node[path[-1]]  # type: ignore[union-attr]
    else:
        node[path[-1]] = value  # type: ignore[index]
    return doc


def test_cases_cover_every_format():
    assert sorted(CASES) == sorted(FORMATS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_valid_file_of_every_format_loads(kind, tmp_path):
    make, load, _ = CASES[kind]
    path = make(tmp_path)
    read_document(path, kind)
    if kind != "tracker-config":  # loading that one starts a tracker thread
        load(path)


@pytest.mark.parametrize(
    ("kind", "case"), [(k, i) for k in sorted(CASES) for i in range(4)], ids=lambda v: str(v)
)
def test_broken_file_gives_one_line_naming_file_path_value_and_expectation(kind, case, tmp_path):
    make, load, breakages = CASES[kind]
    keys, value, where, shown = breakages[case]
    path = make(tmp_path)
    doc = _mutate(json.loads(path.read_text()), keys, value)
    path.write_text(json.dumps(doc))  # NaN is written as the non-JSON token NaN
    if where is None:  # a breakage the format allows
        load(path)
        return
    with pytest.raises(VrkitError) as info:
        load(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg and f": {where}: expected " in msg, msg
    if value is DROP:
        assert f"expected required field(s) {shown}, got an object with fields [" in msg, msg
    else:
        assert f"got {shown}" in msg, msg
    assert len(msg) < 600, msg


# --------------------------------------------------------------------------------------------
# every file vrkit ships or tests with validates; every loader goes through the validator


def _kind_of(path: Path, doc: object) -> str:
    """The format of a JSON file from its marker fields (or its place, for profiles)."""
    if isinstance(doc, dict):
        marks = {
            "vrkit.tracking.rig/1": "rig",
            "vrkit.tracking.target/1": "target",
            "vrkit.tracking.board/1": "board",
            "vrkit.tracking.recording/1": "recording",
            "vrkit.camera": "camera",
            "vrkit.pattern": "pattern",
            "vrkit.captures": "captures",
            "vrkit.lens-report": "lens-report",
            "vrkit-poses": "pose-file",
        }
        for key in ("schema", "format"):
            if doc.get(key) in marks:
                return marks[doc[key]]
        if "schema_version" in doc and "lenses" in doc:
            return "headset-profile"
        if path.name in ("run.json", "timing.json"):
            return "run"
        # other tools' files, by their keys (vrkit.interop)
        if isinstance(doc.get("views"), list):
            return "views"
        if isinstance(doc.get("misc"), dict) and "log_ver" in doc["misc"]:
            return "hmdq"
        if "left_uv_to_rect_x" in doc:
            return "north-star"
        if "tracking_to_eye_transform" in doc:
            return "lighthouse"
        if isinstance(doc.get("hmd"), dict):
            return "osvr-display"
        if "universal_distortion_k" in doc:
            return "openhmd"
        if doc and all(str(k).startswith("frame_") for k in doc):
            return "opencv-detections"
    raise AssertionError(
        f"{path}: no vrkit format recognised; a JSON file vrkit reads needs a schema in "
        "calibration/schema/ (and a marker here), a file it does not read does not belong here"
    )


DATA_FILES = sorted(
    p
    for folder in (CALIBRATION, ROOT / "tests" / "data")
    for p in folder.rglob("*.json")
    if "schema" not in p.parts
)


#: Test data kept to check a refusal: they must fail their format's schema.
REFUSED = {
    # hmdq output version 3: vrkit reads version 5 (tests/test_interop_views_hmdq.py)
    ROOT / "tests" / "data" / "interop" / "hmdq" / "Index_Native_R144.v3.hmdq.json",
}


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_and_test_data_files_validate(path):
    kind = _kind_of(path, json.loads(path.read_text()))
    if path in REFUSED:
        with pytest.raises(VrkitError):
            read_document(path, kind)
        return
    read_document(path, kind)


def test_shipped_files_exist():
    assert len(DATA_FILES) >= 11


@pytest.mark.parametrize("name", sorted(p.name for p in documents.schema_dir().glob("*.json")))
def test_every_schema_is_valid_draft_2020_12(name):
    schema = json.loads((documents.schema_dir() / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    if name != "defs.schema.json":
        assert name.removesuffix(".schema.json") in FORMATS


def _calls(tree: ast.AST) -> list[tuple[str, list[ast.expr]]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            base = (
                f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            )
            out.append((f"{base}.{name}" if base else name, node.args))
    return out


def test_every_json_read_goes_through_the_validator():
    """No loader parses JSON on its own; every read_document names a format with a schema."""
    # Known parses that are not reads of a user's file: the validator itself, a deep copy.
    allowed = {
        ("vrkit/core/jsonfile.py", "json.loads"),
        ("vrkit/core/jsonfile.py", "parse_json"),
        ("vrkit/core/documents.py", "json.loads"),
        ("vrkit/optics/profile.py", "json.loads"),  # HeadsetProfile.to_dict: a deep copy
        ("vrkit/core/documents.py", "read_json"),
        ("vrkit/optics/profile.py", "read_json"),  # profile_from_dict validates after it
        ("vrkit/tracking/poses.py", "read_json"),  # sniffs live config vs pose file, then reads
        # load_camera tells vrkit's JSON (validated next) from OpenCV FileStorage JSON.
        ("vrkit/vision/camera.py", "parse_json"),
        # glTF models: Khronos' format, not vrkit's (no bundled schema); strict JSON, then
        # pygltflib's records and the loader's own check of every reference and byte range.
        ("vrkit/render/gltf.py", "parse_json"),
        # sniffs an import source's (or a compare entry's) format by its keys, then reads it
        ("vrkit/interop/formats.py", "read_json"),
        # run.json's frame records read back from the sidecar the same run wrote
        ("vrkit/backends/runrecord.py", "json.loads"),
        ("vrkit/backends/runrecord.py", "json.load"),
    }
    kinds_used = set()
    for path in sorted((ROOT / "vrkit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name, args in _calls(ast.parse(path.read_text())):
            if name in ("json.load", "json.loads", "read_json", "parse_json"):
                assert (rel, name) in allowed, f"{rel} parses JSON with {name}; use read_document"
            if name == "read_document":
                assert len(args) >= 2 and isinstance(args[1], ast.Constant), rel
                kinds_used.add(args[1].value)
            if name == "validate_document" and len(args) >= 2 and isinstance(args[1], ast.Constant):
                kinds_used.add(args[1].value)
    assert kinds_used | {"headset-profile"} == set(FORMATS)


# --------------------------------------------------------------------------------------------
# strict JSON


@pytest.mark.parametrize(
    ("text", "where", "expected", "got"),
    [
        ('{"a": [1, NaN]}', "$.a[1]", "a finite number (JSON has no NaN or Infinity)", "NaN"),
        ('{"a": {"b": -Infinity}}', "$.a.b", "a finite number (JSON has no NaN or Infinity)",
         "-Infinity"),
        ('{"a": 1e400}', "$.a", "a finite number (this one overflows a 64-bit float)", "1e400"),
        ('{"a": [' + "9" * 400 + "]}", "$.a[0]", "an integer that fits in 64 bits",
         "99999999999999999999...(400 characters)"),
        ('{"a": 9223372036854775808}', "$.a", "an integer that fits in 64 bits",
         "9223372036854775808"),
        ('{"a": {"k": 1, "k": 2}}', "$.a", "each field once", "field 'k' twice"),
        ('{"odd key": [0, Infinity]}', "$['odd key'][1]",
         "a finite number (JSON has no NaN or Infinity)", "Infinity"),
    ],
)  # fmt: skip
def test_strict_json_refuses_what_json_does_not_allow(text, where, expected, got):
    with pytest.raises(InputError) as info:
        parse_json(text, "test file 'x.json'")
    assert str(info.value) == f"test file 'x.json': {where}: expected {expected}, got {got}"


def test_strict_json_keeps_64_bit_integers_and_small_floats():
    doc = parse_json('{"t": 9223372036854775807, "u": -9223372036854775808, "f": 1e-300}', "x")
    assert doc == {"t": 2**63 - 1, "u": -(2**63), "f": 1e-300}


def test_deep_nesting_is_one_line_not_a_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match=r"deep\.json' is nested too deeply to read"):
        read_json(path, "rig file")
    path.write_text('{"schema": "vrkit.tracking.rig/1", "report": ' + "[" * 500 + "]" * 500 + "}")
    with pytest.raises(ProfileError, match=r"\$: expected required field\(s\) \['cameras'\]"):
        Rig.load(path)


def test_a_huge_value_gives_a_short_line(tmp_path):
    """A 50 MB name gave a 52 MB error line (issue 18): the value is cut, the line stays short."""
    data = json.loads((CALIBRATION / "tracking-target-headset-leds.json").read_text())
    data["name"] = "n" * 50_000_000
    path = tmp_path / "target.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as info:
        Target.load(path)
    msg = str(info.value)
    assert len(msg) < 400, msg[:400]
    assert "$.name: expected a string" in msg and "of at most 128 characters" in msg
    assert "got a string of 50000000 characters: 'nnnn" in msg


def test_in_memory_profile_data_gets_the_same_checks():
    data = json.loads((CALIBRATION / "profiles" / "cardboard-v1.json").read_text())
    data["panel"]["refresh_hz"] = float("inf")
    with pytest.raises(ProfileError, match=r"\$\.panel\.refresh_hz: expected a finite number"):
        profile_from_dict(data)
    data["panel"]["refresh_hz"] = True
    with pytest.raises(ProfileError, match=r"refresh_hz: expected a number >= 1 <= 1000, got true"):
        profile_from_dict(data)
    data["panel"]["refresh_hz"] = 60
    data["panel"]["resolution_px"] = [1920.0, 1080]
    with pytest.raises(
        ProfileError, match=r"resolution_px\[0\]: expected an integer .*got 1920\.0"
    ):
        profile_from_dict(data)


def test_a_2000_coefficient_lens_is_refused_at_once(tmp_path):
    """Issue 18: such a profile hung the validator for minutes; the schema caps the count."""
    data = json.loads((CALIBRATION / "profiles" / "cardboard-v1.json").read_text())
    data["lenses"]["left"]["k"] = [0.01] * 2000
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    t0 = time.perf_counter()
    with pytest.raises(ProfileError, match=r"\$\.lenses\.left\.k: expected an array of 1 to 16"):
        load_profile(path)
    assert time.perf_counter() - t0 < 5  # generous: it takes milliseconds


def test_lens_model_checks_run_after_the_schema():
    data = json.loads((CALIBRATION / "profiles" / "cardboard-v1.json").read_text())
    data["lenses"]["left"] = {
        "kind": "brown_conrady",
        "coefficients": [0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
    }
    with pytest.raises(
        ProfileError, match=r"\$\.lenses\.left\.coefficients must have 4 or 5 or 8 values, got 6"
    ):
        profile_from_dict(data)


def test_wrong_kind_of_file_is_named_before_its_fields(tmp_path):
    path = tmp_path / "cam.json"
    path.write_text(json.dumps({"schema": "vrkit.tracking.rig/1", "cameras": []}))
    # Without a "format" marker a JSON camera file is read as OpenCV FileStorage JSON.
    with pytest.raises(
        InputError, match=r"cam\.json' has no camera matrix .*keys: schema, cameras"
    ):
        CameraModel.load(path)
    path.write_text(json.dumps({"format": "vrkit.pattern", "version": 1}))
    with pytest.raises(InputError, match=r"\$\.format: expected exactly 'vrkit\.camera'"):
        CameraModel.load(path)


def test_names_that_become_paths_are_checked(tmp_path):
    rig = json.loads((CALIBRATION / "tracking-rig-outside-in-4cam.json").read_text())
    rig["cameras"][0]["name"] = "../../pwned_record"
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(rig))
    with pytest.raises(ProfileError, match=r"\$\.cameras\[0\]\.name: expected a string matching"):
        Rig.load(path)


def test_validate_document_names_the_format_without_a_file():
    with pytest.raises(InputError, match=r"^board file: \$\.kind: expected one of"):
        validate_document(
            {"schema": "vrkit.tracking.board/1", "kind": [], "squares": [9, 7], "square_size": 1},
            "board",
        )


# --------------------------------------------------------------------------------------------
# through the CLI


def test_cli_profile_validate_prints_one_line(tmp_path, capsys):
    path = _profile(tmp_path)
    data = json.loads(path.read_text())
    data["lenses"]["left"]["k"] = [0.4, "0.2"]
    path.write_text(json.dumps(data))
    assert main(["profile", "validate", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.endswith(
        f"{path}: profile: $.lenses.left.k[1]: expected a number >= -10000 <= 10000, got '0.2'"
    )


CLI_RUN_NAN = ("frames", 1, "timing", "submit_ns")


def test_cli_latency_pipeline_on_a_broken_run_json(tmp_path, capsys):
    path = _run(tmp_path)
    path.write_text(json.dumps(_mutate(json.loads(path.read_text()), CLI_RUN_NAN, NAN)))
    assert main(["latency", "pipeline", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.endswith(
        f"run file {str(path)!r}: $.frames[1].timing.submit_ns: expected a finite number "
        "(JSON has no NaN or Infinity), got NaN"
    )


def test_cli_track_run_with_a_broken_target(tmp_path, capsys):
    rig, target = _rig(tmp_path), _target(tmp_path)
    data = json.loads(target.read_text())
    data["leds"][5] = [0.0, 0.1]
    target.write_text(json.dumps(data))
    rec = _recording(tmp_path).parent
    args = ["track", "run", "--source", str(rec), "--rig", str(rig), "--target", str(target)]
    assert main([*args, "--out", str(tmp_path / "p.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"target file {str(target)!r}: $.leds[5]: expected an array of 3 items" in err


def test_lens_report_for_the_other_eye_or_without_a_measured_fov_is_refused(tmp_path):
    path = _lens_report(tmp_path)
    with pytest.raises(InputError, match="no measured FOV for the right eye"):
        read_lens_report(path, "right")
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(doc["eyes"]["left"]))  # a one-eye report
    rv, vp = read_lens_report(path, "left")
    assert rv.tolist() == [0.01, -0.02, 0.0] and vp is not None
    with pytest.raises(InputError, match="has the left eye, the captures are of the right eye"):
        read_lens_report(path, "right")
