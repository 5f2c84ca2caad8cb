"""Engine, sessions and tenant-scoped transactions.

The tenant is set per *transaction* with ``set_config('mercato.tenant_id', ..., true)``
(the SQL form of ``SET LOCAL``), never per connection, so a pooled connection can
never carry one tenant's identity into another tenant's request. With no tenant
set, row-level security policies match no row: tenant data fails closed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import MetaData, event, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import DateTime
from starlette.requests import Request

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TENANT_SETTING = "mercato.tenant_id"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


#: Server-side defaults every module's tables use.
NOW = text("now()")
UUID_DEFAULT = text("gen_random_uuid()")


def in_list(column: str, values: Iterable[Any]) -> str:
    """``status IN ('a', 'b')`` for a CHECK constraint over a fixed set of values (enums, tuples)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (as users write them) and pick our driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database URL must start with postgresql://")


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10, statement_timeout_ms: int = 15000,
                application_name: str = "mercato") -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        connect_args={
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(statement_timeout_ms),
                "timezone": "UTC",
            }
        },
    )


_SET_TENANT = text("SELECT set_config(:name, :value, true)")


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Bind the current transaction to a tenant (``None`` clears it: no tenant rows visible).

    Lazily: when the session has not begun a transaction on a connection yet, the setting is applied
    by the session's ``after_begin`` hook, in the same round trip sequence as BEGIN and before the first
    statement runs — so a request that ends up running no statement (a cache hit) costs no round trip,
    and a unit of work committed and continued in the same session keeps its tenant."""
    session.info["tenant_id"] = tenant_id
    if session.info.get(_BEGUN):
        await session.execute(_SET_TENANT, _tenant_params(tenant_id))


def _tenant_params(tenant_id: uuid.UUID | None) -> dict[str, str]:
    return {"name": TENANT_SETTING, "value": str(tenant_id) if tenant_id else ""}


#: session.info key: the session's transaction has begun on a connection (statements have run).
_BEGUN = "_mercato_begun"


@event.listens_for(Session, "after_begin")
def _bind_tenant_on_begin(session: Session, transaction: Any, connection: Any) -> None:
    session.info[_BEGUN] = True
    if "tenant_id" in session.info:
        connection.execute(_SET_TENANT, _tenant_params(session.info["tenant_id"]))


@event.listens_for(Session, "after_transaction_end")
def _forget_begin(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: the next one begins afresh
        session.info.pop(_BEGUN, None)


@asynccontextmanager
async def buffered(session: AsyncSession, key: str,
                   write: Callable[[list[dict[str, Any]]], Awaitable[Any]]) -> AsyncIterator[None]:
    """Rows that code inside the block appends to ``session.info[key]`` are written by ``write(rows)`` once,
    at the block's end, in the order appended (so identity ids come out as if written one by one), still
    in the caller's transaction — one round trip instead of one per row (outbox events, audit entries,
    order history on the checkout hot path). An exception discards them: the transaction rolls back
    anyway. Nothing inside may roll back to a savepoint (rows of the rolled-back part would survive).
    Nested blocks join the outer one."""
    if session.info.get(key) is not None:
        yield
        return
    rows: list[dict[str, Any]] = []
    session.info[key] = rows
    try:
        yield
    finally:
        session.info.pop(key, None)
    if rows:
        await write(rows)


def current_tenant(session: AsyncSession) -> uuid.UUID | None:
    return session.info.get("tenant_id")


def require_tenant(session: AsyncSession) -> uuid.UUID:
    """The transaction's tenant; a programming error (not a client's) when there is none: tenant-scoped
    use cases run only inside ``Database.tenant_transaction`` or a request bound to a shop."""
    tenant = current_tenant(session)
    if tenant is None:
        raise RuntimeError("this needs a tenant-scoped transaction (Database.tenant_transaction)")
    return tenant


class Database:
    """The runtime role's engine and the session factory built on it."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        #: Run after every successful commit of a unit of work (e.g. cache invalidation).
        self.after_commit: list[Callable[[AsyncSession], Awaitable[None]]] = []

    async def run_after_commit(self, session: AsyncSession) -> None:
        for hook in self.after_commit:
            await hook(session)

    @asynccontextmanager
    async def transaction(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back on error."""
        async with self.sessionmaker() as session:
            async with session.begin():
                if tenant_id is not None:
                    await set_tenant(session, tenant_id)
                yield session
            await self.run_after_commit(session)

    # Explicit names make intent greppable: platform scope is the only tenant-less code path.
    tenant_transaction = transaction

    @asynccontextmanager
    async def platform_transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.transaction(None) as session:
            session.info["platform"] = True
            yield session

    def pool_status(self) -> dict[str, int]:
        pool = self.engine.pool
        return {
            "size": getattr(pool, "size", lambda: 0)(),
            "checked_out": getattr(pool, "checkedout", lambda: 0)(),
            "overflow": getattr(pool, "overflow", lambda: 0)(),
        }

    async def dispose(self) -> None:
        await self.engine.dispose()


# --------------------------------------------------------------------------- request unit of work


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request; commits once when the endpoint
    returns (before the response is sent), rolls back if anything raised."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session:
        async with session.begin():
            session.info["request"] = request
            yield session
        await db.run_after_commit(session)


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
