"""``rclpy.event_handler``: the containers of QoS event callbacks and the events' payloads.

rclpy's names and fields, so programs such as ROS 2's quality-of-service demos import and
build their callbacks. ``Node.create_publisher`` / ``create_subscription``
(``event_callbacks=``) run them on executors, in the entity's callback group: matched,
incompatible QoS and type, a subscription's liveliness (from the graph), deadline, a
MANUAL_BY_TOPIC publisher's liveliness lost and ``message_lost`` (a KEEP_ALL subscription
whose transport queue overflowed). What each means over NATS, and what it cannot tell, is
in ``_events.py``. With
``use_default_callbacks`` no extra handler is made: a subscription's transport logs an
incompatible QoS or type when such messages arrive (rclpy's default callbacks warn on discovery).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.errors import RobotFleetError

from .qos import QoSPolicyKind

__all__ = [
    "IncompatibleTypeInfo",
    "PublisherEventCallbacks",
    "QoSLivelinessChangedInfo",
    "QoSLivelinessLostInfo",
    "QoSMessageLostInfo",
    "QoSOfferedDeadlineMissedInfo",
    "QoSOfferedIncompatibleQoSInfo",
    "QoSPublisherEventType",
    "QoSPublisherMatchedInfo",
    "QoSRequestedDeadlineMissedInfo",
    "QoSRequestedIncompatibleQoSInfo",
    "QoSSubscriptionEventType",
    "QoSSubscriptionMatchedInfo",
    "SubscriptionEventCallbacks",
    "UnsupportedEventTypeError",
]


class UnsupportedEventTypeError(RobotFleetError, RuntimeError):
    """A callback was given for an event this middleware does not report: leave it out."""


class QoSPublisherEventType(enum.IntEnum):
    RCL_PUBLISHER_OFFERED_DEADLINE_MISSED = 0
    RCL_PUBLISHER_LIVELINESS_LOST = 1
    RCL_PUBLISHER_OFFERED_INCOMPATIBLE_QOS = 2
    RCL_PUBLISHER_INCOMPATIBLE_TYPE = 3
    RCL_PUBLISHER_MATCHED = 4


class QoSSubscriptionEventType(enum.IntEnum):
    RCL_SUBSCRIPTION_REQUESTED_DEADLINE_MISSED = 0
    RCL_SUBSCRIPTION_LIVELINESS_CHANGED = 1
    RCL_SUBSCRIPTION_REQUESTED_INCOMPATIBLE_QOS = 2
    RCL_SUBSCRIPTION_MESSAGE_LOST = 3
    RCL_SUBSCRIPTION_INCOMPATIBLE_TYPE = 4
    RCL_SUBSCRIPTION_MATCHED = 5


@dataclass
class _Counts:
    """How often the event happened in all, and since the last callback."""

    total_count: int = 0
    total_count_change: int = 0


class QoSRequestedDeadlineMissedInfo(_Counts):
    """A subscription got no message within its deadline."""


class QoSOfferedDeadlineMissedInfo(_Counts):
    """A publisher published nothing within its deadline."""


class QoSLivelinessLostInfo(_Counts):
    """A publisher failed to assert its liveliness in time."""


class QoSMessageLostInfo(_Counts):
    """Messages a subscription will never get."""


class IncompatibleTypeInfo(_Counts):
    """A publisher and a subscription of the same topic with different types."""


@dataclass
class QoSRequestedIncompatibleQoSInfo(_Counts):
    """Incompatible QoS with a matching entity; ``last_policy_kind`` names the last policy at fault."""

    last_policy_kind: QoSPolicyKind = QoSPolicyKind.INVALID


QoSOfferedIncompatibleQoSInfo = QoSRequestedIncompatibleQoSInfo


@dataclass
class QoSLivelinessChangedInfo:
    """Publishers of a subscription's topic becoming alive or not alive."""

    alive_count: int = 0
    not_alive_count: int = 0
    alive_count_change: int = 0
    not_alive_count_change: int = 0


@dataclass
class QoSSubscriptionMatchedInfo(_Counts):
    """Publishers (for a subscription) or subscriptions (for a publisher) connected or gone."""

    current_count: int = 0
    current_count_change: int = 0


QoSPublisherMatchedInfo = QoSSubscriptionMatchedInfo

_Callback = Callable[[Any], None] | None


class SubscriptionEventCallbacks:
    """The event callbacks of a subscription (keyword-only, each optional)."""

    def __init__(
        self,
        *,
        deadline: _Callback = None,
        incompatible_qos: _Callback = None,
        liveliness: _Callback = None,
        message_lost: _Callback = None,
        incompatible_type: _Callback = None,
        matched: _Callback = None,
        use_default_callbacks: bool = True,
    ) -> None:
        self.deadline = deadline
        self.incompatible_qos = incompatible_qos
        self.liveliness = liveliness
        self.message_lost = message_lost
        self.incompatible_type = incompatible_type
        self.matched = matched
        self.use_default_callbacks = use_default_callbacks


class PublisherEventCallbacks:
    """The event callbacks of a publisher (keyword-only, each optional)."""

    def __init__(
        self,
        *,
        deadline: _Callback = None,
        liveliness: _Callback = None,
        incompatible_qos: _Callback = None,
        incompatible_type: _Callback = None,
        matched: _Callback = None,
        use_default_callbacks: bool = True,
    ) -> None:
        self.deadline = deadline
        self.liveliness = liveliness
        self.incompatible_qos = incompatible_qos
        self.incompatible_type = incompatible_type
        self.matched = matched
        self.use_default_callbacks = use_default_callbacks
