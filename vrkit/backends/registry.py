"""Backend names and the ordered, logged fallback that picks one."""

from __future__ import annotations

import importlib
import logging

from vrkit.backends.base import Backend, RunConfig
from vrkit.core.errors import BackendUnavailableError, InputError

log = logging.getLogger(__name__)

#: Backend name -> "module:Class". Modules are imported only when the backend is tried.
BACKENDS: dict[str, str] = {
    "openxr": "vrkit.backends.openxr.backend:OpenXRBackend",
    "sim": "vrkit.backends.simulator:SimulatorBackend",
    "display": "vrkit.backends.display:DisplayBackend",
    "headless": "vrkit.backends.headless:HeadlessBackend",
}

#: What ``--backend auto`` tries, in order.
AUTO_ORDER = ("openxr", "sim", "headless")


def backend_class(name: str) -> type[Backend]:
    """The class registered under ``name``.

    Raises:
        InputError: Unknown name (lists the known ones).
        BackendUnavailableError: The backend's module cannot be imported here.
    """
    if name not in BACKENDS:
        raise InputError(f"unknown backend {name!r}", f"choose one of: auto, {', '.join(BACKENDS)}")
    module_name, cls_name = BACKENDS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailableError(f"backend {name!r} cannot be loaded: {exc}") from exc
    return getattr(module, cls_name)


def open_backend(name: str, config: RunConfig) -> Backend:
    """Open one backend, or with ``name="auto"`` the first of :data:`AUTO_ORDER` that opens.

    Every skipped backend is logged with its reason; the chosen one is logged too.

    Raises:
        InputError: Unknown backend name.
        BackendUnavailableError: The named backend (or, for auto, every backend) cannot run.
    """
    names = AUTO_ORDER if name == "auto" else (name,)
    reasons = []
    for candidate in names:
        try:
            cls = backend_class(candidate)
            reason = cls.unavailable_reason()
            if reason is not None:
                raise BackendUnavailableError(reason)
            backend = cls(config)
            backend.open()
        except BackendUnavailableError as exc:
            if name != "auto":
                raise
            log.info("skipping backend %s: %s", candidate, exc)
            reasons.append(f"{candidate}: {exc}")
            continue
        if name == "auto":
            log.info("using backend %s", candidate)
        return backend
    raise BackendUnavailableError("no backend could run here (" + "; ".join(reasons) + ")")
