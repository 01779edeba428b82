"""JSON encoding of messages: pydantic's, with ROS field names as keys.

Non-finite floats are written as the bare constants ``NaN``, ``Infinity`` and ``-Infinity``
(``ser_json_inf_nan="constants"`` in the message classes' config), ``bytes`` fields as
base64, integers exactly (a ``uint64`` keeps all its digits). This is the one place messages
are turned into JSON and back.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
from pydantic_core import PydanticSerializationError

from robotfleet_nodes.errors import DecodeError, EncodeError

__all__ = ["decode_json", "encode_json"]

M = TypeVar("M", bound=pydantic.BaseModel)


def encode_json(msg: pydantic.BaseModel) -> bytes:
    """Serialise ``msg`` to compact UTF-8 JSON keyed by the ROS field names.

    Attribute assignment is not validated (it would cost ~1.5 us per assignment on every
    hot path), so a field may hold a value of the wrong type (``msg.blob = [1, 2]`` for a
    ``uint8[]``). Such a message is validated once here: values pydantic can convert are
    converted, anything else raises :class:`EncodeError` naming the field.
    """
    try:
        return msg.__pydantic_serializer__.to_json(msg, by_alias=True, warnings="error")
    except (PydanticSerializationError, AttributeError, TypeError, ValueError):
        pass
    name = getattr(type(msg), "__ros_type__", type(msg).__name__)
    try:
        fixed = type(msg).model_validate(msg.model_dump(by_alias=True, warnings=False))
        return fixed.__pydantic_serializer__.to_json(fixed, by_alias=True)
    except pydantic.ValidationError as exc:
        raise EncodeError(f"cannot encode {name}: {_summary(exc)}") from None
    except (PydanticSerializationError, AttributeError, TypeError, ValueError) as exc:
        raise EncodeError(f"cannot encode {name} as JSON: {exc}") from exc


def decode_json(cls: type[M], data: bytes | bytearray | memoryview | str) -> M:
    """Parse and validate JSON ``data`` as a ``cls``; raises :class:`DecodeError`."""
    try:
        raw: Any = bytes(data) if isinstance(data, memoryview) else data
        return cls.__pydantic_validator__.validate_json(raw)  # type: ignore[no-any-return]
    except pydantic.ValidationError as exc:
        name = getattr(cls, "__ros_type__", "") or cls.__name__
        raise DecodeError(f"cannot decode {name} from JSON: {_summary(exc)}") from None


def _summary(exc: pydantic.ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = []
    for err in errors[:3]:
        where = ".".join(str(x) for x in err["loc"]) or "<root>"
        parts.append(f"{where}: {err['msg']}")
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return "; ".join(parts)
