"""Background jobs of checkout.

``abandon_idle`` marks checkouts nobody has touched for the abandonment time
(``MERCATO_CHECKOUT_ABANDON_AFTER_MINUTES``, 60 by default) as ``abandoned``, for every tenant: it gives
back the stock they still hold (unless inventory's expiry job did already, or an order owns the
hold), publishes ``checkout.abandoned`` and counts ``mercato_carts_abandoned_total``. The cart stays
as it was: a customer who comes back starts a new checkout from it.

As inventory's expiry job does, it lists the ``(tenant_id, checkout_id)`` pairs as the worker role
(a SELECT-only policy on ``checkouts``, migration 0010), then handles each checkout as the runtime
role in that tenant's own transaction. A checkout a request holds at that moment is skipped
(``SKIP LOCKED``) and looked at again next run; one touched since the scan is left alone.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.checkout import domain, metrics, repository
from mercato.checkout.domain import CheckoutStatus
from mercato.checkout.service.common import now as _now
from mercato.checkout.service.common import record, release_reservation
from mercato.platform.db import Database

log = logging.getLogger("mercato.checkout.tasks")

#: How often the worker runs :func:`run_abandon_idle`.
ABANDON_INTERVAL_SECONDS = 60.0
ABANDON_AFTER_ENV = "MERCATO_CHECKOUT_ABANDON_AFTER_MINUTES"


def abandon_after() -> timedelta:
    return domain.abandon_after(os.environ.get(ABANDON_AFTER_ENV))


async def abandon(session: AsyncSession, checkout_id: uuid.UUID, *, now: datetime, idle_for: timedelta) -> bool:
    """Abandon one checkout (in its tenant's transaction) if it is still active and idle; returns
    whether it did."""
    checkout = await repository.lock_if_free(session, checkout_id)
    if checkout is None or not domain.is_active(checkout.status):
        return False
    if checkout.expires_at > domain.idle_expiry_cutoff(now, idle_for):
        return False  # the customer came back since the scan
    idle_since = checkout.expires_at - domain.CHECKOUT_TTL
    held = checkout.reservation_id if checkout.order_id is None else None
    await release_reservation(session, checkout, "checkout_abandoned")
    checkout.status = domain.check_transition(checkout.status, CheckoutStatus.ABANDONED).value
    await record(session, checkout, "checkout.abandoned", customer_id=checkout.customer_id, email=checkout.email,
                 order_id=checkout.order_id, reservation_id=held, idle_since=idle_since.isoformat(),
                 payment_method=checkout.payment_method)
    await session.flush()
    metrics.count_abandoned(session)
    return True


async def abandon_idle(runtime_db: Database, worker_db: Database, *, now: datetime | None = None,
                       idle_for: timedelta | None = None, batch_size: int = 200) -> int:
    """Abandon every checkout idle for ``idle_for`` (default: the setting) at ``now``; returns how many."""
    now = now or _now()
    idle_for = idle_for if idle_for is not None else abandon_after()
    cutoff = domain.idle_expiry_cutoff(now, idle_for)
    done = 0
    seen: set[uuid.UUID] = set()
    while True:
        async with worker_db.transaction() as session:
            due = [(t, c) for t, c in await repository.idle(session, cutoff, batch_size + len(seen)) if c not in seen]
        progressed = 0
        for tenant_id, checkout_id in due:
            seen.add(checkout_id)
            try:
                async with runtime_db.tenant_transaction(tenant_id) as session:
                    if await abandon(session, checkout_id, now=now, idle_for=idle_for):
                        progressed += 1
            except Exception:  # one bad row must not stop the others; it is retried next run
                log.exception("could not abandon checkout",
                              extra={"tenant_id": str(tenant_id), "checkout_id": str(checkout_id)})
        done += progressed
        if len(due) < batch_size or progressed == 0:
            return done


async def run_abandon_idle(runtime_db: Database, worker_db: Database) -> None:
    """The periodic-job entry point (logs what it did)."""
    count = await abandon_idle(runtime_db, worker_db)
    if count:
        log.info("abandoned idle checkouts", extra={"count": count})
