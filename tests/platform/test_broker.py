"""The event bridge against the machine's RabbitMQ (127.0.0.1:5672, guest/guest).

Events go the real way — outbox row in a committed transaction, relay, bridge subscriber,
topic exchange ``mercato.events`` — and are read back from temporary queues bound to it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import text

from mercato.platform import broker
from mercato.platform.events import Relay, publish

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEAD_URL = "amqp://guest:guest@127.0.0.1:1/"

aio_pika = pytest.importorskip("aio_pika", reason="aio-pika is not installed (add it to the dependencies)")


async def _rabbit_available() -> bool:
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=2)
    except Exception:
        return False
    await connection.close()
    return True


@pytest_asyncio.fixture
async def amqp() -> AsyncIterator[Any]:
    if not await _rabbit_available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("RabbitMQ on 127.0.0.1:5672 is required in CI")
        pytest.skip("RabbitMQ on 127.0.0.1:5672 is not running")
    connection = await aio_pika.connect(AMQP_URL)
    yield connection
    await connection.close()


@pytest_asyncio.fixture
async def bridged(settings) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    """Install a bridge for the test (and always uninstall it: it is a process-wide subscriber)."""

    def install(url: str | None) -> Any:
        return broker.install_bridge(settings.model_copy(update={"event_broker_url": SecretStr(url) if url else None}))

    yield install
    await broker.uninstall_bridge()


async def _queue(connection: Any, *keys: str) -> Any:
    channel = await connection.channel()
    exchange = await channel.declare_exchange(broker.EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"test-{uuid.uuid4().hex[:10]}", exclusive=True, auto_delete=True)
    for key in keys:
        await queue.bind(exchange, routing_key=key)
    return queue


async def _consume(queue: Any, tenant_id: uuid.UUID, expected: int, within: float = 5.0) -> list[Any]:
    """Messages of ``tenant_id`` (other tests and processes publish to the same exchange)."""
    out: list[Any] = []
    deadline = asyncio.get_running_loop().time() + within
    while len(out) < expected and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        if message.headers.get("tenant_id") == str(tenant_id):
            out.append(message)
    return out


async def _emit(db, tenant_id: uuid.UUID, type_: str, data: dict[str, Any], aggregate_id: Any = None) -> uuid.UUID:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return await publish(s, type_, aggregate_type=type_.split(".")[0], aggregate_id=aggregate_id or uuid.uuid4(),
                             data=data)


async def test_relayed_events_land_on_the_topic_exchange(amqp, bridged, db, worker_db, tenant) -> None:
    await Relay(worker_db, db).drain()  # earlier tests' events are not ours to bridge
    orders = await _queue(amqp, "order.#")
    everything = await _queue(amqp, "#")
    bridge = bridged(AMQP_URL)
    assert isinstance(bridge, broker.AmqpBridge)

    order_id = uuid.uuid4()
    paid = await _emit(db, tenant.id, "order.paid", {"order_id": str(order_id), "total": 1200}, order_id)
    shipped = await _emit(db, tenant.id, "order.shipped", {"order_id": str(order_id)}, order_id)
    stock = await _emit(db, tenant.id, "inventory.adjusted", {"delta": -1})
    assert await Relay(worker_db, db).drain() >= 3

    got_orders = await _consume(orders, tenant.id, 2)
    got_all = await _consume(everything, tenant.id, 3)
    assert [m.routing_key for m in got_orders] == ["order.paid", "order.shipped"]  # in order per aggregate
    assert [m.message_id for m in got_all] == [str(paid), str(shipped), str(stock)]
    first = got_orders[0]
    assert first.exchange == broker.EXCHANGE
    assert first.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert first.content_type == "application/json"
    assert first.message_id == str(paid) and first.type == "order.paid" and first.app_id == "mercato"
    body = orjson.loads(first.body)
    assert body["id"] == str(paid) and body["type"] == "order.paid" and body["tenant_id"] == str(tenant.id)
    assert body["aggregate"] == {"type": "order", "id": str(order_id)}
    assert body["data"] == {"order_id": str(order_id), "total": 1200}
    assert set(body) == {"id", "type", "tenant_id", "occurred_at", "correlation_id", "aggregate", "data"}

    # The exchange is a durable topic exchange: redeclaring it so succeeds (a mismatch would close the channel).
    channel = await amqp.channel()
    await channel.declare_exchange(broker.EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.close()


async def test_broker_down_fails_the_event_and_the_relay_delivers_it_later(amqp, bridged, db, worker_db,
                                                                           tenant) -> None:
    await Relay(worker_db, db).drain()
    queue = await _queue(amqp, "order.#")
    bridged(DEAD_URL)
    event_id = await _emit(db, tenant.id, "order.paid", {"total": 5})
    relay = Relay(worker_db, db, base_retry_delay=0.05, max_retry_delay=0.1)
    batch = await relay.run_once()
    assert batch.failed >= 1 and batch.delivered == 0
    async with worker_db.transaction() as s:
        row = (await s.execute(text("SELECT published_at, attempts, last_error FROM outbox WHERE event_id = :e"),
                               {"e": event_id})).one()
    assert row.published_at is None and row.attempts == 1
    assert broker.CONSUMER in row.last_error and "cannot connect" in row.last_error
    assert await _consume(queue, tenant.id, 1, within=0.3) == []

    bridged(AMQP_URL)  # the broker is back
    await asyncio.sleep(0.15)  # past the backoff
    assert await relay.drain() >= 1
    got = await _consume(queue, tenant.id, 1)
    assert [m.message_id for m in got] == [str(event_id)]
    async with worker_db.transaction() as s:
        published = (await s.execute(text("SELECT published_at FROM outbox WHERE event_id = :e"),
                                     {"e": event_id})).scalar_one()
    assert published is not None


class _Proxy:
    """A loopback TCP proxy to RabbitMQ whose connections the test can cut (a broker restart, a
    network blip) without touching the broker itself."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5672)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def _published(worker_db, event_id: uuid.UUID) -> bool:  # type: ignore[no-untyped-def]
    async with worker_db.transaction() as s:
        return (await s.execute(text("SELECT published_at FROM outbox WHERE event_id = :e"),
                                {"e": event_id})).scalar_one() is not None


async def test_the_bridge_reconnects_after_losing_its_connection(amqp, bridged, db, worker_db, tenant) -> None:
    await Relay(worker_db, db).drain()
    queue = await _queue(amqp, "order.#")
    proxy = _Proxy()
    port = await proxy.start()
    try:
        bridge = bridged(f"amqp://guest:guest@127.0.0.1:{port}/")
        relay = Relay(worker_db, db, base_retry_delay=0.05, max_retry_delay=0.1)
        first = await _emit(db, tenant.id, "order.paid", {"n": 1})
        await relay.drain()
        assert bridge.connected and await _published(worker_db, first)
        original = bridge._connection
        proxy.cut()  # the TCP connection dies under the bridge (no AMQP close)
        await asyncio.sleep(0.1)
        second = await _emit(db, tenant.id, "order.paid", {"n": 2})
        for _ in range(30):  # a publish on the dead connection fails; the retry reconnects
            await relay.drain()
            if await _published(worker_db, second):
                break
            await asyncio.sleep(0.1)
        assert await _published(worker_db, second)
        got = await _consume(queue, tenant.id, 2)
        assert [m.message_id for m in got] == [str(first), str(second)]
        assert bridge.connected and bridge._connection is not original  # a new connection
    finally:
        await proxy.close()


async def test_install_close_and_uninstall(settings) -> None:  # type: ignore[no-untyped-def]
    from mercato.platform.events import subscribers_for

    def consumers() -> set[str]:
        return {name for name, _ in subscribers_for("order.paid")}

    bridge = broker.install_bridge(settings.model_copy(update={"event_broker_url": SecretStr(DEAD_URL)}))
    assert isinstance(bridge, broker.AmqpBridge) and broker.CONSUMER in consumers()
    await broker.close_bridge()  # shutdown: the connection closes, the subscriber stays (no event skips it)
    assert broker.CONSUMER in consumers()
    await broker.uninstall_bridge()
    assert broker.CONSUMER not in consumers()


def test_install_bridge_needs_a_supported_url(settings) -> None:  # type: ignore[no-untyped-def]
    assert broker.install_bridge(settings.model_copy(update={"event_broker_url": None})) is None
    with pytest.raises(ValueError, match="kafka"):
        broker.install_bridge(settings.model_copy(update={"event_broker_url": SecretStr("kafka://127.0.0.1:9092")}))
    with pytest.raises(ValueError, match="unsupported"):
        broker.install_bridge(settings.model_copy(update={"event_broker_url": SecretStr("nats://127.0.0.1")}))
    from mercato.platform.events import subscribers_for

    assert broker.CONSUMER not in {name for name, _ in subscribers_for("order.paid")}
