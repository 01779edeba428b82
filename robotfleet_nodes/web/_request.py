"""The parsed HTTP request handed to handlers, with JSON and pydantic helpers."""

from __future__ import annotations

import json
import logging
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ._errors import HttpError

__all__ = ["Headers", "Request", "validation_details"]

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

_SEQUENCE_ORIGINS = (list, tuple, set, frozenset)


class Headers(Mapping[str, str]):
    """Case-insensitive, ordered, multi-valued HTTP headers.

    ``headers["Content-Type"]`` returns the first value; :meth:`getall` returns all.
    """

    __slots__ = ("_by_name", "_items")

    def __init__(self, items: typing.Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        self._by_name: dict[str, list[str]] = {}
        for name, value in items:
            self._items.append((name, value))
            self._by_name.setdefault(name.lower(), []).append(value)

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def getall(self, name: str) -> list[str]:
        """Every value of header ``name`` in arrival order (empty list if absent)."""
        return list(self._by_name.get(name.lower(), ()))

    def raw_items(self) -> list[tuple[str, str]]:
        """The headers as received: original names, duplicates kept."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


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


@dataclass(slots=True)
class Request:
    """One HTTP request: method, decoded path, query, headers and the whole body."""

    method: str
    path: str
    raw_path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes = b""
    client: tuple[str, int] | None = None
    http_version: str = "HTTP/1.1"
    path_params: dict[str, str] = field(default_factory=dict)

    def query_one(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def last_event_id(self) -> str | None:
        """The ``Last-Event-ID`` header a reconnecting EventSource sends, if any."""
        return self.headers.get("last-event-id")

    def json(self) -> Any:
        """The body parsed as JSON; raises a 400 :class:`HttpError` if it is not valid JSON."""
        if not self.body:
            raise HttpError(400, "request body is empty; send a JSON document")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError(400, f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise HttpError(400, "request body is nested too deeply") from None

    async def model(self, model: type[ModelT]) -> ModelT:
        """Parse the JSON body into ``model``.

        Invalid JSON gives a 400; a body that does not fit the model gives a 422 whose
        ``details`` list each problem as ``{"loc", "msg", "type"}``.
        """
        data = self.json()
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise HttpError(422, "request body is invalid", details=validation_details(exc)) from None

    def query_model(self, model: type[ModelT]) -> ModelT:
        """Parse the query string into ``model``; bad parameters give a 400 with ``details``.

        Fields annotated as a list/tuple/set receive every value; others the last one.
        """
        data: dict[str, Any] = {}
        fields = model.model_fields
        by_alias = {(info.alias or name): info for name, info in fields.items()}
        for name, values in self.query.items():
            info = by_alias.get(name) or fields.get(name)
            if info is not None and _is_sequence(info.annotation):
                data[name] = list(values)
            else:
                data[name] = values[-1]
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise HttpError(400, "invalid query parameters", details=validation_details(exc)) from None
