"""Exchanges through HTTP: a replacement order for other variants, the difference charged on it
(test gateway) or refunded on the original payment; a declined card leaves nothing behind."""

from __future__ import annotations

from returns_helpers import API, customer_order, line_of, make_shop, ok, outbox


async def _exchange_return(client, tenant, shop, have: str, want: str) -> tuple[dict, dict]:  # type: ignore[no-untyped-def, type-arg]
    bought = await customer_order(client, tenant, shop, [(have, 1)])
    order = bought["order"]
    created = await ok(await client.post(f"{API}/returns/mine", headers=bought["headers"], json={
        "order_id": order["id"], "lines": [{"order_line_id": line_of(order, shop, have)["id"], "quantity": 1,
                                            "reason": "size_or_fit",
                                            "exchange_variant_id": shop["variants"][want]}]}), 201)
    await ok(await client.post(f"{API}/returns/{created['id']}/approve", headers=tenant.admin_headers))
    received = await ok(await client.post(f"{API}/returns/{created['id']}/receive", headers=tenant.admin_headers,
                                          json={"lines": [{"return_line_id": created["lines"][0]["id"],
                                                           "condition": "resellable", "location_id": shop["bay"]}]}))
    assert received["status"] == "received" and received["items_value"] == 0
    assert received["exchange_credit"] == line_of(order, shop, have)["total"]
    return order, received


async def _orders_of(client, tenant) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return (await ok(await client.get(f"{API}/orders", headers=tenant.admin_headers)))["items"]


async def test_exchange_for_a_dearer_variant_charges_the_difference(client, tenant, worker_db) -> None:
    shop = await make_shop(client, tenant)
    order, r = await _exchange_return(client, tenant, shop, "S", "L")
    staff = tenant.admin_headers
    credit = r["exchange_credit"]
    l_total = 4000 + 340  # 40.00 + 8.5 % tax, no shipping on a replacement
    before = len(await _orders_of(client, tenant))

    unpaid = await client.post(f"{API}/returns/{r['id']}/exchange", headers=staff, json={})
    assert unpaid.status_code == 422 and unpaid.json()["code"] == "exchange_invalid"
    assert unpaid.json()["charge"] == l_total - credit
    declined = await client.post(f"{API}/returns/{r['id']}/exchange", headers=staff, json={
        "payment_method": "test", "payment_data": {"card_number": "4000000000000002"}})
    assert declined.status_code == 409 and declined.json()["code"] == "exchange_payment_failed"
    assert len(await _orders_of(client, tenant)) == before  # nothing left behind
    inv = await ok(await client.get(f"{API}/variants/{shop['variants']['L']}/inventory", headers=staff))
    assert inv["reserved"] == 0  # the replacement's stock hold rolled back with it

    done = await ok(await client.post(f"{API}/returns/{r['id']}/exchange", headers=staff, json={
        "payment_method": "test", "payment_data": {"card_number": "4242424242424242"}}))
    assert done["status"] == "completed" and done["exchange_charged"] == l_total - credit
    assert done["exchange_refunded"] == 0
    replacement = await ok(await client.get(f"{API}/orders/{done['replacement_order_id']}", headers=staff))
    assert (replacement["status"], replacement["payment_status"]) == ("paid", "paid")
    assert replacement["total"] == l_total - credit and replacement["discount_total"] == credit
    assert replacement["customer_id"] == order["customer_id"] and replacement["shipping_total"] == 0
    [line] = replacement["lines"]
    assert (line["variant_id"], line["quantity"], line["unit_price"]) == (shop["variants"]["L"], 1, 4000)
    inv = await ok(await client.get(f"{API}/variants/{shop['variants']['L']}/inventory", headers=staff))
    assert inv["reserved"] == 1  # held for the replacement until it ships
    assert sum(p["amount_captured"] for p in replacement["payments"]) == l_total - credit
    again = await client.post(f"{API}/returns/{r['id']}/exchange", headers=staff, json={})
    assert again.status_code == 409 and again.json()["code"] == "exchange_not_possible"
    [ev] = [e for e in await outbox(worker_db, tenant.id) if e["type"] == "return.exchanged"]
    assert ev["data"]["replacement_order_id"] == done["replacement_order_id"]
    assert ev["data"]["charged"] == l_total - credit


async def test_exchange_for_a_cheaper_variant_refunds_the_difference(client, tenant) -> None:
    shop = await make_shop(client, tenant)
    order, r = await _exchange_return(client, tenant, shop, "S", "XS")
    staff = tenant.admin_headers
    xs_total = 1000 + 85
    done = await ok(await client.post(f"{API}/returns/{r['id']}/exchange", headers=staff))
    diff = r["exchange_credit"] - xs_total
    assert done["status"] == "completed" and (done["exchange_charged"], done["exchange_refunded"]) == (0, diff)
    [refund] = done["refunds"]
    assert (refund["kind"], refund["amount"], refund["payments"][0]["status"]) == ("exchange_difference", diff,
                                                                                  "succeeded")
    original = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (original["payment_status"], original["amount_refunded"]) == ("partially_refunded", diff)
    assert original["fulfillment_status"] == "returned"
    replacement = await ok(await client.get(f"{API}/orders/{done['replacement_order_id']}", headers=staff))
    assert (replacement["status"], replacement["payment_status"], replacement["total"]) == ("paid", "paid", 0)
    assert replacement["lines"][0]["variant_id"] == shop["variants"]["XS"]
    assert replacement["payments"] == []


async def test_advance_exchange_before_the_parcel_arrives(client, tenant) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 1), ("M", 1)])
    order, staff = bought["order"], tenant.admin_headers
    small, medium = line_of(order, shop, "S"), line_of(order, shop, "M")
    created = await ok(await client.post(f"{API}/returns/mine", headers=bought["headers"], json={
        "order_id": order["id"], "lines": [
            {"order_line_id": small["id"], "quantity": 1, "reason": "size_or_fit",
             "exchange_variant_id": shop["variants"]["M"]},
            {"order_line_id": medium["id"], "quantity": 1, "reason": "no_longer_needed"}]}), 201)
    too_early = await client.post(f"{API}/returns/{created['id']}/exchange", headers=staff)
    assert too_early.status_code == 409 and too_early.json()["code"] == "exchange_not_possible"
    await ok(await client.post(f"{API}/returns/{created['id']}/approve", headers=staff))
    # Same price (S → M): nothing to charge or refund; the replacement ships before the parcel is back.
    ahead = await ok(await client.post(f"{API}/returns/{created['id']}/exchange", headers=staff))
    assert (ahead["status"], ahead["exchange_credit"], ahead["exchange_charged"], ahead["exchange_refunded"]) == (
        "approved", small["total"], 0, 0)
    replacement = await ok(await client.get(f"{API}/orders/{ahead['replacement_order_id']}", headers=staff))
    assert (replacement["status"], replacement["total"]) == ("paid", 0)
    # The parcel arrives: the exchanged unit is not refunded, the other one is.
    lines = {x["order_line_id"]: x["id"] for x in created["lines"]}
    received = await ok(await client.post(f"{API}/returns/{created['id']}/receive", headers=staff, json={"lines": [
        {"return_line_id": lines[small["id"]], "condition": "damaged"},
        {"return_line_id": lines[medium["id"]], "condition": "resellable", "location_id": shop["bay"]}]}))
    assert (received["status"], received["items_value"]) == ("received", medium["total"])
    done = await ok(await client.post(f"{API}/returns/{created['id']}/refunds", headers={
        **staff, "Idempotency-Key": "advance-1"}), 201)
    assert done["refund"]["amount"] == medium["total"] and done["return"]["status"] == "completed"
