"""A customer's addresses: CRUD, validation, exactly one default, and nobody else's (404)."""

from __future__ import annotations

import uuid

from identity_helpers import bearer, customer_tokens

API = "/api/v1/users/me/addresses"
HOME = {"first_name": "Ann", "last_name": "Lee", "line1": "1 Main St", "city": "Berlin", "country": "de",
        "postal_code": "10115", "phone": "030 123456"}


async def test_crud_and_default(client, tenant) -> None:
    auth = bearer((await customer_tokens(client, tenant))["access_token"])
    r = await client.post(API, headers=auth, json=HOME)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["is_default"] is True and first["country"] == "DE" and first["phone"] == "+4930123456"
    second = (await client.post(API, headers=auth, json={**HOME, "line1": "2 Side St", "phone": None})).json()
    assert second["is_default"] is False
    third = (await client.post(API, headers=auth, json={**HOME, "line1": "3 Other St", "is_default": True})).json()
    assert third["is_default"] is True
    items = (await client.get(API, headers=auth)).json()["items"]
    assert [a["is_default"] for a in items].count(True) == 1 and items[0]["id"] == third["id"]

    r = await client.patch(f"{API}/{second['id']}", headers=auth, json={"is_default": True, "city": "Hamburg"})
    assert r.status_code == 200 and r.json()["is_default"] is True and r.json()["city"] == "Hamburg"
    items = (await client.get(API, headers=auth)).json()["items"]
    assert [a["id"] for a in items if a["is_default"]] == [second["id"]]
    # unsetting the only default is refused quietly: there is always one
    r = await client.patch(f"{API}/{second['id']}", headers=auth, json={"is_default": False})
    assert r.json()["is_default"] is True

    assert (await client.delete(f"{API}/{second['id']}", headers=auth)).status_code == 204
    items = (await client.get(API, headers=auth)).json()["items"]
    assert len(items) == 2 and [a["id"] for a in items if a["is_default"]] == [third["id"]]  # newest takes over
    assert (await client.get(f"{API}/{second['id']}", headers=auth)).status_code == 404
    assert (await client.get(f"{API}/{first['id']}", headers=auth)).json()["line1"] == "1 Main St"


async def test_validation(client, tenant) -> None:
    auth = bearer((await customer_tokens(client, tenant))["access_token"])
    r = await client.post(API, headers=auth, json={**HOME, "country": "XX"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_country"
    r = await client.post(API, headers=auth, json={**HOME, "phone": "12"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_phone"
    r = await client.post(API, headers=auth, json={**HOME, "user_id": str(uuid.uuid4())})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_field"
    r = await client.post(API, headers=auth, json={k: v for k, v in HOME.items() if k != "city"})
    assert r.status_code == 422
    assert (await client.get(API)).status_code == 401


async def test_another_customers_address_is_not_found(client, tenant) -> None:
    alice = bearer((await customer_tokens(client, tenant))["access_token"])
    bob = bearer((await customer_tokens(client, tenant))["access_token"])
    addr = (await client.post(API, headers=alice, json=HOME)).json()
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"city": "Evil"}}), ("DELETE", {})):
        r = await client.request(method, f"{API}/{addr['id']}", headers=bob, **kwargs)
        assert r.status_code == 404 and r.json()["code"] == "address_not_found", method
    assert (await client.get(API, headers=bob)).json()["items"] == []
    assert (await client.get(f"{API}/{addr['id']}", headers=alice)).json()["city"] == "Berlin"


async def test_customer_of_another_shop_cannot_see_addresses(client, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    alice = bearer((await customer_tokens(client, a))["access_token"])
    addr = (await client.post(API, headers=alice, json=HOME)).json()
    mallory = bearer((await customer_tokens(client, b))["access_token"])
    assert (await client.get(f"{API}/{addr['id']}", headers=mallory)).status_code == 404
