"""``vrkit calibrate camera|pattern|capture|lens|bench``: measure a headset's lens distortion."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

from vrkit.cli._args import (
    float_range,
    int_range,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)

log = logging.getLogger("vrkit.calibrate")


# The papers of vrkit.calibration.printing (kept here so that --help does not import it).
PAPER_NAMES = ("a5", "a4", "a3", "a2", "a1", "a0", "letter", "legal", "tabloid")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand."""
    p = sub.add_parser(
        "calibrate",
        help="measure lens distortion: camera intrinsics, patterns, captures, lens fit, bench",
        description="Lens-distortion calibration from camera captures (docs/calibration.md).",
    )
    ps = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    cam = ps.add_parser("camera", help="calibrate the measuring camera from board photographs")
    cam.add_argument("--images", required=True, help="folder of board photographs")
    cam.add_argument(
        "--board",
        required=True,
        help="board spec or board file: checkerboard:9x6:0.025 (COLSxROWS inner corners, "
        "or 10x7squares; square metres), charuco:7x5:0.04:0.03[:DICT] (squares; square and "
        "marker metres), aruco:5x7:0.04:0.01[:DICT] (markers; marker and gap metres), a "
        "board file, or a shipped board by name (`vrkit data list board`)",
    )
    cam.add_argument("--model", choices=("pinhole", "fisheye"), default="pinhole")
    cam.add_argument(
        "--out",
        required=True,
        help="camera file to write: .json (vrkit), .yml/.yaml/.xml (OpenCV FileStorage)",
    )
    cam.add_argument("--report", help="JSON report of every view (default: OUT with .report.json)")
    cam.add_argument("--min-views", type=positive_int, default=4)
    cam.add_argument("--fix-aspect", action="store_true", help="keep fx = fy (pinhole)")
    cam.add_argument("--zero-tangent", action="store_true", help="fix p1 = p2 = 0 (pinhole)")
    cam.add_argument("--rational", action="store_true", help="8-coefficient model (pinhole)")
    cam.add_argument(
        "--subpix-window", type=positive_int, help="cornerSubPix half window (default: auto)"
    )

    pat = ps.add_parser("pattern", help="make the panel patterns and pattern.json")
    pat.add_argument("--profile", default="generic-1440x1600", help="headset profile (name/file)")
    pat.add_argument("--eye", choices=("left", "right"), default="left")
    pat.add_argument(
        "--kinds",
        default="dots",
        help="comma list of dots, checkerboard, graycode (Gray code + phase shift)",
    )
    pat.add_argument(
        "--channels", default="red,green,blue", help="comma list of red, green, blue, white"
    )
    pat.add_argument(
        "--spacing", type=positive_float, default=44.0, help="feature pitch, panel pixels"
    )
    pat.add_argument("--out", required=True, help="folder for pattern.json and the PNGs")
    pat.add_argument(
        "--show",
        action="store_true",
        help="show each frame full screen on the panel through the direct-display backend",
    )
    pat.add_argument("--no-vsync", dest="vsync", action="store_false", help="with --show")
    pat.add_argument("--monitor", help="monitor name or index for --show (the headset panel)")
    pat.add_argument(
        "--seconds",
        type=positive_float,
        default=0.0,
        help="with --show: seconds per frame (0: wait for Enter)",
    )

    capp = ps.add_parser("capture", help="grab every pattern frame from a camera/video/folder")
    capp.add_argument("--source", required=True, help="camera:N, video:FILE or folder:DIR")
    capp.add_argument("--pattern", required=True, help="pattern.json (or its folder)")
    capp.add_argument("--out", required=True, help="capture folder to write")
    capp.add_argument("--average", type=positive_int, default=8, help="frames averaged per capture")
    capp.add_argument(
        "--show",
        action="store_true",
        help="show each frame on the panel first (direct-display backend)",
    )
    capp.add_argument("--profile", default="generic-1440x1600", help="headset profile for --show")
    capp.add_argument("--monitor", help="monitor name or index for --show")
    capp.add_argument(
        "--settle", type=nonneg_float, default=0.5, help="with --show: seconds before grabbing"
    )

    lens = ps.add_parser("lens", help="fit the lens model(s) to captures")
    lens.add_argument(
        "--captures",
        required=True,
        action="append",
        help="capture folder; give it twice (with two --pattern, in the same order) to fit "
        "both eyes in one run, the camera moved between them",
    )
    lens.add_argument(
        "--camera",
        required=True,
        help="camera file: vrkit JSON (vrkit calibrate camera) or OpenCV FileStorage YAML/XML/JSON",
    )
    lens.add_argument(
        "--pattern",
        required=True,
        action="append",
        help="pattern.json (or its folder), one per --captures; its panel eye names the eye",
    )
    lens.add_argument(
        "--model",
        default="radial",
        help="model, or comma list to compare: radial, radial2, radial4, "
        "brown_conrady, panotools, openhmd, grid (the first is written to the profile)",
    )
    lens.add_argument("--out", required=True, help="headset profile JSON to write")
    lens.add_argument(
        "--base-profile",
        help="profile to start from (default: generic-1440x1600, "
        "panel geometry must match the pattern)",
    )
    lens.add_argument("--name", help="name of the written profile")
    lens.add_argument(
        "--report-dir", help="folder for report.json, heat maps and exports (default: beside OUT)"
    )
    lens.add_argument("--grid-knots", type=int_range(2), default=13)
    lens.add_argument(
        "--dense-step",
        type=int_range(1),
        default=8,
        help="Gray-code captures: fit every Nth camera pixel (and the field's border)",
    )
    lens.add_argument(
        "--stage",
        action="append",
        default=[],
        metavar="[EYE:]FOLDER=X,Y,Z",
        help="Gray-code captures of the same pattern with the camera moved by X,Y,Z mm on a "
        "stage (eye frame: x right, y up, z away from the lens); two or more measure the "
        "camera's offset from the eye point and the virtual image distance, and the lens is "
        "fitted as the eye sees it. With two eyes, prefix left: or right:",
    )
    lens.add_argument(
        "--stop-to-eye",
        type=positive_float,
        metavar="MM",
        help="with --stage: distance from the lens's field stop (the rim that cuts the view) "
        "back to the design eye point, mm (default: the base profile's eye relief + 3 mm, "
        "cornea to the eye's entrance pupil)",
    )
    lens.add_argument("--outlier-arcmin", type=positive_float, default=3.0)
    lens.add_argument(
        "--max-rms-arcmin",
        type=positive_float,
        default=5.0,
        help="acceptance rule: largest RMS of the kept features; the profile is written only "
        "when the first model is acceptable (docs/calibration.md, acceptance rule)",
    )

    brd = ps.add_parser(
        "board",
        help="write a board's printable target (PDF or PNG) at true size",
        description="Write the checkerboard, ChArUco or ArUco target of a board (file, shipped "
        "name or spec) as a PDF page or a PNG at --dpi, at true physical size; print at 100 %%.",
    )
    brd.add_argument("board", help="board file, shipped board (vrkit data list) or spec")
    brd.add_argument("--out", required=True, help="target .pdf or .png to write")
    brd.add_argument("--paper", choices=PAPER_NAMES, default="a4", help="paper size (a4)")
    brd.add_argument("--dpi", type=float_range(50, 2400), default=300.0, help="PNG pixels/inch")
    brd.add_argument(
        "--margin-mm", type=nonneg_float, default=10.0, help="unprinted border per side, mm"
    )

    bench = ps.add_parser("bench", help="synthetic closed-loop bench with a known lens")
    bench.add_argument("--out", required=True, help="folder for the bench's files and report")
    bench.add_argument("--noise", choices=("none", "realistic", "harsh"), default="none")
    bench.add_argument(
        "--truth",
        choices=("profile", "brown_conrady", "openhmd"),
        default="profile",
        help="true lens: the profile's own (radial), a decentred Brown-Conrady lens with "
        "per-channel coefficients, or an OpenHMD lens (a, b, c, d + aberration)",
    )
    bench.add_argument("--profile", default="generic-1440x1600")
    bench.add_argument("--model", default="radial2,radial,panotools")
    bench.add_argument("--seed", type=nonneg_int, default=1)
    bench.add_argument(
        "--eye",
        choices=("left", "right", "both"),
        default="both",
        help="eye(s) to run: both (default; the right eye mirrored from the left, each in its "
        "own sub-folder, with the binocular overlap) or one eye in OUT itself",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``vrkit calibrate``."""
    return {
        "camera": _camera,
        "pattern": _pattern,
        "capture": _capture,
        "lens": _lens,
        "bench": _bench,
        "board": _board,
    }[args.action](args)


def _board(args: argparse.Namespace) -> int:
    from vrkit.calibration.printing import PAPERS, write_target
    from vrkit.vision.board import load_board

    board = load_board(args.board)
    path = write_target(board, args.out, args.paper, args.dpi, args.margin_mm * 1e-3)
    w, h = PAPERS[args.paper]
    print(f"wrote {path}: {board.describe()} on {args.paper} ({w:g} x {h:g} mm); print at 100 %")
    return 0


def _camera(args: argparse.Namespace) -> int:
    from vrkit.calibration.intrinsics import calibrate_camera, load_image_folder
    from vrkit.core.outputs import preflight, write_json
    from vrkit.vision.board import load_board

    report = Path(args.report) if args.report else Path(args.out).with_suffix(".report.json")
    preflight(args.out)
    preflight(report, option="--report")
    board = load_board(args.board)
    images = load_image_folder(args.images)
    res = calibrate_camera(
        images,
        board,
        args.model,
        min_views=args.min_views,
        fix_aspect_ratio=args.fix_aspect,
        zero_tangent=args.zero_tangent,
        rational=args.rational,
        subpix_window=args.subpix_window,
        progress=True,
    )
    res.camera.save(args.out)
    write_json(report, {"camera": res.camera.to_dict(), "views": [v.to_dict() for v in res.views]})
    print("\n".join(res.report_lines()))
    print(f"wrote {args.out} and {report}")
    return 0


def _split(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _pattern(args: argparse.Namespace) -> int:
    from vrkit.calibration.patterns import PanelGeometry, make_pattern_set, render_frame
    from vrkit.core.outputs import preflight
    from vrkit.optics.profile import load_profile

    preflight(args.out, folder=True)
    prof = load_profile(args.profile)
    panel = PanelGeometry.from_profile(prof, 0 if args.eye == "left" else 1)
    ps = make_pattern_set(panel, _split(args.kinds), _split(args.channels), args.spacing)
    path = ps.save(args.out)
    print(f"wrote {path} and {len(ps.frames)} panel images ({panel.width_px}x{panel.height_px})")
    if args.show:
        shower = _open_display(prof, args.monitor, args.vsync)
        try:
            for f in ps.frames:
                if not _show_and_wait(shower, render_frame(panel, f), f.name, args.seconds):
                    break
        finally:
            shower.release()
    return 0


def _open_display(profile, monitor, vsync: bool = True):  # noqa: ANN001
    from vrkit.calibration.display import DisplayPatterns

    return DisplayPatterns(profile, monitor, vsync=vsync)


def _show_and_wait(shower, image, name: str, seconds: float) -> bool:  # noqa: ANN001
    """Show one frame; hold it ``seconds``, or until Enter on a terminal. False: Esc."""
    if seconds > 0 or not sys.stdin.isatty():
        return shower.show(image, seconds)
    if not shower.show(image):
        return False
    input(f"showing {name}: press Enter for the next frame ")
    return True


def _capture(args: argparse.Namespace) -> int:
    from vrkit.calibration.capture import open_source, record_captures
    from vrkit.calibration.patterns import PatternSet, render_frame
    from vrkit.core.errors import InputError
    from vrkit.core.outputs import preflight

    preflight(args.out, folder=True)
    ps = PatternSet.load(args.pattern)
    shower = None
    if args.show:
        from vrkit.optics.profile import load_profile

        prof = load_profile(args.profile)
        size = (ps.panel.width_px, ps.panel.height_px)
        if tuple(prof.resolution_px) != size:
            raise InputError(
                f"the pattern was made for a {size[0]}x{size[1]} panel but profile "
                f"{prof.name!r} has a {prof.resolution_px[0]}x{prof.resolution_px[1]} panel",
                "pass --profile with the profile the pattern was made for",
            )
        shower = _open_display(prof, args.monitor)

    def show(frame) -> None:  # noqa: ANN001
        if shower is not None:
            # Hold the frame long enough for the panel and the camera's exposure to settle.
            if not shower.show(render_frame(ps.panel, frame), args.settle):
                raise InputError("capture stopped with Esc")
        elif sys.stdin.isatty() and args.source.startswith("camera:"):
            input(f"put {frame.file} on the panel, then press Enter ")

    try:
        with open_source(args.source) as src:
            count, need = getattr(src, "count", None), len(ps.frames) * args.average
            if count is not None and count < need:
                raise InputError(
                    f"{src.name} holds {count} images, but {len(ps.frames)} pattern frames at "
                    f"--average {args.average} need {need}",
                    f"pass --average {count // len(ps.frames)} (1 when each image is one "
                    "pattern frame)"
                    if count >= len(ps.frames)
                    else "the folder needs at least one image per pattern frame",
                )
            path = record_captures(src, ps, args.out, n_average=args.average, show=show)
    finally:
        if shower is not None:
            shower.release()
    print(f"wrote {path}")
    return 0


def _lens(args: argparse.Namespace) -> int:
    from vrkit.calibration.acceptance import AcceptanceRule
    from vrkit.calibration.patterns import PanelGeometry, PatternSet
    from vrkit.core.errors import DataError, InputError
    from vrkit.core.outputs import preflight, write_json
    from vrkit.optics.profile import load_profile, profile_from_dict
    from vrkit.vision.camera import load_camera

    models = _split(args.model)
    if not models:
        raise InputError("--model is empty")
    if len(args.captures) != len(args.pattern) or len(args.captures) > 2:
        raise InputError(
            f"--captures given {len(args.captures)} time(s) and --pattern "
            f"{len(args.pattern)} time(s)",
            "give one --captures and one --pattern per eye (at most two), in the same order",
        )
    out = Path(args.out)
    rep = Path(args.report_dir) if args.report_dir else out.parent / f"{out.stem}_report"
    preflight(out)  # before the fit: a fit that cannot be written is time lost
    preflight(rep, folder=True, option="--report-dir")
    patterns = [PatternSet.load(p) for p in args.pattern]
    eyes = [p.panel.eye for p in patterns]
    if len(set(eyes)) != len(eyes):
        raise InputError(
            f"both --pattern files are for the {eyes[0]} eye",
            "make the other eye's pattern with `vrkit calibrate pattern --eye left|right`",
        )
    camera = load_camera(args.camera)
    base = load_profile(args.base_profile or "generic-1440x1600")
    for pattern in patterns:
        expected = PanelGeometry.from_profile(base, 0 if pattern.panel.eye == "left" else 1)
        if (expected.width_px, expected.height_px) != (
            pattern.panel.width_px,
            pattern.panel.height_px,
        ):
            raise InputError(
                f"pattern panel {pattern.panel.width_px}x{pattern.panel.height_px} differs from "
                f"base profile {base.name!r} panel {expected.width_px}x{expected.height_px}",
                "pass the profile the pattern was made for with --base-profile",
            )
    stages = _stage_specs(args.stage, eyes)
    rule = AcceptanceRule(max_rms_arcmin=args.max_rms_arcmin)
    print(rule.describe())
    two = len(patterns) == 2
    profile = base.data
    reports, refusals, measured = {}, [], {}
    for captures, pattern in zip(args.captures, patterns, strict=True):
        eye = pattern.panel.eye
        if two:
            print(f"--- {eye} eye ({captures}) ---")
        profile, report, refusal, fov = _lens_eye(
            args,
            captures,
            pattern,
            camera,
            base,
            profile,
            models,
            rule,
            rep,
            eye if two else "",
            stages.get(eye, []),
        )
        reports[eye] = report
        measured[eye] = fov
        if refusal:
            refusals.append(f"{eye} eye: {refusal}" if two else refusal)
    if two:
        # The profile keeps the lenses symmetric about the panel centre: the mean separation.
        seps = [r["lens_separation_m"] for r in reports.values()]
        profile["optics"]["lens_separation_m"] = round(float(sum(seps)) / 2, 7)
        if not refusals:
            profile_from_dict(profile)  # still valid with the mean separation
    refusal = f"{'; '.join(refusals)}; profile {str(out)!r} not written" if refusals else None
    if two:
        report = {"eyes": reports, "binocular": _overlap(measured, profile, refusal is None)}
    else:
        report = next(iter(reports.values()))
    report = {"format": "vrkit.lens-report", "version": 1, **report}
    report["profile"] = None if refusal else str(out)
    report["refused"] = refusal
    write_json(rep / "report.json", report, indent=1)
    if refusal:
        raise DataError(
            f"{refusal}; report in {rep}",
            "check that the camera JSON belongs to this camera at this focus and resolution "
            "and that the pattern description is the one shown; if the model does not fit "
            "the lens, put an acceptable model first in --model (see the comparison)",
        )
    write_json(out, profile)
    name = models[0]
    print(f"wrote profile {out} ({name} model; use it with `vrkit run --profile {out}`)")
    print(f"report, heat maps and exports in {rep}")
    return 0


def _stage_specs(specs: list[str], eyes: list[str]) -> dict[str, list[tuple[Path, list[float]]]]:
    """``--stage [EYE:]FOLDER=X,Y,Z`` -> eye -> [(folder, offset in metres)]."""
    from vrkit.core.errors import InputError

    out: dict[str, list[tuple[Path, list[float]]]] = {}
    for spec in specs:
        eye = None
        rest = spec
        for e in ("left", "right"):
            if spec.startswith(e + ":"):
                eye, rest = e, spec[len(e) + 1 :]
        folder, sep, xyz = rest.rpartition("=")
        try:
            mm = [float(v) for v in xyz.split(",")]
        except ValueError:
            mm = []
        if not sep or not folder or len(mm) != 3 or not all(math.isfinite(v) for v in mm):
            raise InputError(
                f"--stage {spec!r} is not FOLDER=X,Y,Z",
                "give the capture folder and the stage move in mm, e.g. --stage moved/=3,0,0",
            )
        if eye is None:
            if len(eyes) > 1:
                raise InputError(
                    f"--stage {spec!r} does not say which eye",
                    "with two eyes, prefix it with left: or right:",
                )
            eye = eyes[0]
        if eye not in eyes:
            raise InputError(
                f"--stage {spec!r} is for the {eye} eye, but no --pattern is for it",
                f"the patterns are for: {', '.join(eyes)}",
            )
        if not Path(folder).is_dir():
            raise InputError(f"--stage folder {folder!r} does not exist", "check the path")
        out.setdefault(eye, []).append((Path(folder), [v * 1e-3 for v in mm]))
    return out


def _unmeasured_offset_note(base) -> dict:  # noqa: ANN001
    """What an unmeasured camera offset can do, from the profile's eye relief."""
    from vrkit.calibration.viewpoint import ARCMIN, CORNEA_TO_PUPIL_M

    per_m = [f"{1e-3 / d / ARCMIN:.1f} arcmin at {d:g} m" for d in (1.0, 2.0)]
    text = (
        "each mm of camera offset moves the lens's directions by 1 mm / image distance ("
        + ", ".join(per_m)
        + ", none for a collimated image)"
    )
    if base.eye_relief_m is not None:
        z = base.eye_relief_m + CORNEA_TO_PUPIL_M
        text += (
            f" and an edge the lens's stop sets by up to {math.degrees(1e-3 / z):.1f} deg "
            f"(stop ~{z * 1e3:.0f} mm from the eye by the profile's eye relief)"
        )
    return {
        "measured": False,
        "note": "one camera position: the camera is taken at the eye point",
        "sensitivity": text,
    }


def _viewpoint(args, stages, pattern, camera, base, obs, dense, tag):  # noqa: ANN001
    """Measure the camera's offset from the eye point (None without --stage)."""
    import numpy as np

    from vrkit.calibration.fit import _rotation, fit_lens
    from vrkit.calibration.graycode import decode_captures
    from vrkit.calibration.viewpoint import CORNEA_TO_PUPIL_M, StageSet, measure_viewpoint
    from vrkit.core.errors import DataError

    if not stages:
        print(
            "camera offset from the eye point: not measured (one camera position; the camera "
            "is taken to sit at the eye point - add --stage captures to measure it)"
        )
        print("  " + _unmeasured_offset_note(base)["sensitivity"])
        return None, []
    if args.stop_to_eye is not None:
        stop_to_eye = args.stop_to_eye * 1e-3
    elif base.eye_relief_m is not None:
        stop_to_eye = base.eye_relief_m + CORNEA_TO_PUPIL_M
    else:
        raise DataError(
            f"profile {base.name!r} has no eye relief: the eye point's distance behind the "
            "lens stop is unknown",
            "give --stop-to-eye MM",
        )
    green = next((m for m in dense if m.channel == 1 and m.contrast is not None), None)
    if green is None:
        raise DataError(
            "--stage needs Gray-code captures lighting green at the base position",
            "make the pattern with `vrkit calibrate pattern --kinds graycode`",
        )
    sets = []
    for folder, offset in stages:
        print(f"stage position {folder} ({', '.join(f'{v * 1e3:+.2f}' for v in offset)} mm):")
        maps = decode_captures(folder, pattern, camera.image_size, progress=True)
        g = next((m for m in maps if m.channel == 1 and m.contrast is not None), None)
        if g is None or not g.valid.any():
            problems = "; ".join(p for m in maps for p in m.problems) or "no valid pixels"
            raise DataError(
                f"the green Gray-code captures in {str(folder)!r} cannot be decoded ({problems})",
                "capture the same pattern there",
            )
        sets.append(StageSet(str(folder), np.asarray(offset), g, g.contrast))
    base_set = StageSet("base", np.zeros(3), green, green.contrast)
    # The camera-view lens (free-form: any lens) carries the parallax; a refit from the eye
    # point then gives the rotation the stop is placed with.
    kw = {"outlier_arcmin": args.outlier_arcmin, "grid_knots": args.grid_knots}
    cam_fit = fit_lens(obs, camera, pattern.panel, "grid", **kw)
    vp = measure_viewpoint(cam_fit, pattern.panel, camera, base_set, sets, stop_to_eye)
    eye_fit = fit_lens(obs, camera, pattern.panel, "grid", viewpoint=vp, **kw)
    vp = measure_viewpoint(
        cam_fit,
        pattern.panel,
        camera,
        base_set,
        sets,
        stop_to_eye,
        R_eye_cam=_rotation(eye_fit.rotation_vector),
    )
    print("\n".join(vp.lines()))
    return vp, [(s.offset_m, s.contrast) for s in sets]


def _overlap(measured: dict, profile: dict, valid: bool) -> dict:
    """Measured binocular overlap (both eyes' FOV through the lens) beside the predicted one."""
    from vrkit.calibration.fovmeasure import binocular_overlap_deg
    from vrkit.measure.fov import fov_report
    from vrkit.optics.profile import profile_from_dict

    left, right = measured.get("left"), measured.get("right")
    got = None if left is None or right is None else binocular_overlap_deg(left, right)
    if got is not None and not math.isfinite(got):
        got = None  # an inner edge not measured (camera offset): say so, no number
    predicted = None
    if valid:
        predicted = float(fov_report(profile_from_dict(profile))["binocular_overlap"])
    print(
        "binocular overlap: measured "
        + (
            "not measured (no Gray-code flats, or an inner edge no camera position saw)"
            if got is None
            else f"{got:.2f} deg"
        )
        + (f", profile predicts {predicted:.2f} deg" if predicted is not None else "")
    )
    return {"measured_overlap_deg": got, "predicted_overlap_deg": predicted}


def _lens_eye(args, captures, pattern, camera, base, profile, models, rule, rep, tag, stages):  # noqa: ANN001
    """Fit one eye; returns (profile with its lens, report, refusal or None, measured FOV)."""
    from vrkit.calibration.checks import check_camera_fit
    from vrkit.calibration.export import profile_with_fit, to_cardboard, to_mesh_json, to_openhmd
    from vrkit.calibration.fit import compare_models, fit_lens
    from vrkit.calibration.report import comparison_lines, fit_report, text_summary, write_heatmap
    from vrkit.core.errors import DataError, InputError, ProfileError
    from vrkit.core.outputs import write_json
    from vrkit.core.progress import progress_bar

    pre = f"{tag}_" if tag else ""
    obs, verdicts, dense = _observations(captures, args.dense_step, pattern, camera)
    vp, stage_views = _viewpoint(args, stages, pattern, camera, base, obs, dense, tag)
    fits = []
    bar = progress_bar(models, desc="fitting", unit="model")
    for m in bar:
        bar.set_postfix_str(m)
        fits.append(
            fit_lens(
                obs,
                camera,
                pattern.panel,
                m,
                outlier_arcmin=args.outlier_arcmin,
                grid_knots=args.grid_knots,
                viewpoint=vp,
            )
        )
    for f in fits:
        print("\n".join(text_summary(f, rule)))
        write_heatmap(f, rep / f"heatmap_{pre}{f.name}.png", rule)
    rows = compare_models(fits, rule)
    if len(fits) > 1:
        print("model comparison (lower BIC over all features is better; use an acceptable one):")
        print("\n".join(comparison_lines(rows)))
    best = fits[0]
    profile = profile_with_fit(profile, best, pattern.panel, args.name)
    verdict = best.verdict(rule)
    refusal = None
    camera_fit = check_camera_fit(best, camera)
    problems = [camera_fit.message] if not camera_fit.ok else []  # the specific one first
    if not verdict.acceptable:
        problems.append(f"the {best.name} fit is not acceptable ({'; '.join(verdict.reasons)})")
    if problems:
        refusal = "; ".join(problems)
    exports: dict[str, object] = {}
    for key, fn in (("openhmd", to_openhmd), ("cardboard", to_cardboard)):
        try:
            exports[key] = fn(best, pattern.panel)
        except DataError as exc:
            exports[key] = {"refused": str(exc)}
            log.info("%s export: %s", key, exc)
        else:
            write_json(rep / f"{pre}{key}.json", exports[key])
    try:
        mesh = to_mesh_json(profile)
    except (ProfileError, InputError) as exc:
        log.warning("mesh export failed: %s", exc)
    else:
        write_json(rep / "mesh.json", mesh, indent=None)
    fov, fov_measured = _fov_in_report(
        dense, camera, best, base, pattern.panel, rep, pre, vp, stage_views
    )
    report = {
        "eye": pattern.panel.eye,
        "captures_dir": str(captures),
        "lens_separation_m": profile["optics"]["lens_separation_m"],
        "fov_measured": fov_measured,
        "viewpoint": (
            {"measured": True, **vp.to_dict()} if vp is not None else _unmeasured_offset_note(base)
        ),
        "captures": [v.to_dict() for v in verdicts],
        "dense_maps": [m.to_dict() for m in dense],
        "fits": [fit_report(f) for f in fits],
        "comparison": rows,
        "acceptance_rule": rule.to_dict(),
        "exports": exports,
        "camera_fit": camera_fit.to_dict(),
    }
    return profile, report, refusal, fov


def _fov_in_report(dense, camera, fit, base, panel, rep: Path, pre="", vp=None, views=()):  # noqa: ANN001
    """FOV through the lens from the green dense map's full-on / full-off, with its plot.

    Returns:
        ``(MeasuredFov or None, its report dict or None)``.
    """
    import cv2

    from vrkit.calibration.fit import R_EYE_CAM_NOMINAL
    from vrkit.calibration.fovmeasure import lens_axis_rotation, measure_fov, plot_measured_fov
    from vrkit.measure.fov import fov_report

    green = next((m for m in dense if m.channel == 1 and m.contrast is not None), None)
    if green is None:
        return None, None
    R = lens_axis_rotation(fit, panel)
    fov = measure_fov(green.contrast, camera, R, viewpoint=vp, stage_views=views)
    eye = panel.eye
    predicted = fov_report(base)["eyes"][eye]
    plot_measured_fov(fov, predicted, rep / f"fov_contour{'_' + eye if pre else ''}.png", eye)
    print(fov.line(eye))
    rv = cv2.Rodrigues(R @ R_EYE_CAM_NOMINAL.T)[0].ravel().tolist()  # as the fit's vector
    return fov, {**fov.to_dict(), "predicted": predicted, "camera_rotation_vector_rad": rv}


def _observations(captures, dense_step: int, pattern, camera):  # noqa: ANN001
    """Dot / checkerboard observations and dense Gray-code ones, as the pattern has them."""
    import numpy as np

    from vrkit.calibration.fit import Observations
    from vrkit.calibration.graycode import decode_captures, dense_observations, structured_sets
    from vrkit.calibration.lens import measure_captures
    from vrkit.calibration.patterns import STRUCTURED_KINDS

    parts, verdicts, maps = [], [], []
    if any(f.kind not in STRUCTURED_KINDS for f in pattern.frames):
        obs, verdicts = measure_captures(captures, pattern, camera, progress=True)
        print(f"captures in {captures}:")
        for v in verdicts:
            print(v.line())
        parts.append(obs)
    if structured_sets(pattern):
        maps = decode_captures(captures, pattern, camera.image_size, progress=True)
        for m in maps:
            c = m.to_dict()
            print(
                f"  dense {c['frame_set']} [{c['channel']}]: {c['valid_pixels']} valid camera "
                "pixels"
            )
            for prob in m.problems:
                print(f"    problem: {prob}")
        parts.append(dense_observations(maps, dense_step))
    obs = Observations(
        np.concatenate([o.camera_px for o in parts]),
        np.concatenate([o.panel_px for o in parts]),
        np.concatenate([o.channel for o in parts]),
        np.concatenate([o.source for o in parts]),
    )
    return obs, verdicts, maps


def _bench(args: argparse.Namespace) -> int:
    from vrkit.calibration.bench import (
        BROWN_LENS,
        BenchConfig,
        bench_lines,
        binocular_lines,
        openhmd_truth,
        run_bench_eyes,
    )
    from vrkit.core.outputs import preflight

    preflight(args.out, folder=True)
    truth = {
        "profile": None,
        "brown_conrady": BROWN_LENS,
        "openhmd": openhmd_truth(args.profile) if args.truth == "openhmd" else None,
    }[args.truth]
    cfg = BenchConfig(profile=args.profile, noise=args.noise, seed=args.seed, true_lens=truth)
    run = run_bench_eyes(cfg, args.out, _split(args.model), args.eye, progress=True)
    both = run["binocular"] is not None
    for eye, res in run["results"].items():
        if both:
            print(f"--- {eye} eye ({res.out_dir}) ---")
        print("\n".join(bench_lines(res)))
    if both:
        print("\n".join(binocular_lines(run["binocular"])))
    print(f"wrote {Path(args.out) / 'bench.json'} and heat maps")
    return 0
