"""The backend interface: a small lifecycle plus capabilities as data.

A backend owns the GL context and the presentation of frames (a file, a window, a panel, an
OpenXR swapchain). The frame loop in :mod:`vrkit.app` drives every backend the same way::

    backend.open()
    while (frame := backend.begin_frame()) is not None:
        if frame.should_render:
            renderer.render(scene, frame, backend.eye_targets(frame))
        backend.end_frame(frame)
    backend.close()

``begin_frame`` returns None when the backend is done (frame budget reached, window closed,
session exiting). ``close`` is safe to call twice and tears down in reverse creation order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vrkit.core.clock import Clock, MonotonicClock
from vrkit.core.types import FrameInfo

if TYPE_CHECKING:
    from vrkit.gl.context import GLContext
    from vrkit.poses.base import PoseSource
    from vrkit.render.targets import RenderTarget


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, as data the app and CLI read (never isinstance checks).

    Attributes:
        shows_panel: Presents a panel image that vrkit composes (and pre-distorts when a
            profile with a lens model is active). False where a compositor does that (OpenXR).
        runtime_views: Eye poses and FOV come from a runtime rather than from a profile.
        interactive: Reads user input (window, controllers).
        writes_files: Writes frames to disk.
        input_kinds: Input the backend offers, e.g. ``{"mouse_keyboard"}``, ``{"controllers"}``.
    """

    shows_panel: bool
    runtime_views: bool = False
    interactive: bool = False
    writes_files: bool = False
    input_kinds: frozenset[str] = frozenset()


@dataclass
class RunConfig:
    """Options for one run, shared by all backends; each backend reads what applies to it.

    Attributes:
        frames: Stop after this many frames; None runs until closed.
        out_dir: Where file-writing backends put frames and ``run.json``.
        video: Also write an MP4 (headless).
        profile: A headset profile (``vrkit.optics.profile.HeadsetProfile``) or None for the
            built-in default.
        pose_source: Head pose source; None means the backend's default.
        eye_size: Eye render target size ``(width, height)`` in pixels, or None for the
            profile's / runtime's recommendation.
        ipd_m: Interpupillary distance in metres (when not from a runtime); None for the
            profile's ``ipd_default_m``, or 0.063 m without a profile.
        distortion: Apply the profile's lens distortion to the panel image.
        vsync: Wait for vertical blank when presenting (windowed backends).
        monitor: Monitor name or index for the direct-display backend.
        fps: Nominal frame rate for backends without a display clock.
        msaa: MSAA samples per pixel for the eye images (0 or 1: off), or None for 4 where
            the GL supports it (:func:`vrkit.render.targets.choose_samples`).
        warp: Timewarp of the panel pass on backends that compose the panel
            (:data:`vrkit.render.panel.WARP_MODES`): ``"rotation"`` re-samples the head pose
            just before the distortion pass and rotates the eye images to it; ``"position"``
            also follows the head translation from the eye depth textures.
        clock: Where the backend and the frame loop read the time (integer ns): the host's
            monotonic clock, or a :class:`~vrkit.core.clock.ManualClock` for a reproducible
            run (headless: identical ``run.json`` and pixels from run to run).
        extra: Backend-specific options by name.
        overwrite: Replace a previous run in ``out_dir`` (its files only) instead of refusing.
    """

    frames: int | None = None
    out_dir: Path | None = None
    video: bool = False
    profile: Any = None
    pose_source: PoseSource | None = None
    eye_size: tuple[int, int] | None = None
    ipd_m: float | None = None
    distortion: bool = True
    vsync: bool = True
    monitor: str | None = None
    fps: float = 60.0
    msaa: int | None = None
    warp: str = "rotation"
    clock: Clock = field(default_factory=MonotonicClock)
    extra: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False


class Backend(ABC):
    """One way of getting frames in front of eyes (or onto disk)."""

    #: Name used by ``--backend``.
    name: ClassVar[str]
    #: What the backend can do.
    capabilities: ClassVar[Capabilities]

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Cheap check before opening: None when the backend may work here, else why not."""
        return None

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    @property
    def clock(self) -> Clock:
        """The run's clock (``config.clock``); the frame loop stamps its timing with it."""
        return self.config.clock

    @property
    @abstractmethod
    def gl(self) -> GLContext:
        """The GL context this backend created and owns (valid between open and close)."""

    @abstractmethod
    def open(self) -> None:
        """Create the context, window or session.

        Raises:
            BackendUnavailableError: The backend cannot run here; the message says why.
        """

    @abstractmethod
    def begin_frame(self) -> FrameInfo | None:
        """Wait for the next frame and locate its views; None when the run is over."""

    @abstractmethod
    def eye_targets(self, frame: FrameInfo) -> list[RenderTarget]:
        """The render targets for the frame's views, in view order."""

    @abstractmethod
    def end_frame(self, frame: FrameInfo) -> None:
        """Present or submit the frame."""

    @abstractmethod
    def close(self) -> None:
        """Tear down in reverse creation order; safe to call twice."""

    def summary(self) -> dict[str, Any]:
        """What the run produced (paths, frame counts, timing) for the CLI to report."""
        return {}

    def __enter__(self) -> Backend:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
