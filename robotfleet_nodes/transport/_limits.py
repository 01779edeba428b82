"""How large a message may be: ``messaging.max_message_size`` and its environment variable."""

from __future__ import annotations

import os
from typing import Final

from pydantic import ByteSize, TypeAdapter, ValidationError

from robotfleet_nodes.errors import ConfigError, MessageTooLarge

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "ENV_ENCODING",
    "ENV_MAX_MESSAGE_SIZE",
    "max_message_size_from",
    "too_large",
]

#: Largest encoded message a process publishes unless configured otherwise: 256 MiB.
DEFAULT_MAX_MESSAGE_SIZE: Final = 256 * 1024 * 1024
ENV_MAX_MESSAGE_SIZE: Final = "MESSAGING_MAX_MESSAGE_SIZE"
ENV_ENCODING: Final = "MESSAGING_ENCODING"

_BYTES = TypeAdapter(ByteSize)


def max_message_size_from(value: int | str | None) -> int:
    """``value`` (bytes, or a size such as ``64MiB``); ``None``: the environment, else the default."""
    if value is None:
        value = os.environ.get(ENV_MAX_MESSAGE_SIZE, "").strip() or DEFAULT_MAX_MESSAGE_SIZE
    try:
        size = int(_BYTES.validate_python(value))
    except ValidationError:
        raise ConfigError(
            f"max_message_size {value!r}: expected a number of bytes or a size such as 64MiB"
        ) from None
    if size <= 0:
        raise ConfigError(f"max_message_size {value!r}: must be positive")
    return size


def too_large(what: str, size: int, limit: int) -> MessageTooLarge:
    """The error for a ``size``-byte message over ``limit``, saying how to raise the limit."""
    return MessageTooLarge(
        f"{what}: the encoded message is {size} bytes, over the limit of {limit} bytes "
        f"(messaging.max_message_size); raise messaging.max_message_size in the YAML, "
        f"{ENV_MAX_MESSAGE_SIZE}, or NatsTransport(max_message_size=...)"
    )
