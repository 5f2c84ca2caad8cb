"""The ``manual`` gateway: cash (or card terminal) on delivery.

No funds move at checkout: the payment stays ``pending`` and the order can proceed unpaid.
Staff mark it paid on delivery (``POST /payments/{id}/mark-paid``), which the service records
directly. Refunds are handed over by staff and recorded as succeeded.
"""

from __future__ import annotations

import uuid
from typing import Any

from mercato.payments.domain import PaymentStatus, RefundStatus
from mercato.payments.errors import InvalidPaymentData
from mercato.payments.gateways import ChargeRequest, GatewayPayment, Outcome, RefundOutcome


class ManualGateway:
    name = "manual"
    captures_in_start = True  # nothing to capture: collection happens off-line

    async def start(self, request: ChargeRequest) -> Outcome:
        unknown = set(request.payment_data) - {"note"}
        if unknown:
            raise InvalidPaymentData(f"unknown field(s) for manual payments: {', '.join(sorted(unknown))}",
                                     field="payment_data")
        return Outcome(PaymentStatus.PENDING, f"manual_{request.payment_id.hex}",
                       response={"note": str(request.payment_data.get("note", ""))[:500]})

    async def confirm(self, payment: GatewayPayment, data: dict[str, Any]) -> Outcome:
        raise InvalidPaymentData("manual payments need no confirmation")

    async def capture(self, payment: GatewayPayment, amount: int) -> Outcome:
        return Outcome(PaymentStatus.CAPTURED, payment.reference, amount_captured=amount)

    async def cancel(self, payment: GatewayPayment) -> Outcome:
        return Outcome(PaymentStatus.CANCELLED, payment.reference)

    async def refund(self, payment: GatewayPayment, *, refund_id: uuid.UUID, amount: int,
                     reason: str | None) -> RefundOutcome:
        return RefundOutcome(RefundStatus.SUCCEEDED, f"manual_re_{refund_id.hex}")

    async def retrieve(self, payment: GatewayPayment) -> Outcome:
        raise NotImplementedError("manual payments have nothing to retrieve")
