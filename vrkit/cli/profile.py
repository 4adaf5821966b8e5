"""``vrkit profile list|show|validate|import|export``: headset profiles and other tools' forms."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from vrkit.cli._args import positive_float, positive_int

log = logging.getLogger("vrkit.profile")

IMPORT_FORMATS = ("cardboard", "northstar", "lighthouse", "osvr", "openhmd")
EXPORT_FORMATS = ("cardboard", "northstar", "monado", "openhmd", "mesh")
BUTTONS = ("none", "magnet", "touch", "indirect_touch")


def _size(text: str) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if not (w > 0 and h > 0):
        raise argparse.ArgumentTypeError(f"expected positive WIDTHxHEIGHT, got {text!r}")
    return w, h


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``profile`` subcommand."""
    p = sub.add_parser(
        "profile",
        help="list, show, validate, import and export headset profiles",
        description="Headset profiles: panel, lens geometry and lens model (`vrkit profile "
        "show cardboard-v1 --json` shows one; `vrkit profile validate FILE` checks a file "
        "against the schema that ships with vrkit); import and export the forms other tools use.",
    )
    ps = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ps.add_parser("list", help="list the shipped profiles")
    show = ps.add_parser("show", help="show a profile (shipped name or JSON file)")
    show.add_argument("profile", help="shipped profile name or path to a .json file")
    show.add_argument("--json", action="store_true", help="print the profile as JSON")
    val = ps.add_parser("validate", help="validate a profile file; exit 1 naming the bad field")
    val.add_argument("file", help="profile .json file (or a shipped name)")

    imp = ps.add_parser(
        "import",
        help="read another tool's file (or a Cardboard URL / QR image) as a profile",
        description="Formats: cardboard (viewer URL, QR photo or PNG, DeviceParams bytes), "
        "northstar (NorthStarCalibration.json, Monado north_star config), lighthouse (Vive / "
        "Index config), osvr (display descriptor), openhmd (device properties). The format is "
        "detected when only one fits.",
    )
    imp.add_argument("src", help="file, or a Cardboard viewer URL")
    imp.add_argument("--format", choices=IMPORT_FORMATS, help="the source's format")
    imp.add_argument("--out", required=True, help="profile .json to write")
    imp.add_argument("--name", help="profile name (default: from the source)")
    imp.add_argument("--panel", help="take the panel (resolution, size, refresh) from this profile")
    imp.add_argument("--panel-px", type=_size, metavar="WxH", help="panel resolution, pixels")
    imp.add_argument("--panel-mm", type=_size, metavar="WxH", help="panel active area, mm")
    imp.add_argument("--refresh-hz", type=positive_float, help="panel refresh rate")

    exp = ps.add_parser(
        "export",
        help="write a profile in another tool's form",
        description="cardboard: --out .png/.svg (QR code), .bin (DeviceParams), .txt or none "
        "(URL); northstar, monado, openhmd: JSON; mesh: vrkit's per-channel distortion mesh. "
        "A lens the format cannot hold exactly is fitted and the error reported; above "
        "--max-error-arcmin the export is refused.",
    )
    exp.add_argument("profile", help="shipped profile name or path to a .json file")
    exp.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    exp.add_argument("--out", help="file to write (default: print to stdout)")
    exp.add_argument("--max-error-arcmin", type=positive_float, default=1.0)
    exp.add_argument("--k-terms", type=positive_int, default=2, help="Cardboard K terms to fit")
    exp.add_argument("--vendor", help="Cardboard vendor")
    exp.add_argument("--model", help="Cardboard model")
    exp.add_argument("--button", choices=BUTTONS, help="Cardboard primary button")
    exp.add_argument("--mesh-resolution", type=positive_int, default=32, help="mesh cells per side")
    p.set_defaults(func=run)


def _panel_option(args: argparse.Namespace) -> dict | None:
    from vrkit.core.errors import InputError
    from vrkit.optics.profile import load_profile

    if args.panel and (args.panel_px or args.panel_mm):
        raise InputError("give --panel or --panel-px/--panel-mm, not both")
    if args.panel:
        return dict(load_profile(args.panel).to_dict()["panel"])
    if args.panel_px or args.panel_mm:
        if not (args.panel_px and args.panel_mm):
            raise InputError("--panel-px and --panel-mm go together")
        return {
            "resolution_px": [round(v) for v in args.panel_px],
            "size_m": [v / 1000 for v in args.panel_mm],
            "refresh_hz": args.refresh_hz or 60.0,
        }
    return None


def _import(args: argparse.Namespace) -> int:
    from vrkit.core.outputs import preflight_args

    preflight_args(args, files=("out",), folders=())
    from vrkit.interop._io import write_json
    from vrkit.interop.formats import ImportOptions, import_profile
    from vrkit.measure.fov import fov_report

    opts = ImportOptions(name=args.name, panel=_panel_option(args), refresh_hz=args.refresh_hz)
    result = import_profile(args.src, args.format, opts)
    write_json(args.out, result.data)
    for note in result.notes:
        log.info("note: %s", note)
    rep = fov_report(result.profile)
    eyes = ", ".join(
        f"{n} {e['horizontal']:.1f} x {e['vertical']:.1f}" for n, e in rep["eyes"].items()
    )
    print(
        f"wrote {args.out}: profile {result.profile.name!r} from {result.fmt} "
        f"({result.profile.lens(0).kind} lens); FOV {eyes} deg, total horizontal "
        f"{rep['total_horizontal']:.1f} deg"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from vrkit.core.outputs import preflight_args

    preflight_args(args, files=("out",), folders=())
    from vrkit.interop._io import write_atomic
    from vrkit.optics.profile import load_profile

    prof = load_profile(args.profile)
    if args.format == "mesh":
        from vrkit.calibration.export import to_mesh_json

        res = (args.mesh_resolution, args.mesh_resolution)
        text, payload, notes = json.dumps(to_mesh_json(prof.to_dict(), res)) + "\n", None, []
    else:
        from vrkit.interop.formats import ExportOptions, export_profile

        opts = ExportOptions(
            max_error_arcmin=args.max_error_arcmin,
            k_terms=args.k_terms,
            vendor=args.vendor,
            model=args.model,
            button=args.button,
        )
        res_ = export_profile(prof, args.format, args.out, opts)
        text, payload, notes = res_.text, res_.payload, res_.notes
    for note in notes:
        log.info("note: %s", note)
    if args.out:
        write_atomic(args.out, payload if payload is not None else text)
        print(f"wrote {args.out} ({args.format}) from profile {prof.name!r}")
    elif payload is not None:
        sys.stdout.buffer.write(payload)
    else:
        sys.stdout.write(text or "")
    return 0


def run(args: argparse.Namespace) -> int:
    """Handle ``vrkit profile``."""
    from vrkit.measure.fov import format_report, fov_report
    from vrkit.optics.profile import load_profile, shipped_profile_names

    if args.action == "import":
        return _import(args)
    if args.action == "export":
        return _export(args)
    if args.action == "list":
        for name in shipped_profile_names():
            prof = load_profile(name)
            print(f"{name:20} {prof.description}")
        return 0
    if args.action == "show":
        prof = load_profile(args.profile)
        if args.json:
            print(json.dumps(prof.to_dict(), indent=2))
            return 0
        print(prof.summary())
        for eye, name in ((0, "left"), (1, "right")):
            x, y, w, h = prof.eye_viewport(eye)
            cx, cy = prof.lens_center_m(eye)
            print(
                f"  {name:5} eye  viewport x={x} y={y} {w}x{h} px (from top-left), lens centre "
                f"({cx * 1e3:.2f}, {cy * 1e3:.2f}) mm from bottom-left"
            )
        print(format_report(fov_report(prof)))
        return 0
    prof = load_profile(args.file)
    where = prof.path or args.file
    print(f"{where}: ok ({prof.name}, schema version 1)")
    return 0
