"""Checkout: from a cart to a placed, paid order — addresses, shipping, coupons, a stock hold while
the customer pays, and one atomic, idempotent ``complete``. Public face."""

from mercato.checkout.domain import CheckoutStatus
from mercato.checkout.metrics import CheckoutMetrics, checkout_metrics
from mercato.checkout.service import build_draft, complete
from mercato.checkout.tasks import ABANDON_INTERVAL_SECONDS, abandon_idle, run_abandon_idle

__all__ = ["ABANDON_INTERVAL_SECONDS", "CheckoutMetrics", "CheckoutStatus", "abandon_idle", "build_draft",
           "checkout_metrics", "complete", "run_abandon_idle"]
