"""``rclpy.qos_overriding_options``: QoS policies of a publisher or subscription set from parameters.

With ``qos_overriding_options=QoSOverridingOptions.with_default_policies()``, creating a
publisher on ``/chatter`` declares the read-only parameters
``qos_overrides./chatter.publisher.{history,depth,reliability}`` (``subscription`` for a
subscription, ``publisher_<entity_id>`` with an ``entity_id``) with the profile's values; an
override (``--ros-args -p qos_overrides./chatter.publisher.depth:=5``, a params file,
``parameter_overrides``) replaces the policy, then the optional callback validates the result.
Enum policies are lower-case names (``'best_effort'``), durations nanoseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.node.parameters import interface_class
from robotfleet_nodes.qos import QoSProfile as _CoreProfile

from .exceptions import ParameterAlreadyDeclaredException
from .qos import QoSPolicyKind, QoSProfile

__all__ = [
    "InvalidQosOverridesError",
    "QoSOverridingOptions",
    "QosCallbackResult",
    "QosCallbackType",
    "declare_qos_overrides",
]

#: What a validation callback returns (``successful``, ``reason``): rclpy's alias.
QosCallbackResult: Any = interface_class("rcl_interfaces/msg/SetParametersResult")
QosCallbackType = Callable[[QoSProfile], Any]

_ENUM_POLICIES = ("history", "reliability", "durability", "liveliness")
_DURATION_POLICIES = ("deadline", "lifespan", "liveliness_lease_duration")


class InvalidQosOverridesError(RobotFleetError):
    """The validation callback refused the QoS profile the overrides made: change the overrides."""


class QoSOverridingOptions:
    """Which QoS policies of an entity get a parameter, and how the result is validated."""

    def __init__(
        self,
        policy_kinds: Iterable[QoSPolicyKind],
        *,
        callback: QosCallbackType | None = None,
        entity_id: str | None = None,
    ) -> None:
        self._policy_kinds = policy_kinds
        self._callback = callback
        self._entity_id = entity_id

    @property
    def policy_kinds(self) -> Iterable[QoSPolicyKind]:
        """The policies that get a parameter."""
        return self._policy_kinds

    @property
    def callback(self) -> QosCallbackType | None:
        """``callback(qos) -> QosCallbackResult``, run after the overrides were applied."""
        return self._callback

    @property
    def entity_id(self) -> str | None:
        """Tells apart entities on the same topic (``publisher_<entity_id>`` in the names)."""
        return self._entity_id

    @classmethod
    def with_default_policies(
        cls, *, callback: QosCallbackType | None = None, entity_id: str | None = None
    ) -> QoSOverridingOptions:
        """History, depth and reliability."""
        return cls(
            policy_kinds=(QoSPolicyKind.HISTORY, QoSPolicyKind.DEPTH, QoSPolicyKind.RELIABILITY),
            callback=callback,
            entity_id=entity_id,
        )


def _as_rclpy_profile(qos: _CoreProfile | int) -> QoSProfile:
    """A fresh, mutable rclpy profile (the caller's profile, a shared preset maybe, is kept)."""
    if isinstance(qos, int):
        return QoSProfile(depth=qos)
    profile = QoSProfile(history=qos.history, depth=qos.depth)
    for name in ("reliability", "durability", "liveliness", *_DURATION_POLICIES):
        setattr(profile, name, getattr(qos, name))
    return profile


def _parameter_value(qos: QoSProfile, policy: str) -> str | int | bool:
    value = getattr(qos, policy)
    if policy in _ENUM_POLICIES:
        return str(value.name.lower())
    if policy in _DURATION_POLICIES:
        return 0 if value is None else round(value * 1e9)
    return bool(value) if isinstance(value, bool) else int(value)


def _apply(qos: QoSProfile, policy: str, value: Any) -> None:
    if policy in _ENUM_POLICIES:
        kind = type(getattr(qos, policy))
        try:
            value = kind[str(value).upper()]
        except KeyError:
            raise RuntimeError(f"Unexpected QoS override for policy `{policy}`: `{value}`") from None
    elif policy in _DURATION_POLICIES:
        value = int(value) / 1e9
    setattr(qos, policy, value)


def declare_qos_overrides(
    node: Any, entity: str, topic_name: str, qos: _CoreProfile | int, options: QoSOverridingOptions | None
) -> _CoreProfile | int:
    """The QoS of a new ``entity`` (``'publisher'``/``'subscription'``) on the fully qualified
    ``topic_name`` after the parameter overrides (``qos`` itself when ``options`` is None)."""
    if options is None:
        return qos
    profile = _as_rclpy_profile(qos)
    suffix = "" if options.entity_id is None else f"_{options.entity_id}"
    prefix = f"qos_overrides.{topic_name}.{entity}{suffix}."
    description = "{}" + f" for {entity} `{topic_name}` with id `{options.entity_id}`"
    descriptor_cls = interface_class("rcl_interfaces/msg/ParameterDescriptor")
    for kind in options.policy_kinds:
        if kind is QoSPolicyKind.LIFESPAN and entity == "subscription":
            continue
        policy = kind.name.lower()
        if policy not in _ENUM_POLICIES + _DURATION_POLICIES + ("depth",):
            continue
        descriptor = descriptor_cls(description=description.format(policy), read_only=True)
        try:
            parameter = node.declare_parameter(prefix + policy, _parameter_value(profile, policy), descriptor)
        except ParameterAlreadyDeclaredException:
            parameter = node.get_parameter(prefix + policy)
        _apply(profile, policy, parameter.value)
    if options.callback is not None:
        result = options.callback(profile)
        if not result.successful:
            raise InvalidQosOverridesError(
                f"{description.format('Provided QoS overrides')}, are not valid: {result.reason}"
            )
    return profile
