"""The /ws socket against a real server: authentication, who hears what, rooms, broadcasts.

Events travel the real way: written to the outbox in a committed transaction, handed out by
the relay, fanned out by the ``realtime.fanout`` subscriber to the hub, sent over TCP.
"""

from __future__ import annotations

import asyncio
import uuid

import orjson
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from pydantic import SecretStr
from realtime_helpers import (
    authenticated,
    closed_with,
    customer,
    drain_messages,
    emit,
    include_realtime_routes,
    messages_until,
    open_socket,
    operator_token,
    recv,
    relay,
    serve_realtime,
    staff,
    subscribe,
    user_token,
)
from sqlalchemy import text

from mercato.platform.auth import declared_permission, is_open_route
from mercato.realtime.domain import CloseCode


def _event_ids(messages: list[dict]) -> set[str]:
    return {m["event"]["id"] for m in messages if m.get("type") == "event"}


def test_ws_route_declares_open_and_does_its_own_auth() -> None:
    app = FastAPI()  # not the session app: adding a route there would change other tests' app
    include_realtime_routes(app)
    routes = [ctx for ctx in iter_route_contexts(app.routes) if ctx.path == "/ws"]
    assert len(routes) == 1 and isinstance(routes[0].original_route, APIWebSocketRoute)
    assert declared_permission(routes[0]) == "public" and is_open_route(routes[0])


# --------------------------------------------------------------------------- isolation


async def test_customers_hear_only_their_own_orders_and_never_another_shop(rt, client, db, worker_db,
                                                                           make_tenant) -> None:
    shop_a, shop_b = await make_tenant(), await make_tenant()
    alice, bob = await customer(client, shop_a), await customer(client, shop_a)
    carol = await customer(client, shop_b)
    sockets = {name: await open_socket(rt.ws_url, who["token"]) for name, who in
               (("alice", alice), ("bob", bob), ("carol", carol))}
    for ws in sockets.values():
        await authenticated(ws)

    order_a = uuid.uuid4()
    alice_paid = await emit(db, shop_a.id, "order.paid", {"order_id": str(order_a), "customer_id": str(alice["user_id"]),
                                                         "status": "paid"}, aggregate_id=order_a)
    alice_shipped = await emit(db, shop_a.id, "shipment.shipped", {
        "order_id": str(order_a), "customer_id": str(alice["user_id"]), "tracking_number": "TRK1"})
    bob_paid = await emit(db, shop_a.id, "order.paid", {"customer_id": str(bob["user_id"]), "status": "paid"})
    # Carol's user id, but in shop A: a forged or colliding id must not cross shops.
    await emit(db, shop_a.id, "order.paid", {"customer_id": str(carol["user_id"]), "status": "paid"})
    carol_paid = await emit(db, shop_b.id, "order.paid", {"customer_id": str(carol["user_id"]), "status": "paid"})
    # Not a customer-facing event even though it names Alice.
    await emit(db, shop_a.id, "payment.captured", {"customer_id": str(alice["user_id"]), "amount": 100})
    await relay(worker_db, db)

    expected = {"alice": {str(alice_paid), str(alice_shipped)}, "bob": {str(bob_paid)}, "carol": {str(carol_paid)}}
    got = {name: await messages_until(ws, expected[name]) for name, ws in sockets.items()}
    for name in sockets:
        assert _event_ids(got[name]) == expected[name], name
    paid = next(m for m in got["alice"] if m["event"]["id"] == str(alice_paid))
    assert paid["event"]["type"] == "order.paid" and paid["event"]["data"]["status"] == "paid"
    assert paid["event"]["aggregate"] == {"type": "order", "id": str(order_a)}
    assert "tenant_id" not in paid["event"] and "correlation_id" not in paid["event"]
    for ws in sockets.values():
        await ws.close()


async def test_staff_rooms_are_per_tenant_and_need_the_permission(rt, client, db, worker_db, make_tenant) -> None:
    shop_a, shop_b = await make_tenant(), await make_tenant()
    clerk_a, clerk_b = await staff(client, db, shop_a), await staff(client, db, shop_b)
    shopper = await customer(client, shop_a)
    ws_a, ws_b, ws_c = (await open_socket(rt.ws_url, clerk_a["token"]), await open_socket(rt.ws_url, clerk_b["token"]),
                        await open_socket(rt.ws_url, shopper["token"]))
    hello = await authenticated(ws_a)
    assert hello["staff"] is True and hello["rooms"] == ["inventory", "orders"]
    await authenticated(ws_b)
    assert (await authenticated(ws_c))["staff"] is False

    assert await subscribe(ws_a, "orders") == {"type": "subscribed", "room": "orders"}
    assert await subscribe(ws_b, "orders") == {"type": "subscribed", "room": "orders"}
    assert await subscribe(ws_b, "inventory") == {"type": "subscribed", "room": "inventory"}
    denied = await subscribe(ws_c, "orders")
    assert denied["type"] == "error" and denied["code"] == "permission_denied"
    unknown = await subscribe(ws_a, "secrets")
    assert unknown["type"] == "error" and unknown["code"] == "unknown_room"

    order_a = await emit(db, shop_a.id, "order.paid", {"customer_id": str(uuid.uuid4()), "total": 1200})
    payment_a = await emit(db, shop_a.id, "payment.captured", {"amount": 1200})
    await emit(db, shop_a.id, "inventory.low_stock", {"variant_id": str(uuid.uuid4())})
    order_b = await emit(db, shop_b.id, "order.paid", {"total": 5})
    stock_b = await emit(db, shop_b.id, "inventory.adjusted", {"delta": -1})
    await emit(db, shop_a.id, "user.registered", {"user_id": str(uuid.uuid4())})  # in no room
    await relay(worker_db, db)

    got_a = await messages_until(ws_a, {str(order_a), str(payment_a)})
    got_b = await messages_until(ws_b, {str(order_b), str(stock_b)})
    got_c = await drain_messages(ws_c)
    assert _event_ids(got_a) == {str(order_a), str(payment_a)}  # not inventory: not subscribed
    assert _event_ids(got_b) == {str(order_b), str(stock_b)}
    assert _event_ids(got_c) == set()  # the order was another customer's; rooms are staff only
    staff_view = next(m for m in got_a if m["event"]["id"] == str(order_a))
    assert staff_view["room"] == "orders" and staff_view["event"]["tenant_id"] == str(shop_a.id)

    await ws_a.send(orjson.dumps({"type": "unsubscribe", "room": "orders"}).decode())
    assert await recv(ws_a) == {"type": "unsubscribed", "room": "orders"}
    await emit(db, shop_a.id, "order.cancelled", {"total": 1})
    await relay(worker_db, db)
    assert await drain_messages(ws_a) == []
    for ws in (ws_a, ws_b, ws_c):
        await ws.close()


# --------------------------------------------------------------------------- authentication


async def test_token_in_first_message(rt, client, tenant) -> None:
    who = await customer(client, tenant)
    ws = await open_socket(rt.ws_url)
    await ws.send(orjson.dumps({"type": "auth", "token": who["token"]}).decode())
    hello = await authenticated(ws)
    assert hello["tenant_id"] == str(tenant.id) and hello["user_id"] == str(who["user_id"])
    await ws.send('{"type": "ping"}')
    assert await recv(ws) == {"type": "pong"}
    await ws.send("not json")
    assert (await recv(ws))["code"] == "bad_message"
    await ws.close()


async def test_unauthenticated_sockets_are_closed_4401(rt, client, tenant, settings) -> None:
    # Nothing sent within the auth timeout (2 s here; 5 s by default).
    ws = await open_socket(rt.ws_url)
    code, reason = await closed_with(ws)
    assert code == CloseCode.UNAUTHENTICATED and "timeout" in reason
    # First message is not an auth message.
    ws = await open_socket(rt.ws_url)
    await ws.send('{"type": "subscribe", "room": "orders"}')
    assert (await closed_with(ws))[0] == CloseCode.UNAUTHENTICATED
    # Garbage, tampered and expired tokens, in the query or in the first message.
    who = await customer(client, tenant)
    for token in ("garbage", who["token"][:-3] + "abc"):
        ws = await open_socket(rt.ws_url, token)
        assert await closed_with(ws) == (CloseCode.UNAUTHENTICATED, "invalid token")
    expired = user_token(settings, tenant.id, who["user_id"], ttl=-5)
    ws = await open_socket(rt.ws_url)
    await ws.send(orjson.dumps({"type": "auth", "token": expired}).decode())
    assert await closed_with(ws) == (CloseCode.UNAUTHENTICATED, "token expired")
    # An API key is not a user's token.
    ws = await open_socket(rt.ws_url, tenant.secret_key)
    code, reason = await closed_with(ws)
    assert code == CloseCode.UNAUTHENTICATED and "API key" in reason
    assert rt.hub.connections() == 0


async def test_suspended_shop_inactive_user_operator_and_tenant_mismatch_are_4403(
        rt, client, db, tenant, make_tenant, settings) -> None:
    who = await customer(client, tenant)
    r = await client.post(f"/api/v1/users/{who['user_id']}/suspend", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    ws = await open_socket(rt.ws_url, who["token"])
    code, reason = await closed_with(ws)
    assert code == CloseCode.FORBIDDEN and "suspended" in reason

    ws = await open_socket(rt.ws_url, await operator_token(db, settings))
    assert (await closed_with(ws))[0] == CloseCode.FORBIDDEN

    other = await make_tenant()
    someone = await customer(client, other)
    ws = await open_socket(rt.ws_url, someone["token"], **{"X-Mercato-Tenant": tenant.slug})
    assert (await closed_with(ws))[0] == CloseCode.FORBIDDEN  # token of one shop, handshake names another
    ws = await open_socket(rt.ws_url, someone["token"], **{"X-Mercato-Tenant": "no-such-shop"})
    assert (await closed_with(ws))[0] == CloseCode.UNKNOWN_TENANT

    import mercato.tenancy as tenancy

    async with db.platform_transaction() as s:
        await tenancy.set_status(s, other.id, "suspended")
    ws = await open_socket(rt.ws_url, someone["token"])
    code, reason = await closed_with(ws)
    assert code == CloseCode.FORBIDDEN and "suspended" in reason.lower()


async def test_suspending_a_user_closes_their_open_sockets(rt, client, db, worker_db, tenant) -> None:
    who, bystander = await customer(client, tenant), await customer(client, tenant)
    ws, other = await open_socket(rt.ws_url, who["token"]), await open_socket(rt.ws_url, bystander["token"])
    await authenticated(ws)
    await authenticated(other)
    r = await client.post(f"/api/v1/users/{who['user_id']}/suspend", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    await relay(worker_db, db)  # user.suspended reaches the hub
    assert await closed_with(ws) == (CloseCode.FORBIDDEN, "account suspended")
    await other.send('{"type": "ping"}')
    assert await recv(other) == {"type": "pong"}
    await other.close()


async def test_token_expiry_closes_the_socket_unless_refreshed(rt, client, tenant, settings) -> None:
    who = await customer(client, tenant)
    short = user_token(settings, tenant.id, who["user_id"], ttl=2)
    ws = await open_socket(rt.ws_url, short)
    await authenticated(ws)
    assert await closed_with(ws, within=6) == (CloseCode.UNAUTHENTICATED, "token expired")

    refreshed = await open_socket(rt.ws_url, user_token(settings, tenant.id, who["user_id"], ttl=2))
    await authenticated(refreshed)
    await refreshed.send(orjson.dumps({"type": "auth", "token": who["token"]}).decode())  # a longer-lived one
    renewed = await authenticated(refreshed)
    assert renewed["user_id"] == str(who["user_id"])
    await asyncio.sleep(3)
    await refreshed.send('{"type": "ping"}')
    assert await recv(refreshed) == {"type": "pong"}

    stranger = await customer(client, tenant)
    await refreshed.send(orjson.dumps({"type": "auth", "token": stranger["token"]}).decode())
    assert (await closed_with(refreshed))[0] == CloseCode.FORBIDDEN


# --------------------------------------------------------------------------- heartbeats


async def test_heartbeats_idle_timeout_and_clean_disconnects(settings, db_urls, client, tenant) -> None:
    async with serve_realtime(settings, db_urls, heartbeat_seconds=0.3, idle_timeout_seconds=1.5) as served:
        who = await customer(client, tenant)
        silent = await open_socket(served.ws_url, who["token"])
        lively = await open_socket(served.ws_url, who["token"])
        hello = await authenticated(silent)
        assert hello["heartbeat_seconds"] == 0.3 and hello["idle_timeout_seconds"] == 1.5
        await authenticated(lively)
        assert served.hub.connections(tenant.id) == 2

        async def answer_pings() -> int:
            pings = 0
            for _ in range(8):
                message = await recv(lively, skip_pings=False)
                assert message == {"type": "ping"}
                pings += 1
                await lively.send('{"type": "pong"}')
            return pings

        answered, (code, reason) = await asyncio.gather(answer_pings(), closed_with(silent))
        assert code == CloseCode.IDLE_TIMEOUT and "idle" in reason
        assert answered == 8  # 8 × 0.3 s > the 1.5 s idle timeout: pongs keep it open
        await lively.close()  # a client's clean close: the hub forgets the socket
        for _ in range(100):
            if served.hub.connections() == 0:
                break
            await asyncio.sleep(0.02)
        assert served.hub.connections() == 0


async def test_server_shutdown_closes_sockets_with_1001(settings, db_urls, client, tenant) -> None:
    who = await customer(client, tenant)
    async with serve_realtime(settings, db_urls) as served:
        ws = await open_socket(served.ws_url, who["token"])
        await authenticated(ws)
        await served.hub.close()
        assert await closed_with(ws) == (CloseCode.GOING_AWAY, "server shutting down")


# --------------------------------------------------------------------------- broadcasts


async def test_operator_broadcast_reaches_one_shop_only_and_is_audited(rt, client, db, make_tenant,
                                                                       settings) -> None:
    shop_a, shop_b = await make_tenant(), await make_tenant()
    buyer, clerk, outsider = (await customer(client, shop_a), await staff(client, db, shop_a),
                              await customer(client, shop_b))
    sockets = [await open_socket(rt.ws_url, p["token"]) for p in (buyer, clerk, outsider)]
    for ws in sockets:
        await authenticated(ws)
    operator = {"Authorization": f"Bearer {await operator_token(db, settings)}"}
    async with rt.http() as http:
        r = await http.post("/api/v1/realtime/broadcast", headers=operator,
                            json={"tenant_id": str(shop_a.id), "message": "Maintenance tonight at 02:00 UTC"})
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["tenant_id"] == str(shop_a.id) and body["fan_out"] == "process"
        for ws in sockets[:2]:
            message = await recv(ws)
            assert message == {"type": "broadcast", "id": body["id"], "sent_at": message["sent_at"],
                               "message": "Maintenance tonight at 02:00 UTC"}
        assert await drain_messages(sockets[2]) == []

        r = await http.post("/api/v1/realtime/broadcast", headers=operator,
                            json={"tenant_id": str(shop_a.id), "message": {"kind": "banner", "text": "Sale!"}})
        assert r.status_code == 202
        assert (await recv(sockets[0]))["message"] == {"kind": "banner", "text": "Sale!"}

        # Shop staff cannot broadcast; unknown shops and bad bodies are problems, not 500s.
        r = await http.post("/api/v1/realtime/broadcast", headers=shop_a.admin_headers,
                            json={"tenant_id": str(shop_a.id), "message": "hi"})
        assert r.status_code == 403 and r.json()["code"] == "permission_denied"
        r = await http.post("/api/v1/realtime/broadcast", json={"tenant_id": str(shop_a.id), "message": "hi"})
        assert r.status_code == 401
        r = await http.post("/api/v1/realtime/broadcast", headers=operator,
                            json={"tenant_id": str(uuid.uuid4()), "message": "hi"})
        assert r.status_code == 404
        for bad in ({"tenant_id": str(shop_a.id), "message": "   "},
                    {"tenant_id": str(shop_a.id), "message": "x" * 9000},
                    {"tenant_id": str(shop_a.id), "message": "hi", "extra": 1}):
            r = await http.post("/api/v1/realtime/broadcast", headers=operator, json=bad)
            assert r.status_code == 422, bad
    async with db.tenant_transaction(shop_a.id) as s:
        actions = (await s.execute(text(
            "SELECT action, actor_type FROM audit_log WHERE resource_id = :t AND action = 'realtime.broadcast'"),
            {"t": str(shop_a.id)})).all()
    assert [tuple(a) for a in actions] == [("realtime.broadcast", "operator")] * 2
    for ws in sockets:
        await ws.close()


async def test_oversized_and_binary_frames(rt, client, tenant) -> None:
    who = await customer(client, tenant)
    ws = await open_socket(rt.ws_url, who["token"])
    await authenticated(ws)
    await ws.send(b'{"type": "ping"}')  # binary frames carrying JSON are accepted
    assert await recv(ws) == {"type": "pong"}
    await ws.send(orjson.dumps({"type": "ping", "pad": "x" * 5000}).decode())
    assert (await closed_with(ws))[0] == CloseCode.MESSAGE_TOO_BIG


async def test_many_sockets_many_events_no_leak(rt, client, db, worker_db, make_tenant) -> None:
    """Concurrency: 2 shops × 5 customers, events for all of them relayed at once."""
    shops = [await make_tenant(), await make_tenant()]
    people = [(shop, await customer(client, shop)) for shop in shops for _ in range(5)]
    sockets = await asyncio.gather(*(open_socket(rt.ws_url, p["token"]) for _, p in people))
    await asyncio.gather(*(authenticated(ws) for ws in sockets))
    expected: dict[int, set[str]] = {i: set() for i in range(len(people))}
    for i, (shop, person) in enumerate(people):
        for n in range(3):
            event_id = await emit(db, shop.id, "order.updated", {"customer_id": str(person["user_id"]), "n": n})
            expected[i].add(str(event_id))
    await relay(worker_db, db)
    received = await asyncio.gather(*(messages_until(ws, expected[i], within=10) for i, ws in enumerate(sockets)))
    for i, messages in enumerate(received):
        assert _event_ids(messages) == expected[i]
    await asyncio.gather(*(ws.close() for ws in sockets))


async def test_install_runs_the_hub_with_the_app(settings, db_urls) -> None:
    import mercato.realtime as realtime
    from mercato.app import create_app

    app = create_app(settings.model_copy(update={"redis_url": None}), urls=db_urls, start_background=False)
    if not getattr(app.state, "realtime_installed", False):  # until app.py calls it
        realtime.install(app)
    async with app.router.lifespan_context(app):
        hub = app.state.realtime_hub
        assert hub.started and hub.mode == "process"
        assert hub.heartbeat_seconds == 25.0 and hub.auth_timeout_seconds == 5.0
    assert not hub.started and app.state.realtime_hub is None
    tuned = realtime.hub_from_settings(settings.model_copy(update={"redis_url": SecretStr("redis://127.0.0.1:6379/0")}),
                                       heartbeat_seconds=1.0)
    assert tuned.mode == "redis" and tuned.heartbeat_seconds == 1.0
