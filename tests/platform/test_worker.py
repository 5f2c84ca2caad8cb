"""Periodic jobs run inside the background worker and stop with it."""

from __future__ import annotations

import asyncio

from mercato.platform import worker
from mercato.platform.db import Database


async def test_periodic_jobs_run_and_survive_failures(db: Database, db_urls, settings) -> None:
    calls: list[str] = []

    async def job(runtime_db: Database, worker_db: Database) -> None:
        assert runtime_db is db and worker_db is not db
        calls.append("ok")
        if len(calls) == 2:
            raise RuntimeError("boom")  # logged; the job keeps running

    worker.register_periodic("test.job", 0.05, job)
    try:
        background = worker.BackgroundWorker(Database(db_urls.worker, pool_size=1, max_overflow=0), db, settings)
        background.start()
        for _ in range(100):
            if len(calls) >= 4:
                break
            await asyncio.sleep(0.05)
        await background.stop()
        assert len(calls) >= 4
        stopped_at = len(calls)
        await asyncio.sleep(0.2)
        assert len(calls) == stopped_at  # cancelled on stop
        assert all(t.done() for t in background.periodic_tasks) or background.periodic_tasks == []
    finally:
        worker._periodic.pop("test.job", None)


def test_inventory_expiry_is_registered(app) -> None:  # type: ignore[no-untyped-def]
    names = [j.name for j in worker.periodic_jobs()]
    assert "inventory.release_expired" in names
