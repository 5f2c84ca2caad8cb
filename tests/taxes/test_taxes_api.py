from __future__ import annotations

from decimal import Decimal

import mercato.taxes as taxes
from mercato.pricing import validate_address


async def test_tax_rate_crud_and_scope_uniqueness(client, tenant) -> None:  # type: ignore[no-untyped-def]
    h = tenant.admin_headers
    r = await client.post("/api/v1/tax-rates", headers=h, json={
        "name": "CA sales tax", "country": "us", "region": "US-CA", "rate": "7.25"})
    assert r.status_code == 201, r.text
    rate = r.json()
    assert rate["country"] == "US" and rate["region"] == "CA" and rate["rate"] == "7.2500"
    assert rate["tax_class"] == "standard" and rate["postal_prefix"] == ""
    r = await client.post("/api/v1/tax-rates", headers=h, json={
        "name": "dup", "country": "US", "region": "ca", "rate": "1"})
    assert r.status_code == 409 and r.json()["code"] == "tax_rate_exists"
    r = await client.post("/api/v1/tax-rates", headers=h, json={"name": "x", "country": "ZZ", "rate": "1"})
    assert r.status_code == 422
    r = await client.post("/api/v1/tax-rates", headers=h, json={"name": "x", "country": "US", "rate": 0.1})
    assert r.status_code == 201  # JSON numbers are accepted and stored exactly as decimals
    r = await client.patch(f"/api/v1/tax-rates/{rate['id']}", headers=h, json={"rate": "8.875"})
    assert r.status_code == 200 and r.json()["rate"] == "8.8750"
    r = await client.get("/api/v1/tax-rates", headers=h, params={"country": "US"})
    assert len(r.json()["items"]) == 2
    assert (await client.delete(f"/api/v1/tax-rates/{rate['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/tax-rates/{rate['id']}", headers=h)).status_code == 404
    assert (await client.get("/api/v1/tax-rates", headers=tenant.storefront_headers)).status_code == 403


async def test_tax_settings(client, tenant) -> None:  # type: ignore[no-untyped-def]
    h = tenant.admin_headers
    r = await client.get("/api/v1/tax-settings", headers=h)
    assert r.json() == {"prices_include_tax": False, "shipping_tax_class": None}
    r = await client.put("/api/v1/tax-settings", headers=h, json={"prices_include_tax": True,
                                                                  "shipping_tax_class": "standard"})
    assert r.status_code == 200 and r.json() == {"prices_include_tax": True, "shipping_tax_class": "standard"}
    r = await client.put("/api/v1/tax-settings", headers=h, json={"prices_include_tax": False})
    assert r.json() == {"prices_include_tax": False, "shipping_tax_class": None}
    assert (await client.put("/api/v1/tax-settings", headers=tenant.storefront_headers,
                             json={"prices_include_tax": True})).status_code == 403


async def test_table_provider_and_tenant_isolation(client, db, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant(), await make_tenant()
    for body in ({"name": "DE", "country": "DE", "rate": "19"},
                 {"name": "DE books", "country": "DE", "tax_class": "reduced", "rate": "7"}):
        assert (await client.post("/api/v1/tax-rates", headers=a.admin_headers, json=body)).status_code == 201
    await client.put("/api/v1/tax-settings", headers=a.admin_headers, json={"prices_include_tax": True})
    addr = validate_address({"name": "A", "line1": "x", "city": "Berlin", "postal_code": "10115", "country": "DE"})
    async with db.tenant_transaction(a.id) as s:
        assert await taxes.rates_for(s, addr, ["standard", "reduced"]) == {"standard": Decimal(19),
                                                                            "reduced": Decimal(7)}
        assert (await taxes.get_tax_settings(s)).prices_include_tax is True
    async with db.tenant_transaction(b.id) as s:
        assert await taxes.rates_for(s, addr, ["standard", "reduced"]) == {}
        assert (await taxes.get_tax_settings(s)).prices_include_tax is False
    assert (await client.get("/api/v1/tax-rates", headers=b.admin_headers)).json()["items"] == []
