"""Audit log: append-only record of every mutation. Public face."""

from mercato.audit.repository import AuditFilter
from mercato.audit.service import batched, diff, list_entries, record

__all__ = ["AuditFilter", "batched", "diff", "list_entries", "record"]
