"""``App``: route table, dispatch, error responses, static files and the OpenAPI route."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import unquote

from pydantic import BaseModel

from ._errors import HttpError, RouteError
from ._request import Request
from ._response import Response, file_response, json_response
from ._sse import SseResponse

__all__ = ["App", "Handler", "Route", "RouteOptions", "error_response", "internal_error_response"]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response | SseResponse]]
"""An HTTP handler: ``async def handler(req: Request) -> Response``."""

HandlerT = TypeVar("HandlerT", bound=Handler)

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}")
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class RouteOptions(TypedDict, total=False):
    """Documentation and validation options of a route (all keyword-only)."""

    summary: str
    description: str
    request_model: type[BaseModel]
    response_model: Any
    query_model: type[BaseModel]
    responses: Mapping[int, str]
    tags: list[str]
    operation_id: str
    include_in_schema: bool


@dataclass(frozen=True, slots=True)
class _Segment:
    text: str  # literal text, or the parameter name
    param: bool = False
    rest: bool = False  # ``{name:path}``: matches the remaining segments


@dataclass(frozen=True, slots=True)
class Route:
    """A registered route; the documentation fields feed :meth:`App.openapi`."""

    method: str
    template: str
    handler: Handler
    segments: tuple[_Segment, ...]
    options: RouteOptions = field(default_factory=RouteOptions)

    @property
    def openapi_path(self) -> str:
        """The template as OpenAPI writes it (``{name:path}`` becomes ``{name}``)."""
        return _PARAM.sub(r"{\1}", self.template)

    @property
    def param_names(self) -> list[str]:
        """Names of the path parameters, in order."""
        return [seg.text for seg in self.segments if seg.param]

    @property
    def literal_count(self) -> int:
        """How specific the route is: literal segments win over parameters."""
        return sum(not seg.param for seg in self.segments)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        """The path parameters if ``parts`` (decoded segments) match, else ``None``."""
        params: dict[str, str] = {}
        for i, seg in enumerate(self.segments):
            if seg.rest:
                params[seg.text] = "/".join(parts[i:])
                return params
            if i >= len(parts):
                return None
            if seg.param:
                if not parts[i]:
                    return None
                params[seg.text] = parts[i]
            elif seg.text != parts[i]:
                return None
        return params if len(parts) == len(self.segments) else None


def _parse_template(template: str) -> tuple[_Segment, ...]:
    if not template.startswith("/"):
        raise RouteError(f"route path must start with '/': {template!r}")
    segments: list[_Segment] = []
    raw = template.split("/")[1:]
    names: set[str] = set()
    for i, part in enumerate(raw):
        m = _PARAM.fullmatch(part)
        if m:
            name, kind = m.group(1), m.group(2)
            if name in names:
                raise RouteError(f"route {template!r} uses parameter {{{name}}} twice")
            if kind == "path" and i != len(raw) - 1:
                raise RouteError(f"route {template!r}: {{{name}:path}} must be the last segment")
            names.add(name)
            segments.append(_Segment(name, param=True, rest=kind == "path"))
        elif "{" in part or "}" in part:
            raise RouteError(f"route {template!r}: segment {part!r} is not a literal or a {{name}} parameter")
        else:
            segments.append(_Segment(part))
    return tuple(segments)


def error_response(exc: HttpError) -> Response:
    """The JSON response for an :class:`HttpError`."""
    response = json_response(exc.payload(), exc.status)
    response.headers.update(exc.headers)
    return response


def internal_error_response(exc: BaseException, request: Request | None) -> Response:
    """Log ``exc`` with traceback and an id; answer ``500 {"error": "internal error", "id"}``."""
    error_id = str(uuid.uuid4())
    where = f"{request.method} {request.raw_path}" if request is not None else "request"
    logger.error("handler for %s failed (error id %s)", where, error_id, exc_info=exc)
    return json_response({"error": "internal error", "id": error_id}, 500)


class App:
    """Routes requests to typed async handlers; a callable the :class:`HttpServer` serves.

    ``{name}`` in a path matches one segment, ``{name:path}`` the rest of the path.
    Unknown paths answer 404, a known path with the wrong method 405 with ``Allow``.
    GET routes also answer HEAD.
    """

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._keys: set[tuple[str, str]] = set()

    @property
    def routes(self) -> list[Route]:
        """The registered routes in registration order."""
        return list(self._routes)

    def add_route(self, method: str, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        """Register ``handler`` for ``method`` and ``path``; refuses duplicates."""
        method = method.upper()
        if method not in _METHODS:
            raise RouteError(f"unsupported method {method!r}; use one of {sorted(_METHODS)}")
        segments = _parse_template(path)
        key = (method, "/".join("{}" if s.param else s.text for s in segments))
        if key in self._keys:
            raise RouteError(f"route {method} {path} is already registered")
        self._keys.add(key)
        route = Route(method, path, handler, segments, options)
        self._routes.append(route)
        return route

    def route(
        self, method: str, path: str, **options: Unpack[RouteOptions]
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator form of :meth:`add_route`."""

        def decorator(handler: HandlerT) -> HandlerT:
            self.add_route(method, path, handler, **options)
            return handler

        return decorator

    def get(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a GET (and HEAD) handler."""
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a POST handler."""
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a PUT handler."""
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a PATCH handler."""
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a DELETE handler."""
        return self.route("DELETE", path, **options)

    def resolve(self, method: str, raw_path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """``(route, path_params, allowed_methods)`` for a request; route is None if none fits."""
        parts = [unquote(p, errors="strict") for p in raw_path.split("/")[1:]]
        lookup = "GET" if method == "HEAD" else method
        best: tuple[Route, dict[str, str]] | None = None
        allowed: set[str] = set()
        for route in self._routes:
            params = route.match(parts)
            if params is None:
                continue
            allowed.add(route.method)
            if route.method == lookup and (best is None or route.literal_count > best[0].literal_count):
                best = (route, params)
        if "GET" in allowed:
            allowed.add("HEAD")
        if best is None:
            return None, {}, sorted(allowed)
        return best[0], best[1], sorted(allowed)

    def _route_for(self, request: Request) -> Route:
        try:
            route, params, allowed = self.resolve(request.method, request.raw_path)
        except UnicodeDecodeError:
            raise HttpError(400, "request path is not valid UTF-8 after percent-decoding") from None
        if route is None:
            if allowed:
                raise HttpError(
                    405,
                    f"method {request.method} is not allowed on {request.path}",
                    headers={"Allow": ", ".join(allowed)},
                    allowed=allowed,
                )
            raise HttpError(404, f"no route for {request.path}")
        request.path_params = params
        return route

    async def __call__(self, request: Request) -> Response | SseResponse:
        """Dispatch ``request``; HttpError becomes its JSON, other exceptions a logged 500."""
        try:
            route = self._route_for(request)
            return await route.handler(request)
        except HttpError as exc:
            return error_response(exc)
        except Exception as exc:
            return internal_error_response(exc, request)

    def mount_static(
        self,
        prefix: str,
        directory: str | Path,
        *,
        index: str = "index.html",
        cache_control: str = "public, max-age=300",
    ) -> None:
        """Serve files under ``directory`` at ``prefix/...`` (GET/HEAD, ETag, no traversal)."""
        root = Path(directory).resolve()
        prefix = prefix.rstrip("/")

        async def static(request: Request) -> Response:
            rel = request.path_params["path"]
            if "\0" in rel:
                raise HttpError(400, "file path contains NUL")
            target = (root / rel).resolve()
            if not target.is_relative_to(root):
                raise HttpError(404, f"no file {rel!r}")
            if target.is_dir():
                target = target / index
            if not target.is_file():
                raise HttpError(404, f"no file {rel!r}")
            return await asyncio.to_thread(file_response, target, cache_control=cache_control)

        self.add_route("GET", f"{prefix}/{{path:path}}", static, include_in_schema=False)

    def openapi(self, title: str, version: str, *, description: str | None = None) -> dict[str, Any]:
        """An OpenAPI 3.1 document built from the routes' models and descriptions."""
        from ._openapi import build_openapi

        return build_openapi(self._routes, title=title, version=version, description=description)

    def add_openapi_route(
        self, path: str = "/openapi.json", *, title: str, version: str, description: str | None = None
    ) -> None:
        """Serve :meth:`openapi` at ``path`` (built on first request, rebuilt after route changes)."""
        cache: dict[int, dict[str, Any]] = {}

        async def openapi(request: Request) -> Response:
            key = len(self._routes)
            if key not in cache:
                cache.clear()
                cache[key] = self.openapi(title, version, description=description)
            return json_response(cache[key])

        self.add_route("GET", path, openapi, include_in_schema=False, summary="OpenAPI document")
