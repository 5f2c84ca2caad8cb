"""The payments HTTP API: reads, capture/cancel/mark-paid, refunds (limit, idempotency), isolation."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import mercato.payments as payments
from mercato.payments.errors import RefundExceedsCaptured

API = "/api/v1"


async def test_get_and_list_by_order(client, tenant, pay) -> None:
    order = uuid.uuid4()
    p = (await pay(tenant.id, order_id=order, amount=1234)).payment
    r = await client.get(f"{API}/payments/{p.id}", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["amount"], body["amount_captured"], body["refunds"]) == ("captured", 1234, 1234, [])
    assert "client_secret" not in body and "gateway_response" not in body and "idempotency_key" not in body
    r = await client.get(f"{API}/payments", params={"order_id": str(order)}, headers=tenant.admin_headers)
    assert [i["id"] for i in r.json()["items"]] == [str(p.id)]
    r = await client.get(f"{API}/payments", params={"status": "failed", "order_id": str(order)},
                         headers=tenant.admin_headers)
    assert r.json()["items"] == []


async def test_permissions(client, tenant, pay) -> None:
    p = (await pay(tenant.id)).payment
    assert (await client.get(f"{API}/payments/{p.id}")).status_code in (401, 403)
    r = await client.get(f"{API}/payments/{p.id}", headers=tenant.storefront_headers)
    assert r.status_code == 403
    r = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 1}, headers=tenant.storefront_headers)
    assert r.status_code == 403


async def test_cross_tenant_payment_is_invisible(client, make_tenant, pay) -> None:
    a, b = await make_tenant(), await make_tenant()
    p = (await pay(a.id)).payment
    for method, path in (("GET", f"/payments/{p.id}"), ("POST", f"/payments/{p.id}/cancel"),
                         ("POST", f"/payments/{p.id}/capture"), ("POST", f"/payments/{p.id}/mark-paid")):
        r = await client.request(method, API + path, headers=b.admin_headers)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["code"] == "payment_not_found"
    r = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 1}, headers=b.admin_headers)
    assert r.status_code == 404
    r = await client.get(f"{API}/payments", params={"order_id": str(p.order_id)}, headers=b.admin_headers)
    assert r.json()["items"] == []
    r = await client.get(f"{API}/payments/{p.id}", headers=a.admin_headers)
    assert r.status_code == 200


async def test_partial_then_full_refund_and_limit(client, tenant, pay, event_types) -> None:
    p = (await pay(tenant.id, amount=1000)).payment
    url = f"{API}/payments/{p.id}/refunds"
    r = await client.post(url, json={"amount": 300, "reason": "damaged"}, headers=tenant.admin_headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["refund"]["status"], body["refund"]["amount"], body["refund"]["reason"]) == ("succeeded", 300,
                                                                                             "damaged")
    assert (body["payment"]["status"], body["payment"]["amount_refunded"]) == ("partially_refunded", 300)

    r = await client.post(url, json={"amount": 701}, headers=tenant.admin_headers)
    assert r.status_code == 409
    assert r.json()["code"] == "refund_exceeds_captured" and r.json()["refundable"] == 700

    r = await client.post(url, json={"amount": 700}, headers=tenant.admin_headers)
    assert r.status_code == 201
    assert (r.json()["payment"]["status"], r.json()["payment"]["amount_refunded"]) == ("refunded", 1000)
    r = await client.post(url, json={"amount": 1}, headers=tenant.admin_headers)
    assert r.status_code == 409
    got = (await client.get(f"{API}/payments/{p.id}", headers=tenant.admin_headers)).json()
    assert [x["amount"] for x in got["refunds"]] == [300, 700]
    assert (await event_types(tenant.id, p.id))[-4:] == ["refund.created", "refund.succeeded", "refund.created",
                                                         "refund.succeeded"]


async def test_refund_validation(client, tenant, pay) -> None:
    p = (await pay(tenant.id, method="manual")).payment
    r = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 0}, headers=tenant.admin_headers)
    assert r.status_code == 422
    r = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 10}, headers=tenant.admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "refund_exceeds_captured"  # nothing captured yet


async def test_refund_same_idempotency_key_is_one_refund(client, tenant, pay) -> None:
    p = (await pay(tenant.id, amount=1000)).payment
    headers = {**tenant.admin_headers, "Idempotency-Key": f"refund-{uuid.uuid4()}"}
    first = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 400}, headers=headers)
    again = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 400}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["refund"]["id"] == again.json()["refund"]["id"]
    got = (await client.get(f"{API}/payments/{p.id}", headers=tenant.admin_headers)).json()
    assert (len(got["refunds"]), got["amount_refunded"]) == (1, 400)


async def test_service_refund_idempotent_under_concurrency(tenant, pay, db, event_types) -> None:
    p = (await pay(tenant.id, amount=1000)).payment

    async def refund_once() -> payments.RefundResult:
        async with db.tenant_transaction(tenant.id) as s:
            return await payments.refund(s, p.id, 600, "dup", idempotency_key="same-key")

    results = await asyncio.gather(*(refund_once() for _ in range(5)))
    assert len({r.refund.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    async with db.tenant_transaction(tenant.id) as s:
        got = await payments.get_payment(s, p.id)
    assert (got.amount_refunded, got.status, len(got.refunds)) == (600, "partially_refunded", 1)
    assert (await event_types(tenant.id, p.id)).count("refund.succeeded") == 1


async def test_concurrent_refunds_never_exceed_captured(tenant, pay, db) -> None:
    p = (await pay(tenant.id, amount=1000)).payment

    async def refund_once(i: int) -> bool:
        try:
            async with db.tenant_transaction(tenant.id) as s:
                await payments.refund(s, p.id, 300, idempotency_key=f"k{i}")
            return True
        except RefundExceedsCaptured:
            return False

    outcomes = await asyncio.gather(*(refund_once(i) for i in range(8)))
    assert sum(outcomes) == 3
    async with db.tenant_transaction(tenant.id) as s:
        assert (await payments.get_payment(s, p.id)).amount_refunded == 900


async def test_capture_and_cancel_over_http(client, tenant, pay) -> None:
    authorized = (await pay(tenant.id, capture=False, amount=800)).payment
    r = await client.post(f"{API}/payments/{authorized.id}/capture", json={"amount": 900},
                          headers=tenant.admin_headers)
    assert r.status_code == 422
    r = await client.post(f"{API}/payments/{authorized.id}/capture", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["amount_captured"]) == ("captured", 800)
    r = await client.post(f"{API}/payments/{authorized.id}/cancel", headers=tenant.admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"

    other = (await pay(tenant.id, capture=False)).payment
    r = await client.post(f"{API}/payments/{other.id}/cancel", headers=tenant.admin_headers)
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    r = await client.post(f"{API}/payments/{other.id}/capture", headers=tenant.admin_headers)
    assert r.status_code == 409


async def test_mark_paid_manual_over_http(client, tenant, pay) -> None:
    cod = (await pay(tenant.id, method="manual", amount=3000, currency="JPY")).payment
    r = await client.post(f"{API}/payments/{cod.id}/mark-paid", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["amount_captured"], r.json()["currency"]) == ("captured", 3000, "JPY")
    card = (await pay(tenant.id)).payment
    r = await client.post(f"{API}/payments/{card.id}/mark-paid", headers=tenant.admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "payment_not_capturable"


@pytest.mark.parametrize("path", ["capture", "cancel", "mark-paid"])
async def test_unknown_payment_404(client, tenant, path: str) -> None:
    r = await client.post(f"{API}/payments/{uuid.uuid4()}/{path}", headers=tenant.admin_headers)
    assert r.status_code == 404
