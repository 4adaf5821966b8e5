"""``vrkit track``: multi-camera head tracking (synthetic data, rig calibration, tracking runs).

Subcommands::

    vrkit track synth OUT [--arrangement outside-in|inside-out] [--target aruco|leds] ...
    vrkit track run --rig RIG --target TARGET --source SPEC --out poses.csv|json
    vrkit track calibrate-rig --board BOARD --source SPEC --out rig.json|camchain.yaml
        [--intrinsics CAM,...]
    vrkit track calibrate-rig --detections cam_0.json,cam_1.json --pattern acircles:8x11:0.04
        --image-size 1920x1080 --out rig.json        (OpenCV multi-view detection files)
    vrkit track convert-rig IN OUT                   (rig JSON <-> Kalibr camchain.yaml)
    vrkit track record --source SPEC --out DIR --frames N

A rig file may be vrkit's JSON or a Kalibr ``camchain.yaml`` wherever one is read or written
(docs/interop.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from vrkit.cli._args import int_range, nonneg_float, nonneg_int, positive_float, positive_int
from vrkit.core.errors import InputError

log = logging.getLogger("vrkit.track")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vrkit track`` and its subcommands."""
    p = subparsers.add_parser("track", help="multi-camera 6-DoF head tracking")
    sub = p.add_subparsers(dest="track_command", metavar="SUBCOMMAND", required=True)

    s = sub.add_parser("synth", help="render a synthetic multi-camera recording with truth")
    s.add_argument("out", help="output recording folder")
    s.add_argument("--arrangement", choices=["outside-in", "inside-out"], default="outside-in")
    s.add_argument("--target", choices=["aruco", "leds"], default="aruco",
                   help="outside-in target (inside-out uses the room marker map)")  # fmt: skip
    s.add_argument("--cameras", type=positive_int, default=4)
    s.add_argument("--width", type=int_range(16), default=640)
    s.add_argument("--height", type=int_range(16), default=480)
    s.add_argument("--frames", type=positive_int, default=120)
    s.add_argument("--fps", type=positive_float, default=60.0)
    s.add_argument("--amplitude", type=nonneg_float, default=1.0, help="motion scale (0 = static)")
    s.add_argument("--noise", type=nonneg_float, default=1.0, help="image noise, grey levels")
    s.add_argument("--blur-ms", type=nonneg_float, default=0.0, help="exposure for motion blur, ms")
    s.add_argument("--drop", action="append", default=[], metavar="CAM:FIRST-LAST",
                   help="camera index CAM delivers no frames FIRST..LAST (repeatable)")  # fmt: skip
    s.add_argument("--overwrite", action="store_true",
                   help="replace a recording already in OUT (its own files only)")  # fmt: skip
    s.set_defaults(func=_synth)

    r = sub.add_parser("run", help="track a target and write poses")
    r.add_argument("--rig", required=True,
                   help="rig JSON (vrkit track calibrate-rig) or Kalibr camchain.yaml")  # fmt: skip
    r.add_argument(
        "--target", required=True, help="target JSON, or a shipped one by name (vrkit data list)"
    )
    r.add_argument("--source", required=True,
                   help="rec:DIR | DIR | images:D0,D1.. | video:A,B.. | live:0,1..")  # fmt: skip
    r.add_argument("--out", required=True, help="poses .csv or .json")
    r.add_argument("--max-frames", type=nonneg_int, default=0)
    r.add_argument("--fps", type=positive_float, default=60.0, help="frame rate for image folders")
    r.add_argument("--threads", type=positive_int, default=2)
    r.add_argument("--no-roi", action="store_true", help="always search whole images")
    r.add_argument("--allow-outside", action="store_true",
                   help="let a recording read files outside its folder")  # fmt: skip
    r.set_defaults(func=_run)

    c = sub.add_parser("calibrate-rig", help="calibrate a camera rig from board views")
    c.add_argument(
        "--board",
        help="board file, shipped board (vrkit data list) or spec: checkerboard:9x6:0.025 "
        "(inner corners, or 10x7squares), charuco:9x7:0.035:0.026[:DICT] (squares), "
        "aruco:5x7:0.04:0.01[:DICT] (markers)",
    )
    c.add_argument("--source", help="frames: rec:DIR | images:D0,D1.. | ...")
    c.add_argument("--detections", metavar="F0,F1,..",
                   help="OpenCV multi-view detection files, one per camera (instead of "
                   "--board/--source)")  # fmt: skip
    c.add_argument("--pattern", help="with --detections: acircles|circles|chessboard:COLSxROWS:M")
    c.add_argument("--image-size", metavar="WxH[,WxH..]", help="with --detections: image sizes")
    c.add_argument("--out", required=True, help="rig JSON, or Kalibr camchain .yaml, to write")
    c.add_argument("--names", default="", help="camera names, comma separated")
    c.add_argument("--method", choices=["bundle", "opencv"], default="bundle",
                   help="own bundle adjustment or cv2.calibrateMultiview")  # fmt: skip
    c.add_argument("--fisheye", action="store_true", help="fisheye intrinsics")
    c.add_argument(
        "--intrinsics",
        default="",
        metavar="CAM0,CAM1,...",
        help="one camera file per camera (vrkit JSON or OpenCV FileStorage YAML/XML/JSON): "
        "keep these intrinsics and calibrate only the extrinsics",
    )
    c.add_argument("--mounting", choices=["world", "head"], default="world")
    c.add_argument("--refine-intrinsics", action="store_true",
                   help="refine pinhole intrinsics jointly in the bundle adjustment")  # fmt: skip
    c.add_argument("--rational", action="store_true",
                   help="OpenCV's rational pinhole model (k1..k6, p1, p2)")  # fmt: skip
    c.add_argument("--allow-outside", action="store_true",
                   help="let a recording read files outside its folder")  # fmt: skip
    c.set_defaults(func=_calibrate)

    cv = sub.add_parser("convert-rig", help="convert a rig: vrkit JSON <-> Kalibr camchain.yaml")
    cv.add_argument("src", help="rig .json or camchain .yaml")
    cv.add_argument("dst", help="rig .json or camchain .yaml to write")
    cv.add_argument("--mounting", choices=["world", "head"], default="world",
                    help="mounting of a rig read from a camchain")  # fmt: skip
    cv.set_defaults(func=_convert_rig)

    rec = sub.add_parser("record", help="record frames with timestamps from any source")
    rec.add_argument("--source", required=True)
    rec.add_argument("--out", required=True)
    rec.add_argument("--frames", type=positive_int, default=300)
    rec.add_argument("--fps", type=positive_float, default=60.0)
    rec.add_argument("--overwrite", action="store_true",
                     help="replace a recording already in --out (its own files only)")  # fmt: skip
    rec.add_argument("--allow-outside", action="store_true",
                     help="let a recording source read files outside its folder")  # fmt: skip
    rec.set_defaults(func=_record)


def _parse_drops(items: list[str], n_cams: int) -> dict[int, tuple[int, int]]:
    drops = {}
    for item in items:
        try:
            cam, rng = item.split(":")
            a, b = rng.split("-")
            drops[int(cam)] = (int(a), int(b))
        except ValueError as exc:
            raise InputError(f"--drop {item!r}: expected CAM:FIRST-LAST, e.g. 2:30-60") from exc
        if not 0 <= int(cam) < n_cams:
            raise InputError(f"--drop {item!r}: camera {cam} not in 0..{n_cams - 1}")
    return drops


def _synth(args: argparse.Namespace) -> int:
    from vrkit.tracking.scenarios import inside_out_rig, outside_in_rig
    from vrkit.tracking.synth import make_recording
    from vrkit.tracking.target import headset_aruco, headset_leds, room_marker_map

    if args.cameras < 1 or args.frames < 1:
        raise InputError(f"need >= 1 camera and frame, got {args.cameras}, {args.frames}")
    if args.arrangement == "outside-in":
        rig = outside_in_rig(args.cameras, args.width, args.height)
        target = headset_aruco() if args.target == "aruco" else headset_leds()
    else:
        rig = inside_out_rig(args.cameras, args.width, args.height)
        target = room_marker_map()
    from vrkit.core.outputs import preflight

    preflight(args.out, folder=True, option="OUT")
    blur_ns = int(args.blur_ms * 1e6)
    out = make_recording(
        args.out, rig, target, args.frames, args.fps, args.amplitude, args.noise,
        exposure_ns=blur_ns, subframes=5 if blur_ns else 1,
        dropouts=_parse_drops(args.drop, args.cameras), progress=True, overwrite=args.overwrite,
    )  # fmt: skip
    print(f"wrote {args.frames} frames x {args.cameras} cameras to {out} "
          f"(rig.json, target.json, truth in index.json)")  # fmt: skip
    print(f"try: vrkit track run --rig {out}/rig.json --target {out}/target.json "
          f"--source {out} --out {out}/poses.csv")  # fmt: skip
    return 0


def _run(args: argparse.Namespace) -> int:
    import time
    from array import array

    import numpy as np

    from vrkit.core import interrupts
    from vrkit.core.progress import progress_bar
    from vrkit.tracking.poses import PoseWriter
    from vrkit.tracking.record import RecordingSource
    from vrkit.tracking.sources import open_source
    from vrkit.tracking.target import Target
    from vrkit.tracking.tracker import Tracker, TrackerConfig, result_row

    if Path(args.out).suffix.lower() not in (".csv", ".json"):
        raise InputError(f"--out {args.out!r} must end in .csv or .json")
    from vrkit.core.outputs import preflight

    preflight(args.out)
    rig = _load_rig(args.rig)
    target = Target.load(args.target)
    source = open_source(args.source, fps=args.fps, max_frames=args.max_frames,
                         allow_outside=args.allow_outside)  # fmt: skip
    truth = isinstance(source, RecordingSource) and source.truth(0) is not None
    # Rows stream to the pose file (PoseWriter) and only counts stay in memory: a long run's
    # memory stays flat, and an interrupt (Ctrl-C, SIGTERM) ends the loop at a frame
    # boundary and keeps the rows done.
    counts = {"tracking": 0, "degraded": 0, "lost": 0}
    lat = array("d")  # per-frame latency, ms: 8 bytes a frame, for the median and p99
    err_sq = np.zeros(2)
    n_err = 0
    events: list[str] = []
    cfg = TrackerConfig(threads=args.threads, use_roi=not args.no_roi)
    total = len(source) if isinstance(source, RecordingSource) else None
    with (
        source,
        Tracker(rig, target, cfg) as tracker,
        PoseWriter(args.out, truth=truth) as writer,
        interrupts.deferred(),
    ):
        for fs in progress_bar(source, total=total, desc="track", unit="frame"):
            t0 = time.perf_counter_ns()
            r = tracker.process(fs)
            lat.append((time.perf_counter_ns() - t0) * 1e-6)
            row = result_row(r, source.truth(fs.index) if truth else None)
            writer.write(row)
            # A frame tracked with images left out (out of sync, wrong size) is degraded.
            kind = "lost" if r.status != "tracking" else "degraded" if r.degraded else "tracking"
            counts[kind] += 1
            if "err_mm" in row:
                err_sq += (row["err_mm"] ** 2, row["err_deg"] ** 2)
                n_err += 1
            events += [f"frame {r.index}: {e}" for e in r.events]
            if interrupts.requested() or (args.max_frames and writer.rows >= args.max_frames):
                break
        # runs of left-out frames still open at the end, with their frame ranges
        events += [f"end of run: {e}" for e in tracker.finish()]
        n = writer.rows
        if not n:
            writer.discard()
            raise InputError(f"source {args.source!r} delivered no frames")
        n_track, n_degraded, n_lost = counts["tracking"], counts["degraded"], counts["lost"]
        summary = {
            "frames": n,
            "tracked": n_track,
            "degraded": n_degraded,
            "lost": n_lost,
            "latency_ms_median": float(np.median(lat)),
            "latency_ms_p99": float(np.percentile(lat, 99)),
            "events": events,
        }
        if interrupts.requested():
            summary["interrupted"] = True
        if n_err:
            summary["rms_error_mm"] = float(np.sqrt(err_sq[0] / n_err))
            summary["rms_error_deg"] = float(np.sqrt(err_sq[1] / n_err))
        writer.close(summary)
    if interrupts.requested():
        print(f"interrupted: {n} frames done, their poses written to {args.out}",
              file=sys.stderr)  # fmt: skip
        interrupts.check()
    print(f"{n} frames: {n_track} tracked, {n_degraded} degraded, {n_lost} lost; per-frame "
          f"latency median {summary['latency_ms_median']:.2f} ms, p99 "
          f"{summary['latency_ms_p99']:.2f} ms")  # fmt: skip
    for ev in events:
        print(f"  {ev}")
    if "rms_error_mm" in summary:
        print(f"error vs truth (per-frame solve): RMS {summary['rms_error_mm']:.3f} mm, "
              f"{summary['rms_error_deg']:.4f} deg")  # fmt: skip
    print(f"poses written to {args.out}")
    return 0


def _is_camchain(path: str) -> bool:
    return Path(path).suffix.lower() in (".yaml", ".yml")


def _load_rig(path: str, mounting: str = "world"):
    """A rig from vrkit's JSON or a Kalibr camchain.yaml (by suffix)."""
    from vrkit.core.errors import ProfileError
    from vrkit.tracking.camera import Rig

    if not _is_camchain(path):
        return Rig.load(path)
    from vrkit.interop._io import read_bytes
    from vrkit.interop.kalibr import read_camchain, rig_from_camchain

    text = read_bytes(path, "Kalibr camchain").decode("utf-8", "replace")
    try:
        return Rig.from_dict(rig_from_camchain(read_camchain(text), mounting))
    except ProfileError as exc:
        raise ProfileError(f"Kalibr camchain {path!r}: {exc.message}", exc.hint) from None


def _save_rig(rig, path: str) -> list[str]:  # noqa: ANN001 (a tracking Rig)
    """Write a rig as vrkit JSON or a Kalibr camchain.yaml (by suffix); the notes."""
    from vrkit.interop._io import write_atomic, write_json
    from vrkit.interop.kalibr import camchain_from_rig, write_camchain

    if not _is_camchain(path):
        write_json(path, rig.to_dict())
        return []
    data, notes = camchain_from_rig(rig.to_dict())
    write_atomic(path, write_camchain(data))
    return notes


def _convert_rig(args: argparse.Namespace) -> int:
    from vrkit.core.outputs import preflight

    preflight(args.dst, option="DST")
    rig = _load_rig(args.src, args.mounting)
    for note in _save_rig(rig, args.dst):
        log.info("note: %s", note)
    print(f"wrote {args.dst}: {len(rig)} cameras from {args.src}")
    return 0


def _detections(args: argparse.Namespace):
    """Board and detections from OpenCV multi-view detection files."""
    from vrkit.interop.opencv_multiview import PointPattern, read_detections
    from vrkit.tracking.rigcal import Detections

    if args.board or args.source:
        raise InputError("give --detections or --board/--source, not both")
    if not args.pattern or not args.image_size:
        raise InputError(
            "--detections needs --pattern (e.g. acircles:8x11:0.04) and --image-size (e.g. "
            "1920x1080): the files hold neither"
        )
    pattern = PointPattern.parse(args.pattern)
    sizes = []
    for item in args.image_size.split(","):
        try:
            w, h = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise InputError(f"--image-size {item!r} is not WIDTHxHEIGHT") from None
        sizes.append((w, h))
    files = [f for f in args.detections.split(",") if f]
    sizes, views, kept = read_detections(files, pattern, sizes)
    log.info("read %d views from %d detection files", len(kept), len(files))
    names = [Path(f).stem for f in files]
    return pattern, Detections(sizes, views), names


def _calibrate(args: argparse.Namespace) -> int:
    from vrkit.core.outputs import preflight
    from vrkit.tracking.rigcal import calibrate_rig, detect_views
    from vrkit.tracking.sources import open_source
    from vrkit.vision.board import load_board
    from vrkit.vision.camera import load_camera

    preflight(args.out)
    intrinsics = [load_camera(f) for f in args.intrinsics.split(",") if f] or None
    if args.detections:
        board, det, names = _detections(args)
        names = [s for s in args.names.split(",") if s] or names
    else:
        if not (args.board and args.source):
            raise InputError("calibrate-rig needs --board and --source (or --detections)")
        board = load_board(args.board)
        source = open_source(args.source, allow_outside=args.allow_outside)
        with source:
            images = [fs.images for fs in source]
        if not images:
            raise InputError(f"source {args.source!r} delivered no frames")
        names = [s for s in args.names.split(",") if s] or source.camera_names
        det = None
    if intrinsics is not None and len(intrinsics) != len(names):
        raise InputError(
            f"--intrinsics gives {len(intrinsics)} camera files for {len(names)} cameras "
            f"({', '.join(names)})",
            "give one camera file per camera, in the source's order",
        )
    if det is None:
        det = detect_views(board, images, progress=True)
    cal = calibrate_rig(board, det, names=names, intrinsics=intrinsics,
                        model="fisheye" if args.fisheye else "pinhole",
                        method=args.method, mounting=args.mounting,
                        refine_intrinsics=args.refine_intrinsics,
                        rational=args.rational, progress=True)  # fmt: skip
    for note in _save_rig(cal.rig, args.out):
        log.info("note: %s", note)
    rep = cal.report
    print(f"calibrated {len(names)} cameras from {rep['views_used']} shared views "
          f"({rep['method']}); rig written to {args.out}")  # fmt: skip
    for name in names:
        intr = rep["intrinsics_rms_px"].get(name)
        intr_text = "intrinsics given" if intr is None else f"intrinsics RMS {intr:.3f} px"
        print(f"  {name}: {intr_text}, rig RMS "
              f"{rep['camera_rms_px'].get(name, float('nan')):.3f} px")  # fmt: skip
    for pair, rms in rep["pair_rms_px"].items():
        print(f"  pair {pair}: RMS {rms:.3f} px")
    return 0


def _record(args: argparse.Namespace) -> int:
    from vrkit.core.outputs import preflight
    from vrkit.tracking.record import record
    from vrkit.tracking.sources import open_source

    preflight(args.out, folder=True)
    with open_source(args.source, fps=args.fps, max_frames=args.frames,
                     allow_outside=args.allow_outside) as source:  # fmt: skip
        n = record(source, args.out, args.frames, args.overwrite)
    print(f"recorded {n} frame sets to {args.out}")
    return 0
