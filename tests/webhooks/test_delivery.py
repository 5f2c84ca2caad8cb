"""The delivery path end to end: an event → a delivery → a real HTTP receiver on loopback that
fails twice and then accepts; signatures checked with the ``standardwebhooks`` library."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import text
from standardwebhooks import Webhook, WebhookVerificationError
from webhook_helpers import API, create_endpoint, deliveries, emit, now, outbox, relay

import mercato.webhooks as webhooks
from mercato.platform.events import Event
from mercato.webhooks import domain, service


async def test_fails_twice_then_succeeds_signed_logged_and_handled_once(client, tenant, db, worker_db, receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["order.paid"],
                                     description="n8n: paid orders")
    receiver.secret = endpoint["secret"]
    assert endpoint["secret"].startswith("whsec_")
    receiver.respond(500, 500, body="boom")

    order_id = uuid.uuid4()
    event_id = await emit(db, tenant.id, "order.paid", {"order_id": str(order_id), "amount": 1200, "currency": "EUR"},
                          aggregate_id=order_id)
    await relay(db, worker_db)
    [delivery] = await deliveries(client, tenant, endpoint["id"])
    assert delivery["event_id"] == str(event_id) and delivery["status"] == "pending"

    # Attempt 1: 500. The retry is scheduled 5 s (± jitter) later.
    t0 = now()
    r1 = await webhooks.send_due(db, worker_db, now=t0, tenant_id=tenant.id)
    assert (r1.attempted, r1.failed) == (1, 1)
    [d] = await deliveries(client, tenant, endpoint["id"])
    assert d["status"] == "failed" and d["attempts"] == 1 and d["last_status_code"] == 500
    nxt = datetime.fromisoformat(d["next_attempt_at"])
    assert t0 + timedelta(seconds=4.4) <= nxt <= t0 + timedelta(seconds=5.6)

    # Not due yet: nothing is sent.
    assert (await webhooks.send_due(db, worker_db, now=t0 + timedelta(seconds=1), tenant_id=tenant.id)).attempted == 0

    # Attempt 2 (after ~5 s): 500 again; the next one ~5 min later.
    t1 = t0 + timedelta(seconds=6)
    assert (await webhooks.send_due(db, worker_db, now=t1, tenant_id=tenant.id)).failed == 1
    [d] = await deliveries(client, tenant, endpoint["id"])
    nxt = datetime.fromisoformat(d["next_attempt_at"])
    assert t1 + timedelta(minutes=4.4) <= nxt <= t1 + timedelta(minutes=5.6)

    # Attempt 3: accepted.
    t2 = t1 + timedelta(minutes=6)
    assert (await webhooks.send_due(db, worker_db, now=t2, tenant_id=tenant.id)).succeeded == 1

    # The receiver saw three requests with one webhook-id, each signed correctly.
    assert [r.status for r in receiver.requests] == [500, 500, 200]
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {delivery["id"]}
    for r in receiver.requests:
        body = Webhook(endpoint["secret"]).verify(r.body, r.headers)  # the library, not our code
        assert body["type"] == "order.paid"
        assert body["data"] == {"order_id": str(order_id), "amount": 1200, "currency": "EUR"}
        assert set(body) == {"type", "timestamp", "data"}
        assert r.headers["webhook-signature"].startswith("v1,")
        assert r.headers["content-type"] == "application/json"
    # A wrong secret does not verify.
    try:
        Webhook(domain.generate_secret()).verify(receiver.requests[-1].body, receiver.requests[-1].headers)
        raise AssertionError("a foreign secret verified")
    except WebhookVerificationError:
        pass
    assert receiver.verify_errors == []
    assert len(receiver.handled) == 1

    # Every attempt is logged.
    r = await client.get(f"{API}/webhook-deliveries/{delivery['id']}", headers=tenant.admin_headers)
    assert r.status_code == 200
    detail = r.json()
    assert detail["status"] == "succeeded" and detail["attempts"] == 3 and detail["delivered_at"]
    assert detail["next_attempt_at"] is None
    assert [(a["attempt"], a["status_code"]) for a in detail["attempt_log"]] == [(1, 500), (2, 500), (3, 200)]
    assert detail["attempt_log"][0]["response_snippet"] == "boom"
    assert detail["attempt_log"][0]["error"] == "HTTP 500"
    assert detail["attempt_log"][2]["error"] is None
    assert all(a["duration_ms"] >= 0 and a["started_at"] for a in detail["attempt_log"])
    assert detail["payload"]["type"] == "order.paid"

    # The relay delivering the event again (at least once) creates no second delivery.
    async with db.tenant_transaction(tenant.id) as s:
        ev = Event(id=event_id, type="order.paid", tenant_id=tenant.id, aggregate_type="order",
                   aggregate_id=str(order_id), occurred_at=now(), correlation_id=None, data={})
        assert await service.fan_out(s, ev) == 0
    assert len(await deliveries(client, tenant, endpoint["id"])) == 1

    # Manual replay: a new attempt with the same webhook-id; the receiver's dedup keeps it handled once.
    r = await client.post(f"{API}/webhook-deliveries/{delivery['id']}/replay", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    replayed = r.json()
    assert replayed["attempts"] == 4 and replayed["attempt_log"][-1]["manual"] is True
    assert replayed["attempt_log"][-1]["status_code"] == 200
    assert receiver.requests[-1].headers["webhook-id"] == delivery["id"]
    assert len(receiver.requests) == 4 and len(receiver.handled) == 1
    assert receiver.handled[0]["data"]["order_id"] == str(order_id)


async def test_retries_end_dead_after_the_schedule(client, tenant, db, worker_db, receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["product.updated"])
    receiver.default = (503, "down", {})
    await emit(db, tenant.id, "product.updated", {"product_id": "p1"})
    await relay(db, worker_db)
    t = now()
    for _ in range(len(domain.RETRY_SCHEDULE_SECONDS) + 1):
        await webhooks.send_due(db, worker_db, now=t, tenant_id=tenant.id)
        t += timedelta(hours=12)
    [d] = await deliveries(client, tenant, endpoint["id"])
    assert d["status"] == "dead" and d["attempts"] == len(domain.RETRY_SCHEDULE_SECONDS) + 1
    assert d["next_attempt_at"] is None
    assert (await webhooks.send_due(db, worker_db, now=t + timedelta(days=1), tenant_id=tenant.id)).attempted == 0
    assert [x["id"] for x in await deliveries(client, tenant, endpoint["id"], status="dead")] == [d["id"]]
    assert await deliveries(client, tenant, endpoint["id"], status="succeeded") == []

    # A dead delivery can be replayed by hand once the receiver is fixed.
    receiver.default = (204, "", {})
    r = await client.post(f"{API}/webhook-deliveries/{d['id']}/replay", headers=tenant.admin_headers)
    assert r.json()["status"] == "succeeded"


async def test_secret_rotation_signs_with_both_secrets_during_the_overlap(client, tenant, db, worker_db,
                                                                          receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["order.created"])
    old = endpoint["secret"]
    r = await client.post(f"{API}/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert r.json()["endpoint"]["previous_secret_expires_at"]

    # Within the overlap: two signatures; a receiver with either secret verifies.
    r = await client.post(f"{API}/webhook-endpoints/{endpoint['id']}/test", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["event_type"] == "webhook.test" and r.json()["status"] == "succeeded"
    req = receiver.requests[-1]
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(req.body, req.headers)["type"] == "webhook.test"
    assert Webhook(new).verify(req.body, req.headers)["type"] == "webhook.test"

    # After the overlap: only the new secret signs.
    await emit(db, tenant.id, "order.created", {"order_id": "o1"})
    await relay(db, worker_db)
    later = now() + domain.SECRET_OVERLAP + timedelta(minutes=1)
    assert (await webhooks.send_due(db, worker_db, now=later, tenant_id=tenant.id)).succeeded == 1
    req = receiver.requests[-1]
    assert len(req.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new).verify(req.body, req.headers)["data"] == {"order_id": "o1"}
    try:
        Webhook(old).verify(req.body, req.headers)
        raise AssertionError("the expired secret still verifies")
    except WebhookVerificationError:
        pass


async def test_redirects_are_not_followed(client, tenant, db, worker_db, receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["order.paid"])
    receiver.respond(302, headers={"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"})
    await emit(db, tenant.id, "order.paid", {"order_id": "o2"})
    await relay(db, worker_db)
    assert (await webhooks.send_due(db, worker_db, now=now(), tenant_id=tenant.id)).failed == 1
    assert [r.path for r in receiver.requests] == ["/hooks/mercato"]  # /elsewhere never requested
    [d] = await deliveries(client, tenant, endpoint["id"])
    assert d["status"] == "failed" and d["last_status_code"] == 302
    assert "redirect" in d["last_error"]


async def test_failing_endpoint_is_disabled_and_the_owner_told(client, tenant, db, worker_db, receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["order.paid", "order.created"])
    receiver.default = (500, "nope", {})
    await emit(db, tenant.id, "order.paid", {"order_id": "o3"})
    await relay(db, worker_db)
    t0 = now()
    await webhooks.send_due(db, worker_db, now=t0, tenant_id=tenant.id)
    r = await client.get(f"{API}/webhook-endpoints/{endpoint['id']}", headers=tenant.admin_headers)
    assert r.json()["enabled"] is True and r.json()["failing_since"]

    # Five days of nothing but failures later: the next failure disables the endpoint.
    await emit(db, tenant.id, "order.created", {"order_id": "o4"})
    await relay(db, worker_db)
    await webhooks.send_due(db, worker_db, now=t0 + domain.FAILING_PERIOD + timedelta(seconds=1), tenant_id=tenant.id)
    r = await client.get(f"{API}/webhook-endpoints/{endpoint['id']}", headers=tenant.admin_headers)
    ep = r.json()
    assert ep["enabled"] is False and "failed since" in ep["disabled_reason"]
    events = await outbox(worker_db, tenant.id)
    disabled = [d for t, d in events if t == "webhook_endpoint.disabled"]
    assert len(disabled) == 1 and disabled[0]["endpoint_id"] == endpoint["id"]
    assert disabled[0]["url"] == receiver.url  # notifications emails the owners from this event
    # Its deliveries are paused: nothing is due, however late.
    assert all(d["next_attempt_at"] is None for d in await deliveries(client, tenant, endpoint["id"]))
    assert (await webhooks.send_due(db, worker_db, now=t0 + timedelta(days=30), tenant_id=tenant.id)).attempted == 0

    # Re-enabled by staff: paused deliveries resume and go out.
    receiver.default = (200, "ok", {})
    r = await client.patch(f"{API}/webhook-endpoints/{endpoint['id']}", json={"enabled": True},
                           headers=tenant.admin_headers)
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None and r.json()["failing_since"] is None
    res = await webhooks.send_due(db, worker_db, now=now() + timedelta(seconds=1), tenant_id=tenant.id)
    assert res.succeeded == 2


async def test_event_type_filtering_and_internal_events(client, tenant, db, worker_db, receiver, receiver2) -> None:
    only_paid = await create_endpoint(client, tenant, receiver.url, event_types=["order.paid"])
    everything = await create_endpoint(client, tenant, receiver2.url)
    assert everything["event_types"] == []
    await emit(db, tenant.id, "order.paid", {"order_id": "o5"})
    await emit(db, tenant.id, "product.created", {"product_id": "p5"})
    # Carries one-time tokens meant for one person: never leaves the platform.
    await emit(db, tenant.id, "notification.requested", {"channel": "email", "to": "a@b.c", "template": "password_reset",
                                                          "context": {"token": "secret-reset-token"}})
    await relay(db, worker_db)
    assert [d["event_type"] for d in await deliveries(client, tenant, only_paid["id"])] == ["order.paid"]
    types = {d["event_type"] for d in await deliveries(client, tenant, everything["id"])}
    assert {"order.paid", "product.created"} <= types
    assert "notification.requested" not in types

    await webhooks.send_due(db, worker_db, now=now(), tenant_id=tenant.id)
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["order.paid"]
    assert all(b"secret-reset-token" not in r.body for r in receiver2.requests)


async def test_tenant_isolation(client, make_tenant, db, worker_db, receiver, receiver2) -> None:
    a, b = await make_tenant(), await make_tenant()
    ep_a = await create_endpoint(client, a, receiver.url, event_types=["order.paid"])
    ep_b = await create_endpoint(client, b, receiver2.url, event_types=["order.paid"])
    await emit(db, a.id, "order.paid", {"order_id": "only-a"})
    await relay(db, worker_db)
    await webhooks.send_due(db, worker_db, now=now())
    assert len(receiver.requests) == 1 and receiver2.requests == []
    [delivery_a] = await deliveries(client, a, ep_a["id"])

    for method, path in [("GET", f"/webhook-endpoints/{ep_a['id']}"),
                         ("PATCH", f"/webhook-endpoints/{ep_a['id']}"),
                         ("DELETE", f"/webhook-endpoints/{ep_a['id']}"),
                         ("POST", f"/webhook-endpoints/{ep_a['id']}/rotate-secret"),
                         ("POST", f"/webhook-endpoints/{ep_a['id']}/test"),
                         ("GET", f"/webhook-endpoints/{ep_a['id']}/deliveries"),
                         ("GET", f"/webhook-deliveries/{delivery_a['id']}"),
                         ("POST", f"/webhook-deliveries/{delivery_a['id']}/replay")]:
        r = await client.request(method, API + path, headers=b.admin_headers,
                                 json={"enabled": False} if method == "PATCH" else None)
        assert r.status_code == 404, (method, path, r.status_code)
    r = await client.get(f"{API}/webhook-endpoints", headers=b.admin_headers)
    assert [e["id"] for e in r.json()["items"]] == [ep_b["id"]]
    assert len(receiver.requests) == 1  # B's test/replay attempts reached nothing of A's


async def test_two_senders_at_once_send_each_delivery_once(client, tenant, db, worker_db, receiver) -> None:
    await create_endpoint(client, tenant, receiver.url, event_types=["order.paid"])
    for i in range(20):
        await emit(db, tenant.id, "order.paid", {"n": i})
    await relay(db, worker_db)
    t = now()
    results = await asyncio.gather(*(webhooks.send_due(db, worker_db, now=t, tenant_id=tenant.id) for _ in range(3)))
    assert sum(r.succeeded for r in results) == 20
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 20 and len(set(ids)) == 20


async def test_worker_role_sees_only_the_schedule_columns(worker_db, tenant) -> None:
    async with worker_db.transaction() as s:
        await s.execute(text("SELECT tenant_id, id, status, next_attempt_at FROM webhook_deliveries LIMIT 1"))
    for sql in ("SELECT payload FROM webhook_deliveries LIMIT 1", "SELECT secret FROM webhook_endpoints LIMIT 1"):
        try:
            async with worker_db.transaction() as s:
                await s.execute(text(sql))
            raise AssertionError(f"worker may run {sql}")
        except Exception as exc:
            assert "permission denied" in str(exc)
