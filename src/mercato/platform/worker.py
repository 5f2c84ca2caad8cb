"""Background work: the outbox relay, in the API process (``serve``) or alone (``mercato worker``).

Subscribers register themselves when their module is imported (``events.subscribe`` /
``events.handler``), so whoever starts a worker must import the modules first —
the app factory does, and so must the ``worker`` command (importing ``mercato.app``
is enough).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from mercato.platform.db import Database
from mercato.platform.embedded import DatabaseUrls, resolve_database
from mercato.platform.events import Relay, has_subscribers

log = logging.getLogger("mercato.worker")

STOP_TIMEOUT_SECONDS = 10.0

PeriodicFn = Callable[[Database, Database], Awaitable[Any]]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_seconds: float
    fn: PeriodicFn  # called with (runtime_db, worker_db)


_periodic: dict[str, PeriodicJob] = {}


def register_periodic(name: str, interval_seconds: float, fn: PeriodicFn) -> None:
    """Run ``fn(runtime_db, worker_db)`` every ``interval_seconds`` in every worker (jobs must be
    safe to run concurrently in several workers, e.g. by locking rows with SKIP LOCKED)."""
    _periodic[name] = PeriodicJob(name, interval_seconds, fn)


def periodic_jobs() -> list[PeriodicJob]:
    return list(_periodic.values())


async def _run_periodic(job: PeriodicJob, runtime_db: Database, worker_db: Database) -> None:
    while True:
        await asyncio.sleep(job.interval_seconds)
        try:
            await job.fn(runtime_db, worker_db)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic job failed", extra={"job": job.name})


class BackgroundWorker:
    """The relay loop as an asyncio task, with a graceful stop (the current batch finishes)."""

    def __init__(self, worker_db: Database, runtime_db: Database, settings: Any) -> None:
        self.worker_db = worker_db
        self.relay = Relay(worker_db, runtime_db, batch_size=settings.relay_batch_size)
        self.runtime_db = runtime_db
        self.poll_interval = settings.relay_poll_interval_seconds
        self.task: asyncio.Task[None] | None = None
        self.periodic_tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.task = asyncio.create_task(self.relay.run(self.poll_interval), name="mercato-outbox-relay")
        for job in periodic_jobs():
            self.periodic_tasks.append(asyncio.create_task(
                _run_periodic(job, self.runtime_db, self.worker_db), name=f"mercato-job-{job.name}"))

    async def stop(self) -> None:
        for t in self.periodic_tasks:
            t.cancel()
        for t in self.periodic_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.periodic_tasks.clear()
        self.relay.stop()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, timeout=STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                # Still inside a subscriber: cancel; the batch rolls back and is redelivered later.
                log.warning("outbox relay did not stop in time; cancelling")
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.task
        await self.worker_db.dispose()


def install(app: FastAPI) -> None:
    """Run the relay inside the API process when ``app.state.run_background`` is true."""

    async def start(app: FastAPI) -> BackgroundWorker | None:
        if not app.state.run_background:
            return None
        settings = app.state.settings
        worker_db = Database(app.state.urls.worker, pool_size=2, max_overflow=0,
                             statement_timeout_ms=settings.db_statement_timeout_ms,
                             application_name="mercato-relay")
        background = BackgroundWorker(worker_db, app.state.db, settings)
        background.start()
        app.state.background_worker = background
        return background

    async def stop(app: FastAPI) -> None:
        background: BackgroundWorker | None = getattr(app.state, "background_worker", None)
        if background is not None:
            app.state.background_worker = None
            await background.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)


async def run_worker(settings: Any, *, urls: DatabaseUrls | None = None, stop: asyncio.Event | None = None) -> None:
    """Run the relay until SIGINT/SIGTERM (or until ``stop`` is set); for ``mercato worker``.

    Import the modules whose subscribers should run before calling this (``import mercato.app``).
    """
    if not has_subscribers():
        # Events without subscribers are marked published: starting like this would drop them.
        raise RuntimeError("no event subscribers are registered; import the application's modules "
                           "(import mercato.app) before run_worker()")
    urls = urls or await resolve_database(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
            pass
    runtime_db = Database(urls.runtime, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                          statement_timeout_ms=settings.db_statement_timeout_ms, application_name="mercato-worker")
    worker_db = Database(urls.worker, pool_size=2, max_overflow=0,
                         statement_timeout_ms=settings.db_statement_timeout_ms, application_name="mercato-relay")
    from mercato.platform.broker import close_bridge, install_bridge

    install_bridge(settings)
    background = BackgroundWorker(worker_db, runtime_db, settings)
    background.start()
    log.info("worker running")
    waiter = asyncio.create_task(stop.wait())
    try:
        assert background.task is not None
        await asyncio.wait({waiter, background.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        await background.stop()
        await close_bridge()
        await runtime_db.dispose()
        for sig in installed:
            loop.remove_signal_handler(sig)
        log.info("worker stopped")
