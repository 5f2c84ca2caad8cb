"""``Idempotency-Key`` on unsafe POSTs: a retried request gets the first one's response.

Semantics (scoped per tenant and principal, keys kept ``idempotency_ttl_seconds``):

* same key, same request (hash of method, path, query and body) → the stored response
  (status, headers, body) with ``Idempotent-Replayed: true``; the endpoint does not run again;
* same key, different request → 422 ``idempotency_key_reused``;
* same key while the first request still runs → 409 ``idempotency_request_in_progress``;
* only final outcomes are stored: 2xx and 4xx. A 5xx, a crash, a client that went away,
  or an outcome about the *attempt* rather than the operation (401, 403, 408, 425, 429)
  releases the key so the client can retry with it.
* requests without a tenant (platform operators) are not deduplicated: the key is ignored.
* secrets are never stored: a route declares the JSON paths of its answer that must not be kept
  (``dependencies=[Depends(idempotency.redact("payment.client_secret"))]``); they are set to
  ``null`` in the stored body, so a replay answers with them ``null`` and the header
  ``Idempotent-Redacted: <paths>``. The route documents how to get the value again.

How: the principal is only known inside FastAPI's dependencies, so the work is split.
:class:`IdempotencyMiddleware` (pure ASGI) buffers the request body, computes its hash and
leaves a :class:`_Context` in the request state. :func:`claim`, a principal hook, then
claims the key atomically (``INSERT … ON CONFLICT``) in its own short transaction — so
twenty concurrent duplicates yield exactly one execution — or raises the outcome of the
existing record. After the endpoint, the middleware stores (or releases) the record
before the response leaves, so a retry never sees a finished request as in progress.
Claims run on a small dedicated pool: a request already holds a connection from the main
pool while its principal is resolved, and sharing that pool could deadlock under load.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.platform.db import Database
from mercato.platform.errors import BadRequest, Conflict, ValidationFailed, problem_response
from mercato.platform.models import IdempotencyKey
from mercato.platform.security import Principal

log = logging.getLogger("mercato.idempotency")

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: On a replay: the declared JSON paths that were redacted (set to null) before storing.
REDACTED_HEADER = "idempotent-redacted"
UNSAFE_METHODS = frozenset({"POST"})
MAX_KEY_LENGTH = 255
#: An in-progress claim is abandoned (and may be taken over) after this long: a process that
#: died mid-request must not lock the key for the whole TTL.
IN_PROGRESS_LEASE = timedelta(minutes=2)
#: Outcomes about the attempt, not the operation: never stored, the key is released.
_RELEASED_STATUSES = frozenset({401, 403, 408, 425, 429})
#: Headers that belong to one delivery, not to the stored outcome.
_NOT_STORED_HEADERS = frozenset({"content-length", "set-cookie", "date", "server", "x-request-id", "traceparent",
                                 "retry-after", "ratelimit", "ratelimit-policy"})


class InvalidIdempotencyKey(BadRequest):
    code, title = "invalid_idempotency_key", "Invalid Idempotency-Key header"


class IdempotencyKeyReused(ValidationFailed):
    code, title = "idempotency_key_reused", "Idempotency-Key was used for a different request"


class IdempotencyRequestInProgress(Conflict):
    code, title = "idempotency_request_in_progress", "A request with this Idempotency-Key is in progress"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": "1"})
        super().__init__(detail, **kw)


class IdempotentReplay(Exception):
    """Raised by the claim when a completed record exists; rendered as that record's response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(status)
        self.status, self.headers, self.body = status, headers, body


@dataclass
class _Context:
    key: str
    method: str
    path: str
    request_hash: str
    # Set by the claim when this request owns the key: (tenant_id, principal, created_at).
    claimed: tuple[uuid.UUID, str, datetime] | None = None
    messages: list[Message] = field(default_factory=list)
    # JSON paths (dotted) of the answer that must never be stored; declared by the route.
    redact: tuple[str, ...] = ()


def redact(*paths: str) -> Callable[[Request], Awaitable[None]]:
    """Route dependency: never store these dotted JSON paths of the answer (e.g. a payment's
    ``client_secret``); a replay answers them as ``null``."""
    for path in paths:
        if not path or any(not part for part in path.split(".")):
            raise ValueError(f"invalid JSON path to redact: {path!r}")

    async def declare(request: Request) -> None:  # async: no thread-pool hop
        ctx: _Context | None = getattr(request.state, "idempotency", None)
        if ctx is not None:
            ctx.redact = tuple(dict.fromkeys((*ctx.redact, *paths)))

    return declare


class _NotRedactable(Exception):
    pass


def redact_body(body: bytes, paths: tuple[str, ...]) -> tuple[bytes, list[str]]:
    """``body`` with every present, non-null value at ``paths`` set to null, and the paths redacted.

    Raises :class:`_NotRedactable` when the body is not a JSON object (then nothing is stored)."""
    if not paths:
        return body, []
    try:
        doc = json.loads(body) if body else None
    except ValueError as exc:
        raise _NotRedactable("the answer is not JSON") from exc
    if doc is None:
        return body, []
    if not isinstance(doc, dict):
        raise _NotRedactable("the answer is not a JSON object")
    done: list[str] = []
    for path in paths:
        *parents, leaf = path.split(".")
        node: Any = doc
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(leaf) is not None:
            node[leaf] = None
            done.append(path)
    if not done:
        return body, []
    # the same encoding as Starlette's JSONResponse
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(), done


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def principal_scope(principal: Principal) -> str:
    """Who shares a key space within a tenant: one user, one API key, or all anonymous callers."""
    actor = principal.actor_id
    return f"{principal.kind}:{actor}" if actor else principal.kind


def _claim_statement() -> Any:
    """Insert an in-progress record, or take over an expired one (an abandoned claim) as if it did not
    exist; returns its ``created_at`` when this request owns the key. Built once: values are bound."""
    fields = {"method": bindparam("method"), "path": bindparam("path"), "request_hash": bindparam("request_hash"),
              "status": "in_progress", "response_status": None, "response_headers": None, "response_body": None}
    insert = pg_insert(IdempotencyKey).values(
        tenant_id=bindparam("tenant_id"), principal=bindparam("principal"), key=bindparam("key"),
        expires_at=func.now() + IN_PROGRESS_LEASE, **fields)
    return insert.on_conflict_do_update(
        index_elements=[IdempotencyKey.tenant_id, IdempotencyKey.principal, IdempotencyKey.key],
        set_={**fields, "created_at": func.now(), "expires_at": func.now() + IN_PROGRESS_LEASE},
        where=IdempotencyKey.expires_at <= func.now(),
    ).returning(IdempotencyKey.created_at)


_CLAIM = _claim_statement()


def _claims_db(request: Request) -> Database:
    return getattr(request.app.state, "idempotency_db", None) or request.app.state.db


async def claim(request: Request, principal: Principal) -> None:
    """Principal hook: claim the request's key, or raise the outcome of the existing record."""
    ctx: _Context | None = getattr(request.state, "idempotency", None)
    if ctx is None or ctx.claimed is not None or principal.tenant_id is None:
        return
    tenant, who = principal.tenant_id, principal_scope(principal)
    params = {"tenant_id": tenant, "principal": who, "key": ctx.key, "method": ctx.method, "path": ctx.path[:500],
              "request_hash": ctx.request_hash}
    for _ in range(3):  # the existing record may be released between our insert and our read
        async with _claims_db(request).tenant_transaction(tenant) as session:
            created_at = (await session.execute(_CLAIM, params)).scalar_one_or_none()
            if created_at is not None:
                ctx.claimed = (tenant, who, created_at)
                return
            existing = (await session.execute(select(IdempotencyKey).where(
                IdempotencyKey.tenant_id == tenant, IdempotencyKey.principal == who,
                IdempotencyKey.key == ctx.key))).scalar_one_or_none()
        if existing is None:
            continue
        if existing.request_hash != ctx.request_hash:
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request; "
                                       "use a new key for a new request", field="header.Idempotency-Key")
        if existing.status != "completed" or existing.response_status is None:
            raise IdempotencyRequestInProgress("the first request with this Idempotency-Key has not finished; "
                                               "retry shortly")
        raise IdempotentReplay(existing.response_status, dict(existing.response_headers or {}),
                               existing.response_body or b"")
    raise IdempotencyRequestInProgress("the Idempotency-Key is contended; retry shortly")


async def _replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    headers = {**exc.headers, REPLAYED_HEADER: "true"}
    return Response(content=exc.body, status_code=exc.status, headers=headers)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        raw_key = next((v for k, v in scope["headers"] if k == HEADER.encode()), None)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            err = InvalidIdempotencyKey(f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} printable ASCII characters",
                                        field="header.Idempotency-Key")
            await problem_response(err.to_problem(Request(scope)), err.status)(scope, receive, send)
            return

        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        ctx = _Context(key=key, method=scope["method"], path=scope["path"],
                       request_hash=request_hash(scope["method"], scope["path"], scope.get("query_string", b""), body))
        scope.setdefault("state", {})["idempotency"] = ctx

        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if ctx.claimed is None:
                await send(message)
            else:
                ctx.messages.append(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            if ctx.claimed is not None:
                await _shielded(self._release(ctx))
            raise
        if ctx.claimed is None:
            return
        await _shielded(self._finish(ctx))
        for message in ctx.messages:
            await send(message)

    def _db(self) -> Database:
        state = self.fastapi_app.state
        return getattr(state, "idempotency_db", None) or state.db

    async def _finish(self, ctx: _Context) -> None:
        start = next((m for m in ctx.messages if m["type"] == "http.response.start"), None)
        status = start["status"] if start else 500
        if status >= 500 or status in _RELEASED_STATUSES:
            await self._release(ctx)
            return
        headers: dict[str, str] = {}
        for k, v in start.get("headers", []) if start else []:
            name = k.decode("latin-1").lower()
            if name not in _NOT_STORED_HEADERS:
                value = v.decode("latin-1")
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = b"".join(m.get("body", b"") for m in ctx.messages if m["type"] == "http.response.body")
        try:
            body, redacted = redact_body(body, ctx.redact)
        except _NotRedactable as exc:  # cannot prove the secret is gone: keep nothing
            log.warning("not storing an idempotent response that could not be redacted: %s", exc)
            await self._release(ctx)
            return
        if redacted:
            headers[REDACTED_HEADER] = ", ".join(redacted)
        assert ctx.claimed is not None
        tenant, _, created_at = ctx.claimed
        ttl = timedelta(seconds=self.fastapi_app.state.settings.idempotency_ttl_seconds)
        try:
            async with self._db().tenant_transaction(tenant) as session:
                await session.execute(_STORE, {**_owned(ctx), "r_status": status, "r_headers": headers, "r_body": body,
                                               "r_expires": created_at + ttl})
        except Exception as exc:
            log.error("could not store an idempotent response; releasing the key", exc_info=exc)
            await self._release(ctx)

    async def _release(self, ctx: _Context) -> None:
        if ctx.claimed is None:
            return
        try:
            async with self._db().tenant_transaction(ctx.claimed[0]) as session:
                await session.execute(_RELEASE, _owned(ctx))
        except Exception as exc:  # the lease expires on its own
            log.error("could not release an idempotency key", exc_info=exc)


def _owned(ctx: _Context) -> dict[str, Any]:
    """Bound values naming the record this request claimed (and still holds in progress)."""
    assert ctx.claimed is not None
    tenant, who, created_at = ctx.claimed
    return {"o_tenant": tenant, "o_principal": who, "o_key": ctx.key, "o_created": created_at}


_OWNED = (IdempotencyKey.tenant_id == bindparam("o_tenant"), IdempotencyKey.principal == bindparam("o_principal"),
          IdempotencyKey.key == bindparam("o_key"), IdempotencyKey.created_at == bindparam("o_created"),
          IdempotencyKey.status == "in_progress")
# Built once (every idempotent request stores or releases its record); values are bound.
_STORE = update(IdempotencyKey).where(*_OWNED).values(
    status="completed", response_status=bindparam("r_status"),
    response_headers=bindparam("r_headers", type_=IdempotencyKey.response_headers.type),
    response_body=bindparam("r_body", type_=IdempotencyKey.response_body.type), expires_at=bindparam("r_expires"))
_RELEASE = delete(IdempotencyKey).where(*_OWNED)


async def _shielded(coro: Any) -> None:
    """Finish bookkeeping even when the request task is being cancelled (client went away)."""
    task = asyncio.ensure_future(coro)
    await asyncio.shield(task)


def install(app: FastAPI) -> None:
    async def start(app: FastAPI) -> None:
        settings = app.state.settings
        app.state.idempotency_db = Database(app.state.urls.runtime, pool_size=2, max_overflow=8,
                                            statement_timeout_ms=settings.db_statement_timeout_ms,
                                            application_name="mercato-idempotency")

    async def stop(app: FastAPI) -> None:
        claims_db: Database | None = getattr(app.state, "idempotency_db", None)
        if claims_db is not None:
            app.state.idempotency_db = None
            await claims_db.dispose()

    app.add_middleware(IdempotencyMiddleware, fastapi_app=app)
    app.add_exception_handler(IdempotentReplay, _replay)
    app.state.principal_hooks.append(claim)
    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
