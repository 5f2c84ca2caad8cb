"""Product listing, full-text search, facets and autocomplete: every query of the search use cases.

Fixed query counts, whatever the page size: one statement for a page (products with their
brand, category and main image), one for all requested facets, one for autocomplete. The
full-text path uses the GIN-indexed ``products.search_vector``; when it matches nothing, misspelt
words are corrected to the shop's known words (``search_words``, trigram index) and the full-text
search runs again (``match="fuzzy"``).

Query syntax of ``q`` (see docs/search.md): words are ANDed; ``a OR b``; ``-word`` excludes;
the last word matches as a prefix (``shi`` finds "shirt"); accents and case are folded.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, TEXT
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.functions import Function

from mercato.catalog.models import Brand, Category, Media, Product, Variant
from mercato.catalog.repository import RECORD_SEARCH_WORDS
from mercato.catalog.search_schemas import (
    Facets,
    ProductPage,
    ProductSummary,
    Ref,
    Suggestion,
    Suggestions,
)
from mercato.platform.db import current_tenant
from mercato.platform.errors import BadRequest, Forbidden
from mercato.platform.pagination import InvalidCursor, encode_cursor

CACHE_NAMESPACE = "catalog"
TS_CONFIG = "simple"
#: ts_rank_cd weights for D, C, B, A: name (A) counts most, description (D) least.
RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
#: Typo correction: a known word is a candidate for a query word when their word similarity
#: (pg_trgm ``<%``) reaches this. Low on purpose: a swap of two letters in a 6-letter word leaves
#: 0.29 (``jakcet``/``jacket``); the edit-distance limit below is what rejects unrelated words.
FUZZY_THRESHOLD = 0.2
#: Candidates per query word fetched by trigram similarity and re-ranked by edit distance.
CORRECTION_CANDIDATES = 20
#: Query words shorter than this are never corrected (trigrams say little about them).
MIN_CORRECTED_LENGTH = 3
#: Default price facet buckets (edges in minor units): [0, 10), [10, 25), … , [500, ∞).
DEFAULT_PRICE_EDGES = (0, 1000, 2500, 5000, 10000, 25000, 50000)
FACETS = ("brand", "category", "price", "options")
STATUSES = ("draft", "active", "archived")


class TenantRequired(BadRequest):
    code, title = "tenant_required", "This request needs a shop (X-Mercato-Tenant, Host or API key)"


class InvalidSearch(BadRequest):
    code, title = "invalid_search", "Invalid search parameters"


class AdminOnlyFilter(Forbidden):
    code, title = "permission_denied", "Missing permission"


# --------------------------------------------------------------------------- parameters


SORTS: dict[str, str] = {
    # public name -> canonical key
    "relevance": "relevance",
    "price": "price", "price_asc": "price",
    "-price": "-price", "price_desc": "-price",
    "newest": "-created_at", "-created_at": "-created_at", "created_at": "created_at",
    "name": "name", "-name": "-name",
    "best_selling": "-sales_count", "-sales_count": "-sales_count",
}


@dataclass
class SearchParams:
    q: str | None = None
    categories: list[str] = field(default_factory=list)  # ids or slugs
    brands: list[str] = field(default_factory=list)  # ids or slugs
    min_price: int | None = None
    max_price: int | None = None
    options: dict[str, list[str]] = field(default_factory=dict)  # {"Size": ["M", "L"]}
    in_stock: bool = False
    tags: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)  # admin only
    include_deleted: bool = False  # admin only
    sort: str | None = None
    facets: list[str] = field(default_factory=list)
    price_edges: list[int] = field(default_factory=lambda: list(DEFAULT_PRICE_EDGES))
    with_total: bool = False
    limit: int = 20
    offset: int = 0
    cursor: list[Any] | None = None

    def cache_key(self, audience: str) -> str:
        raw = orjson.dumps({"a": audience, **asdict(self)}, option=orjson.OPT_SORT_KEYS, default=str)
        return "products:" + hashlib.sha256(raw).hexdigest()


def parse_options(spec: str | None, dotted: Sequence[tuple[str, str]] = ()) -> dict[str, list[str]]:
    """``options=Size:M|L,Color:Red`` plus ``option.Size=M`` parameters -> ``{"Size": ["M", "L"], ...}``.

    Values of one option are ORed (``|`` or repeating the option); different options are ANDed and
    must hold on the same variant.
    """
    out: dict[str, list[str]] = {}

    def add(name: str, values: str) -> None:
        name = name.strip()
        vals = [v.strip() for v in values.split("|") if v.strip()]
        if not name or not vals:
            raise InvalidSearch(f"option filter {name!r}: expected Name:Value", field="query.options")
        bucket = out.setdefault(name, [])
        bucket.extend(v for v in vals if v not in bucket)

    if spec:
        for pair in spec.split(","):
            if not pair.strip():
                continue
            name, sep, values = pair.partition(":")
            if not sep:
                raise InvalidSearch(f"option filter {pair!r}: expected Name:Value", field="query.options")
            add(name, values)
    for name, values in dotted:
        add(name, values)
    if len(out) > 10:
        raise InvalidSearch("at most 10 option filters", field="query.options")
    return out


def split_list(values: Sequence[str] | None) -> list[str]:
    """``?brand=a,b&brand=c`` -> ``["a", "b", "c"]``."""
    out: list[str] = []
    for v in values or ():
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


# --------------------------------------------------------------------------- text query

_WORD = re.compile(r"\w+", re.UNICODE)


def build_tsquery(q: str, *, prefix_last: bool = True, weights: str = "") -> str | None:
    """Turn user text into ``to_tsquery`` syntax (before unaccent): ``'red' & 'shi':*``.

    Words are ANDed, ``OR`` between words ORs them, ``-word`` negates; every word is quoted so
    no user input is ever parsed as tsquery operators. None when ``q`` has no word.
    """
    parts: list[str] = []  # alternating operands and operators
    pending_or = False
    last_positive = -1
    for chunk in q.split():
        if chunk == "OR":
            pending_or = bool(parts)
            continue
        negate = chunk.startswith("-") and len(chunk) > 1
        words = [w.lower() for w in _WORD.findall(chunk)]
        if not words:
            continue
        operand = " & ".join(f"'{w}'" for w in words)
        if len(words) > 1:
            operand = f"({operand})"
        if negate:
            operand = f"!{operand}"
        if parts:
            parts.append("|" if pending_or else "&")
        pending_or = False
        parts.append(operand)
        if not negate:
            last_positive = len(parts) - 1
    if last_positive < 0:
        return None
    suffix = (":*" if prefix_last else "") + weights
    if weights:
        parts = [_weighted(p, weights) if i != last_positive else p for i, p in enumerate(parts)]
    last = parts[last_positive]
    # Prefix the last word of the last positive operand.
    if last.endswith(")"):
        parts[last_positive] = last[:-1] + suffix + ")"
    else:
        parts[last_positive] = last + suffix
    return " ".join(parts)


def _weighted(operand: str, weights: str) -> str:
    if operand in ("&", "|"):
        return operand
    return re.sub(r"'(\w+)'", lambda m: f"'{m.group(1)}':{weights}", operand)


def query_words(q: str) -> list[tuple[str, bool]]:
    """The positive (not negated) words of ``q`` as :func:`build_tsquery` reads them (lowercased, in
    order), each with whether it is the prefix-matched last positive word."""
    words: list[str] = []
    for chunk in q.split():
        if chunk == "OR" or (chunk.startswith("-") and len(chunk) > 1):
            continue
        words.extend(w.lower() for w in _WORD.findall(chunk))
    return [(w, i == len(words) - 1) for i, w in enumerate(words)]


def apply_corrections(q: str, corrections: dict[str, str]) -> str:
    """``q`` with its positive words replaced (``OR`` and ``-word`` kept), e.g. ``shrit -wool`` ->
    ``shirt -wool``."""
    out: list[str] = []
    for chunk in q.split():
        if chunk != "OR" and not (chunk.startswith("-") and len(chunk) > 1):
            chunk = _WORD.sub(lambda m: corrections.get(m.group(0).lower(), m.group(0)), chunk)
        out.append(chunk)
    return " ".join(out)


def max_edits(word: str) -> int:
    """Edits allowed when correcting ``word`` (Elasticsearch's ``AUTO`` fuzziness): 1 for 3–5
    characters, 2 beyond. ``mauve`` is not "corrected" to ``made``."""
    return 1 if len(word) <= 5 else 2


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
    adjacent letters (``shrit`` -> ``shirt`` is 1) cost 1 each. Words are short; O(len a × len b)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _normalize(expr: Any) -> Function[Any]:
    return func.unaccent(func.lower(expr))


def _tsquery(tsq_text: str) -> Function[Any]:
    return func.to_tsquery(literal_column(f"'{TS_CONFIG}'::regconfig"), func.unaccent(bindparam("tsq", tsq_text)))


# --------------------------------------------------------------------------- in-stock hook


class SqlAvailability(Protocol):
    """Optional, preferred: inventory's "which variants can be sold now" as SQL the catalog composes.

    ``in_stock_variant_ids()`` returns a one-column SELECT of variant ids with stock available in
    the current tenant (inventory owns its tables; the catalog only embeds the query).
    """

    def in_stock_variant_ids(self) -> Select[Any]: ...


#: The installed ``app.state.availability_provider``: ``async (session, variant_ids) ->
#: {variant_id: {"status": "in_stock" | "low_stock" | "out_of_stock" | "backorder", ...}}``
#: (mercato.inventory.availability), optionally also a :class:`SqlAvailability`.
AvailabilityProvider = Any
SELLABLE_STATUSES = ("in_stock", "low_stock", "backorder")


# --------------------------------------------------------------------------- listing / search


@dataclass
class _Plan:
    conditions: dict[str, ColumnElement[bool]]
    order: list[tuple[ColumnElement[Any], bool, bool]]  # (expr, descending, nullable)
    sort: str
    match: str
    warnings: list[str]


def _visibility(tenant_id: uuid.UUID, params: SearchParams, admin: bool) -> ColumnElement[bool]:
    base: list[ColumnElement[bool]] = [Product.tenant_id == tenant_id]
    if not admin:
        base += [Product.status == "active", Product.is_active.is_(True), Product.deleted_at.is_(None)]
    else:
        if not params.include_deleted:
            base.append(Product.deleted_at.is_(None))
        if params.statuses:
            base.append(Product.status.in_(params.statuses))
    return and_(*base)


def _ids_and_slugs(values: list[str]) -> tuple[list[uuid.UUID], list[str]]:
    ids: list[uuid.UUID] = []
    slugs: list[str] = []
    for v in values:
        try:
            ids.append(uuid.UUID(v))
        except ValueError:
            slugs.append(v.lower())
    return ids, slugs


#: Aliases of the category table, made once: an alias builds its column collection on first use, which
#: cost a few milliseconds per listing when they were made per request. (Equal-named aliases give the
#: same SQL and cache key either way.)
_ROOT_CATEGORY = Category.__table__.alias("root")
_DESCENDANT_CATEGORY = Category.__table__.alias("descendant")


def _category_condition(tenant_id: uuid.UUID, values: list[str]) -> ColumnElement[bool]:
    """Products in these categories or any of their descendants (materialized path prefix)."""
    ids, slugs = _ids_and_slugs(values)
    root, desc = _ROOT_CATEGORY, _DESCENDANT_CATEGORY
    picked = or_(root.c.id.in_(ids) if ids else false(), root.c.slug.in_(slugs) if slugs else false())
    sub = (select(desc.c.id)
           .join(root, and_(root.c.tenant_id == desc.c.tenant_id, desc.c.path.startswith(root.c.path)))
           .where(root.c.tenant_id == tenant_id, picked, desc.c.deleted_at.is_(None)))
    return Product.category_id.in_(sub)


def _brand_condition(tenant_id: uuid.UUID, values: list[str]) -> ColumnElement[bool]:
    ids, slugs = _ids_and_slugs(values)
    picked = or_(Brand.id.in_(ids) if ids else false(), Brand.slug.in_(slugs) if slugs else false())
    return Product.brand_id.in_(select(Brand.id).where(Brand.tenant_id == tenant_id, picked))


def _sellable_variant(*extra: ColumnElement[bool]) -> Any:
    return exists().where(Variant.tenant_id == Product.tenant_id, Variant.product_id == Product.id,
                          Variant.deleted_at.is_(None), Variant.status == "active", *extra)


def _options_condition(options: dict[str, list[str]]) -> ColumnElement[bool]:
    """One variant must carry every requested option (any of the values given for each)."""
    clauses: list[ColumnElement[bool]] = []
    for name, values in options.items():
        if len(values) == 1:
            # Containment uses the GIN index on variants.options.
            clauses.append(Variant.options.op("@>")(cast(literal(orjson.dumps({name: values[0]}).decode()),
                                                            Variant.options.type)))
        else:
            clauses.append(Variant.options[name].astext.in_(values))
    return _sellable_variant(*clauses)


def _price_condition(params: SearchParams) -> ColumnElement[bool]:
    """Price ranges overlap: some variant price may lie in [min_price, max_price]."""
    clauses: list[ColumnElement[bool]] = []
    if params.min_price is not None:
        clauses.append(Product.price_max_cents >= params.min_price)
    if params.max_price is not None:
        clauses.append(Product.price_min_cents <= params.max_price)
    return and_(*clauses)


def _plan(tenant_id: uuid.UUID, params: SearchParams, *, admin: bool, match: str,
          availability: AvailabilityProvider | None, in_stock_ids: list[uuid.UUID] | None = None) -> _Plan:
    conditions: dict[str, ColumnElement[bool]] = {"visibility": _visibility(tenant_id, params, admin)}
    warnings: list[str] = []
    rank: ColumnElement[Any] | None = None
    if match in ("fts", "fuzzy"):
        # "fuzzy": the same full-text search, over the typo-corrected query (``params.q``).
        tsq = _tsquery(build_tsquery(params.q or "") or "")
        conditions["q"] = Product.search_vector.op("@@")(tsq)
        rank = func.ts_rank_cd(literal_column(f"'{RANK_WEIGHTS}'::float4[]"), Product.search_vector, tsq)
    if params.categories:
        conditions["category"] = _category_condition(tenant_id, params.categories)
    if params.brands:
        conditions["brand"] = _brand_condition(tenant_id, params.brands)
    if params.min_price is not None or params.max_price is not None:
        conditions["price"] = _price_condition(params)
    if params.options:
        conditions["options"] = _options_condition(params.options)
    if params.tags:
        conditions["tags"] = Product.tags.op("@>")(cast(params.tags, ARRAY(Product.tags.type.item_type)))
    if params.in_stock:
        if availability is None:
            warnings.append("in_stock ignored: no inventory availability provider is installed")
        elif in_stock_ids is not None:
            conditions["in_stock"] = _sellable_variant(
                Variant.id == func.any(bindparam("in_stock_ids", in_stock_ids, type_=ARRAY(Variant.id.type))))
        else:
            sub = availability.in_stock_variant_ids()
            conditions["in_stock"] = _sellable_variant(or_(Variant.allow_backorder.is_(True), Variant.id.in_(sub)))

    sort = SORTS.get(params.sort or "", "") if params.sort else ("relevance" if rank is not None else "-created_at")
    if not sort:
        raise InvalidSearch(f"unknown sort {params.sort!r}; use one of {', '.join(SORTS)}", field="query.sort")
    if sort == "relevance" and rank is None:
        sort = "-created_at"
    order: list[tuple[ColumnElement[Any], bool, bool]]
    if sort == "relevance":
        assert rank is not None
        order = [(rank, True, False), (Product.id, False, False)]
    elif sort in ("price", "-price"):
        order = [(Product.price_min_cents, sort == "-price", True), (Product.id, sort == "-price", False)]
    elif sort in ("created_at", "-created_at"):
        d = sort.startswith("-")
        order = [(Product.created_at, d, False), (Product.id, d, False)]
    elif sort in ("name", "-name"):
        d = sort.startswith("-")
        order = [(Product.name, d, False), (Product.id, d, False)]
    else:  # -sales_count
        order = [(Product.sales_count, True, False), (Product.id, True, False)]
    return _Plan(conditions=conditions, order=order, sort=sort, match=match, warnings=warnings)


def _after(order: list[tuple[ColumnElement[Any], bool, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Keyset condition "strictly after ``values``" for an ORDER BY with NULLS LAST."""
    alternatives: list[ColumnElement[bool]] = []
    for i, (expr, desc, nullable) in enumerate(order):
        equal_prefix = [(e.is_(None) if v is None else e == v) for (e, _, _), v in zip(order[:i], values[:i], strict=True)]
        v = values[i]
        if v is None:
            continue  # nothing sorts strictly after NULL (NULLS LAST) within this column
        beyond = (expr < v) if desc else (expr > v)
        if nullable:
            beyond = or_(beyond, expr.is_(None))
        alternatives.append(and_(*equal_prefix, beyond))
    return or_(*alternatives) if alternatives else false()


def _order_by(order: list[tuple[ColumnElement[Any], bool, bool]]) -> list[Any]:
    # NULLS LAST only where NULLs exist: on NOT NULL columns it would stop a backward index scan
    # (DESC defaults to NULLS FIRST) from serving the sort.
    return [_direction(e, d, nullable) for e, d, nullable in order]


def _direction(e: Any, desc: bool, nullable: bool) -> Any:
    ordered = e.desc() if desc else e.asc()
    return ordered.nulls_last() if nullable else ordered


async def _in_stock_ids(session: AsyncSession, tenant_id: uuid.UUID, params: SearchParams, admin: bool, match: str,
                        availability: AvailabilityProvider) -> list[uuid.UUID]:
    """With a per-variant provider (no SQL form): ask it about the sellable variants of the products
    matching every other filter (one query here + the provider's own, whatever the page size), then
    filter on the answer. Linear in the matching variants; a SQL provider avoids that."""
    plan = _plan(tenant_id, replace(params, in_stock=False), admin=admin, match=match, availability=None)
    ids = (await session.execute(
        select(Variant.id).join(Product, and_(Product.tenant_id == Variant.tenant_id, Product.id == Variant.product_id))
        .where(*plan.conditions.values(), Variant.deleted_at.is_(None), Variant.status == "active"))).scalars().all()
    if not ids:
        return []
    stock = await availability(session, list(ids))
    return [vid for vid, a in stock.items() if a.get("status") in SELLABLE_STATUSES]


async def _fts_has_matches(session: AsyncSession, tenant_id: uuid.UUID, params: SearchParams, admin: bool) -> bool:
    plan = _plan(tenant_id, params, admin=admin, match="fts", availability=None)
    return bool((await session.execute(select(exists().where(plan.conditions["visibility"], plan.conditions["q"]))))
                .scalar())


_CORRECTION_CANDIDATES_SQL = text("""
SELECT r.i, q.w, k.known, c.word, c.sim, c.ndoc
FROM unnest(CAST(:words AS text[]), CAST(:prefix AS boolean[])) WITH ORDINALITY AS r(raw, prefix, i)
CROSS JOIN LATERAL (SELECT unaccent(lower(r.raw)) COLLATE "C" AS w) AS q
CROSS JOIN LATERAL (
    -- Known: the word itself, or (the prefix-matched last word) the start of a word. Byte-order
    -- range on the primary key ("C" collation).
    SELECT EXISTS (SELECT FROM search_words s WHERE s.tenant_id = :tenant_id
                   AND (s.word = q.w OR (r.prefix AND s.word >= q.w AND s.word < q.w || chr(1114111))))
           AS known) AS k
LEFT JOIN LATERAL (
    SELECT s.word, similarity(q.w, s.word) AS sim, s.ndoc
    FROM search_words s
    WHERE s.tenant_id = :tenant_id AND q.w <% s.word AND NOT k.known
    ORDER BY similarity(q.w, s.word) DESC, s.ndoc DESC, s.word
    LIMIT :n
) AS c ON true
ORDER BY r.i, c.sim DESC NULLS LAST
""")


async def _corrected_query(session: AsyncSession, tenant_id: uuid.UUID, q: str) -> str | None:
    """``q`` with each positive word that is not a known word of the shop (``search_words``; for the
    last word, not a prefix of one) replaced by the most similar known word; None when no word
    changes. One statement: per word, an index probe for "known" and the best trigram candidates
    (``<%``, GIN), re-ranked here by edit distance (``shrit`` -> ``shirt`` before ``shorts``), then
    similarity, then the number of documents using the word; a word with no candidate within
    :func:`max_edits` stays as typed."""
    words = [(w, last) for w, last in query_words(q) if len(w) >= MIN_CORRECTED_LENGTH]
    if not words:
        return None
    rows = (await session.execute(_CORRECTION_CANDIDATES_SQL, {
        "words": [w for w, _ in words], "prefix": [last for _, last in words], "tenant_id": tenant_id,
        "n": CORRECTION_CANDIDATES})).all()
    by_word: dict[int, list[Any]] = {}
    for r in rows:
        by_word.setdefault(r.i, []).append(r)
    corrections: dict[str, str] = {}
    for i, (word, _) in enumerate(words, start=1):
        found = by_word.get(i, [])
        if not found or found[0].known:
            continue
        typed = found[0].w
        ranked = sorted((edit_distance(typed, r.word), -r.sim, -r.ndoc, r.word) for r in found if r.word is not None)
        if ranked and ranked[0][0] <= max_edits(typed):
            corrections[word] = ranked[0][3]
    if not corrections:
        return None
    return apply_corrections(q, corrections)


def _page_statement(plan: _Plan, params: SearchParams, cursor: list[Any] | None) -> Select[Any]:
    sort_cols = [e.label(f"k{i}") for i, (e, _, _) in enumerate(plan.order)]
    inner = select(Product.id.label("pid"), *sort_cols).where(*plan.conditions.values())
    if cursor is not None:
        inner = inner.where(_after(plan.order, cursor))
    inner = inner.order_by(*_order_by(plan.order)).limit(params.limit + 1)
    if cursor is None and params.offset:
        inner = inner.offset(params.offset)
    page = inner.subquery("page")
    image = (select(Media.url)
             .where(Media.tenant_id == Product.tenant_id, Media.owner_type == "product", Media.owner_id == Product.id,
                    Media.url.is_not(None))
             .order_by(Media.is_main.desc(), Media.position, Media.created_at)
             .limit(1).scalar_subquery())
    outer_order = [_direction(literal_column(f"page.k{i}"), d, nullable) for i, (_, d, nullable) in enumerate(plan.order)]
    return (select(Product.id, Product.slug, Product.name, Product.brand_id, Brand.name.label("brand_name"),
                   Product.category_id, Category.name.label("category_name"), Product.price_min_cents,
                   Product.price_max_cents, Product.currency, Product.tags, Product.status, Product.created_at,
                   Product.deleted_at, image.label("image_url"), *[page.c[f"k{i}"] for i in range(len(plan.order))])
            .select_from(page)
            .join(Product, Product.id == page.c.pid)
            .outerjoin(Brand, and_(Brand.tenant_id == Product.tenant_id, Brand.id == Product.brand_id))
            .outerjoin(Category, and_(Category.tenant_id == Product.tenant_id, Category.id == Product.category_id))
            .order_by(*outer_order))


async def search_products(session: AsyncSession, tenant_id: uuid.UUID, params: SearchParams, *, admin: bool,
                          availability: AvailabilityProvider | None = None) -> ProductPage:
    """One page of products (1 statement; when full-text finds nothing, 1 to correct the words and,
    if any changed, 1 more page over the corrected query) plus, on request, facet counts and the
    total (1 more statement)."""
    if not admin and (params.statuses or params.include_deleted):
        raise AdminOnlyFilter("status and include_deleted need permission catalog:write",
                              permission="catalog:write")
    for s in params.statuses:
        if s not in STATUSES:
            raise InvalidSearch(f"unknown status {s!r}", field="query.status")
    if params.min_price is not None and params.max_price is not None and params.min_price > params.max_price:
        raise InvalidSearch("min_price is greater than max_price", field="query.min_price")
    unknown = [f for f in params.facets if f not in FACETS]
    if unknown:
        raise InvalidSearch(f"unknown facet(s) {unknown}; use {', '.join(FACETS)}", field="query.facets")

    await custom_plans(session)
    has_text = bool(params.q and build_tsquery(params.q))
    match = "none"
    cursor = params.cursor
    if has_text:
        match = "fts"
        if cursor is not None:
            if not cursor or cursor[0] not in ("fts", "fuzzy"):
                raise InvalidCursor("cursor does not belong to this query", field="query.cursor")
            match, cursor = cursor[0], cursor[1:]
    elif cursor is not None and cursor and cursor[0] in ("fts", "fuzzy", "none"):
        cursor = cursor[1:]

    corrected: str | None = None
    if match == "fuzzy":  # a later page of a corrected query: correct it again (same words, same result)
        corrected = await _corrected_query(session, tenant_id, params.q or "")
        params = replace(params, q=corrected or params.q)
    in_stock_ids = None
    if params.in_stock and availability is not None and not hasattr(availability, "in_stock_variant_ids"):
        in_stock_ids = await _in_stock_ids(session, tenant_id, params, admin, match, availability)
    plan = _plan(tenant_id, params, admin=admin, match=match, availability=availability, in_stock_ids=in_stock_ids)
    if cursor is not None and len(cursor) != len(plan.order):
        raise InvalidCursor("cursor does not belong to this sort", field="query.cursor")
    rows = (await session.execute(_page_statement(plan, params, cursor))).all()
    if not rows and match == "fts" and params.cursor is None and (
            params.offset == 0 or not await _fts_has_matches(session, tenant_id, params, admin)):
        # Full-text found nothing: correct misspelt words to known ones and search again.
        corrected = await _corrected_query(session, tenant_id, params.q or "")
        plan.match = "fuzzy"
        if corrected is not None:
            params = replace(params, q=corrected)
            if in_stock_ids is not None:
                in_stock_ids = await _in_stock_ids(session, tenant_id, params, admin, "fuzzy", availability)
            plan = _plan(tenant_id, params, admin=admin, match="fuzzy", availability=availability,
                         in_stock_ids=in_stock_ids)
            rows = (await session.execute(_page_statement(plan, params, None))).all()

    n = len(plan.order)
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        keys = [last._mapping[f"k{i}"] for i in range(n)]
        next_cursor = encode_cursor([plan.match, *keys])
    items = [ProductSummary(
        id=r.id, slug=r.slug, name=r.name,
        brand=Ref(id=r.brand_id, name=r.brand_name) if r.brand_id and r.brand_name is not None else None,
        category=Ref(id=r.category_id, name=r.category_name) if r.category_id and r.category_name is not None else None,
        price_min_cents=r.price_min_cents, price_max_cents=r.price_max_cents, currency=r.currency,
        image_url=r.image_url, tags=list(r.tags or []), status=r.status, created_at=r.created_at,
        deleted_at=r.deleted_at if admin else None,
    ) for r in rows]
    result = ProductPage(items=items, has_more=has_more, next_cursor=next_cursor, match=plan.match,
                         corrected_query=corrected, warnings=plan.warnings)
    if params.facets or params.with_total:
        result.total, result.facets = await _facets(session, tenant_id, plan, params)
    return result


# --------------------------------------------------------------------------- facets


def _where_except(plan: _Plan, facet: str) -> list[ColumnElement[bool]]:
    """Disjunctive faceting: a facet's counts ignore the facet's own filter (so picking one brand
    still shows the counts of the others)."""
    return [c for name, c in plan.conditions.items() if name != facet]


#: The filter each facet ignores (disjunctive faceting).
FACET_FILTER = {"brand": "brand", "category": "category", "price": "price", "options": "options"}
#: Separator of option name and value in ``products.facet_options``.
OPTION_PAIR_SEP = "\x1f"


#: Facet statements built so far, by shape (see :func:`_facet_statement`). Shapes are few (which
#: filters, which facets, how many option filters...); the bound is only a guard.
_FACET_STATEMENTS: dict[Any, tuple[Any, list[Any]]] = {}
_FACET_STATEMENTS_MAX = 512
#: The statement's own values (the conditions carry theirs).
_TENANT = bindparam("facet_tenant", type_=Product.tenant_id.type)
_EDGES = bindparam("facet_edges", type_=ARRAY(BIGINT))


def _facet_statement(plan: _Plan, params: SearchParams) -> tuple[Any, dict[str, Any]]:
    """The facet statement for ``plan`` and the values to execute it with.

    Building it with SQLAlchemy costs ~5 ms of CPU (a dozen CTEs and subqueries, each setting up
    its column proxies), more than most of its SQL. So it is built once per *shape* and reused with
    new values. The shape is the facets asked for plus each condition's SQLAlchemy cache key: the
    structure of its SQL without the bound values (SQLAlchemy's compiled cache rests on the same
    guarantee: equal keys compile to the same SQL with the bound parameters in the same order). The
    request's values are then passed by the key of the cached statement's parameter in the same
    position. A condition that cannot be cached (no cache key) means a statement built for the
    request alone.
    """
    keys: list[Any] = []
    binds: list[Any] = []
    for name, condition in plan.conditions.items():
        ck = condition._generate_cache_key()  # the structure of its SQL, and its bound parameters
        if ck is None:
            stmt = _build_facet_statement(plan, params)
            return stmt, {}
        keys.append((name, ck.key))
        binds.extend(ck.bindparams)
    shape = (tuple(params.facets), tuple(keys))
    cached = _FACET_STATEMENTS.get(shape)
    if cached is None:
        if len(_FACET_STATEMENTS) >= _FACET_STATEMENTS_MAX:
            _FACET_STATEMENTS.clear()
        cached = _FACET_STATEMENTS[shape] = (_build_facet_statement(plan, params), binds)
    stmt, template = cached
    values = {t.key: b.effective_value for t, b in zip(template, binds, strict=True)}
    return stmt, values


async def _facets(session: AsyncSession, tenant_id: uuid.UUID, plan: _Plan,
                  params: SearchParams) -> tuple[int, Facets | None]:
    """Total and every requested facet in one statement (UNION ALL of grouped counts)."""
    stmt, values = _facet_statement(plan, params)
    edges = sorted(set(params.price_edges))
    values.update(facet_tenant=tenant_id, facet_edges=edges)
    data = {r.facet: orjson.loads(r.data) if r.data is not None else None
            for r in (await session.execute(stmt, values)).all()}
    return _facet_values(data, params, edges)


def _build_facet_statement(plan: _Plan, params: SearchParams) -> Any:
    """Total and every requested facet as one statement (executed with ``facet_tenant`` and
    ``facet_edges``).

    The products matching every filter are read once (a CTE, materialized because every branch
    reads it: one index/bitmap scan, not one per facet); only a facet whose own filter is in use
    (disjunctive counts) reads products again without that filter. Options are counted from the
    precomputed ``facet_options`` pairs, categories per category first and then rolled up to the
    ancestors (a few hundred rows, not one per product and ancestor).
    """
    tenant_id = _TENANT

    def part(facet: str, data: Any) -> Select[Any]:
        # One row per facet: its values aggregated to JSON in the database, so Python parses a few
        # strings (orjson) instead of processing hundreds of rows and building a model per value.
        return select(literal(facet).label("facet"), cast(data, TEXT).label("data"))

    def obj(**fields: Any) -> Any:
        return func.json_build_object(*[x for k, v in fields.items() for x in (literal_column(f"'{k}'"), v)])

    def rows_of(conditions: list[ColumnElement[bool]], name: str) -> Any:
        return (select(Product.id, Product.brand_id, Product.category_id, Product.price_min_cents,
                       Product.facet_options).where(*conditions).cte(name))

    disjunctive = [FACET_FILTER[f] for f in params.facets if FACET_FILTER[f] in plan.conditions]
    if "q" in plan.conditions and disjunctive:
        # A text query with facet filters in use: read the text matches once (``base``: every
        # condition but those filters, each evaluated into a flag column) and derive the matching
        # set and each facet's "all filters but mine" set from it, instead of running the full-text
        # match again per disjunctive facet (a bitmap heap scan and recheck each time).
        flags = {name: plan.conditions[name].label(f"ok_{name}") for name in disjunctive}
        base = (select(Product.id, Product.brand_id, Product.category_id, Product.price_min_cents,
                       Product.facet_options, *flags.values())
                .where(*[c for name, c in plan.conditions.items() if name not in flags]).cte("base"))

        def flagged(names: list[str], alias: str) -> Any:
            return (select(base.c.id, base.c.brand_id, base.c.category_id, base.c.price_min_cents,
                           base.c.facet_options).where(*[base.c[f"ok_{n}"] for n in names]).subquery(alias))

        matching = flagged(disjunctive, "matching")

        def source(facet: str) -> Any:
            own = FACET_FILTER[facet]
            return flagged([n for n in disjunctive if n != own], f"without_{facet}") if own in flags else matching
    else:
        matching = rows_of(list(plan.conditions.values()), "matching")

        def source(facet: str) -> Any:
            return rows_of(_where_except(plan, facet), f"without_{facet}") if FACET_FILTER[facet] in plan.conditions \
                else matching

    parts: list[Select[Any]] = [part("total", func.count()).select_from(matching)]
    if "brand" in params.facets:
        src = source("brand")
        per_brand = (select(src.c.brand_id, func.count().label("n")).where(src.c.brand_id.is_not(None))
                     .group_by(src.c.brand_id).subquery("per_brand"))
        parts.append(
            part("brand", func.json_agg(obj(value=Brand.id, label=Brand.name, count=per_brand.c.n)))
            .select_from(per_brand)
            .join(Brand, and_(Brand.tenant_id == tenant_id, Brand.id == per_brand.c.brand_id)))
    if "category" in params.facets:
        src = source("category")
        per_category = (select(src.c.category_id, func.count().label("n")).where(src.c.category_id.is_not(None))
                        .group_by(src.c.category_id).subquery("per_category"))
        anc = func.unnest(func.string_to_array(func.btrim(Category.path, "/"), "/")).table_valued("anc_id").render_derived(name="anc")
        ancestor = Category.__table__.alias("ancestor")
        rolled = (select(ancestor.c.id, ancestor.c.name, ancestor.c.parent_id, ancestor.c.depth,
                         func.sum(per_category.c.n).label("n"))
                  .select_from(per_category)
                  .join(Category, and_(Category.tenant_id == tenant_id, Category.id == per_category.c.category_id))
                  .join(anc, true())
                  .join(ancestor, and_(ancestor.c.tenant_id == tenant_id,
                                       ancestor.c.id == cast(anc.c.anc_id, Category.id.type),
                                       ancestor.c.deleted_at.is_(None)))
                  .group_by(ancestor.c.id, ancestor.c.name, ancestor.c.parent_id, ancestor.c.depth)
                  .subquery("rolled"))
        parts.append(part("category", func.json_agg(obj(value=rolled.c.id, label=rolled.c.name, count=rolled.c.n,
                                                        parent_id=rolled.c.parent_id, depth=rolled.c.depth))))
    if "price" in params.facets:
        src = source("price")
        bucket = func.width_bucket(src.c.price_min_cents, _EDGES)
        per_bucket = (select(bucket.label("bucket"), func.count().label("n")).select_from(src)
                      .where(src.c.price_min_cents.is_not(None)).group_by(bucket).subquery("per_bucket"))
        parts.append(part("price", func.json_object_agg(per_bucket.c.bucket, per_bucket.c.n)))
    if "options" in params.facets:
        src = source("options")
        # Products share their option sets (a size run, a colour): count the products per distinct
        # set first, then unnest each set once, weighted by its count, instead of unnesting (and
        # hashing) every product's pairs. Same counts: each pair of a set counts that set's products.
        per_set = (select(src.c.facet_options, func.count().label("n")).group_by(src.c.facet_options)
                   .subquery("per_set"))
        pair = func.unnest(per_set.c.facet_options).table_valued("pair").render_derived(name="pair")
        per_pair = (select(pair.c.pair, func.sum(per_set.c.n).label("n")).select_from(per_set).join(pair, true())
                    .group_by(pair.c.pair).subquery("per_pair"))
        parts.append(part("option", func.json_object_agg(per_pair.c.pair, per_pair.c.n)))
    return union_all(*parts) if len(parts) > 1 else parts[0]


def _facet_values(data: dict[str, Any], params: SearchParams, edges: list[int]) -> tuple[int, Facets | None]:
    total = int(data["total"])
    if not params.facets:
        return total, None
    out: dict[str, Any] = {}
    if "brand" in params.facets:
        out["brand"] = sorted(data.get("brand") or [], key=lambda f: (-f["count"], f["label"].lower()))
    if "category" in params.facets:
        out["category"] = sorted(data.get("category") or [],
                                 key=lambda f: (f["depth"] or 0, -f["count"], f["label"].lower()))
    if "price" in params.facets:
        # width_bucket: i in 1..len(edges) covers [edges[i-1], edges[i]) (the last is open-ended).
        buckets = data.get("price") or {}
        out["price"] = [{"min_cents": edges[i - 1], "max_cents": edges[i] if i < len(edges) else None,
                         "count": buckets.get(str(i), 0)} for i in range(1, len(edges) + 1)]
    if "options" in params.facets:
        options: dict[str, list[dict[str, Any]]] = {}
        for pair, n in (data.get("option") or {}).items():
            name, _, value = pair.partition(OPTION_PAIR_SEP)
            options.setdefault(name, []).append({"value": value, "label": value, "count": n})
        out["options"] = [{"name": name, "values": sorted(vals, key=lambda f: (-f["count"], f["value"]))}
                          for name, vals in sorted(options.items())]
    # One validation of the whole nested structure (in pydantic-core), not one model per value.
    return total, Facets.model_validate(out)


# --------------------------------------------------------------------------- autocomplete


def _like_prefix(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def autocomplete(session: AsyncSession, tenant_id: uuid.UUID, q: str, *, limit: int = 10,
                       admin: bool = False) -> Suggestions:
    """Prefix suggestions: product names (name words, indexed), categories and brands; one statement."""
    q = q.strip()
    tsq_text = build_tsquery(q.replace("-", " "), weights="A")
    if not tsq_text:
        return Suggestions(query=q, suggestions=[])
    await custom_plans(session)
    qn = _normalize(bindparam("acq", q))
    vis = _visibility(tenant_id, SearchParams(), admin)
    products = (select(literal("product").label("kind"), Product.id, Product.name.label("label"), Product.slug,
                       func.similarity(_normalize(Product.name), qn).label("score"))
                .where(vis, Product.search_vector.op("@@")(_tsquery(tsq_text)))
                .order_by(case((_normalize(Product.name).startswith(qn), 0), else_=1),
                          Product.sales_count.desc(), func.length(Product.name), Product.name)
                .limit(limit))
    pattern = bindparam("acp", _like_prefix(q.lower()))

    def named(model: Any, kind: str) -> Select[Any]:
        name = _normalize(model.name)
        word_start = or_(name.like(_normalize(pattern) + "%"), name.like("% " + _normalize(pattern) + "%"))
        return (select(literal(kind).label("kind"), model.id, model.name.label("label"), model.slug,
                       func.similarity(name, qn).label("score"))
                .where(model.tenant_id == tenant_id, model.deleted_at.is_(None), word_start)
                .order_by(case((name.startswith(qn), 0), else_=1), func.length(model.name), model.name)
                .limit(3))

    stmt = union_all(products.subquery().select(), named(Category, "category").subquery().select(),
                     named(Brand, "brand").subquery().select())
    rows = (await session.execute(stmt)).all()
    others = [r for r in rows if r.kind != "product"]
    prods = [r for r in rows if r.kind == "product"][: max(0, limit - len(others))]
    return Suggestions(query=q, suggestions=[Suggestion(kind=r.kind, id=r.id, label=r.label, slug=r.slug)
                                             for r in [*prods, *others][:limit]])


# --------------------------------------------------------------------------- search documents


# One pass over the variants (GROUP BY) rather than a correlated subquery per product: the plan
# stays linear even right after a bulk insert, before autovacuum has analyzed the new rows.
SEARCH_DOCUMENT_SQL = text(f"""
WITH ids AS (SELECT DISTINCT unnest(CAST(:ids AS uuid[])) AS id),
agg AS (
    SELECT v.product_id,
           string_agg(v.sku, ' ' ORDER BY v.position, v.sku) AS skus,
           min(v.price_cents) FILTER (WHERE v.status = 'active') AS price_min,
           max(v.price_cents) FILTER (WHERE v.status = 'active') AS price_max,
           min(v.currency) FILTER (WHERE v.status = 'active') AS currency,
           (SELECT array_agg(DISTINCT o.pair ORDER BY o.pair)
            FROM unnest(array_agg(v.options) FILTER (WHERE v.status = 'active')) AS u(options),
                 LATERAL (SELECT kv.key || chr(31) || kv.value AS pair FROM jsonb_each_text(u.options) AS kv) AS o
           ) AS facet_options
    FROM variants v
    WHERE v.tenant_id = :tenant AND v.deleted_at IS NULL AND v.product_id IN (SELECT id FROM ids)
    GROUP BY v.product_id
),
d AS (
    SELECT q.id, b.name AS brand_name, c.name AS category_name, agg.skus, agg.price_min, agg.price_max, agg.currency,
           COALESCE(agg.facet_options, '{{}}') AS facet_options
    FROM products q
    LEFT JOIN brands b ON b.tenant_id = q.tenant_id AND b.id = q.brand_id AND b.deleted_at IS NULL
    LEFT JOIN categories c ON c.tenant_id = q.tenant_id AND c.id = q.category_id AND c.deleted_at IS NULL
    LEFT JOIN agg ON agg.product_id = q.id
    WHERE q.tenant_id = :tenant AND q.id IN (SELECT id FROM ids)
),
refreshed AS (
UPDATE products AS p
SET search_vector =
        setweight(to_tsvector('{TS_CONFIG}', unaccent(lower(p.name))), 'A')
     || setweight(to_tsvector('{TS_CONFIG}', unaccent(lower(concat_ws(' ', d.brand_name, d.category_name, d.skus,
                translate(d.skus, '-_./', '    '))))), 'B')
     || setweight(to_tsvector('{TS_CONFIG}', unaccent(lower(concat_ws(' ', array_to_string(p.tags, ' '),
            (SELECT string_agg(split_part(o, chr(31), 2), ' ') FROM unnest(d.facet_options) AS o))))), 'C')
     || setweight(to_tsvector('{TS_CONFIG}', unaccent(lower(coalesce(p.description, '')))), 'D'),
    search_text = unaccent(lower(concat_ws(' ', p.name, d.brand_name, d.category_name))),
    price_min_cents = d.price_min,
    price_max_cents = d.price_max,
    currency = d.currency,
    facet_options = d.facet_options
FROM d
WHERE p.tenant_id = :tenant AND p.id = d.id
RETURNING p.search_vector)
{RECORD_SEARCH_WORDS}""")


async def refresh_search_documents(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> None:
    """Recompute search columns and price ranges of ``product_ids`` in one statement, for any number
    of products (bulk import, factories, the bench generator).

    The formula is the catalog repository's (``refresh_search_documents`` + ``recompute_prices``):
    name A; brand, category and SKUs (non-deleted variants) B; tags and option values (active
    variants) C; description D; unaccent +
    lower, ``simple`` config; price range and currency of active, non-deleted variants. Keep the two
    in step (tests/catalog/test_search.py compares them).
    """
    tenant = current_tenant(session)
    if not product_ids:
        return
    if tenant is None:
        raise RuntimeError("refresh_search_documents() needs a tenant-scoped transaction")
    async with linear_plans(session, enabled=len(product_ids) > 100):
        await session.execute(SEARCH_DOCUMENT_SQL, {"tenant": tenant, "tenant_id": tenant,
                                                    "ids": [str(i) for i in product_ids]})


async def custom_plans(session: AsyncSession) -> None:
    """Plan every search statement for its actual parameters (rest of the transaction).

    asyncpg prepares statements, and from the sixth execution PostgreSQL may switch to a *generic*
    plan that ignores the values: for ``options=Size:M&tags=eco`` it then bitmap-scans the GIN
    indexes and sorts thousands of rows (100–150 ms) where the custom plan walks the listing index
    and stops at 20 (1 ms). Selectivity here depends entirely on the values; planning costs ~1 ms.
    The same round trip sets the trigram threshold of typo correction (``FUZZY_THRESHOLD``)."""
    await session.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
                               "set_config('pg_trgm.word_similarity_threshold', :t, true)"), {"t": str(FUZZY_THRESHOLD)})


@asynccontextmanager
async def linear_plans(session: AsyncSession, *, enabled: bool = True) -> AsyncIterator[None]:
    """Bulk statements right after bulk inserts: the planner still believes the new rows are not
    there (autovacuum has not analyzed them, and the runtime role may not ANALYZE) and picks nested
    loops over sequential scans, quadratic in the batch (seconds, then the statement timeout).
    Disabling nested loops for the block keeps every join a hash or merge join: linear."""
    if not enabled:
        yield
        return
    await session.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    # No try/finally: after an error the transaction is aborted (and the setting is transaction-local
    # anyway); resetting it there would only replace the real error with "transaction is aborted".
    yield
    await session.execute(text("SELECT set_config('enable_nestloop', 'on', true)"))


__all__ = ["CACHE_NAMESPACE", "FACETS", "SORTS", "AvailabilityProvider", "SearchParams", "autocomplete",
           "build_tsquery", "parse_options", "refresh_search_documents",
           "search_products", "split_list"]
