"""Checkout over HTTP up to payment: access, validation, shipping, coupons, the stock hold."""

from __future__ import annotations

import uuid

from checkout_helpers import ADDRESS, API, complete, guest_cart, ready_checkout, shop_setup
from commerce_helpers import customer_headers, make_product
from sqlalchemy import text


async def test_guest_flow_prices_live_and_reserves_on_payment_method(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    setup = await shop_setup(client, tenant)
    p = await make_product(db, tenant.id, price_cents=2000, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 2)], method_id=setup["method_id"])
    h, cid = co["headers"], co["id"]
    r = await client.get(f"{API}/checkouts/{cid}", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "open" and body["email"] == "guest@example.com"
    assert body["totals"] == {"subtotal": 4000, "discount_total": 0, "shipping_total": 500, "shipping_discount": 0,
                              "tax_total": 340, "total": 4840}
    assert body["shipping_method"]["name"] == "Ground" and body["reservation"] is None

    r = await client.get(f"{API}/checkouts/{cid}/shipping-methods", headers=h)
    assert r.status_code == 200 and [m["name"] for m in r.json()["items"]] == ["Ground"]

    r = await client.put(f"{API}/checkouts/{cid}/payment-method", headers=h, json={"method": "test"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "payment_pending" and body["reservation"]["id"]
    async with db.tenant_transaction(tenant.id) as s:
        reserved = (await s.execute(text("SELECT reserved FROM inventory_levels WHERE variant_id = :v"),
                                    {"v": p["variant_id"]})).scalar_one()
    assert reserved == 2
    # choosing again keeps the same hold (it still fits the cart)
    r2 = await client.put(f"{API}/checkouts/{cid}/payment-method", headers=h, json={"method": "manual"})
    assert r2.json()["reservation"]["id"] == body["reservation"]["id"]


async def test_someone_elses_checkout_is_404_and_guest_needs_email(client, db, tenant, make_tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)])
    other = await guest_cart(client, tenant, [(p["variant_id"], 1)])
    r = await client.get(f"{API}/checkouts/{co['id']}", headers=other["headers"])
    assert r.status_code == 404 and r.json()["code"] == "checkout_not_found"
    r = await client.get(f"{API}/checkouts/{co['id']}", headers=tenant.storefront_headers)
    assert r.status_code == 404
    b = await make_tenant()
    r = await client.get(f"{API}/checkouts/{co['id']}", headers={**b.storefront_headers,
                                                                  "X-Cart-Token": co["headers"]["X-Cart-Token"]})
    assert r.status_code == 404
    r = await client.post(f"{API}/checkouts", headers=other["headers"], json={"cart_id": other["cart_id"]})
    assert r.status_code == 422 and r.json()["code"] == "email_required"
    r = await client.post(f"{API}/checkouts", headers=other["headers"], json={"cart_id": co["cart_id"],
                                                                            "email": "x@example.com"})
    assert r.status_code == 404  # not the caller's cart


async def test_invalid_address_is_422_with_field_errors_before_any_payment(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id)
    c = await guest_cart(client, tenant, [(p["variant_id"], 1)])
    r = await client.post(f"{API}/checkouts", headers=c["headers"], json={"cart_id": c["cart_id"],
                                                                        "email": "a@example.com"})
    cid = r.json()["id"]
    bad = {**ADDRESS, "postal_code": "ABCDE", "country": "US", "city": ""}
    r = await client.put(f"{API}/checkouts/{cid}/shipping-address", headers=c["headers"], json=bad)
    assert r.status_code == 422 and r.json()["code"] == "address_invalid"
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"postal_code", "city"} <= fields
    r = await client.put(f"{API}/checkouts/{cid}/billing-address", headers=c["headers"],
                         json={**ADDRESS, "country": "XX"})
    assert r.status_code == 422 and "country" in {e["field"] for e in r.json()["errors"]}
    # completing without an address: a clear problem, nothing charged
    r = await client.put(f"{API}/checkouts/{cid}/payment-method", headers=c["headers"], json={"method": "test"})
    assert r.status_code == 200
    r = await complete(client, {"id": cid, "headers": c["headers"]})
    assert r.status_code == 409 and r.json()["code"] == "shipping_address_required"
    async with db.tenant_transaction(tenant.id) as s:
        n = (await s.execute(text("SELECT count(*) FROM payments"))).scalar_one()
    assert n == 0


async def test_complete_requires_an_idempotency_key(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    r = await client.post(f"{API}/checkouts/{co['id']}/complete", headers=co["headers"],
                          json={"card_number": "4242424242424242"})
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"


async def test_insufficient_stock_named_before_payment(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    setup = await shop_setup(client, tenant)
    a = await make_product(db, tenant.id, stock=1)
    b = await make_product(db, tenant.id, stock=10)
    co = await ready_checkout(client, tenant, [(a["variant_id"], 3), (b["variant_id"], 2)],
                              method_id=setup["method_id"])
    r = await client.put(f"{API}/checkouts/{co['id']}/payment-method", headers=co["headers"], json={"method": "test"})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_stock"
    assert r.json()["lines"] == [{"variant_id": str(a["variant_id"]), "requested": 3, "available": 1}]
    r = await complete(client, co)
    assert r.status_code == 409 and r.json()["code"] == "payment_method_required"
    async with db.tenant_transaction(tenant.id) as s:
        reserved = (await s.execute(text("SELECT sum(reserved) FROM inventory_levels"))).scalar_one()
        payments = (await s.execute(text("SELECT count(*) FROM payments"))).scalar_one()
    assert reserved == 0 and payments == 0


async def test_shipping_methods_only_serve_the_address_and_coupons(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    setup = await shop_setup(client, tenant)
    p = await make_product(db, tenant.id, price_cents=1000)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], method_id=setup["method_id"])
    h, cid = co["headers"], co["id"]
    r = await client.put(f"{API}/checkouts/{cid}/shipping-address", headers=h,
                         json={**ADDRESS, "country": "DE", "region": None, "postal_code": "10115", "city": "Berlin"})
    assert r.status_code == 200 and r.json()["shipping_method"] is None  # Ground does not serve Germany
    r = await client.get(f"{API}/checkouts/{cid}/shipping-methods", headers=h)
    assert r.json()["items"] == []
    r = await client.put(f"{API}/checkouts/{cid}/shipping-method", headers=h, json={"method_id": setup["method_id"]})
    assert r.status_code in (409, 422)

    code = f"C{uuid.uuid4().hex[:6]}"
    r = await client.post(f"{API}/promotions", headers=tenant.admin_headers, json={
        "code": code, "name": "10%", "kind": "percentage_off", "percent": "10"})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/checkouts/{cid}/coupons", headers=h, json={"code": code.lower()})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["discount_total"] == 100 and r.json()["coupons"][0]["applied"]
    r = await client.post(f"{API}/checkouts/{cid}/coupons", headers=h, json={"code": "NOPE"})
    assert r.status_code == 422 and r.json()["code"] == "coupon_invalid"
    r = await client.delete(f"{API}/checkouts/{cid}/coupons/{code}", headers=h)
    assert r.status_code == 200 and r.json()["totals"]["discount_total"] == 0


async def test_customer_checkout_uses_the_jwt_and_b2b_fields(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id)
    cust = await customer_headers(client, tenant)
    h = cust["headers"]
    r = await client.post(f"{API}/carts", headers=h)
    cart_id = r.json()["id"]
    await client.post(f"{API}/carts/{cart_id}/lines", headers=h, json={"variant_id": str(p["variant_id"])})
    r = await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart_id, "email": cust["email"],
                                                             "organization_name": "ACME", "purchase_order_number": "PO-1"})
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == cust["user_id"] and r.json()["organization_name"] == "ACME"
    again = await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart_id})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    r = await client.patch(f"{API}/checkouts/{r.json()['id']}", headers=h, json={"purchase_order_number": "PO-2"})
    assert r.status_code == 200 and r.json()["purchase_order_number"] == "PO-2"


async def test_signed_in_customer_needs_no_email_in_the_body(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id)
    cust = await customer_headers(client, tenant, email=f"Shopper-{uuid.uuid4().hex[:6]}@Example.com")
    h = cust["headers"]
    cart_id = (await client.post(f"{API}/carts", headers=h)).json()["id"]
    await client.post(f"{API}/carts/{cart_id}/lines", headers=h, json={"variant_id": str(p["variant_id"])})
    r = await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart_id})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == cust["email"].lower() and r.json()["customer_id"] == cust["user_id"]
    cid = r.json()["id"]
    assert (await client.put(f"{API}/checkouts/{cid}/shipping-address", headers=h, json=ADDRESS)).status_code == 200
    assert (await client.put(f"{API}/checkouts/{cid}/payment-method", headers=h,
                             json={"method": "manual"})).status_code == 200
    r = await client.post(f"{API}/checkouts/{cid}/complete", headers={**h, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 200, r.text
    async with db.tenant_transaction(tenant.id) as s:
        email = (await s.execute(text("SELECT email FROM orders WHERE id = :o"), {"o": r.json()["order"]["id"]})).scalar_one()
    assert email == cust["email"].lower()
