"""HTTP hygiene every response gets: security headers, CSP, CORS, a body size limit, a 500 catch-all.

All middleware here is pure ASGI (no ``BaseHTTPMiddleware``): bodies stream through untouched,
except HTML pages (``/docs``), which are small and buffered to hash their inline scripts into
the Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import logging
import re

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.platform.errors import BadRequest, PayloadTooLarge, problem_response
from mercato.settings import Settings

log = logging.getLogger("mercato.http")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=63072000; includeSubDomains"
#: Anything that is not HTML: nothing may be loaded or framed from an API response.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
#: What the bundled Swagger UI (/docs) and ReDoc (/redoc) pages load from CDNs. Inline scripts and
#: styles are allowed by their sha256 hash only, computed from the page actually served.
DOCS_SOURCES = {
    "script-src": ["https://cdn.jsdelivr.net"],
    "style-src": ["https://cdn.jsdelivr.net", "https://fonts.googleapis.com"],
    "img-src": ["'self'", "data:", "https://fastapi.tiangolo.com", "https://cdn.jsdelivr.net"],
    "font-src": ["https://fonts.gstatic.com", "https://cdn.jsdelivr.net"],
    "connect-src": ["'self'"],
    "worker-src": ["blob:"],
}
_HTML_LIMIT = 512 * 1024
_INLINE = re.compile(r"<(script|style)(\s[^>]*)?>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", ()):
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


def client_ip(scope: Scope, settings: Settings) -> str | None:
    """The caller's address; behind a trusted proxy, the one the nearest proxy appended to X-Forwarded-For."""
    if settings.trust_proxy_headers:
        forwarded = _headers(scope).get("x-forwarded-for")
        if forwarded:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
    client = scope.get("client")
    return client[0] if client else None


def is_https(scope: Scope, settings: Settings) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    if settings.trust_proxy_headers:
        proto = _headers(scope).get("x-forwarded-proto", "")
        return proto.split(",")[0].strip().lower() == "https"
    return False


def html_csp(body: bytes) -> str:
    """A strict CSP for an HTML page: CDN hosts of the docs pages plus hashes of its inline code."""
    sources = {k: list(v) for k, v in DOCS_SOURCES.items()}
    if len(body) <= _HTML_LIMIT:
        text = body.decode("utf-8", "replace")
        for m in _INLINE.finditer(text):
            tag, attrs, content = m.group(1).lower(), m.group(2) or "", m.group(3)
            if tag == "script" and "src=" in attrs.lower():
                continue
            digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
            sources["script-src" if tag == "script" else "style-src"].append(f"'sha256-{digest}'")
    parts = ["default-src 'none'", *(f"{k} {' '.join(v)}" for k, v in sources.items()),
             "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "object-src 'none'"]
    return "; ".join(parts)


async def render_unhandled(app: FastAPI, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer an exception no handler took with the app's catch-all (500 problem, traceback logged)."""
    handler = app.exception_handlers.get(Exception)
    request = Request(scope, receive)
    try:
        if handler is None:
            raise LookupError("no catch-all handler")
        response = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
    except Exception:
        log.exception("unhandled error (catch-all failed)")
        response = problem_response({"type": "about:blank", "title": "Internal server error", "status": 500,
                                     "code": "internal_error",
                                     "request_id": scope.get("state", {}).get("request_id")}, 500)
    await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """Security headers on every response; CSP per content type; 500 for escaped exceptions."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.settings: Settings = fastapi_app.state.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = is_https(scope, self.settings)
        held: Message | None = None
        chunks: list[bytes] = []
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal held, started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if headers.get("content-type", "").startswith("text/html") and "content-security-policy" not in headers:
                    held = message  # wait for the body: its inline scripts are hashed into the CSP
                    return
                headers.setdefault("Content-Security-Policy", API_CSP)
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                MutableHeaders(scope=held)["Content-Security-Policy"] = html_csp(body)
                start, held = held, None
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            await render_unhandled(self.fastapi_app, scope, receive, send_wrapper, exc)


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTP exceptions met while reading the body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    """413 for bodies over ``max_body_bytes``: by Content-Length up front, or while streaming (chunked).
    Multipart uploads (images, CSV imports) get the larger ``max_upload_bytes``; the routes that take
    them enforce their own, tighter per-file limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes or max_bytes

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        err = PayloadTooLarge(f"request body exceeds {limit} bytes", limit=limit)
        await problem_response(err.to_problem(Request(scope)), 413)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        is_upload = headers.get("content-type", "").lower().startswith("multipart/form-data")
        max_bytes = self.max_upload_bytes if is_upload else self.default_max_bytes
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                bad = BadRequest("invalid Content-Length header")
                await problem_response(bad.to_problem(Request(scope)), 400)(scope, receive, send)
                return
            if int(length) > max_bytes:
                await self._reject(scope, receive, send, max_bytes)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge(max_bytes)
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge:
            # Read by a middleware (not the route): answer here.
            if started:
                raise
            await self._reject(scope, receive, send, max_bytes)


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    # add_middleware: the last added runs first. Order, outermost first:
    # security headers (+500 catch-all) → CORS → body limit → (rate limits, idempotency, app).
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "X-Mercato-Tenant",
                           "traceparent"],
            expose_headers=["X-Request-ID", "traceparent", "RateLimit", "RateLimit-Policy", "Retry-After",
                            "Location", "Idempotent-Replayed", "Idempotent-Redacted"],
            allow_credentials=False,  # bearer tokens, never cookies
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, fastapi_app=app)


__all__ = ["UNSAFE_METHODS", "client_ip", "install", "is_https", "render_unhandled"]
