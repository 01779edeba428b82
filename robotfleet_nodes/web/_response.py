"""Response helpers: compact JSON (pydantic-aware), text and files, as starlette responses."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from starlette.responses import Response

__all__ = ["json_bytes", "json_response", "json_text", "text_response"]


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON; pydantic models are dumped with ``model_dump(mode="json")``.

    Nested models, datetimes, UUIDs, enums, sets and paths are converted as pydantic does.
    Never NaN or Infinity (not JSON: a browser's ``JSON.parse`` refuses the whole document):
    a non-finite float is written as ``null``.
    """
    return json_text(obj).encode()


def json_text(obj: Any) -> str:
    """:func:`json_bytes` as a ``str``."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    try:
        return _dumps(obj)
    except ValueError:  # a NaN or an infinity somewhere (rare: only then is the tree copied)
        return _dumps(_finite(to_jsonable_python(obj)))


def _dumps(obj: Any) -> str:
    return json.dumps(
        obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=to_jsonable_python
    )


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(value) for value in obj]
    return obj


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
