"""Pure rules: the status machine, the refund limit, secret stripping, Stripe amounts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.payments.domain import (
    PAYMENT_TRANSITIONS,
    REDACTED,
    SETTLED,
    TERMINAL,
    PaymentStatus,
    check_capture_amount,
    check_refund,
    check_transition,
    refundable,
    status_after_refunds,
    strip_secrets,
)
from mercato.payments.errors import RefundExceedsCaptured
from mercato.payments.gateways.stripe import from_stripe_amount, payment_intent_outcome, to_stripe_amount
from mercato.platform.errors import IllegalTransition, ValidationFailed
from mercato.platform.money import UnsupportedCurrency

ALL = list(PaymentStatus)


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("target", ALL)
def test_every_transition_is_declared(current: PaymentStatus, target: PaymentStatus) -> None:
    if target in PAYMENT_TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition) as err:
            check_transition(current, target)
        assert err.value.extra["allowed_transitions"] == sorted(str(s) for s in PAYMENT_TRANSITIONS[current])


def test_final_and_money_rules_of_the_machine() -> None:
    assert TERMINAL == {PaymentStatus.CANCELLED, PaymentStatus.REFUNDED}
    # Money taken is never un-taken except by refunds; a settled payment cannot fail or be cancelled.
    for s in SETTLED:
        assert not PAYMENT_TRANSITIONS[s] & {PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.PENDING}
    # Every status is reachable from pending.
    seen, todo = {PaymentStatus.PENDING}, [PaymentStatus.PENDING]
    while todo:
        for n in PAYMENT_TRANSITIONS[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    assert seen == set(ALL)


@given(captured=st.integers(0, 10**9), refunded=st.integers(0, 10**9), pending=st.integers(0, 10**9),
       amount=st.integers(-10, 2 * 10**9))
def test_refund_never_exceeds_captured_minus_refunded(captured: int, refunded: int, pending: int, amount: int) -> None:
    refunded = min(refunded, captured)
    status = status_after_refunds(captured, refunded) if captured else PaymentStatus.CAPTURED
    try:
        check_refund(status=status, amount_captured=captured, amount_refunded=refunded, amount_pending=pending,
                     amount=amount)
    except ValidationFailed:
        assert amount <= 0
    except RefundExceedsCaptured:
        assert amount > captured - refunded - pending
    else:
        assert 0 < amount <= captured - refunded - pending
        assert refunded + pending + amount <= captured


@given(captured=st.integers(1, 10**7), refunds=st.lists(st.integers(1, 10**6), max_size=30))
def test_a_sequence_of_accepted_refunds_stays_within_captured(captured: int, refunds: list[int]) -> None:
    refunded = 0
    for amount in refunds:
        try:
            check_refund(status=status_after_refunds(captured, refunded), amount_captured=captured,
                         amount_refunded=refunded, amount_pending=0, amount=amount)
        except RefundExceedsCaptured:
            continue
        refunded += amount
        assert refunded <= captured
    assert refundable(captured, refunded) == captured - refunded
    assert status_after_refunds(captured, refunded) == (
        PaymentStatus.CAPTURED if refunded == 0 else
        PaymentStatus.REFUNDED if refunded == captured else PaymentStatus.PARTIALLY_REFUNDED)


@pytest.mark.parametrize("status", ["pending", "authorized", "failed", "cancelled", "requires_action"])
def test_nothing_to_refund_before_capture(status: str) -> None:
    with pytest.raises(RefundExceedsCaptured):
        check_refund(status=status, amount_captured=0, amount_refunded=0, amount_pending=0, amount=1)


def test_capture_amount_bounds() -> None:
    assert check_capture_amount(1000, None) == 1000
    assert check_capture_amount(1000, 1) == 1
    for bad in (0, -1, 1001):
        with pytest.raises(ValidationFailed):
            check_capture_amount(1000, bad)


def test_strip_secrets_redacts_keys_and_values() -> None:
    pi = {
        "id": "pi_123", "object": "payment_intent", "amount": 1999, "status": "succeeded",
        "client_secret": "pi_123_secret_abcdef",
        "metadata": {"tenant_id": "t", "note": "key sk_test_abcdef123 leaked"},
        "payment_method_details": {"card": {"number": "4242424242424242", "cvc": "123", "exp_month": 12,
                                            "exp_year": 2030, "last4": "4242", "brand": "visa"}},
        "charges": [{"id": "ch_1", "description": "paid with 4000 0000 0000 0002? no: 4000000000000002"}],
        "headers": {"Authorization": "Bearer sk_live_zzz", "Stripe-Signature": "t=1,v1=abc"},
        "webhook": {"secret": "whsec_abc"}, "nested": {"api_key": "rk_live_x", "token": "tok_1"},
        "empty_secret": None,
    }
    out = strip_secrets(pi)
    assert out["id"] == "pi_123" and out["amount"] == 1999 and out["status"] == "succeeded"
    assert out["client_secret"] == REDACTED
    assert out["metadata"] == {"tenant_id": "t", "note": f"key {REDACTED} leaked"}
    card = out["payment_method_details"]["card"]
    assert (card["number"], card["cvc"], card["exp_month"], card["exp_year"]) == (REDACTED,) * 4
    assert (card["last4"], card["brand"]) == ("4242", "visa")
    assert "4000000000000002" not in out["charges"][0]["description"]
    assert out["headers"] == {"Authorization": REDACTED, "Stripe-Signature": REDACTED}
    assert out["webhook"]["secret"] == REDACTED and out["nested"] == {"api_key": REDACTED, "token": REDACTED}
    assert out["empty_secret"] is None
    text = str(out)
    for secret in ("pi_123_secret", "sk_test_", "sk_live_", "whsec_", "rk_live_", "4242424242424242"):
        assert secret not in text
    assert pi["client_secret"] == "pi_123_secret_abcdef"  # the input is not modified


def test_strip_secrets_free_text_secret_values() -> None:
    assert strip_secrets("secret pi_9_secret_XyZ and seti_1_secret_a") == f"secret {REDACTED} and {REDACTED}"
    assert strip_secrets(["whsec_abc=", 3, None]) == [REDACTED, 3, None]


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    (1000, "JPY", 1000),   # ¥1,000: JPY has no minor unit, Stripe takes whole yen
    (1, "JPY", 1),
    (1999, "USD", 1999),   # $19.99 in cents
    (1050, "EUR", 1050),
    (999, "GBP", 999),
    (0, "USD", 0),
    (50000, "KRW", 50000),
])
def test_to_stripe_amount(amount: int, currency: str, expected: int) -> None:
    assert to_stripe_amount(amount, currency) == expected
    assert from_stripe_amount(expected, currency.lower()) == amount


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True])
def test_to_stripe_amount_rejects_non_minor_units(bad: object) -> None:
    with pytest.raises(ValueError):
        to_stripe_amount(bad, "USD")  # type: ignore[arg-type]


def test_to_stripe_amount_rejects_unknown_currency() -> None:
    with pytest.raises(UnsupportedCurrency):
        to_stripe_amount(100, "XXX")


@pytest.mark.parametrize(("pi_status", "error", "expected"), [
    ("requires_payment_method", None, "pending"),
    ("requires_payment_method", {"code": "card_declined", "message": "no"}, "failed"),
    ("requires_confirmation", None, "pending"),
    ("requires_action", None, "requires_action"),
    ("processing", None, "pending"),
    ("requires_capture", None, "authorized"),
    ("succeeded", None, "captured"),
    ("canceled", None, "cancelled"),
])
def test_payment_intent_status_mapping(pi_status: str, error: dict | None, expected: str) -> None:
    outcome = payment_intent_outcome({"id": "pi_1", "status": pi_status, "amount": 500, "amount_received": 500,
                                      "currency": "jpy", "last_payment_error": error})
    assert outcome.status == expected
    if expected == "captured":
        assert outcome.amount_captured == 500
    if expected == "failed":
        assert outcome.failure_code == "card_declined"
