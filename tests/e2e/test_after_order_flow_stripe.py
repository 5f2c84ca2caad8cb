"""After the order, paid with Stripe (the official SDK against localstripe): a signed-in customer
checks out, confirms the PaymentIntent as Stripe.js would, localstripe's signed webhook marks the
order paid; the parcel ships with a manual carrier and is delivered; a return is received and
refunded in part back through Stripe (the refund lands on the original PaymentIntent), with the
refund's notification and signed webhook deliveries."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
import stripe
from checkout_helpers import ADDRESS
from fulfillment_helpers import create, label, ok, packed, ship, shop, track
from localstripe_fixtures import app_server, localstripe_url, stripe_env  # noqa: F401 (fixtures)
from payments_helpers import STRIPE_TEST_KEY, WEBHOOK_PATH, WEBHOOK_SECRET
from sqlalchemy import text
from webhook_helpers import create_endpoint, deliveries, now, relay

import mercato.webhooks as webhooks
from mercato.platform.events import Relay

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]

API = "/api/v1"


@pytest.fixture(scope="module", autouse=True)
def stripe_webhook_registered(stripe_env: dict[str, str], localstripe_url: str, app_server: str) -> str:  # noqa: F811
    """localstripe sends its signed webhooks over HTTP to the app under uvicorn."""
    url = f"{app_server}{WEBHOOK_PATH}"
    httpx.post(f"{localstripe_url}/_config/webhooks/mercato-e2e", data={"url": url, "secret": WEBHOOK_SECRET},
               timeout=5).raise_for_status()
    return url


async def _order_until(client: Any, db: Any, worker_db: Any, tenant: Any, order_id: str, payment_status: str,
                       within: float = 30) -> dict[str, Any]:
    """The webhook arrives a moment after the confirmation; run the relay as the worker would."""
    deadline = time.monotonic() + within
    relay_ = Relay(worker_db, db)
    while True:
        await relay_.drain()
        order = await ok(await client.get(f"{API}/orders/{order_id}", headers=tenant.admin_headers))
        if order["payment_status"] == payment_status or time.monotonic() > deadline:
            return order
        await asyncio.sleep(0.25)


async def test_stripe_paid_order_shipped_returned_and_refunded_through_stripe(  # type: ignore[no-untyped-def]
        client, tenant, db, worker_db, receiver, localstripe_url) -> None:  # noqa: F811
    from commerce_helpers import customer_headers

    staff = tenant.admin_headers
    endpoint = await create_endpoint(client, tenant, receiver.url, event_types=["refund.succeeded", "order.refunded",
                                                                                "return.received"])
    receiver.secret = endpoint["secret"]
    s = await shop(client, tenant, east=5, west=5)
    east = s["locations"]["East"]

    # --- a signed-in customer checks out with Stripe: the storefront gets the PaymentIntent's client secret
    customer = await customer_headers(client, tenant)
    h = customer["headers"]
    cart = await ok(await client.post(f"{API}/carts", headers=h), 201)
    await ok(await client.post(f"{API}/carts/{cart['id']}/lines", headers=h,
                               json={"variant_id": s["variants"]["Red"], "quantity": 2}))
    co = await ok(await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart["id"]}), 201)
    await ok(await client.put(f"{API}/checkouts/{co['id']}/shipping-address", headers=h, json=ADDRESS))
    await ok(await client.put(f"{API}/checkouts/{co['id']}/shipping-method", headers=h,
                              json={"method_id": s["method_id"]}))
    await ok(await client.put(f"{API}/checkouts/{co['id']}/payment-method", headers=h, json={"method": "stripe"}))
    done = await ok(await client.post(f"{API}/checkouts/{co['id']}/complete",
                                      headers={**h, "Idempotency-Key": uuid.uuid4().hex}, json={}))
    order_id, secret = done["order"]["id"], done["payment"]["client_secret"]
    assert done["order"]["status"] == "pending" and secret

    # --- Stripe.js confirms the card (the SDK against localstripe); the signed webhook marks the order paid
    sdk = stripe.StripeClient(STRIPE_TEST_KEY, base_addresses={"api": localstripe_url},
                              http_client=stripe.HTTPXClient(allow_sync_methods=False))
    intent_id = secret.split("_secret_")[0]
    pm = await sdk.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    await sdk.v1.payment_intents.update_async(intent_id, {"payment_method": pm.id})
    assert (await sdk.v1.payment_intents.confirm_async(intent_id)).status == "succeeded"
    order = await _order_until(client, db, worker_db, tenant, order_id, "paid")
    assert (order["status"], order["payment_status"], order["amount_paid"]) == ("paid", "paid", order["total"])

    # --- one parcel with a manual carrier (staff type the tracking number), shipped and delivered
    red = order["lines"][0]["id"]
    parcel = await create(client, tenant, order_id, {"carrier": "manual", "service": "standard",
                                                     "items": [{"line_id": red, "quantity": 2}]})
    await packed(client, tenant, parcel["id"])
    await label(client, tenant, parcel["id"], body={"tracking_number": "1Z999AA10123456784"})
    await ship(client, tenant, parcel["id"])
    await track(client, tenant, parcel["id"], "delivered")
    assert (await ok(await client.get(f"{API}/orders/{order_id}", headers=staff)))["status"] == "delivered"

    # --- one unit comes back resellable; part of its price is refunded through Stripe
    ret = await ok(await client.post(f"{API}/returns/mine", headers=h, json={
        "order_id": order_id, "lines": [{"order_line_id": red, "quantity": 1, "reason": "no_longer_needed"}]}), 201)
    await ok(await client.post(f"{API}/returns/{ret['id']}/approve", headers=staff, json={}))
    await ok(await client.post(f"{API}/returns/{ret['id']}/receive", headers=staff, json={
        "lines": [{"return_line_id": ret["lines"][0]["id"], "condition": "resellable", "location_id": east}]}))
    refunded = await ok(await client.post(f"{API}/returns/{ret['id']}/refunds", json={"amount": 1000},
                                          headers={**staff, "Idempotency-Key": f"e2e-stripe-{uuid.uuid4()}"}), 201)
    assert refunded["refund"]["payments"][0]["status"] == "succeeded"
    remote = await sdk.v1.refunds.list_async({"payment_intent": intent_id})
    assert [x.amount for x in remote.data] == [1000]  # on the original PaymentIntent, at Stripe
    after = await _order_until(client, db, worker_db, tenant, order_id, "partially_refunded")
    assert (after["payment_status"], after["amount_refunded"]) == ("partially_refunded", 1000)

    # --- the customer is told, the merchant's system receives the signed events (each once)
    await relay(db, worker_db)
    await webhooks.send_due(db, worker_db, now=now(), tenant_id=tenant.id)
    async with db.tenant_transaction(tenant.id) as session:
        templates = (await session.execute(text("SELECT template FROM notification_log WHERE recipient = :r"),
                                           {"r": customer["email"]})).scalars().all()
    assert {"order_confirmation", "order_shipped", "order_delivered", "order_refunded"} <= set(templates), templates
    assert {d["status"] for d in await deliveries(client, tenant, endpoint["id"])} == {"succeeded"}
    handled = [m["type"] for m in receiver.handled]
    assert handled.count("refund.succeeded") == 1 and "return.received" in handled and "order.refunded" in handled
    assert not receiver.verify_errors
