"""Row-level security, proven on real PostgreSQL with the runtime role."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from mercato.platform.db import Database, set_tenant


async def test_other_tenants_rows_are_invisible_to_select_update_delete(db: Database, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    async with db.tenant_transaction(b.id) as s:
        rows = (await s.execute(text("SELECT id FROM users WHERE tenant_id = :a"), {"a": a.id})).all()
        assert rows == []
        upd = await s.execute(text("UPDATE users SET first_name = 'x' WHERE tenant_id = :a"), {"a": a.id})
        assert upd.rowcount == 0
        dele = await s.execute(text("DELETE FROM api_keys WHERE tenant_id = :a"), {"a": a.id})
        assert dele.rowcount == 0
        own = (await s.execute(text("SELECT count(*) FROM users"))).scalar_one()
        assert own == 1  # b's owner only
    async with db.tenant_transaction(a.id) as s:
        names = (await s.execute(text("SELECT first_name FROM users"))).scalars().all()
        assert names == [None]  # a's owner untouched
        assert (await s.execute(text("SELECT count(*) FROM api_keys"))).scalar_one() == 2


async def test_insert_with_another_tenants_id_fails(db: Database, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with db.tenant_transaction(b.id) as s:
            await s.execute(text("INSERT INTO users (tenant_id, email, role) VALUES (:a, 'x@y.z', 'customer')"),
                            {"a": a.id})


async def test_no_tenant_set_sees_no_rows(db: Database, make_tenant) -> None:
    await make_tenant()
    async with db.transaction() as s:
        for table in ("users", "api_keys", "refresh_tokens", "audit_log"):
            assert (await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table


async def test_pooled_connection_does_not_leak_tenant(make_tenant, db_urls) -> None:
    # One connection in the pool: request B must reuse request A's connection.
    single = Database(db_urls.runtime, pool_size=1, max_overflow=0)
    try:
        a, b = await make_tenant(), await make_tenant()
        async with single.tenant_transaction(a.id) as s:
            pid_a = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 1
        async with single.tenant_transaction(b.id) as s:
            pid_b = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            ids = (await s.execute(text("SELECT DISTINCT tenant_id FROM users"))).scalars().all()
        assert pid_a == pid_b
        assert ids == [b.id]
        async with single.transaction() as s:  # next request without a tenant: nothing
            assert (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one() == pid_a
            assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0
            setting = (await s.execute(text("SELECT current_setting('mercato.tenant_id', true)"))).scalar_one()
            assert setting in (None, "")
    finally:
        await single.dispose()


async def test_every_table_with_tenant_id_has_forced_rls(db: Database) -> None:
    async with db.transaction() as s:
        rows = (await s.execute(text("""
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                          AND NOT a.attisdropped)
        """))).all()
    assert len(rows) >= 7
    missing = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity and r.policies >= 1)]
    assert missing == [], f"tables with tenant_id but without forced RLS: {missing}"


async def test_runtime_role_cannot_bypass_rls(db: Database) -> None:
    async with db.transaction() as s:
        row = (await s.execute(text(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"))).one()
        assert row == (False, False)
        owns = (await s.execute(text(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = current_user"))).scalar_one()
        assert owns == 0


async def test_audit_log_is_append_only_for_runtime_role(db: Database, tenant) -> None:
    async with db.tenant_transaction(tenant.id) as s:
        await s.execute(text(
            "INSERT INTO audit_log (tenant_id, actor_type, action, resource_type) VALUES (:t, 'system', 'x', 'y')"),
            {"t": tenant.id})
    for stmt in ("UPDATE audit_log SET action = 'z'", "DELETE FROM audit_log"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            async with db.tenant_transaction(tenant.id) as s:
                await s.execute(text(stmt))


async def test_set_tenant_to_none_clears(db: Database, tenant) -> None:
    async with db.tenant_transaction(tenant.id) as s:
        assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 1
        await set_tenant(s, None)
        assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0


async def test_bogus_tenant_setting_is_an_error_not_a_leak(db: Database, tenant) -> None:
    with pytest.raises(DBAPIError):
        async with db.transaction() as s:
            await s.execute(text("SELECT set_config('mercato.tenant_id', 'not-a-uuid', true)"))
            await s.execute(text("SELECT count(*) FROM users"))
    assert uuid.UUID(str(tenant.id))


async def test_tenant_is_bound_lazily_before_the_first_statement(db: Database, tenant, make_tenant) -> None:
    """``set_tenant`` on a session that has run nothing yet costs no round trip: the setting is applied when
    the transaction begins on a connection, before the first statement — so a unit of work that runs no
    statement (a cache hit) touches no connection, and the first statement is already confined."""
    from sqlalchemy import event

    other = await make_tenant()
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        async with db.tenant_transaction(tenant.id):
            pass
        assert seen == []  # nothing ran: no BEGIN's companion set_config, no query
        async with db.tenant_transaction(tenant.id) as s:
            assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 1
            assert "set_config" in seen[0] and "users" in seen[1]
            await set_tenant(s, other.id)  # switching mid-transaction applies at once
            ids = (await s.execute(text("SELECT DISTINCT tenant_id FROM users"))).scalars().all()
            assert ids == [other.id]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)


async def test_tenant_survives_a_commit_in_the_same_session(db: Database, tenant) -> None:
    async with db.sessionmaker() as s:
        await set_tenant(s, tenant.id)
        assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 1
        await s.commit()
        # a new transaction on the same session (maybe another pooled connection): still confined to the tenant
        assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 1
        await set_tenant(s, None)
        assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0
        await s.commit()
