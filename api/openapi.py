"""The OpenAPI document states every status a route can answer, each error in the one error shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

#: The one error shape (api.errors.error_body), as a schema.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["ok", "status", "error", "errors", "request_id"],
    "properties": {
        "ok": {"type": "boolean", "enum": [False]},
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "loc", "msg", "input"],
                "properties": {
                    "type": {"type": "string"},
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "input": {},
                },
            },
        },
        "request_id": {"type": "string", "description": "Quote it when reporting a problem: it finds the log lines"},
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}

DESCRIPTIONS = {
    400: "The request body could not be parsed",
    401: "No API key, or a key that is unknown or revoked",
    403: "The key may not do or read this",
    404: "Not found (or not the caller's to see)",
    413: "The request body is larger than the limit",
    422: "A parameter is unknown, missing or out of range, or the input is invalid",
    429: "Too many failed keys from this address; retry after the Retry-After seconds",
    503: "Busy: no database connection or upload slot is free (retry after the Retry-After seconds); or an upload "
    "kept but not processed, nothing of it stored, its message naming the command that runs it again",
}


def statuses_for(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """Return the error statuses an operation can answer beyond those its route declares."""
    out = {422}  # every route refuses unknown and out-of-range parameters
    if path != "/health":
        out.add(503)  # every route that reads the store answers 503 when no connection (or SQLite's writer) is free
    if operation.get("security"):
        out |= {401, 403, 429}  # 429: an address held back after repeated failed keys
    if "{" in path:
        out.add(404)
    if method in {"post", "put", "patch"}:
        out |= {400, 413}
    return out


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add every error status each operation can answer to the schema, all pointing at the one error shape."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    # FastAPI's own validation error shape is never sent: errors are rendered in the one shape.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            wanted = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            wanted |= statuses_for(path, method, operation)
            for code in sorted(wanted):
                entry = responses.setdefault(str(code), {})
                entry.setdefault("description", DESCRIPTIONS.get(code, "Error"))
                own = entry.get("content", {}).get("application/json", {}).get("schema")
                # A route may answer an error status with its own body too (a rejected upload's report).
                schema_ = ERROR_REF if own is None or own == ERROR_REF else {"anyOf": [own, ERROR_REF]}
                entry["content"] = {"application/json": {"schema": schema_}}
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve an OpenAPI document whose error responses are complete and in the one error shape."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = document_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
