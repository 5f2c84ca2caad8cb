"""``GET /products`` (list, search, filters, facets) and ``GET /products/autocomplete``.

Storefront callers (anonymous with a shop host, publishable keys, customers) see active,
non-deleted products only; callers with ``catalog:write`` see everything and may filter by
``status`` and ``include_deleted``. Results are cached per shop (namespace ``catalog``,
bumped by every catalog write).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response

from mercato.catalog.search import (
    CACHE_NAMESPACE,
    SearchParams,
    TenantRequired,
    autocomplete,
    parse_options,
    search_products,
    split_list,
)
from mercato.catalog.search_schemas import ProductPage, Suggestions
from mercato.platform.auth import Public
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep
from mercato.platform.security import Permission, Principal

router = APIRouter(tags=["catalog"])

#: Seconds a cached page lives (invalidation is by generation bump; TTL only bounds memory).
CACHE_TTL = 300
#: Stock moves do not bump the catalog namespace, so in-stock results are cached briefly.
IN_STOCK_CACHE_TTL = 15


def _is_admin(principal: Principal) -> bool:
    return principal.can(Permission.CATALOG_WRITE)


@router.get("/products", response_model=ProductPage, responses=problem_schema_responses(400, 403, 422))
async def list_products(
    request: Request,
    session: SessionDep,
    principal: Public,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="Search text (see docs/search.md)")] = None,
    category: Annotated[list[str] | None, Query(description="Category id or slug (descendants included); "
                                                            "comma-separated or repeated")] = None,
    brand: Annotated[list[str] | None, Query(description="Brand id or slug; comma-separated or repeated")] = None,
    min_price: Annotated[int | None, Query(ge=0, description="Minor units")] = None,
    max_price: Annotated[int | None, Query(ge=0, description="Minor units")] = None,
    options: Annotated[str | None, Query(max_length=500, description="Name:Value[|Value],…  e.g. Size:M|L,Color:Red"
                                                                     " (also option.<Name>=<Value>)")] = None,
    in_stock: Annotated[bool, Query(description="Only products with a variant in stock or on backorder")] = False,
    tags: Annotated[list[str] | None, Query(description="All of these tags; comma-separated or repeated")] = None,
    status: Annotated[list[str] | None, Query(description="Admin only: draft, active, archived")] = None,
    include_deleted: Annotated[bool, Query(description="Admin only")] = False,
    sort: Annotated[str | None, Query(description="relevance (default with q), newest (default), price, -price, "
                                                  "name, -name, best_selling")] = None,
    facets: Annotated[str | None, Query(description="Comma-separated: brand, category, price, options")] = None,
    price_buckets: Annotated[str | None, Query(max_length=200, description="Price facet edges in minor units, "
                                                                           "e.g. 0,1000,5000")] = None,
    with_total: Annotated[bool, Query(description="Include the number of matching products")] = False,
) -> Response:
    """List or search the shop's products, with filters, sorting, facets and pagination."""
    if principal.tenant_id is None:
        raise TenantRequired()
    dotted = [(k[len("option."):], v) for k, v in request.query_params.multi_items() if k.startswith("option.")]
    params = SearchParams(
        q=q.strip() if q and q.strip() else None,
        categories=split_list(category), brands=split_list(brand), min_price=min_price, max_price=max_price,
        options=parse_options(options, dotted), in_stock=in_stock, tags=split_list(tags),
        statuses=split_list(status), include_deleted=include_deleted, sort=sort,
        facets=split_list([facets] if facets else None), with_total=with_total,
        limit=page.limit, offset=page.offset, cursor=page.cursor,
    )
    if price_buckets:
        params.price_edges = _edges(price_buckets)
    admin = _is_admin(principal)
    cache = request.app.state.cache
    key = params.cache_key("admin" if admin else "storefront")
    availability = getattr(request.app.state, "availability_provider", None)

    async def compute() -> bytes:
        result = await search_products(session, principal.tenant_id, params, admin=admin, availability=availability)
        return orjson.dumps(result.model_dump(mode="json", exclude_none=False))

    # Read through the cache (the generation is read before computing, so a write committing meanwhile
    # can never leave this older page cached under its newer generation); stored as the response bytes.
    body = await cache.get_or_compute_bytes(principal.tenant_id, CACHE_NAMESPACE, key, compute,
                                            ttl=IN_STOCK_CACHE_TTL if params.in_stock else CACHE_TTL)
    return Response(content=body, media_type="application/json")


def _edges(spec: str) -> list[int]:
    from mercato.catalog.search import InvalidSearch

    try:
        edges = sorted({int(x) for x in spec.split(",") if x.strip()})
    except ValueError as exc:
        raise InvalidSearch("price_buckets must be integers", field="query.price_buckets") from exc
    if not edges or len(edges) > 20 or edges[0] < 0:
        raise InvalidSearch("price_buckets: 1 to 20 non-negative edges", field="query.price_buckets")
    return edges


@router.get("/products/autocomplete", response_model=Suggestions, responses=problem_schema_responses(400, 422))
async def product_autocomplete(
    request: Request,
    session: SessionDep,
    principal: Public,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=20)] = 10,
) -> Response:
    """Prefix suggestions for a search box: product names, categories and brands."""
    if principal.tenant_id is None:
        raise TenantRequired()
    admin = _is_admin(principal)
    cache = request.app.state.cache
    key = f"autocomplete:{'admin' if admin else 'storefront'}:{limit}:{q.strip().lower()}"

    async def compute() -> bytes:
        return orjson.dumps((await autocomplete(session, principal.tenant_id, q, limit=limit, admin=admin))
                            .model_dump(mode="json"))

    body = await cache.get_or_compute_bytes(principal.tenant_id, CACHE_NAMESPACE, key, compute, ttl=CACHE_TTL)
    return Response(content=body, media_type="application/json")
