"""A return refunded through Stripe that Stripe answers ``pending`` and fails later: the signed
``refund.failed`` webhook makes payments record the failure, the outbox relay runs the returns
handler, and the return's refunded figures go back down so staff can refund again.

localstripe settles every refund at once: a small pass-through stand-in in front of it answers
refund creations as Stripe does for a refund that settles later (``status: pending``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
import stripe
from returns_helpers import API, ok, outbox, stripe_refunded_return
from sqlalchemy import text

import mercato.payments as payments
from mercato.payments.config import get_payment_settings
from mercato.platform import breaker
from mercato.platform.events import Relay
from mercato.returns import domain
from mercato.returns.service.refunds import refund_failed

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]

WEBHOOK_SECRET = "whsec_mercato_returns_0123456789abcdef"
WEBHOOK_PATH = "/api/v1/webhooks/stripe"


@pytest_asyncio.fixture
async def pending_refunds(stripe_env: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, bool]]:
    """Forward every Stripe call to localstripe; while ``pending`` is on, a created refund is
    answered ``pending`` (it is settled at localstripe: the webhook decides what we record)."""
    import aiohttp
    from aiohttp import web

    mode = {"pending": True}
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("authorization", "content-type", "idempotency-key", "stripe-version")}
        async with session.request(request.method, f"{stripe_env}{request.path_qs}", headers=headers,
                                   data=await request.read()) as upstream:
            body = await upstream.read()
            if (mode["pending"] and request.method == "POST" and request.path == "/v1/refunds"
                    and upstream.status == 200):
                body = orjson.dumps({**orjson.loads(body), "status": "pending"})
            return web.Response(status=upstream.status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("MERCATO_STRIPE_API_BASE", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MERCATO_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_payment_settings.cache_clear()
    breaker.reset_all()
    try:
        yield mode
    finally:
        await runner.cleanup()
        await session.close()
        get_payment_settings.cache_clear()


def _signed_event(event_type: str, obj: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    payload = orjson.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": event_type,
                            "api_version": "2024-06-20", "created": int(time.time()), "livemode": False,
                            "data": {"object": obj}})
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), WEBHOOK_SECRET)
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def test_a_pending_stripe_refund_that_fails_later_is_refundable_again(  # type: ignore[no-untyped-def]
        client, tenant, db, worker_db, stripe_env, pending_refunds) -> None:
    flow = await stripe_refunded_return(client, db, tenant, stripe_env)
    order, r, done, sdk = flow.order, flow.ret, flow.done, flow.sdk
    staff = tenant.admin_headers
    part = done["refund"]["payments"][0]
    assert part["status"] == "pending" and done["refund"]["amount"] == 3000
    ret = done["return"]
    assert (ret["status"], ret["items_refunded"], ret["shipping_refunded"], ret["refundable"]) == (
        "completed", 2500, 500, 0)  # counted at once, as before

    # Stripe fails it later: the signed refund.failed webhook, twice (Stripe retries)
    async with db.tenant_transaction(tenant.id) as s:
        ours = next(x for x in (await payments.get_payment(s, uuid.UUID(part["payment_id"]))).refunds
                    if str(x.id) == part["refund_id"])
    remote = (await sdk.v1.refunds.retrieve_async(ours.gateway_reference)).to_dict(recursive=True)
    assert remote["metadata"]["refund_id"] == part["refund_id"]
    for _ in range(2):
        payload, headers = _signed_event("refund.failed", {**remote, "status": "failed",
                                                           "failure_reason": "expired_or_canceled_card"})
        assert (await client.post(WEBHOOK_PATH, content=payload, headers=headers)).status_code == 200
    relay = Relay(worker_db, db)
    await relay.drain()
    await relay.drain()

    after = await ok(await client.get(f"{API}/returns/{r['id']}", headers=staff))
    assert (after["status"], after["items_refunded"], after["shipping_refunded"], after["refundable"]) == (
        "received", 0, 0, 2500)
    failed_part = after["refunds"][0]["payments"][0]
    assert (failed_part["status"], failed_part["failure_code"]) == ("failed", "expired_or_canceled_card")
    assert (after["refunds"][0]["items_amount"], after["refunds"][0]["shipping_amount"]) == (0, 0)
    events = [e for e in await outbox(worker_db, tenant.id) if e["data"]["return_id"] == r["id"]]
    failed = [e["data"] for e in events if e["type"] == "return.refund_failed"]
    assert len(failed) == 1
    assert {k: failed[0][k] for k in ("refund_id", "amount", "items_amount", "shipping_amount", "failure_code",
                                      "refundable", "from_status", "status")} == {
        "refund_id": part["refund_id"], "amount": 3000, "items_amount": 2500, "shipping_amount": 500,
        "failure_code": "expired_or_canceled_card", "refundable": 2500, "from_status": "completed",
        "status": "received"}
    # the order never counted the pending refund
    got = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (got["payment_status"], got["amount_refunded"]) == ("paid", 0)
    # a second delivery of the fact (another event id) changes nothing
    async with db.tenant_transaction(tenant.id) as s:
        assert await refund_failed(s, uuid.UUID(part["refund_id"]), failure_code="x") is False
        assert await refund_failed(s, uuid.uuid4()) is False  # not a return's refund
    async with db.tenant_transaction(tenant.id) as s:
        audited = (await s.execute(text("SELECT count(*) FROM audit_log WHERE action = 'return.refund_failed' "
                                        "AND resource_id = :r"), {"r": r["id"]})).scalar_one()
    assert audited == 1

    # staff refund again; this time Stripe settles it
    pending_refunds["pending"] = False
    again = await ok(await client.post(f"{API}/returns/{r['id']}/refunds", json={"include_shipping": True},
                                       headers={**staff, "Idempotency-Key": f"s-{uuid.uuid4()}"}), 201)
    assert again["refund"]["amount"] == 3000 and again["refund"]["payments"][0]["status"] == "succeeded"
    assert (again["return"]["status"], again["return"]["items_refunded"]) == ("completed", 2500)
    got = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (got["payment_status"], got["amount_refunded"]) == ("partially_refunded", 3000)


@pytest.mark.parametrize(("kind", "amount", "items", "shipping", "expected"), [
    ("refund", 3000, 2500, 500, (2500, 500, 0)),
    ("refund", 1000, 2500, 500, (1000, 0, 0)),
    ("refund", 2700, 2500, 500, (2500, 200, 0)),
    ("refund", 900, 0, 500, (0, 500, 0)),
    ("exchange_difference", 700, 0, 0, (0, 0, 700)),
])
def test_failed_refund_share(kind: str, amount: int, items: int, shipping: int,
                             expected: tuple[int, int, int]) -> None:
    share = domain.failed_refund_share(kind=kind, amount=amount, items_amount=items, shipping_amount=shipping)
    assert (share.items, share.shipping, share.exchange) == expected
