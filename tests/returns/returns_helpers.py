"""Helpers of the returns tests: a shop with variants at several prices, delivered orders bought
through the HTTP API (customer and guest), stock levels, the ledger and outbox rows.

(Named ``returns_helpers``: test directories have no ``__init__``, names must be unique.)"""

from __future__ import annotations

import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import stripe
from checkout_helpers import ADDRESS, complete, ready_checkout, shop_setup
from commerce_helpers import customer_headers
from sqlalchemy import text

import mercato.catalog as catalog
import mercato.inventory as inventory
import mercato.orders as orders
import mercato.payments as payments
import mercato.pricing as pricing

API = "/api/v1"
CARD = "4242424242424242"
STRIPE_KEY = "sk_test_mercato_returns_0123456789"


async def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def make_shop(client: httpx.AsyncClient, tenant: Any, *, stock: int = 10) -> dict[str, Any]:
    """A tee in sizes S and M (25.00), L (40.00) and XS (10.00); 8.5 % tax in CA, 5.00 shipping;
    stock at ``main``, and an empty ``returns`` bay to restock returned units at."""
    h = tenant.admin_headers
    sizes = {"S": 2500, "M": 2500, "L": 4000, "XS": 1000}
    product = await ok(await client.post(f"{API}/products", headers=h, json={
        "name": "Trail Tee", "status": "active", "weight_grams": 200,
        "options": [{"name": "Size", "values": list(sizes)}],
        "variants": [{"sku": f"TEE-{s}-{uuid.uuid4().hex[:6]}", "options": {"Size": s}, "price_cents": p,
                      "currency": "USD"} for s, p in sizes.items()]}), 201)
    variants = {v["options"]["Size"]: v["id"] for v in product["variants"]}
    main = await ok(await client.post(f"{API}/stock-locations", headers=h, json={"name": "Main", "code": "main"}), 201)
    bay = await ok(await client.post(f"{API}/stock-locations", headers=h,
                                     json={"name": "Returns bay", "code": "returns"}), 201)
    for vid in variants.values():
        await ok(await client.post(f"{API}/inventory/adjustments", headers=h, json={
            "variant_id": vid, "location_id": main["id"], "delta": stock, "reason": "received"}), 201)
    setup = await shop_setup(client, tenant)
    return {"variants": variants, "main": main["id"], "bay": bay["id"], "method_id": setup["method_id"]}


async def deliver(client: httpx.AsyncClient, tenant: Any, order_id: str) -> dict[str, Any]:
    for target in ("processing", "shipped", "delivered"):
        order = await ok(await client.post(f"{API}/orders/{order_id}/transitions", headers=tenant.admin_headers,
                                           json={"to": target}))
    return order


async def customer_order(client: httpx.AsyncClient, tenant: Any, shop: dict[str, Any],
                         lines: list[tuple[str, int]], *, customer: dict[str, Any] | None = None,
                         delivered: bool = True, db: Any = None) -> dict[str, Any]:
    """A signed-in customer's order for ``[(size, quantity)]`` (8.5 % tax, 5.00 shipping), paid with
    the test card, delivered by staff through the API. Returns ``{"customer", "headers", "order"}``.

    Placed through the orders and payments services as checkout would (these tests are about
    returns; the HTTP checkout path is covered by the checkout and e2e tests)."""
    customer = customer or await customer_headers(client, tenant)
    database = db or client._transport.app.state.db  # type: ignore[attr-defined]
    async with database.tenant_transaction(tenant.id) as s:
        ids = [uuid.UUID(shop["variants"][size]) for size, _ in lines]
        refs = await catalog.get_variant_refs(s, ids)
        totals = pricing.price_cart([pricing.PriceLine(key=vid, unit_price=refs[vid].price_cents, quantity=q,
                                                       product_id=refs[vid].product_id)
                                     for vid, (_, q) in zip(ids, lines, strict=True)],
                                    currency="USD", tax_rates={"standard": Decimal("8.5")}, shipping_rate=500)
        reservation = await inventory.reserve(s, [(vid, q) for vid, (_, q) in zip(ids, lines, strict=True)],
                                              expires_in=900)
        draft_lines = tuple(orders.OrderLineDraft(
            variant_id=lt.key, product_id=refs[lt.key].product_id, sku=refs[lt.key].sku,
            product_name=refs[lt.key].product_name, variant_title=refs[lt.key].title, quantity=lt.quantity,
            unit_price=lt.unit_price, subtotal=lt.subtotal, discount=lt.discount, tax=lt.tax, total=lt.total,
            tax_rate="0.085") for lt in totals.lines)
        placed = await orders.place_order(s, orders.OrderDraft(
            currency="USD", email=customer["email"], lines=draft_lines, subtotal=totals.subtotal,
            discount_total=totals.discount_total, shipping_total=totals.shipping_total,
            shipping_discount=totals.shipping_discount, tax_total=totals.tax_total, total=totals.total,
            prices_include_tax=False, shipping_address=ADDRESS, billing_address=ADDRESS,
            customer_id=uuid.UUID(customer["user_id"]), shipping_method={"name": "Ground", "price": 500},
            reservation_id=reservation.id, payment_method="test"))
        paid = await payments.start_payment(s, order_id=placed.id, amount=placed.total, currency="USD", method="test",
                                            payment_data={"card_number": CARD}, idempotency_key=f"pay-{placed.id}")
        await orders.record_payment(s, placed.id, outcome="captured", amount=placed.total,
                                    payment_id=paid.payment.id)
    order_id = str(placed.id)
    order = await deliver(client, tenant, order_id) if delivered else await ok(
        await client.get(f"{API}/orders/{order_id}", headers=tenant.admin_headers))
    return {"customer": customer, "headers": customer["headers"], "order": order}


async def guest_order(client: httpx.AsyncClient, tenant: Any, shop: dict[str, Any],
                      lines: list[tuple[str, int]], email: str = "Guest@Example.com") -> dict[str, Any]:
    co = await ready_checkout(client, tenant, [(uuid.UUID(shop["variants"][s]), q) for s, q in lines], email=email,
                              method_id=shop["method_id"], payment_method="test")
    done = await ok(await complete(client, co))
    return await deliver(client, tenant, done["order"]["id"])


def line_of(order: dict[str, Any], shop: dict[str, Any], size: str) -> dict[str, Any]:
    return next(x for x in order["lines"] if x["variant_id"] == shop["variants"][size])


async def on_hand(db: Any, tenant_id: uuid.UUID, variant_id: str, location_id: str) -> int:
    async with db.tenant_transaction(tenant_id) as s:
        value = (await s.execute(text("SELECT on_hand FROM inventory_levels WHERE variant_id = :v AND "
                                      "location_id = :l"), {"v": variant_id, "l": location_id})).scalar()
    return int(value or 0)


async def ledger(db: Any, tenant_id: uuid.UUID, variant_id: str) -> list[dict[str, Any]]:
    async with db.tenant_transaction(tenant_id) as s:
        rows = (await s.execute(text("SELECT * FROM inventory_ledger WHERE variant_id = :v ORDER BY id"),
                                {"v": variant_id})).mappings().all()
    return [dict(r) for r in rows]


async def outbox(worker_db: Any, tenant_id: uuid.UUID, prefix: str = "return.") -> list[dict[str, Any]]:
    async with worker_db.transaction() as s:
        rows = (await s.execute(text("SELECT type, data FROM outbox WHERE tenant_id = :t AND type LIKE :p "
                                     "ORDER BY id"), {"t": tenant_id, "p": prefix + "%"})).mappings().all()
    return [{"type": r["type"], "data": r["data"]} for r in rows]


async def stripe_paid_order(client, db, tenant, shop, stripe_url: str, *,  # type: ignore[no-untyped-def]
                            email: str = "stripe-buyer@example.com") -> tuple[Any, Any, Any]:
    """Two units of size S (50.00 + 5.00 shipping) paid at once through Stripe (localstripe).
    Returns the placed order, the SDK client and the payment result."""
    sdk = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": stripe_url},
                              http_client=stripe.HTTPXClient(allow_sync_methods=False))
    pm = await sdk.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    variant = uuid.UUID(shop["variants"]["S"])
    async with db.tenant_transaction(tenant.id) as s:
        ref = (await catalog.get_variant_refs(s, [variant]))[variant]
        placed = await orders.place_order(s, orders.OrderDraft(
            currency="USD", email=email, lines=(orders.OrderLineDraft(
                variant_id=variant, product_id=ref.product_id, sku=ref.sku, product_name=ref.product_name,
                variant_title=ref.title, quantity=2, unit_price=2500, subtotal=5000, discount=0, tax=0,
                total=5000),), subtotal=5000, discount_total=0, shipping_total=500, shipping_discount=0,
            tax_total=0, total=5500, prices_include_tax=False, shipping_address=None, billing_address=None,
            payment_method="stripe"))
        paid = await payments.start_payment(s, order_id=placed.id, amount=5500, currency="USD", method="stripe",
                                            payment_data={"payment_method": pm.id, "confirm": True},
                                            idempotency_key=f"stripe-{placed.id}")
        assert paid.payment.status == "captured"
        await orders.record_payment(s, placed.id, outcome="captured", amount=5500, payment_id=paid.payment.id)
    return placed, sdk, paid


async def stripe_refunded_return(client, db, tenant, stripe_url: str):  # type: ignore[no-untyped-def]
    """A Stripe-paid order delivered, one unit returned as damaged, approved, received and refunded with the
    shipping (25.00 + 5.00) through Stripe. Returns ``order``, ``ret`` (the request), ``done`` (the refund's
    answer), ``sdk`` and ``paid`` (the payment result) as attributes."""
    shop = await make_shop(client, tenant)
    placed, sdk, paid = await stripe_paid_order(client, db, tenant, shop, stripe_url)
    order = await deliver(client, tenant, str(placed.id))
    staff = tenant.admin_headers
    r = await ok(await client.post(f"{API}/returns", headers=staff, json={"order_id": order["id"], "lines": [
        {"order_line_id": line_of(order, shop, "S")["id"], "quantity": 1, "reason": "defective"}]}), 201)
    await ok(await client.post(f"{API}/returns/{r['id']}/approve", headers=staff))
    await ok(await client.post(f"{API}/returns/{r['id']}/receive", headers=staff, json={
        "lines": [{"return_line_id": r["lines"][0]["id"], "condition": "damaged"}]}))
    done = await ok(await client.post(f"{API}/returns/{r['id']}/refunds", json={"include_shipping": True},
                                      headers={**staff, "Idempotency-Key": f"s-{uuid.uuid4()}"}), 201)
    return SimpleNamespace(order=order, ret=r, done=done, sdk=sdk, paid=paid)
