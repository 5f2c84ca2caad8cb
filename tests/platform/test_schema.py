"""Alembic is the only schema path: the models and the migrations must agree exactly."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from mercato.models import metadata
from mercato.platform.db import async_url
from mercato.platform.schema import head_revision


def _diff(owner_url: str) -> list:
    async def go() -> list:
        engine = create_async_engine(async_url(owner_url), poolclass=pool.NullPool)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata))
        await engine.dispose()
        return diff

    return asyncio.run(go())


def test_models_and_migrations_agree(db_urls) -> None:
    # Run in a fresh loop in a thread-free way: this test is sync on purpose.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        diff = ex.submit(_diff, db_urls.owner).result()
    assert diff == [], f"models and migrations differ: {diff}"


async def test_ready_reports_migrations_current(client) -> None:
    r = await client.get("/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
    assert head_revision() is not None


async def test_health_is_cheap_and_public(client) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
