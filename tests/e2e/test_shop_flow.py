"""A shop's whole life through HTTP only: the merchant sets up, a guest and a customer buy, an order
is cancelled with an automatic refund and its stock comes back."""

from __future__ import annotations

import uuid
from typing import Any

from checkout_helpers import ADDRESS
from commerce_helpers import customer_headers

API = "/api/v1"


async def _ok(r, status: int = 200) -> Any:  # type: ignore[no-untyped-def]
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def _merchant_setup(client, tenant) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    h = tenant.admin_headers
    product = await _ok(await client.post(f"{API}/products", headers=h, json={
        "name": "Trail Tee", "status": "active", "weight_grams": 200,
        "options": [{"name": "Size", "values": ["S", "M"]}],
        "variants": [{"sku": f"TEE-S-{uuid.uuid4().hex[:6]}", "options": {"Size": "S"}, "price_cents": 2500,
                      "currency": "USD"},
                     {"sku": f"TEE-M-{uuid.uuid4().hex[:6]}", "options": {"Size": "M"}, "price_cents": 2500,
                      "currency": "USD"}]}), 201)
    variants = {v["options"]["Size"]: v["id"] for v in product["variants"]}
    east = await _ok(await client.post(f"{API}/stock-locations", headers=h, json={"name": "East", "code": "east"}), 201)
    west = await _ok(await client.post(f"{API}/stock-locations", headers=h, json={"name": "West", "code": "west",
                                                                                  "priority": 1}), 201)
    for loc, qty in ((east, 3), (west, 5)):
        for vid in variants.values():
            await _ok(await client.post(f"{API}/inventory/adjustments", headers=h, json={
                "variant_id": vid, "location_id": loc["id"], "delta": qty, "reason": "received"}), 201)
    await _ok(await client.post(f"{API}/tax-rates", headers=h, json={
        "name": "CA", "country": "US", "region": "US-CA", "rate": "10"}), 201)
    zone = await _ok(await client.post(f"{API}/shipping-zones", headers=h, json={"name": "US", "countries": ["US"]}),
                     201)
    method = await _ok(await client.post(f"{API}/shipping-methods", headers=h, json={
        "zone_id": zone["id"], "name": "Ground", "rate_type": "flat", "currency": "USD", "flat_rate_cents": 700}), 201)
    code = f"WELCOME{uuid.uuid4().hex[:4]}"
    await _ok(await client.post(f"{API}/promotions", headers=h, json={
        "code": code, "name": "Welcome 20%", "kind": "percentage_off", "percent": "20"}), 201)
    return {"product": product, "variants": variants, "method_id": method["id"], "code": code}


async def _available(client, tenant, variant_id: str) -> int:  # type: ignore[no-untyped-def]
    body = await _ok(await client.get(f"{API}/variants/{variant_id}/inventory", headers=tenant.admin_headers))
    return int(body.get("available", body.get("totals", {}).get("available", 0)))


async def _checkout(client, h: dict[str, str], cart_id: str, shop: dict[str, Any], *, email: str | None,  # type: ignore[no-untyped-def]
                    coupon: str | None, method: str = "test") -> dict[str, Any]:
    co = await _ok(await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart_id, "email": email}), 201)
    cid = co["id"]
    await _ok(await client.put(f"{API}/checkouts/{cid}/shipping-address", headers=h, json=ADDRESS))
    options = await _ok(await client.get(f"{API}/checkouts/{cid}/shipping-methods", headers=h))
    assert [o["name"] for o in options["items"]] == ["Ground"]
    await _ok(await client.put(f"{API}/checkouts/{cid}/shipping-method", headers=h,
                               json={"method_id": options["items"][0]["method_id"]}))
    if coupon:
        await _ok(await client.post(f"{API}/checkouts/{cid}/coupons", headers=h, json={"code": coupon.lower()}))
    return await _ok(await client.put(f"{API}/checkouts/{cid}/payment-method", headers=h, json={"method": method}))


async def test_guest_and_customer_buy_and_a_cancellation_refunds(client, tenant) -> None:  # type: ignore[no-untyped-def]
    shop = await _merchant_setup(client, tenant)
    sf = tenant.storefront_headers

    # --- a guest browses
    listing = await _ok(await client.get(f"{API}/products", headers=sf))
    assert any(p["id"] == shop["product"]["id"] for p in listing["items"])
    detail = await _ok(await client.get(f"{API}/products/{shop['product']['id']}", headers=sf))
    small = next(v for v in detail["variants"] if v["options"]["Size"] == "S")

    # --- adds to cart, checks out with coupon, tax and shipping, pays with the test card
    cart = await _ok(await client.post(f"{API}/carts", headers=sf), 201)
    gh = {**sf, "X-Cart-Token": cart["token"]}
    await _ok(await client.post(f"{API}/carts/{cart['id']}/lines", headers=gh,
                                json={"variant_id": small["id"], "quantity": 2}))
    co = await _checkout(client, gh, cart["id"], shop, email="guest@example.com", coupon=shop["code"])
    # 2 × 25.00 = 50.00, −20% = 40.00, tax 10% = 4.00, shipping 7.00 → 51.00
    assert co["totals"] == {"subtotal": 5000, "discount_total": 1000, "shipping_total": 700, "shipping_discount": 0,
                            "tax_total": 400, "total": 5100}
    assert co["status"] == "payment_pending" and co["reservation"]
    done = await _ok(await client.post(f"{API}/checkouts/{co['id']}/complete",
                                       headers={**gh, "Idempotency-Key": uuid.uuid4().hex},
                                       json={"card_number": "4242 4242 4242 4242"}))
    assert done["order"]["status"] == "paid" and done["order"]["total"] == 5100
    assert await _available(client, tenant, small["id"]) == 6

    # --- a customer registers, logs in, buys with the test gateway
    cust = await customer_headers(client, tenant)
    ch = {**cust["headers"]}
    ccart = await _ok(await client.post(f"{API}/carts", headers=ch), 201)
    medium = shop["variants"]["M"]
    await _ok(await client.post(f"{API}/carts/{ccart['id']}/lines", headers=ch,
                                json={"variant_id": medium, "quantity": 3}))
    co2 = await _checkout(client, ch, ccart["id"], shop, email=cust["email"], coupon=None)
    done2 = await _ok(await client.post(f"{API}/checkouts/{co2['id']}/complete",
                                        headers={**ch, "Idempotency-Key": uuid.uuid4().hex},
                                        json={"card_number": "4242424242424242"}))
    assert done2["order"]["status"] == "paid"
    assert await _available(client, tenant, medium) == 5

    # --- the customer sees the order and cancels it: refunded automatically, stock back
    mine = await _ok(await client.get(f"{API}/orders/mine", headers=ch))
    assert [o["id"] for o in mine["items"]] == [done2["order"]["id"]]
    cancelled = await _ok(await client.post(f"{API}/orders/mine/{done2['order']['id']}/cancel", headers=ch,
                                            json={"reason": "changed my mind"}))
    assert cancelled["status"] == "cancelled"
    assert cancelled["payment_status"] == "refunded"
    assert await _available(client, tenant, medium) == 8
