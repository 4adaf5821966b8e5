"""PNG plots of latency results (matplotlib with the Agg backend, imported on use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vrkit.core.outputs import save_figure
from vrkit.measure.latency.analysis import CorrelationCurve, SteadyEstimate
from vrkit.measure.latency.events import EventEstimate
from vrkit.measure.latency.sensorlog import SensorLog


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _norm(x: np.ndarray) -> np.ndarray:
    span = float(np.ptp(x))
    return (x - float(np.min(x))) / span if span > 0 else np.zeros_like(x)


def plot_curve(ax: Any, curve: CorrelationCurve, latency_ms: float, ci_ms: Any = None) -> None:
    """Draw a correlation curve with the estimate (and its interval) marked."""
    ax.plot(curve.lags_s * 1e3, curve.corr, lw=1.2)
    ax.axvline(latency_ms, color="r", lw=1, label=f"estimate {latency_ms:.2f} ms")
    if ci_ms is not None and all(v is not None and np.isfinite(v) for v in ci_ms):
        ax.axvspan(ci_ms[0], ci_ms[1], color="r", alpha=0.2, label="95 % interval")
    ax.set_xlabel("delay of light behind motion (ms)")
    ax.set_ylabel("correlation")
    ax.legend(fontsize=8)


def plot_log_analysis(
    path: str | Path,
    log: SensorLog,
    steady: SteadyEstimate | None = None,
    events: EventEstimate | None = None,
) -> Path:
    """Correlation curve, per-event histogram and the log's time series in one PNG.

    Args:
        path: PNG to write.
        log: The analysed log.
        steady: Cross-correlation result, if any.
        events: Onset or flash events, if any.

    Returns:
        The path written.
    """
    plt = _pyplot()
    panels = 1 + (steady is not None) + (events is not None)
    fig, axes = plt.subplots(panels, 1, figsize=(9, 3.2 * panels), squeeze=False)
    axes = list(axes[:, 0])
    if steady is not None:
        ax = axes.pop(0)
        ci = None if steady.ci_low_s is None else (steady.ci_low_s * 1e3, steady.ci_high_s * 1e3)
        plot_curve(ax, steady.curve, steady.latency_s * 1e3, ci)
        display = "" if steady.display is None else f"\n{steady.display.describe()}"
        ax.set_title(
            f"steady-state latency {steady.latency_s * 1e3:.2f} ms "
            f"(monotone fit r = {steady.peak_corr:.4f}){display}",
            fontsize=9,
        )
        ax.set_ylabel("rank correlation")
    if events is not None:
        ax = axes.pop(0)
        lat = events.latencies_s * 1e3
        ax.hist(lat, bins=max(5, min(40, lat.size)), color="tab:orange")
        ax.axvline(float(np.median(lat)), color="k", lw=1)
        ax.set_xlabel(f"{events.kind} latency per event (ms)")
        ax.set_ylabel("events")
        ax.set_title(
            f"{events.kind}: median {np.median(lat):.2f} ms; {events.summary()}", fontsize=9
        )
    ax = axes.pop(0)
    t = log.t_s - log.t_s[0]
    ax.plot(t, _norm(log.motion), lw=0.8, label="motion (normalised)")
    ax.plot(t, _norm(log.light), lw=0.8, label="light (normalised)")
    if events is not None:
        for ev in events.events:
            ax.axvline(ev.motion_s, color="k", lw=0.5, alpha=0.4)
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    p = Path(path)
    save_figure(fig, p, dpi=100)
    plt.close(fig)
    return p


def plot_video_result(path: str | Path, result: Any) -> Path:
    """The correlation curve of a video result (anything with ``curve``, ``latency_ms``, ``ci_ms``).

    Args:
        path: PNG to write.
        result: A ``VideoLatencyResult``.

    Returns:
        The path written.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    plot_curve(ax, result.curve, float(result.latency_ms), getattr(result, "ci_ms", None))
    ax.set_title(f"video latency {float(result.latency_ms):.2f} ms", fontsize=10)
    fig.tight_layout()
    p = Path(path)
    save_figure(fig, p, dpi=100)
    plt.close(fig)
    return p
