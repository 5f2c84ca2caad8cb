"""A failing gateway: timeouts, then the circuit opens and calls fail fast with 503, and nothing
is recorded that a retry could duplicate. The Stripe SDK is pointed at loopback sockets that
accept and never answer (timeout) or refuse connections."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import stripe
from payments_helpers import STRIPE_TEST_KEY

import mercato.payments as payments
from mercato.payments.errors import PaymentGatewayUnavailable
from mercato.platform.breaker import BreakerState, breaker_for

pytestmark = [pytest.mark.slow,  # the SDK passes raw bytes with data=, which httpx deprecates
              pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP connections (the kernel completes the handshake) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused
    return port


async def _start(db, tenant_id: uuid.UUID, order_id: uuid.UUID, key: str) -> payments.PaymentResult:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return await payments.start_payment(s, order_id=order_id, amount=1000, currency="USD", method="stripe",
                                            payment_data={}, idempotency_key=key)


async def test_timeouts_open_the_circuit_then_fail_fast(db, tenant, payment_env, silent_port, localstripe_url,
                                                        stripe_env) -> None:
    payment_env(stripe_secret_key=STRIPE_TEST_KEY, stripe_api_base=f"http://127.0.0.1:{silent_port}",
                payment_gateway_timeout_seconds=0.3, payment_breaker_failure_threshold=3,
                payment_breaker_reset_seconds=0.8)
    order = uuid.uuid4()
    for attempt in range(3):
        started = time.monotonic()
        with pytest.raises(PaymentGatewayUnavailable):
            await _start(db, tenant.id, order, key="checkout-42")  # the client retries with the same key
        assert 0.25 < time.monotonic() - started < 3, attempt
    breaker = breaker_for("stripe", failure_threshold=3, reset_timeout=0.8)
    assert breaker.state is BreakerState.OPEN

    started = time.monotonic()
    with pytest.raises(PaymentGatewayUnavailable) as err:
        await _start(db, tenant.id, order, key="checkout-42")
    assert time.monotonic() - started < 0.1  # fail fast: Stripe is not called
    assert err.value.status == 503 and err.value.code == "payment_gateway_unavailable"
    assert int(err.value.headers["Retry-After"]) >= 1
    async with db.tenant_transaction(tenant.id) as s:
        assert await payments.get_payments_for_order(s, order) == []  # nothing half-recorded

    # Stripe is back; after the cool-down one trial goes through and closes the circuit.
    payment_env(stripe_secret_key=STRIPE_TEST_KEY, stripe_api_base=localstripe_url,
                payment_gateway_timeout_seconds=0.3, payment_breaker_failure_threshold=3,
                payment_breaker_reset_seconds=0.8)
    breaker = breaker_for("stripe", failure_threshold=3, reset_timeout=0.8)
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    await asyncio.sleep(0.9)
    assert breaker.state is BreakerState.HALF_OPEN
    result = await _start(db, tenant.id, order, key="checkout-42")
    assert result.payment.status == "pending" and result.client_secret
    assert breaker.state is BreakerState.CLOSED
    # The same key once more: the same payment, the same PaymentIntent.
    again = await _start(db, tenant.id, order, key="checkout-42")
    assert again.replayed and again.payment.gateway_reference == result.payment.gateway_reference


async def test_refused_connections_open_the_circuit_and_http_answers_503(client, db, tenant, payment_env,
                                                                          closed_port, localstripe_url,
                                                                          stripe_env) -> None:
    # A captured Stripe payment, made while Stripe (localstripe) is up.
    payment_env(stripe_secret_key=STRIPE_TEST_KEY, stripe_api_base=localstripe_url,
                payment_breaker_failure_threshold=2, payment_breaker_reset_seconds=60)
    storefront = stripe.StripeClient(STRIPE_TEST_KEY, base_addresses={"api": localstripe_url},
                                     http_client=stripe.HTTPXClient(allow_sync_methods=False))
    pm = await storefront.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    async with db.tenant_transaction(tenant.id) as s:
        p = (await payments.start_payment(s, order_id=uuid.uuid4(), amount=900, currency="USD", method="stripe",
                                          payment_data={"payment_method": pm.id, "confirm": True},
                                          idempotency_key=f"o-{uuid.uuid4()}")).payment
    assert p.status == "captured"

    # Stripe goes away.
    payment_env(stripe_secret_key=STRIPE_TEST_KEY, stripe_api_base=f"http://127.0.0.1:{closed_port}",
                payment_breaker_failure_threshold=2, payment_breaker_reset_seconds=60)
    url = f"/api/v1/payments/{p.id}/refunds"
    for _ in range(2):
        r = await client.post(url, json={"amount": 100}, headers=tenant.admin_headers)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "payment_gateway_unavailable" and "Retry-After" in r.headers
    started = time.monotonic()
    r = await client.post(url, json={"amount": 100}, headers=tenant.admin_headers)
    assert (r.status_code, r.json()["code"]) == (503, "payment_gateway_unavailable")
    assert time.monotonic() - started < 0.5
    assert int(r.headers["Retry-After"]) > 1  # the remaining cool-down
    got = (await client.get(f"/api/v1/payments/{p.id}", headers=tenant.admin_headers)).json()
    assert (got["amount_refunded"], got["refunds"], got["status"]) == (0, [], "captured")  # nothing recorded
    # The test gateway has its own breaker: unaffected.
    async with db.tenant_transaction(tenant.id) as s:
        ok = await payments.start_payment(s, order_id=uuid.uuid4(), amount=100, currency="USD", method="test",
                                          payment_data={"card_number": "4242424242424242"})
    assert ok.payment.status == "captured"
