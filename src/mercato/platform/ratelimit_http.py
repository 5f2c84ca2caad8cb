"""Rate limits on the HTTP API: per IP, per principal and per tenant, per route class.

Route classes: ``auth`` (paths under ``/api/v1/auth/``), ``writes`` (unsafe methods) and ``reads``
(safe methods), limits from ``MERCATO_RATE_LIMIT_{AUTH,WRITES,READS}``; the tenant as a whole gets
``MERCATO_RATE_LIMIT_TENANT`` across classes. Only ``/api/`` is limited; probes and docs are not.

* The IP limit runs in a middleware, before authentication, so floods are turned away cheaply.
* The principal and tenant limits run in a principal hook (``app.state.principal_hooks``), once
  :func:`mercato.platform.auth.get_principal` knows who is calling.

Every limited response carries ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers)
for the tightest caller policy and the tenant policy; an exceeded limit answers 429 with ``Retry-After``.
If the counter store (Redis) fails, requests are let through and the failure is logged: an outage of
the limiter must not become an outage of the shop.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.platform.errors import TooManyRequests, problem_response
from mercato.platform.http import UNSAFE_METHODS, client_ip
from mercato.platform.ratelimit import Limiter, Verdict
from mercato.platform.security import Principal
from mercato.settings import Settings

log = logging.getLogger("mercato.ratelimit")

LIMITED_PREFIX = "/api/"
AUTH_PREFIX = "/api/v1/auth/"
STATE_KEY = "ratelimit"


def route_class(method: str, path: str) -> str:
    if path.startswith(AUTH_PREFIX):
        return "auth"
    return "writes" if method.upper() in UNSAFE_METHODS else "reads"


def class_limit(settings: Settings, cls: str) -> str:
    return {"auth": settings.rate_limit_auth, "writes": settings.rate_limit_writes,
            "reads": settings.rate_limit_reads}[cls]


def _record(state: dict[str, Any], policy: str, verdict: Verdict) -> None:
    """Keep, per policy name, the tightest verdict (IP and principal share the class's name)."""
    applied: dict[str, Verdict] = state.setdefault(STATE_KEY, {})
    current = applied.get(policy)
    if current is None or (not verdict.allowed, -verdict.remaining) > (not current.allowed, -current.remaining):
        applied[policy] = verdict


def rate_limit_headers(applied: dict[str, Verdict]) -> dict[str, str]:
    if not applied:
        return {}
    return {
        "RateLimit-Policy": ", ".join(f'"{name}";q={v.limit};w={v.window}' for name, v in applied.items()),
        "RateLimit": ", ".join(f'"{name}";r={v.remaining};t={v.reset_in}' for name, v in applied.items()),
    }


async def _hit(limiter: Limiter, limit: str, *key: str) -> Verdict | None:
    try:
        return await limiter.hit(limit, *key)
    except Exception:
        log.warning("rate limiter unavailable; request let through", exc_info=True)
        return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.settings: Settings = fastapi_app.state.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        cls = route_class(scope["method"], scope["path"])
        limit = class_limit(self.settings, cls)
        if limit:
            ip = client_ip(scope, self.settings) or "unknown"
            verdict = await _hit(self.fastapi_app.state.limiter, limit, "ip", cls, ip)
            if verdict is not None:
                _record(state, cls, verdict)
                if not verdict.allowed:
                    err = TooManyRequests(f"too many {cls} requests from this address; retry in {verdict.reset_in}s",
                                          retry_after=verdict.reset_in, policy=cls)
                    headers = {**err.headers, **rate_limit_headers(state[STATE_KEY])}
                    await problem_response(err.to_problem(Request(scope)), 429, headers)(scope, receive, send)
                    return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                for k, v in rate_limit_headers(state.get(STATE_KEY, {})).items():
                    h[k] = v
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def principal_hook(request: Request, principal: Principal) -> None:
    """Per-principal (same class limits) and per-tenant limits, once the caller is known."""
    path, method = request.url.path, request.method
    if not path.startswith(LIMITED_PREFIX) or not principal.is_authenticated:
        return
    settings: Settings = request.app.state.settings
    limiter: Limiter = request.app.state.limiter
    state: dict[str, Any] = request.scope.setdefault("state", {})
    exceeded: list[tuple[str, Verdict]] = []
    cls = route_class(method, path)
    limit = class_limit(settings, cls)
    actor = principal.actor_id
    if limit and actor is not None:
        v = await _hit(limiter, limit, "principal", cls, f"{principal.kind}:{actor}")
        if v is not None:
            _record(state, cls, v)
            if not v.allowed:
                exceeded.append((cls, v))
    if settings.rate_limit_tenant and principal.tenant_id is not None:
        v = await _hit(limiter, settings.rate_limit_tenant, "tenant", str(principal.tenant_id))
        if v is not None:
            _record(state, "tenant", v)
            if not v.allowed:
                exceeded.append(("tenant", v))
    if exceeded:
        name, worst = max(exceeded, key=lambda e: e[1].reset_in)
        who = "this shop" if name == "tenant" else "this caller"
        raise TooManyRequests(f"too many {name} requests for {who}; retry in {worst.reset_in}s",
                              retry_after=worst.reset_in, policy=name)


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    if not settings.rate_limit_enabled:
        return
    app.add_middleware(RateLimitMiddleware, fastapi_app=app)
    app.state.principal_hooks.append(principal_hook)
