"""Fulfillment settings, read from ``MERCATO_*`` environment variables (like ``payments/config.py``,
kept in the module until the lead moves them to ``mercato.settings``; the names are final)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class FulfillmentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERCATO_", env_file=".env", extra="ignore")

    #: Timeout of one carrier call, seconds.
    carrier_timeout_seconds: float = 10.0
    #: Consecutive carrier failures (errors or timeouts) that open its circuit.
    carrier_breaker_failure_threshold: int = 5
    #: Seconds an open carrier circuit waits before letting one trial call through.
    carrier_breaker_reset_seconds: float = 60.0
    #: Label attempts (the first included) before the shipment is marked failed.
    fulfillment_label_max_attempts: int = 5
    #: Backoff of label retries: exponential from this base, with jitter, capped.
    fulfillment_retry_base_seconds: float = 30.0
    fulfillment_retry_max_seconds: float = 3600.0
    #: How often the worker looks for label retries that are due.
    fulfillment_retry_interval_seconds: float = 15.0


@lru_cache
def get_fulfillment_settings() -> FulfillmentSettings:
    return FulfillmentSettings()
