"""The payments models and migration 0008 agree exactly, and every payments table has forced RLS.
(tests/platform/test_schema.py checks all modules once mercato.models imports mercato.payments.models.)"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from mercato.payments import models
from mercato.platform.db import Base, async_url

TABLES = {"payments", "refunds", "gateway_events"}


def _tables_of(entry: Any) -> set[str]:
    if isinstance(entry, list):
        return set().union(*(_tables_of(e) for e in entry))
    names = set()
    for part in entry[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else part
        table = getattr(part, "table", None)
        if table is not None:
            names.add(table.name)
        if isinstance(name, str):
            names.add(name)
    return names


def _diff(owner_url: str) -> list[Any]:
    async def go() -> list[Any]:
        engine = create_async_engine(async_url(owner_url), poolclass=pool.NullPool)
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata))
        await engine.dispose()
        return diff

    return asyncio.run(go())


def test_models_and_migration_agree(db_urls) -> None:
    assert models.Payment.__table__.name in Base.metadata.tables
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        diff = ex.submit(_diff, db_urls.owner).result()
    ours = [d for d in diff if _tables_of(d) & TABLES]
    assert ours == [], f"payments models and migration differ: {ours}"


async def test_payments_tables_force_rls(worker_db) -> None:
    async with worker_db.transaction() as s:
        rows = (await s.execute(text(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relname = ANY(:t) AND relkind = 'r'"), {"t": sorted(TABLES)})).all()
    assert {r.relname: (r.relrowsecurity, r.relforcerowsecurity) for r in rows} == {t: (True, True) for t in TABLES}


async def test_no_tenant_no_rows(db, tenant, pay) -> None:
    await pay(tenant.id)
    async with db.transaction() as s:  # no tenant set: fail closed
        assert (await s.execute(text("SELECT count(*) FROM payments"))).scalar_one() == 0
        assert (await s.execute(text("SELECT count(*) FROM gateway_events"))).scalar_one() == 0
