"""The ``stripe`` gateway: the official SDK, PaymentIntents and Checkout Sessions.

* PaymentIntent per payment, ``payment_method_types=["card"]``, metadata ``tenant_id``,
  ``order_id``, ``payment_id`` (webhooks arrive without a tenant: the verified event names it).
  The ``client_secret`` goes back to the storefront (Stripe.js confirms) and is never stored.
* Checkout Session as an alternative flow (``payment_data={"flow": "checkout_session", …}``):
  the customer pays on Stripe's page; ``checkout.session.completed`` marks the payment captured.
* Every mutating call carries an idempotency key derived from our ids, so a retry after a
  timeout can never charge twice.
* Amounts: Stripe wants the smallest currency unit, which is exactly our minor unit
  (cents for USD, whole yen for JPY): :func:`to_stripe_amount` checks and passes it through.

The secret key comes from settings only; it is never logged or returned.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from typing import Any

import stripe

from mercato.payments.config import PaymentSettings
from mercato.payments.domain import PaymentStatus, RefundStatus
from mercato.payments.errors import InvalidPaymentData, PaymentGatewayError
from mercato.payments.gateways import ChargeRequest, GatewayPayment, Outcome, RefundOutcome
from mercato.platform.breaker import GatewayFailure
from mercato.platform.money import check_currency, minor_units

log = logging.getLogger("mercato.payments.stripe")

#: Currencies Stripe treats as zero-decimal (amount = whole units). https://docs.stripe.com/currencies
STRIPE_ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                                 "VUV", "XAF", "XOF", "XPF"})


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our minor units → Stripe's ``amount``. Both are the currency's smallest unit: ¥1,000 is
    ``1000`` (JPY has no minor unit), $10.00 is ``1000`` cents. Refuses currencies whose minor
    unit we and Stripe count differently, and non-integer or negative amounts."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError("amount must be a non-negative integer of minor units")
    code = check_currency(currency)
    zero_decimal = minor_units(code) == 0
    if zero_decimal != (code in STRIPE_ZERO_DECIMAL):
        raise ValueError(f"{code}: our minor unit and Stripe's disagree")
    return amount


def from_stripe_amount(amount: int, currency: str) -> int:
    """Stripe's ``amount`` → our minor units (the inverse of :func:`to_stripe_amount`)."""
    return to_stripe_amount(int(amount), currency.upper())


# PaymentIntent status → ours. ``requires_payment_method`` after an attempt is a failure.
_PI_STATUS = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "processing": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_capture": PaymentStatus.AUTHORIZED,
    "succeeded": PaymentStatus.CAPTURED,
    "canceled": PaymentStatus.CANCELLED,
}

_REFUND_STATUS = {"succeeded": RefundStatus.SUCCEEDED, "pending": RefundStatus.PENDING,
                  "requires_action": RefundStatus.PENDING, "failed": RefundStatus.FAILED,
                  "canceled": RefundStatus.FAILED}

_PAYMENT_DATA_KEYS = {"payment_method", "confirm", "flow", "success_url", "cancel_url", "description"}


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)


def payment_intent_outcome(pi: dict[str, Any]) -> Outcome:
    """The facts of a PaymentIntent (an API response or a webhook's ``data.object``)."""
    status = _PI_STATUS.get(str(pi.get("status")), PaymentStatus.PENDING)
    error = pi.get("last_payment_error") or {}
    failure_code = failure_message = None
    if pi.get("status") == "requires_payment_method" and error:
        status = PaymentStatus.FAILED
        failure_code = error.get("decline_code") or error.get("code") or "payment_failed"
        failure_message = error.get("message")
    captured = None
    if status is PaymentStatus.CAPTURED:
        received = pi.get("amount_received") or pi.get("amount") or 0
        captured = from_stripe_amount(received, str(pi.get("currency", "usd")))
    next_action = None
    if status is PaymentStatus.REQUIRES_ACTION:
        next_action = {"type": (pi.get("next_action") or {}).get("type", "use_stripe_sdk")}
    return Outcome(status, pi.get("id"), amount_captured=captured, client_secret=pi.get("client_secret"),
                   next_action=next_action, failure_code=failure_code, failure_message=failure_message,
                   response=pi)


def refund_outcome(refund: dict[str, Any]) -> RefundOutcome:
    return RefundOutcome(_REFUND_STATUS.get(str(refund.get("status")), RefundStatus.PENDING), refund.get("id"),
                         failure_code=refund.get("failure_reason"), response=refund)


def _is_gateway_failure(exc: stripe.StripeError) -> bool:
    """Network errors, rate limits and 5xx say Stripe is unhealthy; 4xx say the request was refused."""
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    status = exc.http_status or 0
    return status >= 500 or (isinstance(exc, stripe.APIError) and not status)


class StripeGateway:
    name = "stripe"
    captures_in_start = True

    def __init__(self, settings: PaymentSettings) -> None:
        assert settings.stripe_secret_key is not None
        self._api_key = settings.stripe_secret_key
        self._api_base = settings.stripe_api_base
        self._timeout = settings.payment_gateway_timeout_seconds
        self._retries = settings.stripe_max_network_retries
        # httpx clients belong to the event loop that created them: one SDK client per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, stripe.StripeClient] = (
            weakref.WeakKeyDictionary())

    def __repr__(self) -> str:  # never the key
        return f"StripeGateway(api_base={self._api_base!r})"

    @property
    def client(self) -> stripe.StripeClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = stripe.StripeClient(
                self._api_key.get_secret_value(),
                base_addresses={"api": self._api_base} if self._api_base else None,
                max_network_retries=self._retries,
                http_client=stripe.HTTPXClient(timeout=self._timeout, allow_sync_methods=False),
            )
            self._clients[loop] = client
        return client

    async def _call(self, coro: Any) -> dict[str, Any]:
        try:
            return _as_dict(await coro)
        except stripe.CardError:
            raise
        except stripe.StripeError as exc:
            if _is_gateway_failure(exc):
                log.warning("stripe unavailable", extra={"error": type(exc).__name__, "http_status": exc.http_status})
                raise GatewayFailure(type(exc).__name__) from exc
            log.warning("stripe refused request", extra={"error": type(exc).__name__, "http_status": exc.http_status,
                                                         "stripe_code": exc.code})
            raise PaymentGatewayError(f"Stripe refused the request ({type(exc).__name__}: {exc.code or 'error'})",
                                      stripe_code=exc.code) from exc

    # -- payments

    async def start(self, request: ChargeRequest) -> Outcome:
        data = request.payment_data
        unknown = set(data) - _PAYMENT_DATA_KEYS
        if unknown:
            raise InvalidPaymentData(f"unknown field(s) for Stripe: {', '.join(sorted(unknown))}", field="payment_data")
        metadata = {"tenant_id": str(request.tenant_id), "order_id": str(request.order_id),
                    "payment_id": str(request.payment_id)}
        options: Any = {"idempotency_key": f"mercato-{request.payment_id}-create"}
        if data.get("flow") == "checkout_session":
            return await self._start_checkout_session(request, metadata, options)
        if data.get("flow") not in (None, "payment_intent"):
            raise InvalidPaymentData("flow must be 'payment_intent' or 'checkout_session'", field="payment_data.flow")
        params: dict[str, Any] = {
            "amount": to_stripe_amount(request.amount, request.currency),
            "currency": request.currency.lower(),
            "metadata": metadata,
            "payment_method_types": ["card"],
            "capture_method": "automatic" if request.capture else "manual",
        }
        if data.get("description"):
            params["description"] = str(data["description"])[:500]
        if data.get("payment_method"):
            params["payment_method"] = str(data["payment_method"])
            if data.get("confirm"):
                params["confirm"] = True
        elif data.get("confirm"):
            raise InvalidPaymentData("confirm needs a payment_method", field="payment_data.confirm")
        try:
            pi = await self._call(self.client.v1.payment_intents.create_async(params, options))
        except stripe.CardError as exc:
            return self._declined(exc)
        return payment_intent_outcome(pi)

    async def _start_checkout_session(self, request: ChargeRequest, metadata: dict[str, str], options: Any) -> Outcome:
        data = request.payment_data
        if not data.get("success_url") or not data.get("cancel_url"):
            raise InvalidPaymentData("checkout_session needs success_url and cancel_url", field="payment_data")
        params: dict[str, Any] = {
            "mode": "payment",
            "success_url": str(data["success_url"]),
            "cancel_url": str(data["cancel_url"]),
            "client_reference_id": str(request.order_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata,
                                    "capture_method": "automatic" if request.capture else "manual"},
            "line_items": [{"quantity": 1, "price_data": {
                "currency": request.currency.lower(),
                "unit_amount": to_stripe_amount(request.amount, request.currency),
                "product_data": {"name": str(data.get("description") or f"Order {request.order_id}")[:250]},
            }}],
        }
        session = await self._call(self.client.v1.checkout.sessions.create_async(params, options))
        return Outcome(PaymentStatus.PENDING, session.get("id"), redirect_url=session.get("url"),
                       response={"checkout_session": session})

    def _declined(self, exc: stripe.CardError) -> Outcome:
        error = getattr(exc, "error", None)
        pi = getattr(error, "payment_intent", None) if error is not None else None
        reference = pi.get("id") if isinstance(pi, dict) else getattr(pi, "id", None)
        decline = getattr(error, "decline_code", None) if error is not None else None
        return Outcome(PaymentStatus.FAILED, reference, failure_code=decline or exc.code or "card_declined",
                       failure_message=exc.user_message or str(exc),
                       response={"error": {"type": "card_error", "code": exc.code, "decline_code": decline}})

    def _is_session(self, payment: GatewayPayment) -> bool:
        return bool(payment.reference and payment.reference.startswith("cs_"))

    async def confirm(self, payment: GatewayPayment, data: dict[str, Any]) -> Outcome:
        raise InvalidPaymentData("Stripe payments are confirmed by the storefront with the client secret (Stripe.js)")

    async def capture(self, payment: GatewayPayment, amount: int) -> Outcome:
        if not payment.reference or self._is_session(payment):
            raise PaymentGatewayError("no PaymentIntent to capture")
        params = {"amount_to_capture": to_stripe_amount(amount, payment.currency)}
        try:
            pi = await self._call(self.client.v1.payment_intents.capture_async(
                payment.reference, params, {"idempotency_key": f"mercato-{payment.id}-capture"}))
        except stripe.CardError as exc:
            return self._declined(exc)
        return payment_intent_outcome(pi)

    async def cancel(self, payment: GatewayPayment) -> Outcome:
        if not payment.reference:
            return Outcome(PaymentStatus.CANCELLED, None)
        options: Any = {"idempotency_key": f"mercato-{payment.id}-cancel"}
        if self._is_session(payment):
            session = await self._call(self.client.v1.checkout.sessions.expire_async(payment.reference, None, options))
            return Outcome(PaymentStatus.CANCELLED, payment.reference, response={"checkout_session": session})
        pi = await self._call(self.client.v1.payment_intents.cancel_async(payment.reference, None, options))
        return payment_intent_outcome(pi)

    async def refund(self, payment: GatewayPayment, *, refund_id: uuid.UUID, amount: int,
                     reason: str | None) -> RefundOutcome:
        if not payment.reference or self._is_session(payment):
            raise PaymentGatewayError("no PaymentIntent to refund")
        # Stripe's own ``reason`` only takes a fixed vocabulary: ours travels in metadata.
        params: Any = {"payment_intent": payment.reference, "amount": to_stripe_amount(amount, payment.currency),
                       "metadata": {"tenant_id": str(payment.tenant_id), "payment_id": str(payment.id),
                                    "order_id": str(payment.order_id), "refund_id": str(refund_id),
                                    **({"reason": reason[:450]} if reason else {})}}
        refund = await self._call(self.client.v1.refunds.create_async(
            params, {"idempotency_key": f"mercato-{refund_id}-refund"}))
        return refund_outcome(refund)

    async def retrieve(self, payment: GatewayPayment) -> Outcome:
        if not payment.reference:
            return Outcome(PaymentStatus.FAILED, None)
        if self._is_session(payment):
            session = await self._call(self.client.v1.checkout.sessions.retrieve_async(payment.reference))
            return Outcome(PaymentStatus.PENDING, payment.reference, redirect_url=session.get("url"),
                           response={"checkout_session": session})
        return payment_intent_outcome(await self._call(self.client.v1.payment_intents.retrieve_async(payment.reference)))

    async def payment_intent_metadata(self, payment_intent_id: str) -> dict[str, Any]:
        """The metadata of a PaymentIntent (for webhooks whose object carries none, e.g. some charges)."""
        pi = await self._call(self.client.v1.payment_intents.retrieve_async(payment_intent_id))
        return dict(pi.get("metadata") or {})


_gateways: dict[tuple[Any, ...], StripeGateway] = {}


def stripe_gateway(settings: PaymentSettings) -> StripeGateway:
    """One gateway (and its SDK clients) per configuration, per process."""
    assert settings.stripe_secret_key is not None
    key = (settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base,
           settings.payment_gateway_timeout_seconds, settings.stripe_max_network_retries)
    gateway = _gateways.get(key)
    if gateway is None:
        gateway = _gateways[key] = StripeGateway(settings)
    return gateway
