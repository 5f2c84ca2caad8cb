"""Transactional outbox: ``publish()`` writes an event in the caller's transaction.

The relay (in the worker, and in ``serve`` by default) hands committed events to
subscribers at least once; subscribers are idempotent (dedup on event id, see
:func:`already_processed` and :func:`handler`). Event names are
``<aggregate>.<past-tense verb>``.

Guarantees of the :class:`Relay`:

* only committed events are delivered (it reads the table; a rolled-back
  transaction leaves nothing to read);
* at least once: an event is marked published only after every subscriber
  returned; a crash or a failing subscriber means it is delivered again;
* in order per aggregate ``(tenant_id, aggregate_type, aggregate_id)``: an event
  is not handed out while an earlier event of its aggregate is unpublished —
  whether that one is failing, backing off, or being delivered by another relay.
  (Ids are assigned at insert time, so this relies on producers serializing writes
  to one aggregate, which they do by locking its row.)
* several relays may run at once: each claims its batch with
  ``FOR UPDATE SKIP LOCKED``, so in the normal path no event is delivered twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import column, insert, table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.platform.db import Database, buffered, current_tenant
from mercato.platform.models import OutboxEvent, ProcessedEvent

log = logging.getLogger("mercato.events")


#: The outbox as a bare table clause (no primary key known): appends without RETURNING.
_OUTBOX_APPEND = table("outbox", *(column(c.name, c.type) for c in OutboxEvent.__table__.columns
                                   if c.name not in ("id", "published_at", "attempts", "last_error", "next_attempt_at")))


@dataclass(frozen=True)
class Event:
    id: uuid.UUID
    type: str
    tenant_id: uuid.UUID
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    correlation_id: str | None
    data: dict[str, Any]

    def envelope(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "tenant_id": str(self.tenant_id),
                "occurred_at": self.occurred_at.isoformat(), "correlation_id": self.correlation_id,
                "aggregate": {"type": self.aggregate_type, "id": self.aggregate_id}, "data": self.data}


async def publish(session: AsyncSession, type: str, *, aggregate_type: str, aggregate_id: Any,
                  data: dict[str, Any] | None = None, tenant_id: uuid.UUID | None = None,
                  correlation_id: str | None = None) -> uuid.UUID:
    """Record an event in the current transaction; returns its id."""
    tenant = tenant_id or current_tenant(session)
    if tenant is None:
        raise RuntimeError("publish() needs a tenant-scoped transaction")
    if correlation_id is None:
        request = session.info.get("request")
        correlation_id = getattr(getattr(request, "state", None), "request_id", None) if request else None
    event_id = uuid.uuid4()
    row = {"event_id": event_id, "tenant_id": tenant, "type": type, "aggregate_type": aggregate_type,
           "aggregate_id": str(aggregate_id), "correlation_id": correlation_id, "data": data or {}}
    buffer = session.info.get(_BUFFER_KEY)
    if buffer is not None:  # inside ``batched``: written with the others, in order, at its end
        buffer.append(row)
        return event_id
    # The runtime role may append to the outbox but not read it, so the INSERT must carry no
    # RETURNING (which SQLAlchemy adds to fetch the identity key of a mapped table).
    await session.execute(insert(_OUTBOX_APPEND).values(**row))
    return event_id


_BUFFER_KEY = "mercato.events.buffer"


@asynccontextmanager
async def batched(session: AsyncSession) -> AsyncIterator[None]:
    """Collect the events published inside the block and write them with one batched INSERT at its
    end, in publication order (so ids, hence per-aggregate delivery order, are as if written one by
    one), still in the caller's transaction. An exception discards them: the caller's transaction
    is going to roll back anyway. Nothing inside may roll back to a savepoint (the buffered events of
    the rolled-back part would survive). Nested blocks join the outer one."""
    async with buffered(session, _BUFFER_KEY, lambda rows: session.execute(insert(_OUTBOX_APPEND), rows)):
        yield


async def publish_many(session: AsyncSession, type: str, *, aggregate_type: str,
                       events: list[tuple[Any, dict[str, Any]]], tenant_id: uuid.UUID | None = None,
                       correlation_id: str | None = None) -> list[uuid.UUID]:
    """Record many events of one type (``[(aggregate_id, data), ...]``) with one batched INSERT
    (bulk imports: thousands of events in one round trip instead of one each); returns their ids."""
    tenant = tenant_id or current_tenant(session)
    if tenant is None:
        raise RuntimeError("publish_many() needs a tenant-scoped transaction")
    if not events:
        return []
    if correlation_id is None:
        request = session.info.get("request")
        correlation_id = getattr(getattr(request, "state", None), "request_id", None) if request else None
    rows = [{"event_id": uuid.uuid4(), "tenant_id": tenant, "type": type, "aggregate_type": aggregate_type,
             "aggregate_id": str(aggregate_id), "correlation_id": correlation_id, "data": data or {}}
            for aggregate_id, data in events]
    await session.execute(insert(_OUTBOX_APPEND), rows)
    return [r["event_id"] for r in rows]


# --------------------------------------------------------------------------- subscribers

Subscriber = Callable[[Event], Awaitable[None]]
_subscribers: dict[str, list[tuple[str, Subscriber]]] = {}


def subscribe(event_type: str, name: str | None = None) -> Callable[[Subscriber], Subscriber]:
    """Register a handler for ``event_type`` (``*`` for all). ``name`` identifies the consumer for dedup."""

    def deco(fn: Subscriber) -> Subscriber:
        consumer = name or f"{fn.__module__}.{fn.__qualname__}"
        entries = _subscribers.setdefault(event_type, [])
        if all(c != consumer for c, _ in entries):
            entries.append((consumer, fn))
        return fn

    return deco


def unsubscribe(event_type: str, name: str) -> None:
    """Remove a consumer (tests register throwaway subscribers and clean up after themselves)."""
    entries = _subscribers.get(event_type, [])
    entries[:] = [(c, fn) for c, fn in entries if c != name]


def has_subscribers() -> bool:
    return any(_subscribers.values())


def subscribers_for(event_type: str) -> list[tuple[str, Subscriber]]:
    return [*_subscribers.get(event_type, []), *_subscribers.get("*", [])]


# The runtime-role Database subscribers use for their own tenant transactions. The relay sets it
# around every delivery, so a subscriber always writes through the app that relays to it.
_runtime: contextvars.ContextVar[Database | None] = contextvars.ContextVar("mercato_runtime_db", default=None)


def runtime() -> Database:
    """The runtime Database, inside a subscriber (``async with runtime().tenant_transaction(event.tenant_id)``)."""
    db = _runtime.get()
    if db is None:
        raise RuntimeError("events.runtime() is only available while the relay delivers an event")
    return db


async def already_processed(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Mark ``event_id`` as applied by ``consumer`` in the session's tenant transaction.

    Returns True if it was already marked (a redelivery: skip it). The mark commits or
    rolls back with the handler's own writes, so "applied" and "marked" cannot diverge.
    A concurrent duplicate waits on the primary key until the first transaction ends.
    """
    tenant = current_tenant(session)
    if tenant is None:
        raise RuntimeError("already_processed() needs a tenant-scoped transaction")
    result = await session.execute(
        pg_insert(ProcessedEvent)
        .values(tenant_id=tenant, consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(ProcessedEvent.event_id)
    )
    return result.first() is None


TenantHandler = Callable[[AsyncSession, Event], Awaitable[None]]


def handler(event_type: str, name: str) -> Callable[[TenantHandler], TenantHandler]:
    """Subscribe an idempotent handler: it runs in a tenant transaction of the runtime
    database, and a redelivered event (same ``name`` + event id) is skipped.

    ``@handler("order.placed", name="inventory.reserve") async def f(session, event): ...``
    """

    def deco(fn: TenantHandler) -> TenantHandler:
        async def deliver(event: Event) -> None:
            async with runtime().tenant_transaction(event.tenant_id) as session:
                if await already_processed(session, name, event.id):
                    log.debug("skipping redelivered event", extra={"event_id": str(event.id), "consumer": name})
                    return
                await fn(session, event)

        deliver.__qualname__ = f"{fn.__qualname__}[deliver]"
        subscribe(event_type, name)(deliver)
        return fn

    return deco


# --------------------------------------------------------------------------- relay

# Claim the oldest due events, skipping those queued behind an event that is backing off (so
# one failing aggregate cannot fill every batch); then flag those whose aggregate has an earlier
# unpublished event outside the batch (held by another relay, say): they must wait their turn.
_CLAIM = text("""
WITH claimed AS (
    SELECT o.id, o.event_id, o.tenant_id, o.type, o.aggregate_type, o.aggregate_id, o.occurred_at,
           o.correlation_id, o.data, o.attempts
    FROM outbox o
    WHERE o.published_at IS NULL
      AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= clock_timestamp())
      AND NOT EXISTS (
          SELECT 1 FROM outbox d
          WHERE d.published_at IS NULL AND d.next_attempt_at > clock_timestamp()
            AND d.tenant_id = o.tenant_id AND d.aggregate_type = o.aggregate_type
            AND d.aggregate_id = o.aggregate_id AND d.id < o.id)
    ORDER BY o.id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), heads AS (
    SELECT p.tenant_id, p.aggregate_type, p.aggregate_id, min(p.id) AS first_id
    FROM outbox p
    WHERE p.published_at IS NULL AND p.id NOT IN (SELECT id FROM claimed)
      AND (p.tenant_id, p.aggregate_type, p.aggregate_id) IN (
          SELECT tenant_id, aggregate_type, aggregate_id FROM claimed)
    GROUP BY p.tenant_id, p.aggregate_type, p.aggregate_id
)
SELECT c.*, COALESCE(h.first_id < c.id, false) AS blocked
FROM claimed c
LEFT JOIN heads h ON h.tenant_id = c.tenant_id AND h.aggregate_type = c.aggregate_type
                 AND h.aggregate_id = c.aggregate_id
ORDER BY c.id
""")

_MARK_PUBLISHED = text("UPDATE outbox SET published_at = now() WHERE id = ANY(CAST(:ids AS bigint[]))")
_MARK_FAILED = text("""
UPDATE outbox SET attempts = attempts + 1, last_error = :error,
                  next_attempt_at = clock_timestamp() + make_interval(secs => :delay)
WHERE id = :id
""")


def retry_delay(attempts: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter after ``attempts`` failed deliveries."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.random() * ceiling / 2  # noqa: S311 - jitter, not security


@dataclass
class BatchResult:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    blocked: int = 0


class Relay:
    """Moves committed outbox events to subscribers.

    ``worker_db`` connects as the worker role (reads and updates every tenant's outbox
    rows); ``runtime_db`` is what subscribers get from :func:`runtime` for their own work.
    """

    def __init__(self, worker_db: Database, runtime_db: Database, *, batch_size: int = 100,
                 base_retry_delay: float = 1.0, max_retry_delay: float = 300.0, name: str = "relay") -> None:
        self.worker_db = worker_db
        self.runtime_db = runtime_db
        self.batch_size = batch_size
        self.base_retry_delay = base_retry_delay
        self.max_retry_delay = max_retry_delay
        self.name = name
        self._stop = asyncio.Event()

    # -- one batch

    async def run_once(self) -> BatchResult:
        """Claim one batch, deliver what may be delivered, record the outcome; one transaction."""
        result = BatchResult()
        async with self.worker_db.transaction() as session:
            rows = (await session.execute(_CLAIM, {"limit": self.batch_size})).mappings().all()
            result.claimed = len(rows)
            published: list[int] = []
            stalled: set[tuple[uuid.UUID, str, str]] = set()  # aggregates with an earlier event not delivered
            for row in rows:
                aggregate = (row["tenant_id"], row["aggregate_type"], row["aggregate_id"])
                if row["blocked"] or aggregate in stalled:
                    stalled.add(aggregate)
                    result.blocked += 1
                    continue
                error = await self._deliver(_event_of(row))
                if error is None:
                    published.append(row["id"])
                    result.delivered += 1
                else:
                    stalled.add(aggregate)
                    result.failed += 1
                    delay = retry_delay(row["attempts"] + 1, base=self.base_retry_delay, cap=self.max_retry_delay)
                    await session.execute(_MARK_FAILED, {"id": row["id"], "error": error[:2000], "delay": delay})
            if published:
                await session.execute(_MARK_PUBLISHED, {"ids": published})
        return result

    async def _deliver(self, event: Event) -> str | None:
        """Hand ``event`` to every subscriber; the errors (if any) as one message."""
        errors: list[str] = []
        token = _runtime.set(self.runtime_db)
        try:
            for consumer, fn in subscribers_for(event.type):
                try:
                    await fn(event)
                except Exception as exc:  # a subscriber's failure must not stop the relay
                    log.warning("subscriber failed", exc_info=exc, extra={
                        "event_id": str(event.id), "event_type": event.type, "consumer": consumer})
                    errors.append(f"{consumer}: {type(exc).__name__}: {exc}")
        finally:
            _runtime.reset(token)
        return "\n".join(errors) or None

    async def drain(self, *, max_batches: int = 1000) -> int:
        """Run batches until nothing more can be delivered now; returns events delivered."""
        total = 0
        for _ in range(max_batches):
            batch = await self.run_once()
            total += batch.delivered
            if batch.delivered == 0:
                break
        return total

    # -- the loop

    async def run(self, poll_interval: float = 0.5) -> None:
        """Deliver until :meth:`stop`; a full batch loops at once, an idle one waits ``poll_interval``."""
        self._stop.clear()
        log.info("outbox relay started", extra={"relay": self.name})
        while not self._stop.is_set():
            try:
                batch = await self.run_once()
                busy = batch.delivered > 0 and batch.claimed >= self.batch_size
            except Exception as exc:  # database restart, network blip: log, back off, go on
                log.error("outbox relay batch failed", exc_info=exc, extra={"relay": self.name})
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=poll_interval)
                except TimeoutError:
                    pass
        log.info("outbox relay stopped", extra={"relay": self.name})

    def stop(self) -> None:
        self._stop.set()


def _event_of(row: Any) -> Event:
    return Event(id=row["event_id"], type=row["type"], tenant_id=row["tenant_id"],
                 aggregate_type=row["aggregate_type"], aggregate_id=row["aggregate_id"],
                 occurred_at=row["occurred_at"], correlation_id=row["correlation_id"], data=row["data"] or {})
