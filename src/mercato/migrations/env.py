"""Alembic environment: runs as the owner role, over asyncpg."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from mercato.models import metadata
from mercato.platform.db import async_url

config = context.config
target_metadata = metadata


def _do_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations(
            app_role=config.attributes.get("app_role", "mercato_app"),
            worker_role=config.attributes.get("worker_role", "mercato_worker"),
        )


async def _run_async() -> None:
    engine = create_async_engine(async_url(config.attributes["owner_url"]), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_do_run)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _do_run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `mercato migrate`")
run_migrations_online()
