"""``vrkit info``: what the OpenXR runtime reports (runtime, system, views, FOV, refresh)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    p = sub.add_parser(
        "info",
        help="OpenXR runtime, system, view configuration, recommended sizes, refresh, FOV",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--space", choices=("stage", "local"), default="stage", help="reference space for poses"
    )
    p.add_argument(
        "--openxr-gl",
        choices=("auto", "egl", "window", "glx"),
        default="auto",
        help="GL context and binding for the session (see `vrkit run --help`)",
    )
    p.set_defaults(func=info)


_BINDING_EXTENSIONS = ("XR_KHR_opengl_enable", "XR_MNDX_egl_enable")


def format_info(data: dict[str, Any]) -> str:
    """The report as aligned text lines."""
    rates = ", ".join(f"{r:g}" for r in data["refresh_rates_hz"]) or "not reported"
    lines = [
        f"runtime            {data['runtime']['name']} ({data['runtime']['version']})",
        f"system             {data['system']['name']}",
        f"view configuration {data['view_configuration']} ({len(data['views'])} views), "
        f"blend {data['blend_mode']}",
        f"graphics binding   {data['graphics_binding']}",
        f"refresh rates      {rates} Hz (current: {data['refresh_rate_hz'] or 'n/a'}; "
        f"frame period {data['period_ns'] / 1e6:.3f} ms)",
    ]
    optional = [e for e in data["extensions"] if e not in _BINDING_EXTENSIONS]
    lines.append(f"extensions         {', '.join(optional) or 'none offered'}")
    lines.append(f"display time       {data['display_clock']}")
    if data["visibility_mask_sizes"]:
        masks = "; ".join(
            f"view {i}: {n_idx // 3} triangles" for i, (_n_v, n_idx) in
            enumerate(data["visibility_mask_sizes"])
        )  # fmt: skip
        lines.append(f"hidden area mask   {masks}")
    if data["ipd_m"] is not None:
        lines.append(f"IPD                {data['ipd_m'] * 1000:.1f} mm")
    for v in data["views"]:
        f = v["fov_deg"]
        rw, rh = v["recommended_size"]
        mw, mh = v["max_size"]
        lines.append(
            f"view {v['index']} ({v['eye']:<5})   recommended {rw}x{rh}, max {mw}x{mh}; FOV "
            f"left {f['left']:.2f} right {f['right']:.2f} up {f['up']:.2f} down "
            f"{f['down']:.2f} deg (h {f['right'] - f['left']:.2f}, v {f['up'] - f['down']:.2f})"
        )
    return "\n".join(lines)


def info(args: argparse.Namespace) -> int:
    """Open a short OpenXR session and print what the runtime reports."""
    from vrkit.backends.base import RunConfig
    from vrkit.backends.openxr.info import runtime_info

    data = runtime_info(RunConfig(extra={"openxr_space": args.space, "openxr_gl": args.openxr_gl}))
    print(json.dumps(data, indent=2) if args.json else format_info(data))
    return 0
