"""The OpenXR backend: the only package that imports pyopenxr (``xr``, through :mod:`._xr`).

Modules, from the runtime up:

* :mod:`.runtime`: the runtime manifest the loader would use, and the missing-runtime message
  (no pyopenxr).
* :mod:`.lifecycle`: the session state machine as pure logic (no pyopenxr).
* :mod:`.glbinding`: the graphics binding structure of an EGL or GLX context.
* :mod:`.instance`: GL context, binding, instance, system, session and spaces, in order, each
  registering its teardown on the backend's ExitStack.
* :mod:`.swapchain`, :mod:`.layers`: swapchains per view and the projection layer over them.
* :mod:`.controllers`, :mod:`.extensions`, :mod:`.hidden_area`: input and optional extensions.
* :mod:`.watchdog`: blocking runtime calls with a deadline.
* :mod:`.backend`: :class:`~vrkit.backends.openxr.backend.OpenXRBackend`, the frame loop.
* :mod:`.info`: what ``vrkit info`` reports.
"""
