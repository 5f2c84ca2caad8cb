"""Cart totals on every read: coupons, shipping address and method, tax (exclusive and inclusive)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from commerce_helpers import customer_headers, make_product, outbox

import mercato.promotions as promotions

C = "/api/v1/carts"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Market St", "city": "San Francisco", "region": "CA",
           "postal_code": "94105", "country": "US", "phone": "+1 415 555 0132"}


async def cart_with(client, tenant, *items) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    r = await client.post(C, headers=tenant.host_headers)
    cart = r.json()
    h = {**tenant.host_headers, "X-Cart-Token": cart["token"]}
    for variant_id, quantity in items:
        r = await client.post(f"{C}/{cart['id']}/lines", headers=h,
                              json={"variant_id": str(variant_id), "quantity": quantity})
        assert r.status_code == 200, r.text
    return cart["id"], h


async def promo(client, tenant, **kw) -> dict:  # type: ignore[no-untyped-def]
    body = {"code": f"C{uuid.uuid4().hex[:8]}", "name": "promo", "kind": "percentage_off", "percent": "10", **kw}
    r = await client.post("/api/v1/promotions", headers=tenant.admin_headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def apply(client, cart_id, h, code):  # type: ignore[no-untyped-def]
    return await client.post(f"{C}/{cart_id}/coupons", headers=h, json={"code": code})


async def test_coupon_applies_and_problems_name_why(client, db, worker_db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, price_cents=2000)
    cart_id, h = await cart_with(client, tenant, (p["variant_id"], 2))
    ten = await promo(client, tenant, code="ten")
    r = await apply(client, cart_id, h, " TeN ")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totals"]["discount_total"] == 400 and body["totals"]["total"] == 3600
    assert body["coupons"] == [{"code": "TEN", "applied": True, "discount": 400, "shipping_discount": 0,
                                "reason": None}]
    assert body["lines"][0]["discount"] == 400
    events = await outbox(worker_db, tenant.id, "coupon.applied")
    assert events[-1]["data"]["code"] == "TEN" and events[-1]["data"]["promotion_id"] == ten["id"]

    now = datetime.now(UTC)
    cases = [
        ("NOPE", 422, "coupon_invalid"),
        ((await promo(client, tenant, ends_at=(now - timedelta(hours=1)).isoformat()))["code"], 422, "coupon_expired"),
        ((await promo(client, tenant, starts_at=(now + timedelta(hours=1)).isoformat()))["code"], 422,
         "coupon_not_started"),
        ((await promo(client, tenant, minimum_subtotal_cents=10_000, currency="USD"))["code"], 422,
         "coupon_minimum_not_met"),
        ((await promo(client, tenant, product_ids=[str(uuid.uuid4())]))["code"], 422, "coupon_not_applicable"),
        ((await promo(client, tenant, kind="fixed_amount_off", percent=None, amount_cents=100, currency="EUR"))["code"],
         422, "coupon_currency_mismatch"),
        ((await promo(client, tenant, is_active=False))["code"], 422, "coupon_invalid"),
        ((await promo(client, tenant))["code"], 409, "coupon_not_combinable"),  # TEN is not combinable
    ]
    used_up = await promo(client, tenant, usage_limit=1)
    async with db.tenant_transaction(tenant.id) as s:
        await promotions.redeem(s, uuid.UUID(used_up["id"]), "someone@example.com", uuid.uuid4())
    cases.append((used_up["code"], 409, "coupon_exhausted"))
    for code, status, problem in cases:
        r = await apply(client, cart_id, h, code)
        assert (r.status_code, r.json()["code"]) == (status, problem), (code, r.text)
        assert r.json()["errors"][0]["field"] == "code"
    # removing the coupon brings the full price back
    r = await client.delete(f"{C}/{cart_id}/coupons/ten", headers=h)
    assert r.status_code == 200 and r.json()["coupons"] == [] and r.json()["totals"]["total"] == 4000


async def test_combinable_codes_stack(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, price_cents=10_000)
    cart_id, h = await cart_with(client, tenant, (p["variant_id"], 1))
    a = await promo(client, tenant, combinable=True)
    b = await promo(client, tenant, kind="fixed_amount_off", percent=None, amount_cents=1000, currency="USD",
                    combinable=True)
    assert (await apply(client, cart_id, h, a["code"])).status_code == 200
    body = (await apply(client, cart_id, h, b["code"])).json()
    # order-level promotions apply in the order given: 10 % of 100.00, then 10.00 off the rest
    assert body["totals"]["discount_total"] == 2000 and body["totals"]["total"] == 8000


async def test_coupon_that_stops_qualifying_stays_on_the_cart_with_a_reason(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, price_cents=3000)
    cart_id, h = await cart_with(client, tenant, (p["variant_id"], 2))
    m = await promo(client, tenant, minimum_subtotal_cents=5000, currency="USD")
    assert (await apply(client, cart_id, h, m["code"])).json()["totals"]["discount_total"] == 600
    line_id = (await client.get(f"{C}/{cart_id}", headers=h)).json()["lines"][0]["id"]
    body = (await client.patch(f"{C}/{cart_id}/lines/{line_id}", headers=h, json={"quantity": 1})).json()
    assert body["totals"]["discount_total"] == 0
    assert body["coupons"][0]["applied"] is False and body["coupons"][0]["reason"] == "coupon_minimum_not_met"


async def test_address_shipping_and_tax_exclusive(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    admin = tenant.admin_headers
    p = await make_product(db, tenant.id, price_cents=1999, weight_grams=400)
    books = await make_product(db, tenant.id, price_cents=1000, tax_class="reduced", weight_grams=300)
    for body in ({"name": "US", "country": "US", "rate": "0"},
                 {"name": "CA", "country": "US", "region": "CA", "rate": "7.25"},
                 {"name": "SF", "country": "US", "region": "CA", "postal_prefix": "941", "rate": "8.625"},
                 {"name": "CA books", "country": "US", "region": "CA", "tax_class": "reduced", "rate": "1"}):
        assert (await client.post("/api/v1/tax-rates", headers=admin, json=body)).status_code == 201
    zone = (await client.post("/api/v1/shipping-zones", headers=admin, json={"name": "US", "countries": ["US"]})).json()
    ground = (await client.post("/api/v1/shipping-methods", headers=admin, json={
        "zone_id": zone["id"], "name": "Ground", "rate_type": "weight", "currency": "USD",
        "brackets": [{"up_to": 1000, "rate_cents": 500}, {"up_to": None, "rate_cents": 1200}]})).json()
    eu = (await client.post("/api/v1/shipping-zones", headers=admin, json={"name": "EU", "countries": ["DE"]})).json()
    eu_method = (await client.post("/api/v1/shipping-methods", headers=admin, json={
        "zone_id": eu["id"], "name": "DHL", "rate_type": "flat", "currency": "USD", "flat_rate_cents": 900})).json()

    cart_id, h = await cart_with(client, tenant, (p["variant_id"], 2), (books["variant_id"], 1))
    r = await client.get(f"{C}/{cart_id}/shipping-methods", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "shipping_address_required"
    r = await client.put(f"{C}/{cart_id}/shipping-address", headers=h, json={
        "country": "US", "postal_code": "ABCDE", "phone": "12"})
    assert r.status_code == 422 and r.json()["code"] == "address_invalid"
    assert {e["field"] for e in r.json()["errors"]} == {"name", "line1", "city", "postal_code", "phone"}
    r = await client.put(f"{C}/{cart_id}/shipping-address", headers=h, json=ADDRESS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["shipping_address"]["phone"] == "+14155550132" and body["tax_calculated"] is True
    # SF rate on the standard line (39.98 × 8.625 % = 3.448 → 3.45), CA books rate on the book (10.00 × 1 %)
    assert [line["tax"] for line in body["lines"]] == [345, 10]
    assert body["totals"]["tax_total"] == 355 and body["totals"]["total"] == 3998 + 1000 + 355
    r = await client.get(f"{C}/{cart_id}/shipping-methods", headers=h)
    assert [(o["name"], o["price_cents"]) for o in r.json()["items"]] == [("Ground", 1200)]  # 1100 g
    r = await client.put(f"{C}/{cart_id}/shipping-method", headers=h, json={"method_id": eu_method["id"]})
    assert r.status_code == 422 and r.json()["code"] == "shipping_method_unavailable"
    r = await client.put(f"{C}/{cart_id}/shipping-method", headers=h, json={"method_id": ground["id"]})
    body = r.json()
    assert body["shipping_method"]["name"] == "Ground" and body["totals"]["shipping_total"] == 1200
    assert body["totals"]["total"] == 4998 + 1200 + 355
    free = await promo(client, tenant, kind="free_shipping", percent=None)
    body = (await apply(client, cart_id, h, free["code"])).json()
    assert body["totals"]["shipping_discount"] == 1200 and body["totals"]["total"] == 4998 + 355
    # the method stops serving the cart: a warning, no shipping charged
    await client.patch(f"/api/v1/shipping-methods/{ground['id']}", headers=admin, json={"is_active": False})
    body = (await client.get(f"{C}/{cart_id}", headers=h)).json()
    assert body["shipping_method"] is None and body["totals"]["shipping_total"] == 0
    assert "shipping_method_unavailable" in {w["code"] for w in body["warnings"]}


async def test_tax_inclusive_prices(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    admin = tenant.admin_headers
    await client.put("/api/v1/tax-settings", headers=admin, json={"prices_include_tax": True,
                                                                  "shipping_tax_class": "standard"})
    await client.post("/api/v1/tax-rates", headers=admin, json={"name": "DE", "country": "DE", "rate": "19"})
    zone = (await client.post("/api/v1/shipping-zones", headers=admin, json={"name": "DE", "countries": ["DE"]})).json()
    method = (await client.post("/api/v1/shipping-methods", headers=admin, json={
        "zone_id": zone["id"], "name": "DHL", "rate_type": "flat", "currency": "EUR", "flat_rate_cents": 595})).json()
    p = await make_product(db, tenant.id, price_cents=11900, currency="EUR")
    cart_id, h = await cart_with(client, tenant, (p["variant_id"], 1))
    await client.put(f"{C}/{cart_id}/shipping-address", headers=h, json={
        "name": "Max", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "de"})
    body = (await client.put(f"{C}/{cart_id}/shipping-method", headers=h, json={"method_id": method["id"]})).json()
    assert body["prices_include_tax"] is True
    # 119.00 contains 19.00 tax; 5.95 shipping contains 0.95; the total is what the prices say
    assert body["totals"]["tax_total"] == 1900 + 95 and body["totals"]["total"] == 11900 + 595


async def test_customer_per_customer_limit_is_checked_when_applying(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id)
    alice = await customer_headers(client, tenant)
    cart = (await client.post(C, headers=alice["headers"])).json()
    await client.post(f"{C}/{cart['id']}/lines", headers=alice["headers"], json={"variant_id": str(p["variant_id"])})
    once = await promo(client, tenant, per_customer_limit=1)
    async with db.tenant_transaction(tenant.id) as s:
        await promotions.redeem(s, uuid.UUID(once["id"]), alice["user_id"], uuid.uuid4())
    r = await apply(client, cart["id"], alice["headers"], once["code"])
    assert r.status_code == 409 and r.json()["code"] == "coupon_exhausted" and r.json()["scope"] == "customer"


async def test_category_targeted_coupon_discounts_only_that_category(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/v1/categories", headers=tenant.admin_headers, json={"name": "Shoes"})
    assert r.status_code == 201, r.text
    shoes = r.json()["id"]
    shoe = await make_product(db, tenant.id, price_cents=5000, category_id=uuid.UUID(shoes))
    hat = await make_product(db, tenant.id, price_cents=2000)
    cart_id, h = await cart_with(client, tenant, (shoe["variant_id"], 1), (hat["variant_id"], 1))
    coupon = await promo(client, tenant, category_ids=[shoes], percent="20")
    r = await apply(client, cart_id, h, coupon["code"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totals"]["discount_total"] == 1000  # 20 % of the shoe only
    by_variant = {line["variant_id"]: line["discount"] for line in body["lines"]}
    assert by_variant == {str(shoe["variant_id"]): 1000, str(hat["variant_id"]): 0}
