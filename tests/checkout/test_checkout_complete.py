"""``complete``: order placement + payment in one transaction, idempotent, never overselling."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from checkout_helpers import API, DECLINED_CARD, GOOD_CARD, complete, ready_checkout, shop_setup
from commerce_helpers import customer_headers, make_product, outbox
from sqlalchemy import text

from mercato.payments.config import get_payment_settings
from mercato.platform.breaker import breaker_for, reset_all


async def _scalar(db, tenant_id, sql: str, **params):  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return (await s.execute(text(sql), params)).scalar_one()


async def _stock(db, tenant_id, variant_id):  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        row = (await s.execute(text("SELECT sum(on_hand), sum(reserved) FROM inventory_levels WHERE variant_id = :v"),
                               {"v": variant_id})).one()
    return int(row[0]), int(row[1])


async def test_guest_pays_with_the_test_card_and_order_is_paid(client, db, worker_db, tenant) -> None:  # type: ignore[no-untyped-def]
    setup = await shop_setup(client, tenant)
    p = await make_product(db, tenant.id, price_cents=2000, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 2)], method_id=setup["method_id"],
                              payment_method="test")
    r = await complete(client, co, card=GOOD_CARD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert body["order"]["status"] == "paid" and body["order"]["payment_status"] == "paid"
    assert body["order"]["total"] == 4840 and body["order"]["number"].startswith("ORD-")
    assert body["payment"]["status"] == "captured"
    order_id = body["order"]["id"]
    assert await _scalar(db, tenant.id, "SELECT checkout_id FROM orders WHERE id = :o", o=order_id) == uuid.UUID(co["id"])
    assert await _scalar(db, tenant.id, "SELECT status FROM carts WHERE id = :c", c=co["cart_id"]) == "completed"
    on_hand, reserved = await _stock(db, tenant.id, p["variant_id"])
    assert on_hand - reserved == 3
    types = [e["type"] for e in await outbox(worker_db, tenant.id)]
    assert "checkout.started" in types and "checkout.completed" in types and "order.created" in types
    r = await client.get(f"{API}/checkouts/{co['id']}", headers=co["headers"])
    assert r.status_code == 200 and r.json()["status"] == "completed" and r.json()["order"]["id"] == order_id
    assert r.json()["totals"]["total"] == 4840
    # the metrics endpoint counts it
    metrics = (await client.get("/metrics")).text
    assert "mercato_checkouts_completed_total" in metrics


async def test_same_key_twice_is_one_order(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    key = uuid.uuid4().hex
    first = await complete(client, co, key=key)
    second = await complete(client, co, key=key)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["order"]["id"] == second.json()["order"]["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    third = await complete(client, co, key=uuid.uuid4().hex)  # a new key on a completed checkout: same order
    assert third.status_code == 200 and third.json()["order"]["id"] == first.json()["order"]["id"]
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders WHERE checkout_id = :c", c=co["id"]) == 1
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM payments") == 1


async def test_same_key_20_times_concurrently_is_one_order(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    key = uuid.uuid4().hex
    rs = await asyncio.gather(*(complete(client, co, key=key) for _ in range(20)))
    codes = [r.status_code for r in rs]
    assert set(codes) <= {200, 409}, [r.text for r in rs if r.status_code not in (200, 409)]
    ok = [r.json()["order"]["id"] for r in rs if r.status_code == 200]
    assert ok and len(set(ok)) == 1
    assert all(r.json()["code"] == "idempotency_request_in_progress" for r in rs if r.status_code == 409)
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders") == 1
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM payments") == 1


async def test_concurrent_completes_with_different_keys_are_one_order(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    rs = await asyncio.gather(*(complete(client, co) for _ in range(10)))
    assert {r.status_code for r in rs} == {200}, [r.text for r in rs]
    assert len({r.json()["order"]["id"] for r in rs}) == 1
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders") == 1
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM payments") == 1


async def test_declined_card_keeps_the_order_and_a_retry_pays_it(client, db, worker_db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 2)], payment_method="test")
    r = await complete(client, co, card=DECLINED_CARD)
    assert r.status_code == 402, r.text
    problem = r.json()
    assert problem["code"] == "payment_declined" and problem["failure_code"] == "card_declined"
    order_id = problem["order_id"]
    assert await _scalar(db, tenant.id, "SELECT status FROM orders WHERE id = :o", o=order_id) == "pending"
    assert await _scalar(db, tenant.id, "SELECT status FROM payments WHERE order_id = :o", o=order_id) == "failed"
    assert (await _stock(db, tenant.id, p["variant_id"]))[1] == 0  # a failed payment holds no stock
    r = await client.get(f"{API}/checkouts/{co['id']}", headers=co["headers"])
    assert r.json()["status"] == "payment_pending" and r.json()["order"]["id"] == order_id
    r = await complete(client, co, card=GOOD_CARD)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["id"] == order_id and r.json()["order"]["status"] == "paid"
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders") == 1
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM payments WHERE order_id = :o", o=order_id) == 2
    assert (await _stock(db, tenant.id, p["variant_id"]))[1] == 2  # paid: held again until it ships
    assert "checkout.payment_failed" in [e["type"] for e in await outbox(worker_db, tenant.id)]


async def test_manual_payment_is_cash_on_delivery(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="manual")
    r = await complete(client, co, card=None)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["status"] == "processing" and r.json()["order"]["payment_status"] == "unpaid"
    assert r.json()["payment"]["status"] == "pending"


async def test_open_circuit_is_503_and_nothing_is_recorded(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    cfg = get_payment_settings()
    breaker = breaker_for("test", failure_threshold=cfg.payment_breaker_failure_threshold,
                          reset_timeout=cfg.payment_breaker_reset_seconds)
    try:
        for _ in range(cfg.payment_breaker_failure_threshold):
            breaker.record_failure()
        r = await complete(client, co)
        assert r.status_code == 503 and r.json()["code"] == "payment_gateway_unavailable", r.text
        assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders") == 0
        assert await _scalar(db, tenant.id, "SELECT count(*) FROM payments") == 0
        assert (await _stock(db, tenant.id, p["variant_id"]))[1] == 1  # the hold is intact
        assert await _scalar(db, tenant.id, "SELECT status FROM carts WHERE id = :c", c=co["cart_id"]) == "active"
    finally:
        reset_all()
    r = await complete(client, co)
    assert r.status_code == 200, r.text
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders") == 1


async def test_exhausted_coupon_at_completion_writes_nothing(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=10, price_cents=1000)
    code = f"ONCE{uuid.uuid4().hex[:6]}"
    r = await client.post(f"{API}/promotions", headers=tenant.admin_headers, json={
        "code": code, "name": "once", "kind": "percentage_off", "percent": "10", "usage_limit": 1})
    assert r.status_code == 201, r.text
    a = await ready_checkout(client, tenant, [(p["variant_id"], 1)], coupon=code, payment_method="test",
                             email="a@example.com")
    b = await ready_checkout(client, tenant, [(p["variant_id"], 1)], coupon=code, payment_method="test",
                             email="b@example.com")
    r = await complete(client, a)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["total"] == 900  # 10% off; no tax rate or shipping configured here
    r = await complete(client, b)
    assert r.status_code == 409 and r.json()["code"] == "coupon_exhausted", r.text
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders") == 1
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM payments") == 1


async def test_customer_checkout_and_per_customer_coupon_key(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=10)
    cust = await customer_headers(client, tenant)
    h = cust["headers"]
    cart_id = (await client.post(f"{API}/carts", headers=h)).json()["id"]
    await client.post(f"{API}/carts/{cart_id}/lines", headers=h, json={"variant_id": str(p["variant_id"])})
    r = await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart_id, "email": cust["email"],
                                                             "purchase_order_number": "PO-77"})
    cid = r.json()["id"]
    from checkout_helpers import ADDRESS

    await client.put(f"{API}/checkouts/{cid}/shipping-address", headers=h, json=ADDRESS)
    await client.put(f"{API}/checkouts/{cid}/payment-method", headers=h, json={"method": "test"})
    r = await complete(client, {"id": cid, "headers": h})
    assert r.status_code == 200, r.text
    order_id = r.json()["order"]["id"]
    async with db.tenant_transaction(tenant.id) as s:
        row = (await s.execute(text("SELECT customer_id, purchase_order_number FROM orders WHERE id = :o"),
                               {"o": order_id})).one()
    assert str(row[0]) == cust["user_id"] and row[1] == "PO-77"


@pytest.mark.parametrize("n_checkouts, stock", [(100, 10)])
async def test_race_100_checkouts_for_10_units(client, db, tenant, n_checkouts, stock) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=stock)
    cos = []
    for _ in range(n_checkouts):
        cos.append(await ready_checkout(client, tenant, [(p["variant_id"], 1)]))

    async def buy(co):  # type: ignore[no-untyped-def]
        r = await client.put(f"{API}/checkouts/{co['id']}/payment-method", headers=co["headers"],
                             json={"method": "test"})
        if r.status_code != 200:
            return r
        return await complete(client, co)

    rs = await asyncio.gather(*(buy(co) for co in cos))
    ok = [r for r in rs if r.status_code == 200]
    short = [r for r in rs if r.status_code == 409 and r.json()["code"] == "insufficient_stock"]
    assert len(ok) == stock and len(short) == n_checkouts - stock, sorted({(r.status_code, r.text[:200]) for r in rs})
    assert all(r.json()["lines"][0]["variant_id"] == str(p["variant_id"]) for r in short)
    assert await _scalar(db, tenant.id, "SELECT count(*) FROM orders") == stock
    async with db.tenant_transaction(tenant.id) as s:
        levels = (await s.execute(text("SELECT on_hand, reserved FROM inventory_levels WHERE variant_id = :v"),
                                  {"v": p["variant_id"]})).all()
    assert all(on_hand >= 0 and 0 <= reserved <= on_hand for on_hand, reserved in levels)
    assert sum(on_hand - reserved for on_hand, reserved in levels) == 0
