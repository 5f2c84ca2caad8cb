"""The whole fulfillment of a paid order through HTTP: allocation across two stock locations,
split shipments, pick/pack, a simulated carrier label (a real PDF), shipping (stock sold at the
right location), tracking to delivery, and what the customer sees."""

from __future__ import annotations

import uuid

from commerce_helpers import customer_headers
from fulfillment_helpers import (
    API,
    create,
    decode_code128,
    events,
    label,
    ledger,
    level,
    ok,
    packed,
    paid_order,
    pdf_pages,
    pdf_text,
    ship,
    shop,
    track,
)
from sqlalchemy import text

import mercato.realtime.domain as rt
from mercato.platform.events import Relay


async def test_split_shipments_from_two_locations_to_delivery(client, tenant, db, worker_db) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 2, "Blue": 3}, as_customer=True)
    oid, red, blue = order["id"], order["line_of"]["Red"], order["line_of"]["Blue"]
    east, west = s["locations"]["East"], s["locations"]["West"]
    h = tenant.admin_headers

    # --- allocation: where each line's units are held (from the reservation), two suggested parcels
    alloc = await ok(await client.get(f"{API}/orders/{oid}/fulfillment", headers=h))
    by_line = {line["line_id"]: line for line in alloc["lines"]}
    assert by_line[red]["locations"] == [{"location_id": east, "quantity": 2}]
    assert by_line[blue]["locations"] == [{"location_id": west, "quantity": 3}]
    assert by_line[red]["unallocated"] == 2 and by_line[blue]["unallocated"] == 3
    assert {p["location_id"]: p["items"] for p in alloc["suggested_shipments"]} == {
        east: [{"line_id": red, "quantity": 2}], west: [{"line_id": blue, "quantity": 3}]}

    # --- split shipment per location: the location is inferred from the reservation
    first = await create(client, tenant, oid, {"carrier": "simulated", "service": "ground",
                                                "items": [{"line_id": red, "quantity": 2}]})
    assert first["status"] == "pending" and first["location_id"] == east and first["sequence"] == 1
    assert first["ship_to"]["city"] == "San Francisco"
    second = await create(client, tenant, oid, {"carrier": "simulated", "location_id": west})  # all held at West
    assert second["service"] == "ground" and second["items"][0]["quantity"] == 3
    alloc = await ok(await client.get(f"{API}/orders/{oid}/fulfillment", headers=h))
    assert all(line["unallocated"] == 0 for line in alloc["lines"]) and alloc["suggested_shipments"] == []
    assert [x["id"] for x in alloc["shipments"]] == [first["id"], second["id"]]

    # --- pick, pack, label: a real PDF with the addresses, the order number and the tracking number
    await packed(client, tenant, first["id"])
    labelled = await label(client, tenant, first["id"])
    assert labelled["status"] == "label_created" and labelled["label_attempts"] == 1
    tn = labelled["tracking_number"]
    assert tn.startswith("SIM") and labelled["tracking_url"].endswith(tn)
    pdf = await client.get(f"{API}/shipments/{first['id']}/label", headers=h)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and pdf_pages(pdf.content) == 1 and len(pdf.content) > 2000
    label_text = pdf_text(pdf.content)
    for expected in ("Ann Buyer", "1 Market St", "San Francisco", order["number"], tn, "East DC", s["skus"]["Red"]):
        assert expected in label_text, (expected, label_text)
    assert labelled["label_url"] == f"{API}/shipments/{first['id']}/label"
    assert decode_code128(pdf.content) == tn  # the barcode's bars really encode the tracking number

    # --- ship the first parcel: order partially shipped, stock sold at East only
    assert await level(client, tenant, s["variants"]["Red"], east) == (3, 2)
    shipped = await ship(client, tenant, first["id"])
    assert shipped["status"] == "shipped" and shipped["shipped_at"]
    assert await level(client, tenant, s["variants"]["Red"], east) == (1, 0)
    assert await level(client, tenant, s["variants"]["Blue"], west) == (5, 3)  # still held for parcel 2
    assert (await ledger(db, tenant.id, s["variants"]["Red"]))[-1] == ("sale", east, -2, -2)
    o = await ok(await client.get(f"{API}/orders/{oid}", headers=h))
    assert o["status"] == "partially_shipped" and o["fulfillment_status"] == "partially_fulfilled"
    reservation = await ok(await client.get(f"{API}/inventory/reservations/{o['reservation_id']}", headers=h))
    assert reservation["status"] == "active"  # parcel 2's units are still held

    # --- the second parcel: the carrier's first scan ships it (picked up), then it travels
    await packed(client, tenant, second["id"])
    await label(client, tenant, second["id"])
    moved = await track(client, tenant, second["id"], "in_transit", location="Oakland, CA", event_id="scan-1")
    assert moved["status"] == "in_transit"
    assert [e["to_status"] for e in moved["history"] if e["kind"] == "status"][-2:] == ["shipped", "in_transit"]
    again = await track(client, tenant, second["id"], "in_transit", status=200, event_id="scan-1")  # repeated push
    assert len(again["history"]) == len(moved["history"])
    assert await level(client, tenant, s["variants"]["Blue"], west) == (2, 0)
    assert (await ledger(db, tenant.id, s["variants"]["Blue"]))[-1] == ("sale", west, -3, -3)
    o = await ok(await client.get(f"{API}/orders/{oid}", headers=h))
    assert o["status"] == "shipped" and o["fulfillment_status"] == "fulfilled"
    reservation = await ok(await client.get(f"{API}/inventory/reservations/{o['reservation_id']}", headers=h))
    assert reservation["status"] == "committed"

    # --- tracking to delivery: the order is delivered when both parcels are
    for st in ("in_transit", "out_for_delivery", "delivered"):
        await track(client, tenant, first["id"], st)
    assert (await ok(await client.get(f"{API}/orders/{oid}", headers=h)))["status"] == "shipped"
    await track(client, tenant, second["id"], "out_for_delivery", location="San Francisco, CA")
    done = await track(client, tenant, second["id"], "delivered", description="Left at front door")
    assert done["status"] == "delivered" and done["delivered_at"] and done["allowed_transitions"] == []
    assert (await ok(await client.get(f"{API}/orders/{oid}", headers=h)))["status"] == "delivered"

    # --- the outbox tells the story in order
    evs = await events(worker_db, tenant.id)
    mine = [e for e in evs if e.data.get("order_id") == oid]
    kinds = [e.type for e in mine]
    expected = ["shipment.created", "shipment.created", "shipment.picked", "shipment.packed",
                "shipment.label_created", "order.processing", "order.partially_shipped", "shipment.shipped",
                "shipment.picked", "shipment.packed", "shipment.label_created", "order.shipped",
                "shipment.shipped", "shipment.in_transit", "shipment.in_transit", "shipment.out_for_delivery",
                "shipment.delivered", "shipment.out_for_delivery", "shipment.delivered", "order.delivered"]
    assert [k for k in kinds if k.startswith(("shipment.", "order.processing", "order.partially", "order.shipped",
                                              "order.delivered"))] == expected
    order_shipped = next(e for e in mine if e.type == "order.shipped")
    assert order_shipped.data["shipment_id"] == second["id"] and order_shipped.data["carrier"] == "simulated"
    assert order_shipped.data["tracking_number"] == done["tracking_number"]
    assert order_shipped.data["tracking_url"] == done["tracking_url"]
    partial = next(e for e in mine if e.type == "order.partially_shipped")
    assert partial.data["tracking_number"] == tn

    # --- the customer sees both parcels with tracking, and gets shipment events on their socket
    ch = order["customer"]["headers"]
    theirs = await ok(await client.get(f"{API}/orders/mine/{oid}/shipments", headers=ch))
    assert [p["tracking_number"] for p in theirs["items"]] == [tn, done["tracking_number"]]
    last = theirs["items"][1]
    assert [u["status"] for u in last["tracking"]] == ["shipped", "in_transit", "out_for_delivery", "delivered"]
    assert last["tracking"][1]["location"] == "Oakland, CA" and last["tracking"][-1]["message"] == "Left at front door"
    assert "label_attempts" not in last
    envelope = {"id": str(uuid.uuid4()), "type": "shipment.delivered", "tenant_id": str(tenant.id),
                "occurred_at": None, "aggregate": {"type": "shipment", "id": second["id"]},
                "data": next(e for e in mine if e.type == "shipment.delivered").data}
    delivery = rt.delivery_for_event(envelope)
    assert delivery is not None and str(delivery.customer_id) == order["customer"]["user_id"]
    assert "orders" in delivery.rooms
    # one "shipped" email per parcel (order.partially_shipped, then order.shipped), with its tracking
    await Relay(worker_db, db).drain()
    async with db.tenant_transaction(tenant.id) as session:
        mails = (await session.execute(text(
            "SELECT recipient, template FROM notification_log WHERE template = 'order_shipped' ORDER BY created_at"
        ))).all()
    assert [(m.recipient, m.template) for m in mails] == [(order["customer"]["email"], "order_shipped")] * 2
    stranger = await customer_headers(client, tenant)
    assert (await client.get(f"{API}/orders/mine/{oid}/shipments", headers=stranger["headers"])).status_code == 404
