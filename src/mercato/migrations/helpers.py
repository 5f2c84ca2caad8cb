"""What every migration that adds a table must do, in one place.

``tenant_table`` turns on and FORCES row-level security with the standard policy
and grants the runtime role its privileges; ``platform_table`` only grants.
A test walks pg_class and fails if a table with ``tenant_id`` lacks forced RLS.
"""

from __future__ import annotations

from alembic import op

__all__ = ["append_only_table", "platform_table", "tenant_table"]

TENANT_EXPR = "NULLIF(current_setting('mercato.tenant_id', true), '')::uuid"


def tenant_table(table: str, app_role: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (tenant_id = {TENANT_EXPR}) WITH CHECK (tenant_id = {TENANT_EXPR})"
    )
    op.execute(f"GRANT {privileges} ON {table} TO {app_role}")


def append_only_table(table: str, app_role: str) -> None:
    """A tenant table the runtime role may only read and append to (audit, ledgers)."""
    tenant_table(table, app_role, privileges="SELECT, INSERT")


def platform_table(table: str, app_role: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {app_role}")
