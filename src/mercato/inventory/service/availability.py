"""Availability for the storefront (the catalog's product detail and search call this)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.catalog as catalog
from mercato.catalog import VariantRef
from mercato.inventory import domain, repository


async def availability(session: AsyncSession, variant_ids: Iterable[uuid.UUID],
                       refs: Mapping[uuid.UUID, VariantRef] | None = None) -> dict[uuid.UUID, dict[str, Any]]:
    """For each variant: ``{available, status, backorder_eta}``.

    ``available`` sums ``on_hand - reserved`` over active locations; ``status`` is ``in_stock``,
    ``low_stock`` (at or below the summed thresholds), ``out_of_stock`` or ``backorder`` (nothing
    available, backorders allowed; ``backorder_eta`` then shows the variant's restock date).

    Stock is one query whatever the number of variants. Backorder flags live in the catalog: pass
    the ``VariantRef`` objects you already hold as ``refs`` and no other query runs; otherwise one
    ``get_variant_refs`` call fetches them. Unknown variants come back out of stock.
    """
    ids = list(dict.fromkeys(variant_ids))
    if not ids:
        return {}
    stock = {r.variant_id: (int(r.available), int(r.threshold))
             for r in await repository.availability_rows(session, ids)}
    if refs is None:
        refs = await catalog.get_variant_refs(session, ids)
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for vid in ids:
        available, threshold = stock.get(vid, (0, 0))
        ref = refs.get(vid)
        allow = bool(ref and ref.allow_backorder)
        status = domain.stock_status(available, threshold, allow)
        out[vid] = {"available": max(available, 0), "status": status.value,
                    "backorder_eta": ref.backorder_eta if ref and status == domain.StockStatus.BACKORDER else None}
    return out
