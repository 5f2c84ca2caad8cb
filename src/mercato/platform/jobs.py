"""Background jobs with progress, run as asyncio tasks in the API process.

A job is a row in ``jobs`` (tenant-owned, RLS) plus a coroutine. :meth:`JobRunner.submit`
commits the row (``queued``) in its own transaction, then starts the coroutine as a task;
the task marks the row ``running``, reports progress in its own short transactions (each
also refreshes ``heartbeat_at``), and ends it ``succeeded`` (with ``result``) or ``failed``
(with ``errors``). The work itself runs in whatever transactions the job function opens.

Limits, on purpose for now: jobs live in the process that accepted them. If that process
dies, its jobs stop. Their heartbeat then goes stale, and :func:`recover_stale_jobs` — run
at startup by every process (and periodically by processes running background work) —
marks them ``failed`` with an ``interrupted`` error, so a client polling
``GET /api/v1/jobs/{id}`` never waits forever. Re-running is the caller's decision (an
import is idempotent: create-or-update by SKU). A durable queue consumed by
``mercato worker`` is the next step when jobs must survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.platform.db import Database
from mercato.platform.errors import NotFound
from mercato.platform.models_jobs import Job

log = logging.getLogger("mercato.jobs")

#: Identifies this process in ``jobs.runner``.
RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
HEARTBEAT_SECONDS = 10.0
#: A job whose heartbeat is older than this belongs to a dead process.
STALE_AFTER_SECONDS = 60.0
#: Progress writes are throttled to one per this many seconds (the last one always lands).
PROGRESS_INTERVAL_SECONDS = 0.5


class JobNotFound(NotFound):
    code, title = "job_not_found", "Job not found"


class JobOut(BaseModel):
    id: uuid.UUID
    type: str
    status: str
    progress_done: int
    progress_total: int | None
    errors: list[Any]
    result: dict[str, Any] | None
    created_by: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobFailed(Exception):
    """Raise from a job function to end it ``failed`` with these errors (and an optional result)."""

    def __init__(self, errors: list[Any], result: dict[str, Any] | None = None) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors
        self.result = result


class JobContext:
    """What a job function gets: its ids, the database, and progress reporting."""

    def __init__(self, db: Database, job_id: uuid.UUID, tenant_id: uuid.UUID, created_by: uuid.UUID | None) -> None:
        self.db = db
        self.job_id = job_id
        self.tenant_id = tenant_id
        self.created_by = created_by
        #: Errors to store with a job that succeeds anyway (e.g. rows skipped by a partial import).
        self.errors: list[Any] = []
        self._last_progress = 0.0

    async def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_progress = now
        values: dict[str, Any] = {"progress_done": done, "heartbeat_at": text("now()")}
        if total is not None:
            values["progress_total"] = total
        async with self.db.tenant_transaction(self.tenant_id) as s:
            await s.execute(update(Job).where(Job.id == self.job_id).values(**values))

    async def heartbeat(self) -> None:
        async with self.db.tenant_transaction(self.tenant_id) as s:
            await s.execute(update(Job).where(Job.id == self.job_id, Job.status == "running")
                            .values(heartbeat_at=text("now()")))


JobFn = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


class JobRunner:
    """Starts job tasks and keeps them referenced until they finish."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def submit(self, tenant_id: uuid.UUID, type: str, fn: JobFn, *, created_by: uuid.UUID | None = None,
                     total: int | None = None) -> uuid.UUID:
        """Record a queued job (committed at once) and start it; returns the job id."""
        job_id = uuid.uuid4()
        async with self.db.tenant_transaction(tenant_id) as s:
            s.add(Job(id=job_id, tenant_id=tenant_id, type=type, status="queued", progress_total=total,
                      created_by=created_by, runner=RUNNER_ID, heartbeat_at=datetime.now().astimezone()))
        ctx = JobContext(self.db, job_id, tenant_id, created_by)
        task = asyncio.create_task(self._run(ctx, fn), name=f"mercato-job-{type}-{job_id}")
        self.tasks[job_id] = task
        task.add_done_callback(lambda _t: self.tasks.pop(job_id, None))
        return job_id

    async def _run(self, ctx: JobContext, fn: JobFn) -> None:
        await self._set(ctx, status="running", started_at=text("now()"), heartbeat_at=text("now()"))
        beat = asyncio.create_task(self._beat(ctx))
        try:
            result = await fn(ctx)
        except JobFailed as exc:
            await self._set(ctx, status="failed", errors=exc.errors, result=exc.result, finished_at=text("now()"))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._set(ctx, status="failed", finished_at=text("now()"), errors=[
                    {"code": "interrupted", "message": "the server stopped while the job ran"}]))
            raise
        except Exception as exc:  # a job's failure is recorded, never lost in a task
            log.exception("job failed", extra={"job_id": str(ctx.job_id)})
            await self._set(ctx, status="failed", finished_at=text("now()"), errors=[
                {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"[:2000]}])
        else:
            await self._set(ctx, status="succeeded", result=result, errors=ctx.errors, finished_at=text("now()"))
        finally:
            beat.cancel()

    async def _beat(self, ctx: JobContext) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await ctx.heartbeat()
            except Exception as exc:
                log.warning("job heartbeat failed", exc_info=exc)

    async def _set(self, ctx: JobContext, **values: Any) -> None:
        async with self.db.tenant_transaction(ctx.tenant_id) as s:
            await s.execute(update(Job).where(Job.id == ctx.job_id).values(**values))

    async def wait(self, job_id: uuid.UUID) -> None:
        """Wait for a job started by this runner (tests, CLI); bound it with ``asyncio.timeout``."""
        task = self.tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)

    async def shutdown(self, grace_seconds: float = 5.0) -> None:
        """Let running jobs finish for ``grace_seconds``, then cancel them (they end ``failed``)."""
        pending = list(self.tasks.values())
        if not pending:
            return
        _done, still = await asyncio.wait(pending, timeout=grace_seconds)
        for task in still:
            task.cancel()
        for task in still:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# --------------------------------------------------------------------------- reading


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> JobOut:
    """A job of the session's tenant (RLS hides other tenants' jobs: they are simply not found)."""
    job = (await session.execute(select(Job).where(Job.id == job_id))).scalar_one_or_none()
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return JobOut.model_validate(job, from_attributes=True)


# --------------------------------------------------------------------------- recovery

_RECOVER = text("""
UPDATE jobs
SET status = 'failed', finished_at = now(),
    errors = errors || jsonb_build_array(jsonb_build_object(
        'code', 'interrupted',
        'message', 'the process running this job stopped before it finished; run it again'))
WHERE status IN ('queued', 'running')
  AND COALESCE(heartbeat_at, created_at) < now() - make_interval(secs => :stale)
""")


async def recover_stale_jobs(worker_db: Database, stale_after_seconds: float = STALE_AFTER_SECONDS) -> int:
    """Mark jobs whose runner stopped heart-beating as failed; returns how many.

    Needs the worker role (its ``jobs_recovery`` policy sees the jobs of every tenant);
    through the runtime role it sees nothing and does nothing (fail closed).
    """
    async with worker_db.transaction() as s:
        result = await s.execute(_RECOVER, {"stale": stale_after_seconds})
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        log.warning("marked %d interrupted job(s) failed", count)
    return count


# --------------------------------------------------------------------------- wiring


def get_runner(app: FastAPI) -> JobRunner:
    """The app's runner (created on first use if :func:`install` was not called)."""
    runner: JobRunner | None = getattr(app.state, "jobs", None)
    if runner is None or runner.db is not app.state.db:
        runner = JobRunner(app.state.db)
        app.state.jobs = runner
    return runner


def install(app: FastAPI, *, sweep_interval_seconds: float = 30.0) -> None:
    """Wire jobs into the app: a runner, a recovery sweep at startup (and every
    ``sweep_interval_seconds`` when the process runs background work), a graceful stop."""

    async def start(app: FastAPI) -> None:
        app.state.jobs = JobRunner(app.state.db)
        worker_db = Database(app.state.urls.worker, pool_size=1, max_overflow=0, application_name="mercato-jobs")
        app.state.jobs_worker_db = worker_db
        try:
            await recover_stale_jobs(worker_db)
        except Exception as exc:  # recovery is best effort; it must never stop the API from starting
            log.warning("job recovery sweep failed", exc_info=exc)
        if app.state.run_background:
            async def sweep() -> None:
                while True:
                    await asyncio.sleep(sweep_interval_seconds)
                    try:
                        await recover_stale_jobs(worker_db)
                    except Exception as exc:
                        log.warning("job recovery sweep failed", exc_info=exc)

            app.state.jobs_sweeper = asyncio.create_task(sweep(), name="mercato-jobs-sweep")

    async def stop(app: FastAPI) -> None:
        sweeper = getattr(app.state, "jobs_sweeper", None)
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        runner: JobRunner | None = getattr(app.state, "jobs", None)
        if runner is not None:
            await runner.shutdown()
        worker_db = getattr(app.state, "jobs_worker_db", None)
        if worker_db is not None:
            await worker_db.dispose()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
    app.state.jobs_installed = True


__all__ = ["HEARTBEAT_SECONDS", "RUNNER_ID", "STALE_AFTER_SECONDS", "Job", "JobContext", "JobFailed", "JobFn",
           "JobNotFound", "JobOut", "JobRunner", "get_job", "get_runner", "install", "recover_stale_jobs"]
