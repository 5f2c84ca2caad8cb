"""Tracking updates beyond the happy path: a pickup scan ships the parcel, repeated scans, a failed
delivery that comes back to the sender, listing by tracking number with cursor pages, and the
retry job's entry point."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fulfillment_helpers import API, create, events, label, level, ok, packed, paid_order, shop, track
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import mercato.fulfillment as fulfillment


async def test_pickup_scan_ships_and_a_failed_delivery_returns(client, tenant, worker_db) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 1})
    parcel = await create(client, tenant, order["id"], {"carrier": "simulated", "service": "express"})
    await packed(client, tenant, parcel["id"])
    await label(client, tenant, parcel["id"])

    picked_up = await track(client, tenant, parcel["id"], "shipped", event_id="pickup-1", location="East DC")
    assert picked_up["status"] == "shipped"
    assert await level(client, tenant, s["variants"]["Red"], s["locations"]["East"]) == (2, 0)
    assert (await track(client, tenant, parcel["id"], "shipped", status=200, event_id="pickup-1"))["status"] == "shipped"

    await track(client, tenant, parcel["id"], "in_transit", location="Reno, NV")
    scan = await track(client, tenant, parcel["id"], "in_transit", location="Sacramento, CA")  # same status: a scan
    assert scan["status"] == "in_transit"
    assert [e["location"] for e in scan["history"] if e["kind"] == "tracking"][-1] == "Sacramento, CA"
    failed = await track(client, tenant, parcel["id"], "failed", description="Address not found")
    assert failed["status"] == "failed" and set(failed["allowed_transitions"]) == {
        "in_transit", "out_for_delivery", "delivered", "returned"}
    back = await track(client, tenant, parcel["id"], "returned", description="Returned to sender")
    assert back["status"] == "returned" and back["allowed_transitions"] == []
    o = await ok(await client.get(f"{API}/orders/{order['id']}", headers=tenant.admin_headers))
    assert o["status"] == "shipped"  # a returned parcel never delivers the order
    # the guest follows the parcel with the order number and email (both must match)
    sf = tenant.storefront_headers
    theirs = await ok(await client.get(f"{API}/orders/lookup/shipments", headers=sf,
                                       params={"number": o["number"].lower(), "email": o["email"]}))
    [p] = theirs["items"]
    assert p["status"] == "returned" and p["tracking_number"] == picked_up["tracking_number"]
    assert [u["status"] for u in p["tracking"]] == ["shipped", "in_transit", "in_transit", "failed", "returned"]
    wrong = await client.get(f"{API}/orders/lookup/shipments", headers=sf,
                             params={"number": o["number"], "email": "someone@else.example"})
    assert wrong.status_code == 404
    nameless = await client.get(f"{API}/orders/lookup/shipments", params={"number": o["number"], "email": o["email"]})
    assert nameless.status_code == 422 and nameless.json()["code"] == "tenant_required"
    types = [e.type for e in await events(worker_db, tenant.id, ("shipment.",))
             if e.data["shipment_id"] == parcel["id"]]
    assert types[-5:] == ["shipment.shipped", "shipment.in_transit", "shipment.tracking_updated", "shipment.failed",
                          "shipment.returned"]


async def test_shipments_list_by_tracking_number_with_cursor_pages(client, tenant) -> None:  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 3})
    ids = []
    for _ in range(3):
        p = await create(client, tenant, order["id"], {"carrier": "simulated",
                                                        "items": [{"line_id": order["line_of"]["Red"], "quantity": 1}]})
        ids.append(p["id"])
    h = tenant.admin_headers
    page1 = await ok(await client.get(f"{API}/shipments", headers=h, params={"limit": 2, "order_id": order["id"]}))
    assert [x["id"] for x in page1["items"]] == ids[::-1][:2] and page1["has_more"]
    page2 = await ok(await client.get(f"{API}/shipments", headers=h, params={"limit": 2, "order_id": order["id"],
                                                                            "cursor": page1["next_cursor"]}))
    assert [x["id"] for x in page2["items"]] == [ids[0]] and not page2["has_more"]
    bad = await client.get(f"{API}/shipments", headers=h, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
    await packed(client, tenant, ids[0])
    labelled = await label(client, tenant, ids[0])
    found = await ok(await client.get(f"{API}/shipments", headers=h,
                                      params={"tracking_number": labelled["tracking_number"], "carrier": "simulated"}))
    assert [x["id"] for x in found["items"]] == [ids[0]]
    listed = await ok(await client.get(f"{API}/orders/{order['id']}/shipments", headers=h))
    assert [x["sequence"] for x in listed] == [1, 2, 3]


async def test_retry_job_entry_point_logs_and_survives_a_broken_carrier(client, tenant, db, worker_db,  # type: ignore[no-untyped-def]
                                                                        fulfillment_env, caplog) -> None:
    fulfillment_env(fulfillment_retry_base_seconds=0.01, fulfillment_retry_max_seconds=0.01)

    class Broken:
        """A fake third party whose integration has a bug (not a carrier outage): not retried as one."""

        name = "broken-carrier"
        services = ("parcel",)
        fail = True

        async def create_label(self, request: fulfillment.LabelRequest) -> fulfillment.Label:
            if self.fail:
                raise fulfillment.CarrierError("timeout talking to carrier")
            raise RuntimeError("integration bug")

    carrier = Broken()
    fulfillment.register_carrier(carrier)
    try:
        s = await shop(client, tenant)
        order = await paid_order(client, tenant, s, {"Red": 1})
        parcel = await create(client, tenant, order["id"], {"carrier": carrier.name})
        await packed(client, tenant, parcel["id"])
        await label(client, tenant, parcel["id"], status=202)
        carrier.fail = False
        caplog.set_level(logging.ERROR, logger="mercato.fulfillment.tasks")
        await asyncio.sleep(0.05)
        await fulfillment.run_retry_labels(db, worker_db)  # the bug is logged; the job goes on
        assert any("label retry failed" in r.getMessage() for r in caplog.records)
        after = await ok(await client.get(f"{API}/shipments/{parcel['id']}", headers=tenant.admin_headers))
        assert after["status"] == "packed" and after["label_attempts"] == 1  # rolled back, due again
        await ok(await client.post(f"{API}/shipments/{parcel['id']}/transitions", headers=tenant.admin_headers,
                                   json={"to": "cancelled"}))  # no due retry left behind for other tests
    finally:
        fulfillment.unregister_carrier(carrier.name)


async def test_worker_role_sees_only_what_the_retry_scan_needs(worker_db) -> None:  # type: ignore[no-untyped-def]
    """The retry job lists due retries as the worker role: four columns of ``shipments``, nothing else."""
    async with worker_db.transaction() as s:
        await s.execute(text("SELECT tenant_id, id, status, label_next_attempt_at FROM shipments LIMIT 1"))
    for sql in ("SELECT tracking_number FROM shipments LIMIT 1", "SELECT 1 FROM shipment_labels LIMIT 1",
                "SELECT 1 FROM shipment_items LIMIT 1"):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with worker_db.transaction() as s:
                await s.execute(text(sql))
