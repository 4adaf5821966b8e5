"""``vrkit fov``: field of view from a headset profile or a running OpenXR runtime."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fov`` subcommand."""
    p = sub.add_parser(
        "fov",
        help="field of view per eye, total and binocular overlap",
        description="Field of view from a profile's panel edges through its lens (Cardboard "
        "SDK definition, clamped to the lens limits; unclamped values shown too), or from a "
        "running OpenXR runtime's views (--openxr).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--profile", help="shipped profile name or path to a .json file")
    src.add_argument(
        "--openxr", action="store_true", help="read the views of a running OpenXR runtime"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of both eyes' fields and the overlap")
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


def run(args: argparse.Namespace) -> int:
    """Handle ``vrkit fov``."""
    from vrkit.measure.fov import format_report, fov_report, fov_report_from_views

    if args.openxr:
        report = fov_report_from_views(openxr_views())
    else:
        from vrkit.optics.profile import load_profile

        report = fov_report(load_profile(args.profile))
    if args.plot:
        from vrkit.measure.fov import plot_fov

        plot_fov(report, args.plot)
        report["plot"] = str(args.plot)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
