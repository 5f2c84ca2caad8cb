"""Transactional outbox and relay, on real PostgreSQL with the runtime and worker roles.

Each test subscribes to event types of its own (``test.<uuid>...``), so events left in the
shared outbox by other tests cannot disturb it, and removes its subscribers afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from mercato.app import create_app
from mercato.platform import events
from mercato.platform.db import Database
from mercato.platform.events import Event, Relay, already_processed, publish
from mercato.platform.worker import run_worker


class Recorder:
    """Subscribes to one throwaway event type and remembers every delivery, in order."""

    def __init__(self) -> None:
        self.type = f"test.{uuid.uuid4().hex[:12]}.happened"
        self.deliveries: list[tuple[str, Event]] = []
        self._names: list[tuple[str, str]] = []

    def on(self, fn: Callable[[Event], Awaitable[None]] | None = None, *, name: str | None = None,
           type: str | None = None) -> None:
        consumer = name or f"recorder-{uuid.uuid4().hex[:8]}"

        async def record(event: Event) -> None:
            if fn is not None:
                await fn(event)
            self.deliveries.append((consumer, event))

        events.subscribe(type or self.type, consumer)(record)
        self._names.append((type or self.type, consumer))

    def ids(self, consumer: str | None = None) -> list[uuid.UUID]:
        return [e.id for c, e in self.deliveries if consumer is None or c == consumer]

    def close(self) -> None:
        for event_type, name in self._names:
            events.unsubscribe(event_type, name)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


async def publish_many(db: Database, tenant_id: uuid.UUID, event_type: str, items: list[tuple[str, int]]) -> list[uuid.UUID]:
    async with db.tenant_transaction(tenant_id) as s:
        return [await publish(s, event_type, aggregate_type="thing", aggregate_id=agg, data={"seq": seq})
                for agg, seq in items]


async def outbox_rows(worker_db: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    async with worker_db.transaction() as s:
        rows = (await s.execute(text(
            "SELECT event_id, published_at, attempts, last_error FROM outbox WHERE event_id = ANY(:ids)"),
            {"ids": ids})).all()
    return {r.event_id: r for r in rows}


async def run_until(relay: Relay, done: Callable[[], bool], limit: float = 20.0) -> None:
    async with asyncio.timeout(limit):
        while not done():
            batch = await relay.run_once()
            if batch.delivered == 0:
                await asyncio.sleep(0.01)


def assert_order_per_aggregate(delivered: list[Event]) -> None:
    by_aggregate: dict[tuple[uuid.UUID, str], list[int]] = {}
    for e in delivered:
        by_aggregate.setdefault((e.tenant_id, e.aggregate_id), []).append(e.data["seq"])
    for key, seqs in by_aggregate.items():
        assert seqs == sorted(seqs), f"aggregate {key} delivered out of order: {seqs}"


async def test_event_of_rolled_back_transaction_is_never_delivered(db, worker_db, tenant, recorder) -> None:
    recorder.on()
    published: list[uuid.UUID] = []
    with pytest.raises(RuntimeError, match="boom"):
        async with db.tenant_transaction(tenant.id) as s:
            published.append(await publish(s, recorder.type, aggregate_type="thing", aggregate_id="a"))
            raise RuntimeError("boom")
    committed = await publish_many(db, tenant.id, recorder.type, [("a", 1)])
    relay = Relay(worker_db, db)
    await run_until(relay, lambda: committed[0] in recorder.ids())
    await relay.drain()
    assert recorder.ids() == committed
    assert await outbox_rows(worker_db, published) == {}


async def test_committed_events_are_delivered_in_order_with_the_envelope(db, worker_db, make_tenant, recorder) -> None:
    a, b = await make_tenant(), await make_tenant()
    recorder.on()
    items = [(f"agg{i % 3}", i) for i in range(12)]
    ids = await publish_many(db, a.id, recorder.type, items) + await publish_many(db, b.id, recorder.type, items)
    relay = Relay(worker_db, db, batch_size=5)
    await run_until(relay, lambda: set(ids) <= set(recorder.ids()))
    assert recorder.ids() == ids  # one relay: global id order
    first = recorder.deliveries[0][1]
    assert (first.tenant_id, first.aggregate_type, first.aggregate_id, first.data) == (a.id, "thing", "agg0", {"seq": 0})
    envelope = first.envelope()
    assert set(envelope) == {"id", "type", "tenant_id", "occurred_at", "correlation_id", "aggregate", "data"}
    rows = await outbox_rows(worker_db, ids)
    assert all(r.published_at is not None and r.attempts == 0 for r in rows.values())
    # Nothing is delivered a second time once published.
    await relay.drain()
    assert len(recorder.deliveries) == len(ids)


@pytest.mark.slow
async def test_two_relays_racing_deliver_everything_once_in_order(db, db_urls, make_tenant, recorder) -> None:
    a, b = await make_tenant(), await make_tenant()
    served_by: dict[uuid.UUID, str] = {}

    async def slow(event: Event) -> None:
        await asyncio.sleep(0)  # let the other relay run while this one holds its batch

    recorder.on(slow, name="race")
    # 200 events, 2 tenants, 8 aggregates each, interleaved across transactions of both tenants.
    ids: list[uuid.UUID] = []
    for chunk in range(10):
        for t in (a, b):
            ids += await publish_many(db, t.id, recorder.type,
                                      [(f"agg{i % 8}", chunk * 10 + i) for i in range(10)])
    assert len(ids) == 200
    worker_1 = Database(db_urls.worker, pool_size=1, max_overflow=0)
    worker_2 = Database(db_urls.worker, pool_size=1, max_overflow=0)
    try:
        relays = [Relay(worker_1, db, batch_size=15, name="r1"), Relay(worker_2, db, batch_size=15, name="r2")]
        originals = [r._deliver for r in relays]

        def tagging(relay: Relay, deliver: Callable[[Event], Awaitable[str | None]]) -> Callable[..., Any]:
            async def wrapped(event: Event) -> str | None:
                served_by[event.id] = relay.name
                return await deliver(event)
            return wrapped

        for relay, original in zip(relays, originals, strict=True):
            relay._deliver = tagging(relay, original)  # type: ignore[method-assign]
        expected = set(ids)
        await asyncio.gather(*(run_until(r, lambda: expected <= set(recorder.ids())) for r in relays))
    finally:
        await worker_1.dispose()
        await worker_2.dispose()
    delivered = recorder.ids()
    assert set(delivered) == expected  # none lost
    assert len(delivered) == len(set(delivered)) == 200  # none twice
    assert_order_per_aggregate([e for _, e in recorder.deliveries])
    assert {served_by[i] for i in ids} == {"r1", "r2"}  # both relays really took part


async def test_failing_subscriber_is_retried_while_others_proceed(db, worker_db, tenant, recorder) -> None:
    failures = {"left": 2}

    async def flaky(event: Event) -> None:
        if event.aggregate_id == "x" and event.data["seq"] == 1 and failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("smtp down")

    recorder.on(flaky, name="flaky")
    recorder.on(name="steady")
    await Relay(worker_db, db).drain()  # earlier tests' leftovers must not crowd this test's batch
    x1, y1, x2, y2 = await publish_many(db, tenant.id, recorder.type, [("x", 1), ("y", 1), ("x", 2), ("y", 2)])
    relay = Relay(worker_db, db, base_retry_delay=0.05, max_retry_delay=0.2, batch_size=10_000)

    first = await relay.run_once()
    assert first.failed >= 1
    # y proceeds; x2 waits behind x1, which failed.
    assert {y1, y2} <= set(recorder.ids("flaky"))
    assert x2 not in recorder.ids()
    rows = await outbox_rows(worker_db, [x1, x2])
    assert rows[x1].published_at is None and rows[x1].attempts == 1 and "smtp down" in rows[x1].last_error
    assert rows[x2].published_at is None and rows[x2].attempts == 0

    await run_until(relay, lambda: x2 in recorder.ids("flaky"))
    flaky_ids = recorder.ids("flaky")
    assert flaky_ids.index(x1) < flaky_ids.index(x2)
    rows = await outbox_rows(worker_db, [x1, x2])
    assert rows[x1].attempts == 2 and rows[x1].published_at is not None
    # At least once: the steady consumer saw x1 on every attempt, and is the one that must dedup.
    assert recorder.ids("steady").count(x1) == 3


async def test_backoff_is_shared_by_every_relay(db, worker_db, tenant, recorder) -> None:
    attempts = {"n": 0}

    async def down(event: Event) -> None:
        if event.data["seq"] == 1:
            attempts["n"] += 1
            raise TimeoutError("gateway timeout")

    recorder.on(down)
    await Relay(worker_db, db).drain()  # earlier tests' leftovers must not crowd this test's batch
    x1, x2, y1 = await publish_many(db, tenant.id, recorder.type, [("x", 1), ("x", 2), ("y", 2)])
    await Relay(worker_db, db, base_retry_delay=60, max_retry_delay=60, batch_size=10_000).run_once()
    assert attempts["n"] == 1 and recorder.ids() == [y1]
    async with worker_db.transaction() as s:
        due = (await s.execute(text("SELECT next_attempt_at - now() FROM outbox WHERE event_id = :e"),
                               {"e": x1})).scalar_one()
    assert 25 < due.total_seconds() <= 60
    # Another relay (another process, or this one restarted) respects the backoff too.
    await Relay(worker_db, db).drain()
    assert attempts["n"] == 1 and recorder.ids() == [y1]
    async with worker_db.transaction() as s:
        await s.execute(text("UPDATE outbox SET next_attempt_at = now() WHERE event_id = :e"), {"e": x1})
    relay = Relay(worker_db, db, base_retry_delay=60, batch_size=10_000)
    await relay.run_once()  # fails again, x2 still waits
    assert attempts["n"] == 2 and x2 not in recorder.ids()


async def test_dedup_helper_skips_a_redelivered_event(db, worker_db, tenant) -> None:
    event_type = f"test.{uuid.uuid4().hex[:12]}.happened"
    consumer = f"test-consumer-{uuid.uuid4().hex[:8]}"
    applied: list[uuid.UUID] = []

    @events.handler(event_type, name=consumer)
    async def apply(session, event: Event) -> None:  # type: ignore[no-untyped-def]
        applied.append(event.id)
        await session.execute(text(
            "INSERT INTO audit_log (tenant_id, actor_type, action, resource_type, resource_id) "
            "VALUES (:t, 'system', 'test.applied', 'event', :e)"), {"t": event.tenant_id, "e": str(event.id)})

    try:
        (event_id,) = await publish_many(db, tenant.id, event_type, [("a", 1)])
        relay = Relay(worker_db, db)
        await run_until(relay, lambda: event_id in applied)
        # Redelivery, as after a relay crash between the handler's commit and the outbox update.
        async with worker_db.transaction() as s:
            await s.execute(text("UPDATE outbox SET published_at = NULL WHERE event_id = :e"), {"e": event_id})
        await relay.drain()
        assert (await outbox_rows(worker_db, [event_id]))[event_id].published_at is not None
        assert applied == [event_id]
        async with db.tenant_transaction(tenant.id) as s:
            effects = (await s.execute(text(
                "SELECT count(*) FROM audit_log WHERE action = 'test.applied' AND resource_id = :e"),
                {"e": str(event_id)})).scalar_one()
            assert effects == 1
            assert await already_processed(s, consumer, event_id) is True
            assert await already_processed(s, consumer, uuid.uuid4()) is False
    finally:
        events.unsubscribe(event_type, consumer)


async def test_concurrent_duplicate_deliveries_apply_once(db, tenant) -> None:
    consumer, event_id = "test-concurrent", uuid.uuid4()

    async def attempt() -> bool:
        async with db.tenant_transaction(tenant.id) as s:
            skipped = await already_processed(s, consumer, event_id)
            await asyncio.sleep(0.05)  # hold the claim while the other transaction tries
            return skipped

    results = await asyncio.gather(attempt(), attempt(), attempt())
    assert sorted(results) == [False, True, True]


async def test_dedup_is_per_tenant(db, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    event_id = uuid.uuid4()
    async with db.tenant_transaction(a.id) as s:
        assert await already_processed(s, "c", event_id) is False
    async with db.tenant_transaction(b.id) as s:
        assert await already_processed(s, "c", event_id) is False
        assert (await s.execute(text("SELECT count(*) FROM processed_events"))).scalar_one() == 1


async def test_runtime_role_may_append_to_the_outbox_but_not_read_or_change_it(db, tenant, make_tenant) -> None:
    for stmt in ("SELECT * FROM outbox", "UPDATE outbox SET published_at = now()", "DELETE FROM outbox"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            async with db.tenant_transaction(tenant.id) as s:
                await s.execute(text(stmt))
    other = await make_tenant()
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with db.tenant_transaction(tenant.id) as s:
            await publish(s, "test.x", aggregate_type="thing", aggregate_id="a", tenant_id=other.id)


async def test_publish_needs_a_tenant(db) -> None:
    async with db.transaction() as s:
        with pytest.raises(RuntimeError, match="tenant"):
            await publish(s, "test.x", aggregate_type="thing", aggregate_id="a")


async def test_runtime_is_only_available_during_delivery() -> None:
    with pytest.raises(RuntimeError, match="relay"):
        events.runtime()


def test_retry_delay_grows_and_is_capped() -> None:
    assert 0.5 <= events.retry_delay(1) <= 1.0
    assert 4.0 <= events.retry_delay(4) <= 8.0
    assert 150.0 <= events.retry_delay(30) <= 300.0


async def test_app_runs_the_relay_in_process_and_stops_it(db_urls, settings, tenant, recorder) -> None:
    recorder.on()
    app = create_app(settings, urls=db_urls, start_background=True)
    async with app.router.lifespan_context(app):
        (event_id,) = await publish_many(app.state.db, tenant.id, recorder.type, [("a", 1)])
        for _ in range(200):
            if event_id in recorder.ids():
                break
            await asyncio.sleep(0.05)
        assert recorder.ids() == [event_id]
        task = app.state.background_worker.task
    assert task.done() and not task.cancelled()


async def test_run_worker_delivers_until_stopped(db, db_urls, settings, tenant, recorder) -> None:
    recorder.on()
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, urls=db_urls, stop=stop))
    try:
        (event_id,) = await publish_many(db, tenant.id, recorder.type, [("a", 1)])
        for _ in range(200):
            if event_id in recorder.ids():
                break
            await asyncio.sleep(0.05)
        assert recorder.ids() == [event_id]
    finally:
        stop.set()
        await asyncio.wait_for(worker, 15)
