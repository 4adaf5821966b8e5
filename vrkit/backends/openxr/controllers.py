"""Controller input through one OpenXR action set (``khr/simple_controller`` bindings).

Actions: ``grip_pose`` and ``aim_pose`` (pose inputs) and ``select`` (boolean), each with the
left and right hand as subaction paths. Every runtime supports the simple controller profile, and
most map their own controllers onto it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vrkit.backends.openxr._xr import xr
from vrkit.core.types import Pose

HANDS = ("left", "right")
PROFILE = "/interaction_profiles/khr/simple_controller"


@dataclass(frozen=True)
class ControllerState:
    """One hand's controller at a frame's predicted display time.

    Attributes:
        hand: ``"left"`` or ``"right"``.
        active: The runtime has a device bound to this hand's actions.
        grip_pose: ``T_space_grip`` or None when not tracked.
        aim_pose: ``T_space_aim`` or None when not tracked.
        select: The select button is pressed.
    """

    hand: str
    active: bool
    grip_pose: Pose | None
    aim_pose: Pose | None
    select: bool


def _pose(p: object) -> Pose:
    return Pose(
        [p.position.x, p.position.y, p.position.z],
        [p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w],
    )


class ControllerActions:
    """The action set, its actions, suggested bindings and per-hand action spaces.

    Args:
        instance: The ``XrInstance``.
        session: The ``XrSession`` to attach the action set to.

    Attributes:
        action_set: The ``XrActionSet`` named ``vrkit``.
        actions: Action name -> ``XrAction``.
        synced: Number of successful ``xrSyncActions`` calls.
    """

    def __init__(self, instance: object, session: object) -> None:
        self.instance, self.session = instance, session
        self.hand_paths = [xr.string_to_path(instance, f"/user/hand/{h}") for h in HANDS]
        self.action_set = xr.create_action_set(
            instance,
            xr.ActionSetCreateInfo(
                action_set_name="vrkit", localized_action_set_name="vrkit", priority=0
            ),
        )
        self.actions: dict[str, object] = {}
        self.spaces: dict[tuple[str, str], object] = {}
        self.synced = 0
        try:
            for name, kind in (
                ("grip_pose", xr.ActionType.POSE_INPUT),
                ("aim_pose", xr.ActionType.POSE_INPUT),
                ("select", xr.ActionType.BOOLEAN_INPUT),
            ):
                self.actions[name] = xr.create_action(
                    self.action_set,
                    xr.ActionCreateInfo(
                        action_type=kind,
                        action_name=name,
                        localized_action_name=name.replace("_", " "),
                        subaction_paths=self.hand_paths,
                    ),
                )
            bindings = []
            for hand in HANDS:
                for name, component in (
                    ("grip_pose", "grip/pose"),
                    ("aim_pose", "aim/pose"),
                    ("select", "select/click"),
                ):
                    path = xr.string_to_path(instance, f"/user/hand/{hand}/input/{component}")
                    bindings.append(xr.ActionSuggestedBinding(self.actions[name], path))
            xr.suggest_interaction_profile_bindings(
                instance,
                xr.InteractionProfileSuggestedBinding(
                    interaction_profile=xr.string_to_path(instance, PROFILE),
                    suggested_bindings=bindings,
                ),
            )
            xr.attach_session_action_sets(
                session, xr.SessionActionSetsAttachInfo(action_sets=[self.action_set])
            )
            for name in ("grip_pose", "aim_pose"):
                for hand, path in zip(HANDS, self.hand_paths, strict=True):
                    self.spaces[(name, hand)] = xr.create_action_space(
                        session,
                        xr.ActionSpaceCreateInfo(action=self.actions[name], subaction_path=path),
                    )
        except BaseException:
            self.destroy()
            raise
        self._get_infos = {
            hand: tuple(
                xr.ActionStateGetInfo(self.actions[name], path)
                for name in ("grip_pose", "aim_pose", "select")
            )
            for hand, path in zip(HANDS, self.hand_paths, strict=True)
        }
        self._active = xr.ActiveActionSet(self.action_set, xr.NULL_PATH)
        self._sync_info = xr.ActionsSyncInfo(active_action_sets=[self._active])

    def sync(self) -> bool:
        """``xrSyncActions`` for this frame; False while the session is not FOCUSED.

        Input only flows to the focused session; before that the runtime answers
        ``XR_SESSION_NOT_FOCUSED`` (a success code that pyopenxr raises).
        """
        try:
            xr.sync_actions(self.session, self._sync_info)
        except xr.exception.SessionNotFocused:
            return False
        self.synced += 1
        return True

    def states(self, space: object, when: int) -> list[ControllerState]:
        """Both hands' states located in ``space`` at runtime time ``when``.

        Args:
            space: The reference ``XrSpace`` poses are expressed in.
            when: ``XrTime`` (the frame's predicted display time).
        """
        out = []
        for hand in HANDS:
            grip_info, _aim_info, select_info = self._get_infos[hand]
            grip_state = xr.get_action_state_pose(self.session, grip_info)
            if not grip_state.is_active:
                # No device bound to this hand: nothing to locate (saves four runtime calls).
                out.append(ControllerState(hand, False, None, None, False))
                continue
            sel = xr.get_action_state_boolean(self.session, select_info)
            poses: dict[str, Pose | None] = {}
            for name in ("grip_pose", "aim_pose"):
                loc = xr.locate_space(self.spaces[(name, hand)], space, when)
                valid = xr.SpaceLocationFlags.POSITION_VALID_BIT
                valid |= xr.SpaceLocationFlags.ORIENTATION_VALID_BIT
                poses[name] = _pose(loc.pose) if (loc.location_flags & valid) == valid else None
            out.append(
                ControllerState(
                    hand=hand,
                    active=True,
                    grip_pose=poses["grip_pose"],
                    aim_pose=poses["aim_pose"],
                    select=bool(sel.is_active and sel.current_state),
                )
            )
        return out

    def destroy(self, call_runtime: bool = True) -> None:
        """Destroy spaces, then actions, then the action set (reverse order); idempotent."""
        spaces, self.spaces = list(self.spaces.values()), {}
        actions, self.actions = list(self.actions.values()), {}
        action_set, self.action_set = getattr(self, "action_set", None), None
        if not call_runtime:
            return
        for fn, handles in (
            (xr.destroy_space, reversed(spaces)),
            (xr.destroy_action, reversed(actions)),
        ):
            for h in handles:
                try:
                    fn(h)
                except xr.exception.XrException:
                    pass
        if action_set is not None:
            try:
                xr.destroy_action_set(action_set)
            except xr.exception.XrException:
                pass
