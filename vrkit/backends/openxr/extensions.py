"""Optional extensions: host-clock conversion, refresh rates, the hidden-area (visibility) mask.

Each function calls one extension that vrkit enabled because the runtime offered it
(:data:`~vrkit.backends.openxr.instance.OPTIONAL_EXTENSIONS`); pyopenxr wraps some of them only
partly, so these go through the instance's function pointers.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vrkit.backends.openxr._xr import xr

log = logging.getLogger(__name__)


def check(result: Any) -> None:
    """Raise the pyopenxr exception of a failed raw call's ``XrResult``."""
    exc = xr.check_result(result)
    if exc.is_exception():
        raise exc


def time_converter(instance: Any) -> Callable[[int], int]:
    """XrTime -> host CLOCK_MONOTONIC ns through XR_KHR_convert_timespec_time.

    Returns:
        A function of one XrTime (ns) that raises ``RuntimeFailureError`` when the runtime
        cannot convert it.
    """
    pfn = ctypes.cast(
        xr.get_instance_proc_addr(instance, "xrConvertTimeToTimespecTimeKHR"),
        xr.PFN_xrConvertTimeToTimespecTimeKHR,
    )

    def convert(t: int) -> int:
        ts = xr.timespec()
        result = pfn(instance, xr.Time(t), ctypes.byref(ts))
        if result < 0:
            raise xr.exception.RuntimeFailureError()
        return int(ts.tv_sec) * 1_000_000_000 + int(ts.tv_nsec)

    return convert


def refresh_rates(session: Any) -> tuple[list[float], float | None]:
    """The display's refresh rates and the current one, Hz (XR_FB_display_refresh_rate).

    Returns ``([], None)`` when the runtime fails the calls (logged).
    """
    try:
        rates = [
            float(getattr(r, "value", r)) for r in xr.enumerate_display_refresh_rates_fb(session)
        ]
        rate = xr.get_display_refresh_rate_fb(session)
    except xr.exception.XrException as exc:
        log.debug("XR_FB_display_refresh_rate failed: %s", exc)
        return [], None
    return rates, float(getattr(rate, "value", rate))


def visibility_mask(
    instance: Any, session: Any, view: int
) -> tuple[NDArray[np.float32], NDArray[np.uint32]]:
    """One view's hidden triangle mesh (XR_KHR_visibility_mask).

    The two-call idiom of ``xrGetVisibilityMaskKHR`` (pyopenxr only makes the first call).

    Args:
        instance: The ``XrInstance``.
        session: The ``XrSession``.
        view: The view index (PRIMARY_STEREO).

    Returns:
        ``(vertices, indices)``: (N, 2) float32 points on the view's z = -1 plane (tangents of
        the view angles) and (M,) uint32 triangle indices; both empty when the mask is empty.

    Raises:
        XrException, AttributeError, TypeError, ValueError: The runtime or pyopenxr failed.
    """
    pfn = ctypes.cast(
        xr.get_instance_proc_addr(instance, "xrGetVisibilityMaskKHR"),
        xr.PFN_xrGetVisibilityMaskKHR,
    )
    args = (
        session,
        xr.ViewConfigurationType.PRIMARY_STEREO.value,
        view,
        xr.VisibilityMaskTypeKHR.HIDDEN_TRIANGLE_MESH.value,
    )
    mask = xr.VisibilityMaskKHR()
    check(pfn(*args, ctypes.byref(mask)))
    n_v, n_i = int(mask.vertex_count_output), int(mask.index_count_output)
    vertices = (xr.Vector2f * max(n_v, 1))()
    indices = (ctypes.c_uint32 * max(n_i, 1))()
    mask.vertex_capacity_input, mask.index_capacity_input = n_v, n_i
    mask.vertices = ctypes.cast(vertices, ctypes.POINTER(xr.Vector2f))
    mask.indices = ctypes.cast(indices, ctypes.POINTER(ctypes.c_uint32))
    if n_v and n_i:
        check(pfn(*args, ctypes.byref(mask)))
    xy = np.frombuffer(vertices, dtype=np.float32, count=2 * n_v).reshape(-1, 2).copy()
    idx = np.frombuffer(indices, dtype=np.uint32, count=n_i).copy()
    return xy, idx
