"""The notifications API: template overrides, sending to a user, the log (masked), my messages, isolation."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notification_helpers import API, bodies, eml_for, log_rows, parse_eml, relay_until

from mercato.platform.events import Relay

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))

from commerce_helpers import customer_headers

OVERRIDE = {"key": "welcome", "locale": "en", "subject": "Hey {{ first_name }}, welcome to Acme",
            "text": "Hi {{ first_name }}! {{ context.note }}", "html": "<h1>Hi {{ first_name }}</h1>"}


async def _until_sent(db, worker_db, tenant_id, notification_id):  # type: ignore[no-untyped-def]
    async def done():  # type: ignore[no-untyped-def]
        rows = await log_rows(db, tenant_id, "id = :id AND status <> 'queued'", id=notification_id)
        return rows[0] if rows else None

    return await relay_until(Relay(worker_db, db), done)


async def test_template_override_crud_and_validation(client, tenant) -> None:
    h = tenant.admin_headers
    r = await client.post(f"{API}/notification-templates", headers=h, json=OVERRIDE)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["key"], created["locale"], created["channel"]) == ("welcome", "en", "email")
    assert (await client.post(f"{API}/notification-templates", headers=h, json=OVERRIDE)).json()["code"] == \
        "notification_template_exists"
    bad = await client.post(f"{API}/notification-templates", headers=h,
                            json={**OVERRIDE, "locale": "de", "text": "Hi {% if %}"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_template"
    assert bad.json()["errors"][0]["field"] == "text"
    for payload in ({**OVERRIDE, "locale": "not a locale"}, {**OVERRIDE, "key": "../x"}, {**OVERRIDE, "extra": 1}):
        assert (await client.post(f"{API}/notification-templates", headers=h, json=payload)).status_code == 422

    r = await client.post(f"{API}/notification-templates", headers=h,
                          json={**OVERRIDE, "locale": "de_de", "subject": "Hallo"})
    assert r.status_code == 201 and r.json()["locale"] == "de-DE"
    listed = (await client.get(f"{API}/notification-templates?key=welcome&limit=1", headers=h)).json()
    assert len(listed["items"]) == 1 and listed["has_more"] and listed["next_cursor"]
    page2 = (await client.get(f"{API}/notification-templates?key=welcome&limit=1&cursor={listed['next_cursor']}",
                              headers=h)).json()
    assert {listed["items"][0]["locale"], page2["items"][0]["locale"]} == {"en", "de-DE"}

    r = await client.patch(f"{API}/notification-templates/{created['id']}", headers=h, json={"subject": "New"})
    assert r.status_code == 200 and r.json()["subject"] == "New" and r.json()["text"] == OVERRIDE["text"]
    assert (await client.get(f"{API}/notification-templates/{created['id']}", headers=h)).json()["subject"] == "New"
    assert (await client.delete(f"{API}/notification-templates/{created['id']}", headers=h)).status_code == 204
    assert (await client.get(f"{API}/notification-templates/{created['id']}", headers=h)).status_code == 404

    defaults = (await client.get(f"{API}/notification-templates/defaults", headers=h)).json()["items"]
    by_key = {d["key"]: d["locales"] for d in defaults}
    assert len(by_key) == 15 and by_key["order_confirmation"] == ["en", "de"] and "fr" in by_key["welcome"]


async def test_customers_cannot_manage_templates_or_read_the_log(client, tenant) -> None:
    customer = await customer_headers(client, tenant)
    for method, path in (("GET", "/notification-templates"), ("POST", "/notification-templates"),
                         ("GET", "/notifications"), ("POST", "/notifications/send")):
        r = await client.request(method, f"{API}{path}", headers=customer["headers"],
                                 json=OVERRIDE if method == "POST" else None)
        assert r.status_code == 403, (method, path, r.text)
    assert (await client.get(f"{API}/notifications")).status_code == 401


async def test_send_to_a_user_uses_the_override_and_masks_the_log(client, db, worker_db, tenant, settings) -> None:
    h = tenant.admin_headers
    customer = await customer_headers(client, tenant, email=f"jane.{uuid.uuid4().hex[:6]}@example.com")
    assert (await client.post(f"{API}/notification-templates", headers=h, json=OVERRIDE)).status_code == 201
    r = await client.post(f"{API}/notifications/send", headers=h,
                          json={"user_id": customer["user_id"], "template": "welcome",
                                "context": {"note": "<b>10% off</b>"}})
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "queued" and queued["attempts"] == 0 and queued["template"] == "welcome"
    assert queued["recipient"] == "j***@example.com" and customer["email"] not in r.text

    row = await _until_sent(db, worker_db, tenant.id, uuid.UUID(queued["id"]))
    assert row.status == "sent" and row.subject == "Hey , welcome to Acme"  # no first name on this customer
    text_body, html_body = bodies(parse_eml(eml_for(settings, row.id)[0]))
    assert "Hi ! <b>10% off</b>" in text_body and html_body and "<h1>Hi </h1>" in html_body

    got = (await client.get(f"{API}/notifications/{queued['id']}", headers=h)).json()
    assert got["status"] == "sent" and got["recipient"] == "j***@example.com" and got["sent_at"]
    # Filters: recipient (full address in, masked out), user, template, status, channel, dates.
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    for query in (f"recipient={customer['email'].upper()}", f"user_id={customer['user_id']}&template=welcome",
                  "status=sent&channel=email&template=welcome", f"event_id={got['event_id']}"):
        items = (await client.get(f"{API}/notifications", headers=h, params=dict(
            p.split("=", 1) for p in query.split("&")))).json()["items"]
        assert queued["id"] in [i["id"] for i in items], query
    items = (await client.get(f"{API}/notifications", headers=h,
                              params={"created_from": since, "user_id": customer["user_id"]})).json()["items"]
    assert {i["template"] for i in items} >= {"welcome", "email_verification"}
    assert all("@example.com" not in i["recipient"] or "***" in i["recipient"] for i in items)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await client.get(f"{API}/notifications", headers=h, params={"created_from": future})).json()["items"] == []
    assert (await client.get(f"{API}/notifications?status=lost", headers=h)).status_code == 422


async def test_send_errors(client, tenant) -> None:
    h = tenant.admin_headers
    customer = await customer_headers(client, tenant)
    r = await client.post(f"{API}/notifications/send", headers=h, json={"user_id": str(uuid.uuid4()),
                                                                        "template": "welcome"})
    assert r.status_code == 404 and r.json()["code"] == "recipient_not_found"
    r = await client.post(f"{API}/notifications/send", headers=h, json={"user_id": customer["user_id"],
                                                                        "template": "no_such_template"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_template"
    r = await client.post(f"{API}/notifications/send", headers=h, json={"user_id": customer["user_id"],
                                                                        "template": "welcome", "channel": "sms"})
    assert r.status_code == 422 and r.json()["code"] == "no_address_for_channel"  # no phone on file
    r = await client.post(f"{API}/notifications/send", headers=h, json={"user_id": customer["user_id"],
                                                                        "template": "welcome", "cc": "x"})
    assert r.status_code == 422


async def test_customers_see_only_their_own_messages(client, db, worker_db, tenant) -> None:
    ann = await customer_headers(client, tenant)
    bob = await customer_headers(client, tenant)
    relay = Relay(worker_db, db)

    async def mine(c):  # type: ignore[no-untyped-def]
        r = await client.get(f"{API}/customers/me/notifications", headers=c["headers"])
        assert r.status_code == 200, r.text
        return r.json()["items"]

    async def both_have_two():  # type: ignore[no-untyped-def]
        return len(await mine(ann)) == 2 and len(await mine(bob)) == 2  # verification + welcome

    await relay_until(relay, both_have_two)
    ann_items = await mine(ann)
    assert {i["template"] for i in ann_items} == {"email_verification", "welcome"}
    assert all(i["recipient"] == ann["email"][0] + "***@example.com" for i in ann_items)
    assert {i["id"] for i in ann_items}.isdisjoint({i["id"] for i in await mine(bob)})
    assert "failure_reason" not in ann_items[0]
    r = await client.get(f"{API}/customers/me/notifications", headers=tenant.admin_headers)  # an API key is no user
    assert r.status_code == 403 and r.json()["code"] == "user_only"
    assert (await client.get(f"{API}/customers/me/notifications")).status_code == 401


async def test_another_tenant_sees_nothing(client, make_tenant, tenant) -> None:
    other = await make_tenant()
    created = (await client.post(f"{API}/notification-templates", headers=tenant.admin_headers,
                                 json=OVERRIDE)).json()
    customer = await customer_headers(client, tenant)
    sent = (await client.post(f"{API}/notifications/send", headers=tenant.admin_headers,
                              json={"user_id": customer["user_id"], "template": "welcome"})).json()
    h = other.admin_headers
    assert (await client.get(f"{API}/notification-templates/{created['id']}", headers=h)).status_code == 404
    assert (await client.get(f"{API}/notifications/{sent['id']}", headers=h)).status_code == 404
    assert (await client.get(f"{API}/notification-templates", headers=h)).json()["items"] == []
    assert (await client.get(f"{API}/notifications", headers=h)).json()["items"] == []
    r = await client.post(f"{API}/notifications/send", headers=h, json={"user_id": customer["user_id"],
                                                                        "template": "welcome"})
    assert r.status_code == 404  # tenant A's user does not exist for tenant B
    assert (await client.patch(f"{API}/notification-templates/{created['id']}", headers=h,
                               json={"subject": "x"})).status_code == 404
