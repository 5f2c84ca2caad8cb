"""One WebSocket, from accept to close: authentication, rooms, heartbeats, sending.

Three tasks per socket once authenticated: a *reader* (client messages), a *writer* (the only
task that sends, so frames never interleave) and a *heartbeat* (pings, idle timeout, token
expiry). Whichever ends first ends the others; the hub forgets the socket in every case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from mercato.platform.errors import Forbidden, MercatoError, NotFound, Unauthorized
from mercato.platform.security import Permission, Principal, decode_jwt, key_kind
from mercato.realtime.domain import MAX_CLIENT_MESSAGE_BYTES, ROOMS, CloseCode, close_reason
from mercato.realtime.hub import Client, Hub, HubUnavailable
from mercato.realtime.schemas import AuthMessage, PingMessage, PongMessage, SubscribeMessage, client_message
from mercato.settings import get_settings

log = logging.getLogger("mercato.realtime")


class MessageTooBig(Exception):
    pass


class Reject(Exception):
    """Close the socket with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = int(code)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    principal: Principal
    expires_at: float  # unix time the access token expires

    @property
    def tenant_id(self) -> uuid.UUID:
        assert self.principal.tenant_id is not None
        return self.principal.tenant_id

    @property
    def user_id(self) -> uuid.UUID:
        assert self.principal.user_id is not None
        return self.principal.user_id

    @property
    def staff(self) -> bool:
        return self.principal.can(Permission.REALTIME_STAFF)


def _as_request(websocket: WebSocket, token: str) -> Request:
    """The socket's handshake as an HTTP request carrying ``token`` as its bearer credential.

    The identity module's resolver (``app.state.resolve_principal``) reads headers and writes
    ``request.state``; giving it the handshake's headers (Host, X-Mercato-Tenant) keeps every
    rule of the HTTP API — tenant mismatch, suspended shop, revoked session, inactive account."""
    headers = [(k, v) for k, v in websocket.scope.get("headers", []) if k.lower() != b"authorization"]
    headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {"type": "http", "method": "GET", "scheme": "https" if websocket.url.scheme == "wss" else "http",
             "path": websocket.scope.get("path", "/ws"), "raw_path": websocket.scope.get("raw_path", b"/ws"),
             "query_string": b"", "root_path": websocket.scope.get("root_path", ""), "headers": headers,
             "client": websocket.scope.get("client"), "server": websocket.scope.get("server"),
             "app": websocket.scope.get("app"), "state": {}, "http_version": "1.1"}
    return Request(scope)


async def authenticate(websocket: WebSocket, token: str) -> Identity:
    """Validate an access token the way the HTTP API does; raises :class:`Reject`."""
    app = websocket.app
    if key_kind(token):
        raise Reject(CloseCode.UNAUTHENTICATED, "API keys cannot open a WebSocket; use a user access token")
    secret = get_settings().secret_key.get_secret_value()  # what the resolver verifies with
    try:
        claims = decode_jwt(token, secret, typ="access")
    except Unauthorized as exc:
        raise Reject(CloseCode.UNAUTHENTICATED, exc.detail or exc.title) from exc
    if claims.get("kind") == "operator":
        raise Reject(CloseCode.FORBIDDEN, "operators have no tenant stream; use POST /api/v1/realtime/broadcast")
    try:
        async with app.state.db.transaction() as session:
            principal: Principal = await app.state.resolve_principal(_as_request(websocket, token), session)
    except Unauthorized as exc:
        raise Reject(CloseCode.UNAUTHENTICATED, exc.detail or exc.title) from exc
    except Forbidden as exc:
        raise Reject(CloseCode.FORBIDDEN, exc.detail or exc.title) from exc
    except NotFound as exc:
        raise Reject(CloseCode.UNKNOWN_TENANT, exc.detail or exc.title) from exc
    except MercatoError as exc:
        raise Reject(CloseCode.BAD_MESSAGE, exc.detail or exc.title) from exc
    if principal.kind != "user" or principal.tenant_id is None or principal.user_id is None:
        raise Reject(CloseCode.FORBIDDEN, "a shop user's access token is required")
    return Identity(principal=principal, expires_at=float(claims["exp"]))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class Connection:
    def __init__(self, websocket: WebSocket, hub: Hub) -> None:
        self.ws = websocket
        self.hub = hub
        self.identity: Identity | None = None
        self.client: Client | None = None
        self.last_heard = time.monotonic()

    async def run(self) -> None:
        await self.ws.accept()
        try:
            identity = await self._first_authentication()
        except Reject as exc:
            await self._close(exc.code, exc.reason)
            return
        except Exception:  # the database is down, say: the client should retry later
            log.exception("realtime: authentication failed")
            await self._close(CloseCode.SERVER_ERROR, "authentication unavailable; retry later")
            return
        if identity is None:  # the client left before authenticating
            return
        self.identity = identity
        self.client = Client(identity.tenant_id, identity.user_id, max_pending=self.hub.max_pending)
        try:
            await self.hub.attach(self.client)
        except HubUnavailable as exc:
            log.warning("realtime: socket refused", extra={"error": str(exc)})
            await self._close(CloseCode.SERVER_ERROR, "real-time service unavailable; retry later")
            return
        self.last_heard = time.monotonic()  # the idle clock starts once the socket is served
        try:
            self.client.offer(self._authenticated_message())
            await self._serve()
        finally:
            await self.hub.detach(self.client)

    # -- authentication

    async def _first_authentication(self) -> Identity | None:
        token = self.ws.query_params.get("token")
        if token is None:
            try:
                raw = await asyncio.wait_for(self._receive_text(), timeout=self.hub.auth_timeout_seconds)
            except TimeoutError as exc:
                raise Reject(CloseCode.UNAUTHENTICATED, "authentication timeout: send {type: auth, token}") from exc
            except MessageTooBig as exc:
                raise Reject(CloseCode.MESSAGE_TOO_BIG, "message too big") from exc
            if raw is None:
                return None
            try:
                message = client_message.validate_json(raw)
            except ValidationError as exc:
                raise Reject(CloseCode.UNAUTHENTICATED, "first message must be {type: auth, token}") from exc
            if not isinstance(message, AuthMessage):
                raise Reject(CloseCode.UNAUTHENTICATED, "first message must be {type: auth, token}")
            token = message.token
        return await authenticate(self.ws, token)

    def _authenticated_message(self) -> dict[str, Any]:
        assert self.identity is not None and self.client is not None
        return {"type": "authenticated", "tenant_id": str(self.identity.tenant_id),
                "user_id": str(self.identity.user_id), "staff": self.identity.staff,
                "rooms": sorted(ROOMS) if self.identity.staff else [],
                "subscribed": sorted(self.client.rooms),
                "expires_at": _iso(self.identity.expires_at),
                "heartbeat_seconds": self.hub.heartbeat_seconds,
                "idle_timeout_seconds": self.hub.idle_timeout_seconds}

    async def _reauthenticate(self, token: str) -> None:
        """A fresh access token on an open socket (before the old one expires)."""
        assert self.identity is not None and self.client is not None
        try:
            identity = await authenticate(self.ws, token)
        except Reject as exc:
            self.client.request_close(exc.code, exc.reason)
            return
        except Exception:
            log.exception("realtime: re-authentication failed")
            self.client.request_close(CloseCode.SERVER_ERROR, "authentication unavailable; retry later")
            return
        if identity.user_id != self.identity.user_id or identity.tenant_id != self.identity.tenant_id:
            self.client.request_close(CloseCode.FORBIDDEN, "token belongs to another user")
            return
        self.identity = identity
        if not identity.staff:
            self.client.rooms.clear()
        self.client.offer(self._authenticated_message())

    # -- the three tasks

    async def _serve(self) -> None:
        tasks = [asyncio.create_task(self._read(), name="ws-read"),
                 asyncio.create_task(self._write(), name="ws-write"),
                 asyncio.create_task(self._heartbeat(), name="ws-heartbeat")]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect | OSError):
                log.warning("realtime socket task failed", exc_info=error)
        # Whatever ended the socket, make sure the close frame is sent.
        assert self.client is not None
        if self.client.close_with is not None:
            await self._close(*self.client.close_with)

    async def _read(self) -> None:
        assert self.client is not None
        while True:
            try:
                raw = await self._receive_text()
            except MessageTooBig:
                self.client.request_close(CloseCode.MESSAGE_TOO_BIG, "message too big")
                return
            if raw is None:
                return
            self.last_heard = time.monotonic()
            try:
                message = client_message.validate_json(raw)
            except ValidationError as exc:
                self.client.offer({"type": "error", "code": "bad_message",
                                   "detail": "; ".join(e["msg"] for e in exc.errors()[:3])})
                continue
            if isinstance(message, PongMessage):
                continue
            if isinstance(message, PingMessage):
                self.client.offer({"type": "pong"})
            elif isinstance(message, AuthMessage):
                await self._reauthenticate(message.token)
            elif isinstance(message, SubscribeMessage):
                self._subscribe(message.room)
            else:
                self.client.rooms.discard(message.room)
                self.client.offer({"type": "unsubscribed", "room": message.room})

    def _subscribe(self, room: str) -> None:
        assert self.client is not None and self.identity is not None
        if room not in ROOMS:
            self.client.offer({"type": "error", "code": "unknown_room", "room": room,
                               "detail": f"rooms: {', '.join(sorted(ROOMS))}"})
        elif not self.identity.staff:
            self.client.offer({"type": "error", "code": "permission_denied", "room": room,
                               "detail": f"requires permission {Permission.REALTIME_STAFF}"})
        else:
            self.client.rooms.add(room)
            self.client.offer({"type": "subscribed", "room": room})

    async def _write(self) -> None:
        assert self.client is not None
        while True:
            messages, close = await self.client.next_messages()
            for message in messages:
                await self.ws.send_text(orjson.dumps(message).decode())
            if close is not None:
                return

    async def _heartbeat(self) -> None:
        assert self.client is not None
        hub = self.hub
        next_ping = time.monotonic() + hub.heartbeat_seconds
        while True:
            assert self.identity is not None
            now = time.monotonic()
            expires_in = self.identity.expires_at - time.time()
            idle_deadline = self.last_heard + hub.idle_timeout_seconds
            if expires_in <= 0:
                self.client.request_close(CloseCode.UNAUTHENTICATED, "token expired")
                return
            if now >= idle_deadline:
                self.client.request_close(CloseCode.IDLE_TIMEOUT, "idle timeout: answer pings with pong")
                return
            if now >= next_ping:
                self.client.offer({"type": "ping"})
                next_ping = now + hub.heartbeat_seconds
            await asyncio.sleep(max(0.01, min(next_ping - now, idle_deadline - now, expires_in)))

    # -- transport

    async def _receive_text(self) -> str | None:
        """The next text frame; None once the client is gone."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode(errors="replace")
            if text is None:
                continue
            if len(text.encode()) > MAX_CLIENT_MESSAGE_BYTES:
                raise MessageTooBig()
            return text

    async def _close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED or \
                self.ws.client_state == WebSocketState.DISCONNECTED:
            return
        with contextlib.suppress(Exception):
            await self.ws.close(code=int(code), reason=close_reason(reason))
