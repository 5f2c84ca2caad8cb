"""RFC 9457 problem+json: every error leaves the API in this one shape.

Domain errors are exception classes carrying a stable ``code`` and an HTTP
status; they are raised anywhere below the endpoints and rendered once here.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("mercato.errors")

PROBLEM_TYPE_BASE = "https://docs.mercato.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class MercatoError(Exception):
    """Base of all domain errors. Subclasses set ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, *, field: str | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field = field
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self, request: Request | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.field:
            body["errors"] = [{"field": self.field, "code": self.code, "message": self.detail}]
        body.update(self.extra)
        if request is not None:
            body["instance"] = request.url.path
            rid = getattr(request.state, "request_id", None)
            if rid:
                body["request_id"] = rid
        return body


class BadRequest(MercatoError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(MercatoError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "Invalid or expired token"


class Forbidden(MercatoError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(MercatoError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(MercatoError):
    status, code, title = 409, "conflict", "Conflict"


class AlreadyExists(Conflict):
    code, title = "already_exists", "Already exists"


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "Illegal state transition"

    def __init__(self, current: str, target: str, allowed: list[str], **kw: Any) -> None:
        super().__init__(f"cannot go from {current!r} to {target!r}", current=current, target=target,
                         allowed_transitions=sorted(allowed), **kw)


class ValidationFailed(MercatoError):
    """A business-rule validation on an otherwise well-formed payload."""

    status, code, title = 422, "validation_failed", "Validation failed"


class PayloadTooLarge(MercatoError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class TooManyRequests(MercatoError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kw: Any) -> None:
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        headers.update(kw.pop("headers", {}) or {})
        super().__init__(detail, headers=headers, retry_after=max(1, int(retry_after)), **kw)


class ServiceUnavailable(MercatoError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class ProblemResponse(Response):
    media_type = PROBLEM_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


def problem_response(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> ProblemResponse:
    return ProblemResponse(body, status_code=status, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


async def _mercato_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, MercatoError)
    return problem_response(exc.to_problem(request), exc.status, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        err = BadRequest("request body is not valid JSON")
        body = err.to_problem(request)
        body["code"] = "malformed_json"
        body["type"] = PROBLEM_TYPE_BASE + "malformed_json"
        return problem_response(body, 400)
    items = []
    for e in errors:
        code = "unknown_field" if e.get("type") == "extra_forbidden" else e.get("type", "invalid")
        items.append({"field": _loc_to_field(e.get("loc", ())), "code": code, "message": e.get("msg", "invalid")})
    body = {
        "type": PROBLEM_TYPE_BASE + "invalid_request",
        "title": "Invalid request",
        "status": 422,
        "detail": "; ".join(f"{i['field']}: {i['message']}" for i in items[:5]),
        "code": "invalid_request",
        "errors": items,
        "instance": request.url.path,
    }
    rid = getattr(request.state, "request_id", None)
    if rid:
        body["request_id"] = rid
    return problem_response(body, 422)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "payload_too_large",
               400: "bad_request"}


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": str(exc.detail) if exc.detail else code,
        "status": exc.status_code,
        "detail": str(exc.detail),
        "code": code,
        "instance": request.url.path,
    }
    rid = getattr(request.state, "request_id", None)
    if rid:
        body["request_id"] = rid
    return problem_response(body, exc.status_code, getattr(exc, "headers", None))


async def _unhandled(request: Request, exc: Exception) -> ProblemResponse:
    rid = getattr(request.state, "request_id", None)
    log.error("unhandled error", exc_info=exc, extra={"request_id": rid})
    body = {
        "type": PROBLEM_TYPE_BASE + "internal_error",
        "title": "Internal server error",
        "status": 500,
        "detail": "An unexpected error occurred; quote the request id when reporting it.",
        "code": "internal_error",
        "instance": request.url.path,
        "request_id": rid,
    }
    return problem_response(body, 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MercatoError, _mercato_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)


def problem_schema_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for routes: documents their problem+json errors in OpenAPI."""
    out: dict[int | str, dict[str, Any]] = {}
    for s in statuses:
        out[s] = {"description": _DESCRIPTIONS.get(s, "Error"), "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return out


_DESCRIPTIONS = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found", 409: "Conflict",
                 413: "Payload too large", 422: "Validation failed", 429: "Rate limited", 503: "Unavailable"}
