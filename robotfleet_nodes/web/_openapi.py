"""Build an OpenAPI 3.1 document from the routes' pydantic models."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter

if TYPE_CHECKING:
    from ._routing import Route

__all__ = ["build_openapi"]

logger = logging.getLogger(__name__)

REF_TEMPLATE = "#/components/schemas/{model}"

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "string"},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "required": ["error"],
}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def _hoist(self, schema: dict[str, Any]) -> dict[str, Any]:
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas[name] = sub
        return schema

    def schema_for(self, tp: Any) -> dict[str, Any]:
        """A ``$ref`` for a model (registered in components), or an inline schema."""
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            name = tp.__name__
            if name not in self.schemas:
                self.schemas[name] = self._hoist(tp.model_json_schema(ref_template=REF_TEMPLATE))
            return {"$ref": REF_TEMPLATE.format(model=name)}
        return self._hoist(TypeAdapter(tp).json_schema(ref_template=REF_TEMPLATE))

    def query_parameters(self, model: type[BaseModel]) -> list[dict[str, Any]]:
        schema = self._hoist(model.model_json_schema(ref_template=REF_TEMPLATE))
        required = set(schema.get("required", []))
        params = []
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            if "description" in prop:
                param["description"] = prop["description"]
            param["schema"] = prop
            params.append(param)
        return params


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}}


def _operation(route: Route, components: _Components) -> dict[str, Any]:
    opts = route.options
    op: dict[str, Any] = {
        "operationId": opts.get("operation_id")
        or f"{route.method.lower()}_{getattr(route.handler, '__name__', 'handler')}",
    }
    for key in ("summary", "description", "tags"):
        if key in opts:
            op[key] = opts[key]
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route.param_names
    ]
    responses: dict[str, Any] = {}
    if "query_model" in opts:
        parameters.extend(components.query_parameters(opts["query_model"]))
        responses["400"] = {"description": "Invalid query parameters", "content": _error_content()}
    if parameters:
        op["parameters"] = parameters
    if "request_model" in opts:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": components.schema_for(opts["request_model"])}},
        }
        responses["400"] = {"description": "Body is not valid JSON", "content": _error_content()}
        responses["422"] = {"description": "Body failed validation", "content": _error_content()}
    declared = {str(status): text for status, text in opts.get("responses", {}).items()}
    success = next((s for s in sorted(declared) if s.startswith("2")), "200")
    ok: dict[str, Any] = {"description": declared.pop(success, None) or HTTPStatus(int(success)).phrase}
    if "response_model" in opts:
        ok["content"] = {"application/json": {"schema": components.schema_for(opts["response_model"])}}
    responses[success] = ok
    for status, text in declared.items():
        entry: dict[str, Any] = {"description": text}
        if status.startswith(("4", "5")):
            entry["content"] = _error_content()
        responses[status] = entry
    access = opts.get("access", "public")
    if access != "public":  # who may call it: docs/fleet.md, "Routes and roles"
        op["security"] = [{"bearer": []}, {"session": []}]
        op["x-rfos-role"] = access
        responses.setdefault("401", {"description": "No valid token or session", "content": _error_content()})
        responses.setdefault(
            "403", {"description": f"The role is below {access}", "content": _error_content()}
        )
    op["responses"] = dict(sorted(responses.items()))
    return op


#: How a caller authenticates (used by every operation that is not public).
_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API token: rfos security token create"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "rfos_session",
        "description": "The session cookie POST /api/login sets (the dashboard)",
    },
}


def build_openapi(
    routes: Sequence[Route], *, title: str, version: str, description: str | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (those with ``include_in_schema`` not False)."""
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not route.options.get("include_in_schema", True):
            continue
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = _operation(route, components)
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    document_components: dict[str, Any] = {"schemas": dict(sorted(components.schemas.items()))}
    if any(op.get("security") for ops in paths.values() for op in ops.values()):
        document_components["securitySchemes"] = _SECURITY_SCHEMES
    return {"openapi": "3.1.0", "info": info, "paths": paths, "components": document_components}
