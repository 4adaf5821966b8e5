"""``vrkit profile list|show|validate``: headset profiles."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``profile`` subcommand."""
    p = sub.add_parser(
        "profile",
        help="list, show and validate headset profiles",
        description="Headset profiles: panel, lens geometry and lens model "
        "(schema: calibration/schema/headset-profile.schema.json).",
    )
    ps = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ps.add_parser("list", help="list the shipped profiles")
    show = ps.add_parser("show", help="show a profile (shipped name or JSON file)")
    show.add_argument("profile", help="shipped profile name or path to a .json file")
    show.add_argument("--json", action="store_true", help="print the profile as JSON")
    val = ps.add_parser("validate", help="validate a profile file; exit 1 naming the bad field")
    val.add_argument("file", help="profile .json file (or a shipped name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``vrkit profile``."""
    from vrkit.measure.fov import format_report, fov_report
    from vrkit.optics.profile import load_profile, shipped_profile_names

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
