"""Blocking runtime calls on a worker thread, with a deadline.

A runtime that hangs (frozen, stopped with SIGSTOP) would block ``xrWaitFrame`` forever; the
OpenXR backend makes such calls through :class:`Watchdog` so the app gets a
:class:`~vrkit.core.errors.SessionLostError` within seconds instead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Watchdog:
    """Runs blocking runtime calls on a worker thread and gives up after a deadline.

    A ctypes call cannot be interrupted; when one overruns, the worker is abandoned (it is a
    daemon thread) and :attr:`hung` stays True: the caller must stop calling the runtime.

    Attributes:
        hung: True once a call overran its deadline.
    """

    def __init__(self) -> None:
        self._req: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._res: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self.hung = False
        self._thread = threading.Thread(target=self._run, name="vrkit-xr-wait", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (fn := self._req.get()) is not None:
            try:
                self._res.put((True, fn()))
            except BaseException as exc:  # handed to the caller's thread
                self._res.put((False, exc))

    def call(self, fn: Callable[[], T], timeout_s: float) -> T:
        """Run ``fn`` on the worker; raise TimeoutError when it takes longer than ``timeout_s``."""
        if self.hung:
            raise TimeoutError("an earlier runtime call never returned")
        if threading.current_thread() is self._thread:
            return fn()  # already on the worker (a guarded call inside a batch)
        self._req.put(fn)
        try:
            ok, value = self._res.get(timeout=timeout_s)
        except queue.Empty:
            self.hung = True
            raise TimeoutError(f"no answer within {timeout_s:.1f} s") from None
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        """Let the worker finish (unless it is stuck in the runtime)."""
        if not self.hung:
            self._req.put(None)
            self._thread.join(timeout=1.0)
