"""A return refunded through Stripe: the official SDK against localstripe, the refund landing on
the original PaymentIntent."""

from __future__ import annotations

import pytest
from returns_helpers import API, ok, stripe_refunded_return

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]


async def test_refund_goes_back_through_stripe(client, tenant, db, stripe_env) -> None:
    flow = await stripe_refunded_return(client, db, tenant, stripe_env)
    order, done, sdk, paid = flow.order, flow.done, flow.sdk, flow.paid
    staff = tenant.admin_headers
    assert done["refund"]["amount"] == 2500 + 500 and done["refund"]["payments"][0]["status"] == "succeeded"
    remote = await sdk.v1.refunds.list_async({"payment_intent": paid.payment.gateway_reference})
    assert [x.amount for x in remote.data] == [3000]
    after = await ok(await client.get(f"{API}/orders/{order['id']}", headers=staff))
    assert (after["payment_status"], after["amount_refunded"]) == ("partially_refunded", 3000)
    assert done["return"]["status"] == "completed"
