"""Small factories for search, import and export tests: catalog rows written with SQL in a tenant
transaction (independent of the catalog CRUD), then search documents and price ranges refreshed
with the one formula the app uses (:func:`mercato.catalog.search.refresh_search_documents`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text

from mercato.catalog.search import refresh_search_documents
from mercato.platform.db import Database


@dataclass
class V:
    sku: str
    price_cents: int
    options: dict[str, str] = field(default_factory=dict)
    currency: str = "USD"
    status: str = "active"
    allow_backorder: bool = False


@dataclass
class CatalogFactory:
    db: Database
    tenant_id: uuid.UUID
    _clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    async def brand(self, name: str, slug: str | None = None) -> uuid.UUID:
        bid = uuid.uuid4()
        async with self.db.tenant_transaction(self.tenant_id) as s:
            await s.execute(text("INSERT INTO brands (id, tenant_id, name, slug) VALUES (:i, :t, :n, :s)"),
                            {"i": bid, "t": self.tenant_id, "n": name, "s": slug or _slug(name)})
        return bid

    async def category(self, name: str, parent: uuid.UUID | None = None, slug: str | None = None) -> uuid.UUID:
        cid = uuid.uuid4()
        async with self.db.tenant_transaction(self.tenant_id) as s:
            parent_path, depth = "/", 0
            if parent is not None:
                row = (await s.execute(text("SELECT path, depth FROM categories WHERE id = :i"), {"i": parent})).one()
                parent_path, depth = row.path, row.depth + 1
            await s.execute(text(
                "INSERT INTO categories (id, tenant_id, parent_id, name, slug, path, depth) "
                "VALUES (:i, :t, :p, :n, :s, :path, :d)"),
                {"i": cid, "t": self.tenant_id, "p": parent, "n": name, "s": slug or _slug(name),
                 "path": f"{parent_path}{cid}/", "d": depth})
        return cid

    async def product(self, name: str, variants: list[V] | None = None, **kw: Any) -> uuid.UUID:
        return (await self.products([{"name": name, "variants": variants, **kw}]))[0]

    async def products(self, specs: list[dict[str, Any]]) -> list[uuid.UUID]:
        """Insert many products in one transaction. Spec keys: name, variants, brand_id, category_id, tags,
        description, status, is_active, deleted, sales_count, image_url, handle, created_at."""
        ids: list[uuid.UUID] = []
        async with self.db.tenant_transaction(self.tenant_id) as s:
            for spec in specs:
                pid = uuid.uuid4()
                ids.append(pid)
                self._clock += timedelta(minutes=1)
                name = spec["name"]
                await s.execute(text("""
                    INSERT INTO products (id, tenant_id, name, slug, handle, description, brand_id, category_id,
                                          tags, status, is_active, sales_count, created_at, deleted_at)
                    VALUES (:id, :t, :name, :slug, :handle, :description, :brand, :category, :tags, :status,
                            :is_active, :sales, :created, :deleted)"""), {
                    "id": pid, "t": self.tenant_id, "name": name,
                    "slug": spec.get("slug") or f"{_slug(name)}-{pid.hex[:6]}", "handle": spec.get("handle"),
                    "description": spec.get("description"), "brand": spec.get("brand_id"),
                    "category": spec.get("category_id"), "tags": spec.get("tags", []),
                    "status": spec.get("status", "active"), "is_active": spec.get("is_active", True),
                    "sales": spec.get("sales_count", 0), "created": spec.get("created_at", self._clock),
                    "deleted": self._clock if spec.get("deleted") else None})
                variants = spec.get("variants") or [V(sku=f"SKU-{pid.hex[:10]}", price_cents=1000)]
                option_values: dict[str, list[str]] = {}
                for pos, v in enumerate(variants):
                    await s.execute(text("""
                        INSERT INTO variants (tenant_id, product_id, sku, options, price_cents, currency, status,
                                              allow_backorder, position)
                        VALUES (:t, :p, :sku, CAST(:opts AS jsonb), :price, :cur, :status, :bo, :pos)"""), {
                        "t": self.tenant_id, "p": pid, "sku": v.sku, "opts": orjson.dumps(v.options).decode(),
                        "price": v.price_cents, "cur": v.currency, "status": v.status, "bo": v.allow_backorder,
                        "pos": pos})
                    for k, val in v.options.items():
                        bucket = option_values.setdefault(k, [])
                        if val not in bucket:
                            bucket.append(val)
                for pos, (k, vals) in enumerate(option_values.items()):
                    await s.execute(text("INSERT INTO product_options (tenant_id, product_id, name, position, values) "
                                         "VALUES (:t, :p, :n, :pos, :vals)"),
                                    {"t": self.tenant_id, "p": pid, "n": k, "pos": pos, "vals": vals})
                if spec.get("image_url"):
                    await s.execute(text("INSERT INTO media (tenant_id, owner_type, owner_id, url, is_main) "
                                         "VALUES (:t, 'product', :p, :u, true)"),
                                    {"t": self.tenant_id, "p": pid, "u": spec["image_url"]})
            await refresh_search_documents(s, ids)
        return ids

    async def execute(self, sql: str, **params: Any) -> Any:
        async with self.db.tenant_transaction(self.tenant_id) as s:
            return (await s.execute(text(sql), params)).all() if sql.lstrip().upper().startswith("SELECT") else \
                (await s.execute(text(sql), params))


def _slug(name: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in name.lower())
    return "-".join(p for p in out.split("-") if p) or "x"
