"""The types an action is built from, derived from its ``.action`` as rosidl derives them.

For ``pkg/action/Name`` ROS 2 generates, besides ``Name_Goal`` / ``Name_Result`` /
``Name_Feedback``:

- service ``pkg/action/Name_SendGoal``:
  ``unique_identifier_msgs/UUID goal_id``, ``Name_Goal goal`` ---
  ``bool accepted``, ``builtin_interfaces/Time stamp``
- service ``pkg/action/Name_GetResult``:
  ``unique_identifier_msgs/UUID goal_id`` --- ``int8 status``, ``Name_Result result``
- message ``pkg/action/Name_FeedbackMessage``:
  ``unique_identifier_msgs/UUID goal_id``, ``Name_Feedback feedback``

plus the shared ``action_msgs/srv/CancelGoal`` and ``action_msgs/msg/GoalStatusArray``.
The derived specs are added to the default registry (idempotently), so tools decode the
``_action/*`` topics and services by type name like any other interface.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl import (
    Action,
    ActionSpec,
    Field,
    FieldType,
    Message,
    MessageSpec,
    Service,
    ServiceSpec,
    default_registry,
)

__all__ = ["ActionTypes", "action_types", "goal_id_bytes", "new_goal_id", "stamp_now", "stamp_ns"]

_UUID = "unique_identifier_msgs/msg/UUID"
_TIME = "builtin_interfaces/msg/Time"
_CANCEL_GOAL = "action_msgs/srv/CancelGoal"
#: Where ``action_msgs/srv/CancelGoal.srv`` lives (rosbags ships messages only).
_INTERFACES_DIR = Path(__file__).resolve().parent.parent / "interfaces"

_lock = threading.Lock()
_cache: dict[type[Any], ActionTypes] = {}


@dataclass(frozen=True, slots=True)
class ActionTypes:
    """Every class one action uses on the wire."""

    action: type[Action]
    send_goal: type[Service]  #: ``pkg/action/Name_SendGoal``
    get_result: type[Service]  #: ``pkg/action/Name_GetResult``
    feedback_message: type[Message]  #: ``pkg/action/Name_FeedbackMessage``
    cancel_goal: type[Service]  #: ``action_msgs/srv/CancelGoal``
    goal_status_array: type[Message]  #: ``action_msgs/msg/GoalStatusArray``
    goal_status: type[Message]  #: ``action_msgs/msg/GoalStatus``
    goal_info: type[Message]  #: ``action_msgs/msg/GoalInfo``
    uuid: type[Message]  #: ``unique_identifier_msgs/msg/UUID``
    time: type[Message]  #: ``builtin_interfaces/msg/Time``


def _field(name: str, type_name: str) -> Field:
    return Field(name, FieldType(type_name))


def derived_specs(spec: ActionSpec) -> tuple[ServiceSpec, ServiceSpec, MessageSpec]:
    """``Name_SendGoal``, ``Name_GetResult`` and ``Name_FeedbackMessage`` of ``spec``."""
    name = spec.full_name
    short = name.rsplit("/", 1)[1]
    send_goal, get_result, feedback_msg = f"{name}_SendGoal", f"{name}_GetResult", f"{name}_FeedbackMessage"
    send_goal_text = (
        f"unique_identifier_msgs/UUID goal_id\n{short}_Goal goal\n---\n"
        "bool accepted\nbuiltin_interfaces/Time stamp\n"
    )
    get_result_text = f"unique_identifier_msgs/UUID goal_id\n---\nint8 status\n{short}_Result result\n"
    feedback_text = f"unique_identifier_msgs/UUID goal_id\n{short}_Feedback feedback\n"
    send_goal_spec = ServiceSpec(
        send_goal,
        MessageSpec(
            f"{send_goal}_Request",
            (_field("goal_id", _UUID), _field("goal", spec.goal.full_name)),
            text=send_goal_text.split("---\n", maxsplit=1)[0],
            source=spec.source,
        ),
        MessageSpec(
            f"{send_goal}_Response",
            (_field("accepted", "bool"), _field("stamp", _TIME)),
            text=send_goal_text.split("---\n", maxsplit=1)[1],
            source=spec.source,
        ),
        text=send_goal_text,
        source=spec.source,
    )
    get_result_spec = ServiceSpec(
        get_result,
        MessageSpec(
            f"{get_result}_Request",
            (_field("goal_id", _UUID),),
            text=get_result_text.split("---\n", maxsplit=1)[0],
            source=spec.source,
        ),
        MessageSpec(
            f"{get_result}_Response",
            (_field("status", "int8"), _field("result", spec.result.full_name)),
            text=get_result_text.split("---\n", maxsplit=1)[1],
            source=spec.source,
        ),
        text=get_result_text,
        source=spec.source,
    )
    feedback_spec = MessageSpec(
        feedback_msg,
        (_field("goal_id", _UUID), _field("feedback", spec.feedback.full_name)),
        text=feedback_text,
        source=spec.source,
    )
    return send_goal_spec, get_result_spec, feedback_spec


def _same_fields(registered: Any, spec: ActionSpec) -> bool:
    if not isinstance(registered, ActionSpec):
        return False
    parts = ("goal", "result", "feedback")
    return all(getattr(registered, p).fields == getattr(spec, p).fields for p in parts)


def _ensure_cancel_goal() -> None:
    registry = default_registry()
    if _CANCEL_GOAL not in registry:
        registry.load_package("action_msgs", _INTERFACES_DIR / "action_msgs")


def action_types(action_type: type[Any]) -> ActionTypes:
    """The wire types of ``action_type`` (a generated action class); cached per class.

    Raises ``TypeError`` when ``action_type`` is not an action class.
    """
    cached = _cache.get(action_type)
    if cached is not None:
        return cached
    spec = getattr(action_type, "__ros_spec__", None)
    if not isinstance(spec, ActionSpec):
        raise TypeError(
            f"Expected an action class (e.g. `from pkg.action import Fibonacci`), got {action_type!r}"
        )
    registry = default_registry()
    with _lock:
        cached = _cache.get(action_type)
        if cached is not None:
            return cached
        if spec.full_name not in registry:
            registry.add_spec(spec)
        elif not _same_fields(registry.get_spec(spec.full_name), spec):
            raise InterfaceError(
                f"{spec.full_name} given to an action server/client differs from the registered "
                "definition; load each action package once"
            )
        _ensure_cancel_goal()
        send_goal, get_result, feedback = derived_specs(spec)
        for derived in (send_goal, get_result, feedback):
            registry.add_spec(derived)
        types = ActionTypes(
            action=action_type,
            send_goal=registry.get_interface(send_goal.full_name),  # type: ignore[arg-type]
            get_result=registry.get_interface(get_result.full_name),  # type: ignore[arg-type]
            feedback_message=registry.get_class(feedback.full_name),
            cancel_goal=registry.get_interface(_CANCEL_GOAL),  # type: ignore[arg-type]
            goal_status_array=registry.get_class("action_msgs/msg/GoalStatusArray"),
            goal_status=registry.get_class("action_msgs/msg/GoalStatus"),
            goal_info=registry.get_class("action_msgs/msg/GoalInfo"),
            uuid=registry.get_class(_UUID),
            time=registry.get_class(_TIME),
        )
        _cache[action_type] = types
    return types


def new_goal_id() -> bytes:
    """A fresh random goal id (16 bytes, a version-4 UUID as rclpy makes them)."""
    return uuid.uuid4().bytes


def goal_id_bytes(goal_id: Any) -> bytes:
    """The 16 bytes of a ``unique_identifier_msgs/UUID`` (or of ``bytes`` / ``uuid.UUID``)."""
    if isinstance(goal_id, uuid.UUID):
        return goal_id.bytes
    if isinstance(goal_id, bytes | bytearray):
        return bytes(goal_id)
    return bytes(goal_id.uuid)


def stamp_now(time_cls: type[Message]) -> Message:
    """The current wall-clock time as a ``builtin_interfaces/Time``."""
    now = time.time_ns()
    return time_cls(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000)


def stamp_ns(stamp: Any) -> int:
    """A ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
