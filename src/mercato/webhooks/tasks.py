"""The webhook sender: a periodic job that sends every due delivery of every tenant.

1. As the worker role, list ``(tenant_id, delivery_id)`` of due deliveries (the only
   cross-tenant read; migration 0011 lets the worker see four columns, nothing else).
2. Per tenant, as the runtime role: claim them (``FOR UPDATE SKIP LOCKED``, and move
   ``next_attempt_at`` a lease ahead), build the signed requests, commit. Another sender
   running at the same moment skips the locked rows, and after the commit finds them not due.
3. Send, with no transaction open (up to 10 s each, several at once).
4. Per delivery, in a tenant transaction: log the attempt, schedule the retry or finish.

A sender that dies between 2 and 4 leaves the delivery to be retried when the lease ends:
delivery is at least once, and receivers dedup on ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mercato.platform.db import Database
from mercato.webhooks import domain, repository, service, transport

log = logging.getLogger("mercato.webhooks.tasks")

#: How often the worker should run :func:`run_send_due` (the first retry comes after 5 s).
SEND_INTERVAL_SECONDS = 2.0
#: Requests in flight at once per sender.
CONCURRENCY = 16


@dataclass
class SendResult:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    paused: int = 0


async def send_due(runtime_db: Database, worker_db: Database, now: datetime | None = None, *,
                   batch_size: int = 200, concurrency: int = CONCURRENCY, production_mode: bool | None = None,
                   schedule: Sequence[float] = domain.RETRY_SCHEDULE_SECONDS,
                   failing_period: timedelta = domain.FAILING_PERIOD, tenant_id: uuid.UUID | None = None,
                   resolve: transport.Resolver = transport.system_resolve,
                   rng: random.Random | None = None) -> SendResult:
    """Send what is due at ``now`` (default: the clock; tests pass a later ``now`` to drive
    retries). ``tenant_id`` limits the run to one shop."""
    now = now or datetime.now(UTC)
    result = SendResult()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(prepared: service.Prepared) -> None:
        async with semaphore:
            outcome = await service.send(prepared, production_mode=production_mode, resolve=resolve)
        try:
            async with runtime_db.tenant_transaction(prepared.tenant_id) as session:
                await service.record_outcome(session, prepared.delivery_id, outcome, now=now, schedule=schedule,
                                             failing_period=failing_period, rng=rng)
        except Exception:  # the lease ends and the delivery is sent again: at least once
            log.exception("could not record a webhook attempt", extra={"delivery_id": str(prepared.delivery_id)})
            return
        result.attempted += 1
        if outcome.succeeded:
            result.succeeded += 1
        else:
            result.failed += 1

    while True:
        async with worker_db.transaction() as session:
            due = await repository.due_deliveries(session, now, batch_size, tenant_id=tenant_id)
        if not due:
            return result
        by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for t, delivery_id in due:
            by_tenant[t].append(delivery_id)
        batch: list[service.Prepared] = []
        for t, ids in by_tenant.items():
            try:
                batch += await _claim(runtime_db, t, ids, now, result)
            except Exception:
                log.exception("could not claim webhook deliveries", extra={"tenant_id": str(t)})
        await asyncio.gather(*(one(p) for p in batch))
        if len(due) < batch_size or not batch:
            return result


async def _claim(runtime_db: Database, tenant_id: uuid.UUID, ids: list[uuid.UUID], now: datetime,
                 result: SendResult) -> list[service.Prepared]:
    out: list[service.Prepared] = []
    async with runtime_db.tenant_transaction(tenant_id) as session:
        claimed = await repository.claim(session, ids, now=now, lease_until=now + domain.CLAIM_LEASE)
        endpoints = await repository.get_endpoints(session, list({d.endpoint_id for d in claimed}))
        for delivery in claimed:
            endpoint = endpoints.get(delivery.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                delivery.next_attempt_at = None  # paused until the endpoint is enabled again
                result.paused += 1
                continue
            out.append(service.prepare(delivery, endpoint, now))
        await session.flush()
    return out


async def run_send_due(runtime_db: Database, worker_db: Database) -> None:
    """The periodic-job entry point (logs what it did)."""
    result = await send_due(runtime_db, worker_db)
    if result.attempted:
        log.info("webhook deliveries attempted", extra={"attempted": result.attempted,
                                                        "succeeded": result.succeeded, "failed": result.failed})
