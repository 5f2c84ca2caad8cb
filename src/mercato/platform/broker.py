"""The event bridge: the outbox relay also publishes every event to a message broker.

With ``MERCATO_EVENT_BROKER_URL=amqp://…`` (or ``amqps://``) :func:`install_bridge` registers a
``*`` subscriber that publishes each relayed event to the durable topic exchange
``mercato.events``: routing key = event type (``order.paid``), persistent message
(delivery mode 2), ``content_type=application/json``, ``message_id`` = event id, body = the
event envelope (``Event.envelope()``). The channel uses publisher confirms: a publish returns
only once the broker has taken responsibility for the message.

A publish that fails (broker down, connection lost, nack, timeout) raises, so the relay
records the failure and delivers the event again later with backoff — at least once, in order
per aggregate. The connection is dropped after any failure and opened again on the next
publish, which is how the bridge reconnects. Consumers dedup on ``message_id`` (a relay that
dies between the broker's confirm and marking the event published sends it again).

``kafka://`` is reserved for a Kafka implementation of the same interface (not built yet:
configuring it fails at startup rather than silently dropping events).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

import orjson

from mercato.platform.events import Event, subscribe, unsubscribe

log = logging.getLogger("mercato.broker")

EXCHANGE = "mercato.events"
CONSUMER = "platform.event_bridge"
CONNECT_TIMEOUT_SECONDS = 5.0
PUBLISH_TIMEOUT_SECONDS = 10.0


class BrokerError(RuntimeError):
    """The broker did not take an event (it is retried by the relay)."""


class EventBridge(Protocol):
    async def publish(self, event: Event) -> None: ...

    async def close(self) -> None: ...


def message_properties(event: Event) -> dict[str, Any]:
    """The AMQP properties of an event's message (one place, so tests and docs agree)."""
    return {"content_type": "application/json", "delivery_mode": 2, "message_id": str(event.id),
            "type": event.type, "timestamp": event.occurred_at, "correlation_id": event.correlation_id,
            "app_id": "mercato",
            "headers": {"tenant_id": str(event.tenant_id), "aggregate_type": event.aggregate_type,
                        "aggregate_id": event.aggregate_id}}


class AmqpBridge:
    """Publishes events to a RabbitMQ topic exchange with publisher confirms (aio-pika)."""

    def __init__(self, url: str, *, exchange: str = EXCHANGE, connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
                 publish_timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.exchange_name = exchange
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self._connection: Any = None
        self._exchange: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def _ensure(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a connection belongs to the loop that opened it
            self._connection = self._exchange = None
            self._loop, self._lock = loop, asyncio.Lock()
        assert self._lock is not None
        async with self._lock:
            if self._exchange is not None and self.connected:
                return self._exchange
            await self._drop()
            import aio_pika

            try:
                connection = await aio_pika.connect(self.url, timeout=self.connect_timeout,
                                                    client_properties={"connection_name": "mercato-event-bridge"})
            except Exception as exc:
                raise BrokerError(f"cannot connect to the event broker: {type(exc).__name__}: {exc}") from exc
            try:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.TOPIC,
                                                          durable=True)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await connection.close()
                raise BrokerError(f"cannot declare exchange {self.exchange_name}: {exc}") from exc
            self._connection, self._exchange = connection, exchange
            log.info("event bridge connected", extra={"exchange": self.exchange_name})
            return exchange

    async def publish(self, event: Event) -> None:
        """Publish and wait for the broker's confirm; raise if it did not take the message."""
        import aio_pika
        from pamqp.commands import Basic

        exchange = await self._ensure()
        props = message_properties(event)
        message = aio_pika.Message(orjson.dumps(event.envelope()), **{**props, "delivery_mode":
                                                                       aio_pika.DeliveryMode.PERSISTENT})
        try:
            # mandatory=False: an event nobody is bound to yet is not an error.
            confirmation = await exchange.publish(message, routing_key=event.type, mandatory=False,
                                                  timeout=self.publish_timeout)
        except Exception as exc:
            await self._drop()
            raise BrokerError(f"publish of {event.type} {event.id} failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(confirmation, Basic.Ack):
            await self._drop()
            raise BrokerError(f"broker did not confirm {event.type} {event.id}: {confirmation!r}")

    async def _drop(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        if self._loop is asyncio.get_running_loop():
            await self._drop()
        self._connection = self._exchange = None


def bridge_for_url(url: str) -> EventBridge:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("amqp", "amqps"):
        return AmqpBridge(url)
    if scheme == "kafka":
        raise ValueError("MERCATO_EVENT_BROKER_URL: kafka:// is not supported yet (use amqp://)")
    raise ValueError(f"MERCATO_EVENT_BROKER_URL: unsupported scheme {scheme or url!r} (use amqp:// or amqps://)")


_installed: EventBridge | None = None


def install_bridge(settings: Any) -> EventBridge | None:
    """Publish every relayed event to the broker when ``settings.event_broker_url`` is set.

    Registers the ``*`` subscriber ``platform.event_bridge`` (replacing an earlier bridge of this
    process); returns the bridge, or None without a URL. The connection opens on first publish.
    """
    global _installed
    secret: Any = getattr(settings, "event_broker_url", None)
    url: str | None = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    unsubscribe("*", CONSUMER)
    _installed = None
    if not url:
        return None
    bridge = bridge_for_url(url)
    subscribe("*", name=CONSUMER)(bridge.publish)
    _installed = bridge
    return bridge


async def close_bridge(_app: Any = None) -> None:
    """Close the bridge's connection at shutdown (usable as an app shutdown hook).

    The subscriber stays registered: should a relay still deliver afterwards, the bridge
    reconnects rather than letting events be marked published without reaching the broker.
    Run it after the relay has stopped."""
    if _installed is not None:
        await _installed.close()


async def uninstall_bridge() -> None:
    """Unregister the bridge and close its connection (tests; reconfiguration)."""
    global _installed
    bridge, _installed = _installed, None
    unsubscribe("*", CONSUMER)
    if bridge is not None:
        await bridge.close()
