"""The hub: the sockets of this process, and how deliveries reach them.

Without Redis a hub is in-process: :meth:`Hub.publish` hands a delivery straight to this
process's sockets (right for one process). With ``MERCATO_REDIS_URL`` every hub publishes to
the tenant's Redis channel (``<prefix>:realtime:<tenant id>``) and listens on the channels of
the tenants that have a socket here, so a delivery published by any process (the relay in a
worker, the broadcast endpoint in another API process) reaches every socket of that tenant.

Delivery is best effort: a socket that is not connected (or a Redis that is down) when a
message is published misses it; clients re-read state over HTTP after reconnecting.

Backpressure: each socket has a bounded send queue; a client that does not read fast enough is
disconnected (4429) rather than slowing everybody else down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections import deque
from typing import Any, Literal

import orjson

from mercato.realtime.domain import Audience, CloseCode, Delivery, close_reason, payload_for, revokes

log = logging.getLogger("mercato.realtime")

DEFAULT_HEARTBEAT_SECONDS = 25.0
DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0
DEFAULT_AUTH_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_PENDING = 256
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
DEFAULT_PREFIX = "mercato"


def channel_name(prefix: str, tenant_id: uuid.UUID) -> str:
    """The Redis channel of one tenant's deliveries."""
    return f"{prefix}:realtime:{tenant_id}"


class HubUnavailable(RuntimeError):
    """The hub cannot take a socket now (Redis unreachable, hub closed)."""


class Client:
    """One authenticated socket as the hub sees it: who it is, its rooms, its send queue."""

    def __init__(self, tenant_id: uuid.UUID, user_id: uuid.UUID, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.rooms: set[str] = set()
        self.max_pending = max_pending
        self._pending: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self.close_with: tuple[int, str] | None = None

    @property
    def audience(self) -> Audience:
        return Audience(self.tenant_id, self.user_id, frozenset(self.rooms))

    def offer(self, payload: dict[str, Any]) -> None:
        """Queue a message for the socket (never blocks: the hub fans out to many sockets)."""
        if self.close_with is not None:
            return
        if len(self._pending) >= self.max_pending:
            self.request_close(CloseCode.TOO_SLOW, "too many unread messages")
            return
        self._pending.append(payload)
        self._wake.set()

    def request_close(self, code: int, reason: str) -> None:
        """Ask the socket's writer to close it (the first request wins)."""
        if self.close_with is None:
            self.close_with = (int(code), close_reason(reason))
        self._wake.set()

    async def next_messages(self) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
        """Wait for queued messages or a close request; returns (messages, close request)."""
        while not self._pending and self.close_with is None:
            self._wake.clear()
            await self._wake.wait()
        batch = list(self._pending)
        self._pending.clear()
        return batch, self.close_with


# Hubs alive in this process: the fan-out subscriber hands events to them.
_hubs: weakref.WeakSet[Hub] = weakref.WeakSet()


def hubs() -> list[Hub]:
    return [h for h in list(_hubs) if h.started]


class Hub:
    def __init__(self, redis_url: str | None = None, *, prefix: str = DEFAULT_PREFIX,
                 heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
                 idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
                 auth_timeout_seconds: float = DEFAULT_AUTH_TIMEOUT_SECONDS,
                 max_pending: int = DEFAULT_MAX_PENDING, name: str = "hub") -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.heartbeat_seconds = heartbeat_seconds
        self.idle_timeout_seconds = idle_timeout_seconds
        self.auth_timeout_seconds = auth_timeout_seconds
        self.max_pending = max_pending
        self.name = name
        self.started = False
        self._clients: dict[uuid.UUID, set[Client]] = {}
        self._lock = asyncio.Lock()
        self._subscribed: set[uuid.UUID] = set()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._publisher: Any = None
        self._subscriber: Any = None
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = False

    @property
    def mode(self) -> Literal["redis", "process"]:
        return "redis" if self.redis_url else "process"

    @property
    def control_channel(self) -> str:
        return f"{self.prefix}:realtime:_hub"

    def channel(self, tenant_id: uuid.UUID) -> str:
        return channel_name(self.prefix, tenant_id)

    def connections(self, tenant_id: uuid.UUID | None = None) -> int:
        if tenant_id is not None:
            return len(self._clients.get(tenant_id, ()))
        return sum(len(c) for c in self._clients.values())

    # -- lifecycle

    async def start(self) -> None:
        if self.started:
            return
        if self.redis_url:
            import redis.asyncio as redis

            # Two connections: a subscribed connection can do nothing but listen.
            self._publisher = redis.from_url(self.redis_url)
            self._subscriber = redis.from_url(self.redis_url, health_check_interval=30,
                                              client_name=f"mercato-realtime-{self.name}-{uuid.uuid4().hex[:8]}")
            self._pubsub = self._subscriber.pubsub()
            # A first subscription opens the listening connection (tenant channels come and go).
            # Redis being down must not stop the app: the listener keeps trying; until it
            # succeeds, sockets are refused with 1011 and broadcasts fail with 503.
            try:
                await self._open_listening_connection()
            except Exception as exc:  # noqa: BLE001 - retried by the listener
                log.error("realtime: Redis unreachable; retrying", extra={"error": str(exc), "hub": self.name})
            self._listener = asyncio.create_task(self._listen(), name=f"mercato-realtime-{self.name}")
        self.started = True
        _hubs.add(self)

    async def _open_listening_connection(self) -> None:
        await self._pubsub.subscribe(self.control_channel)
        self._listening = True

    async def close(self) -> None:
        """Close every socket with 1001 (clients reconnect elsewhere) and release Redis."""
        if not self.started:
            return
        self.started = False
        _hubs.discard(self)
        for clients in list(self._clients.values()):
            for client in list(clients):
                client.request_close(CloseCode.GOING_AWAY, "server shutting down")
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        for future in self._confirmations.values():
            future.cancel()
        self._confirmations.clear()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        for conn in (self._subscriber, self._publisher):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.aclose()
        self._pubsub = self._subscriber = self._publisher = None
        self._subscribed.clear()
        self._listening = False

    # -- sockets

    async def attach(self, client: Client) -> None:
        """Register a socket; with Redis, returns once its tenant's channel is subscribed."""
        if not self.started:
            raise HubUnavailable("real-time hub is not running")
        async with self._lock:
            self._clients.setdefault(client.tenant_id, set()).add(client)
            if self.redis_url and client.tenant_id not in self._subscribed:
                try:
                    await self._subscribe(client.tenant_id)
                except Exception as exc:
                    self._discard(client)
                    raise HubUnavailable(f"cannot subscribe to the tenant channel: {exc}") from exc

    async def detach(self, client: Client) -> None:
        async with self._lock:
            self._discard(client)
            if self.redis_url and client.tenant_id not in self._clients and client.tenant_id in self._subscribed:
                self._subscribed.discard(client.tenant_id)
                if self._pubsub is not None:
                    try:
                        await self._pubsub.unsubscribe(self.channel(client.tenant_id))
                    except Exception as exc:  # noqa: BLE001 - a dead connection has no subscriptions anyway
                        log.info("realtime unsubscribe failed", extra={"error": str(exc)})

    def _discard(self, client: Client) -> None:
        clients = self._clients.get(client.tenant_id)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[client.tenant_id]

    async def _subscribe(self, tenant_id: uuid.UUID) -> None:
        channel = self.channel(tenant_id)
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = confirmed
        try:
            await self._pubsub.subscribe(channel)
            # Redis confirms in order on the listening connection: once confirmed, every later
            # PUBLISH to the channel reaches us (the listener resolves the future).
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=SUBSCRIBE_TIMEOUT_SECONDS)
        finally:
            if self._confirmations.get(channel) is confirmed:
                del self._confirmations[channel]
        self._subscribed.add(tenant_id)

    # -- deliveries

    async def publish(self, delivery: Delivery) -> None:
        """Send ``delivery`` to every socket of its tenant: through Redis (all processes) or here."""
        if not self.started:
            raise HubUnavailable("real-time hub is not running")
        if self.redis_url:
            await self._publisher.publish(self.channel(delivery.tenant_id), orjson.dumps(delivery.to_wire()))
        else:
            self.deliver(delivery)

    def deliver(self, delivery: Delivery) -> int:
        """Hand ``delivery`` to this process's matching sockets; returns how many got it."""
        count = 0
        for client in list(self._clients.get(delivery.tenant_id, ())):
            audience = client.audience
            if revokes(delivery, audience):
                client.request_close(delivery.close_code or CloseCode.UNAUTHENTICATED,
                                     delivery.close_reason or "authenticate again")
                count += 1
                continue
            payload = payload_for(delivery, audience)
            if payload is not None:
                client.offer(payload)
                count += 1
        return count

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                if not self._listening:
                    await self._open_listening_connection()
                message = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: redis-py reconnects and resubscribes on the next read
                if delay == 0.1:  # the first failure of a streak, with its traceback; then quietly
                    log.warning("realtime redis listener error; retrying", exc_info=exc, extra={"hub": self.name})
                else:
                    log.debug("realtime redis listener still failing", extra={"hub": self.name, "error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            if message is None:
                continue
            channel = message.get("channel")
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            kind = message.get("type")
            if kind == "subscribe":
                future = self._confirmations.get(channel)
                if future is not None and not future.done():
                    future.set_result(None)
            elif kind == "message":
                self._on_message(channel, message.get("data"))

    def _on_message(self, channel: str, data: Any) -> None:
        try:
            delivery = Delivery.from_wire(orjson.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("realtime: malformed message dropped", extra={"channel": channel, "error": str(exc)})
            return
        if channel != self.channel(delivery.tenant_id):
            # A delivery must arrive on its own tenant's channel; anything else is dropped.
            log.warning("realtime: delivery on a foreign channel dropped", extra={"channel": channel})
            return
        self.deliver(delivery)


# --------------------------------------------------------------------------- the process's fan-out

_fallback: dict[tuple[int, str], Any] = {}  # (id(loop), url) -> publish-only client, for processes without a hub


async def dispatch(delivery: Delivery, *, redis_url: str | None = None, local_hubs: list[Hub] | None = None) -> None:
    """Send a delivery from this process to every socket that should get it.

    Hubs using Redis share one PUBLISH per Redis URL (every hub, here or in another process,
    hears it); in-process hubs deliver directly. A process without any hub (a ``mercato worker``)
    publishes to ``redis_url`` (``MERCATO_REDIS_URL``) when set, else there is no socket to reach.
    """
    published: set[str] = set()
    live = hubs() if local_hubs is None else local_hubs
    for hub in live:
        if hub.redis_url:
            if hub.redis_url not in published:
                published.add(hub.redis_url)
                await hub.publish(delivery)
        else:
            hub.deliver(delivery)
    if not live and redis_url:
        client = _fallback_client(redis_url)
        await client.publish(channel_name(DEFAULT_PREFIX, delivery.tenant_id), orjson.dumps(delivery.to_wire()))


def _fallback_client(redis_url: str) -> Any:
    import redis.asyncio as redis

    key = (id(asyncio.get_running_loop()), redis_url)
    client = _fallback.get(key)
    if client is None:
        _fallback.clear()  # an earlier loop is gone (tests); its client cannot be used here
        client = _fallback[key] = redis.from_url(redis_url)
    return client
