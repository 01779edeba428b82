"""REP-2011 type hashes (``RIHS01_<sha256>``), computed exactly as ROS 2 computes them.

ROS 2 (``rosidl_generator_type_description``) describes a type as a ``TypeDescription``
message: the type itself plus every type it references (sorted by name), each as a list of
fields ``{name, type: {type_id, capacity, string_capacity, nested_type_name}}``. Default
values are dropped, the result is dumped as JSON with the separators ``", "`` and ``": "``
and hashed with SHA-256.

Two details that differ from a naive reading of a ``.msg`` file, both checked against hashes
that ROS 2 publishes: a ``char`` field is ``uint8`` in the IDL ROS generates from ``.msg``
(so its type id is ``UINT8``, not ``CHAR``), and a message without fields gets the dummy
member ``uint8 structure_needs_at_least_one_member``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl._spec import (
    ActionSpec,
    ArrayKind,
    Field,
    FieldType,
    MessageSpec,
    ServiceSpec,
)

__all__ = ["action_type_hash", "interface_type_hashes", "service_type_hash", "type_description", "type_hash"]

Resolve = Callable[[str], MessageSpec]
_Description = dict[str, Any]

# type_description_interfaces/msg/FieldType
_NESTED_TYPE = 1
_TYPE_IDS: dict[str, int] = {
    "int8": 2,
    "uint8": 3,
    "int16": 4,
    "uint16": 5,
    "int32": 6,
    "uint32": 7,
    "int64": 8,
    "uint64": 9,
    "float32": 10,
    "float64": 11,
    "char": 3,  # ``.msg`` char becomes IDL uint8 (FIELD_TYPE_CHAR=13 is IDL's char)
    "bool": 15,
    "byte": 16,
    "string": 17,
    "wstring": 18,
}
_BOUNDED_STRING = 21
_BOUNDED_WSTRING = 22
_ARRAY_OFFSET: dict[ArrayKind, int] = {
    ArrayKind.NONE: 0,
    ArrayKind.FIXED: 48,
    ArrayKind.BOUNDED: 96,
    ArrayKind.UNBOUNDED: 144,
}
_DUMMY_FIELD = Field("structure_needs_at_least_one_member", FieldType("uint8"))

_PREFIX = "RIHS01_"


def _field_type(ftype: FieldType) -> dict[str, Any]:
    if ftype.is_primitive:
        if ftype.string_bound is not None and ftype.base in ("string", "wstring"):
            base_id = _BOUNDED_STRING if ftype.base == "string" else _BOUNDED_WSTRING
        else:
            base_id = _TYPE_IDS[ftype.base]
        nested = ""
    else:
        base_id = _NESTED_TYPE
        nested = ftype.base
    capacity = (ftype.array_size or 0) if ftype.array in (ArrayKind.FIXED, ArrayKind.BOUNDED) else 0
    return {
        "type_id": base_id + _ARRAY_OFFSET[ftype.array],
        "capacity": capacity,
        "string_capacity": ftype.string_bound or 0,
        "nested_type_name": nested,
    }


def _individual(type_name: str, fields: Iterable[Field]) -> _Description:
    items = [{"name": f.name, "type": _field_type(f.type)} for f in fields]
    if not items:
        items = [{"name": _DUMMY_FIELD.name, "type": _field_type(_DUMMY_FIELD.type)}]
    return {"type_name": type_name, "fields": items}


def _full(top: str, known: dict[str, _Description], resolve: Resolve) -> _Description:
    """Collect ``top`` and everything it references; ``known`` holds synthesised types."""

    def describe(name: str) -> _Description:
        if name not in known:
            try:
                spec = resolve(name)
            except LookupError as exc:
                raise InterfaceError(f"cannot hash {top}: unknown referenced type {name}") from exc
            known[name] = _individual(spec.full_name, spec.fields)
        return known[name]

    top_desc = describe(top)
    referenced: set[str] = set()
    pending = [f["type"]["nested_type_name"] for f in top_desc["fields"]]
    while pending:
        name = pending.pop()
        if name and name not in referenced:
            referenced.add(name)
            pending.extend(f["type"]["nested_type_name"] for f in describe(name)["fields"])
    return {
        "type_description": top_desc,
        "referenced_type_descriptions": [known[name] for name in sorted(referenced)],
    }


def _digest(description: _Description) -> str:
    text = json.dumps(description, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
    return _PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def type_description(full_name: str, resolve: Resolve) -> dict[str, Any]:
    """The hashable ``TypeDescription`` of a message type, as a JSON-ready dict."""
    return _full(full_name, {}, resolve)


def type_hash(full_name: str, resolve: Resolve) -> str:
    """The RIHS01 hash of message type ``full_name`` (``pkg/msg/Name``).

    ``resolve`` maps a full type name to its :class:`MessageSpec`; it is called for the type
    and every type it references. Raises :class:`InterfaceError` if one is unknown.
    """
    return _digest(_full(full_name, {}, resolve))


def _service_types(name: str, request: MessageSpec, response: MessageSpec) -> dict[str, _Description]:
    """The synthesised descriptions of ``pkg/srv/Name`` and ``Name_Event`` (and its parts)."""
    req_name, resp_name, event_name = f"{name}_Request", f"{name}_Response", f"{name}_Event"
    return {
        name: _individual(
            name,
            [
                Field("request_message", FieldType(req_name)),
                Field("response_message", FieldType(resp_name)),
                Field("event_message", FieldType(event_name)),
            ],
        ),
        req_name: _individual(req_name, request.fields),
        resp_name: _individual(resp_name, response.fields),
        event_name: _individual(
            event_name,
            [
                Field("info", FieldType("service_msgs/msg/ServiceEventInfo")),
                Field("request", FieldType(req_name, array=ArrayKind.BOUNDED, array_size=1)),
                Field("response", FieldType(resp_name, array=ArrayKind.BOUNDED, array_size=1)),
            ],
        ),
    }


def service_type_hash(spec: ServiceSpec, resolve: Resolve) -> str:
    """The RIHS01 hash of a service type ``pkg/srv/Name``.

    Built as ROS 2 does: a type with fields ``request_message``, ``response_message`` and
    ``event_message``; the event type ``Name_Event`` holds ``service_msgs/ServiceEventInfo
    info`` and bounded (``<=1``) sequences of the request and response. ``resolve`` must know
    ``service_msgs/msg/ServiceEventInfo`` and ``builtin_interfaces/msg/Time``. Verified
    against the hashes ROS 2 publishes for ``turtlesim/srv/Spawn``.
    """
    known = _service_types(spec.full_name, spec.request, spec.response)
    return _digest(_full(spec.full_name, known, resolve))


def _action_types(spec: ActionSpec) -> dict[str, _Description]:
    name = spec.full_name
    goal, result, feedback = f"{name}_Goal", f"{name}_Result", f"{name}_Feedback"
    send_goal, get_result, feedback_msg = f"{name}_SendGoal", f"{name}_GetResult", f"{name}_FeedbackMessage"
    uuid = FieldType("unique_identifier_msgs/msg/UUID")
    known: dict[str, _Description] = {
        name: _individual(
            name,
            [
                Field("goal", FieldType(goal)),
                Field("result", FieldType(result)),
                Field("feedback", FieldType(feedback)),
                Field("send_goal_service", FieldType(send_goal)),
                Field("get_result_service", FieldType(get_result)),
                Field("feedback_message", FieldType(feedback_msg)),
            ],
        ),
        goal: _individual(goal, spec.goal.fields),
        result: _individual(result, spec.result.fields),
        feedback: _individual(feedback, spec.feedback.fields),
        feedback_msg: _individual(
            feedback_msg, [Field("goal_id", uuid), Field("feedback", FieldType(feedback))]
        ),
    }
    send_goal_request = MessageSpec(
        f"{send_goal}_Request", (Field("goal_id", uuid), Field("goal", FieldType(goal)))
    )
    send_goal_response = MessageSpec(
        f"{send_goal}_Response",
        (Field("accepted", FieldType("bool")), Field("stamp", FieldType("builtin_interfaces/msg/Time"))),
    )
    get_result_request = MessageSpec(f"{get_result}_Request", (Field("goal_id", uuid),))
    get_result_response = MessageSpec(
        f"{get_result}_Response",
        (Field("status", FieldType("int8")), Field("result", FieldType(result))),
    )
    known.update(_service_types(send_goal, send_goal_request, send_goal_response))
    known.update(_service_types(get_result, get_result_request, get_result_response))
    return known


def action_type_hash(spec: ActionSpec, resolve: Resolve) -> str:
    """The RIHS01 hash of an action type ``pkg/action/Name``.

    Built as ROS 2 does: fields ``goal``, ``result``, ``feedback``, ``send_goal_service``,
    ``get_result_service`` and ``feedback_message``, with the ``Name_SendGoal`` and
    ``Name_GetResult`` services and ``Name_FeedbackMessage`` synthesised as
    ``rosidl_parser`` defines them. ``resolve`` must know ``unique_identifier_msgs/msg/UUID``,
    ``builtin_interfaces/msg/Time`` and ``service_msgs/msg/ServiceEventInfo``.

    Checked against the hashes the ``ros-test-msgs`` wheel ships (tests/idl/test_ros2_hashes.py).
    """
    return _digest(_full(spec.full_name, _action_types(spec), resolve))


def interface_type_hashes(spec: MessageSpec | ServiceSpec | ActionSpec, resolve: Resolve) -> dict[str, str]:
    """Full name -> RIHS01 hash of ``spec`` and of every type ROS 2 derives from it.

    A message gives itself; a service ``Name``, ``Name_Request``, ``Name_Response`` and
    ``Name_Event``; an action ``Name``, its ``_Goal`` / ``_Result`` / ``_Feedback``,
    ``_FeedbackMessage``, and the ``_SendGoal`` / ``_GetResult`` services with their
    ``_Request`` / ``_Response`` / ``_Event`` (the names the ``share/<pkg>/*/*.json`` type
    descriptions of a ROS 2 build list).
    """
    if isinstance(spec, MessageSpec):
        return {spec.full_name: type_hash(spec.full_name, resolve)}
    if isinstance(spec, ServiceSpec):
        known = _service_types(spec.full_name, spec.request, spec.response)
    else:
        known = _action_types(spec)
    return {name: _digest(_full(name, known, resolve)) for name in sorted(known)}
