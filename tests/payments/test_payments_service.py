"""Test and manual gateways through the service: statuses from gateway facts, events in the outbox."""

from __future__ import annotations

import uuid

import pytest

import mercato.payments as payments
from mercato.payments.errors import IdempotencyKeyReused, InvalidPaymentData, PaymentMethodUnavailable
from mercato.platform.errors import IllegalTransition


async def test_success_card_authorizes_and_captures(tenant, pay, event_types) -> None:
    result = await pay(tenant.id, card_number="4242 4242 4242 4242", amount=2500)
    p = result.payment
    assert (p.status, p.amount_captured, p.method, p.gateway) == ("captured", 2500, "test", "test")
    assert p.gateway_reference and p.failure_code is None
    assert await event_types(tenant.id, p.id) == ["payment.created", "payment.authorized", "payment.captured"]


async def test_authorize_only_then_capture(tenant, pay, db, event_types) -> None:
    result = await pay(tenant.id, capture=False, amount=1000)
    assert result.payment.status == "authorized"
    async with db.tenant_transaction(tenant.id) as s:
        p = await payments.capture(s, result.payment.id, 600)
    assert (p.status, p.amount_captured) == ("captured", 600)
    assert await event_types(tenant.id, p.id) == ["payment.created", "payment.authorized", "payment.captured"]


async def test_decline_card_fails_with_code(tenant, pay, outbox) -> None:
    p = (await pay(tenant.id, card_number="4000000000000002")).payment
    assert (p.status, p.failure_code, p.amount_captured) == ("failed", "card_declined", 0)
    events = await outbox(tenant.id, p.id)
    assert [e["type"] for e in events] == ["payment.created", "payment.failed"]
    failed = events[-1]["data"]
    assert failed["failure_code"] == "card_declined"
    assert {failed["order_id"], failed["amount"], failed["currency"]} == {str(p.order_id), p.amount, "USD"}


async def test_requires_action_then_3ds_confirm_succeeds(tenant, pay, db, event_types) -> None:
    result = await pay(tenant.id, card_number="4000002500003155")
    assert result.payment.status == "requires_action"
    assert result.next_action and result.next_action["type"] == "three_d_secure"
    async with db.tenant_transaction(tenant.id) as s:
        confirmed = await payments.confirm_payment(s, result.payment.id, {"three_d_secure": "succeeded"})
    assert confirmed.payment.status == "captured"
    assert await event_types(tenant.id, result.payment.id) == [
        "payment.created", "payment.requires_action", "payment.authorized", "payment.captured"]


async def test_requires_action_then_3ds_failure(tenant, pay, db) -> None:
    result = await pay(tenant.id, card_number="4000002500003155")
    async with db.tenant_transaction(tenant.id) as s:
        confirmed = await payments.confirm_payment(s, result.payment.id, {"three_d_secure": "failed"})
    assert (confirmed.payment.status, confirmed.payment.failure_code) == ("failed", "authentication_failed")


async def test_capture_failure_card(tenant, pay, event_types) -> None:
    p = (await pay(tenant.id, card_number="4000000000000341")).payment
    assert (p.status, p.failure_code, p.amount_captured) == ("failed", "capture_declined", 0)
    assert await event_types(tenant.id, p.id) == ["payment.created", "payment.authorized", "payment.failed"]


async def test_unknown_card_is_rejected_and_nothing_recorded(tenant, pay, db) -> None:
    order = uuid.uuid4()
    with pytest.raises(InvalidPaymentData):
        await pay(tenant.id, card_number="1234123412341234", order_id=order)
    async with db.tenant_transaction(tenant.id) as s:
        assert await payments.get_payments_for_order(s, order) == []


async def test_same_idempotency_key_is_one_attempt(tenant, pay, event_types) -> None:
    order = uuid.uuid4()
    first = await pay(tenant.id, order_id=order, idempotency_key="checkout-1")
    again = await pay(tenant.id, order_id=order, idempotency_key="checkout-1")
    assert again.replayed and again.payment.id == first.payment.id
    assert (await event_types(tenant.id, first.payment.id)).count("payment.captured") == 1


async def test_idempotency_key_reused_for_other_payment(tenant, pay) -> None:
    await pay(tenant.id, idempotency_key="k-1", amount=100)
    with pytest.raises(IdempotencyKeyReused):
        await pay(tenant.id, idempotency_key="k-1", amount=200)


async def test_manual_payment_pending_until_marked_paid(tenant, pay, db, event_types) -> None:
    p = (await pay(tenant.id, method="manual", amount=5000, currency="EUR")).payment
    assert (p.status, p.amount_captured) == ("pending", 0)
    async with db.tenant_transaction(tenant.id) as s:
        paid = await payments.mark_paid(s, p.id)
    assert (paid.status, paid.amount_captured) == ("captured", 5000)
    async with db.tenant_transaction(tenant.id) as s:
        again = await payments.mark_paid(s, p.id)  # idempotent
    assert again.status == "captured"
    assert await event_types(tenant.id, p.id) == ["payment.created", "payment.captured"]


async def test_cancel_pending_manual_and_no_capture_after(tenant, pay, db, event_types) -> None:
    p = (await pay(tenant.id, method="manual")).payment
    async with db.tenant_transaction(tenant.id) as s:
        assert (await payments.cancel(s, p.id)).status == "cancelled"
    with pytest.raises(IllegalTransition):
        async with db.tenant_transaction(tenant.id) as s:
            await payments.mark_paid(s, p.id)
    assert await event_types(tenant.id, p.id) == ["payment.created", "payment.cancelled"]


async def test_stripe_unavailable_without_key(tenant, pay, payment_env) -> None:
    payment_env(stripe_secret_key=None)
    with pytest.raises(PaymentMethodUnavailable):
        await pay(tenant.id, method="stripe", payment_data={})


async def test_payments_for_order_lists_attempts_in_order(tenant, pay, db) -> None:
    order = uuid.uuid4()
    a = await pay(tenant.id, order_id=order, card_number="4000000000000002")
    b = await pay(tenant.id, order_id=order)
    async with db.tenant_transaction(tenant.id) as s:
        listed = await payments.get_payments_for_order(s, order)
    assert [p.id for p in listed] == [a.payment.id, b.payment.id]
    assert [p.status for p in listed] == ["failed", "captured"]
