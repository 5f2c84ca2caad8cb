"""Payment settings, read from ``MERCATO_*`` environment variables.

Kept here (not in ``mercato.settings``) until the lead moves them there; the names are final:
``MERCATO_STRIPE_SECRET_KEY``, ``MERCATO_STRIPE_WEBHOOK_SECRET``, ``MERCATO_STRIPE_API_BASE``, …
Secrets are ``SecretStr``: they never appear in a repr, a log line or a response.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERCATO_", env_file=".env", extra="ignore")

    #: Stripe is enabled when this is set (``sk_live_…`` / ``sk_test_…``).
    stripe_secret_key: SecretStr | None = None
    #: The signing secret of the webhook endpoint (``whsec_…``); webhooks are refused without it.
    stripe_webhook_secret: SecretStr | None = None
    #: Override of ``https://api.stripe.com`` (localstripe in tests: ``http://127.0.0.1:8420``).
    stripe_api_base: str | None = None
    #: Seconds a signed webhook stays acceptable (replay window).
    stripe_webhook_tolerance_seconds: int = 300
    #: Network retries of the Stripe SDK (safe: every mutating call carries an idempotency key).
    stripe_max_network_retries: int = 0

    #: Timeout of one gateway call, seconds.
    payment_gateway_timeout_seconds: float = 10.0
    #: Consecutive failures (errors or timeouts) that open a gateway's circuit.
    payment_breaker_failure_threshold: int = 5
    #: Seconds an open circuit waits before letting one trial call through (half-open).
    payment_breaker_reset_seconds: float = 30.0

    @property
    def stripe_enabled(self) -> bool:
        return self.stripe_secret_key is not None and bool(self.stripe_secret_key.get_secret_value())


@lru_cache
def get_payment_settings() -> PaymentSettings:
    return PaymentSettings()
