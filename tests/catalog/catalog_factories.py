"""Catalog factories: small payload builders and HTTP helpers (the API is the unit under test)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def product_payload(name: str | None = None, *, sizes: tuple[str, ...] = ("S", "M"), colors: tuple[str, ...] = ("Black",),
                    price: int = 2000, currency: str = "USD", status: str = "active", **fields: Any) -> dict[str, Any]:
    """A product with Size × Color options and one variant per combination (unique SKUs)."""
    tag = uuid.uuid4().hex[:6].upper()
    variants = [
        {"sku": f"SKU-{tag}-{s}-{c}".upper(), "options": {"Size": s, "Color": c}, "price_cents": price + i * 100,
         "currency": currency}
        for i, (s, c) in enumerate((s, c) for s in sizes for c in colors)
    ]
    return {"name": name or f"Tee {tag}", "status": status,
            "options": [{"name": "Size", "values": list(sizes)}, {"name": "Color", "values": list(colors)}],
            "variants": variants, **fields}


async def create_product(client: httpx.AsyncClient, tenant: Any, payload: dict[str, Any] | None = None,
                         **kw: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/products", json=payload or product_payload(**kw), headers=tenant.admin_headers)
    assert r.status_code == 201, r.text
    return r.json()


async def outbox(worker_db: Any, tenant_id: uuid.UUID, *, aggregate_id: Any = None,
                 type_prefix: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of a tenant's outbox events, oldest first (the runtime role may not read the outbox)."""
    from sqlalchemy import text

    sql = "SELECT type, data FROM outbox WHERE tenant_id = :t"
    params: dict[str, Any] = {"t": tenant_id}
    if aggregate_id is not None:
        sql += " AND aggregate_id = :a"
        params["a"] = str(aggregate_id)
    if type_prefix is not None:
        sql += " AND type LIKE :p"
        params["p"] = type_prefix + "%"
    async with worker_db.transaction() as s:
        return [(r[0], r[1]) for r in (await s.execute(text(sql + " ORDER BY id"), params)).all()]
