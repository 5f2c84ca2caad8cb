"""A return's whole life through HTTP: request with reasons, approval with RMA and instructions
(the customer is emailed), receipt with restock of resellable units only, partial then full
refund through the test gateway with the order's payment status following; rejection; the window."""

from __future__ import annotations

import uuid

from returns_helpers import API, customer_order, ledger, line_of, make_shop, ok, on_hand, outbox
from sqlalchemy import text

from mercato.platform.events import Relay


async def _types(worker_db, tenant_id) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["type"] for e in await outbox(worker_db, tenant_id)]


async def test_request_approve_receive_refund_partially_then_fully(client, tenant, db, worker_db) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 2), ("M", 1)])
    order, ch, staff = bought["order"], bought["headers"], tenant.admin_headers
    small, medium = line_of(order, shop, "S"), line_of(order, shop, "M")
    assert order["status"] == "delivered" and order["payment_status"] == "paid"

    # --- the customer asks to return everything, with a reason per line
    created = await ok(await client.post(f"{API}/returns/mine", headers=ch, json={
        "order_id": order["id"], "note": "not for me",
        "lines": [{"order_line_id": small["id"], "quantity": 2, "reason": "size_or_fit", "note": "too tight"},
                  {"order_line_id": medium["id"], "quantity": 1, "reason": "damaged"}]}), 201)
    rid = created["id"]
    assert (created["status"], created["rma_number"], created["requested_by"]) == ("requested", None, "customer")
    assert {(x["sku"], x["quantity"], x["reason"]) for x in created["lines"]} == {
        (small["sku"], 2, "size_or_fit"), (medium["sku"], 1, "damaged")}
    assert created["delivered_at"] is not None
    mine = await ok(await client.get(f"{API}/returns/mine", headers=ch))
    assert [x["id"] for x in mine["items"]] == [rid]

    # --- staff approve: RMA number and instructions; the customer is emailed them
    approved = await ok(await client.post(f"{API}/returns/{rid}/approve", headers=staff,
                                          json={"instructions": "Ship to Returns, 9 Dock Rd; write {rma} on it."}))
    rma = approved["rma_number"]
    assert approved["status"] == "approved" and rma == f"RMA-{order['number'].removeprefix('ORD-')}-1"
    assert approved["instructions"] == f"Ship to Returns, 9 Dock Rd; write {rma} on it."
    [event] = [e for e in await outbox(worker_db, tenant.id) if e["type"] == "return.approved"]
    assert {k: event["data"][k] for k in ("order_id", "return_id", "rma_number", "instructions")} == {
        "order_id": order["id"], "return_id": rid, "rma_number": rma, "instructions": approved["instructions"]}
    relay = Relay(worker_db, db)
    await relay.drain()
    async with db.tenant_transaction(tenant.id) as s:
        sent = (await s.execute(text("SELECT recipient, subject FROM notification_log WHERE template = "
                                     "'return_approved'"))).mappings().all()
    assert [(r["recipient"], rma in (r["subject"] or "")) for r in sent] == [(bought["customer"]["email"], True)]

    # --- received: S resellable → restocked at the returns bay (ledger: return); M damaged → no restock
    bay_before = await on_hand(db, tenant.id, shop["variants"]["M"], shop["bay"])
    received = await ok(await client.post(f"{API}/returns/{rid}/receive", headers=staff, json={"lines": [
        {"return_line_id": next(x["id"] for x in created["lines"] if x["sku"] == small["sku"]),
         "condition": "resellable", "location_id": shop["bay"]},
        {"return_line_id": next(x["id"] for x in created["lines"] if x["sku"] == medium["sku"]),
         "condition": "damaged"}]}))
    assert received["status"] == "received"
    assert received["items_value"] == small["total"] + medium["total"] == received["refundable"]
    assert await on_hand(db, tenant.id, shop["variants"]["S"], shop["bay"]) == 2
    assert await on_hand(db, tenant.id, shop["variants"]["M"], shop["bay"]) == bay_before == 0
    [entry] = [e for e in await ledger(db, tenant.id, shop["variants"]["S"]) if e["reason"] == "return"]
    assert (str(entry["location_id"]), entry["delta_on_hand"], entry["reference"]) == (shop["bay"], 2, rma)
    assert not [e for e in await ledger(db, tenant.id, shop["variants"]["M"]) if e["reason"] == "return"]
    order_now = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert order_now["fulfillment_status"] == "returned"
    assert {x["sku"]: x["quantity_returned"] for x in order_now["lines"]} == {small["sku"]: 2, medium["sku"]: 1}

    # --- a partial refund: the order is partially refunded
    part = await ok(await client.post(f"{API}/returns/{rid}/refunds", json={"amount": 1000, "reason": "first part"},
                                      headers={**staff, "Idempotency-Key": f"r1-{uuid.uuid4()}"}), 201)
    assert part["refund"]["amount"] == 1000 and part["refund"]["payments"][0]["status"] == "succeeded"
    assert part["return"]["status"] == "received" and part["return"]["refundable"] == received["items_value"] - 1000
    order_now = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (order_now["payment_status"], order_now["amount_refunded"]) == ("partially_refunded", 1000)

    # --- the rest, with the shipping: the order is refunded, the return complete
    rest = await ok(await client.post(f"{API}/returns/{rid}/refunds", json={"include_shipping": True},
                                      headers={**staff, "Idempotency-Key": f"r2-{uuid.uuid4()}"}), 201)
    assert rest["refund"]["items_amount"] == received["items_value"] - 1000
    assert rest["refund"]["shipping_amount"] == order["shipping_total"] - order["shipping_discount"]
    assert rest["return"]["status"] == "completed" and rest["return"]["refundable"] == 0
    order_now = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (order_now["payment_status"], order_now["amount_refunded"]) == ("refunded", order["total"])
    again = await client.post(f"{API}/returns/{rid}/refunds", json={"amount": 1},
                              headers={**staff, "Idempotency-Key": f"r3-{uuid.uuid4()}"})
    assert again.status_code == 409 and again.json()["code"] == "return_not_refundable"

    # --- the refund events flow through orders' handlers without changing anything twice
    await relay.drain()
    order_after = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (order_after["payment_status"], order_after["amount_refunded"]) == ("refunded", order["total"])
    assert await _types(worker_db, tenant.id) == ["return.requested", "return.approved", "return.received",
                                                  "return.refunded", "return.refunded", "return.completed"]
    refund_events = [e["type"] for e in await outbox(worker_db, tenant.id, "refund.")]
    assert refund_events == ["refund.created", "refund.succeeded"] * 2
    mine = await ok(await client.get(f"{API}/returns/mine/{rid}", headers=ch))
    assert mine["status"] == "completed" and len(mine["refunds"]) == 2
