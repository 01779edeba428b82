"""Responses and the helpers that build them (JSON, text, static files)."""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

__all__ = [
    "Response",
    "file_response",
    "guess_content_type",
    "json_bytes",
    "json_response",
    "text_response",
]

logger = logging.getLogger(__name__)

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".wasm": "application/wasm",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}


@dataclass(slots=True)
class Response:
    """A complete HTTP response; the server adds ``Content-Length`` and framing headers."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON; pydantic models are dumped with ``model_dump(mode="json")``.

    Nested models, datetimes, UUIDs, enums, sets and paths are converted as pydantic does.
    """
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=to_jsonable_python).encode()


def json_response(obj: Any, status: int = 200, *, headers: Mapping[str, str] | None = None) -> Response:
    """``obj`` (JSON-able or a pydantic model, or a list of them) as ``application/json``."""
    return Response(status, json_bytes(obj), "application/json", dict(headers or {}))


def text_response(
    text: str,
    status: int = 200,
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``text`` encoded as UTF-8 with the given content type."""
    return Response(status, text.encode(), content_type, dict(headers or {}))


def guess_content_type(path: str | os.PathLike[str]) -> str:
    """The content type for a file name (``charset=utf-8`` for text types)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext in _CONTENT_TYPES:
        return _CONTENT_TYPES[ext]
    guessed, _ = mimetypes.guess_type(os.fspath(path))
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/"):
        return f"{guessed}; charset=utf-8"
    return guessed


def file_response(
    path: str | os.PathLike[str],
    *,
    cache_control: str = "public, max-age=300",
    content_type: str | None = None,
) -> Response:
    """A static file with ``ETag`` and ``Cache-Control``; the server answers 304 on a match.

    Reads the whole file (meant for dashboard assets, not large downloads); from a handler,
    prefer ``await asyncio.to_thread(file_response, path)``. Raises ``FileNotFoundError``.
    """
    with open(path, "rb") as fh:
        body = fh.read()
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    headers = {"ETag": f'W/"{digest}"', "Cache-Control": cache_control}
    return Response(200, body, content_type or guess_content_type(path), headers)
