"""The composition layer vrkit submits: one projection layer, with depth chained per view.

The ctypes structures are built once when the swapchains exist; per frame only the views'
poses and FOVs and the display time change (:meth:`ProjectionLayer.end_info`), so ``xrEndFrame``
costs no allocation.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from vrkit.backends.openxr._xr import xr
from vrkit.backends.openxr.swapchain import ViewSwapchain


def _sub_image(handle: Any, sc: ViewSwapchain) -> Any:
    return xr.SwapchainSubImage(
        swapchain=handle, image_rect=xr.Rect2Di(extent=xr.Extent2Di(sc.width, sc.height))
    )


class ProjectionLayer:
    """``XrFrameEndInfo`` with one ``XrCompositionLayerProjection`` over the swapchains.

    With depth swapchains (XR_KHR_composition_layer_depth), each projection view's ``next``
    points at an ``XrCompositionLayerDepthInfoKHR`` naming that view's depth swapchain; window
    depth 0..1 maps to ``near_z``..``far_z`` of the renderer's projection.

    Args:
        swapchains: One per view, in view order.
        space: The reference space the views are located in.
        blend_mode: The environment blend mode.
        depth_range: ``(near, far)`` metres of the renderer's projection.

    Attributes:
        depth_infos: The depth infos, one per view that has a depth swapchain.
        projection_views: One ``XrCompositionLayerProjectionView`` per view.
        layer: The projection layer.
    """

    def __init__(
        self,
        swapchains: Sequence[ViewSwapchain],
        space: Any,
        blend_mode: Any,
        depth_range: tuple[float, float],
    ) -> None:
        near, far = depth_range
        depth = [sc for sc in swapchains if sc.depth_handle is not None]
        self.depth_infos = (xr.CompositionLayerDepthInfoKHR * len(swapchains))(
            *(
                xr.CompositionLayerDepthInfoKHR(
                    sub_image=_sub_image(sc.depth_handle, sc),
                    min_depth=0.0,
                    max_depth=1.0,
                    near_z=near,
                    far_z=far,
                )
                for sc in depth
            )
        )
        self.projection_views = (xr.CompositionLayerProjectionView * len(swapchains))(
            *(
                xr.CompositionLayerProjectionView(
                    sub_image=_sub_image(sc.handle, sc),
                    next=(
                        ctypes.cast(ctypes.pointer(self.depth_infos[i]), ctypes.c_void_p)
                        if sc.depth_handle is not None
                        else None
                    ),
                )
                for i, sc in enumerate(swapchains)
            )
        )
        self.layer = xr.CompositionLayerProjection(space=space, views=self.projection_views)
        header = ctypes.POINTER(xr.CompositionLayerBaseHeader)
        self._layer_ptrs = (header * 1)(ctypes.cast(ctypes.pointer(self.layer), header))
        self._with_layer = xr.FrameEndInfo(
            display_time=0, environment_blend_mode=blend_mode, layers=self._layer_ptrs
        )
        self._without_layer = xr.FrameEndInfo(
            display_time=0, environment_blend_mode=blend_mode, layers=None
        )

    def end_info(self, xr_views: Sequence[Any] | None, display_time: int) -> Any:
        """The ``XrFrameEndInfo`` for one frame.

        Args:
            xr_views: The frame's located ``XrView`` per view (their poses and FOVs are what
                the images were rendered with), or None to submit no layer (nothing rendered).
            display_time: The frame's predicted display time (``XrTime``).
        """
        if xr_views is None:
            info = self._without_layer
        else:
            for pv, v in zip(self.projection_views, xr_views, strict=True):
                pv.pose, pv.fov = v.pose, v.fov
            info = self._with_layer
        info.display_time = display_time
        return info
