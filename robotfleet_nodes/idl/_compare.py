"""Whether two definitions of one interface name are the same interface.

A user package may overlap a built-in one (a checkout of ROS 2's common_interfaces holds its
own ``sensor_msgs``): a definition that only differs in comments, blank lines or layout is
the same interface and is accepted; any difference in a field, a type, a bound, a constant or
a default is a conflict, described in a few words. Defaults are not compared against the
standard messages from rosbags' typestore: it lost them.
"""

from __future__ import annotations

from robotfleet_nodes.idl._spec import ActionSpec, Field, InterfaceSpec, MessageSpec, ServiceSpec

__all__ = ["definition_difference"]


def _parts(spec: InterfaceSpec) -> tuple[MessageSpec, ...]:
    if isinstance(spec, MessageSpec):
        return (spec,)
    if isinstance(spec, ServiceSpec):
        return (spec.request, spec.response)
    return (spec.goal, spec.result, spec.feedback)


def _kind(spec: InterfaceSpec) -> str:
    if isinstance(spec, ServiceSpec):
        return "service"
    return "action" if isinstance(spec, ActionSpec) else "message"


def _field_text(field: Field, *, defaults: bool) -> str:
    text = f"{field.type} {field.name}"
    if defaults and field.has_default:
        text += f" {field.default!r}"
    return text


def _message_difference(ours: MessageSpec, theirs: MessageSpec, *, defaults: bool) -> str | None:
    where = ours.full_name.rsplit("/", 1)[1]
    mine = [_field_text(f, defaults=defaults) for f in ours.fields]
    other = [_field_text(f, defaults=defaults) for f in theirs.fields]
    for index in range(max(len(mine), len(other))):
        a = mine[index] if index < len(mine) else "nothing"
        b = other[index] if index < len(other) else "nothing"
        if a != b:
            return f"{where} field {index + 1} is '{a}' there, '{b}' here"
    mine = [f"{c.type} {c.name}={c.value!r}" for c in ours.constants]
    other = [f"{c.type} {c.name}={c.value!r}" for c in theirs.constants]
    if mine != other:
        changed = sorted(set(mine).symmetric_difference(other))
        return f"{where} constants differ ({', '.join(changed[:3])})"
    return None


def definition_difference(
    registered: InterfaceSpec, new: InterfaceSpec, *, defaults: bool = True
) -> str | None:
    """None when ``new`` defines the same interface as ``registered``, else what differs
    (``registered`` is "there", ``new`` is "here"); ``defaults=False`` ignores defaults."""
    if type(registered) is not type(new):
        return f"a {_kind(registered)} there, a {_kind(new)} here"
    for ours, theirs in zip(_parts(registered), _parts(new), strict=True):
        difference = _message_difference(ours, theirs, defaults=defaults)
        if difference is not None:
            return difference
    return None
