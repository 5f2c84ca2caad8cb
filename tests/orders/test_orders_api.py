"""The orders HTTP API as storefronts and merchants use it: customers' own orders, guest lookup,
staff lists (filters, cursor pagination, a fixed number of queries), details, status changes,
cancellation with refund, notes, address changes, cash on delivery, isolation between shops."""

from __future__ import annotations

import uuid

from commerce_helpers import customer_headers
from orders_helpers import API, get, level, make_draft, pay, place, record
from sqlalchemy import event, text

import mercato.orders as orders


async def _paid_order(db, tenant, **kw):  # type: ignore[no-untyped-def]
    draft = await make_draft(db, tenant.id, **kw)
    placed = await place(db, tenant.id, draft)
    result = await pay(db, tenant.id, placed)
    await record(db, tenant.id, placed.id, outcome="captured", payment_id=result.payment.id)
    return draft, placed


# --------------------------------------------------------------------------- customers


async def test_customers_see_only_their_own_orders_newest_first(client, db, tenant) -> None:
    alice = await customer_headers(client, tenant)
    bob = await customer_headers(client, tenant)
    alice_id = uuid.UUID(alice["user_id"])
    placed = [await place(db, tenant.id, await make_draft(db, tenant.id, customer_id=alice_id, reserve=False))
              for _ in range(3)]
    await place(db, tenant.id, await make_draft(db, tenant.id, customer_id=uuid.UUID(bob["user_id"]), reserve=False))

    r = await client.get(f"{API}/orders/mine", params={"limit": 2}, headers=alice["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [o["id"] for o in body["items"]] == [str(placed[2].id), str(placed[1].id)]
    assert body["has_more"] and body["items"][0]["item_count"] == 2
    r = await client.get(f"{API}/orders/mine", params={"limit": 2, "cursor": body["next_cursor"]},
                         headers=alice["headers"])
    assert [o["id"] for o in r.json()["items"]] == [str(placed[0].id)] and not r.json()["has_more"]

    r = await client.get(f"{API}/orders/mine/{placed[0].id}", headers=alice["headers"])
    assert r.status_code == 200
    detail = r.json()
    assert detail["number"] == placed[0].number and detail["lines"][0]["sku"] == "MUG-BLUE"
    assert detail["history"][0]["to_status"] == "pending" and "actor_id" not in detail["history"][0]
    assert detail["can_cancel"] is True and detail["payments"] == []

    for who, order_id in ((bob, placed[0].id), (alice, uuid.uuid4())):
        r = await client.get(f"{API}/orders/mine/{order_id}", headers=who["headers"])
        assert r.status_code == 404 and r.json()["code"] == "order_not_found"
    r = await client.post(f"{API}/orders/mine/{placed[0].id}/cancel", headers=bob["headers"])
    assert r.status_code == 404
    r = await client.get(f"{API}/orders/mine", headers=tenant.storefront_headers)
    assert r.status_code in (401, 403)


async def test_customer_cancels_a_paid_order_stock_back_and_refunded(client, db, worker_db, tenant) -> None:
    alice = await customer_headers(client, tenant)
    draft, placed = await _paid_order(db, tenant, customer_id=uuid.UUID(alice["user_id"]), quantity=2, stock=6)
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (6, 2)
    r = await client.post(f"{API}/orders/mine/{placed.id}/cancel", json={"reason": "ordered twice"},
                          headers=alice["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["payment_status"], body["can_cancel"]) == ("cancelled", "refunded", False)
    assert body["payments"][0]["amount_refunded"] == placed.total
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (6, 0)
    r = await client.post(f"{API}/orders/mine/{placed.id}/cancel", headers=alice["headers"])
    assert r.status_code == 409 and r.json()["code"] == "self_cancel_not_allowed"


async def test_customer_cannot_cancel_after_the_window_or_once_processing(client, db, tenant) -> None:
    alice = await customer_headers(client, tenant)
    customer_id = uuid.UUID(alice["user_id"])
    _, processing = await _paid_order(db, tenant, customer_id=customer_id)
    async with db.tenant_transaction(tenant.id) as s:
        await orders.transition(s, processing.id, "processing")
    r = await client.post(f"{API}/orders/mine/{processing.id}/cancel", headers=alice["headers"])
    assert r.status_code == 409 and r.json()["code"] == "self_cancel_not_allowed"

    late = await place(db, tenant.id, await make_draft(db, tenant.id, customer_id=customer_id, reserve=False))
    async with db.tenant_transaction(tenant.id) as s:
        await s.execute(text("UPDATE orders SET placed_at = now() - interval '2 hours' WHERE id = :i"),
                        {"i": late.id})
    r = await client.post(f"{API}/orders/mine/{late.id}/cancel", headers=alice["headers"])
    assert r.status_code == 409 and "window" in r.json()["detail"]
    r = await client.patch(f"{API}/orders/settings", json={"self_cancel_window_seconds": 3 * 3600},
                           headers=tenant.admin_headers)
    assert r.status_code == 200 and r.json()["self_cancel_window_seconds"] == 10800
    r = await client.post(f"{API}/orders/mine/{late.id}/cancel", headers=alice["headers"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


async def test_guest_finds_an_order_only_with_number_and_email(client, db, tenant, make_tenant) -> None:
    placed = await place(db, tenant.id, await make_draft(db, tenant.id, email="Guest@Example.com", reserve=False))
    params = {"number": placed.number.lower(), "email": "guest@example.com"}
    r = await client.get(f"{API}/orders/lookup", params=params, headers=tenant.host_headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(placed.id) and r.json()["email"] == "Guest@Example.com"
    r = await client.get(f"{API}/orders/lookup", params={**params, "email": "other@example.com"},
                         headers=tenant.storefront_headers)
    assert r.status_code == 404
    other = await make_tenant()
    r = await client.get(f"{API}/orders/lookup", params=params, headers=other.host_headers)
    assert r.status_code == 404
    r = await client.get(f"{API}/orders/lookup", params=params)
    assert r.status_code == 422 and r.json()["code"] == "tenant_required"


# --------------------------------------------------------------------------- staff


async def test_staff_list_filters_sorts_and_pages(client, db, tenant) -> None:
    customer_id = uuid.uuid4()
    async with db.tenant_transaction(tenant.id) as s:
        small = await orders.place_order(s, await make_draft(db, tenant.id, price=100, quantity=1, reserve=False,
                                                             customer_id=customer_id, email="small@example.com"))
    big = await place(db, tenant.id, await make_draft(db, tenant.id, price=50_000, quantity=1, reserve=False))
    _, paid = await _paid_order(db, tenant, price=2000, quantity=1)
    async with db.tenant_transaction(tenant.id) as s:
        await s.execute(text("UPDATE orders SET placed_at = now() - interval '10 days' WHERE id = :i"),
                        {"i": small.id})
    h = tenant.admin_headers

    async def ids(**params):  # type: ignore[no-untyped-def]
        r = await client.get(f"{API}/orders", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [o["id"] for o in r.json()["items"]]

    assert await ids() == [str(paid.id), str(big.id), str(small.id)]
    assert await ids(status="paid") == [str(paid.id)]
    assert await ids(status=["paid", "pending"], sort="total") == [str(small.id), str(paid.id), str(big.id)]
    assert await ids(payment_status="unpaid", sort="-total") == [str(big.id), str(small.id)]
    assert await ids(customer_id=str(customer_id)) == [str(small.id)]
    assert await ids(email="SMALL@example.com") == [str(small.id)]
    assert await ids(number=big.number) == [str(big.id)]
    assert await ids(total_min=1000, total_max=10_000) == [str(paid.id)]
    from datetime import UTC, datetime, timedelta

    week_ago = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    assert await ids(placed_to=week_ago) == [str(small.id)]
    assert set(await ids(placed_from=week_ago)) == {str(paid.id), str(big.id)}

    seen, cursor = [], None
    while True:
        params = {"limit": 1, "sort": "-total", **({"cursor": cursor} if cursor else {})}
        body = (await client.get(f"{API}/orders", params=params, headers=h)).json()
        seen += [o["id"] for o in body["items"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    assert seen == [str(big.id), str(paid.id), str(small.id)]
    r = await client.get(f"{API}/orders", params={"cursor": "garbage"}, headers=h)
    assert r.status_code == 400
    r = await client.get(f"{API}/orders", params={"status": "bogus"}, headers=h)
    assert r.status_code == 422


async def test_staff_list_runs_the_same_number_of_queries_for_5_or_40_orders(client, db, app, make_tenant) -> None:
    async def statements_for(n: int) -> int:
        shop = await make_tenant()
        draft = await make_draft(db, shop.id, reserve=False)
        async with db.tenant_transaction(shop.id) as s:
            for _ in range(n):
                await orders.place_order(s, draft)
        await client.get(f"{API}/orders", params={"limit": 50}, headers=shop.admin_headers)  # warm caches
        count = 0

        def counter(*_args, **_kw) -> None:  # type: ignore[no-untyped-def]
            nonlocal count
            count += 1

        engine = app.state.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            r = await client.get(f"{API}/orders", params={"limit": 50}, headers=shop.admin_headers)
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        assert r.status_code == 200 and len(r.json()["items"]) == n
        assert all(o["item_count"] == 2 for o in r.json()["items"])
        return count

    assert await statements_for(5) == await statements_for(40)


async def test_staff_order_detail_transitions_and_illegal_moves(client, db, tenant) -> None:
    _, placed = await _paid_order(db, tenant, organization_name="ACME", purchase_order_number="PO-1")
    h = tenant.admin_headers
    r = await client.get(f"{API}/orders/{placed.id}", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["organization_name"] == "ACME" and body["purchase_order_number"] == "PO-1"
    assert body["payments"][0]["status"] == "captured" and body["allowed_transitions"] == ["cancelled", "processing"]

    r = await client.post(f"{API}/orders/{placed.id}/transitions", json={"to": "delivered"}, headers=h)
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "illegal_transition" and problem["allowed_transitions"] == ["cancelled", "processing"]
    assert (problem["current"], problem["target"]) == ("paid", "delivered")
    r = await client.post(f"{API}/orders/{placed.id}/transitions", json={"to": "paid"}, headers=h)
    assert r.status_code == 422  # not a staff target: paid comes from a payment

    for target in ("processing", "shipped", "delivered", "completed"):
        r = await client.post(f"{API}/orders/{placed.id}/transitions", json={"to": target, "reason": "ok"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == target
    body = r.json()
    assert body["fulfillment_status"] == "fulfilled" and body["allowed_transitions"] == []
    assert [e["to_status"] for e in body["history"] if e["kind"] == "status"] == [
        "pending", "paid", "processing", "shipped", "delivered", "completed"]
    r = await client.post(f"{API}/orders/{placed.id}/cancel", json={"reason": "late"}, headers=h)
    assert r.status_code == 409 and r.json()["allowed_transitions"] == []


async def test_staff_cancel_refunds_and_notes_and_address(client, db, tenant) -> None:
    alice = await customer_headers(client, tenant)
    draft, placed = await _paid_order(db, tenant, customer_id=uuid.UUID(alice["user_id"]), stock=5, quantity=1)
    h = tenant.admin_headers

    r = await client.post(f"{API}/orders/{placed.id}/notes", json={"body": "fragile: double box"}, headers=h)
    assert r.status_code == 201 and r.json()["visibility"] == "internal"
    r = await client.post(f"{API}/orders/{placed.id}/notes", json={"body": "Ships Monday", "visibility": "customer"},
                          headers=h)
    assert r.status_code == 201
    r = await client.post(f"{API}/orders/{placed.id}/notes", json={"body": ""}, headers=h)
    assert r.status_code == 422

    address = {"name": "Ada", "line1": "2 Side St", "city": "Austin", "postal_code": "73301", "country": "US",
               "region": "TX", "reason": "customer called"}
    r = await client.patch(f"{API}/orders/{placed.id}/shipping-address", json=address, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["shipping_address"]["city"] == "Austin"
    r = await client.patch(f"{API}/orders/{placed.id}/shipping-address",
                           json={**address, "postal_code": "ABCDE", "country": "US"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "address_invalid"

    mine = (await client.get(f"{API}/orders/mine/{placed.id}", headers=alice["headers"])).json()
    assert [n["body"] for n in mine["notes"]] == ["Ships Monday"]
    assert "address" in [e["kind"] for e in mine["history"]]
    assert all(e["message"] != "fragile: double box" for e in mine["history"])

    r = await client.post(f"{API}/orders/{placed.id}/cancel", json={"reason": "out of stock at supplier"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["payment_status"], body["cancel_reason"]) == (
        "cancelled", "refunded", "out of stock at supplier")
    assert body["payments"][0]["refunds"][0]["amount"] == placed.total
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (5, 0)
    r = await client.patch(f"{API}/orders/{placed.id}/shipping-address", json=address, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "order_already_shipped"


async def test_mark_paid_for_cash_on_delivery(client, db, tenant) -> None:
    placed = await place(db, tenant.id, await make_draft(db, tenant.id, payment_method="manual"))
    h = tenant.admin_headers
    r = await client.post(f"{API}/orders/{placed.id}/mark-paid", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["payment_status"], body["amount_paid"]) == ("processing", "paid", placed.total)
    assert body["payments"][0]["method"] == "manual"
    r = await client.post(f"{API}/orders/{placed.id}/mark-paid", headers=h)  # again: nothing changes
    assert r.status_code == 200 and len(r.json()["payments"]) == 1

    prepaid = await place(db, tenant.id, await make_draft(db, tenant.id, reserve=False))
    r = await client.post(f"{API}/orders/{prepaid.id}/mark-paid", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "no_payment_to_mark_paid"


async def test_permissions_and_isolation_between_shops(client, db, tenant, make_tenant) -> None:
    other = await make_tenant()
    placed = await place(db, tenant.id, await make_draft(db, tenant.id, reserve=False))
    theirs = await place(db, other.id, await make_draft(db, other.id, reserve=False))

    r = await client.get(f"{API}/orders/{placed.id}", headers=other.admin_headers)
    assert r.status_code == 404
    r = await client.post(f"{API}/orders/{placed.id}/notes", json={"body": "x"}, headers=other.admin_headers)
    assert r.status_code == 404
    r = await client.get(f"{API}/orders", headers=other.admin_headers)
    assert [o["id"] for o in r.json()["items"]] == [str(theirs.id)]
    r = await client.post(f"{API}/orders/{placed.id}/cancel", json={"reason": "x"}, headers=other.admin_headers)
    assert r.status_code == 404
    async with db.tenant_transaction(other.id) as s:  # RLS: the row is not even visible
        assert (await s.execute(text("SELECT count(*) FROM orders WHERE id = :i"), {"i": placed.id})).scalar() == 0
        assert (await s.execute(text("SELECT count(*) FROM order_lines WHERE order_id = :i"),
                                {"i": placed.id})).scalar() == 0

    customer = await customer_headers(client, tenant)
    r = await client.get(f"{API}/orders", headers=customer["headers"])
    assert r.status_code == 403
    r = await client.get(f"{API}/orders/{placed.id}", headers=customer["headers"])
    assert r.status_code == 403
    r = await client.get(f"{API}/orders", headers=tenant.storefront_headers)
    assert r.status_code in (401, 403)
    r = await client.get(f"{API}/orders")
    assert r.status_code == 401


async def test_order_history_is_append_only_for_the_runtime_role(db, tenant) -> None:
    import pytest
    from sqlalchemy.exc import DBAPIError

    placed = await place(db, tenant.id, await make_draft(db, tenant.id, reserve=False))
    with pytest.raises(DBAPIError):
        async with db.tenant_transaction(tenant.id) as s:
            await s.execute(text("UPDATE order_history SET message = 'rewritten' WHERE order_id = :i"),
                            {"i": placed.id})
    with pytest.raises(DBAPIError):
        async with db.tenant_transaction(tenant.id) as s:
            await s.execute(text("DELETE FROM orders WHERE id = :i"), {"i": placed.id})
    assert (await get(db, tenant.id, placed.id)).history[0].message == "order placed"


async def test_business_metrics_are_on_the_metrics_endpoint(client, db, tenant) -> None:
    await _paid_order(db, tenant, currency="EUR")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert 'mercato_orders_placed_total{currency="EUR"}' in r.text
    assert "mercato_order_value_bucket" in r.text
    assert 'mercato_order_payment_outcomes_total{result="captured"}' in r.text
