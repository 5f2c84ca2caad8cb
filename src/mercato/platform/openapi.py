"""OpenAPI post-processing: the bearer scheme, per-operation security, and problem+json everywhere.

Route authors declare intent (``require(...)``, ``Public``, ``Open``, ``responses=problem_schema_responses(...)``);
this module turns it into the spec:

* ``components.securitySchemes.bearerAuth`` (JWT or API key in ``Authorization: Bearer``);
* operations needing a permission get ``security: [{bearerAuth: []}]``; ``Public`` ones (credentials
  optional) get ``[{}, {bearerAuth: []}]``; infrastructure (``Open``) ones get none;
* ``components.schemas.Problem`` (RFC 9457 with our ``code``, ``errors`` and ``request_id``);
* FastAPI's default 422 (``HTTPValidationError``) is replaced by the Problem it really is; 429 is
  documented where rate limits apply and 413 where a body is accepted.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from mercato.platform.auth import declared_permission, is_open_route
from mercato.platform.errors import PROBLEM_CONTENT_TYPE

BEARER_SCHEME = "bearerAuth"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable and meant for programs; `title` and "
                   "`detail` are for humans.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri", "example": "https://docs.mercato.dev/problems/not_found"},
        "title": {"type": "string", "example": "Not found"},
        "status": {"type": "integer", "example": 404},
        "detail": {"type": "string"},
        "code": {"type": "string", "example": "not_found"},
        "instance": {"type": "string", "example": "/api/v1/tenants/0b9f…"},
        "request_id": {"type": "string", "description": "Quote it when reporting a problem."},
        "errors": {
            "type": "array",
            "description": "Per-field errors (validation).",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "example": "body.slug"},
                    "code": {"type": "string", "example": "unknown_field"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_RATE_LIMIT_HEADERS = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
    "RateLimit-Policy": {"description": "Quota policies (draft-ietf-httpapi-ratelimit-headers).",
                         "schema": {"type": "string"}},
    "RateLimit": {"description": "Remaining quota and seconds to reset.", "schema": {"type": "string"}},
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": dict(_PROBLEM_REF)}}}


def _security_by_operation(app: FastAPI) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for ctx in iter_route_contexts(app.routes):
        path, methods = ctx.path_format or ctx.path, ctx.methods or set()
        if not path:
            continue
        original = ctx.original_route
        kind = "open" if is_open_route(ctx) else (declared_permission(ctx) or declared_permission(original) or "")
        for m in methods:
            out[(path, m.lower())] = kind
    return out


def _rewrite(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
        "type": "http", "scheme": "bearer",
        "description": "An access JWT (from /api/v1/auth/login) or an API key (`mksk_…` secret, `mkpk_…` "
                       "publishable).",
    }
    kinds = _security_by_operation(app)
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            kind = kinds.get((path, method), "")
            if kind == "open":
                pass
            elif kind == "public":
                op["security"] = [{}, {BEARER_SCHEME: []}]
            else:
                op["security"] = [{BEARER_SCHEME: []}]
            responses = op["responses"]
            v422 = responses.get("422")
            if v422 is not None and "HTTPValidationError" in str(v422.get("content", "")):
                responses["422"] = _problem("Invalid request: per-field errors in `errors`")
            if kind != "open" and path.startswith("/api/"):
                responses.setdefault("429", _problem("Rate limited"))
                responses["429"].setdefault("headers", dict(_RATE_LIMIT_HEADERS))
            if "requestBody" in op:
                responses.setdefault("413", _problem("Payload too large"))
    # FastAPI's own validation schemas are no longer referenced.
    text = str(schema.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}'" not in text:
            components["schemas"].pop(name, None)
    return schema


def customize_openapi(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = _rewrite(app, original())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
