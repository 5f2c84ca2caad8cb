"""Which events cause which messages, to whom, in which language — and bad events are skipped."""

from __future__ import annotations

import uuid

from notification_helpers import API, bodies, eml_for, log_rows, order_paid_data, parse_eml, publish_event, relay_until
from sqlalchemy import text

from mercato.platform.events import Relay


async def _sent(db, relay: Relay, tenant_id: uuid.UUID, where: str, count: int = 1, **params):  # type: ignore[no-untyped-def]
    async def done():  # type: ignore[no-untyped-def]
        rows = await log_rows(db, tenant_id, where, **params)
        return rows if len(rows) >= count and all(r.status != "queued" for r in rows) else None

    return await relay_until(relay, done)


async def _published(worker_db, event_id: uuid.UUID) -> bool:  # type: ignore[no-untyped-def]
    async with worker_db.transaction() as s:
        return (await s.execute(text("SELECT published_at IS NOT NULL FROM outbox WHERE event_id = :e"),
                                {"e": event_id})).scalar_one()


async def test_order_paid_twice_still_sends_one_confirmation(db, worker_db, tenant, settings) -> None:
    data = order_paid_data(email_addr=f"x{uuid.uuid4().hex[:6]}@example.com", number="#2001")
    first = await publish_event(db, tenant.id, "order.paid", data)
    second = await publish_event(db, tenant.id, "order.paid", data)  # e.g. a webhook replayed by the gateway
    relay = Relay(worker_db, db)
    await relay_until(relay, lambda: _published(worker_db, second))
    rows = await log_rows(db, tenant.id, "template = 'order_confirmation' AND recipient = :r", r=data["email"])
    assert len(rows) == 1 and rows[0].event_id == first and rows[0].status == "sent"


async def test_a_german_customer_gets_the_german_confirmation(db, worker_db, tenant, settings) -> None:
    data = order_paid_data(email_addr=f"de{uuid.uuid4().hex[:6]}@example.com", number="#2002", locale="de-DE")
    await publish_event(db, tenant.id, "order.paid", data)
    [row] = await _sent(db, Relay(worker_db, db), tenant.id, "recipient = :r", r=data["email"])
    assert (row.locale, row.subject) == ("de", "Bestellung #2002 bestätigt")
    text_body, html_body = bodies(parse_eml(eml_for(settings, row.id)[0]))
    assert "Gesamt:        1,269.53 EUR" in text_body and html_body and '<html lang="de">' in html_body


async def test_registration_sends_welcome_and_verification_once_each(client, db, worker_db, tenant, settings) -> None:
    email_addr = f"new{uuid.uuid4().hex[:6]}@example.com"
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers,
                          json={"email": email_addr, "password": "a perfectly fine passphrase", "first_name": "Lea",
                                "locale": "de"})
    assert r.status_code == 201, r.text
    user_id = uuid.UUID(r.json()["id"])
    rows = await _sent(db, Relay(worker_db, db), tenant.id, "recipient = :r", count=2, r=email_addr)
    assert sorted(r.template for r in rows) == ["email_verification", "welcome"]
    assert all(r.user_id == user_id and r.status == "sent" for r in rows)
    welcome = next(r for r in rows if r.template == "welcome")
    assert (welcome.locale, welcome.subject) == ("de", "Willkommen")
    assert "Hallo Lea" in parse_eml(eml_for(settings, welcome.id)[0]).get_body(("plain",)).get_content()


async def test_deactivation_sends_a_farewell(client, db, worker_db, tenant, settings) -> None:
    email_addr = f"bye{uuid.uuid4().hex[:6]}@example.com"
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers,
                          json={"email": email_addr, "password": "a perfectly fine passphrase", "first_name": "Max"})
    user_id = r.json()["id"]
    r = await client.post(f"{API}/users/{user_id}/deactivate", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    [row] = await _sent(db, Relay(worker_db, db), tenant.id, "template = 'account_deactivated' AND recipient = :r",
                        r=email_addr)
    assert row.status == "sent" and str(row.user_id) == user_id and row.subject == "Your account was closed"


async def test_shipping_delivery_cancel_refund_and_return_messages(db, worker_db, tenant, settings) -> None:
    base = order_paid_data(email_addr=f"s{uuid.uuid4().hex[:6]}@example.com", number="#2003", locale="fr")
    o = {k: base[k] for k in ("order_id", "number", "email", "locale", "currency")}
    await publish_event(db, tenant.id, "order.shipped", {**o, "shipment_id": str(uuid.uuid4()), "carrier": "DHL",
                                                         "tracking_number": "JD0001",
                                                         "tracking_url": "https://track.test/JD0001?a=1&b=2"})
    await publish_event(db, tenant.id, "order.delivered", o)
    await publish_event(db, tenant.id, "order.cancelled", {**o, "reason": "customer request"})
    await publish_event(db, tenant.id, "order.refunded", {**o, "refund_id": str(uuid.uuid4()), "amount": 1500})
    await publish_event(db, tenant.id, "return.approved", {**o, "return_id": str(uuid.uuid4()), "rma_number": "RMA-7"})
    rows = await _sent(db, Relay(worker_db, db), tenant.id, "recipient = :r", count=5, r=o["email"])
    by_template = {r.template: r for r in rows}
    assert set(by_template) == {"order_shipped", "order_delivered", "order_cancelled", "order_refunded",
                                "return_approved"}
    shipped = by_template["order_shipped"]
    assert (shipped.locale, shipped.subject) == ("fr", "Votre commande #2003 est en route")
    text_body, html_body = bodies(parse_eml(eml_for(settings, shipped.id)[0]))
    assert "https://track.test/JD0001?a=1&b=2" in text_body
    assert html_body and '<a href="https://track.test/JD0001?a=1&amp;b=2">' in html_body
    refunded = parse_eml(eml_for(settings, by_template["order_refunded"].id)[0])
    assert "15.00 EUR" in bodies(refunded)[0]
    assert "RMA-7" in (by_template["return_approved"].subject or "")


async def test_payment_failure_from_either_module_sends_one_message(db, worker_db, tenant) -> None:
    base = order_paid_data(email_addr=f"pf{uuid.uuid4().hex[:6]}@example.com", number="#2004")
    payment_id = str(uuid.uuid4())
    data = {**{k: base[k] for k in ("order_id", "number", "email", "currency")}, "payment_id": payment_id,
            "amount": 126953, "failure_message": "Your card was declined."}
    await publish_event(db, tenant.id, "order.payment_failed", data)
    await publish_event(db, tenant.id, "payment.failed", data, aggregate_type="payment", aggregate_id=payment_id)
    relay = Relay(worker_db, db)
    await _sent(db, relay, tenant.id, "recipient = :r", r=data["email"])
    await relay.drain()
    [row] = await log_rows(db, tenant.id, "recipient = :r", r=data["email"])
    assert row.template == "payment_failed" and row.subject == "Payment for order #2004 failed"


async def test_low_stock_goes_to_owner_admin_and_merchant_only(client, db, worker_db, tenant, settings) -> None:
    merchant = f"m{uuid.uuid4().hex[:6]}@example.com"
    support = f"s{uuid.uuid4().hex[:6]}@example.com"
    for addr, role in ((merchant, "merchant"), (support, "support")):
        r = await client.post(f"{API}/users", headers=tenant.admin_headers, json={"email": addr, "role": role})
        assert r.status_code == 201, r.text
    variant_id = str(uuid.uuid4())
    event_id = await publish_event(db, tenant.id, "inventory.low_stock", {
        "variant_id": variant_id, "location_id": str(uuid.uuid4()), "level_id": str(uuid.uuid4()), "available": 3,
        "threshold": 5}, aggregate_type="variant_inventory", aggregate_id=variant_id)
    rows = await _sent(db, Relay(worker_db, db), tenant.id, "event_id = :e", count=2, e=event_id)
    assert sorted(r.recipient for r in rows) == sorted([tenant.owner_email, merchant])
    assert all(r.template == "low_stock" and r.user_id for r in rows)
    body = bodies(parse_eml(eml_for(settings, rows[0].id)[0]))[0]
    assert "Available: 3 (threshold 5)" in body and variant_id in body


async def test_disabled_webhook_endpoint_tells_the_owner(db, worker_db, tenant) -> None:
    event_id = await publish_event(db, tenant.id, "webhook_endpoint.disabled", {
        "endpoint_id": str(uuid.uuid4()), "url": "https://hooks.test/in", "failing_since": "2026-11-20T10:00:00+00:00",
        "last_error": "HTTP 500"}, aggregate_type="webhook_endpoint")
    [row] = await _sent(db, Relay(worker_db, db), tenant.id, "event_id = :e", e=event_id)
    assert row.recipient == tenant.owner_email and row.template == "webhook_endpoint_disabled"


async def test_events_without_usable_data_are_skipped_not_retried(db, worker_db, tenant) -> None:
    bad = [
        ("order.paid", {"order_id": str(uuid.uuid4()), "number": "#1"}),  # no lines, no customer, no get_order
        ("order.paid", {"order_id": "not-a-uuid"}),
        ("order.shipped", {"email": "x@example.com", "lines": "nope", "order_id": str(uuid.uuid4())}),
        ("user.deactivated", {"user_id": str(uuid.uuid4()), "role": "customer"}),  # unknown user
        ("inventory.low_stock", {"available": 1}),
        ("webhook_endpoint.disabled", {}),
        ("notification.requested", {"channel": "pigeon", "to": "x@example.com", "template": "welcome"}),
        ("notification.requested", {"channel": "email", "template": "welcome"}),
    ]
    ids = [await publish_event(db, tenant.id, t, d, aggregate_type="junk", aggregate_id=uuid.uuid4()) for t, d in bad]
    relay = Relay(worker_db, db)
    for event_id in ids:
        await relay_until(relay, lambda e=event_id: _published(worker_db, e))
    async with worker_db.transaction() as s:
        attempts = (await s.execute(text("SELECT attempts FROM outbox WHERE event_id = ANY(:ids)"),
                                    {"ids": ids})).scalars().all()
    assert attempts == [0] * len(ids)  # delivered (and skipped) the first time: no retry loop
    rows = await log_rows(db, tenant.id, "event_id = ANY(:ids)", ids=ids)
    # Only the shipped event with an address but junk lines still tells the customer (no lines shown).
    assert [r.template for r in rows] == ["order_shipped"]


async def test_a_real_order_paid_event_gets_lines_and_language_from_the_orders_module(db, worker_db, tenant,
                                                                                      settings) -> None:
    import mercato.orders as orders

    email_addr = f"real{uuid.uuid4().hex[:6]}@example.com"
    line = orders.OrderLineDraft(variant_id=uuid.uuid4(), product_id=uuid.uuid4(), sku="BAG-1", product_name="Bag",
                                 variant_title="Red", quantity=3, unit_price=2500, subtotal=7500, discount=0, tax=0,
                                 total=7500)
    draft = orders.OrderDraft(currency="EUR", email=email_addr, lines=(line,), subtotal=7500, discount_total=0,
                              shipping_total=500, shipping_discount=0, tax_total=0, total=8000,
                              prices_include_tax=True, shipping_address=None, billing_address=None,
                              payment_method="test", locale="de")
    async with db.tenant_transaction(tenant.id) as s:
        placed = await orders.place_order(s, draft)
    async with db.tenant_transaction(tenant.id) as s:
        await orders.record_payment(s, placed.id, outcome="captured", amount=8000)
    async with worker_db.transaction() as s:
        data = (await s.execute(text("SELECT data FROM outbox WHERE tenant_id = :t AND type = 'order.paid' "
                                     "AND aggregate_id = :o"), {"t": tenant.id, "o": str(placed.id)})).scalar_one()
    assert "lines" not in data and "locale" not in data  # what orders publish: the handler fetches the rest
    [row] = await _sent(db, Relay(worker_db, db), tenant.id, "template = 'order_confirmation' AND recipient = :r",
                        r=email_addr)
    assert (row.status, row.locale, row.subject) == ("sent", "de", f"Bestellung {placed.number} bestätigt")
    text_body = bodies(parse_eml(eml_for(settings, row.id)[0]))[0]
    assert "3 x Bag — Red (BAG-1)  75.00 EUR" in text_body and "Gesamt:        80.00 EUR" in text_body
