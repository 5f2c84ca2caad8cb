"""Fan-out across processes through the machine's Redis (127.0.0.1:6379).

Two "processes" are two apps, each with its own hub and its own Redis connections, served on
two loopback ports: a delivery published by one reaches the sockets of the other.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import orjson
import pytest
import redis.asyncio as aioredis
from realtime_helpers import (
    REDIS_URL,
    authenticated,
    closed_with,
    customer,
    drain_messages,
    emit,
    messages_until,
    open_socket,
    operator_token,
    recv,
    redis_available,
    relay,
    require_service,
    serve_realtime,
)

from mercato.platform.events import Event
from mercato.realtime.domain import CloseCode, Delivery, delivery_for_event
from mercato.realtime.handlers import fan_out
from mercato.realtime.hub import Hub, dispatch


@pytest.fixture(autouse=True)
def _needs_redis() -> None:
    require_service(redis_available(), "Redis on 127.0.0.1:6379")


def _order_event(tenant_id: uuid.UUID, customer_id: uuid.UUID) -> tuple[str, Delivery]:
    event_id = str(uuid.uuid4())
    delivery = delivery_for_event({"id": event_id, "type": "order.paid", "tenant_id": str(tenant_id),
                                   "occurred_at": "2026-01-01T00:00:00+00:00", "correlation_id": None,
                                   "aggregate": {"type": "order", "id": "o1"},
                                   "data": {"customer_id": str(customer_id)}})
    assert delivery is not None
    return event_id, delivery


async def test_a_delivery_published_by_one_hub_reaches_a_socket_of_another(settings, db_urls, client,
                                                                          make_tenant) -> None:
    shop, other_shop = await make_tenant(), await make_tenant()
    buyer, outsider = await customer(client, shop), await customer(client, other_shop)
    publisher = Hub(REDIS_URL, name="worker-like")  # no sockets: like the relay's process
    await publisher.start()
    try:
        async with serve_realtime(settings, db_urls, redis_url=REDIS_URL) as api:
            assert api.hub.mode == "redis"
            ws, ws_other = await open_socket(api.ws_url, buyer["token"]), await open_socket(api.ws_url,
                                                                                             outsider["token"])
            await authenticated(ws)
            await authenticated(ws_other)
            event_id, delivery = _order_event(shop.id, buyer["user_id"])
            await publisher.publish(delivery)
            message = await recv(ws)
            assert message["type"] == "event" and message["event"]["id"] == event_id
            assert await drain_messages(ws_other) == []
            assert publisher.connections() == 0  # it delivered nothing itself: Redis did
            await ws.close()
            await ws_other.close()
    finally:
        await publisher.close()


async def test_relayed_events_and_broadcasts_cross_processes_once(settings, db_urls, client, db, worker_db,
                                                                  make_tenant) -> None:
    shop, other_shop = await make_tenant(), await make_tenant()
    buyer, outsider = await customer(client, shop), await customer(client, other_shop)
    async with serve_realtime(settings, db_urls, redis_url=REDIS_URL) as api_1, \
            serve_realtime(settings, db_urls, redis_url=REDIS_URL) as api_2:
        on_1, on_2 = await open_socket(api_1.ws_url, buyer["token"]), await open_socket(api_2.ws_url, buyer["token"])
        stranger = await open_socket(api_2.ws_url, outsider["token"])
        for ws in (on_1, on_2, stranger):
            await authenticated(ws)

        # The relay runs here (a third "process" sharing the two hubs' Redis): one PUBLISH, and each
        # socket, whichever process holds it, gets the event exactly once.
        event_id = await emit(db, shop.id, "order.shipped", {"customer_id": str(buyer["user_id"])})
        await relay(worker_db, db)
        for ws in (on_1, on_2):
            events = [m for m in await messages_until(ws, {str(event_id)}, settle=0.5) if m["type"] == "event"]
            assert [m["event"]["id"] for m in events] == [str(event_id)]

        # An operator's broadcast sent to process 1 reaches the shop's sockets on process 2.
        operator = {"Authorization": f"Bearer {await operator_token(db, settings)}"}
        async with api_1.http() as http:
            r = await http.post("/api/v1/realtime/broadcast", headers=operator,
                                json={"tenant_id": str(shop.id), "message": "hello from process 1"})
        assert r.status_code == 202, r.text
        assert r.json()["fan_out"] == "redis"
        for ws in (on_1, on_2):
            assert (await recv(ws))["message"] == "hello from process 1"
        assert await drain_messages(stranger) == []
        for ws in (on_1, on_2, stranger):
            await ws.close()


async def test_a_delivery_on_a_foreign_tenant_channel_is_dropped(settings, db_urls, client, make_tenant) -> None:
    shop, other_shop = await make_tenant(), await make_tenant()
    victim = await customer(client, shop)
    async with serve_realtime(settings, db_urls, redis_url=REDIS_URL) as api:
        ws = await open_socket(api.ws_url, victim["token"])
        await authenticated(ws)
        _, delivery = _order_event(other_shop.id, victim["user_id"])
        forged = Delivery(tenant_id=shop.id, everyone=True, payload={"type": "broadcast", "message": "x"})
        raw = aioredis.from_url(REDIS_URL)
        try:
            # Another tenant's delivery pushed onto this tenant's channel, and garbage.
            await raw.publish(api.hub.channel(shop.id), orjson.dumps(delivery.to_wire()))
            await raw.publish(api.hub.channel(shop.id), b"not json")
            await raw.publish(api.hub.channel(other_shop.id), orjson.dumps(forged.to_wire()))
            assert await drain_messages(ws) == []
            # The channel still works for what belongs on it.
            await raw.publish(api.hub.channel(shop.id), orjson.dumps(forged.to_wire()))
            assert (await recv(ws))["type"] == "broadcast"
        finally:
            await raw.aclose()
        await ws.close()


async def test_a_worker_without_a_hub_publishes_to_redis(settings, db_urls, client, tenant) -> None:
    buyer = await customer(client, tenant)
    async with serve_realtime(settings, db_urls, redis_url=REDIS_URL) as api:
        ws = await open_socket(api.ws_url, buyer["token"])
        await authenticated(ws)
        event_id, delivery = _order_event(tenant.id, buyer["user_id"])
        await dispatch(delivery, redis_url=REDIS_URL, local_hubs=[])  # a `mercato worker` process
        assert (await recv(ws))["event"]["id"] == event_id
        await ws.close()


async def test_the_listener_reconnects_after_losing_redis(settings, db_urls, client, tenant) -> None:
    buyer = await customer(client, tenant)
    async with serve_realtime(settings, db_urls, redis_url=REDIS_URL) as api:
        ws = await open_socket(api.ws_url, buyer["token"])
        await authenticated(ws)
        admin = aioredis.from_url(REDIS_URL)
        try:
            name = api.hub._subscriber.connection_pool.connection_kwargs["client_name"]
            clients = await admin.client_list()
            ours = [c["id"] for c in clients if c.get("name") == name]
            assert ours, "the hub's listening connection is not in CLIENT LIST"
            for client_id in ours:
                assert await admin.client_kill_filter(_id=client_id)
        finally:
            await admin.aclose()
        # Messages published while it is down are lost (best effort); once it is back (and has
        # resubscribed to the tenant channel by itself), they flow again.
        publisher = Hub(REDIS_URL, name="after-kill")
        await publisher.start()
        try:
            got = None
            for _ in range(50):
                _, delivery = _order_event(tenant.id, buyer["user_id"])
                await publisher.publish(delivery)
                try:
                    got = await recv(ws, within=0.2)
                    break
                except TimeoutError:
                    continue
            assert got is not None and got["type"] == "event"
        finally:
            await publisher.close()
        await ws.close()


async def test_redis_down_refuses_sockets_and_broadcasts_but_not_the_app(settings, db_urls, client, db,
                                                                         tenant) -> None:
    buyer = await customer(client, tenant)
    async with serve_realtime(settings, db_urls, redis_url="redis://127.0.0.1:1/0") as api:
        ws = await open_socket(api.ws_url, buyer["token"])
        code, reason = await closed_with(ws)
        assert code == CloseCode.SERVER_ERROR and "retry" in reason
        operator = {"Authorization": f"Bearer {await operator_token(db, settings)}"}
        async with api.http() as http:
            r = await http.post("/api/v1/realtime/broadcast", headers=operator,
                                json={"tenant_id": str(tenant.id), "message": "hi"})
            assert r.status_code == 503 and r.json()["code"] == "realtime_unavailable"
            assert (await http.get("/health")).status_code == 200  # the app itself still serves
        # The relay's fan-out swallows the failure (best effort): it must not fail the event.
        event = Event(id=uuid.uuid4(), type="order.paid", tenant_id=tenant.id, aggregate_type="order",
                      aggregate_id="o", occurred_at=datetime.now(UTC), correlation_id=None,
                      data={"customer_id": str(buyer["user_id"])})
        await asyncio.wait_for(fan_out(event), timeout=10)
