"""A return refunded through Stripe: the official SDK against localstripe, the refund landing on
the original PaymentIntent."""

from __future__ import annotations

import uuid

import pytest
from returns_helpers import API, deliver, line_of, make_shop, ok, stripe_paid_order

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]


async def test_refund_goes_back_through_stripe(client, tenant, db, stripe_env) -> None:
    shop = await make_shop(client, tenant)
    placed, sdk, paid = await stripe_paid_order(client, db, tenant, shop, stripe_env)
    order = await deliver(client, tenant, str(placed.id))
    staff = tenant.admin_headers
    r = await ok(await client.post(f"{API}/returns", headers=staff, json={"order_id": order["id"], "lines": [
        {"order_line_id": line_of(order, shop, "S")["id"], "quantity": 1, "reason": "defective"}]}), 201)
    await ok(await client.post(f"{API}/returns/{r['id']}/approve", headers=staff))
    await ok(await client.post(f"{API}/returns/{r['id']}/receive", headers=staff, json={
        "lines": [{"return_line_id": r["lines"][0]["id"], "condition": "damaged"}]}))
    done = await ok(await client.post(f"{API}/returns/{r['id']}/refunds", json={"include_shipping": True},
                                      headers={**staff, "Idempotency-Key": f"s-{uuid.uuid4()}"}), 201)
    assert done["refund"]["amount"] == 2500 + 500 and done["refund"]["payments"][0]["status"] == "succeeded"
    remote = await sdk.v1.refunds.list_async({"payment_intent": paid.payment.gateway_reference})
    assert [x.amount for x in remote.data] == [3000]
    after = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (after["payment_status"], after["amount_refunded"]) == ("partially_refunded", 3000)
    assert done["return"]["status"] == "completed"
