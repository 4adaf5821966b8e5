"""The one calibration-board definition: both notations, files, object points against OpenCV's
own boards, and detection on boards warped by a known homography."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vrkit.cli import main
from vrkit.core.errors import InputError, ProfileError
from vrkit.vision.board import Board, aruco_dictionary, load_board

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "calibration"
STEREO = Path(__file__).parent / "data" / "tracking" / "opencv_stereo"


# --- notation --------------------------------------------------------------------------------


def test_both_notations_name_the_same_board():
    """README: `--board checkerboard:9x6:0.025` counts OpenCV's inner corners; the board files
    are named by squares (tracking-board-checkerboard-10x7.json). Both are one board."""
    board = load_board(CAL / "tracking-board-checkerboard-10x7.json")
    for text in (
        "checkerboard:9x6:0.025",
        "checkerboard:9x6corners:0.025",
        "checkerboard:10x7squares:0.025",
        "chessboard:9x6:0.025",
        str(CAL / "tracking-board-checkerboard-10x7.json"),
    ):
        assert load_board(text) == board, text
    assert (board.squares, board.inner_corners, board.n_points) == ((10, 7), (9, 6), 54)
    assert board.describe() == "checkerboard of 10x7 squares (9x6 inner corners), 25 mm squares"
    assert board.spec() == "checkerboard:9x6corners:0.025"
    # ChArUco counts squares (OpenCV's CharucoBoard); inner corners are accepted when said so
    charuco = load_board(CAL / "tracking-board-charuco-9x7.json")
    assert load_board("charuco:9x7:0.035:0.026") == charuco
    assert load_board("charuco:8x6corners:0.035:0.026:DICT_4X4_50") == charuco
    assert charuco.inner_corners == (8, 6) and charuco.n_markers == 31
    grid = load_board("aruco:5x7:0.04:0.01:DICT_4X4_50")
    assert (grid.markers, grid.n_points, grid.outline()) == ((5, 7), 140, (0.24, 0.34))
    for b in (board, charuco, grid):
        assert Board.parse(b.spec()) == b
        assert Board.from_dict(json.loads(json.dumps(b.to_dict()))) == b


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checker:9", "cannot read board 'checker:9'; write checkerboard:9x6:0.025 \\(inner"),
        ("checkerboard:9x6markers:0.025", "a checkerboard is counted in corners or squares"),
        ("aruco:5x7squares:0.04:0.01", "an ArUco grid is counted in markers, not 'squares'"),
        ("missing-board.json", "board file 'missing-board.json' does not exist"),
        ("checkerboard:2x2squares:0.025", r"needs at least 3x3 squares \(2x2 inner corners\)"),
        ("checkerboard:9x6:0.025:0.02", "a checkerboard takes one size"),
        ("checkerboard:9x6:-0.025", "square_size must be > 0 metres"),
        ("checkerboard:9x6:nan", "must be a finite number of metres"),
        ("charuco:7x5:0.04:0.05", "marker_size must be > 0 and < square_size 0.04 m, got 0.05"),
        ("charuco:7x5:0.04:DICT_4X4_50", "a ChArUco board needs a marker size"),
        ("charuco:7x5:0.04:0.03:DICT_9X9_7", "unknown ArUco dictionary 'DICT_9X9_7'"),
        ("charuco:20x20:0.04:0.03", "needs 200 markers but DICT_4X4_50 has 50"),
        ("aruco:5x7:0.04", "an ArUco grid needs the gap between markers"),
        ("board.txt", "is neither a board spec, a file nor a shipped board"),
    ],
)
def test_bad_board_specs_are_one_line_errors(text, message):
    with pytest.raises(InputError, match=message) as exc:
        load_board(text)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"schema": "vrkit.board/9", "kind": "checkerboard"},
         r"\$\.schema: expected exactly 'vrkit.tracking.board/1', got 'vrkit.board/9'"),
        ({"kind": "checkerboard", "square_size": 0.02}, "lacks the field 'squares'"),
        ({"kind": "checkerboard", "squares": [10, 7]},
         r"\$: expected required field\(s\) \['square_size'\]"),
        ({"kind": "checkerboard", "squares": [10, 7.5], "square_size": 0.02},
         r"\$\.squares\[1\]: expected an integer .*, got 7\.5"),
        ({"kind": "checkerboard", "squares": [10, 7], "inner_corners": [9, 5],
          "square_size": 0.02}, r"squares \[10, 7\] and inner_corners \[9, 5\] disagree"),
        ({"kind": "checkerboard", "squares": [10, 7], "square_size": "2cm"},
         r"\$\.square_size: expected a number > 0 <= 10, got '2cm'"),
        ({"kind": "aruco", "squares": [5, 7], "marker_size": 0.04},
         r"\$: expected required field\(s\) \['markers', 'marker_separation'\]"),
        ({"kind": "charuco", "squares": [9, 7], "square_size": 0.03},
         r"\$: expected required field\(s\) \['marker_size'\]"),
        ({"kind": "circles", "squares": [9, 7]},
         r"\$\.kind: expected one of \['charuco', 'checkerboard', 'aruco'\], got 'circles'"),
    ],
)  # fmt: skip
def test_broken_board_files_are_one_line_errors(tmp_path, doc, message):
    path = tmp_path / "board.json"
    path.write_text(json.dumps({"schema": "vrkit.tracking.board/1", **doc}))
    with pytest.raises(ProfileError, match=message) as exc:
        load_board(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_board_file_may_count_inner_corners(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema": "vrkit.tracking.board/1", "kind": "checkerboard",
                                "inner_corners": [9, 6], "square_size": 0.025}))  # fmt: skip
    assert load_board(path).squares == (10, 7)


# --- object points against OpenCV's own boards ------------------------------------------------


def test_object_points_match_opencv():
    # checkerboard: OpenCV's calibration sample's object points (inner corners, x fastest)
    board = Board.parse("checkerboard:9x6:0.025")
    ref = np.zeros((54, 3))
    ref[:, :2] = np.mgrid[0:9, 0:6].T.reshape(-1, 2) * 0.025
    np.testing.assert_allclose(board.object_points(), ref, atol=1e-15)
    # ChArUco and ArUco grid: the corners of cv2.aruco's own boards
    d = aruco_dictionary("DICT_5X5_100")
    charuco = Board.parse("charuco:7x5:0.04:0.03:DICT_5X5_100")
    cv_charuco = cv2.aruco.CharucoBoard((7, 5), 0.04, 0.03, d)
    ref = np.asarray(cv_charuco.getChessboardCorners())
    np.testing.assert_allclose(charuco.object_points(), ref, atol=1e-7)
    grid = Board.parse("aruco:4x3:0.05:0.012:DICT_5X5_100")
    cv_grid = cv2.aruco.GridBoard((4, 3), 0.05, 0.012, d)
    ref = np.asarray(cv_grid.getObjPoints()).reshape(-1, 3)
    np.testing.assert_allclose(grid.object_points(), ref, atol=1e-7)
    assert cv_grid.getIds().ravel().tolist() == list(range(12))


# --- detection on a board warped by a known homography ----------------------------------------


def _warp(board: Board, angle_deg: float, ppx: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The printed board (texture) seen at a tilt, turned ``angle_deg`` in its plane; returns the
    image and the homography from board metres (x, y) to image pixels."""
    tex = board.texture(ppx, margin_squares=1.0).astype(np.float32)
    (x0, y0), _ = board.texture_rect(1.0)
    ppm = ppx / board.pitch
    A = np.array([[ppm, 0, -x0 * ppm - 0.5], [0, ppm, -y0 * ppm - 0.5], [0, 0, 1]])  # m -> tex px
    h, w = tex.shape
    a = np.radians(angle_deg)
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    C = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    P = np.array([[0.55, 0.06, 400], [-0.03, 0.5, 300], [2e-5, 1.5e-4, 1]])  # tilt + scale
    H_img_tex = P @ R @ C
    # render at 4x and average 4x4 blocks (pixel area, no aliasing); hi-res pixel centres of
    # image pixel i are 4 i .. 4 i + 3, their middle 4 i + 1.5
    up = np.array([[4.0, 0, 1.5], [0, 4.0, 1.5], [0, 0, 1]])
    hi = cv2.warpPerspective(tex, up @ H_img_tex, (3200, 2400), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=200)  # fmt: skip
    img = cv2.resize(hi, (800, 600), interpolation=cv2.INTER_AREA)
    img = cv2.GaussianBlur(img, (0, 0), 0.6)  # optics
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), H_img_tex @ A


@pytest.mark.parametrize(
    "spec",
    ["checkerboard:9x6:0.025", "checkerboard:8x6:0.025", "charuco:7x5:0.04:0.03",
     "aruco:5x4:0.04:0.01"],
)  # fmt: skip
@pytest.mark.parametrize("angle", [0.0, 180.0, 90.0])
def test_detection_matches_the_known_homography(spec, angle):
    """Detected features sit where the homography puts their object points, with the right ids
    whichever way up the board is (a checkerboard's order comes from its black corner square
    when its square counts sum to an odd number; 9x7 squares is symmetric)."""
    board = Board.parse(spec)
    img, H = _warp(board, angle)
    det = board.detect(img)
    assert det is not None
    assert len(det.ids) >= (board.n_points if board.kind == "checkerboard" else 20)
    np.testing.assert_array_equal(det.object_points, board.object_points()[det.ids])
    q = np.c_[det.object_points[:, :2], np.ones(len(det.ids))] @ H.T
    expected = q[:, :2] / q[:, 2:]
    err = np.linalg.norm(det.image_points - expected, axis=1)
    symmetric = board.kind == "checkerboard" and sum(board.grid) % 2 == 0
    if symmetric and angle == 180.0:
        # a half turn maps the board onto itself: the ids then name the opposite corners
        err = np.linalg.norm(det.image_points[::-1] - expected, axis=1)
    # measured: checkerboard 0.04 px median (max 0.07), ChArUco 0.014 (0.05), ArUco grid 0.07
    assert np.median(err) < 0.1 and err.max() < 0.25, (np.median(err), err.max())


def test_no_board_in_view_is_none():
    blank = np.full((480, 640), 128, np.uint8)
    for spec in ("checkerboard:9x6:0.025", "charuco:7x5:0.04:0.03", "aruco:5x4:0.04:0.01"):
        assert Board.parse(spec).detect(blank) is None


# --- both commands take both notations --------------------------------------------------------


@pytest.mark.slow
def test_rig_calibration_takes_a_spec_and_intrinsics_from_opencv_files(tmp_path, capsys):
    """`vrkit track calibrate-rig --board checkerboard:9x6:0.025` (the README's notation) on
    OpenCV's stereo photos gives the rig the board file gives; with `--intrinsics`, the left
    camera from OpenCV's own left_intrinsics.yml and the right one from a vrkit JSON, only the
    extrinsics are solved and the baseline stays."""
    from vrkit.math import transforms as tf
    from vrkit.tracking.camera import Rig

    src = ["--source", f"images:{STEREO / 'left'},{STEREO / 'right'}", "--names", "left,right"]
    base = ["track", "calibrate-rig", *src]
    assert (
        main([*base, "--board", "checkerboard:9x6:0.025", "--out", str(tmp_path / "a.json")]) == 0
    )
    board_file = str(CAL / "tracking-board-checkerboard-10x7.json")
    assert main([*base, "--board", board_file, "--out", str(tmp_path / "b.json")]) == 0
    a, b = Rig.load(tmp_path / "a.json"), Rig.load(tmp_path / "b.json")
    for ca, cb in zip(a.cameras, b.cameras, strict=True):
        np.testing.assert_array_equal(ca.T_rig_cam, cb.T_rig_cam)
        np.testing.assert_array_equal(ca.K, cb.K)
    b.cameras[1].intrinsics.save(tmp_path / "right.json")
    capsys.readouterr()
    left = Path(__file__).parent / "data" / "calibration" / "opencv_left" / "left_intrinsics.yml"
    args = [*base, "--board", board_file, "--out", str(tmp_path / "c.json")]
    assert main([*args, "--intrinsics", f"{left},{tmp_path / 'right.json'}"]) == 0
    out = capsys.readouterr().out
    assert "left: intrinsics given" in out and "right: intrinsics given" in out
    c = Rig.load(tmp_path / "c.json")
    np.testing.assert_allclose(c.cameras[0].K[0, 0], 535.9157339616, rtol=1e-12)
    T_rl = tf.invert_transform(c.cameras[1].T_rig_cam) @ c.cameras[0].T_rig_cam
    assert abs(np.linalg.norm(T_rl[:3, 3]) - 0.0833) < 1e-3
    assert main([*args, "--intrinsics", str(left)]) == 1
    assert "--intrinsics gives 1 camera files for 2 cameras" in capsys.readouterr().err


# --- no import cycles, the vision layer at the bottom ---------------------------------------


def _imports(path: Path) -> set[str]:
    """Every vrkit module a file imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n.startswith("vrkit")}


def test_tracking_and_vision_have_no_import_cycles():
    """Function-level imports count: one that dodges a cycle is still a cycle."""
    pkg = ROOT / "vrkit"
    graph = {}
    for sub in ("tracking", "vision", "calibration"):
        for p in (pkg / sub).glob("*.py"):
            graph[f"vrkit.{sub}.{p.stem}"] = _imports(p)
    for mod, deps in graph.items():
        if mod.startswith("vrkit.vision"):
            bad = {
                d
                for d in deps
                if not d.startswith(("vrkit.vision", "vrkit.core", "vrkit.math", "vrkit.resources"))
            }
            assert not bad, f"{mod} imports {bad}; vision may import only the ground layer"
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if d not in graph:
                continue
            assert state.get(d) != 1, "import cycle: " + " -> ".join([*path, m, d])
            if d not in state:
                visit(d, [*path, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
