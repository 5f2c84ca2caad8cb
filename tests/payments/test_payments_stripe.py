"""The Stripe path for real: the official SDK against localstripe, webhooks signed by localstripe
and delivered over real HTTP to the app running under uvicorn."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe
from payments_helpers import STRIPE_TEST_KEY, WEBHOOK_SECRET

import mercato.payments as payments
from mercato.platform.db import Database

pytestmark = [pytest.mark.slow,  # the SDK passes raw bytes with data=, which httpx deprecates
              pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]
API = "/api/v1"


@pytest.fixture(scope="module", autouse=True)
def webhook_registered(stripe_env: dict[str, str], localstripe_url: str, app_server: str) -> str:
    url = f"{app_server}{API}/webhooks/stripe"
    r = httpx.post(f"{localstripe_url}/_config/webhooks/mercato", data={"url": url, "secret": WEBHOOK_SECRET},
                   timeout=5)
    r.raise_for_status()
    return url


@pytest_asyncio.fixture
async def storefront(localstripe_url: str) -> Any:
    """What Stripe.js does in a browser, done with the official SDK against localstripe."""
    return stripe.StripeClient(STRIPE_TEST_KEY, base_addresses={"api": localstripe_url},
                               http_client=stripe.HTTPXClient(allow_sync_methods=False))


async def card(storefront: stripe.StripeClient, number: str) -> str:
    pm = await storefront.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return pm.id


async def wait_for(db: Database, tenant_id: uuid.UUID, payment_id: uuid.UUID, predicate: Any,
                   within: float = 15) -> payments.Payment:
    deadline = time.monotonic() + within
    while True:
        async with db.tenant_transaction(tenant_id) as s:
            p = await payments.get_payment(s, payment_id)
        if predicate(p) or time.monotonic() > deadline:
            return p
        await asyncio.sleep(0.2)


async def start(db: Database, tenant_id: uuid.UUID, *, amount: int = 1999, currency: str = "USD",
                capture: bool = True, key: str | None = None, **payment_data: Any) -> payments.PaymentResult:
    async with db.tenant_transaction(tenant_id) as s:
        return await payments.start_payment(s, order_id=uuid.uuid4(), amount=amount, currency=currency,
                                            method="stripe", payment_data=payment_data,
                                            idempotency_key=key or f"t-{uuid.uuid4()}", capture=capture)


async def test_create_confirm_webhook_captures(db, tenant, storefront, event_types) -> None:
    pm = await card(storefront, "4242424242424242")
    result = await start(db, tenant.id, payment_method=pm)
    p = result.payment
    assert p.status == "pending" and p.gateway_reference and p.gateway_reference.startswith("pi_")
    assert result.client_secret and result.client_secret.startswith(f"{p.gateway_reference}_secret_")

    pi = await storefront.v1.payment_intents.retrieve_async(p.gateway_reference)
    assert (pi.amount, pi.currency, pi.metadata["tenant_id"], pi.metadata["payment_id"],
            pi.metadata["order_id"]) == (1999, "usd", str(tenant.id), str(p.id), str(p.order_id))

    await storefront.v1.payment_intents.confirm_async(p.gateway_reference)  # Stripe.js, in the browser
    got = await wait_for(db, tenant.id, p.id, lambda x: x.status == "captured")
    assert (got.status, got.amount_captured) == ("captured", 1999)
    assert await event_types(tenant.id, p.id) == ["payment.created", "payment.captured"]


async def test_client_secret_is_not_stored(db, tenant, storefront) -> None:
    from sqlalchemy import text

    key = f"checkout-{uuid.uuid4()}"
    result = await start(db, tenant.id, key=key, payment_method=await card(storefront, "4242424242424242"))
    async with db.tenant_transaction(tenant.id) as s:
        row = (await s.execute(text("SELECT p::text FROM payments p WHERE id = :i"), {"i": result.payment.id})
               ).scalar_one()
    assert result.client_secret and result.client_secret not in row and "_secret_" not in row
    # A replay with the same key gets the client secret again, from Stripe.
    async with db.tenant_transaction(tenant.id) as s:
        p = result.payment
        again = await payments.start_payment(s, order_id=p.order_id, amount=p.amount, currency=p.currency,
                                             method="stripe", payment_data={}, idempotency_key=key)
    assert again.replayed and again.client_secret == result.client_secret


async def test_decline_at_confirmation_fails_payment_via_webhook(db, tenant, storefront, outbox) -> None:
    result = await start(db, tenant.id, payment_method=await card(storefront, "4000000000000341"))
    with pytest.raises(stripe.CardError):
        await storefront.v1.payment_intents.confirm_async(result.payment.gateway_reference)
    got = await wait_for(db, tenant.id, result.payment.id, lambda x: x.status == "failed")
    assert (got.status, got.failure_code) == ("failed", "card_declined")
    failed = [e for e in await outbox(tenant.id, got.id) if e["type"] == "payment.failed"]
    assert len(failed) == 1 and failed[0]["data"]["failure_code"] == "card_declined"


async def test_decline_on_server_side_confirm_is_recorded_once(db, tenant, storefront, event_types) -> None:
    result = await start(db, tenant.id, payment_method=await card(storefront, "4000000000000341"), confirm=True)
    assert (result.payment.status, result.payment.failure_code) == ("failed", "card_declined")
    assert result.client_secret is None
    await asyncio.sleep(2.5)  # localstripe's payment_intent.payment_failed webhook arrives meanwhile
    assert (await event_types(tenant.id, result.payment.id)).count("payment.failed") == 1


async def test_partial_refund(db, tenant, storefront, client, event_types) -> None:
    result = await start(db, tenant.id, amount=5000, payment_method=await card(storefront, "4242424242424242"),
                         confirm=True)
    p = result.payment
    assert (p.status, p.amount_captured) == ("captured", 5000)  # Stripe said succeeded in the response
    r = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 1500, "reason": "one item returned"},
                          headers={**tenant.admin_headers, "Idempotency-Key": f"r-{uuid.uuid4()}"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["refund"]["status"] == "succeeded" and body["refund"]["gateway_reference"].startswith("re_")
    assert (body["payment"]["status"], body["payment"]["amount_refunded"]) == ("partially_refunded", 1500)
    refunds = await storefront.v1.refunds.list_async({"payment_intent": p.gateway_reference})
    assert [(x.amount, x.metadata["refund_id"]) for x in refunds.data] == [(1500, body["refund"]["id"])]
    r = await client.post(f"{API}/payments/{p.id}/refunds", json={"amount": 3501}, headers=tenant.admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "refund_exceeds_captured"
    await asyncio.sleep(1.5)  # the payment_intent.succeeded webhook changes nothing
    types = await event_types(tenant.id, p.id)
    assert types.count("payment.captured") == 1 and types.count("refund.succeeded") == 1


async def test_jpy_end_to_end(db, tenant, storefront, client) -> None:
    result = await start(db, tenant.id, amount=1500, currency="JPY",
                         payment_method=await card(storefront, "4242424242424242"))
    pi = await storefront.v1.payment_intents.retrieve_async(result.payment.gateway_reference)
    assert (pi.amount, pi.currency) == (1500, "jpy")  # ¥1,500, not ¥150,000 nor ¥15
    await storefront.v1.payment_intents.confirm_async(pi.id)
    got = await wait_for(db, tenant.id, result.payment.id, lambda x: x.status == "captured")
    assert (got.amount_captured, got.currency) == (1500, "JPY")
    r = await client.post(f"{API}/payments/{got.id}/refunds", json={"amount": 500}, headers=tenant.admin_headers)
    assert r.status_code == 201 and r.json()["payment"]["amount_refunded"] == 500
    refunds = await storefront.v1.refunds.list_async({"payment_intent": pi.id})
    assert [(x.amount, x.currency) for x in refunds.data] == [(500, "jpy")]


async def test_authorize_then_capture_over_http(db, tenant, storefront, client) -> None:
    result = await start(db, tenant.id, capture=False, amount=2500,
                         payment_method=await card(storefront, "4242424242424242"), confirm=True)
    assert result.payment.status == "authorized"
    r = await client.post(f"{API}/payments/{result.payment.id}/capture", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["amount_captured"]) == ("captured", 2500)
    pi = await storefront.v1.payment_intents.retrieve_async(result.payment.gateway_reference)
    assert pi.status == "succeeded"


async def test_cancel(db, tenant, storefront, client) -> None:
    result = await start(db, tenant.id, payment_method=await card(storefront, "4242424242424242"))
    r = await client.post(f"{API}/payments/{result.payment.id}/cancel", headers=tenant.admin_headers)
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    pi = await storefront.v1.payment_intents.retrieve_async(result.payment.gateway_reference)
    assert pi.status == "canceled"


async def test_requires_action_then_authentication(db, tenant, storefront, localstripe_url) -> None:
    result = await start(db, tenant.id, payment_method=await card(storefront, "4000002500003155"), confirm=True)
    assert result.payment.status == "requires_action" and result.next_action
    # The customer passes 3-D Secure (localstripe's stand-in for the bank's page).
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{localstripe_url}/v1/payment_intents/{result.payment.gateway_reference}/_authenticate",
                            data={"client_secret": result.client_secret, "success": "true", "key": "pk_test_x"})
        assert r.status_code == 200, r.text
    got = await wait_for(db, tenant.id, result.payment.id, lambda x: x.status == "captured")
    assert got.status == "captured"
