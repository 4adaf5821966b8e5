"""Ctrl-C and SIGTERM that end a command cleanly, however many arrive.

The command line installs :func:`handlers` around a command. A signal (SIGINT or SIGTERM)

- outside a frame loop raises :class:`Interrupted` where the program is, as Ctrl-C always did;
  later signals are ignored while the program unwinds and writes what it has (its ``finally``
  blocks and atomic writes must not be cut short by the second press of an impatient user);
- inside :func:`deferred` (a frame loop) only sets a flag; the loop calls :func:`check` at a
  frame boundary, so the frame in flight is finished and recorded and the files on disk match
  the record;
- a third signal raises :class:`Interrupted` wherever the program is, for a program that hangs.

Exit status: 130 for SIGINT, 143 for SIGTERM (128 + the signal number).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: Signals after which a third one raises wherever the program is.
FORCE_AFTER = 2


class Interrupted(KeyboardInterrupt):
    """The user (SIGINT) or the system (SIGTERM) asked the command to stop.

    Args:
        signum: The signal number.
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        """128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


class _State:
    def __init__(self) -> None:
        self.count = 0
        self.signum: int | None = None
        self.defer = False
        self.raised = False


_state = _State()


def _handle(signum: int, _frame: FrameType | None) -> None:
    _state.count += 1
    _state.signum = _state.signum or signum
    if _state.count > FORCE_AFTER:
        raise Interrupted(signum)
    if _state.defer or _state.raised:
        return  # a frame loop ends at its next boundary; an unwinding program is not cut short
    _state.raised = True
    raise Interrupted(signum)


def requested() -> bool:
    """Whether a stop was asked for (a signal has arrived)."""
    return _state.signum is not None


def check() -> None:
    """Raise :class:`Interrupted` if a stop was asked for (call at a frame boundary).

    After this raise, further signals are ignored while the program unwinds (up to the
    third, see the module docstring).
    """
    if _state.signum is not None and not _state.raised:
        _state.raised = True
        _state.defer = False
        raise Interrupted(_state.signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside this block a signal only asks for a stop; :func:`check` acts on it."""
    before = _state.defer
    _state.defer = True
    try:
        yield
    finally:
        _state.defer = before


@contextlib.contextmanager
def handlers(linger: bool = False) -> Iterator[None]:
    """Install the SIGINT and SIGTERM handlers for one command (main thread only).

    Args:
        linger: When the process ends after the block (the ``vrkit`` command itself) and a
            signal came: ignore further signals instead of restoring the old handlers, so a
            second Ctrl-C landing between the block's end and the exit does not kill the
            process with a traceback after it has finished cleanly.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    global _state
    _state = _State()
    old = {s: signal.signal(s, _handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, signal.SIG_IGN if linger and _state.count else h)


def exit_code(exc: BaseException) -> int:
    """The exit status for an interrupt: 128 + the signal, 130 for a plain KeyboardInterrupt."""
    return exc.exit_code if isinstance(exc, Interrupted) else 130
