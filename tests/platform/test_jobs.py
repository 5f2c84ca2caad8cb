"""Background jobs: lifecycle and progress, failure capture, tenant isolation over HTTP, and recovery of
jobs orphaned by a dead process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy import text

from mercato.app import create_app
from mercato.platform import jobs
from mercato.platform.jobs import JobContext, JobFailed, JobRunner, get_job, recover_stale_jobs
from mercato.platform.jobs_endpoints import router as jobs_router


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def jobs_app(db_urls, settings) -> AsyncIterator:  # type: ignore[no-untyped-def]
    """A fresh app with jobs installed (startup recovery sweep) and the jobs router mounted (until the
    app factory does both)."""
    application = create_app(settings, urls=db_urls, start_background=False)
    if not any(getattr(r, "path", "") == "/api/v1/jobs/{job_id}" for r in application.routes):
        application.include_router(jobs_router, prefix="/api/v1")
    if not getattr(application.state, "jobs_installed", False):
        jobs.install(application)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="session")
async def jclient(jobs_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=jobs_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_job_reports_progress_and_its_result(db, tenant) -> None:
    runner = JobRunner(db)
    seen: list[tuple[int, int | None]] = []
    gate = asyncio.Event()

    async def work(ctx: JobContext) -> dict:
        for i in range(1, 4):
            await ctx.progress(i, 3, force=True)
            async with db.tenant_transaction(ctx.tenant_id) as s:
                job = await get_job(s, ctx.job_id)
                seen.append((job.progress_done, job.progress_total))
                assert job.status == "running" and job.started_at is not None
        await gate.wait()
        ctx.errors = [{"line": 2, "message": "skipped"}]
        return {"answer": 42}

    job_id = await runner.submit(tenant.id, "test.work", work, created_by=tenant.owner_id, total=3)
    async with db.tenant_transaction(tenant.id) as s:
        assert (await get_job(s, job_id)).status in ("queued", "running")
    await asyncio.sleep(0.05)
    gate.set()
    async with asyncio.timeout(10):
        await runner.wait(job_id)
    async with db.tenant_transaction(tenant.id) as s:
        job = await get_job(s, job_id)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert job.status == "succeeded" and job.result == {"answer": 42} and job.finished_at is not None
    assert job.errors == [{"line": 2, "message": "skipped"}] and job.created_by == tenant.owner_id


async def test_failures_are_recorded_not_lost(db, tenant) -> None:
    runner = JobRunner(db)

    async def invalid(ctx: JobContext) -> dict:
        raise JobFailed([{"line": 3, "column": "sku", "code": "required"}], result={"rows": 5})

    async def crash(ctx: JobContext) -> dict:
        raise RuntimeError("disk on fire")

    a = await runner.submit(tenant.id, "test.invalid", invalid)
    b = await runner.submit(tenant.id, "test.crash", crash)
    async with asyncio.timeout(10):
        await runner.wait(a)
        await runner.wait(b)
    async with db.tenant_transaction(tenant.id) as s:
        ja, jb = await get_job(s, a), await get_job(s, b)
    assert ja.status == "failed" and ja.errors == [{"line": 3, "column": "sku", "code": "required"}]
    assert ja.result == {"rows": 5}
    assert jb.status == "failed" and jb.errors[0]["code"] == "internal_error" and "disk on fire" in jb.errors[0]["message"]


async def test_cancelled_jobs_end_failed_on_shutdown(db, tenant) -> None:
    runner = JobRunner(db)

    async def forever(ctx: JobContext) -> dict:
        await asyncio.sleep(3600)
        return {}

    job_id = await runner.submit(tenant.id, "test.forever", forever)
    await asyncio.sleep(0.05)
    await runner.shutdown(grace_seconds=0.05)
    async with db.tenant_transaction(tenant.id) as s:
        job = await get_job(s, job_id)
    assert job.status == "failed" and job.errors[0]["code"] == "interrupted"


async def test_get_job_over_http_is_tenant_scoped_and_needs_jobs_read(jclient, db, tenant, make_tenant) -> None:
    runner = JobRunner(db)

    async def quick(ctx: JobContext) -> dict:
        await ctx.progress(7, 7, force=True)
        return {"ok": True}

    job_id = await runner.submit(tenant.id, "test.quick", quick, total=7)
    async with asyncio.timeout(10):
        await runner.wait(job_id)
    r = await jclient.get(f"/api/v1/jobs/{job_id}", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["progress_done"], body["progress_total"], body["result"]) == (
        "succeeded", 7, 7, {"ok": True})
    other = await make_tenant()
    r = await jclient.get(f"/api/v1/jobs/{job_id}", headers=other.admin_headers)
    assert r.status_code == 404 and r.json()["code"] == "job_not_found"
    assert (await jclient.get(f"/api/v1/jobs/{job_id}", headers=tenant.storefront_headers)).status_code == 403
    assert (await jclient.get(f"/api/v1/jobs/{uuid.uuid4()}")).status_code in (400, 401)


async def _orphan(db, tenant_id, *, status: str, age_seconds: int) -> uuid.UUID:  # type: ignore[no-untyped-def]
    job_id = uuid.uuid4()
    async with db.tenant_transaction(tenant_id) as s:
        await s.execute(text(
            "INSERT INTO jobs (id, tenant_id, type, status, runner, heartbeat_at, started_at) "
            "VALUES (:i, :t, 'test.orphan', :st, 'deadhost:1:x', now() - make_interval(secs => :age), now())"),
            {"i": job_id, "t": tenant_id, "st": status, "age": age_seconds})
    return job_id


async def test_jobs_of_a_dead_process_are_marked_failed(db, worker_db, tenant, make_tenant) -> None:
    other = await make_tenant()
    stale = await _orphan(db, tenant.id, status="running", age_seconds=3600)
    stale_queued = await _orphan(db, other.id, status="queued", age_seconds=3600)
    alive = await _orphan(db, tenant.id, status="running", age_seconds=1)
    # The runtime role sees no other tenant and recovers nothing (fail closed).
    assert await recover_stale_jobs(db) == 0
    assert await recover_stale_jobs(worker_db) >= 2
    async with db.tenant_transaction(tenant.id) as s:
        j_stale, j_alive = await get_job(s, stale), await get_job(s, alive)
    async with db.tenant_transaction(other.id) as s:
        j_queued = await get_job(s, stale_queued)
    for j in (j_stale, j_queued):
        assert j.status == "failed" and j.finished_at is not None and j.errors[-1]["code"] == "interrupted"
    assert j_alive.status == "running"


async def test_startup_sweep_recovers_orphans(db_urls, settings, db, tenant) -> None:
    stale = await _orphan(db, tenant.id, status="running", age_seconds=3600)
    application = create_app(settings, urls=db_urls, start_background=False)
    if not getattr(application.state, "jobs_installed", False):
        jobs.install(application)
    async with application.router.lifespan_context(application):
        pass
    async with db.tenant_transaction(tenant.id) as s:
        assert (await get_job(s, stale)).status == "failed"
