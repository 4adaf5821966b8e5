"""The OpenXR session state machine as pure logic: state changes in, actions out.

No ``xr`` import here: the backend translates runtime events into calls on
:class:`SessionLifecycle` and carries out the :class:`Action` values it returns. That keeps the
rules (when to call ``xrBeginSession``, ``xrEndSession``, when to stop the frame loop, what counts
as a lost session) testable without a runtime. Times are parameters (``when_ns``, runtime
``XrTime`` or host ns, whichever the caller has); nothing here reads a clock.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class SessionState(enum.IntEnum):
    """``XrSessionState`` values (the numbers match the OpenXR enum)."""

    UNKNOWN = 0
    IDLE = 1
    READY = 2
    SYNCHRONIZED = 3
    VISIBLE = 4
    FOCUSED = 5
    STOPPING = 6
    LOSS_PENDING = 7
    EXITING = 8


class Action(enum.Enum):
    """What the backend must do in response to a state change."""

    #: ``xrBeginSession`` with the primary view configuration.
    BEGIN_SESSION = "begin_session"
    #: ``xrEndSession`` (the runtime moved the session to STOPPING).
    END_SESSION = "end_session"
    #: ``xrRequestExitSession`` (the app wants out while the session runs).
    REQUEST_EXIT = "request_exit"
    #: Leave the frame loop and destroy the session (EXITING, or exit asked while not running).
    EXIT_LOOP = "exit_loop"
    #: The session or instance is being lost: stop and report it (LOSS_PENDING).
    SESSION_LOST = "session_lost"


#: Transitions the OpenXR specification allows (xrSessionState diagram); LOSS_PENDING may
#: follow any state.
ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    SessionState.UNKNOWN: frozenset({SessionState.IDLE}),
    SessionState.IDLE: frozenset({SessionState.READY, SessionState.EXITING}),
    SessionState.READY: frozenset({SessionState.SYNCHRONIZED}),
    SessionState.SYNCHRONIZED: frozenset({SessionState.VISIBLE, SessionState.STOPPING}),
    SessionState.VISIBLE: frozenset({SessionState.FOCUSED, SessionState.SYNCHRONIZED}),
    SessionState.FOCUSED: frozenset({SessionState.VISIBLE}),
    SessionState.STOPPING: frozenset({SessionState.IDLE}),
    SessionState.LOSS_PENDING: frozenset(),
    SessionState.EXITING: frozenset(),
}

#: States in which the app runs the frame loop (``xrWaitFrame`` / begin / end).
FRAME_LOOP_STATES = frozenset(
    {SessionState.READY, SessionState.SYNCHRONIZED, SessionState.VISIBLE, SessionState.FOCUSED}
)
#: States in which submitted layers are shown.
VISIBLE_STATES = frozenset({SessionState.VISIBLE, SessionState.FOCUSED})


@dataclass
class SessionLifecycle:
    """Tracks one session's state and decides the calls that each change requires.

    Attributes:
        state: The latest state the runtime reported.
        running: Between a successful ``xrBeginSession`` and ``xrEndSession``.
        exit_requested: The app asked to leave.
        lost: Why the session was lost, or None.
        history: ``(when_ns, state)`` for every change, oldest first.
        unexpected: Transitions outside the specification's diagram (kept, and followed:
            the runtime is authoritative).
    """

    state: SessionState = SessionState.UNKNOWN
    running: bool = False
    exit_requested: bool = False
    lost: str | None = None
    history: list[tuple[int, SessionState]] = field(default_factory=list)
    unexpected: list[tuple[SessionState, SessionState]] = field(default_factory=list)

    # --- events in ------------------------------------------------------------------------
    def on_state_changed(self, new: SessionState | int, when_ns: int) -> list[Action]:
        """Take in an ``XrEventDataSessionStateChanged``.

        Args:
            new: The new state (an ``XrSessionState`` value).
            when_ns: The event's time (runtime or host ns; only recorded).

        Returns:
            The actions to carry out, in order.
        """
        new = SessionState(int(new))
        old = self.state
        if new != SessionState.LOSS_PENDING and new not in ALLOWED[old] and new != old:
            log.warning("OpenXR session went %s -> %s (not in the spec's diagram)", old, new)
            self.unexpected.append((old, new))
        self.state = new
        self.history.append((int(when_ns), new))
        log.debug("OpenXR session state %s", new.name)
        actions: list[Action] = []
        if new == SessionState.READY and not self.running:
            if self.exit_requested:
                actions.append(Action.EXIT_LOOP)
            else:
                actions.append(Action.BEGIN_SESSION)
        elif new == SessionState.STOPPING and self.running:
            actions.append(Action.END_SESSION)
        elif new == SessionState.EXITING:
            actions.append(Action.EXIT_LOOP)
        elif new == SessionState.LOSS_PENDING:
            self.lost = self.lost or "the runtime reported XR_SESSION_STATE_LOSS_PENDING"
            actions.append(Action.SESSION_LOST)
        return actions

    def on_instance_loss_pending(self, loss_time_ns: int) -> list[Action]:
        """Take in an ``XrEventDataInstanceLossPending`` (the runtime is going away).

        Args:
            loss_time_ns: When the runtime says the instance will be lost.
        """
        self.lost = f"the runtime announced instance loss (XrTime {int(loss_time_ns)})"
        return [Action.SESSION_LOST]

    def on_begun(self) -> None:
        """``xrBeginSession`` succeeded."""
        self.running = True

    def on_ended(self) -> None:
        """``xrEndSession`` returned (successfully or not: the session is not running)."""
        self.running = False

    def on_runtime_error(self, message: str) -> list[Action]:
        """An OpenXR call failed in a way that ends the session (instance lost, IPC failure).

        Args:
            message: What failed, for the user.
        """
        self.lost = self.lost or message
        self.running = False
        return [Action.SESSION_LOST]

    def request_exit(self) -> list[Action]:
        """The app wants to leave (frame budget reached, window closed, Ctrl-C)."""
        if self.exit_requested or self.done:
            return []
        self.exit_requested = True
        if self.running:
            return [Action.REQUEST_EXIT]
        return [Action.EXIT_LOOP]

    # --- questions out --------------------------------------------------------------------
    @property
    def should_run_frames(self) -> bool:
        """Run ``xrWaitFrame`` / ``xrBeginFrame`` / ``xrEndFrame`` now."""
        return self.running and self.lost is None and self.state in FRAME_LOOP_STATES

    @property
    def visible(self) -> bool:
        """Submitted layers are shown (VISIBLE or FOCUSED)."""
        return self.state in VISIBLE_STATES

    @property
    def focused(self) -> bool:
        """The session has input focus."""
        return self.state == SessionState.FOCUSED

    @property
    def done(self) -> bool:
        """Nothing more will run: EXITING reached, lost, or stopped after an exit request."""
        if self.lost is not None or self.state == SessionState.EXITING:
            return True
        idle = (SessionState.UNKNOWN, SessionState.IDLE, SessionState.READY)
        return self.exit_requested and not self.running and self.state in idle

    def reached(self, state: SessionState) -> bool:
        """The session has been in ``state`` at some point."""
        return any(s == state for _t, s in self.history)
