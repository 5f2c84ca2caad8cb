"""Refund rules through HTTP and the service: idempotent per key, never more than the return is
worth nor than the payments captured — also under concurrent requests."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from returns_helpers import API, customer_order, line_of, make_shop, ok

import mercato.payments as payments
from mercato.returns import service
from mercato.returns.errors import RefundKeyReused
from mercato.returns.schemas import RefundRequest


async def _received_return(client, tenant, shop, lines) -> tuple[dict, dict]:  # type: ignore[no-untyped-def, type-arg]
    bought = await customer_order(client, tenant, shop, lines)
    order, staff = bought["order"], tenant.admin_headers
    created = await ok(await client.post(f"{API}/returns", headers=staff, json={
        "order_id": order["id"], "lines": [{"order_line_id": line_of(order, shop, size)["id"], "quantity": qty,
                                            "reason": "defective"} for size, qty in lines]}), 201)
    await ok(await client.post(f"{API}/returns/{created['id']}/approve", headers=staff))
    received = await ok(await client.post(f"{API}/returns/{created['id']}/receive", headers=staff, json={
        "lines": [{"return_line_id": x["id"], "condition": "damaged"} for x in created["lines"]]}))
    return order, received


async def _payment(db, tenant_id, order_id):  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        [p] = await payments.get_payments_for_order(s, uuid.UUID(order_id))
    return p


async def test_the_same_key_refunds_once(client, tenant, db) -> None:
    shop = await make_shop(client, tenant)
    order, r = await _received_return(client, tenant, shop, [("S", 1)])
    headers = {**tenant.admin_headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    missing = await client.post(f"{API}/returns/{r['id']}/refunds", headers=tenant.admin_headers, json={"amount": 100})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "Idempotency-Key"
    first = await ok(await client.post(f"{API}/returns/{r['id']}/refunds", headers=headers, json={"amount": 700}), 201)
    second = await client.post(f"{API}/returns/{r['id']}/refunds", headers=headers, json={"amount": 700})
    assert second.status_code == 201 and second.json()["refund"]["id"] == first["refund"]["id"]
    p = await _payment(db, tenant.id, order["id"])
    assert (p.amount_refunded, len(p.refunds)) == (700, 1)

    # The service itself (any caller, not only HTTP with its Idempotency-Key store) replays the key.
    key = f"svc-{uuid.uuid4()}"
    async with db.tenant_transaction(tenant.id) as s:
        done = await service.refund(s, uuid.UUID(r["id"]), RefundRequest(amount=300), idempotency_key=key)
    async with db.tenant_transaction(tenant.id) as s:
        again = await service.refund(s, uuid.UUID(r["id"]), RefundRequest(amount=300), idempotency_key=key)
        assert again.replayed and again.refund.id == done.refund.id
        with pytest.raises(RefundKeyReused):
            await service.refund(s, uuid.UUID(r["id"]), RefundRequest(amount=301), idempotency_key=key)
    p = await _payment(db, tenant.id, order["id"])
    assert (p.amount_refunded, len(p.refunds)) == (1000, 2)

    # More than the return is worth: a clear problem naming what is left.
    left = r["items_value"] - 1000
    over = await client.post(f"{API}/returns/{r['id']}/refunds", json={"amount": left + 1},
                             headers={**tenant.admin_headers, "Idempotency-Key": f"k-{uuid.uuid4()}"})
    assert over.status_code == 409 and over.json()["code"] == "refund_amount_invalid"
    assert over.json()["refundable"] == left and over.json()["errors"][0]["field"] == "amount"

    # The shop keeps the rest (a restocking fee): staff close the return, on record.
    closed = await ok(await client.post(f"{API}/returns/{r['id']}/close", headers=tenant.admin_headers,
                                        json={"note": "restocking fee"}))
    assert (closed["status"], closed["refundable"], closed["decision_note"]) == ("completed", left, "restocking fee")
    late = await client.post(f"{API}/returns/{r['id']}/refunds", json={"amount": 1},
                             headers={**tenant.admin_headers, "Idempotency-Key": f"k-{uuid.uuid4()}"})
    assert late.status_code == 409 and late.json()["code"] == "return_not_refundable"


@pytest.mark.slow
async def test_concurrent_refunds_never_exceed_the_return_or_the_capture(client, tenant, db) -> None:
    shop = await make_shop(client, tenant)
    order, r = await _received_return(client, tenant, shop, [("S", 2), ("M", 1)])
    amount = r["items_value"] // 2 + 1  # two of these would be too much

    async def one(i: int):  # type: ignore[no-untyped-def]
        return await client.post(f"{API}/returns/{r['id']}/refunds", json={"amount": amount},
                                 headers={**tenant.admin_headers, "Idempotency-Key": f"c{i}-{uuid.uuid4()}"})

    results = await asyncio.gather(*(one(i) for i in range(6)))
    codes = sorted(x.status_code for x in results)
    assert codes == [201] + [409] * 5, [x.text for x in results]
    assert {x.json()["code"] for x in results if x.status_code == 409} == {"refund_amount_invalid"}
    p = await _payment(db, tenant.id, order["id"])
    assert p.amount_refunded == amount <= p.amount_captured
    now = await ok(await client.get(f"{API}/returns/{r['id']}", headers=tenant.admin_headers))
    assert (now["items_refunded"], now["refundable"]) == (amount, r["items_value"] - amount)

    # The rest with the shipping, twice at once with one key: one refund, the order fully refunded.
    key = f"rest-{uuid.uuid4()}"
    rest = await asyncio.gather(*(client.post(f"{API}/returns/{r['id']}/refunds", json={"include_shipping": True},
                                              headers={**tenant.admin_headers, "Idempotency-Key": key})
                                  for _ in range(2)))
    assert 201 in [x.status_code for x in rest] and all(x.status_code in (201, 409) for x in rest)
    p = await _payment(db, tenant.id, order["id"])
    assert p.amount_refunded == p.amount_captured == order["total"] and len(p.refunds) == 2
    after = await ok(await client.get(f"{API}/orders/{order['id']}", headers=tenant.admin_headers))
    assert after["payment_status"] == "refunded"
