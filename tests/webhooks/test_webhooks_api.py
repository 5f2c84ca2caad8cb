"""The endpoints API as a merchant uses it: CRUD, validation, permissions, secrets shown once,
and the SSRF rules applied when sending (production mode)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from webhook_helpers import API, create_endpoint, deliveries, emit, now, outbox, relay

import mercato.webhooks as webhooks
from mercato.webhooks import domain, transport


async def test_crud_and_the_secret_is_shown_once(client, tenant) -> None:
    created = await create_endpoint(client, tenant, "https://localhost/hooks", description="ERP",
                                    event_types=["order.paid", "order.paid", "order.created"])
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["order.created", "order.paid"] and created["enabled"] is True
    eid = created["id"]

    r = await client.get(f"{API}/webhook-endpoints/{eid}", headers=tenant.admin_headers)
    assert r.status_code == 200 and "secret" not in r.json()
    assert created["secret"] not in r.text
    r = await client.get(f"{API}/webhook-endpoints", headers=tenant.admin_headers)
    assert [e["id"] for e in r.json()["items"]] == [eid] and created["secret"] not in r.text

    r = await client.patch(f"{API}/webhook-endpoints/{eid}", json={"description": "ERP (prod)", "event_types": []},
                           headers=tenant.admin_headers)
    assert r.status_code == 200 and r.json()["description"] == "ERP (prod)" and r.json()["event_types"] == []
    r = await client.patch(f"{API}/webhook-endpoints/{eid}", json={"enabled": False}, headers=tenant.admin_headers)
    assert r.json()["enabled"] is False and r.json()["disabled_reason"] == "disabled by staff"

    r = await client.delete(f"{API}/webhook-endpoints/{eid}", headers=tenant.admin_headers)
    assert r.status_code == 204
    r = await client.get(f"{API}/webhook-endpoints/{eid}", headers=tenant.admin_headers)
    assert r.status_code == 404 and r.json()["code"] == "webhook_endpoint_not_found"


async def test_changes_are_audited_and_published_without_secrets(client, tenant, worker_db, db) -> None:
    created = await create_endpoint(client, tenant, "https://localhost/hooks")
    r = await client.post(f"{API}/webhook-endpoints/{created['id']}/rotate-secret", headers=tenant.admin_headers)
    new_secret = r.json()["secret"]
    types = [t for t, _ in await outbox(worker_db, tenant.id)]
    assert "webhook_endpoint.created" in types and "webhook_endpoint.secret_rotated" in types
    async with worker_db.transaction() as s:
        rows = (await s.execute(text("SELECT data::text FROM outbox WHERE tenant_id = :t"), {"t": tenant.id})).scalars()
        assert all(created["secret"] not in d and new_secret not in d for d in rows)
    async with db.tenant_transaction(tenant.id) as s:
        audit = (await s.execute(text("SELECT action, coalesce(changes::text, '') FROM audit_log "
                                      "WHERE resource_type = 'webhook_endpoint'"))).all()
    actions = [a for a, _ in audit]
    assert "webhook_endpoint.created" in actions and "webhook_endpoint.secret_rotated" in actions
    assert all(created["secret"] not in c and new_secret not in c for _, c in audit)


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/x",          # not https
    "ftp://localhost/x",
    "https://10.0.0.8/x",                  # private
    "https://169.254.169.254/latest/",     # metadata
    "https://[fd00:ec2::254]/",
    "https://user:pw@localhost/x",
    "https://does-not-exist.invalid/x",    # does not resolve
])
async def test_bad_urls_are_422_on_the_url_field(client, tenant, url: str) -> None:
    r = await client.post(f"{API}/webhook-endpoints", json={"url": url}, headers=tenant.admin_headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "url"


async def test_bad_payloads_and_update_url_validation(client, tenant) -> None:
    r = await client.post(f"{API}/webhook-endpoints", json={"url": "https://localhost/x", "secret": "mine"},
                          headers=tenant.admin_headers)
    assert r.status_code == 422  # extra fields forbidden: the platform generates secrets
    r = await client.post(f"{API}/webhook-endpoints", json={"url": "https://localhost/x", "event_types": ["Order Paid"]},
                          headers=tenant.admin_headers)
    assert r.status_code == 422
    created = await create_endpoint(client, tenant, "https://localhost/x")
    r = await client.patch(f"{API}/webhook-endpoints/{created['id']}", json={"url": "https://192.168.0.1/x"},
                           headers=tenant.admin_headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
    r = await client.get(f"{API}/webhook-endpoints", params={"cursor": "garbage"}, headers=tenant.admin_headers)
    assert r.status_code == 400


async def test_only_admins_manage_webhooks(client, tenant, db) -> None:
    import uuid

    import mercato.identity as identity

    for headers in ({}, tenant.storefront_headers):
        r = await client.get(f"{API}/webhook-endpoints", headers=headers)
        assert r.status_code in (401, 403)
    # Staff without webhooks:manage (the merchant role) are refused.
    email, password = f"m{uuid.uuid4().hex[:8]}@example.com", "a perfectly fine passphrase"
    async with db.tenant_transaction(tenant.id) as s:
        await identity.create_user(s, tenant_id=tenant.id, email=email, role="merchant", password=password,
                                   email_verified=True)
    r = await client.post(f"{API}/auth/login", json={"email": email, "password": password}, headers=tenant.host_headers)
    assert r.status_code == 200, r.text
    token = r.json().get("access_token") or r.json()["tokens"]["access_token"]
    r = await client.get(f"{API}/webhook-endpoints", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


async def test_delivery_list_paginates_and_filters(client, tenant, db, worker_db, receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["order.paid"])
    for i in range(5):
        await emit(db, tenant.id, "order.paid", {"n": i})
    await relay(db, worker_db)
    r = await client.get(f"{API}/webhook-endpoints/{endpoint['id']}/deliveries", params={"limit": 2},
                         headers=tenant.admin_headers)
    page1 = r.json()
    assert len(page1["items"]) == 2 and page1["has_more"] is True
    r = await client.get(f"{API}/webhook-endpoints/{endpoint['id']}/deliveries",
                         params={"limit": 10, "cursor": page1["next_cursor"]}, headers=tenant.admin_headers)
    page2 = r.json()
    assert len(page2["items"]) == 3 and page2["has_more"] is False
    assert not {d["id"] for d in page1["items"]} & {d["id"] for d in page2["items"]}
    assert len(await deliveries(client, tenant, endpoint["id"], status="pending")) == 5
    assert await deliveries(client, tenant, endpoint["id"], status="succeeded") == []
    r = await client.get(f"{API}/webhook-endpoints/{endpoint['id']}/deliveries", params={"status": "bogus"},
                         headers=tenant.admin_headers)
    assert r.status_code == 422


async def test_test_event_reports_the_attempt(client, tenant, receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url)
    receiver.respond(400, body="unknown event")
    r = await client.post(f"{API}/webhook-endpoints/{endpoint['id']}/test", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["event_type"] == "webhook.test" and d["status"] == "failed" and d["next_attempt_at"]
    assert d["attempt_log"][0]["status_code"] == 400 and d["attempt_log"][0]["response_snippet"] == "unknown event"
    assert d["payload"]["type"] == "webhook.test"


async def test_long_responses_are_cut_to_500_bytes(client, tenant, receiver) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url)
    receiver.respond(200, body="x" * 5000)
    r = await client.post(f"{API}/webhook-endpoints/{endpoint['id']}/test", headers=tenant.admin_headers)
    assert len(r.json()["attempt_log"][0]["response_snippet"]) == domain.SNIPPET_BYTES


# --------------------------------------------------------------------------- SSRF when sending


async def test_production_mode_refuses_loopback_at_send_time(client, tenant, db, worker_db, receiver) -> None:
    # Configured in test mode (loopback allowed); the sender then runs in production mode.
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["order.paid"])
    await emit(db, tenant.id, "order.paid", {"order_id": "x"})
    await relay(db, worker_db)
    res = await webhooks.send_due(db, worker_db, now=now(), tenant_id=tenant.id, production_mode=True)
    assert res.failed == 1 and receiver.requests == []
    [d] = await deliveries(client, tenant, endpoint["id"])
    assert d["last_error"].startswith("refused") and d["last_status_code"] is None


async def test_a_name_resolving_to_loopback_is_refused_in_production() -> None:
    # Real resolution (the hosts file): localhost -> 127.0.0.1 / ::1.
    with pytest.raises(transport.Refused):
        await transport.vetted_addresses(domain.target_of("https://localhost/x"), production=True)
    assert await transport.vetted_addresses(domain.target_of("https://localhost/x"), production=False)

    async def rebinding(host: str, port: int) -> list[str]:  # a public name pointing inside
        return ["93.184.216.34", "127.0.0.1"]

    async def metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    target = domain.target_of("https://hooks.example.com/x")
    with pytest.raises(transport.Refused, match="loopback"):
        await transport.vetted_addresses(target, production=True, resolve=rebinding)
    with pytest.raises(transport.Refused, match="metadata"):
        await transport.vetted_addresses(target, production=False, resolve=metadata)
    assert [str(a) for a in await transport.vetted_addresses(target, production=True, resolve=public)] \
        == ["93.184.216.34"]


async def test_the_request_goes_to_the_vetted_address_with_the_original_host(receiver) -> None:
    """DNS rebinding: the address checked is the address connected to; the Host header keeps the name."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    out = await transport.post(f"http://localhost:{receiver.port}/pinned", b"{}", {"content-type": "application/json"},
                               production=False, resolve=resolve)
    assert out.succeeded and calls == ["localhost"]
    assert receiver.requests[-1].headers["host"] == f"localhost:{receiver.port}"
    out = await transport.post(f"http://localhost:{receiver.port}/pinned", b"{}", {}, production=True, resolve=resolve)
    assert not out.succeeded and out.error and out.error.startswith("refused")


async def test_unreachable_receivers_are_failed_attempts_not_errors() -> None:
    out = await transport.post("http://127.0.0.1:9/nothing", b"{}", {}, production=False)
    assert out.status_code is None and out.error and not out.succeeded


async def test_slow_receivers_time_out(receiver) -> None:
    receiver.delay = 2.0
    out = await transport.post(receiver.url, b"{}", {}, production=False, time_limit=0.3)
    assert out.error and "timed out" in out.error and out.status_code is None
    assert timedelta(milliseconds=out.duration_ms) < timedelta(seconds=1.5)
