"""``vrkit data list|path``: the files that ship with vrkit, and the names that find them."""

from __future__ import annotations

import argparse
import json

from vrkit.core.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` subcommand."""
    p = sub.add_parser(
        "data",
        help="list the shipped scenes, profiles, boards, rigs and targets (usable by name)",
        description="Every option that takes a scene, headset profile, board, rig or target "
        "file also takes the name of a shipped one (e.g. --board checkerboard-10x7).",
    )
    ds = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = ds.add_parser("list", help="the shipped files by kind, with the option that takes them")
    ls.add_argument("kind", nargs="?", help="only this kind (scene, profile, board, rig, target)")
    ls.add_argument("--json", action="store_true", help="print {kind: {name: path}} as JSON")
    path = ds.add_parser("path", help="print the file a shipped name stands for")
    path.add_argument("kind", help="scene, profile, board, rig or target")
    path.add_argument("name", help="the shipped name (see `vrkit data list`)")
    p.set_defaults(func=run)


def _kind(text: str) -> str:
    from vrkit.resources import SHIPPED

    kind = "headset-profile" if text == "profile" else text.rstrip("s")
    if kind not in SHIPPED:
        raise InputError(
            f"unknown kind of data {text!r}", "choose scene, profile, board, rig, target"
        )
    return kind


def run(args: argparse.Namespace) -> int:
    """List the shipped files, or print one's path."""
    from vrkit.resources import SHIPPED, find_shipped, shipped_files, shipped_names

    if args.action == "path":
        kind = _kind(args.kind)
        found = find_shipped(kind, args.name)
        if found is None:
            raise InputError(
                f"no shipped {SHIPPED[kind].plural[:-1]} named {args.name!r}",
                f"shipped: {', '.join(shipped_names(kind))}",
            )
        print(found)
        return 0
    kinds = [_kind(args.kind)] if args.kind else list(SHIPPED)
    if args.json:
        listing = {k: {n: str(p) for n, p in shipped_files(k).items()} for k in kinds}
        print(json.dumps(listing, indent=1))
        return 0
    for kind in kinds:
        spec = SHIPPED[kind]
        print(f"{spec.plural} ({spec.option} NAME):")
        for name in shipped_names(kind):
            print(f"  {name}")
    return 0
