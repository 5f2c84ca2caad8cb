"""Helpers of the checkout tests (and e2e/bench): a shop with tax and shipping, guest checkouts.

(Named ``checkout_helpers``: test directories have no ``__init__``, names must be unique.)
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

API = "/api/v1"
ADDRESS = {"name": "Ann Buyer", "line1": "1 Market St", "city": "San Francisco", "region": "CA",
           "postal_code": "94105", "country": "US"}
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


async def shop_setup(client: httpx.AsyncClient, tenant, *, tax_rate: str = "8.5",  # type: ignore[no-untyped-def]
                     shipping_cents: int = 500) -> dict[str, Any]:
    h = tenant.admin_headers
    r = await client.post(f"{API}/tax-rates", headers=h, json={"name": "CA", "country": "US", "region": "US-CA",
                                                             "rate": tax_rate})
    assert r.status_code == 201, r.text
    zone = await client.post(f"{API}/shipping-zones", headers=h, json={"name": "US", "countries": ["US"]})
    assert zone.status_code == 201, zone.text
    m = await client.post(f"{API}/shipping-methods", headers=h, json={
        "zone_id": zone.json()["id"], "name": "Ground", "rate_type": "flat", "currency": "USD",
        "flat_rate_cents": shipping_cents, "min_delivery_days": 2, "max_delivery_days": 5})
    assert m.status_code == 201, m.text
    return {"method_id": m.json()["id"]}


async def guest_cart(client: httpx.AsyncClient, tenant, lines: list[tuple[uuid.UUID, int]]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = await client.post(f"{API}/carts", headers=tenant.storefront_headers)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    headers = {**tenant.storefront_headers, "X-Cart-Token": token}
    for variant_id, quantity in lines:
        r = await client.post(f"{API}/carts/{r.json()['id']}/lines", headers=headers,
                              json={"variant_id": str(variant_id), "quantity": quantity})
        assert r.status_code == 200, r.text
    return {"cart_id": r.json()["id"], "headers": headers}


async def ready_checkout(client: httpx.AsyncClient, tenant, lines: list[tuple[uuid.UUID, int]], *,  # type: ignore[no-untyped-def]
                         email: str = "Guest@Example.com", method_id: str | None = None,
                         payment_method: str | None = None, coupon: str | None = None) -> dict[str, Any]:
    """A guest checkout with an address and (if given) a shipping method, coupon and payment method."""
    c = await guest_cart(client, tenant, lines)
    h = c["headers"]
    r = await client.post(f"{API}/checkouts", headers=h, json={"cart_id": c["cart_id"], "email": email})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = await client.put(f"{API}/checkouts/{cid}/shipping-address", headers=h, json=ADDRESS)
    assert r.status_code == 200, r.text
    if method_id:
        r = await client.put(f"{API}/checkouts/{cid}/shipping-method", headers=h, json={"method_id": method_id})
        assert r.status_code == 200, r.text
    if coupon:
        r = await client.post(f"{API}/checkouts/{cid}/coupons", headers=h, json={"code": coupon})
        assert r.status_code == 200, r.text
    if payment_method:
        r = await client.put(f"{API}/checkouts/{cid}/payment-method", headers=h, json={"method": payment_method})
        assert r.status_code == 200, r.text
    return {"id": cid, "headers": h, "cart_id": c["cart_id"], "checkout": r.json()}


async def complete(client: httpx.AsyncClient, checkout: dict[str, Any], *, key: str | None = None,  # type: ignore[no-untyped-def]
                   card: str | None = GOOD_CARD, **body: Any) -> httpx.Response:
    payload = {"card_number": card, **body} if card else body
    return await client.post(f"{API}/checkouts/{checkout['id']}/complete",
                             headers={**checkout["headers"], "Idempotency-Key": key or uuid.uuid4().hex},
                             json=payload)
