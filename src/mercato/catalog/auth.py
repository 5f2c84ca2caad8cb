"""Catalog permission dependencies.

Writes need ``catalog:write`` (staff, a shop's secret key). Reads are public but need a shop
(credential, host or ``X-Mercato-Tenant``); what a reader sees depends on whether it could write
(admin view) or not (storefront view)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from mercato.catalog.errors import TenantRequired
from mercato.catalog.service.reads import View
from mercato.platform.auth import Public, require
from mercato.platform.security import Permission, Principal

CatalogWriter = Annotated[Principal, require(Permission.CATALOG_WRITE)]


async def _reader(principal: Public) -> Principal:
    if principal.tenant_id is None:
        raise TenantRequired()
    return principal


CatalogReader = Annotated[Principal, Depends(_reader)]


async def _view(principal: CatalogReader,
                include_deleted: Annotated[bool, Query(description="Admin only: include soft-deleted rows")] = False
                ) -> View:
    admin = principal.can(Permission.CATALOG_WRITE)
    return View(admin=admin, include_deleted=admin and include_deleted)


#: The reader's view: admin (can write the catalog) or storefront.
ReaderView = Annotated[View, Depends(_view)]
