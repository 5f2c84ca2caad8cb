"""The Stripe webhook receiver: signatures, dedup under concurrent duplicates, refunds made at the
gateway, Checkout Sessions. Events are real localstripe objects, signed like Stripe signs them."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe
from payments_helpers import STRIPE_TEST_KEY, WEBHOOK_PATH, signed, stripe_event

import mercato.payments as payments
from mercato.platform.db import Database

pytestmark = [pytest.mark.slow,  # the SDK passes raw bytes with data=, which httpx deprecates
              pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]


@pytest_asyncio.fixture
async def storefront(stripe_env: dict[str, str], localstripe_url: str) -> stripe.StripeClient:
    return stripe.StripeClient(STRIPE_TEST_KEY, base_addresses={"api": localstripe_url},
                               http_client=stripe.HTTPXClient(allow_sync_methods=False))


async def pending_stripe_payment(db: Database, tenant_id: uuid.UUID, storefront: stripe.StripeClient,
                                 amount: int = 1999) -> payments.PaymentResult:
    pm = await storefront.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    async with db.tenant_transaction(tenant_id) as s:
        return await payments.start_payment(s, order_id=uuid.uuid4(), amount=amount, currency="USD", method="stripe",
                                            payment_data={"payment_method": pm.id},
                                            idempotency_key=f"w-{uuid.uuid4()}")


def succeeded_object(result: payments.PaymentResult, tenant_id: uuid.UUID) -> dict[str, Any]:
    p = result.payment
    return {"id": p.gateway_reference, "object": "payment_intent", "status": "succeeded", "amount": p.amount,
            "amount_received": p.amount, "currency": "usd", "client_secret": result.client_secret,
            "metadata": {"tenant_id": str(tenant_id), "order_id": str(p.order_id), "payment_id": str(p.id)}}


async def get(db: Database, tenant_id: uuid.UUID, payment_id: uuid.UUID) -> payments.Payment:
    async with db.tenant_transaction(tenant_id) as s:
        return await payments.get_payment(s, payment_id)


# --------------------------------------------------------------------------- signatures


async def test_unsigned_tampered_stale_and_wrong_secret_are_rejected(client, stripe_env, tenant, db,
                                                                     storefront, event_types) -> None:
    result = await pending_stripe_payment(db, tenant.id, storefront)
    payload = stripe_event("payment_intent.succeeded", succeeded_object(result, tenant.id))
    cases = {
        "unsigned": (payload, {"Content-Type": "application/json"}),
        "tampered": (payload.replace(b'"amount_received":1999', b'"amount_received":1'), signed(payload)),
        "stale": (payload, signed(payload, timestamp=int(time.time()) - 3600)),
        "wrong secret": (payload, signed(payload, secret="whsec_not_ours")),
        "garbage header": (payload, {"Stripe-Signature": "nonsense"}),
    }
    for name, (body, headers) in cases.items():
        r = await client.post(WEBHOOK_PATH, content=body, headers=headers)
        assert r.status_code == 400, (name, r.text)
        assert r.json()["code"] == "invalid_signature", name
    assert (await get(db, tenant.id, result.payment.id)).status == "pending"
    assert "payment.captured" not in await event_types(tenant.id, result.payment.id)

    r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    assert (r.status_code, r.json()["outcome"]) == (200, "processed")
    assert (await get(db, tenant.id, result.payment.id)).status == "captured"


async def test_unknown_event_types_and_foreign_objects_are_ignored(client, stripe_env) -> None:
    for payload in (stripe_event("customer.created", {"id": "cus_1", "object": "customer"}),
                    stripe_event("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent",
                                                              "status": "succeeded", "metadata": {}}),
                    stripe_event("payment_intent.succeeded", {"id": "pi_y", "object": "payment_intent",
                                                              "metadata": {"tenant_id": "not-a-uuid"}})):
        r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
        assert (r.status_code, r.json()["outcome"]) == (200, "ignored")


async def test_event_naming_another_tenants_payment_changes_nothing(client, stripe_env, make_tenant, db,
                                                                    storefront) -> None:
    a, b = await make_tenant(), await make_tenant()
    result = await pending_stripe_payment(db, a.id, storefront)
    obj = succeeded_object(result, b.id)  # tenant B's id with A's payment: not found under B's RLS
    payload = stripe_event("payment_intent.succeeded", obj)
    r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    assert (r.status_code, r.json()["outcome"]) == (200, "ignored")
    assert (await get(db, a.id, result.payment.id)).status == "pending"


# --------------------------------------------------------------------------- dedup


async def test_same_event_three_times_concurrently_is_one_state_change(stripe_env, app_server, tenant, db,
                                                                       storefront, outbox) -> None:
    result = await pending_stripe_payment(db, tenant.id, storefront)
    payload = stripe_event("payment_intent.succeeded", succeeded_object(result, tenant.id),
                           event_id=f"evt_dup_{uuid.uuid4().hex}")
    headers = signed(payload)
    async with httpx.AsyncClient(base_url=app_server, timeout=20) as http:  # real HTTP, real uvicorn
        responses = await asyncio.gather(*(http.post(WEBHOOK_PATH, content=payload, headers=headers)
                                           for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert sorted(r.json()["outcome"] for r in responses) == ["duplicate", "duplicate", "processed"]
        later = await http.post(WEBHOOK_PATH, content=payload, headers=signed(payload))  # Stripe retries later
        assert later.json()["outcome"] == "duplicate"
    events = await outbox(tenant.id, result.payment.id)
    assert [e["type"] for e in events] == ["payment.created", "payment.captured"]
    captured = events[-1]["data"]
    assert (captured["order_id"], captured["amount"], captured["currency"]) == (
        str(result.payment.order_id), 1999, "USD")
    assert "client_secret" not in str(events)


async def test_dedup_row_keeps_payload_without_secrets(client, stripe_env, tenant, db, storefront) -> None:
    from sqlalchemy import text

    result = await pending_stripe_payment(db, tenant.id, storefront)
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = stripe_event("payment_intent.succeeded", succeeded_object(result, tenant.id), event_id=event_id)
    await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    async with db.tenant_transaction(tenant.id) as s:
        row = (await s.execute(text("SELECT payload::text, processed_at FROM gateway_events WHERE event_id = :e"),
                               {"e": event_id})).one()
    assert row.processed_at is not None
    assert result.client_secret and result.client_secret not in row.payload


# --------------------------------------------------------------------------- refunds and failures


async def test_payment_failed_webhook_records_code(client, stripe_env, tenant, db, storefront, outbox) -> None:
    result = await pending_stripe_payment(db, tenant.id, storefront)
    obj = {**succeeded_object(result, tenant.id), "status": "requires_payment_method",
           "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds",
                                  "message": "Your card has insufficient funds."}}
    payload = stripe_event("payment_intent.payment_failed", obj)
    r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    assert r.json()["outcome"] == "processed"
    got = await get(db, tenant.id, result.payment.id)
    assert (got.status, got.failure_code, got.failure_message) == ("failed", "insufficient_funds",
                                                                   "Your card has insufficient funds.")
    failed = (await outbox(tenant.id, got.id))[-1]
    assert failed["type"] == "payment.failed" and failed["data"]["failure_code"] == "insufficient_funds"


async def test_charge_refunded_records_a_refund_made_in_the_dashboard(client, stripe_env, tenant, db,
                                                                      storefront, event_types) -> None:
    pm = await storefront.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    async with db.tenant_transaction(tenant.id) as s:
        result = await payments.start_payment(s, order_id=uuid.uuid4(), amount=3000, currency="USD", method="stripe",
                                              payment_data={"payment_method": pm.id, "confirm": True},
                                              idempotency_key=f"w-{uuid.uuid4()}")
    p = result.payment
    assert p.status == "captured"
    # Someone refunds 1,200 in the Stripe Dashboard (not through Mercato).
    await storefront.v1.refunds.create_async({"payment_intent": p.gateway_reference, "amount": 1200})
    pi = await storefront.v1.payment_intents.retrieve_async(p.gateway_reference)
    charge = (await storefront.v1.charges.retrieve_async(pi.latest_charge.id
                                                         if not isinstance(pi.latest_charge, str)
                                                         else pi.latest_charge)).to_dict(recursive=True)
    assert not (charge.get("metadata") or {}).get("tenant_id")  # resolved through the PaymentIntent
    payload = stripe_event("charge.refunded", charge)
    for _ in range(2):  # delivered twice
        r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
        assert r.status_code == 200, r.text
    got = await get(db, tenant.id, p.id)
    assert (got.status, got.amount_refunded) == ("partially_refunded", 1200)
    assert [(x.amount, x.status, x.reason) for x in got.refunds] == [(1200, "succeeded", "refunded at the gateway")]
    assert (await event_types(tenant.id, p.id)).count("refund.succeeded") == 1

    # A refund made through Mercato, then its charge.refunded: nothing is counted twice.
    async with db.tenant_transaction(tenant.id) as s:
        await payments.refund(s, p.id, 300, "goodwill", idempotency_key="ours-1")
    charge = (await storefront.v1.charges.retrieve_async(charge["id"])).to_dict(recursive=True)
    payload = stripe_event("charge.refunded", charge)
    r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    assert r.status_code == 200
    got = await get(db, tenant.id, p.id)
    assert (got.amount_refunded, len(got.refunds)) == (1500, 2)


# --------------------------------------------------------------------------- Checkout Session


@pytest_asyncio.fixture
async def checkout_stripe(payment_env, checkout_session_standin) -> Any:
    """The shared Checkout Session stand-in (``localstripe_fixtures``): sessions by id."""
    return checkout_session_standin


async def _checkout(db: Database, tenant_id: uuid.UUID, amount: int = 4200, currency: str = "EUR") -> Any:
    async with db.tenant_transaction(tenant_id) as s:
        return await payments.start_payment(
            s, order_id=uuid.uuid4(), amount=amount, currency=currency, method="stripe",
            payment_data={"flow": "checkout_session", "success_url": "https://shop.example/ok",
                          "cancel_url": "https://shop.example/cancel"}, idempotency_key=f"cs-{uuid.uuid4()}")


async def test_checkout_session_completed_captures(client, checkout_stripe, tenant, db, event_types) -> None:
    result = await _checkout(db, tenant.id)
    p = result.payment
    assert p.status == "pending" and p.gateway_reference.startswith("cs_test_")
    assert result.redirect_url and result.redirect_url.endswith(p.gateway_reference)
    session = checkout_stripe[p.gateway_reference]
    assert (session["amount_total"], session["currency"], session["metadata"]["payment_id"]) == (4200, "eur", str(p.id))
    assert session["idempotency_key"] == f"mercato-{p.id}-create"
    completed = {**session, "status": "complete", "payment_status": "paid", "payment_intent": "pi_from_checkout"}
    payload = stripe_event("checkout.session.completed", completed)
    r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    assert r.json()["outcome"] == "processed"
    got = await get(db, tenant.id, p.id)
    assert (got.status, got.amount_captured, got.gateway_reference) == ("captured", 4200, "pi_from_checkout")
    assert await event_types(tenant.id, p.id) == ["payment.created", "payment.captured"]


async def test_checkout_session_expired_cancels_with_reason(client, checkout_stripe, tenant, db, outbox) -> None:
    result = await _checkout(db, tenant.id, amount=5000, currency="JPY")
    session = {**checkout_stripe[result.payment.gateway_reference], "status": "expired"}
    payload = stripe_event("checkout.session.expired", session)
    r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    assert r.json()["outcome"] == "processed"
    got = await get(db, tenant.id, result.payment.id)
    assert got.status == "cancelled"
    cancelled = (await outbox(tenant.id, got.id))[-1]
    assert cancelled["type"] == "payment.cancelled"
    assert (cancelled["data"]["reason"], cancelled["data"]["amount"], cancelled["data"]["currency"]) == (
        "checkout_session_expired", 5000, "JPY")


async def test_cancel_checkout_session_expires_it(client, checkout_stripe, tenant, db) -> None:
    result = await _checkout(db, tenant.id)
    r = await client.post(f"/api/v1/payments/{result.payment.id}/cancel", headers=tenant.admin_headers)
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    assert checkout_stripe[result.payment.gateway_reference]["status"] == "expired"
