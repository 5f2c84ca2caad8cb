"""Background job: send again the messages whose retry time has come, for every tenant.

The runtime role sees one tenant per transaction (RLS), so the job lists the due
``(tenant_id, id)`` pairs as the *worker* role — whose only view of ``notification_log`` is
a SELECT policy (migration 0012) — then retries each one as the runtime role in that
tenant's own transaction (row locked with SKIP LOCKED: several workers never double-send).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from mercato.notifications import repository
from mercato.notifications.service import delivery
from mercato.platform.db import Database

log = logging.getLogger("mercato.notifications.tasks")

#: How often the worker should run :func:`run_retry_failed`.
RETRY_INTERVAL_SECONDS = 15.0


async def retry_failed(runtime_db: Database, worker_db: Database, now: datetime | None = None, *,
                       batch_size: int = 200, settings: Any = None) -> dict[str, int]:
    """Retry every due message once; returns ``{status: count}`` of the outcomes."""
    now = now or datetime.now(UTC)
    async with worker_db.transaction() as session:
        due = await repository.due_retries(session, now, batch_size)
    outcomes: dict[str, int] = {}
    for tenant_id, notification_id in due:
        try:
            async with runtime_db.tenant_transaction(tenant_id) as session:
                status = await delivery.retry(session, notification_id, settings=settings, at=now)
        except Exception:  # one bad row must not stop the others; it is due again next run
            log.exception("could not retry notification", extra={"tenant_id": str(tenant_id),
                                                                  "notification_id": str(notification_id)})
            continue
        if status is not None:
            outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes


async def run_retry_failed(runtime_db: Database, worker_db: Database) -> None:
    """The periodic-job entry point (logs what it did)."""
    outcomes = await retry_failed(runtime_db, worker_db)
    if outcomes:
        log.info("retried notifications", extra={"outcomes": outcomes})
