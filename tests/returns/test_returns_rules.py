"""The problems a return request can meet, through HTTP: rejection with a note, the window, an
order not delivered, too many units, someone else's order or return, another shop; guests with
their proof; withdrawing a request; staff lists and settings."""

from __future__ import annotations

import asyncio

import pytest
from commerce_helpers import customer_headers
from returns_helpers import API, customer_order, guest_order, line_of, make_shop, ok, outbox
from sqlalchemy import text

from mercato.notifications import sinks
from mercato.platform.events import Relay


def _req(order: dict, line: dict, qty: int = 1, reason: str = "defective") -> dict:  # type: ignore[type-arg]
    return {"order_id": order["id"], "lines": [{"order_line_id": line["id"], "quantity": qty, "reason": reason}]}


async def test_reject_with_a_note_the_customer_sees(client, tenant, db, worker_db, settings) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 1)])
    order, ch = bought["order"], bought["headers"]
    r = await ok(await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, line_of(order, shop, "S"))), 201)
    bad = await client.post(f"{API}/returns/{r['id']}/reject", headers=tenant.admin_headers, json={})
    assert bad.status_code == 422
    rejected = await ok(await client.post(f"{API}/returns/{r['id']}/reject", headers=tenant.admin_headers,
                                          json={"note": "Worn items cannot be returned."}))
    assert (rejected["status"], rejected["rma_number"], rejected["allowed_transitions"]) == ("rejected", None, [])
    mine = await ok(await client.get(f"{API}/returns/mine/{r['id']}", headers=ch))
    assert mine["decision_note"] == "Worn items cannot be returned."
    again = await client.post(f"{API}/returns/{r['id']}/approve", headers=tenant.admin_headers)
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert again.json()["allowed_transitions"] == []
    [ev] = [e for e in await outbox(worker_db, tenant.id) if e["type"] == "return.rejected"]
    assert ev["data"]["note"] == "Worn items cannot be returned." and ev["data"]["order_id"] == order["id"]
    await Relay(worker_db, db).drain()  # the customer is told, with the note
    async with db.tenant_transaction(tenant.id) as s:
        sent = (await s.execute(text("SELECT id, recipient FROM notification_log WHERE template = "
                                     "'return_rejected'"))).mappings().all()
    assert [x["recipient"] for x in sent] == [bought["customer"]["email"]]
    [mail] = sorted(sinks.mail_dir(settings).glob(f"*-{sent[0]['id']}.eml"))
    assert "Worn items cannot be returned." in mail.read_text()
    # A rejected request no longer holds the units: they may be asked for again.
    await ok(await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, line_of(order, shop, "S"))), 201)


async def test_window_and_delivery_are_required(client, tenant) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 1)])
    ch, staff = bought["headers"], tenant.admin_headers
    settings = await ok(await client.get(f"{API}/returns/settings", headers=staff))
    assert settings["window_days"] == 30
    await ok(await client.patch(f"{API}/returns/settings", headers=staff, json={"window_days": 0}))
    closed = await client.post(f"{API}/returns/mine", headers=ch,
                               json=_req(bought["order"], line_of(bought["order"], shop, "S")))
    assert closed.status_code == 409, closed.text
    assert closed.json()["code"] == "return_window_closed" and closed.json()["window_days"] == 0
    assert closed.headers["content-type"].startswith("application/problem+json")
    staff_late = await client.post(f"{API}/returns", headers=staff,
                                   json=_req(bought["order"], line_of(bought["order"], shop, "S")))
    assert staff_late.status_code == 409
    goodwill = await ok(await client.post(f"{API}/returns", headers=staff, json={
        **_req(bought["order"], line_of(bought["order"], shop, "S")), "ignore_window": True}), 201)
    assert goodwill["requested_by"] == "staff"
    customer_flag = await client.post(f"{API}/returns/mine", headers=ch, json={
        **_req(bought["order"], line_of(bought["order"], shop, "S")), "ignore_window": True})
    assert customer_flag.status_code == 422  # customers cannot waive it
    await ok(await client.patch(f"{API}/returns/settings", headers=staff, json={"window_days": 30}))

    paid = await customer_order(client, tenant, shop, [("M", 1)], customer=bought["customer"], delivered=False)
    early = await client.post(f"{API}/returns/mine", headers=ch,
                              json=_req(paid["order"], line_of(paid["order"], shop, "M")))
    assert early.status_code == 409 and early.json()["code"] == "order_not_returnable"
    assert early.json()["order_status"] == "paid"


async def test_quantities_never_exceed_what_was_delivered(client, tenant) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 2), ("M", 1)])
    order, ch, staff = bought["order"], bought["headers"], tenant.admin_headers
    small = line_of(order, shop, "S")
    too_many = await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, small, qty=3))
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "return_quantity_invalid" and too_many.json()["returnable"] == 2
    assert too_many.json()["errors"][0]["field"] == "lines[0].quantity"
    twice = await client.post(f"{API}/returns/mine", headers=ch, json={"order_id": order["id"], "lines": [
        {"order_line_id": small["id"], "quantity": 1, "reason": "other"},
        {"order_line_id": small["id"], "quantity": 1, "reason": "other"}]})
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "lines[1].order_line_id"
    bad_reason = await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, small, reason="meh"))
    assert bad_reason.status_code == 422

    first = await ok(await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, small, qty=1)), 201)
    # One unit is on its way back in an open return: only one more may be asked for.
    pending = await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, small, qty=2))
    assert pending.status_code == 422 and pending.json()["returnable"] == 1
    second = await ok(await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, small, qty=1)), 201)
    for r in (first, second):
        await ok(await client.post(f"{API}/returns/{r['id']}/approve", headers=staff))
        await ok(await client.post(f"{API}/returns/{r['id']}/receive", headers=staff, json={"lines": [
            {"return_line_id": r["lines"][0]["id"], "condition": "damaged"}]}))
    second = await ok(await client.get(f"{API}/returns/{second['id']}", headers=staff))
    assert second["rma_number"].endswith("-2")
    # Both units came back: a third return of that line is refused; the other line still may.
    done = await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, small, qty=1))
    assert done.status_code == 422 and done.json()["returnable"] == 0
    order_now = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert order_now["fulfillment_status"] == "fulfilled"  # the M is still with the customer
    # The two parcels were each worth half of the line, to the cent.
    assert first["id"] != second["id"]
    values = [(await ok(await client.get(f"{API}/returns/{x['id']}", headers=staff)))["items_value"]
              for x in (first, second)]
    assert sum(values) == small["total"]


async def test_other_customers_and_other_shops_see_nothing(client, tenant, make_tenant) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 1)])
    order = bought["order"]
    mine = await ok(await client.post(f"{API}/returns/mine", headers=bought["headers"],
                                      json=_req(order, line_of(order, shop, "S"))), 201)
    stranger = await customer_headers(client, tenant)
    r = await client.post(f"{API}/returns/mine", headers=stranger["headers"], json=_req(order, line_of(order, shop, "S")))
    assert r.status_code == 404 and r.json()["code"] == "order_not_found"
    r = await client.get(f"{API}/returns/mine/{mine['id']}", headers=stranger["headers"])
    assert r.status_code == 404 and r.json()["code"] == "return_not_found"
    r = await client.post(f"{API}/returns/mine/{mine['id']}/cancel", headers=stranger["headers"])
    assert r.status_code == 404
    assert (await ok(await client.get(f"{API}/returns/mine", headers=stranger["headers"])))["items"] == []
    # Customers cannot act as staff.
    r = await client.post(f"{API}/returns/{mine['id']}/approve", headers=bought["headers"])
    assert r.status_code == 403
    # Another shop's staff: not found, not listed.
    other = await make_tenant()
    r = await client.get(f"{API}/returns/{mine['id']}", headers=other.admin_headers)
    assert r.status_code == 404
    assert (await ok(await client.get(f"{API}/returns", headers=other.admin_headers)))["items"] == []
    r = await client.post(f"{API}/returns/{mine['id']}/approve", headers=other.admin_headers)
    assert r.status_code == 404


async def test_guest_returns_with_order_number_and_email(client, tenant) -> None:
    shop = await make_shop(client, tenant)
    order = await guest_order(client, tenant, shop, [("S", 1)], email="Guest@Example.com")
    sf = tenant.storefront_headers
    body = {"order_number": order["number"], "email": "guest@example.com",
            "lines": [{"order_line_id": line_of(order, shop, "S")["id"], "quantity": 1, "reason": "wrong_item"}]}
    wrong = await client.post(f"{API}/returns/guest", headers=sf, json={**body, "email": "someone@example.com"})
    assert wrong.status_code == 404
    no_shop = await client.post(f"{API}/returns/guest", json=body)
    assert no_shop.status_code == 422 and no_shop.json()["code"] == "tenant_required"
    created = await ok(await client.post(f"{API}/returns/guest", headers=sf, json=body), 201)
    assert (created["requested_by"], created["customer_id"]) == ("guest", None)
    seen = await ok(await client.get(f"{API}/returns/guest/{created['id']}", headers=sf,
                                     params={"number": order["number"].lower(), "email": "GUEST@example.com"}))
    assert seen["id"] == created["id"]
    hidden = await client.get(f"{API}/returns/guest/{created['id']}", headers=sf,
                              params={"number": order["number"], "email": "other@example.com"})
    assert hidden.status_code == 404


async def test_withdraw_and_staff_lists(client, tenant) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 1), ("M", 1)])
    order, ch, staff = bought["order"], bought["headers"], tenant.admin_headers
    first = await ok(await client.post(f"{API}/returns/mine", headers=ch, json=_req(order, line_of(order, shop, "S"))),
                     201)
    withdrawn = await ok(await client.post(f"{API}/returns/mine/{first['id']}/cancel", headers=ch,
                                           json={"reason": "kept it"}))
    assert withdrawn["status"] == "cancelled" and withdrawn["cancelled_at"]
    again = await client.post(f"{API}/returns/mine/{first['id']}/cancel", headers=ch)
    assert again.status_code == 409
    by_staff = await ok(await client.post(f"{API}/returns", headers=staff,
                                          json=_req(order, line_of(order, shop, "M"), reason="arrived_late")), 201)
    assert by_staff["requested_by"] == "staff"
    await ok(await client.post(f"{API}/returns/{by_staff['id']}/cancel", headers=staff))
    listed = await ok(await client.get(f"{API}/returns", headers=staff, params={"order_id": order["id"]}))
    assert [x["id"] for x in listed["items"]] == [by_staff["id"], first["id"]]
    page = await ok(await client.get(f"{API}/returns", headers=staff, params={"limit": 1}))
    assert page["has_more"] and page["next_cursor"]
    page2 = await ok(await client.get(f"{API}/returns", headers=staff, params={"limit": 1,
                                                                              "cursor": page["next_cursor"]}))
    assert [x["id"] for x in page2["items"]] == [first["id"]]
    assert (await ok(await client.get(f"{API}/returns", headers=staff, params={"status": "requested"})))["items"] == []
    not_received = await client.post(f"{API}/returns/{by_staff['id']}/receive", headers=staff, json={"lines": [
        {"return_line_id": by_staff["lines"][0]["id"], "condition": "damaged"}]})
    assert not_received.status_code == 409


@pytest.mark.slow
async def test_concurrent_requests_never_ask_back_more_than_delivered(client, tenant) -> None:
    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 2)])
    order = bought["order"]
    body = _req(order, line_of(order, shop, "S"), qty=2)
    results = await asyncio.gather(*(client.post(f"{API}/returns/mine", headers=bought["headers"], json=body)
                                     for _ in range(4)))
    assert sorted(r.status_code for r in results) == [201, 422, 422, 422], [r.text for r in results]
    assert {r.json()["code"] for r in results if r.status_code == 422} == {"return_quantity_invalid"}


async def test_the_staff_list_runs_a_fixed_number_of_statements(client, tenant, app) -> None:
    from sqlalchemy import event

    shop = await make_shop(client, tenant)
    bought = await customer_order(client, tenant, shop, [("S", 6)])
    order, staff = bought["order"], tenant.admin_headers
    engine = app.state.db.engine.sync_engine

    async def statements() -> int:
        count = 0

        def counter(*_args, **_kw) -> None:  # type: ignore[no-untyped-def]
            nonlocal count
            count += 1

        event.listen(engine, "before_cursor_execute", counter)
        try:
            r = await client.get(f"{API}/returns", headers=staff, params={"limit": 50, "order_id": order["id"]})
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        assert r.status_code == 200
        return count

    await ok(await client.post(f"{API}/returns", headers=staff, json=_req(order, line_of(order, shop, "S"))), 201)
    await statements()  # warm caches
    one = await statements()
    for _ in range(5):
        await ok(await client.post(f"{API}/returns", headers=staff, json=_req(order, line_of(order, shop, "S"))), 201)
    listed = await ok(await client.get(f"{API}/returns", headers=staff, params={"order_id": order["id"]}))
    assert len(listed["items"]) == 6 and all(len(x["lines"]) == 1 for x in listed["items"])
    assert await statements() == one
