"""``rclpy.qos``: QoS profiles with rclpy's constructor and mutability, over RobotFleetOS's.

:class:`QoSProfile` is a (mutable) subclass of :class:`robotfleet_nodes.qos.QoSProfile`, so
entities accept it as they are; durations are given as rclpy ``Duration`` objects (anything
with ``nanoseconds``) or seconds and kept as seconds (0 means "not set", as in rclpy). The
policies are RobotFleetOS's enums under rclpy's names (``ReliabilityPolicy.RELIABLE``...);
rclpy's numbers (``1`` for RELIABLE...) are accepted too. ``SYSTEM_DEFAULT`` and
``BEST_AVAILABLE`` are not policies here: the system default profile is the default one.
"""

from __future__ import annotations

import enum
from dataclasses import fields
from typing import Any

from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.qos import Durability, History, Liveliness, Reliability, incompatibilities
from robotfleet_nodes.qos import QoSProfile as _CoreProfile

__all__ = [
    "DurabilityPolicy",
    "HistoryPolicy",
    "InvalidQoSProfileException",
    "LivelinessPolicy",
    "QoSCompatibility",
    "QoSDurabilityPolicy",
    "QoSHistoryPolicy",
    "QoSLivelinessPolicy",
    "QoSPolicyKind",
    "QoSPresetProfiles",
    "QoSProfile",
    "QoSReliabilityPolicy",
    "ReliabilityPolicy",
    "qos_check_compatible",
    "qos_policy_name_from_kind",
    "qos_profile_action_status_default",
    "qos_profile_default",
    "qos_profile_parameter_events",
    "qos_profile_parameters",
    "qos_profile_rosout_default",
    "qos_profile_sensor_data",
    "qos_profile_services_default",
    "qos_profile_system_default",
]

ReliabilityPolicy = QoSReliabilityPolicy = Reliability
DurabilityPolicy = QoSDurabilityPolicy = Durability
HistoryPolicy = QoSHistoryPolicy = History
LivelinessPolicy = QoSLivelinessPolicy = Liveliness

# rclpy's numbers of the policies (rmw's enums); 0 is SYSTEM_DEFAULT, our default.
_NUMBERS: dict[type[enum.Enum], dict[int, enum.Enum]] = {
    History: {0: History.KEEP_LAST, 1: History.KEEP_LAST, 2: History.KEEP_ALL},
    Reliability: {0: Reliability.RELIABLE, 1: Reliability.RELIABLE, 2: Reliability.BEST_EFFORT},
    Durability: {0: Durability.VOLATILE, 1: Durability.TRANSIENT_LOCAL, 2: Durability.VOLATILE},
    Liveliness: {0: Liveliness.AUTOMATIC, 1: Liveliness.AUTOMATIC, 3: Liveliness.MANUAL_BY_TOPIC},
}
_POLICIES = {
    "history": History,
    "reliability": Reliability,
    "durability": Durability,
    "liveliness": Liveliness,
}
_DURATIONS = ("deadline", "lifespan", "liveliness_lease_duration")
_FIELDS = frozenset(f.name for f in fields(_CoreProfile))


class InvalidQoSProfileException(RobotFleetError, ValueError):
    """A QoS profile that cannot be built (e.g. neither history nor depth given)."""


def _policy(kind: type[enum.Enum], value: object) -> enum.Enum:
    if isinstance(value, kind):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value in _NUMBERS[kind]:
        return _NUMBERS[kind][value]
    names = ", ".join(f"{kind.__name__}.{member.name}" for member in kind)
    raise InvalidQoSProfileException(f"{value!r} is not a {kind.__name__} policy: use one of {names}")


def _seconds(value: object) -> float | None:
    """An rclpy ``Duration`` (anything with ``nanoseconds``) or seconds; 0 or None: not set."""
    if value is None:
        return None
    nanoseconds = getattr(value, "nanoseconds", None)
    if nanoseconds is not None:
        seconds = int(nanoseconds) / 1e9
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidQoSProfileException(f"{value!r} is not a duration: give an rclpy Duration or seconds")
    return seconds if seconds > 0 else None


def _convert(name: str, value: Any) -> Any:
    if name in _POLICIES:
        return _policy(_POLICIES[name], value)
    if name in _DURATIONS:
        return _seconds(value)
    if name == "depth" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidQoSProfileException(f"QoS depth must be a non-negative int, got {value!r}")
    return value


class QoSProfile(_CoreProfile):
    """rclpy's ``QoSProfile``: ``QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)``.

    History or depth is required (KEEP_LAST needs a depth); the policies may be changed after
    construction (``profile.reliability = ...``), as in rclpy. Unlike rclpy, durations read
    back as seconds (``None``: not set).
    """

    __slots__ = ("avoid_ros_namespace_conventions",)
    __hash__ = None  # type: ignore[assignment]  # mutable, as rclpy's

    def __init__(  # noqa: PLR0917 (rclpy's positional signature)
        self,
        history: History | int | None = None,
        depth: int | None = None,
        reliability: Reliability | int | None = None,
        durability: Durability | int | None = None,
        lifespan: object = None,
        deadline: object = None,
        liveliness: Liveliness | int | None = None,
        liveliness_lease_duration: object = None,
        avoid_ros_namespace_conventions: bool | None = None,
    ) -> None:
        if history is None:
            if depth is None:
                raise InvalidQoSProfileException("History and/or depth settings are required: pass depth=N")
            history = History.KEEP_LAST
        chosen = _policy(History, history)
        if chosen is History.KEEP_LAST and depth is None:
            raise InvalidQoSProfileException("History set to KEEP_LAST without a depth setting: pass depth=N")
        super().__init__(
            history=chosen,  # type: ignore[arg-type]
            depth=_convert("depth", 10 if depth is None else depth),
            reliability=_convert("reliability", Reliability.RELIABLE if reliability is None else reliability),
            durability=_convert("durability", Durability.VOLATILE if durability is None else durability),
            deadline=_seconds(deadline),
            lifespan=_seconds(lifespan),
            liveliness=_convert("liveliness", Liveliness.AUTOMATIC if liveliness is None else liveliness),
            liveliness_lease_duration=_seconds(liveliness_lease_duration),
        )
        object.__setattr__(self, "avoid_ros_namespace_conventions", bool(avoid_ros_namespace_conventions))

    def __setattr__(self, name: str, value: object) -> None:
        if name == "avoid_ros_namespace_conventions":
            object.__setattr__(self, name, bool(value))
            return
        if name not in _FIELDS:
            raise AttributeError(
                f"QoSProfile has no policy {name!r}: use one of {', '.join(sorted(_FIELDS))}"
            )
        previous = getattr(self, name)
        object.__setattr__(self, name, _convert(name, value))
        try:
            self.__post_init__()
        except ValueError:
            object.__setattr__(self, name, previous)
            raise


def _profile(**policies: Any) -> QoSProfile:
    return QoSProfile(**policies)


qos_profile_default = _profile(depth=10)
#: rclpy's is all SYSTEM_DEFAULT; here the default profile.
qos_profile_system_default = _profile(depth=10)
qos_profile_sensor_data = _profile(depth=5, reliability=Reliability.BEST_EFFORT)
qos_profile_services_default = _profile(depth=10)
qos_profile_parameters = _profile(depth=1000)
qos_profile_parameter_events = _profile(depth=1000)
qos_profile_action_status_default = _profile(depth=1, durability=Durability.TRANSIENT_LOCAL)
qos_profile_rosout_default = _profile(depth=1000, durability=Durability.TRANSIENT_LOCAL, lifespan=10.0)


class QoSPresetProfiles(enum.Enum):
    """The predefined profiles by name (``QoSPresetProfiles.get_from_short_key('sensor_data')``)."""

    DEFAULT = qos_profile_default
    SYSTEM_DEFAULT = qos_profile_system_default
    SENSOR_DATA = qos_profile_sensor_data
    SERVICES_DEFAULT = qos_profile_services_default
    PARAMETERS = qos_profile_parameters
    PARAMETER_EVENTS = qos_profile_parameter_events
    ACTION_STATUS_DEFAULT = qos_profile_action_status_default
    ROSOUT_DEFAULT = qos_profile_rosout_default

    @classmethod
    def short_keys(cls) -> list[str]:
        return [name.lower() for name in cls.__members__]  # equal profiles are aliases

    @classmethod
    def get_from_short_key(cls, name: str) -> QoSProfile:
        profile: QoSProfile = cls[name.upper()].value
        return profile


class QoSPolicyKind(enum.IntEnum):
    """Which policy an event or an incompatibility is about (rclpy's numbers)."""

    INVALID = 1 << 0
    DURABILITY = 1 << 1
    DEADLINE = 1 << 2
    LIVELINESS = 1 << 3
    RELIABILITY = 1 << 4
    HISTORY = 1 << 5
    LIFESPAN = 1 << 6
    DEPTH = 1 << 7
    LIVELINESS_LEASE_DURATION = 1 << 8
    AVOID_ROS_NAMESPACE_CONVENTIONS = 1 << 9


def qos_policy_name_from_kind(policy_kind: QoSPolicyKind | int) -> str:
    """``'RELIABILITY_QOS_POLICY'`` for :attr:`QoSPolicyKind.RELIABILITY`, as rclpy names them."""
    return f"{QoSPolicyKind(policy_kind).name}_QOS_POLICY"


class QoSCompatibility(enum.IntEnum):
    OK = 0
    WARNING = 1
    ERROR = 2


def qos_check_compatible(
    publisher_qos: _CoreProfile, subscription_qos: _CoreProfile
) -> tuple[QoSCompatibility, str]:
    """Whether a publisher and a subscription with these profiles match, and why not."""
    reasons = incompatibilities(publisher_qos, subscription_qos)
    if not reasons:
        return QoSCompatibility.OK, ""
    return QoSCompatibility.ERROR, "".join(f"ERROR: {reason};" for reason in reasons)
