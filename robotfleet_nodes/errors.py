"""Every exception RobotFleetOS raises derives from :class:`RobotFleetError`.

Each subclass also mixes in the builtin it behaves like, so ``except ValueError`` and
``except LookupError`` keep working for callers who do not know this module. Messages say
what went wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "BrokerUnavailable",
    "ConfigError",
    "DecodeError",
    "EncodeError",
    "InterfaceError",
    "JetStreamUnavailable",
    "LifecycleError",
    "MessageTooLarge",
    "MsgSyntaxError",
    "NameValidationError",
    "ParameterError",
    "RobotFleetError",
    "ServiceTimeout",
    "ServiceUnavailable",
    "TransportError",
    "UnknownInterfaceError",
    "Vda5050ConfigError",
    "Vda5050SchemaError",
]


class RobotFleetError(Exception):
    """Root of all RobotFleetOS errors."""


class ConfigError(RobotFleetError, ValueError):
    """A configuration file or value is invalid; the message names the file and key."""


class InterfaceError(RobotFleetError, ValueError):
    """A message/service/action definition is invalid or cannot be used."""


class MsgSyntaxError(InterfaceError):
    """A ``.msg``/``.srv``/``.action`` file is malformed: ``path:line: reason``."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")


class UnknownInterfaceError(InterfaceError, LookupError):
    """No interface of that name is known (the message lists close matches)."""


class DecodeError(RobotFleetError, ValueError):
    """Bytes could not be decoded into a message; the caller's state is untouched."""


class EncodeError(RobotFleetError, ValueError):
    """A message could not be encoded (a value does not fit its declared type)."""


class BrokerError(RobotFleetError, RuntimeError):
    """The embedded NATS server could not be started or stopped."""


class NameValidationError(RobotFleetError, ValueError):
    """A topic, service, node or namespace name breaks ROS 2's rules.

    The message shows the name with a caret under the first offending character.
    """


class TransportError(RobotFleetError, ConnectionError):
    """The message bus cannot be reached or used (the message says how to start one)."""


class BrokerUnavailable(TransportError):
    """No NATS server answers at the configured URL (the message says how to start one)."""


class JetStreamUnavailable(TransportError):
    """The NATS server runs without JetStream, which durable state needs.

    The message names the server and the fix: ``nats-server -js`` or ``rfos broker``.
    """


class MessageTooLarge(TransportError, ValueError):
    """An encoded message exceeds what may be sent; the message names the limit and how to raise it."""


class ServiceUnavailable(TransportError):
    """No server answers this service name (NATS "no responders")."""


class ServiceTimeout(RobotFleetError, TimeoutError):
    """A service server exists but did not answer in time."""


class ParameterError(RobotFleetError, ValueError):
    """A parameter is undeclared, of the wrong type, read-only or rejected by a callback."""


class LifecycleError(RobotFleetError, RuntimeError):
    """A lifecycle transition is not allowed from the node's current state."""


class Vda5050SchemaError(RobotFleetError, ValueError):
    """A VDA 5050 message does not match its 2.1.0 JSON schema; the message names the field."""


class Vda5050ConfigError(ConfigError):
    """A VDA 5050 vehicle's configuration cannot be used (a manufacturer or serial number a
    topic cannot carry, say); the message says what to change."""
