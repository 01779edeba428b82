"""Reading a starlette ``Request`` into pydantic models, with 400/422 errors that say why."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ._errors import HttpError

__all__ = ["query_model", "read_json", "read_model", "validation_details"]

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Integers in a body have at most this many digits (a float ends at 309; Python's own limit,
#: 4300, would be an unhandled ``ValueError`` with advice meant for the server's programmer).
MAX_INT_DIGITS = 400


class _NotAcceptedNumber(ValueError):
    """A JSON number (or Python's NaN/Infinity extension) that a body may not contain."""


def _refuse_constant(name: str) -> Any:
    raise _NotAcceptedNumber(
        f"{name} is not a JSON number (JSON has no NaN or Infinity); send a finite number"
    )


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _NotAcceptedNumber(f"an integer of {digits} digits is too long (at most {MAX_INT_DIGITS})")
    return int(text)


_SEQUENCE_ORIGINS = (list, tuple, set, frozenset)


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in _SEQUENCE_ORIGINS:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(arg) for arg in typing.get_args(annotation))
    return False


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    """Turn a pydantic ``ValidationError`` into ``[{"loc", "msg", "type"}]`` (JSON-safe)."""
    return [
        {
            "loc": ".".join(str(part) for part in err["loc"]),
            "msg": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


async def read_json(request: Request) -> Any:
    """The body parsed as JSON: a 400 :class:`HttpError` if it is empty or not JSON, a 422 if
    it holds ``NaN``/``Infinity`` (which Python's parser would accept) or an integer longer
    than :data:`MAX_INT_DIGITS` digits."""
    body = await request.body()
    if not body:
        raise HttpError(400, "request body is empty; send a JSON document")
    try:
        return json.loads(body, parse_constant=_refuse_constant, parse_int=_parse_int)
    except _NotAcceptedNumber as exc:
        detail = {"loc": "", "msg": str(exc), "type": "number_invalid"}
        raise HttpError(422, f"request body is invalid: {exc}", details=[detail]) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpError(400, "request body is nested too deeply") from None
    except ValueError as exc:  # anything else the parser refuses is the client's input too
        raise HttpError(400, f"request body is not valid JSON: {exc}") from None


async def read_model(request: Request, model: type[ModelT]) -> ModelT:
    """The JSON body as ``model``: 400 if it is not JSON, 422 with ``details`` if it does not fit."""
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HttpError(422, "request body is invalid", details=validation_details(exc)) from None


def query_model(request: Request, model: type[ModelT]) -> ModelT:
    """The query string as ``model``; bad parameters give a 400 with ``details``.

    Fields annotated as a list/tuple/set receive every value; others the last one.
    """
    fields = model.model_fields
    by_alias = {(info.alias or name): info for name, info in fields.items()}
    data: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        info = by_alias.get(name) or fields.get(name)
        if info is not None and _is_sequence(info.annotation):
            data.setdefault(name, []).append(value)
        else:
            data[name] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HttpError(400, "invalid query parameters", details=validation_details(exc)) from None
