"""``vrkit run SCENE``: show a scene on a backend."""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path

from vrkit.cli._args import float_range, positive_float, positive_int
from vrkit.core import interrupts
from vrkit.core.errors import InputError

log = logging.getLogger("vrkit")


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)[xX](\d+)", text)
    if not m or int(m.group(1)) < 16 or int(m.group(2)) < 16:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT of at least 16x16, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    p = sub.add_parser(
        "run",
        help="render a scene on a backend (OpenXR, simulator, panel, or headless to files)",
        description="Render a scene. --backend auto tries OpenXR, then the simulator window, "
        "then headless (EGL to files), and says why it skipped each.",
    )
    p.add_argument(
        "scene",
        nargs="?",
        help="a shipped scene by name (room, optics-pattern, latency-gradient: see --list), a "
        "scene file defining build_scene(), or a glTF 2.0 model (.gltf, .glb) to show in front "
        "of the viewer",
    )
    p.add_argument("--list", action="store_true", help="list the shipped scenes and exit")
    p.add_argument("--backend", default="auto", help="auto|openxr|sim|display|headless")
    p.add_argument(
        "--frames", type=positive_int, help="stop after N frames (headless default: 120)"
    )
    p.add_argument(
        "--out",
        type=Path,
        help="output folder for run.json (any backend) and the headless frames "
        "(headless default: out/SCENE)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous run in --out (removes its run.json, frames and video only); "
        "without it a folder that holds a run is refused (the default out/SCENE is replaced)",
    )
    p.add_argument("--video", action="store_true", help="headless: also write panel.mp4")
    p.add_argument("--profile", help="headset profile name or JSON file (see `vrkit profile list`)")
    p.add_argument("--pose-source", help="scripted|static|replay:FILE|tracker[:ARGS]")
    p.add_argument("--eye-size", type=_size, help="eye render size WIDTHxHEIGHT")
    p.add_argument(
        "--ipd",
        type=float_range(0.0, 0.2),
        help="interpupillary distance, metres (default: the profile's, or 0.063 without one)",
    )
    p.add_argument(
        "--no-distortion", action="store_true", help="show the panel without lens pre-distortion"
    )
    p.add_argument(
        "--fps", type=positive_float, default=60.0, help="frame rate without a display clock"
    )
    p.add_argument(
        "--msaa",
        type=int,
        metavar="N",
        help="anti-aliasing samples per pixel for the eye images: 0 (off), 2, 4, 8, 16 "
        "(default: 4 where the GPU supports it)",
    )
    p.add_argument(
        "--warp",
        default="rotation",
        metavar="MODE",
        help="timewarp on panels vrkit composes (headless, sim, display): off, rotation "
        "(default: the pose is sampled again just before the distortion pass and the eye "
        "images rotated to it), rotation+scanline (blended down the panel's scan-out), "
        "position (rotation and head translation, from the eye depth buffer)",
    )
    p.add_argument("--monitor", help="display backend: monitor name or index (see `vrkit doctor`)")
    p.add_argument(
        "--no-vsync", action="store_true", help="windowed backends: do not wait for vblank"
    )
    p.add_argument(
        "--openxr-gl",
        choices=("auto", "egl", "window", "glx"),
        default="auto",
        help="OpenXR: GL context and binding (egl: headless, XR_MNDX_egl_enable; glx: a window "
        "with a GLX context, XR_KHR_opengl_enable, e.g. SteamVR; auto: egl when offered)",
    )
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.set_defaults(func=run)


def _list_scenes() -> int:
    """Print the shipped scenes, one a line: name and the first line of its docstring."""
    import ast

    from vrkit.resources import shipped_files

    for name, path in shipped_files("scene").items():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        print(f"{name:<18} {doc.splitlines()[0] if doc else ''}".rstrip())
    return 0


def run(args: argparse.Namespace) -> int:
    """Load the scene, open a backend (with fallback) and run the frame loop."""
    from vrkit.app import load_scene, run_scene
    from vrkit.backends.base import RunConfig
    from vrkit.backends.registry import open_backend
    from vrkit.poses.factory import make_pose_source
    from vrkit.render.targets import MSAA_CHOICES

    if args.list:
        return _list_scenes()
    if not args.scene:
        raise InputError("give a scene to run", "`vrkit run --list` shows the shipped scenes")
    if args.msaa is not None and args.msaa not in MSAA_CHOICES:
        raise InputError(
            f"--msaa must be one of {', '.join(map(str, MSAA_CHOICES))}, got {args.msaa}"
        )
    from vrkit.render.panel import check_warp_mode

    check_warp_mode(args.warp)
    if args.out is not None:  # refuse an unusable or used folder before any work
        from vrkit.backends.runrecord import prepare_out_dir

        prepare_out_dir(args.out, args.overwrite, create=False)
    scene = load_scene(args.scene)
    profile = None
    if args.profile:
        from vrkit.optics.profile import load_profile

        profile = load_profile(args.profile)
    out = args.out
    overwrite = args.overwrite
    if out is None and args.backend in ("auto", "headless"):
        out = Path("out") / Path(args.scene).stem
        overwrite = True  # the default folder holds the latest run of the scene
    config = RunConfig(
        frames=args.frames,
        out_dir=out,
        video=args.video,
        profile=profile,
        pose_source=make_pose_source(args.pose_source),
        eye_size=args.eye_size,
        ipd_m=args.ipd,
        distortion=not args.no_distortion,
        vsync=not args.no_vsync,
        monitor=args.monitor,
        fps=args.fps,
        msaa=args.msaa,
        warp=args.warp,
        extra={"openxr_gl": args.openxr_gl},
        overwrite=overwrite,
    )
    backend = open_backend(args.backend, config)
    progress = None
    if backend.capabilities.writes_files:
        from vrkit.core.progress import progress_bar

        total = getattr(backend, "frames", None)
        progress = progress_bar(total=total, unit="frame", desc=f"{scene.name} ({backend.name})")

    def on_frame(_frame: object) -> None:
        if progress is not None:
            progress.update(1)
        interrupts.check()  # a Ctrl-C / SIGTERM ends the run here, between two frames

    # Signals during the loop and the close only ask for a stop: the frame in flight is
    # finished and recorded, and run.json is written to match the frames on disk.
    try:
        with interrupts.deferred():
            summary = run_scene(backend, scene, on_frame=on_frame)
    finally:
        if progress is not None:
            progress.close()
        with interrupts.deferred():
            backend.close()
    interrupts.check()
    summary = {"scene": scene.name, "backend": backend.name, **summary, **scene.info}
    if args.json:
        print(json.dumps(summary))
    else:
        where = f" to {summary['out_dir']}" if summary.get("out_dir") else ""
        print(
            f"rendered {summary['frames']} frames of {scene.name} on {backend.name}{where} "
            f"in {summary['wall_s']:.1f} s"
        )
    return 0
