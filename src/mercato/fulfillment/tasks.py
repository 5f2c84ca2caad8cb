"""Background jobs of the fulfillment module.

``retry_labels`` retries the labels whose carrier failed, once their backoff is over, for every
tenant: it lists ``(tenant_id, shipment_id)`` of due retries as the *worker* role (whose only
view of ``shipments`` is four columns, migration 0013), then makes each attempt as the runtime
role in that tenant's own transaction (``SKIP LOCKED``: a shipment a request is handling now is
left for the next run). Safe to run in several workers at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from mercato.fulfillment import repository
from mercato.fulfillment.config import get_fulfillment_settings
from mercato.fulfillment.service import labels
from mercato.platform.db import Database

log = logging.getLogger("mercato.fulfillment.tasks")


def retry_interval_seconds() -> float:
    return get_fulfillment_settings().fulfillment_retry_interval_seconds


async def retry_labels(runtime_db: Database, worker_db: Database, now: datetime | None = None, *,
                       batch_size: int = 100) -> dict[str, int]:
    """One pass over due label retries; returns how many ended in each outcome."""
    now = now or datetime.now(UTC)
    async with worker_db.transaction() as session:
        due = await repository.due_label_retries(session, now, batch_size)
    outcomes: dict[str, int] = {}
    for tenant_id, shipment_id in due:
        try:
            async with runtime_db.tenant_transaction(tenant_id) as session:
                outcome = await labels.retry_due_label(session, shipment_id, at=now)
        except Exception:  # one bad shipment must not stop the others; it is due again next run
            log.exception("label retry failed", extra={"tenant_id": str(tenant_id), "shipment_id": str(shipment_id)})
            outcome = "error"
        if outcome is not None:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


async def run_retry_labels(runtime_db: Database, worker_db: Database) -> None:
    """The periodic-job entry point (logs what it did)."""
    outcomes = await retry_labels(runtime_db, worker_db)
    if outcomes:
        log.info("label retries", extra={"outcomes": outcomes})
