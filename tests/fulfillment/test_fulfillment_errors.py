"""Bad input and races: too many units, another shop's order, unknown carrier or line, an
illegal shipment move (409 with the allowed ones), an unpaid order, two parcels racing for the
same units, and shipping from a location other than the reserved one."""

from __future__ import annotations

import asyncio
import uuid

from fulfillment_helpers import API, create, label, ledger, level, ok, packed, paid_order, ship, shop, step, track

from mercato.platform.events import Relay


async def test_bad_input_is_a_clear_problem(client, tenant, make_tenant) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 2, "Blue": 1}, as_customer=True)
    oid, red = order["id"], order["line_of"]["Red"]
    h = tenant.admin_headers

    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={
        "carrier": "simulated", "items": [{"line_id": red, "quantity": 3}]})
    assert r.status_code == 409 and r.json()["code"] == "quantity_exceeds_remaining"
    assert r.json()["errors"][0]["field"] == "items[0].quantity" and r.json()["remaining"] == 2

    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={
        "carrier": "pigeon-post", "items": [{"line_id": red, "quantity": 1}]})
    assert r.status_code == 422 and r.json()["code"] == "unknown_carrier"
    assert r.json()["errors"][0]["field"] == "carrier" and "simulated" in r.json()["available"]
    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={"carrier": "simulated",
                                                                           "service": "teleport"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "service"

    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={
        "carrier": "simulated", "items": [{"line_id": str(uuid.uuid4()), "quantity": 1}]})
    assert r.status_code == 422 and r.json()["code"] == "order_line_not_found"
    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={
        "carrier": "simulated", "items": [{"line_id": red, "quantity": 0}]})
    assert r.status_code == 422  # payload validation
    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={
        "carrier": "simulated", "items": [{"line_id": red, "quantity": 1}, {"line_id": red, "quantity": 1}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items[1].line_id"
    # both locations' units in one parcel: say where it leaves from
    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={"carrier": "simulated"})
    assert r.status_code == 422 and r.json()["code"] == "location_required"
    r = await client.post(f"{API}/orders/{oid}/shipments", headers=h, json={
        "carrier": "simulated", "location_id": str(uuid.uuid4()), "items": [{"line_id": red, "quantity": 1}]})
    assert r.status_code == 422 and r.json()["code"] == "location_not_found"

    # another shop's order and shipments do not exist here
    parcel = await create(client, tenant, oid, {"carrier": "simulated", "items": [{"line_id": red, "quantity": 1}]})
    other = await make_tenant()
    oh = other.admin_headers
    r = await client.post(f"{API}/orders/{oid}/shipments", headers=oh, json={"carrier": "simulated"})
    assert r.status_code == 404 and r.json()["code"] == "order_not_found"
    assert (await client.get(f"{API}/orders/{oid}/fulfillment", headers=oh)).status_code == 404
    for path in (f"/shipments/{parcel['id']}", f"/shipments/{parcel['id']}/label"):
        assert (await client.get(f"{API}{path}", headers=oh)).status_code == 404
    r = await client.post(f"{API}/shipments/{parcel['id']}/tracking-events", headers=oh, json={"status": "delivered"})
    assert r.status_code == 404 and r.json()["code"] == "shipment_not_found"
    assert (await ok(await client.get(f"{API}/shipments", headers=oh)))["items"] == []

    # illegal moves: 409 with what is allowed now
    r = await client.post(f"{API}/shipments/{parcel['id']}/ship", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    assert r.json()["allowed_transitions"] == ["cancelled", "picked"]
    r = await client.post(f"{API}/shipments/{parcel['id']}/tracking-events", headers=h, json={"status": "delivered"})
    assert r.status_code == 409
    await step(client, tenant, parcel["id"], "packed", status=409)
    r = await client.post(f"{API}/shipments/{parcel['id']}/transitions", headers=h, json={"to": "delivered"})
    assert r.status_code == 422  # not a staff step

    # the storefront key and customers cannot touch fulfillment
    for hdrs in (tenant.storefront_headers, order["customer"]["headers"]):
        r = await client.post(f"{API}/orders/{oid}/shipments", headers=hdrs, json={"carrier": "simulated"})
        assert r.status_code == 403
    r = await client.post(f"{API}/shipments/{parcel['id']}/tracking-events", headers=order["customer"]["headers"],
                          json={"status": "delivered"})
    assert r.status_code == 403

    # cancelling a parcel frees its units; a cancelled parcel is final
    await step(client, tenant, parcel["id"], "cancelled")
    await step(client, tenant, parcel["id"], "picked", status=409)
    alloc = await ok(await client.get(f"{API}/orders/{oid}/fulfillment", headers=h))
    assert next(x for x in alloc["lines"] if x["line_id"] == red)["unallocated"] == 2
    listed = await ok(await client.get(f"{API}/shipments", headers=h, params={"status": "cancelled",
                                                                             "order_id": oid}))
    assert [x["id"] for x in listed["items"]] == [parcel["id"]]


async def test_cancelled_order_cannot_be_fulfilled_and_its_open_parcels_are_cancelled(client, tenant, db,  # type: ignore[no-untyped-def]
                                                                                       worker_db) -> None:
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 2})
    parcel = await create(client, tenant, order["id"], {"carrier": "manual"})
    await step(client, tenant, parcel["id"], "picked")
    await ok(await client.post(f"{API}/orders/{order['id']}/cancel", headers=tenant.admin_headers,
                               json={"reason": "customer called"}))
    r = await client.post(f"{API}/orders/{order['id']}/shipments", headers=tenant.admin_headers,
                          json={"carrier": "manual"})
    assert r.status_code == 409 and r.json()["code"] == "order_not_fulfillable"
    assert r.json()["order_status"] == "cancelled"
    # order.cancelled reaches fulfillment through the outbox: the parcel still in the warehouse is cancelled
    await Relay(worker_db, db).drain()
    after = await ok(await client.get(f"{API}/shipments/{parcel['id']}", headers=tenant.admin_headers))
    assert after["status"] == "cancelled" and after["cancelled_at"]
    assert after["history"][-1]["source"] == "system" and "customer called" in after["history"][-1]["message"]


async def test_two_parcels_racing_for_the_same_units_only_one_wins(client, tenant) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 3})
    body = {"carrier": "simulated", "items": [{"line_id": order["line_of"]["Red"], "quantity": 2}]}
    results = await asyncio.gather(*[client.post(f"{API}/orders/{order['id']}/shipments",
                                                 headers=tenant.admin_headers, json=body) for _ in range(2)])
    assert sorted(r.status_code for r in results) == [201, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["code"] == "quantity_exceeds_remaining" and loser.json()["remaining"] == 1
    shipments = await ok(await client.get(f"{API}/orders/{order['id']}/shipments", headers=tenant.admin_headers))
    assert len(shipments) == 1


async def test_two_staff_shipping_the_last_units_race(client, tenant) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 1})
    parcel = await create(client, tenant, order["id"], {"carrier": "simulated"})
    await packed(client, tenant, parcel["id"])
    await label(client, tenant, parcel["id"])
    results = await asyncio.gather(*[client.post(f"{API}/shipments/{parcel['id']}/ship",
                                                 headers=tenant.admin_headers) for _ in range(2)])
    assert sorted(r.status_code for r in results) == [200, 409]
    assert await level(client, tenant, s["variants"]["Red"], s["locations"]["East"]) == (2, 0)


async def test_shipping_from_another_location_releases_the_hold_there(client, tenant, db) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    east, west = s["locations"]["East"], s["locations"]["West"]
    red = s["variants"]["Red"]
    # West gets Red stock too; the reservation holds Red at East (its priority)
    await ok(await client.post(f"{API}/inventory/adjustments", headers=tenant.admin_headers, json={
        "variant_id": red, "location_id": west, "delta": 4, "reason": "received"}), 201)
    order = await paid_order(client, tenant, s, {"Red": 2})
    assert await level(client, tenant, red, east) == (3, 2)
    parcel = await create(client, tenant, order["id"], {"carrier": "manual", "location_id": west,
                                                        "items": [{"line_id": order["line_of"]["Red"], "quantity": 2}]})
    await packed(client, tenant, parcel["id"])
    await label(client, tenant, parcel["id"])
    await ship(client, tenant, parcel["id"])
    assert await level(client, tenant, red, east) == (3, 0)  # the hold over there is released
    assert await level(client, tenant, red, west) == (2, 0)  # the units left from here
    rows = (await ledger(db, tenant.id, red))[-2:]
    assert sorted(rows) == sorted([("release", east, 0, -2), ("sale", west, -2, 0)])


async def test_shipping_from_a_location_without_stock_is_refused_whole(client, tenant) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 1})
    parcel = await create(client, tenant, order["id"], {"carrier": "manual", "location_id": s["locations"]["West"],
                                                        "items": [{"line_id": order["line_of"]["Red"], "quantity": 1}]})
    await packed(client, tenant, parcel["id"])
    await label(client, tenant, parcel["id"])
    r = await client.post(f"{API}/shipments/{parcel['id']}/ship", headers=tenant.admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "insufficient_stock"
    o = await ok(await client.get(f"{API}/orders/{order['id']}", headers=tenant.admin_headers))
    assert o["status"] == "paid" and o["lines"][0]["quantity_fulfilled"] == 0  # nothing half-done
    assert (await ok(await client.get(f"{API}/shipments/{parcel['id']}", headers=tenant.admin_headers)))["status"] \
        == "label_created"


async def test_staff_status_update_ships_what_fulfillment_left(client, tenant) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 2, "Blue": 2})
    parcel = await create(client, tenant, order["id"], {"carrier": "simulated", "location_id": s["locations"]["East"]})
    await packed(client, tenant, parcel["id"])
    await label(client, tenant, parcel["id"])
    await ship(client, tenant, parcel["id"])
    r = await client.post(f"{API}/orders/{order['id']}/transitions", headers=tenant.admin_headers,
                          json={"to": "shipped", "reason": "shipped outside Mercato"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "shipped" and r.json()["fulfillment_status"] == "fulfilled"
    assert await level(client, tenant, s["variants"]["Red"], s["locations"]["East"]) == (1, 0)
    assert await level(client, tenant, s["variants"]["Blue"], s["locations"]["West"]) == (3, 0)
    # parcels delivered after the order shipped whole do not fail: the order was shipped outside them
    await track(client, tenant, parcel["id"], "delivered")
