"""Constants and helpers shared by the payments tests (importable: conftest modules are not)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import stripe

WEBHOOK_SECRET = "whsec_mercato_test_0123456789abcdef"
STRIPE_TEST_KEY = "sk_test_mercato_local_0123456789"
WEBHOOK_PATH = "/api/v1/webhooks/stripe"


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """A Stripe event envelope as Stripe sends it."""
    return orjson.dumps({"id": event_id or f"evt_{time.time_ns()}", "object": "event", "type": event_type,
                         "api_version": "2024-06-20", "created": int(time.time()), "livemode": False,
                         "data": {"object": obj}})


def signed(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp=timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}
