"""After the order, end to end through HTTP: a paid order is split into two parcels from two stock
locations (a real PDF label), tracked to delivery, partly returned (requested → approved → received
with restock) and partly refunded through the test gateway — and every step causes the customer
messages and the signed webhook deliveries it should (a real receiver on loopback verifies them
with the ``standardwebhooks`` library). The same return-and-refund path through Stripe
(localstripe) is ``test_stripe_order_is_returned_and_refunded_through_stripe``."""

from __future__ import annotations

import uuid
from typing import Any

from fulfillment_helpers import create, label, level, ok, packed, paid_order, pdf_text, ship, shop, track
from sqlalchemy import text
from webhook_helpers import create_endpoint, deliveries, now, relay

import mercato.webhooks as webhooks

API = "/api/v1"

#: What the merchant's system subscribes to: the whole life after payment.
SUBSCRIBED = ["order.paid", "shipment.created", "shipment.label_created", "shipment.shipped", "shipment.delivered",
              "order.partially_shipped", "order.shipped", "order.delivered", "return.requested", "return.approved",
              "return.received", "refund.created", "refund.succeeded", "order.refunded"]


async def _messages(db: Any, tenant_id: uuid.UUID) -> list[tuple[str, str]]:
    async with db.tenant_transaction(tenant_id) as s:
        rows = (await s.execute(text("SELECT template, recipient FROM notification_log ORDER BY created_at, id"))).all()
    return [(r[0], r[1]) for r in rows]


async def _deliver_webhooks(client: Any, tenant: Any, db: Any, worker_db: Any, endpoint_id: str) -> list[dict]:
    """Relay the outbox (handlers make messages and deliveries), then send what is due."""
    await relay(db, worker_db)
    await webhooks.send_due(db, worker_db, now=now(), tenant_id=tenant.id)
    return await deliveries(client, tenant, endpoint_id)


async def test_split_shipment_tracking_return_restock_and_refunds(client, tenant, db, worker_db, receiver) -> None:  # type: ignore[no-untyped-def]
    staff = tenant.admin_headers
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=SUBSCRIBED,
                                     description="ERP: orders after payment")
    receiver.secret = endpoint["secret"]
    s = await shop(client, tenant, east=4, west=6)
    east, west = s["locations"]["East"], s["locations"]["West"]
    order = await paid_order(client, tenant, s, {"Red": 2, "Blue": 1}, as_customer=True)
    oid, red, blue = order["id"], order["line_of"]["Red"], order["line_of"]["Blue"]
    customer = order["customer"]
    ch, email = customer["headers"], customer["email"]

    # --- split shipment: one parcel per stock location, each with a simulated-carrier PDF label
    alloc = await ok(await client.get(f"{API}/orders/{oid}/fulfillment", headers=staff))
    assert {p["location_id"] for p in alloc["suggested_shipments"]} == {east, west}
    parcels = [await create(client, tenant, oid, {"carrier": "simulated", "location_id": loc})
               for loc in (east, west)]
    tracking = []
    for parcel in parcels:
        await packed(client, tenant, parcel["id"])
        labelled = await label(client, tenant, parcel["id"])
        pdf = await client.get(f"{API}/shipments/{parcel['id']}/label", headers=staff)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert labelled["tracking_number"] in pdf_text(pdf.content) and order["number"] in pdf_text(pdf.content)
        tracking.append(labelled["tracking_number"])
        await ship(client, tenant, parcel["id"])
    assert await level(client, tenant, s["variants"]["Red"], east) == (2, 0)  # 4 − 2 sold at East
    assert await level(client, tenant, s["variants"]["Blue"], west) == (5, 0)  # 6 − 1 sold at West

    # --- tracking events to delivery (the carrier's pushes); the order is delivered with the last parcel
    for parcel in parcels:
        for status in ("in_transit", "out_for_delivery", "delivered"):
            await track(client, tenant, parcel["id"], status)
    delivered = await ok(await client.get(f"{API}/orders/mine/{oid}", headers=ch))
    assert delivered["status"] == "delivered" and delivered["fulfillment_status"] == "fulfilled"
    theirs = await ok(await client.get(f"{API}/orders/mine/{oid}/shipments", headers=ch))
    assert sorted(p["tracking_number"] for p in theirs["items"]) == sorted(tracking)

    # --- the customer returns one red tee; staff approve, receive it resellable back to East
    requested = await ok(await client.post(f"{API}/returns/mine", headers=ch, json={
        "order_id": oid, "lines": [{"order_line_id": red, "quantity": 1, "reason": "size_or_fit"}]}), 201)
    rid = requested["id"]
    approved = await ok(await client.post(f"{API}/returns/{rid}/approve", headers=staff,
                                          json={"instructions": "Send it to 1 East Way with {rma} on the box."}))
    assert approved["rma_number"] and approved["rma_number"] in approved["instructions"]
    [rline] = requested["lines"]
    received = await ok(await client.post(f"{API}/returns/{rid}/receive", headers=staff, json={
        "lines": [{"return_line_id": rline["id"], "condition": "resellable", "location_id": east}]}))
    assert received["status"] == "received"
    assert await level(client, tenant, s["variants"]["Red"], east) == (3, 0)  # restocked

    # --- a partial refund through the original (test) gateway: the order is partially refunded
    refunded = await ok(await client.post(f"{API}/returns/{rid}/refunds", json={"amount": 1500, "reason": "return"},
                                          headers={**staff, "Idempotency-Key": f"e2e-{uuid.uuid4()}"}), 201)
    assert refunded["refund"]["payments"][0]["status"] == "succeeded"
    after = await ok(await client.get(f"{API}/orders/mine/{oid}", headers=ch))
    assert (after["payment_status"], after["amount_refunded"]) == ("partially_refunded", 1500)
    assert blue  # the blue line stays sold

    # --- what each step caused: messages to the customer …
    sent = await _deliver_webhooks(client, tenant, db, worker_db, endpoint["id"])
    to_customer = [t for t, who in await _messages(db, tenant.id) if who == email]
    for template in ("order_confirmation", "order_shipped", "order_delivered", "return_approved", "order_refunded"):
        assert template in to_customer, (template, to_customer)
    assert to_customer.count("order_shipped") == 2  # one per parcel, each with its tracking link

    # … and signed webhook deliveries to the merchant's system, each handled once
    assert not receiver.verify_errors
    assert {d["status"] for d in sent} == {"succeeded"}, sent
    handled = [m["type"] for m in receiver.handled]  # the shop has this one order
    for kind in ("order.paid", "shipment.created", "shipment.label_created", "shipment.shipped", "order.partially_shipped",
                 "order.shipped", "shipment.delivered", "order.delivered", "return.requested", "return.approved",
                 "return.received", "refund.created", "refund.succeeded"):
        assert kind in handled, (kind, handled)
    assert handled.count("shipment.shipped") == 2 and handled.count("shipment.delivered") == 2
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == len(receiver.handled)
