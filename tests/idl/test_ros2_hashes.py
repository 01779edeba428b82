"""Every type hash we compute equals the one real ROS 2 generated (the `.venv-ros2` oracle).

The ``ros-*`` wheels ship rosidl's type descriptions as ``share/<pkg>/{msg,srv,action}/*.json``;
each lists the RIHS01 hash of the type, of every type ROS 2 derives from it (a service's
``_Request`` / ``_Response`` / ``_Event``, an action's goal, result, feedback, ``_SendGoal`` and
``_GetResult`` services and ``_FeedbackMessage``) and of every type it refers to. The test
compares each of them with the default registry's hash.
"""

from __future__ import annotations

import pytest

from robotfleet_nodes.idl import default_registry
from tests.ros2_oracle import oracle

#: Types the oracle describes that we do not have, and why.
EXCEPTIONS: dict[str, str] = {
    # Written in OMG IDL with DDS @key annotations (rosidl >= Kilted), no .msg form: our
    # interface reader takes .msg / .srv / .action, so these keyed test types are not shipped.
    "test_msgs/msg/ComplexNestedKey": "IDL-only keyed type (@key), no .msg",
    "test_msgs/msg/KeyedLong": "IDL-only keyed type (@key), no .msg",
    "test_msgs/msg/KeyedString": "IDL-only keyed type (@key), no .msg",
    "test_msgs/msg/NonKeyedWithNestedKey": "IDL-only keyed type (@key), no .msg",
}


def test_every_type_the_wheels_describe_has_their_hash() -> None:
    ros2 = oracle()
    expected = ros2.hashes()
    assert len(expected) > 250, "the oracle's share/ should describe every type of 13 packages"
    registry = default_registry()
    mismatched: list[str] = []
    missing: list[str] = []
    for name, ros_hash in sorted(expected.items()):
        if name in EXCEPTIONS:
            assert name not in registry, f"{name} is known now: drop it from EXCEPTIONS"
            continue
        try:
            ours = registry.type_hash(name)
        except LookupError:
            missing.append(name)
            continue
        if ours != ros_hash:
            mismatched.append(f"{name}: ours {ours}, ROS 2 {ros_hash}")
    assert not missing, f"{len(missing)} type(s) unknown here: {missing}"
    assert not mismatched, "\n".join(mismatched)


@pytest.mark.parametrize(
    "service", ["std_srvs/srv/Trigger", "std_srvs/srv/SetBool", "std_srvs/srv/Empty", "nav_msgs/srv/GetMap"]
)
def test_standard_service_event_type_is_a_message(service: str) -> None:
    """Service introspection: ``<Srv>_Event`` is a message (info, request[<=1], response[<=1])."""
    ros2 = oracle()
    registry = default_registry()
    interface = registry.get_interface(service)
    event = interface.Event
    assert event.__ros_type__ == f"{service}_Event"
    sample = event(request=[interface.Request()])
    assert list(type(sample).model_fields) == ["info", "request", "response"]
    with pytest.raises(ValueError, match="at most 1 item"):
        event(request=[interface.Request(), interface.Request()])
    assert registry.type_hash(f"{service}_Event") == ros2.hashes()[f"{service}_Event"]
