"""A return refunded through Stripe: the official SDK against localstripe, the refund landing on
the original PaymentIntent."""

from __future__ import annotations

import uuid

import pytest
import stripe
from returns_helpers import API, STRIPE_KEY, deliver, line_of, make_shop, ok

import mercato.catalog as catalog
import mercato.orders as orders
import mercato.payments as payments

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]


async def test_refund_goes_back_through_stripe(client, tenant, db, stripe_env) -> None:
    shop = await make_shop(client, tenant)
    sdk = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": stripe_env},
                              http_client=stripe.HTTPXClient(allow_sync_methods=False))
    pm = await sdk.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    variant = uuid.UUID(shop["variants"]["S"])
    async with db.tenant_transaction(tenant.id) as s:
        ref = (await catalog.get_variant_refs(s, [variant]))[variant]
        placed = await orders.place_order(s, orders.OrderDraft(
            currency="USD", email="stripe-buyer@example.com", lines=(orders.OrderLineDraft(
                variant_id=variant, product_id=ref.product_id, sku=ref.sku, product_name=ref.product_name,
                variant_title=ref.title, quantity=2, unit_price=2500, subtotal=5000, discount=0, tax=0,
                total=5000),), subtotal=5000, discount_total=0, shipping_total=500, shipping_discount=0,
            tax_total=0, total=5500, prices_include_tax=False, shipping_address=None, billing_address=None,
            payment_method="stripe"))
        paid = await payments.start_payment(s, order_id=placed.id, amount=5500, currency="USD", method="stripe",
                                            payment_data={"payment_method": pm.id, "confirm": True},
                                            idempotency_key=f"stripe-{placed.id}")
        assert paid.payment.status == "captured"
        await orders.record_payment(s, placed.id, outcome="captured", amount=5500, payment_id=paid.payment.id)
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
