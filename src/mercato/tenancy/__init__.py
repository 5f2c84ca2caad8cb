"""Tenancy: shops and their lifecycle (platform scope). Public face."""

from mercato.tenancy.service import create_tenant, get_tenant, lookup_by_id, lookup_by_slug, set_status

__all__ = ["create_tenant", "get_tenant", "lookup_by_id", "lookup_by_slug", "set_status"]
