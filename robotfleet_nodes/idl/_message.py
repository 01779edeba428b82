"""Base classes of every generated interface class.

:class:`Message` is the pydantic v2 base of all message classes; :class:`Service` and
:class:`Action` are plain namespaces grouping the message classes of a ``.srv`` / ``.action``
(``AddTwoInts.Request``, ``Fibonacci.Goal``), like the classes ``rosidl`` generates for rclpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from robotfleet_nodes.idl._spec import ActionSpec, MessageSpec, ServiceSpec

__all__ = ["Action", "Message", "Service"]


class Message(BaseModel):
    """Base of every message class: one pydantic model per ROS type.

    Attributes are the ROS field names (``python_name()`` adds a trailing ``_`` to the few
    that clash with Python or pydantic; the ROS name stays the alias, so JSON keys and
    ``model_dump()`` keys are always the ROS names). Constants are class attributes.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        serialize_by_alias=True,
        ser_json_inf_nan="constants",
        ser_json_bytes="base64",
        val_json_bytes="base64",
        protected_namespaces=(),
        validate_default=False,
        # Assignments are not validated (~1.5 us each on hot paths); the encoders check a
        # message whose values do not fit once, when it is sent (see idl/_json.py).
        validate_assignment=False,
        frozen=False,
    )

    #: Full ROS name, e.g. ``robotfleet_nodes/msg/Heartbeat``.
    __ros_type__: ClassVar[str] = ""
    #: The parsed definition the class was generated from.
    __ros_spec__: ClassVar[MessageSpec]

    if TYPE_CHECKING:
        # A class known only as ``type[Message]`` takes any field as keyword. Attributes are
        # not open-ended: the fields of a generated class are declared by its ``.pyi`` stub
        # (``rfos interface stubs``), so a misspelled field is a mypy error, not ``Any``.
        def __init__(self, /, **data: Any) -> None: ...


class Service:
    """Namespace class of a ``.srv``: ``Request`` and ``Response`` message classes, and
    ``Event``, the service-introspection message (``info``, ``request[<=1]``, ``response[<=1]``)."""

    __ros_type__: ClassVar[str] = ""
    __ros_spec__: ClassVar[ServiceSpec]
    Request: ClassVar[type[Message]]
    Response: ClassVar[type[Message]]
    Event: ClassVar[type[Message]]


class Action:
    """Namespace class of an ``.action``: ``Goal``, ``Result`` and ``Feedback`` classes."""

    __ros_type__: ClassVar[str] = ""
    __ros_spec__: ClassVar[ActionSpec]
    Goal: ClassVar[type[Message]]
    Result: ClassVar[type[Message]]
    Feedback: ClassVar[type[Message]]
