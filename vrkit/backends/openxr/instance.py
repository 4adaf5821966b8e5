"""Everything an ``XrSession`` needs, built in order: GL context, binding, instance, system.

::

    runtime's extensions -> GL mode (auto | egl | window | glx) -> GL context
    -> graphics binding (XR_MNDX_egl_enable or XR_KHR_opengl_enable's Xlib binding)
    -> XrInstance (required + optional extensions) -> XrSystem (views, blend mode, GL
       requirements) -> XrSession

Each builder that makes a runtime handle registers its destruction on the caller's
:class:`~contextlib.ExitStack`, so the backend tears everything down in reverse creation order
through one stack (pyopenxr's ``xr.utils`` objects work the same way). :class:`RuntimeHealth`
tells the teardown whether the runtime may still be called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrkit.backends.openxr import glbinding
from vrkit.backends.openxr._xr import LOST_ERRORS, xr
from vrkit.backends.openxr.glbinding import GraphicsBinding
from vrkit.backends.openxr.runtime import NO_RUNTIME
from vrkit.core.errors import BackendUnavailableError
from vrkit.gl.context import GLContext
from vrkit.gl.egl import create_headless_context
from vrkit.gl.window import create_window_context

log = logging.getLogger(__name__)

#: ``openxr_gl`` values: how the GL context is made and bound.
GL_MODES = ("auto", "egl", "window", "glx")
#: Extensions vrkit enables when the runtime offers them.
OPTIONAL_EXTENSIONS = (
    "XR_KHR_visibility_mask",
    "XR_KHR_convert_timespec_time",
    "XR_KHR_composition_layer_depth",
    "XR_FB_display_refresh_rate",
)


@dataclass
class RuntimeHealth:
    """Whether the runtime may still be called; shared by the backend and its teardown.

    Attributes:
        ok: False once the runtime is lost or hung: no more calls, except that the instance is
            still destroyed (the loader's side of it) unless the runtime hung.
        hung: A call never returned; even ``xrDestroyInstance`` may block, so it is skipped.
    """

    ok: bool = True
    hung: bool = False


def destroy_on_close(
    stack: ExitStack, health: RuntimeHealth, fn: Callable[[Any], Any], handle: Any
) -> None:
    """Register ``fn(handle)`` on ``stack``; skipped when ``health`` says the runtime is gone."""

    def destroy() -> None:
        if not health.ok and (fn is not xr.destroy_instance or health.hung):
            return  # a hung runtime may block here too: leave the handles to process exit
        try:
            fn(handle)
        except xr.exception.XrException as exc:
            log.debug("%s failed during teardown: %s", fn.__name__, exc)

    stack.callback(destroy)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def available_extensions(manifest: Path | None) -> set[str]:
    """The instance extensions the runtime offers.

    Raises:
        BackendUnavailableError: The runtime in ``manifest`` could not be loaded.
    """
    try:
        return {_text(e.extension_name) for e in xr.enumerate_instance_extension_properties()}
    except xr.exception.XrException as exc:
        raise BackendUnavailableError(
            f"{NO_RUNTIME} (the runtime in {manifest} could not be loaded: {exc})"
        ) from exc


def choose_gl_mode(requested: str, available: Collection[str]) -> str:
    """The GL mode to use: ``requested`` resolved (``auto``) and checked against the runtime.

    Args:
        requested: An ``openxr_gl`` value (:data:`GL_MODES`).
        available: The runtime's instance extensions.

    Returns:
        ``"egl"``, ``"window"`` or ``"glx"``; ``auto`` is ``egl`` when the runtime has
        XR_MNDX_egl_enable, else ``glx``.

    Raises:
        BackendUnavailableError: An unknown mode, a mode the runtime cannot bind, or a runtime
            without OpenGL support.
    """
    if requested not in GL_MODES:
        raise BackendUnavailableError(
            f"openxr_gl must be auto, egl, window or glx, got {requested!r}"
        )
    mode = requested
    if mode == "auto":
        mode = "egl" if glbinding.EGL_EXTENSION in available else "glx"
    if mode in ("egl", "window") and glbinding.EGL_EXTENSION not in available:
        raise BackendUnavailableError(
            f"the OpenXR runtime lacks {glbinding.EGL_EXTENSION} (openxr_gl={mode!r} binds "
            "an EGL context)",
            "use openxr_gl=glx (a GLX window) with an X display",
        )
    if glbinding.OPENGL_EXTENSION not in available:
        raise BackendUnavailableError("the OpenXR runtime has no OpenGL support (KHR)")
    return mode


def create_gl_context(mode: str) -> GLContext:
    """The GL context for a mode: headless EGL, or a hidden glfw window (EGL or GLX context)."""
    if mode == "egl":
        return create_headless_context()
    return create_window_context(
        640,
        360,
        title="vrkit OpenXR mirror",
        visible=False,
        context_api="native" if mode == "glx" else "egl",
    )


def make_binding(mode: str, ctx: GLContext, available: Collection[str]) -> GraphicsBinding:
    """The graphics binding of ``ctx``: the binding follows the context.

    vrkit's headless EGL context or a glfw window made through EGL: XR_MNDX_egl_enable; a window
    with a native GLX context: XR_KHR_opengl_enable's Xlib binding.

    Raises:
        BackendUnavailableError: The window has no current EGL context, or the runtime does not
            offer the binding's extension.
    """
    ctx.make_current()
    if mode == "egl":
        binding = glbinding.egl_binding(ctx.display, ctx.config, ctx.context)
    elif mode == "window":
        found = glbinding.current_egl_binding()
        if found is None:
            raise BackendUnavailableError("the glfw window has no current EGL context")
        binding = found
    else:
        binding = glbinding.glx_binding(ctx.native_handles())
    if binding.extension not in available:
        raise BackendUnavailableError(
            f"the window's {binding.kind.upper()} context needs {binding.extension}, "
            f"which the OpenXR runtime does not offer"
        )
    return binding


def instance_extensions(binding: GraphicsBinding, available: Collection[str]) -> list[str]:
    """The extensions to enable: OpenGL, the binding's, and the offered optional ones."""
    wanted = [glbinding.OPENGL_EXTENSION]
    if binding.extension not in wanted:
        wanted.append(binding.extension)
    return wanted + [e for e in OPTIONAL_EXTENSIONS if e in available]


def create_instance(
    stack: ExitStack, health: RuntimeHealth, extensions: list[str], manifest: Path | None
) -> Any:
    """``xrCreateInstance`` with ``extensions``; destroyed when ``stack`` closes.

    Raises:
        BackendUnavailableError: The runtime did not start (no service running).
    """
    try:
        instance = xr.create_instance(
            xr.InstanceCreateInfo(
                application_info=xr.ApplicationInfo(
                    application_name="vrkit",
                    application_version=1,
                    engine_name="vrkit",
                    engine_version=1,
                    api_version=xr.Version(1, 0, 0),
                ),
                enabled_extension_names=extensions,
            )
        )
    except LOST_ERRORS as exc:
        raise BackendUnavailableError(
            f"{NO_RUNTIME} (the runtime in {manifest} did not start: "
            f"{type(exc).__name__}; is its service, e.g. monado-service, running?)"
        ) from exc
    destroy_on_close(stack, health, xr.destroy_instance, instance)
    return instance


@dataclass
class XrSystem:
    """The runtime and the head-mounted system it offers.

    Attributes:
        system_id: The ``XrSystemId``.
        runtime_name: ``XrInstanceProperties.runtimeName``.
        runtime_version: The runtime's version as ``major.minor.patch``.
        system_name: ``XrSystemProperties.systemName``.
        view_config_views: The PRIMARY_STEREO ``XrViewConfigurationView`` per view.
        blend_mode: OPAQUE when offered, else the runtime's first blend mode.
    """

    system_id: Any
    runtime_name: str
    runtime_version: str
    system_name: str
    view_config_views: list[Any]
    blend_mode: Any


def get_system(instance: Any) -> XrSystem:
    """The head-mounted system, its stereo views and blend mode; checks GL requirements.

    ``xrGetOpenGLGraphicsRequirementsKHR`` must be called before the session is created.

    Raises:
        BackendUnavailableError: No headset connected.
    """
    props = xr.get_instance_properties(instance)
    runtime_name = _text(props.runtime_name)
    try:
        system_id = xr.get_system(
            instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
        )
    except (xr.exception.FormFactorUnavailableError, xr.exception.FormFactorUnsupportedError):
        raise BackendUnavailableError(
            f"OpenXR runtime {runtime_name!r} has no headset connected"
        ) from None
    stereo = xr.ViewConfigurationType.PRIMARY_STEREO
    views = list(xr.enumerate_view_configuration_views(instance, system_id, stereo))
    modes = list(xr.enumerate_environment_blend_modes(instance, system_id, stereo))
    opaque = xr.EnvironmentBlendMode.OPAQUE
    req = xr.get_opengl_graphics_requirements_khr(instance, system_id)
    log.debug("OpenXR GL requirements %s..%s", req.min_api_version_supported,
              req.max_api_version_supported)  # fmt: skip
    return XrSystem(
        system_id=system_id,
        runtime_name=runtime_name,
        runtime_version=str(xr.Version(props.runtime_version)),
        system_name=_text(xr.get_system_properties(instance, system_id).system_name),
        view_config_views=views,
        blend_mode=opaque if opaque in modes else xr.EnvironmentBlendMode(modes[0]),
    )


def create_session(
    stack: ExitStack,
    health: RuntimeHealth,
    instance: Any,
    system_id: Any,
    ctx: GLContext,
    binding: GraphicsBinding,
) -> Any:
    """``xrCreateSession`` with ``ctx``'s graphics binding; destroyed when ``stack`` closes."""
    ctx.make_current()
    session = xr.create_session(
        instance, xr.SessionCreateInfo(system_id=system_id, next=binding.pointer())
    )
    destroy_on_close(stack, health, xr.destroy_session, session)
    return session


def create_reference_space(stack: ExitStack, health: RuntimeHealth, session: Any, kind: Any) -> Any:
    """A reference space of ``kind`` at its origin; destroyed when ``stack`` closes."""
    space = xr.create_reference_space(
        session,
        xr.ReferenceSpaceCreateInfo(reference_space_type=kind, pose_in_reference_space=xr.Posef()),
    )
    destroy_on_close(stack, health, xr.destroy_space, space)
    return space


def choose_space(session: Any, requested: str) -> Any:
    """STAGE (floor at y = 0) when asked and offered, else LOCAL.

    Raises:
        BackendUnavailableError: ``requested`` is neither ``"stage"`` nor ``"local"``.
    """
    want = str(requested).lower()
    if want not in ("stage", "local"):
        raise BackendUnavailableError(f"openxr_space must be stage or local, got {want}")
    offered = set(xr.enumerate_reference_spaces(session))
    kind = xr.ReferenceSpaceType.STAGE
    if want == "local" or kind not in offered:
        kind = xr.ReferenceSpaceType.LOCAL
    return kind
