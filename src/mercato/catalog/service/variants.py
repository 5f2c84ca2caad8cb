"""Variant use cases: create, update (one or in bulk, all-or-nothing), soft delete.

Every write locks the product row first (writers of one product serialize, so the combination and
currency checks see a stable set, and events of one product stay ordered), then recomputes the
product's price range and search document in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import Problem, combination_key, variant_option_problems
from mercato.catalog.errors import ProductNotFound, SkuTaken, VariantNotFound
from mercato.catalog.models import Product, Variant
from mercato.catalog.schemas import VariantBulkItem, VariantCreate, VariantUpdate
from mercato.catalog.service.common import conflicts_as_errors, raise_problems, record, snapshot

VARIANT_FIELDS = ("sku", "title", "options", "price_cents", "compare_at_price_cents", "currency", "barcode",
                  "weight_grams", "allow_backorder", "backorder_eta", "status", "position")


@dataclass
class Candidate:
    """A variant as it will be after the write, with the payload path used in error fields."""

    field: str
    id: uuid.UUID | None
    sku: str
    options: Mapping[str, Any]
    price_cents: int
    compare_at_price_cents: int | None
    currency: str
    deleted: bool = False


def check_variant_set(options: Mapping[str, Sequence[str]], candidates: Sequence[Candidate]) -> list[Problem]:
    """Rules over a product's whole (non-deleted) variant set: option fit, unique combinations,
    unique SKUs within the set, one currency, compare-at ≥ price."""
    problems: list[Problem] = []
    combos: dict[tuple[tuple[str, str], ...], str] = {}
    skus: dict[str, str] = {}
    currencies: dict[str, str] = {}
    for c in candidates:
        if c.deleted:
            continue
        problems += variant_option_problems(options, c.options, c.field)
        key = combination_key(c.options)
        if key in combos:
            problems.append(Problem(f"{c.field}.options", "duplicate_combination",
                                    f"same option combination as {combos[key]}"))
        combos.setdefault(key, c.field)
        if c.sku in skus:
            problems.append(Problem(f"{c.field}.sku", "duplicate_sku", f"SKU {c.sku!r} is also used by {skus[c.sku]}"))
        skus.setdefault(c.sku, c.field)
        currencies.setdefault(c.currency, c.field)
        if c.compare_at_price_cents is not None and c.compare_at_price_cents < c.price_cents:
            problems.append(Problem(f"{c.field}.compare_at_price_cents", "compare_at_below_price",
                                    "compare_at_price_cents must be at least price_cents"))
    if len(currencies) > 1:
        problems.append(Problem(next(reversed(currencies.values())) + ".currency", "mixed_currencies",
                                f"all variants of a product share one currency (got {', '.join(sorted(currencies))})"))
    return problems


async def check_skus_free(session: AsyncSession, wanted: Mapping[str, str],
                          own: Mapping[str, uuid.UUID] | None = None) -> None:
    """``wanted``: SKU → payload field. 409 ``sku_taken`` naming the first SKU another variant holds."""
    taken = await repository.skus_in_use(session, wanted.keys())
    for sku, variant_id in taken.items():
        if own is None or own.get(sku) != variant_id:
            raise SkuTaken(f"SKU {sku!r} is already in use", field=wanted[sku], sku=sku)


def option_map(rows: Sequence[Any]) -> dict[str, list[str]]:
    return {o.name: list(o.values) for o in rows}


async def _locked_product(session: AsyncSession, product_id: uuid.UUID) -> Product:
    product = await repository.get(session, Product, product_id, for_update=True)
    if product is None or product.deleted_at is not None:
        raise ProductNotFound()
    return product


def _candidate(v: Variant, field: str) -> Candidate:
    return Candidate(field, v.id, v.sku, v.options, v.price_cents, v.compare_at_price_cents, v.currency)


async def after_variant_write(session: AsyncSession, product_id: uuid.UUID) -> None:
    await repository.recompute_prices(session, [product_id])
    await repository.refresh_search_documents(session, [product_id])


async def create_variant(session: AsyncSession, product_id: uuid.UUID, data: VariantCreate) -> Variant:
    await _locked_product(session, product_id)
    options = option_map(await repository.options_of(session, product_id))
    existing = await repository.variants_of(session, product_id)
    candidates = [_candidate(v, f"variants[{v.sku}]") for v in existing]
    candidates.append(Candidate("body", None, data.sku, data.options, data.price_cents,
                                data.compare_at_price_cents, data.currency))
    raise_problems(check_variant_set(options, candidates))
    await check_skus_free(session, {data.sku: "sku"})
    position = data.position if data.position is not None else await repository.max_variant_position(session, product_id) + 1
    variant = Variant(id=uuid.uuid4(), tenant_id=repository.tenant_of(session), product_id=product_id,
                      **data.model_dump(exclude={"position"}), position=position)
    async with conflicts_as_errors(session):
        session.add(variant)
    await after_variant_write(session, product_id)
    await record(session, "variant.created", aggregate_type="variant", aggregate_id=variant.id,
                 data={"product_id": product_id, "sku": variant.sku, "price_cents": variant.price_cents,
                       "currency": variant.currency},
                 changes={k: {"from": None, "to": v} for k, v in snapshot(variant, VARIANT_FIELDS).items()})
    return variant


async def update_variant(session: AsyncSession, product_id: uuid.UUID, variant_id: uuid.UUID,
                         data: VariantUpdate) -> Variant:
    item = VariantBulkItem.model_validate({"id": variant_id, **data.model_dump(exclude_unset=True)})
    try:
        return (await bulk_update(session, product_id, [item], single=True))[0]
    except _UnknownVariants as exc:
        raise VariantNotFound() from exc


class _UnknownVariants(Exception):
    pass


async def bulk_update(session: AsyncSession, product_id: uuid.UUID, items: Sequence[VariantBulkItem],
                      *, single: bool = False) -> list[Variant]:
    """Apply every item or none: all are validated against the product's final variant set first."""
    await _locked_product(session, product_id)
    options = option_map(await repository.options_of(session, product_id))
    variants = await repository.variants_of(session, product_id)
    by_id = {v.id: v for v in variants}
    by_sku = {v.sku: v for v in variants}
    problems: list[Problem] = []
    plan: list[tuple[Variant, dict[str, Any], str]] = []
    seen: set[uuid.UUID] = set()
    for i, item in enumerate(items):
        field = "body" if single else str(i)
        target = by_id.get(item.id) if item.id is not None else by_sku.get(item.sku or "")
        if target is None:
            if single:
                raise _UnknownVariants()
            key = "id" if item.id is not None else "sku"
            problems.append(Problem(f"{field}.{key}", "variant_not_found",
                                    f"no variant {getattr(item, key)} on this product"))
            continue
        if target.id in seen:
            problems.append(Problem(field, "duplicate_item", "the same variant is listed twice"))
            continue
        seen.add(target.id)
        changes = item.model_dump(exclude_unset=True, exclude={"id"})
        if item.id is None:
            changes.pop("sku", None)  # the SKU named the variant; it is not a change
        plan.append((target, changes, field))
    raise_problems(problems)

    planned = {v.id: (changes, field) for v, changes, field in plan}
    candidates: list[Candidate] = []
    for v in variants:
        changes, field = planned.get(v.id, ({}, f"variants[{v.sku}]"))
        merged = {**snapshot(v, ("sku", "options", "price_cents", "compare_at_price_cents", "currency")), **changes}
        candidates.append(Candidate(field, v.id, merged["sku"], merged["options"], merged["price_cents"],
                                    merged["compare_at_price_cents"], merged["currency"]))
    raise_problems(check_variant_set(options, candidates))
    new_skus = {c["sku"]: f"{f}.sku" if f != "body" else "sku" for _, c, f in plan if "sku" in c}
    await check_skus_free(session, new_skus, own={v.sku: v.id for v in variants})

    audits: list[tuple[Variant, dict[str, Any]]] = []
    async with conflicts_as_errors(session):
        for v, changes, _ in plan:
            before = snapshot(v, VARIANT_FIELDS)
            for k, val in changes.items():
                setattr(v, k, val)
            audits.append((v, before))
    await after_variant_write(session, product_id)
    for v, before in audits:
        diff = {k: {"from": before[k], "to": after} for k, after in snapshot(v, VARIANT_FIELDS).items()
                if before[k] != after}
        if diff:
            await record(session, "variant.updated", aggregate_type="variant", aggregate_id=v.id,
                         data={"product_id": product_id, "sku": v.sku, "changed": sorted(diff)}, changes=diff)
    return [v for v, _, _ in plan]


async def delete_variant(session: AsyncSession, product_id: uuid.UUID, variant_id: uuid.UUID) -> None:
    await _locked_product(session, product_id)
    variant = await repository.get(session, Variant, variant_id, for_update=True)
    if variant is None or variant.product_id != product_id or variant.deleted_at is not None:
        raise VariantNotFound()
    variant.deleted_at = datetime.now(UTC)
    await session.flush()
    await after_variant_write(session, product_id)
    await record(session, "variant.deleted", aggregate_type="variant", aggregate_id=variant.id,
                 data={"product_id": product_id, "sku": variant.sku},
                 changes={"deleted_at": {"from": None, "to": variant.deleted_at}})
