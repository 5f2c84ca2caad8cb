"""Stripe at checkout, for real: ``complete`` creates the PaymentIntent (official SDK against
localstripe), the storefront confirms it with the SDK (as Stripe.js would), localstripe sends the
signed ``payment_intent.*`` webhook over HTTP to the app under uvicorn, and the outbox relay lets
orders mark the order paid (or give the stock back after a decline).

Stripe Checkout Sessions are not implemented by localstripe: that flow runs against the shared
stand-in of the two calls we make (create, expire) with signed synthesized webhooks."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe
from checkout_helpers import API, complete, ready_checkout, shop_setup
from commerce_helpers import make_product
from payments_helpers import STRIPE_TEST_KEY, WEBHOOK_PATH, WEBHOOK_SECRET, signed, stripe_event
from sqlalchemy import text

from mercato.platform.events import Relay

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]


@pytest.fixture(scope="module", autouse=True)
def webhook_registered(stripe_env: dict[str, str], localstripe_url: str, app_server: str) -> str:
    url = f"{app_server}{WEBHOOK_PATH}"
    r = httpx.post(f"{localstripe_url}/_config/webhooks/mercato-checkout",
                   data={"url": url, "secret": WEBHOOK_SECRET}, timeout=5)
    r.raise_for_status()
    return url


@pytest_asyncio.fixture
async def storefront(localstripe_url: str) -> Any:
    """What Stripe.js does in the browser, done with the official SDK against localstripe."""
    return stripe.StripeClient(STRIPE_TEST_KEY, base_addresses={"api": localstripe_url},
                               http_client=stripe.HTTPXClient(allow_sync_methods=False))


async def _order(db, tenant_id, order_id) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return dict((await s.execute(text("SELECT status, payment_status, amount_paid, total, reservation_id "
                                          "FROM orders WHERE id = :o"), {"o": order_id})).mappings().one())


async def _available(db, tenant_id, variant_id) -> int:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return int((await s.execute(text("SELECT sum(on_hand - reserved) FROM inventory_levels WHERE variant_id = :v"),
                                    {"v": variant_id})).scalar_one())


async def _until_order(db, worker_db, tenant_id, order_id, predicate, within: float = 20) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Poll (the webhook arrives about a second after the event), running the outbox relay as the
    worker would, until the order satisfies ``predicate``."""
    relay = Relay(worker_db, db)
    deadline = time.monotonic() + within
    while True:
        await relay.drain()
        order = await _order(db, tenant_id, order_id)
        if predicate(order) or time.monotonic() > deadline:
            return order
        await asyncio.sleep(0.25)


async def _stripe_checkout(client, db, tenant, *, price_cents: int = 2000, currency: str = "USD",  # type: ignore[no-untyped-def]
                           quantity: int = 2, shipping: bool = True, **body: Any) -> tuple[dict[str, Any], dict[str, Any], Any]:
    setup = await shop_setup(client, tenant)
    p = await make_product(db, tenant.id, price_cents=price_cents, currency=currency, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], quantity)],
                              method_id=setup["method_id"] if shipping else None, payment_method="stripe")
    r = await complete(client, co, card=None, **body)
    assert r.status_code == 200, r.text
    return co, r.json(), p


def _intent_id(client_secret: str) -> str:
    return client_secret.split("_secret_")[0]


async def _pay(storefront: stripe.StripeClient, intent: str, number: str) -> stripe.PaymentIntent:
    """Stripe.js ``confirmCardPayment``: a card, attached to the intent, then confirm."""
    pm = await storefront.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    await storefront.v1.payment_intents.update_async(intent, {"payment_method": pm.id})
    return await storefront.v1.payment_intents.confirm_async(intent)


async def test_stripe_checkout_paid_by_webhook(client, db, worker_db, tenant, storefront) -> None:  # type: ignore[no-untyped-def]
    co, body, p = await _stripe_checkout(client, db, tenant)
    order_id = body["order"]["id"]
    assert body["status"] == "completed"
    assert (body["order"]["status"], body["order"]["payment_status"]) == ("pending", "unpaid")
    assert body["payment"]["status"] == "pending" and body["payment"]["method"] == "stripe"
    secret = body["payment"]["client_secret"]
    assert secret and "_secret_" in secret
    intent = await storefront.v1.payment_intents.retrieve_async(_intent_id(secret))
    assert (intent.amount, intent.currency) == (body["order"]["total"], "usd")
    assert intent.metadata["order_id"] == order_id and intent.metadata["payment_id"] == body["payment"]["id"]
    assert await _available(db, tenant.id, p["variant_id"]) == 3  # held while the customer pays
    # the client secret is for the storefront only: never stored, never in the checkout's stored result
    async with db.tenant_transaction(tenant.id) as s:
        stored = (await s.execute(text("SELECT result::text FROM checkouts WHERE id = :c"), {"c": co["id"]})).scalar_one()
    assert secret not in stored

    # the storefront lost the secret (a reload): `complete` again gives the same intent's secret, fetched from
    # Stripe, and still one order and one payment
    again = await complete(client, co, card=None)
    assert again.status_code == 200 and again.json()["order"]["id"] == order_id, again.text
    assert again.json()["payment"]["client_secret"] == secret
    confirmed = await _pay(storefront, _intent_id(secret), "4242424242424242")
    assert confirmed.status == "succeeded"
    order = await _until_order(db, worker_db, tenant.id, order_id, lambda o: o["payment_status"] == "paid")
    assert (order["status"], order["payment_status"], order["amount_paid"]) == ("paid", "paid", order["total"])
    assert await _available(db, tenant.id, p["variant_id"]) == 3  # still held for the order until it ships
    r = await client.get(f"{API}/checkouts/{co['id']}", headers=co["headers"])
    assert r.json()["status"] == "completed" and r.json()["order"]["id"] == order_id
    async with db.tenant_transaction(tenant.id) as s:
        assert (await s.execute(text("SELECT count(*) FROM payments WHERE order_id = :o"),
                                {"o": order_id})).scalar_one() == 1
    paid_again = await complete(client, co, card=None)  # paid now: nothing more to confirm
    assert paid_again.status_code == 200 and paid_again.json()["payment"]["client_secret"] is None


async def test_the_idempotency_store_never_keeps_the_client_secret(client, db, tenant, storefront) -> None:  # type: ignore[no-untyped-def]
    key = uuid.uuid4().hex
    co, body, _ = await _stripe_checkout(client, db, tenant, key=key)
    secret = body["payment"]["client_secret"]
    assert secret and "_secret_" in secret
    async with db.tenant_transaction(tenant.id) as s:
        row = (await s.execute(text("SELECT status, response_body, response_headers::text AS headers "
                                    "FROM idempotency_keys WHERE key = :k"), {"k": key})).one()
    assert row.status == "completed"
    assert secret.encode() not in row.response_body and b"_secret_" not in row.response_body
    assert "_secret_" not in row.headers
    # a retry with the same key replays the answer with the secret redacted ...
    replay = await complete(client, co, key=key, card=None)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["idempotent-redacted"] == "payment.client_secret"
    assert replay.json()["payment"]["client_secret"] is None
    assert replay.json()["order"] == body["order"] and replay.json()["payment"]["id"] == body["payment"]["id"]
    # ... and a new key gets the intent's secret again, fetched from Stripe, which the storefront can confirm
    fresh = await complete(client, co, card=None)
    assert fresh.status_code == 200 and "idempotent-replayed" not in fresh.headers
    assert fresh.json()["payment"]["client_secret"] == secret
    assert fresh.json()["order"]["id"] == body["order"]["id"]
    assert (await _pay(storefront, _intent_id(secret), "4242424242424242")).status == "succeeded"
    async with db.tenant_transaction(tenant.id) as s:
        stored = (await s.execute(text("SELECT count(*) FROM idempotency_keys WHERE position(:x in "
                                       "convert_from(response_body, 'UTF8')) > 0"), {"x": secret})).scalar_one()
    assert stored == 0


async def test_stripe_checkout_with_3d_secure(client, db, worker_db, tenant, storefront, localstripe_url) -> None:  # type: ignore[no-untyped-def]
    _, body, _ = await _stripe_checkout(client, db, tenant)
    secret, order_id = body["payment"]["client_secret"], body["order"]["id"]
    confirmed = await _pay(storefront, _intent_id(secret), "4000002500003155")
    assert confirmed.status == "requires_action" and confirmed.next_action
    order = await _order(db, tenant.id, order_id)
    assert order["payment_status"] == "unpaid"
    # The customer passes 3-D Secure (localstripe's stand-in for the bank's page, as Stripe.js would show it).
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{localstripe_url}/v1/payment_intents/{_intent_id(secret)}/_authenticate",
                            data={"client_secret": secret, "success": "true", "key": "pk_test_x"})
    assert r.status_code == 200, r.text
    order = await _until_order(db, worker_db, tenant.id, order_id, lambda o: o["payment_status"] == "paid")
    assert (order["status"], order["payment_status"]) == ("paid", "paid")


async def test_stripe_decline_releases_the_stock(client, db, worker_db, tenant, storefront) -> None:  # type: ignore[no-untyped-def]
    _, body, p = await _stripe_checkout(client, db, tenant)
    order_id = body["order"]["id"]
    assert await _available(db, tenant.id, p["variant_id"]) == 3
    with pytest.raises(stripe.CardError):
        await _pay(storefront, _intent_id(body["payment"]["client_secret"]), "4000000000000341")
    order = await _until_order(db, worker_db, tenant.id, order_id, lambda o: o["payment_status"] == "failed")
    # shop setting cancel_on_payment_failure is off by default: the order stays pending for another attempt,
    # and its stock goes back on sale
    assert (order["status"], order["payment_status"]) == ("pending", "failed")
    assert await _available(db, tenant.id, p["variant_id"]) == 5


async def test_stripe_jpy_is_sent_without_minor_units(client, db, worker_db, tenant, storefront) -> None:  # type: ignore[no-untyped-def]
    _, body, _ = await _stripe_checkout(client, db, tenant, price_cents=1500, currency="JPY", shipping=False)
    assert body["order"]["currency"] == "JPY"
    total = body["order"]["total"]  # ¥3,000 + 8.5 % tax = ¥3,255: whole yen
    assert total == 3255
    intent = await storefront.v1.payment_intents.retrieve_async(_intent_id(body["payment"]["client_secret"]))
    assert (intent.amount, intent.currency) == (3255, "jpy")
    await _pay(storefront, intent.id, "4242424242424242")
    order = await _until_order(db, worker_db, tenant.id, body["order"]["id"], lambda o: o["payment_status"] == "paid")
    assert order["amount_paid"] == 3255


async def test_stripe_checkout_session(client, db, worker_db, tenant, checkout_session_standin) -> None:  # type: ignore[no-untyped-def]
    _, body, _ = await _stripe_checkout(client, db, tenant, stripe_flow="checkout_session",
                                         success_url="https://shop.example/thanks",
                                         cancel_url="https://shop.example/cart")
    payment, order_id = body["payment"], body["order"]["id"]
    assert payment["status"] == "pending" and payment["redirect_url"].startswith("https://checkout.stripe.com/")
    session = next(iter(checkout_session_standin.values()))
    assert (session["amount_total"], session["metadata"]["order_id"]) == (body["order"]["total"], order_id)
    assert session["success_url"] == "https://shop.example/thanks"
    paid = {**session, "status": "complete", "payment_status": "paid", "payment_intent": f"pi_{uuid.uuid4().hex}"}
    payload = stripe_event("checkout.session.completed", paid)
    r = await client.post(WEBHOOK_PATH, content=payload, headers=signed(payload))
    assert r.status_code == 200 and r.json()["outcome"] == "processed", r.text
    order = await _until_order(db, worker_db, tenant.id, order_id, lambda o: o["payment_status"] == "paid")
    assert order["status"] == "paid"


async def test_checkout_session_needs_return_urls(client, db, tenant, stripe_env) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="stripe")
    r = await complete(client, co, card=None, stripe_flow="checkout_session", success_url="https://shop.example/ok")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cancel_url", r.text
