"""``vrkit fov``: field of view from a profile, a runtime, a views file or an hmdq file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fov`` subcommand."""
    p = sub.add_parser(
        "fov",
        help="field of view per eye, total and binocular overlap",
        description="Field of view from a profile's panel edges through its lens (Cardboard "
        "SDK definition, clamped to the lens limits; unclamped values shown too), from a "
        "running OpenXR runtime's views (--openxr), from a views JSON file (--views), from an "
        "hmdq output file (--hmdq, with hmdq's own figures beside vrkit's), or several of these "
        "side by side (--compare).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--profile", help="shipped profile name or path to a .json file")
    src.add_argument(
        "--openxr", action="store_true", help="read the views of a running OpenXR runtime"
    )
    src.add_argument("--views", type=Path, help="views JSON (one view per eye, OpenXR units)")
    src.add_argument("--hmdq", type=Path, help="hmdq output JSON (risa2000/hmdq, version 5)")
    src.add_argument(
        "--compare",
        nargs="+",
        metavar="HEADSET",
        help="profiles, views files or hmdq files to set side by side",
    )
    src.add_argument(
        "--measured",
        type=Path,
        metavar="CAPTURES",
        help="measure one eye's FOV through the lens from Gray-code captures (with --pattern, "
        "--camera; docs/calibration.md)",
    )
    p.add_argument("--pattern", type=Path, help="with --measured: pattern.json (or its folder)")
    p.add_argument("--camera", type=Path, help="with --measured: the measuring camera file")
    p.add_argument(
        "--camera-rotation",
        metavar="RX,RY,RZ",
        help="with --measured: the camera's rotation about looking down the lens axis, a "
        "rotation vector in radians (report.json of `vrkit calibrate lens`: "
        "camera_rotation_vector_rad); default 0,0,0",
    )
    p.add_argument(
        "--from-report",
        type=Path,
        metavar="REPORT",
        help="with --measured: report.json of `vrkit calibrate lens` for these captures: its "
        "camera rotation and, when it measured one (--stage), the camera's offset from the eye "
        "point, so the FOV is judged from the eye point",
    )
    p.add_argument(
        "--predicted",
        default="generic-1440x1600",
        help="with --measured: profile whose predicted FOV is shown beside the measurement",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of the fields on an angular grid")
    p.set_defaults(func=run)


def openxr_views() -> list:
    """Views located by a running OpenXR runtime (``vrkit.backends.openxr.info``).

    Raises:
        BackendUnavailableError: The OpenXR backend or a runtime is not available.
    """
    from vrkit.core.errors import BackendUnavailableError, VrkitError

    try:
        from vrkit.backends.openxr import info
    except (ImportError, OSError) as exc:
        raise BackendUnavailableError(
            f"OpenXR is not available: {exc}",
            hint="install pyopenxr and start an OpenXR runtime (see `vrkit doctor`)",
        ) from None
    locate = getattr(info, "locate_views", None)
    if locate is None:
        raise BackendUnavailableError(
            "OpenXR is not available: this vrkit has no vrkit.backends.openxr.info.locate_views",
            hint="update vrkit, or use --profile",
        )
    try:
        return locate()
    except VrkitError:
        raise
    except Exception as exc:  # a runtime error from the loader: say so in one line
        raise BackendUnavailableError(
            f"OpenXR views could not be located: {type(exc).__name__}: {exc}",
            hint="is an OpenXR runtime running? (see `vrkit doctor`)",
        ) from exc


def _views_report(views: list, source: str) -> dict[str, Any]:
    from vrkit.interop.views import views_to_json
    from vrkit.measure.fov import fov_report_from_views

    report = fov_report_from_views(views)
    report["from"] = source
    report["views"] = views_to_json(views)["views"]
    return report


def _hmdq_report(path: Path) -> dict[str, Any]:
    from vrkit.interop.hmdq import hmdq_figures, load_hmdq

    got = load_hmdq(path)
    report = _views_report(got["views"], f"hmdq {path.name} ({got['subsystem']})")
    computed = hmdq_figures(got["views"])
    report["hmdq"] = {
        "computed": computed,
        "recorded": got["recorded"],
        "hidden_area_mesh": got["hidden_area_mesh"],
    }
    return report


def _headset(spec: str) -> Any:
    """A compare entry from a profile name, a profile / views / hmdq file."""
    from vrkit.interop.formats import sniff_json
    from vrkit.interop.hmdq import is_hmdq
    from vrkit.interop.views import is_views, load_views
    from vrkit.measure.compare import Headset
    from vrkit.measure.fov import fov_report
    from vrkit.optics.profile import load_profile

    path = Path(spec)
    if path.is_file() and path.suffix.lower() == ".json":
        data = sniff_json(path)
        if is_hmdq(data):
            report = _hmdq_report(path)
            rec = report["hmdq"]["recorded"].get("fov_tot")
            figs = rec if rec else report["hmdq"]["computed"]["fov_tot"]
            return Headset(path.name.removesuffix(".json"), report, figs)
        if is_views(data):
            return Headset(path.stem, _views_report(load_views(path), path.name))
    prof = load_profile(spec)
    return Headset(prof.name, fov_report(prof))


def _format_hmdq(report: dict[str, Any]) -> str:
    """Hmdq's figures beside vrkit's, where the definitions differ."""
    h = report["hmdq"]
    comp = h["computed"]["fov_tot"]
    rec = h["recorded"].get("fov_tot", {})
    lines = ["hmdq's figures (hmdq's definitions; computed here / recorded in the file):"]

    def row(label: str, key: str, vrkit: str) -> None:
        recorded = f"{rec[key]:7.2f}" if key in rec else "      -"
        lines.append(f"  {label:18} {comp[key]:7.2f} / {recorded}   vrkit: {vrkit}")

    e = report["eyes"]
    row("total horizontal", "fov_hor", f"{report['total_horizontal']:.2f} (same definition)")
    row("overlap", "overlap", f"{report['binocular_overlap']:.2f} (same definition)")
    row(
        "vertical",
        "fov_ver",
        f"{report['binocular_vertical']:.2f} (seen by both eyes; hmdq: mean of the eyes)",
    )
    row(
        "diagonal",
        "fov_diag",
        f"{e['left']['diagonal']:.2f} / {e['right']['diagonal']:.2f} per eye (hmdq: across "
        "both eyes)",
    )
    if h["hidden_area_mesh"]:
        lines.append(
            "  the file has a hidden-area mesh: hmdq's recorded figures use it, vrkit's and the "
            "computed ones use the full frustum"
        )
    return "\n".join(lines)


def _measured(args: argparse.Namespace) -> int:
    """``vrkit fov --measured CAPTURES``: one eye's FOV through the lens."""
    import numpy as np

    from vrkit.calibration.fit import _rotation
    from vrkit.calibration.fovmeasure import (
        contrast_from_captures,
        measure_fov,
        plot_measured_fov,
    )
    from vrkit.calibration.patterns import PatternSet
    from vrkit.core.errors import InputError
    from vrkit.measure.fov import fov_report
    from vrkit.optics.profile import load_profile
    from vrkit.vision.camera import load_camera

    if args.pattern is None or args.camera is None:
        raise InputError("--measured needs --pattern and --camera")
    pattern = PatternSet.load(args.pattern)
    camera = load_camera(args.camera)
    rv = np.zeros(3)
    if args.camera_rotation:
        try:
            rv = np.array([float(v) for v in args.camera_rotation.split(",")], dtype=np.float64)
        except ValueError:
            rv = np.zeros(0)
        if rv.shape != (3,) or not np.all(np.isfinite(rv)):
            raise InputError(
                f"--camera-rotation must be three numbers RX,RY,RZ (radians), got "
                f"{args.camera_rotation!r}"
            )
    eye = pattern.panel.eye
    vp = None
    if args.from_report:
        rv, vp = _from_report(args.from_report, eye, args.camera_rotation)
    contrast = contrast_from_captures(args.measured, pattern, camera)
    fov = measure_fov(contrast, camera, _rotation(rv), viewpoint=vp)
    predicted = fov_report(load_profile(args.predicted))["eyes"][eye]
    report: dict[str, Any] = {
        "source": "measured",
        "eye": eye,
        "measured": fov.to_dict(),
        "predicted": {"profile": args.predicted, **predicted},
    }
    if args.plot:
        plot_measured_fov(fov, predicted, args.plot, eye)
        report["plot"] = str(args.plot)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    p = predicted

    def deg(v: float) -> str:
        return f"{v:6.2f} deg" if np.isfinite(v) else "not measured"

    where = "from the eye point" if vp is not None else "camera at the eye point"
    print(f"{eye} eye, measured through the lens, {where} (vs profile {args.predicted}):")
    print(f"  left  {deg(fov.left)}   (profile {-p['left']:6.2f})")
    print(f"  right {deg(fov.right)}   (profile {p['right']:6.2f})")
    print(f"  up    {deg(fov.up)}   (profile {p['up']:6.2f})")
    print(f"  down  {deg(fov.down)}   (profile {-p['down']:6.2f})")
    print(f"  horizontal {deg(fov.horizontal)}, vertical {deg(fov.vertical)}")
    if np.isfinite(fov.solid_angle_sr):
        print(f"  solid angle {fov.solid_angle_sr:.4f} sr")
    else:
        print("  solid angle not measured (an edge the camera could not see from here)")
    return 0


def _from_report(path: Path, eye: str, rotation: str | None) -> tuple[Any, Any]:
    """Camera rotation vector and viewpoint (or None) of ``eye`` in a calibration report."""
    from vrkit.calibration.report import read_lens_report
    from vrkit.core.errors import InputError

    if rotation:
        raise InputError("give --camera-rotation or --from-report, not both")
    return read_lens_report(path, eye)


def run(args: argparse.Namespace) -> int:
    """Handle ``vrkit fov``."""
    from vrkit.core.outputs import preflight_args

    preflight_args(args, files=("plot",), folders=())
    from vrkit.measure.fov import format_report, fov_report

    if args.measured:
        return _measured(args)
    if args.compare:
        from vrkit.measure.compare import compare_rows, format_compare, plot_compare

        headsets = [_headset(spec) for spec in args.compare]
        if args.plot:
            plot_compare(headsets, args.plot)
        if args.json:
            out: dict[str, Any] = {"headsets": compare_rows(headsets)}
            if args.plot:
                out["plot"] = str(args.plot)
            print(json.dumps(out, indent=2))
        else:
            print(format_compare(headsets))
        return 0
    if args.openxr:
        report = _views_report(openxr_views(), "openxr")
    elif args.views:
        from vrkit.interop.views import load_views

        report = _views_report(load_views(args.views), args.views.name)
    elif args.hmdq:
        report = _hmdq_report(args.hmdq)
    else:
        from vrkit.optics.profile import load_profile

        report = fov_report(load_profile(args.profile))
    if args.plot:
        from vrkit.measure.fov import plot_fov

        plot_fov(report, args.plot)
        report["plot"] = str(args.plot)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        text = format_report(report)
        if "from" in report:  # name the views' origin in the title line
            title, _, rest = text.partition("\n")
            label = "(" + str(report["from"]) + ")"
            text = title.replace("(views)", label) + "\n" + rest
        if "hmdq" in report:
            text += "\n" + _format_hmdq(report)
        print(text)
    return 0
