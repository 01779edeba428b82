"""Response helpers: compact JSON (pydantic-aware), text and files, as starlette responses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from starlette.responses import Response

__all__ = ["json_bytes", "json_response", "text_response"]


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON; pydantic models are dumped with ``model_dump(mode="json")``.

    Nested models, datetimes, UUIDs, enums, sets and paths are converted as pydantic does.
    """
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=to_jsonable_python).encode()


def json_response(obj: Any, status: int = 200, *, headers: Mapping[str, str] | None = None) -> Response:
    """``obj`` (JSON-able or a pydantic model, or a list of them) as ``application/json``."""
    return Response(json_bytes(obj), status, dict(headers or {}), "application/json")


def text_response(
    text: str,
    status: int = 200,
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``text`` encoded as UTF-8 with the given content type."""
    return Response(text.encode(), status, dict(headers or {}), content_type)
