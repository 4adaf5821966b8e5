"""``vrkit latency pipeline|analyze|video|simulate``: motion-to-photon latency.

* ``pipeline`` runs a scene on a backend (or reads a recorded ``run.json``) and summarises the
  per-frame timestamps every backend stamps: pose sample, render start, GPU done, submit,
  predicted display.
* ``analyze`` estimates the end-to-end delay from a ``t_s,motion,light`` sensor log (a CSV, or
  recorded live from a serial port).
* ``video`` estimates it from high-speed video of a physical and a rendered marker.
* ``simulate`` writes a synthetic sensor log (or video) with a known latency.

Each prints a short report, or with ``--json`` one JSON object whose ``latency_ms`` is the
estimate in milliseconds; ``--plot PNG`` writes the plots.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

from vrkit.cli._args import (
    float_range,
    int_range,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)
from vrkit.core.errors import BackendUnavailableError, InputError

log = logging.getLogger("vrkit")

DEFAULT_SCENE = "latency-gradient"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``latency`` subcommand and its four modes."""
    p = sub.add_parser(
        "latency",
        help="measure motion-to-photon latency (pipeline timing, sensor logs, video)",
        description="Measure motion-to-photon latency. See docs/latency.md.",
    )
    modes = p.add_subparsers(dest="latency_mode", metavar="MODE", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--json", action="store_true", help="print the result as JSON")
        q.add_argument("--plot", type=Path, metavar="PNG", help="write the plots to this PNG")

    q = modes.add_parser(
        "pipeline",
        help="per-frame pipeline timing on a backend, or from a recorded run.json",
        description="Run SOURCE (a scene file) on a backend and summarise the per-frame "
        "timestamps (pose sample, render start/end, GPU done via a GL fence, submit, predicted "
        "display), or summarise a recorded run.json (SOURCE = the file or its folder).",
    )
    q.add_argument("source", nargs="?", default=DEFAULT_SCENE, help="scene .py or run.json")
    q.add_argument("--backend", default="auto", help="auto|openxr|sim|display|headless")
    q.add_argument(
        "--frames", type=int_range(2), default=300, help="frames to record (default 300)"
    )
    q.add_argument(
        "--fps", type=positive_float, default=90.0, help="frame rate without a display clock"
    )
    q.add_argument("--out", type=Path, help="folder for timing.json, timing.csv and plots")
    q.add_argument("--pose-source", help="scripted|static|replay:FILE|tracker[:ARGS]")
    q.add_argument(
        "--warp",
        default="rotation",
        metavar="MODE",
        help="timewarp on panels vrkit composes: off, rotation (default), rotation+scanline, "
        "position (from the eye depth buffer)",
    )
    common(q)
    q.set_defaults(func=pipeline)

    q = modes.add_parser(
        "analyze",
        help="end-to-end latency from a t_s,motion,light sensor log (CSV or serial port)",
        description="Estimate the delay of the photodiode's light behind the motion sensor by "
        "cross-correlation (steady state), per movement onset, or per flash.",
    )
    q.add_argument(
        "log", nargs="?", type=Path, help="sensor log: t_s,motion,light CSV or a Latency-Test CSV"
    )
    q.add_argument(
        "--format",
        choices=("auto", "vrkit", "latency-test"),
        default="auto",
        help="log format: vrkit (t_s,motion,light), latency-test (rpavlik/Latency-Test's "
        "us,drx,dry,drz,brightness; the gyro is integrated), auto: from the header or columns "
        "(serial: vrkit unless given)",
    )
    q.add_argument(
        "--gyro-axis",
        choices=("auto", "x", "y", "z"),
        default="auto",
        help="latency-test: the gyro axis to integrate (auto: the one that turns most)",
    )
    q.add_argument("--serial", metavar="PORT", help="record live from this serial port instead")
    q.add_argument(
        "--duration", type=positive_float, default=30.0, help="serial: seconds to record"
    )
    q.add_argument("--baud", type=positive_int, default=1_000_000, help="serial: baud rate")
    q.add_argument(
        "--timeout", type=positive_float, default=2.0, help="serial: seconds to wait a line"
    )
    q.add_argument(
        "--save",
        type=Path,
        help="serial: save the recording as CSV, line by line as it arrives (kept when the "
        "port fails or Ctrl-C stops it)",
    )
    q.add_argument(
        "--mode",
        choices=("steady", "onset", "both", "flash"),
        default="steady",
        help="steady: cross-correlation; onset: per movement onset after a pause; both; "
        "flash: per flash after a movement onset",
    )
    q.add_argument(
        "--max-latency-ms", type=float_range(), default=500.0, help="largest delay searched"
    )
    q.add_argument(
        "--min-latency-ms", type=float_range(), default=-50.0, help="smallest delay searched"
    )
    q.add_argument(
        "--flicker-hz",
        type=positive_float,
        help="the panel's refresh rate, Hz (detected from the light when not given)",
    )
    q.add_argument(
        "--sensor-delay-ms", type=nonneg_float, default=0.0, help="photodiode delay to subtract"
    )
    q.add_argument("--polarity", choices=("auto", "positive", "negative"), default="auto")
    q.add_argument("--threshold", type=positive_float, help="onset threshold in motion units")
    q.add_argument(
        "--min-pause-ms", type=nonneg_float, default=300.0, help="stillness before an onset"
    )
    q.add_argument(
        "--min-events",
        type=positive_int,
        default=3,
        help="onset/flash: fewest usable events for a result (default 3)",
    )
    q.add_argument(
        "--exclude-onsets-ms",
        type=nonneg_float,
        default=0.0,
        help="steady: ignore this long after each onset (and pauses), e.g. 300 with prediction",
    )
    common(q)
    q.set_defaults(func=analyze)

    q = modes.add_parser(
        "video",
        help="end-to-end latency from high-speed video of a physical and a rendered marker",
    )
    q.add_argument("video", type=Path, help="the video file")
    q.add_argument(
        "--fps", type=positive_float, help="the camera's real frame rate if the file lies"
    )
    common(q)
    q.set_defaults(func=video)

    q = modes.add_parser(
        "simulate",
        help="write a synthetic sensor log (.csv) or video (.mp4) with a known latency",
    )
    q.add_argument("--latency-ms", type=nonneg_float, required=True, help="the latency to simulate")
    q.add_argument("--out", type=Path, required=True, help="log.csv, or a video .mp4/.avi")
    q.add_argument("--duration", type=positive_float, default=30.0, help="seconds (default 30)")
    q.add_argument("--rate-hz", type=positive_float, default=1000.0, help="log sample rate")
    q.add_argument("--refresh-hz", type=positive_float, default=90.0, help="panel refresh rate")
    q.add_argument("--persistence", choices=("hold", "low"), default="hold")
    q.add_argument(
        "--prediction-ms", type=nonneg_float, default=0.0, help="pose prediction horizon"
    )
    q.add_argument("--mode", choices=("gradient", "flash"), default="gradient")
    q.add_argument(
        "--video-fps", type=positive_float, default=240.0, help="video: camera frame rate"
    )
    q.add_argument("--seed", type=nonneg_int, default=0)
    common(q)
    q.set_defaults(func=simulate_cmd)


def _emit(args: argparse.Namespace, doc: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(doc))
    else:
        print(text)


# --- pipeline --------------------------------------------------------------------------------


class _GpuFence:
    """Wraps an opened backend: stamps ``gpu_done_ns`` when the eye renders finish on the GPU.

    Before each ``end_frame`` it inserts a GL fence after the frame's draw calls and waits
    for it. Backends that stamp ``gpu_done_ns`` themselves in ``end_frame`` (headless after
    composing the panel, OpenXR) overwrite the stamp with their own; for the windowed backends
    it is the only GPU completion time.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def end_frame(self, frame: Any) -> None:
        ctx = self._backend.gl
        if frame.should_render:
            ctx.wait_fence(ctx.fence())
            frame.timing["gpu_done_ns"] = time.monotonic_ns()
        self._backend.end_frame(frame)


def record_pipeline(
    backend: Any, scene: Any, progress: Any = None, stream_csv: Path | None = None
) -> Any:
    """Run ``scene`` on an opened backend and collect every frame's timing.

    Args:
        backend: An opened :class:`~vrkit.backends.base.Backend` (closed by the caller).
        scene: The scene.
        progress: Optional tqdm bar, updated per frame.
        stream_csv: Write each frame's row to this CSV as it ends (renamed into place by
            the recorder's ``close_csv``): a long run's record is on disk as it goes.

    Returns:
        ``(recorder, interrupt)``: a :class:`~vrkit.measure.latency.timing.FrameTimingRecorder`
        (display clock ``virtual`` for the headless backend, ``host`` otherwise) with the
        frames done, and the :class:`~vrkit.core.interrupts.Interrupted` that ended the run
        between two frames (Ctrl-C, SIGTERM), or None. Re-raise it once the record is saved.
    """
    from vrkit.app import run_scene
    from vrkit.core import interrupts
    from vrkit.measure.latency.timing import FrameTimingRecorder

    rec = FrameTimingRecorder(display_clock="virtual" if backend.name == "headless" else "host")

    if stream_csv is not None:
        rec.stream_csv(stream_csv)

    def on_frame(frame: Any) -> None:
        rec.record(frame.index, frame.timing)
        if progress is not None:
            progress.update(1)
        interrupts.check()  # a Ctrl-C / SIGTERM ends the run here, between two frames

    try:
        with interrupts.deferred():
            run_scene(_GpuFence(backend), scene, on_frame=on_frame)
    except interrupts.Interrupted as exc:
        return rec, exc
    except BaseException:
        rec.close_csv(keep=False)
        raise
    return rec, None


def pipeline(args: argparse.Namespace) -> int:
    """``vrkit latency pipeline``."""
    from vrkit.core.outputs import preflight_args

    preflight_args(args, files=("plot",), folders=("out",))
    from vrkit.core import interrupts
    from vrkit.measure.latency.timing import FrameTimingRecorder

    src = Path(args.source)
    backend_name = None
    if src.suffix == ".json" or src.is_dir():
        rec = FrameTimingRecorder.from_run_json(src)
    else:
        from vrkit.app import load_scene
        from vrkit.backends.base import RunConfig
        from vrkit.backends.registry import open_backend
        from vrkit.core.progress import progress_bar
        from vrkit.poses.factory import make_pose_source
        from vrkit.render.panel import check_warp_mode

        check_warp_mode(args.warp)
        if args.frames < 2:
            raise InputError(f"--frames must be at least 2, got {args.frames}")
        if args.fps <= 0:
            raise InputError(f"--fps must be positive, got {args.fps}")
        scene = load_scene(src)
        config = RunConfig(
            frames=args.frames,
            fps=args.fps,
            pose_source=make_pose_source(args.pose_source),
            warp=args.warp,
        )
        backend = open_backend(args.backend, config)
        backend_name = backend.name
        bar = progress_bar(total=args.frames, unit="frame", desc=f"timing ({backend.name})")
        stream = Path(args.out) / "timing.csv" if args.out else None
        try:
            rec, interrupt = record_pipeline(backend, scene, bar, stream)
        finally:
            bar.close()
            with interrupts.deferred():
                backend.close()
        rec.close_csv()  # timing.csv, streamed while recording, renamed into place
        if interrupt is not None:
            # keep what was measured: the streamed CSV and the JSON of the frames done
            if args.out and len(rec):
                rec.save_json(Path(args.out) / "timing.json")
            print(f"interrupted: {len(rec)} frames recorded"
                  + (f", timing saved to {args.out}" if args.out else ""),
                  file=sys.stderr)  # fmt: skip
            raise interrupt
    stage, head = rec.headline()
    summary = rec.summary()
    if args.out:
        out = Path(args.out)
        rec.save_json(out / "timing.json")
        if backend_name is None:  # timing read from a run.json: nothing was streamed
            rec.save_csv(out / "timing.csv")
        rec.save_plots(out / "timing")
    if args.plot:
        rec.plot(args.plot)
    doc = {
        "latency_ms": head.median_ms,
        "latency_stage": stage,
        "backend": backend_name,
        "display_clock": rec.display_clock,
        "frames": len(rec),
        "summary": {k: v.to_dict() for k, v in summary.items()},
    }
    lines = [f"{'stage':<24} {'median':>8} {'p95':>8} {'p99':>8} {'max':>8}  (ms)"]
    for name, s in summary.items():
        if not s.negative:
            flag = ""
        elif name in ("submit_to_display", "motion_to_photon_warped"):
            flag = f"  ({s.negative} frames submitted after their predicted display: missed)"
        else:
            flag = f"  ({s.negative} frames with the stamps out of order)"
        lines.append(
            f"{name:<24} {s.median_ms:8.3f} {s.p95_ms:8.3f} {s.p99_ms:8.3f} {s.max_ms:8.3f}{flag}"
        )
    note = (
        " (no display: headless display times are virtual, so this is pose to GPU done)"
        if rec.display_clock == "virtual"
        else ""
    )
    lines.append(f"latency ({stage}): median {head.median_ms:.2f} ms over {len(rec)} frames{note}")
    _emit(args, doc, "\n".join(lines))
    return 0


# --- analyze ---------------------------------------------------------------------------------


def _load_log(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The log to analyse (from a file or a serial port) and what reading it involved."""
    if args.serial and args.log:
        raise InputError("give either a log file or --serial PORT, not both")
    if args.serial:
        from vrkit.core.progress import progress_bar
        from vrkit.measure.latency.serialport import read_serial_log

        bar = progress_bar(total=round(args.duration, 1), unit="s", desc=args.serial)

        def progress(rig_s: float) -> None:
            shown = round(min(rig_s, args.duration), 1)
            if shown != bar.n:
                bar.update(shown - bar.n)

        try:
            sensor_log, stats = read_serial_log(
                args.serial,
                duration_s=args.duration,
                baudrate=args.baud,
                timeout_s=args.timeout,
                progress=progress,
                save=args.save,
                fmt="vrkit" if args.format == "auto" else args.format,
                axis=args.gyro_axis,
            )
        finally:
            bar.close()
        if stats.bad_lines:
            log.warning(
                "%d malformed serial lines skipped (first %r)", stats.bad_lines, stats.first_bad
            )
        span = sensor_log.duration_s
        if not stats.complete:
            why = {
                "disconnected": f"the port {args.serial} failed ({stats.end_detail})",
                "silent": f"{args.serial} sent nothing for {args.timeout:g} s",
                "interrupted": "stopped by Ctrl-C",
            }[stats.ended]
            log.warning(
                "recording ended early: %s after %d lines (%.2f s of the %g s asked for); "
                "analysing what was received",
                why,
                stats.lines,
                span,
                args.duration,
            )
        if stats.saved is not None:
            log.warning("recording saved to %s (%d lines)", stats.saved, stats.lines)
        info = {
            "source": args.serial,
            "format": "vrkit" if args.format == "auto" else args.format,
            "notes": list(stats.notes),
            "recording": {
                "ended": stats.ended,
                "detail": stats.end_detail,
                "lines": stats.lines,
                "rig_s": span,
                "asked_s": args.duration,
                "bad_lines": stats.bad_lines,
                "saved": None if stats.saved is None else str(stats.saved),
            },
        }
        return sensor_log, info
    if not args.log:
        raise InputError("give a sensor log CSV or --serial PORT", "see vrkit latency analyze -h")
    from vrkit.measure.latency.logformats import load_log

    loaded = load_log(args.log, args.format, args.gyro_axis)
    return loaded.log, {"source": str(args.log), "format": loaded.fmt, "notes": list(loaded.notes)}


def _finite(x: Any) -> Any:
    """``x`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def _median_interval(lat_ms: list[float]) -> tuple[float, float] | None:
    """95 % distribution-free interval of a median from order statistics (None below 6)."""
    from scipy import stats

    n = len(lat_ms)
    if n < 6:
        return None
    s = sorted(lat_ms)
    lo = int(stats.binom.ppf(0.025, n, 0.5))
    hi = int(stats.binom.isf(0.025, n, 0.5))
    return s[max(0, lo - 1)], s[min(n - 1, hi)]


def _report(
    args: argparse.Namespace,
    steady: Any,
    events: Any,
    event_error: str | None,
    display: Any,
    sensor_delay_ms: float,
) -> list[str]:
    """The side-by-side text report: steady state, onset / flash, display, warnings."""
    rows = [("", "latency", "95 % interval", "based on")]
    if steady is not None:
        ms = steady.latency_s * 1e3
        ci = (
            f"{steady.ci_low_s * 1e3:.2f} .. {steady.ci_high_s * 1e3:.2f} ms"
            if steady.ci_low_s is not None
            else "(too few segments)"
        )
        value = f"{ms:.2f} ms" if ms >= 0 else f"light leads by {-ms:.2f} ms"
        moving = steady.samples_used / steady.rate_hz
        rows.append(
            ("steady state", value, ci, f"{moving:.1f} s of movement, "
             f"{len(steady.segment_latencies_s)} segments")
        )  # fmt: skip
    if events is not None:
        d = events.to_dict()
        mci = _median_interval(d["event_latencies_ms"])
        ci = "(fewer than 6 events)" if mci is None else f"{mci[0]:.2f} .. {mci[1]:.2f} ms"
        rows.append((f"{events.kind} (median)", f"{d['latency_ms']:.2f} ms", ci, events.summary()))
    elif event_error is not None:
        rows.append(("onset", "not measured", "", event_error))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    ]
    if display is not None:
        lines.append(
            display.describe()
            + f"; photodiode delay {sensor_delay_ms:g} ms "
            + ("(given)" if args.sensor_delay_ms else "(assumed)")
        )
    if steady is not None and steady.significance is not None:
        sig = steady.significance
        p_txt = f"p = {sig.p_value:.1g}" if sig.p_value >= 1e-12 else "p < 1e-12"
        lines.append(
            f"light follows motion: rank correlation {sig.peak_corr:.3f} ({p_txt} against "
            f"{sig.surrogate_windows} surrogate lights, which peak at {sig.null_max:.2f}); "
            f"monotone fit explains r = {steady.peak_corr:.4f}"
            + ("; light falls as motion rises" if steady.inverted else "")
        )
    if steady is not None and events is not None and events.kind == "onset":
        gap = (events.latency_s - steady.latency_s) * 1e3
        frame = 1e3 / display.refresh_hz if display is not None and display.refresh_hz else 16.7
        if gap > frame:
            lines.append(
                f"onsets take {gap:.1f} ms longer than the steady state: the app predicts "
                "the pose (a predictor cannot foresee a movement's start)"
            )
    for w in [] if steady is None else steady.warnings:
        lines.append(f"warning: {w}")
    return lines


def analyze(args: argparse.Namespace) -> int:
    """``vrkit latency analyze``."""
    from vrkit.core.outputs import preflight_args

    preflight_args(args, files=("plot", "save"), folders=())
    from vrkit.core.errors import DataError
    from vrkit.measure.latency import analysis as an
    from vrkit.measure.latency import events as ev

    sensor_log, source = _load_log(args)
    for note in source.get("notes", []):
        log.info("%s", note)
    flicker = args.flicker_hz
    if flicker is not None and not flicker > 0:
        raise InputError(f"--flicker-hz must be positive, got {flicker}")
    kw = dict(
        rate_hz=None,
        flicker_hz=flicker,
        sensor_delay_s=args.sensor_delay_ms * 1e-3,
        max_latency_s=args.max_latency_ms * 1e-3,
    )
    steady = events = None
    event_error = None
    doc: dict[str, Any] = {"mode": args.mode, "samples": len(sensor_log), **source}
    if args.mode in ("steady", "both"):
        steady = an.estimate_steady_latency(
            sensor_log,
            min_latency_s=args.min_latency_ms * 1e-3,
            polarity=args.polarity,
            exclude_onsets_s=args.exclude_onsets_ms * 1e-3,
            onset_threshold=args.threshold,
            min_pause_s=args.min_pause_ms * 1e-3,
            **kw,
        )
        doc["steady"] = steady.to_dict()
        doc["latency_ms"] = steady.latency_s * 1e3
        doc["ci95_ms"] = doc["steady"]["ci95_ms"]
        doc["leads"] = steady.latency_s < 0
    if args.mode in ("onset", "both", "flash"):
        fn = ev.estimate_flash_latency if args.mode == "flash" else ev.estimate_onset_latency
        ev_kw = dict(kw, threshold=args.threshold, min_pause_s=args.min_pause_ms * 1e-3)
        if args.mode == "flash":
            polarity = "negative" if args.polarity == "negative" else "positive"
        else:
            polarity = args.polarity
        try:
            events = fn(sensor_log, polarity=polarity, min_events=args.min_events, **ev_kw)
        except DataError as exc:
            if args.mode != "both":
                raise
            event_error = str(exc)
            doc["onset"] = {"error": event_error}
        if events is not None:
            d = events.to_dict()
            doc[events.kind] = d
            if "latency_ms" not in doc:
                doc["latency_ms"] = d["latency_ms"]
    display = steady.display if steady is not None else events.display if events else None
    doc["display"] = None if display is None else display.to_dict()
    doc["warnings"] = [] if steady is None else list(steady.warnings)
    if args.plot:
        from vrkit.measure.latency.plots import plot_log_analysis

        plot_log_analysis(args.plot, sensor_log, steady, events)
    lines = _report(args, steady, events, event_error, display, args.sensor_delay_ms)
    _emit(args, _finite(doc), "\n".join(lines))
    return 0


# --- video -----------------------------------------------------------------------------------


def video(args: argparse.Namespace) -> int:
    """``vrkit latency video``."""
    from vrkit.core.outputs import preflight_args

    preflight_args(args, files=("plot",), folders=())
    try:
        from vrkit.measure.latency.video import analyze_video
    except ImportError as exc:
        raise BackendUnavailableError(
            f"video latency analysis is not available in this build ({exc})"
        ) from exc
    from vrkit.core.progress import progress_bar

    if args.fps is not None and args.fps <= 0:
        raise InputError(f"--fps must be positive, got {args.fps}")
    with progress_bar(unit="frame", desc=Path(args.video).name) as bar:
        result = analyze_video(args.video, fps=args.fps, progress=bar)
    if args.plot:
        from vrkit.measure.latency.plots import plot_video_result

        plot_video_result(args.plot, result)
    doc = {**result.to_dict(), "latency_ms": float(result.latency_ms)}
    lo, hi = result.ci_ms
    _emit(args, doc, f"video latency {result.latency_ms:.2f} ms (95 % CI {lo:.2f}..{hi:.2f} ms)")
    return 0


# --- simulate --------------------------------------------------------------------------------


def simulate_cmd(args: argparse.Namespace) -> int:
    """``vrkit latency simulate``."""
    from vrkit.core.outputs import preflight_args

    preflight_args(args, files=("out", "plot"), folders=())
    latency_s = args.latency_ms * 1e-3
    if not args.duration > 0:
        raise InputError(f"--duration must be positive, got {args.duration}")
    out = Path(args.out)
    if out.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov"):
        try:
            from vrkit.core.progress import progress_bar
            from vrkit.measure.latency.simulate import simulate_video
        except ImportError as exc:
            raise BackendUnavailableError(
                f"video simulation is not available in this build ({exc})"
            ) from exc
        if args.video_fps <= 0:
            raise InputError(f"--video-fps must be positive, got {args.video_fps}")
        total = round(args.duration * args.video_fps)
        with progress_bar(total=total, unit="frame", desc=out.name) as bar:
            path = simulate_video(
                out, latency_s=latency_s, fps=args.video_fps, duration_s=args.duration,
                seed=args.seed, progress=bar,
            )  # fmt: skip
        doc = {"latency_ms": args.latency_ms, "out": str(path), "fps": args.video_fps}
        _emit(args, doc, f"wrote {path}: {args.duration:g} s at {args.video_fps:g} fps, "
              f"latency {args.latency_ms:g} ms")  # fmt: skip
        return 0
    if out.suffix.lower() != ".csv":
        raise InputError(f"--out must end in .csv (a sensor log) or .mp4 (a video), got {out}")
    from vrkit.measure.latency.sensorlog import save_csv
    from vrkit.measure.latency.simulate import simulate

    sim = simulate(
        latency_s=latency_s,
        duration_s=args.duration,
        rate_hz=args.rate_hz,
        refresh_hz=args.refresh_hz,
        persistence=args.persistence,
        prediction_s=args.prediction_ms * 1e-3,
        mode=args.mode,
        seed=args.seed,
    )
    save_csv(sim.log, out)
    if args.plot:
        from vrkit.measure.latency.plots import plot_log_analysis

        plot_log_analysis(args.plot, sim.log)
    truth = sim.truth_dict()
    doc = {
        "latency_ms": truth["true_latency_ms"],
        "out": str(out),
        "samples": len(sim.log),
        **truth,
    }
    _emit(
        args,
        doc,
        f"wrote {out}: {len(sim.log)} samples, true latency {truth['true_latency_ms']:.3f} ms"
        + (f", true steady {truth['true_steady_ms']:.3f} ms" if args.prediction_ms else ""),
    )
    return 0
