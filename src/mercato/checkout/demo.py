"""Demo orders for ``mercato demo``: 100+ orders per shop across every state, made the way a real
storefront makes them — through the HTTP API of an in-process app (guest carts, checkouts, the test
and manual gateways), so the demo exercises the same code paths as production.

Idempotent: a shop that already has ``count`` completed checkouts is left alone. A shop without a
catalog gets a small one (products with variants, stock in two locations), a tax rate, a shipping
zone with two methods and a coupon.

Call it with a started app (its lifespan entered)::

    async with app.router.lifespan_context(app):
        await load_demo_orders(app.state.db, tenant_id, app=app)
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

import mercato.identity as identity
from mercato.checkout.models import Checkout
from mercato.platform.db import Database

API = "/api/v1"
CARDS = {"paid": "4242424242424242", "declined": "4000000000000002"}
ADDRESSES = [
    {"name": "Ada Lovelace", "line1": "12 Market St", "city": "San Francisco", "region": "CA", "postal_code": "94105",
     "country": "US"},
    {"name": "Grace Hopper", "line1": "1 Broadway", "city": "New York", "region": "NY", "postal_code": "10004",
     "country": "US"},
    {"name": "Alan Turing", "line1": "221 Baker St", "city": "Portland", "region": "OR", "postal_code": "97201",
     "country": "US"},
]
CATALOG = [
    ("Trail Tee", 2500, ["S", "M", "L"]),
    ("Merino Socks", 1400, ["M", "L"]),
    ("Rain Shell", 12900, ["M", "L"]),
    ("Canvas Tote", 1900, ["One size"]),
]
#: Target share of each outcome (the rest pay by card). Later states need the orders staff API.
MIX = (("declined", 0.08), ("manual", 0.15), ("cancelled", 0.08), ("shipped", 0.12), ("delivered", 0.10),
       ("completed", 0.10))
_EVERY_OUTCOME = ("paid", *(name for name, _ in MIX))


async def _count_completed(db: Database, tenant_id: uuid.UUID) -> int:
    async with db.tenant_transaction(tenant_id) as s:
        q = select(func.count()).select_from(Checkout).where(Checkout.status == "completed")
        return int((await s.execute(q)).scalar_one())


async def _keys(db: Database, tenant_id: uuid.UUID) -> tuple[str, str]:
    async with db.tenant_transaction(tenant_id) as s:
        secret = await identity.issue_api_key(s, tenant_id=tenant_id, name="demo loader", kind="secret", role="admin")
        public = await identity.issue_api_key(s, tenant_id=tenant_id, name="demo storefront", kind="publishable")
    return secret.token, public.token


async def _ok(r: httpx.Response, *statuses: int) -> Any:
    if r.status_code not in (statuses or (200, 201)):
        raise RuntimeError(f"demo: {r.request.method} {r.request.url.path} → {r.status_code} {r.text[:300]}")
    return r.json() if r.content else None


async def _catalog(c: httpx.AsyncClient, admin: dict[str, str]) -> list[str]:
    """The shop's variant ids, creating a small catalog when it has none."""
    listing = await _ok(await c.get(f"{API}/products", headers=admin, params={"limit": 50}))
    variant_ids: list[str] = []
    for item in listing.get("items", []):
        detail = await _ok(await c.get(f"{API}/products/{item['id']}", headers=admin))
        variant_ids += [v["id"] for v in detail.get("variants", []) if v.get("currency") == "USD"]
    if variant_ids:
        return variant_ids
    locations = []
    for code, name, priority in (("main", "Main warehouse", 0), ("store", "City store", 1)):
        r = await c.post(f"{API}/stock-locations", headers=admin, json={"name": name, "code": code,
                                                                       "priority": priority})
        if r.status_code == 201:
            locations.append(r.json()["id"])
    if not locations:
        locations = [loc["id"] for loc in (await _ok(await c.get(f"{API}/stock-locations", headers=admin)))["items"]]
    for name, price, sizes in CATALOG:
        slug = name.lower().replace(" ", "-")
        product = await _ok(await c.post(f"{API}/products", headers=admin, json={
            "name": name, "status": "active", "weight_grams": 300, "options": [{"name": "Size", "values": sizes}],
            "variants": [{"sku": f"{slug.upper()}-{s.replace(' ', '').upper()}", "options": {"Size": s},
                          "price_cents": price, "currency": "USD"} for s in sizes]}), 201)
        for v in product["variants"]:
            variant_ids.append(v["id"])
            for i, location in enumerate(locations):
                await _ok(await c.post(f"{API}/inventory/adjustments", headers=admin, json={
                    "variant_id": v["id"], "location_id": location, "delta": 400 if i == 0 else 150,
                    "reason": "received", "note": "demo stock"}), 201)
    return variant_ids


async def _commerce_setup(c: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for region, rate in (("US-CA", "8.5"), ("US-NY", "8.875")):
        await c.post(f"{API}/tax-rates", headers=admin, json={"name": f"{region} sales tax", "country": "US",
                                                             "region": region, "rate": rate})
    zones = (await _ok(await c.get(f"{API}/shipping-zones", headers=admin))).get("items", [])
    if not zones:
        zone = await _ok(await c.post(f"{API}/shipping-zones", headers=admin, json={"name": "United States",
                                                                                    "countries": ["US"]}), 201)
        for body in ({"name": "Ground", "rate_type": "flat", "flat_rate_cents": 600, "min_delivery_days": 3,
                      "max_delivery_days": 6},
                     {"name": "Express", "rate_type": "flat", "flat_rate_cents": 1800, "min_delivery_days": 1,
                      "max_delivery_days": 2}):
            await _ok(await c.post(f"{API}/shipping-methods", headers=admin,
                                   json={"zone_id": zone["id"], "currency": "USD", **body}), 201)
    await c.post(f"{API}/promotions", headers=admin, json={"code": "WELCOME10", "name": "Welcome 10%",
                                                          "kind": "percentage_off", "percent": "10"})


def _outcome(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for name, share in MIX:
        acc += share
        if x < acc:
            return name
    return "paid"


async def _one_order(c: httpx.AsyncClient, public: dict[str, str], variant_ids: list[str], rng: random.Random,
                     n: int, outcome: str) -> dict[str, Any] | None:
    cart = await _ok(await c.post(f"{API}/carts", headers=public), 201)
    h = {**public, "X-Cart-Token": cart["token"]}
    for vid in rng.sample(variant_ids, k=min(len(variant_ids), rng.randint(1, 3))):
        await _ok(await c.post(f"{API}/carts/{cart['id']}/lines", headers=h,
                               json={"variant_id": vid, "quantity": rng.randint(1, 2)}))
    co = await _ok(await c.post(f"{API}/checkouts", headers=h, json={
        "cart_id": cart["id"], "email": f"shopper{n}@example.com",
        **({"organization_name": "Initech", "purchase_order_number": f"PO-{1000 + n}"} if n % 9 == 0 else {})}), 201)
    cid = co["id"]
    await _ok(await c.put(f"{API}/checkouts/{cid}/shipping-address", headers=h, json=rng.choice(ADDRESSES)))
    options = (await _ok(await c.get(f"{API}/checkouts/{cid}/shipping-methods", headers=h)))["items"]
    if options:
        await _ok(await c.put(f"{API}/checkouts/{cid}/shipping-method", headers=h,
                              json={"method_id": rng.choice(options)["method_id"]}))
    if n % 4 == 0:
        await c.post(f"{API}/checkouts/{cid}/coupons", headers=h, json={"code": "welcome10"})
    method = "manual" if outcome == "manual" else "test"
    r = await c.put(f"{API}/checkouts/{cid}/payment-method", headers=h, json={"method": method})
    if r.status_code == 409:  # out of stock: the demo simply buys something else next time
        return None
    await _ok(r)
    card = CARDS["declined"] if outcome == "declined" else CARDS["paid"]
    r = await c.post(f"{API}/checkouts/{cid}/complete", headers={**h, "Idempotency-Key": uuid.uuid4().hex},
                     json={} if method == "manual" else {"card_number": card})
    body = await _ok(r, 200, 402)
    return {"order_id": body["order"]["id"] if r.status_code == 200 else body["order_id"], "outcome": outcome}


async def _advance(c: httpx.AsyncClient, admin: dict[str, str], order_id: str, outcome: str) -> None:
    """Move a paid order on with the orders staff API (skipped quietly where it is not there yet)."""
    if outcome == "cancelled":
        await c.post(f"{API}/orders/{order_id}/cancel", headers=admin, json={"reason": "customer request"})
        return
    steps = {"shipped": ["processing", "shipped"], "delivered": ["processing", "shipped", "delivered"],
             "completed": ["processing", "shipped", "delivered", "completed"]}.get(outcome, [])
    for status in steps:
        r = await c.post(f"{API}/orders/{order_id}/transitions", headers=admin,
                         json={"to": status, "reason": "demo"})
        if r.status_code >= 400:
            return


async def load_demo_orders(db: Database, tenant_id: uuid.UUID, *, app: FastAPI, count: int = 120,
                           seed: int = 4) -> int:
    """Create ``count`` demo orders in the shop (fewer if some lines ran out). Returns how many."""
    if await _count_completed(db, tenant_id) >= count:
        return 0
    rng = random.Random(f"{tenant_id}:{seed}")  # noqa: S311 (demo data, not secrets)
    secret, publishable = await _keys(db, tenant_id)
    admin, public = {"Authorization": f"Bearer {secret}"}, {"Authorization": f"Bearer {publishable}"}
    transport = httpx.ASGITransport(app=app)
    made = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://demo", timeout=60) as c:
        variant_ids = await _catalog(c, admin)
        await _commerce_setup(c, admin)
        for n in range(count + count // 10):
            if made >= count:
                break
            # The first orders walk through every outcome once, so even a small demo shows each state.
            outcome = _EVERY_OUTCOME[made] if made < len(_EVERY_OUTCOME) else _outcome(rng)
            placed = await _one_order(c, public, variant_ids, rng, n, outcome)
            if placed is None:
                continue
            made += 1
            await _advance(c, admin, placed["order_id"], outcome)
    return made
