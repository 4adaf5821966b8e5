"""The OpenXR session state machine as pure logic (no runtime): transitions in, actions out."""

from __future__ import annotations

from vrkit.backends.openxr.lifecycle import Action, SessionLifecycle, SessionState

S = SessionState


def _drive(lc: SessionLifecycle, states: list[SessionState]) -> list[list[Action]]:
    out = []
    for i, s in enumerate(states):
        actions = lc.on_state_changed(s, when_ns=1000 * i)
        for a in actions:  # what the backend does after a successful call
            if a is Action.BEGIN_SESSION:
                lc.on_begun()
            elif a is Action.END_SESSION:
                lc.on_ended()
        out.append(actions)
    return out


def test_normal_start_runs_frames_from_ready_on():
    lc = SessionLifecycle()
    assert not lc.should_run_frames
    acts = _drive(lc, [S.IDLE, S.READY])
    assert acts == [[], [Action.BEGIN_SESSION]]
    assert lc.running and lc.should_run_frames and not lc.visible
    _drive(lc, [S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED])
    assert lc.visible and lc.focused and lc.should_run_frames and not lc.done
    assert lc.reached(S.FOCUSED) and not lc.unexpected
    assert [s for _t, s in lc.history] == [S.IDLE, S.READY, S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED]


def test_exit_request_while_running_is_pumped_to_exiting():
    lc = SessionLifecycle()
    _drive(lc, [S.IDLE, S.READY, S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED])
    assert lc.request_exit() == [Action.REQUEST_EXIT]
    assert lc.request_exit() == []  # asking twice does nothing more
    assert not lc.done
    acts = _drive(lc, [S.VISIBLE, S.SYNCHRONIZED, S.STOPPING])
    assert acts[-1] == [Action.END_SESSION]
    assert not lc.running and not lc.should_run_frames
    acts = _drive(lc, [S.IDLE, S.EXITING])
    assert acts == [[], [Action.EXIT_LOOP]]
    assert lc.done and lc.lost is None and not lc.unexpected


def test_exit_request_before_the_session_runs_ends_at_once():
    lc = SessionLifecycle()
    _drive(lc, [S.IDLE])
    assert lc.request_exit() == [Action.EXIT_LOOP]
    assert lc.done
    # A late READY must not begin a session the app no longer wants.
    assert lc.on_state_changed(S.READY, 5) == [Action.EXIT_LOOP]
    assert not lc.running


def test_runtime_initiated_stop_ends_the_session_without_exit_request():
    lc = SessionLifecycle()
    _drive(lc, [S.IDLE, S.READY, S.SYNCHRONIZED])
    acts = _drive(lc, [S.STOPPING, S.IDLE])
    assert acts == [[Action.END_SESSION], []]
    assert not lc.done  # the runtime may make the session READY again
    assert _drive(lc, [S.READY]) == [[Action.BEGIN_SESSION]]


def test_loss_pending_from_any_state_is_a_loss():
    for last in (S.IDLE, S.READY, S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED):
        lc = SessionLifecycle()
        path = [S.IDLE, S.READY, S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED]
        _drive(lc, path[: path.index(last) + 1])
        assert lc.on_state_changed(S.LOSS_PENDING, 9) == [Action.SESSION_LOST]
        assert lc.done and "LOSS_PENDING" in lc.lost and not lc.unexpected


def test_instance_loss_and_runtime_errors_stop_the_frame_loop():
    lc = SessionLifecycle()
    _drive(lc, [S.IDLE, S.READY, S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED])
    assert lc.on_instance_loss_pending(123) == [Action.SESSION_LOST]
    assert lc.done and "123" in lc.lost
    lc2 = SessionLifecycle()
    _drive(lc2, [S.IDLE, S.READY])
    assert lc2.on_runtime_error("xrWaitFrame failed with InstanceLostError") == [
        Action.SESSION_LOST
    ]
    assert lc2.done and not lc2.running and not lc2.should_run_frames
    assert lc2.lost.startswith("xrWaitFrame")


def test_transitions_outside_the_spec_are_recorded_and_followed():
    lc = SessionLifecycle()
    _drive(lc, [S.IDLE, S.READY])
    acts = _drive(lc, [S.FOCUSED])  # skipped SYNCHRONIZED and VISIBLE
    assert acts == [[]]
    assert lc.unexpected == [(S.READY, S.FOCUSED)]
    assert lc.state == S.FOCUSED and lc.focused


def test_state_values_match_openxr():
    from vrkit.backends.openxr._xr import xr

    for s in SessionState:
        if s is not S.UNKNOWN:
            assert int(getattr(xr.SessionState, s.name)) == int(s)
