"""Business metrics of orders (Prometheus): orders placed, order value, payment outcomes.

* ``mercato_orders_placed_total{currency}`` — orders placed (committed), by currency.
* ``mercato_order_value{currency}`` — histogram of order totals in **major** units of the
  currency (average order value = ``_sum / _count``; JPY has no minor unit, so buckets are wide).
* ``mercato_order_payment_outcomes_total{result}`` — payment facts applied to orders:
  ``captured``, ``failed``, ``authorized``, ``cancelled``, ``refunded``, ``partially_refunded``.
  Payment success rate = ``captured / (captured + failed)``.
* ``mercato_orders_cancelled_total{by}`` — cancellations by ``customer``, ``staff`` or ``system``.

**No tenant label.** A shop count in the thousands times currencies times buckets would be
tens of thousands of series per process; per-shop figures come from the database (the order
list and its filters), not from Prometheus. Labels are bounded: currencies we accept (~20),
fixed result/actor names.

Counted **after commit** only (a SQLAlchemy ``after_commit`` hook on the session): a placement
or payment that rolls back is never counted.

The metrics live in a process-wide :data:`REGISTRY` (they are incremented from service code that
has no app at hand). The app's ``/metrics`` renders its own per-app registry, so the app factory
must add this one to it once: ``orders.metrics.install(app)`` (a ``CollectorRegistry`` is itself a
collector). With ``PROMETHEUS_MULTIPROC_DIR`` set, values go to the shared files like every other
metric and the multiprocess collector picks them up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.platform.money import to_decimal

REGISTRY = CollectorRegistry(auto_describe=True)

ORDERS_PLACED = Counter("mercato_orders_placed", "Orders placed (committed)", ["currency"], registry=REGISTRY)
ORDER_VALUE = Histogram("mercato_order_value", "Order totals in major units of their currency", ["currency"],
                        buckets=(5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 100000),
                        registry=REGISTRY)
PAYMENT_OUTCOMES = Counter("mercato_order_payment_outcomes", "Payment facts applied to orders", ["result"],
                           registry=REGISTRY)
ORDERS_CANCELLED = Counter("mercato_orders_cancelled", "Orders cancelled", ["by"], registry=REGISTRY)

_PENDING_KEY = "mercato.orders.metrics"


def _after_commit(session: AsyncSession, fn: Callable[[], Any]) -> None:
    """Run ``fn`` once the session's transaction commits (never if it rolls back)."""
    sync = session.sync_session
    pending: list[Callable[[], Any]] | None = sync.info.get(_PENDING_KEY)
    if pending is None:
        pending = sync.info[_PENDING_KEY] = []

        def flush_metrics(s: Any) -> None:
            for f in s.info.pop(_PENDING_KEY, []):
                f()

        def drop_metrics(s: Any, _transaction: Any) -> None:
            s.info.pop(_PENDING_KEY, None)

        event.listen(sync, "after_commit", flush_metrics, once=True)
        event.listen(sync, "after_soft_rollback", drop_metrics, once=True)
    pending.append(fn)


def order_placed(session: AsyncSession, currency: str, total: int) -> None:
    value = float(to_decimal(total, currency)) if total else 0.0

    def count() -> None:
        ORDERS_PLACED.labels(currency).inc()
        ORDER_VALUE.labels(currency).observe(value)

    _after_commit(session, count)


def payment_outcome(session: AsyncSession, result: str) -> None:
    _after_commit(session, lambda: PAYMENT_OUTCOMES.labels(result).inc())


def order_cancelled(session: AsyncSession, by: str) -> None:
    _after_commit(session, lambda: ORDERS_CANCELLED.labels(by).inc())


def install(app: Any) -> None:
    """Expose these metrics on the app's ``/metrics`` (call once, after ``observability.install``)."""
    registry = app.state.metrics.registry
    if not getattr(app.state, "_orders_metrics_installed", False):
        registry.register(REGISTRY)
        app.state._orders_metrics_installed = True


def sample(name: str, labels: dict[str, str]) -> float:
    """The current value of one sample (tests)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


__all__ = ["ORDERS_CANCELLED", "ORDERS_PLACED", "ORDER_VALUE", "PAYMENT_OUTCOMES", "REGISTRY", "install",
           "order_cancelled", "order_placed", "payment_outcome", "sample"]
