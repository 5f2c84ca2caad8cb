from __future__ import annotations

import mercato.shipping as shipping
from mercato.pricing import validate_address

US_CA = validate_address({"name": "A", "line1": "1 Market St", "city": "SF", "region": "CA", "postal_code": "94105",
                          "country": "US"})
US_NY = validate_address({"name": "A", "line1": "1 Broadway", "city": "NYC", "region": "NY", "postal_code": "10001",
                          "country": "US"})
DE = validate_address({"name": "A", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117",
                       "country": "DE"})


async def _setup(client, h) -> dict:  # type: ignore[no-untyped-def]
    west = (await client.post("/api/v1/shipping-zones", headers=h, json={
        "name": "US West", "countries": ["us"], "regions": ["CA", "US-OR"]})).json()
    us = (await client.post("/api/v1/shipping-zones", headers=h, json={"name": "US", "countries": ["US"]})).json()
    methods = {}
    for zone, body in (
        (west, {"name": "West express", "rate_type": "flat", "currency": "USD", "flat_rate_cents": 1500,
                "min_delivery_days": 1, "max_delivery_days": 2}),
        (us, {"name": "Ground", "rate_type": "weight", "currency": "USD",
              "brackets": [{"up_to": 1000, "rate_cents": 500}, {"up_to": 5000, "rate_cents": 900}],
              "min_delivery_days": 3, "max_delivery_days": 7}),
        (us, {"name": "Saver", "rate_type": "free_above", "currency": "USD", "flat_rate_cents": 699,
              "free_above_cents": 5000}),
        (us, {"name": "Euro only", "rate_type": "flat", "currency": "EUR", "flat_rate_cents": 100}),
    ):
        r = await client.post("/api/v1/shipping-methods", headers=h, json={"zone_id": zone["id"], **body})
        assert r.status_code == 201, r.text
        methods[body["name"]] = r.json()
    return {"west": west, "us": us, "methods": methods}


async def test_only_methods_serving_the_address_are_offered_with_their_price(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    await _setup(client, tenant.admin_headers)
    async with db.tenant_transaction(tenant.id) as s:
        ca = await shipping.available_methods(s, US_CA, 800, 2000, "USD")
        ny = await shipping.available_methods(s, US_NY, 3000, 6000, "USD")
        heavy = await shipping.available_methods(s, US_NY, 6000, 100, "USD")
        de = await shipping.available_methods(s, DE, 100, 100, "USD")
        eur = await shipping.available_methods(s, US_NY, 100, 100, "EUR")
    assert {(o.name, o.price_cents) for o in ca} == {("West express", 1500), ("Ground", 500), ("Saver", 699)}
    assert {(o.name, o.price_cents) for o in ny} == {("Ground", 900), ("Saver", 0)}
    assert {o.name for o in heavy} == {"Saver"}
    assert de == []
    assert [o.name for o in eur] == ["Euro only"]
    ground = next(o for o in ca if o.name == "Ground")
    assert (ground.min_delivery_days, ground.max_delivery_days) == (3, 7)


async def test_zone_and_method_crud(client, tenant) -> None:  # type: ignore[no-untyped-def]
    h = tenant.admin_headers
    setup = await _setup(client, h)
    ground = setup["methods"]["Ground"]
    r = await client.patch(f"/api/v1/shipping-methods/{ground['id']}", headers=h, json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = await client.patch(f"/api/v1/shipping-methods/{ground['id']}", headers=h, json={"brackets": []})
    assert r.status_code == 422
    r = await client.get("/api/v1/shipping-methods", headers=h, params={"zone_id": setup["us"]["id"]})
    assert len(r.json()["items"]) == 3
    r = await client.patch(f"/api/v1/shipping-zones/{setup['west']['id']}", headers=h, json={"countries": ["US", "CA"]})
    assert r.status_code == 200 and r.json()["countries"] == ["US", "CA"]
    r = await client.post("/api/v1/shipping-zones", headers=h, json={"name": "Bad", "countries": ["XX"]})
    assert r.status_code == 422
    assert (await client.delete(f"/api/v1/shipping-zones/{setup['us']['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/shipping-methods/{ground['id']}", headers=h)).status_code == 404
    assert (await client.get("/api/v1/shipping-zones", headers=tenant.storefront_headers)).status_code == 403


async def test_tenants_do_not_share_shipping(client, db, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant(), await make_tenant()
    setup = await _setup(client, a.admin_headers)
    assert (await client.get(f"/api/v1/shipping-zones/{setup['us']['id']}", headers=b.admin_headers)).status_code == 404
    r = await client.post("/api/v1/shipping-methods", headers=b.admin_headers, json={
        "zone_id": setup["us"]["id"], "name": "x", "rate_type": "flat", "currency": "USD", "flat_rate_cents": 1})
    assert r.status_code == 404
    async with db.tenant_transaction(b.id) as s:
        assert await shipping.available_methods(s, US_CA, 1, 1, "USD") == []
