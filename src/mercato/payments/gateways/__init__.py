"""The gateway interface and its registry.

A gateway turns our requests into a provider's calls and reports *facts* back as an
:class:`Outcome` (the status the provider says the payment is in). It never writes to the
database and never decides a status on its own: the service applies outcomes through the
domain's state machine. Gateways raise :class:`~mercato.platform.breaker.GatewayFailure` when
the provider itself is failing (network, timeout, 5xx), which counts against the breaker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from mercato.payments.config import PaymentSettings
from mercato.payments.domain import PaymentStatus, RefundStatus
from mercato.payments.errors import PaymentMethodUnavailable


@dataclass(frozen=True)
class ChargeRequest:
    tenant_id: uuid.UUID
    payment_id: uuid.UUID
    order_id: uuid.UUID
    amount: int
    currency: str
    payment_data: dict[str, Any]
    idempotency_key: str
    capture: bool = True


@dataclass(frozen=True)
class GatewayPayment:
    """What a gateway needs to act on an existing payment."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    order_id: uuid.UUID
    amount: int
    currency: str
    reference: str | None
    response: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    status: PaymentStatus
    reference: str | None = None
    #: Amount the gateway says was captured (minor units); None: not reported.
    amount_captured: int | None = None
    #: Returned once to the storefront; never stored, never logged.
    client_secret: str | None = field(default=None, repr=False)
    next_action: dict[str, Any] | None = None
    redirect_url: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    response: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RefundOutcome:
    status: RefundStatus
    reference: str | None = None
    failure_code: str | None = None
    response: dict[str, Any] = field(default_factory=dict, repr=False)


class PaymentGateway(Protocol):
    name: str
    #: True when ``start`` with ``capture=True`` captures by itself (Stripe automatic capture);
    #: False when the service must call ``capture`` after an authorization (test gateway).
    captures_in_start: bool

    async def start(self, request: ChargeRequest) -> Outcome: ...

    async def confirm(self, payment: GatewayPayment, data: dict[str, Any]) -> Outcome: ...

    async def capture(self, payment: GatewayPayment, amount: int) -> Outcome: ...

    async def cancel(self, payment: GatewayPayment) -> Outcome: ...

    async def refund(self, payment: GatewayPayment, *, refund_id: uuid.UUID, amount: int,
                     reason: str | None) -> RefundOutcome: ...

    async def retrieve(self, payment: GatewayPayment) -> Outcome: ...


def get_gateway(method: str, settings: PaymentSettings) -> PaymentGateway:
    """The gateway serving ``method`` (``test``, ``manual``, ``stripe``)."""
    if method == "test":
        from mercato.payments.gateways.test import TestGateway

        return TestGateway()
    if method == "manual":
        from mercato.payments.gateways.manual import ManualGateway

        return ManualGateway()
    if method == "stripe":
        if not settings.stripe_enabled:
            raise PaymentMethodUnavailable("Stripe is not configured (MERCATO_STRIPE_SECRET_KEY)", field="method")
        from mercato.payments.gateways.stripe import stripe_gateway

        return stripe_gateway(settings)
    raise PaymentMethodUnavailable(f"unknown payment method {method!r}", field="method")


__all__ = ["ChargeRequest", "GatewayPayment", "Outcome", "PaymentGateway", "RefundOutcome", "get_gateway"]
