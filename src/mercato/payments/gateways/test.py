"""The built-in ``test`` gateway: deterministic test cards, no network, nothing configured.

=====================  ==================================================================
``4242424242424242``   succeeds (authorized, then captured)
``4000000000000002``   declined (``card_declined``)
``4000002500003155``   requires action (3-D Secure); ``confirm`` with
                       ``{"three_d_secure": "succeeded"}`` succeeds, ``"failed"`` fails
``4000000000000341``   authorizes, then fails at capture (``capture_declined``)
anything else          rejected as invalid (422 ``invalid_payment_data``)
=====================  ==================================================================

Stateless: what a later call needs (the card's scenario, its last four digits) is kept in the
payment's stored gateway response, never the card number.
"""

from __future__ import annotations

import uuid
from typing import Any

from mercato.payments.domain import PaymentStatus, RefundStatus
from mercato.payments.errors import InvalidPaymentData
from mercato.payments.gateways import ChargeRequest, GatewayPayment, Outcome, RefundOutcome

SUCCEEDS = "4242424242424242"
DECLINES = "4000000000000002"
REQUIRES_ACTION = "4000002500003155"
FAILS_AT_CAPTURE = "4000000000000341"

_SCENARIOS = {SUCCEEDS: "succeeds", DECLINES: "declines", REQUIRES_ACTION: "requires_action",
              FAILS_AT_CAPTURE: "fails_at_capture"}


def _card(payment_data: dict[str, Any]) -> str:
    unknown = set(payment_data) - {"card_number"}
    if unknown:
        raise InvalidPaymentData(f"unknown field(s) for the test gateway: {', '.join(sorted(unknown))}",
                                 field="payment_data")
    raw = payment_data.get("card_number")
    number = "".join(str(raw or "").split())
    if number not in _SCENARIOS:
        raise InvalidPaymentData("not a test card number (see docs/payments.md)", field="payment_data.card_number")
    return number


class TestGateway:
    __test__ = False  # not a pytest class
    name = "test"
    captures_in_start = False

    async def start(self, request: ChargeRequest) -> Outcome:
        number = _card(request.payment_data)
        scenario = _SCENARIOS[number]
        reference = f"test_{request.payment_id.hex}"
        response = {"scenario": scenario, "card_last4": number[-4:]}
        if scenario == "declines":
            return Outcome(PaymentStatus.FAILED, reference, failure_code="card_declined",
                           failure_message="Your card was declined.", response=response)
        if scenario == "requires_action":
            return Outcome(PaymentStatus.REQUIRES_ACTION, reference, response=response, next_action={
                "type": "three_d_secure", "confirm_with": {"three_d_secure": "succeeded"}})
        return Outcome(PaymentStatus.AUTHORIZED, reference, response=response)

    async def confirm(self, payment: GatewayPayment, data: dict[str, Any]) -> Outcome:
        result = data.get("three_d_secure")
        if set(data) - {"three_d_secure"} or result not in ("succeeded", "failed"):
            raise InvalidPaymentData('confirm with {"three_d_secure": "succeeded" | "failed"}', field="payment_data")
        response = {**payment.response, "three_d_secure": result}
        if result == "failed":
            return Outcome(PaymentStatus.FAILED, payment.reference, failure_code="authentication_failed",
                           failure_message="3-D Secure authentication failed.", response=response)
        return Outcome(PaymentStatus.AUTHORIZED, payment.reference, response=response)

    async def capture(self, payment: GatewayPayment, amount: int) -> Outcome:
        if payment.response.get("scenario") == "fails_at_capture":
            return Outcome(PaymentStatus.FAILED, payment.reference, failure_code="capture_declined",
                           failure_message="The authorization could not be captured.", response=payment.response)
        return Outcome(PaymentStatus.CAPTURED, payment.reference, amount_captured=amount, response=payment.response)

    async def cancel(self, payment: GatewayPayment) -> Outcome:
        return Outcome(PaymentStatus.CANCELLED, payment.reference, response=payment.response)

    async def refund(self, payment: GatewayPayment, *, refund_id: uuid.UUID, amount: int,
                     reason: str | None) -> RefundOutcome:
        return RefundOutcome(RefundStatus.SUCCEEDED, f"test_re_{refund_id.hex}")

    async def retrieve(self, payment: GatewayPayment) -> Outcome:
        raise NotImplementedError("the test gateway keeps no state to retrieve")
