"""Background jobs of the inventory module.

``release_expired`` frees stock held by reservations whose time ran out, for every tenant.
The runtime role sees one tenant per transaction (RLS), so the job lists the
``(tenant_id, reservation_id)`` pairs to release as the *worker* role — whose only view
of ``inventory_reservations`` is a SELECT-only policy (migration 0005) — then releases
each one as the runtime role in that tenant's own transaction.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from mercato.inventory import repository
from mercato.inventory.service import reservations
from mercato.platform.db import Database

log = logging.getLogger("mercato.inventory.tasks")

#: How often the worker should run :func:`release_expired`.
RELEASE_EXPIRED_INTERVAL_SECONDS = 30.0


async def release_expired(runtime_db: Database, worker_db: Database, now: datetime | None = None, *,
                          batch_size: int = 500) -> int:
    """Expire every active reservation whose ``expires_at`` is at or before ``now``; returns how many.

    Each release is its own tenant transaction (ledger rows and ``inventory.released`` events
    included), so one failure does not undo the others. Reservations being committed or
    extended at this very moment are skipped (``SKIP LOCKED``) and re-checked next run.
    """
    now = now or datetime.now(UTC)
    released = 0
    while True:
        async with worker_db.transaction() as session:
            due = await repository.expired_reservations(session, now, batch_size)
        progressed = 0
        for tenant_id, reservation_id in due:
            try:
                async with runtime_db.tenant_transaction(tenant_id) as session:
                    if await reservations.expire(session, reservation_id, now=now):
                        progressed += 1
            except Exception:  # one bad row must not stop the others; it is retried next run
                log.exception("could not expire reservation",
                              extra={"tenant_id": str(tenant_id), "reservation_id": str(reservation_id)})
        released += progressed
        if len(due) < batch_size or progressed == 0:
            return released


async def run_release_expired(runtime_db: Database, worker_db: Database) -> None:
    """The periodic-job entry point (logs what it did)."""
    count = await release_expired(runtime_db, worker_db)
    if count:
        log.info("released expired reservations", extra={"count": count})
