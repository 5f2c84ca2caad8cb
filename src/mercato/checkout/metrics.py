"""Business metrics of checkout on the app's Prometheus registry (``app.state.metrics.registry``).

Created once per app (tests run several apps in one process, each with its own registry). No
tenant label: tenants are unbounded, and per-tenant conversion is a query on ``checkouts``.

``mercato_carts_abandoned_total`` is counted by the abandonment job (``checkout.tasks``), which runs
in the worker without an app at hand: it lives in a process-wide :data:`REGISTRY` that every app's
registry includes (with ``PROMETHEUS_MULTIPROC_DIR`` set, the shared files carry it like the rest).
It counts after commit only.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

REGISTRY = CollectorRegistry(auto_describe=True)
ABANDONED = Counter("mercato_carts_abandoned", "Checkouts abandoned: left without completing for the abandonment "
                    "time (MERCATO_CHECKOUT_ABANDON_AFTER_MINUTES)", registry=REGISTRY)

#: Order values in major units (cents / 100): spans a coffee to a B2B order.
ORDER_VALUE_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class CheckoutMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.started = Counter("mercato_checkouts_started_total", "Checkouts started", registry=registry)
        self.completed = Counter("mercato_checkouts_completed_total", "Checkouts completed (order placed and "
                                 "payment not failed)", ["payment_method"], registry=registry)
        self.payment_declined = Counter("mercato_checkout_payments_declined_total",
                                        "Checkout completions answered payment_declined", ["payment_method"],
                                        registry=registry)
        self.insufficient_stock = Counter("mercato_checkout_insufficient_stock_total",
                                          "Checkout steps refused for lack of stock", registry=registry)
        self.abandoned = ABANDONED
        if registry is not None:
            registry.register(REGISTRY)
        self.order_value = Histogram("mercato_checkout_order_value", "Value of orders placed by checkout, in major "
                                     "units of their currency", ["currency"], buckets=ORDER_VALUE_BUCKETS,
                                     registry=registry)


def checkout_metrics(app: Any) -> CheckoutMetrics:
    state = app.state
    existing = getattr(state, "checkout_metrics", None)
    if existing is None:
        registry = getattr(getattr(state, "metrics", None), "registry", None)
        existing = CheckoutMetrics(registry if registry is not None else CollectorRegistry())
        state.checkout_metrics = existing
    return existing


def abandoned_count() -> float:
    """This process's count of abandoned checkouts (tests)."""
    return REGISTRY.get_sample_value("mercato_carts_abandoned_total") or 0.0


def count_abandoned(session: AsyncSession) -> None:
    """Count one abandoned checkout once ``session``'s transaction commits (never if it rolls back)."""
    event.listen(session.sync_session, "after_commit", lambda _s: ABANDONED.inc(), once=True)
