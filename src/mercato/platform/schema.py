"""Alembic, driven from code: the only path by which the schema changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(owner_url: str, app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["owner_url"] = owner_url
    cfg.attributes["app_role"] = app_role
    cfg.attributes["worker_role"] = worker_role
    return cfg


def upgrade_sync(owner_url: str, revision: str = "head", app_role: str = "mercato_app") -> None:
    command.upgrade(alembic_config(owner_url, app_role), revision)


async def upgrade(owner_url: str, revision: str = "head", app_role: str = "mercato_app") -> None:
    # Alembic's env.py runs its own event loop; keep it off ours.
    await asyncio.to_thread(upgrade_sync, owner_url, revision, app_role)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
