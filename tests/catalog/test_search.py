"""Product listing and search: visibility, full-text + fuzzy, filters, sorting, pagination, facets,
autocomplete, caching, tenant isolation and a fixed number of queries per page."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import pytest_asyncio
from search_factories import CatalogFactory, V
from sqlalchemy import event

from mercato.catalog.search import build_tsquery, parse_options
from mercato.platform.errors import BadRequest

API = "/api/v1/products"


@pytest_asyncio.fixture
async def cat(db, tenant) -> CatalogFactory:  # type: ignore[no-untyped-def]
    return CatalogFactory(db, tenant.id)


async def _list(client, headers, **params):  # type: ignore[no-untyped-def]
    r = await client.get(API, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _names(page: dict) -> list[str]:
    return [p["name"] for p in page["items"]]


# --------------------------------------------------------------------------- pure helpers


def test_build_tsquery_quotes_words_prefixes_last_and_supports_or_and_not() -> None:
    assert build_tsquery("Red shi") == "'red' & 'shi':*"
    assert build_tsquery("shirt OR blouse -wool") == "'shirt' | 'blouse':* & !'wool'"
    assert build_tsquery("t-shirt") == "('t' & 'shirt':*)"
    assert build_tsquery("it's & | ! :*") == "('it' & 's':*)"
    assert build_tsquery("-only") is None and build_tsquery("  ") is None
    assert build_tsquery("red shi", weights="A") == "'red':A & 'shi':*A"


def test_parse_options_both_syntaxes() -> None:
    assert parse_options("Size:M|L,Color:Red", [("Size", "XL"), ("Fit", "Slim")]) == {
        "Size": ["M", "L", "XL"], "Color": ["Red"], "Fit": ["Slim"]}
    with pytest.raises(BadRequest):
        parse_options("Size")


# --------------------------------------------------------------------------- visibility


async def test_storefront_sees_only_active_products_admin_sees_all(client, tenant, cat) -> None:
    brand = await cat.brand("Acme")
    shirts = await cat.category("Shirts")
    await cat.products([
        {"name": "Live Shirt", "brand_id": brand, "category_id": shirts, "tags": ["summer"],
         "image_url": "https://img.example.com/live.jpg",
         "variants": [V("LIVE-S", 1500, {"Size": "S"}), V("LIVE-M", 1900, {"Size": "M"})]},
        {"name": "Draft Shirt", "status": "draft"},
        {"name": "Hidden Shirt", "is_active": False},
        {"name": "Archived Shirt", "status": "archived"},
        {"name": "Deleted Shirt", "deleted": True},
    ])
    store = await _list(client, tenant.storefront_headers)
    assert _names(store) == ["Live Shirt"]
    item = store["items"][0]
    assert item["brand"]["name"] == "Acme" and item["category"]["name"] == "Shirts"
    assert (item["price_min_cents"], item["price_max_cents"], item["currency"]) == (1500, 1900, "USD")
    assert item["image_url"] == "https://img.example.com/live.jpg" and item["tags"] == ["summer"]
    assert item["status"] == "active" and item["slug"]
    # Anonymous with the shop header is a storefront reader too.
    assert _names(await _list(client, tenant.host_headers)) == ["Live Shirt"]

    admin = await _list(client, tenant.admin_headers)
    assert sorted(_names(admin)) == ["Archived Shirt", "Draft Shirt", "Hidden Shirt", "Live Shirt"]
    drafts = await _list(client, tenant.admin_headers, status="draft,archived")
    assert sorted(_names(drafts)) == ["Archived Shirt", "Draft Shirt"]
    everything = await _list(client, tenant.admin_headers, include_deleted="true")
    assert "Deleted Shirt" in _names(everything)

    r = await client.get(API, params={"status": "draft"}, headers=tenant.storefront_headers)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = await client.get(API, params={"include_deleted": "true"}, headers=tenant.host_headers)
    assert r.status_code == 403
    r = await client.get(API)
    assert r.status_code == 400 and r.json()["code"] == "tenant_required"


async def test_other_tenants_products_never_appear(client, tenant, make_tenant, db) -> None:
    other = await make_tenant()
    await CatalogFactory(db, other.id).products([{"name": "Foreign Widget"}])
    await CatalogFactory(db, tenant.id).products([{"name": "Local Widget"}])
    assert _names(await _list(client, tenant.storefront_headers, q="widget")) == ["Local Widget"]
    assert _names(await _list(client, tenant.admin_headers, q="foreign")) == []
    sugg = (await client.get(f"{API}/autocomplete", params={"q": "wid"}, headers=tenant.host_headers)).json()
    assert [s["label"] for s in sugg["suggestions"]] == ["Local Widget"]


# --------------------------------------------------------------------------- full text


async def test_full_text_ranks_name_over_description_folds_accents_and_prefixes(client, tenant, cat) -> None:
    brand = await cat.brand("Nordwand")
    await cat.products([
        {"name": "Linen Trousers", "description": "Pairs well with any shirt"},
        {"name": "Oxford Shirt", "description": "A classic"},
        {"name": "Café Crème Mug", "tags": ["kitchen"]},
        {"name": "Trail Jacket", "brand_id": brand, "variants": [V("TJ-4455-XL", 12000)]},
    ])
    h = tenant.storefront_headers
    page = await _list(client, h, q="shirt")
    assert page["match"] == "fts" and _names(page) == ["Oxford Shirt", "Linen Trousers"]
    assert _names(await _list(client, h, q="Shi")) == ["Oxford Shirt", "Linen Trousers"]  # prefix on last word
    assert _names(await _list(client, h, q="CAFE creme")) == ["Café Crème Mug"]  # accents and case folded
    assert _names(await _list(client, h, q="kitchen")) == ["Café Crème Mug"]  # tags
    assert _names(await _list(client, h, q="nordwand")) == ["Trail Jacket"]  # brand name
    page = await _list(client, h, q="tj-4455")  # SKU: a full-text hit (the parser reads "-4455" as a number,
    assert page["match"] == "fts" and _names(page) == ["Trail Jacket"]  # so SKUs are also indexed split)
    assert _names(await _list(client, h, q="shirt -classic")) == ["Linen Trousers"]
    assert sorted(_names(await _list(client, h, q="mug OR jacket"))) == ["Café Crème Mug", "Trail Jacket"]


async def test_option_values_of_active_variants_are_searchable(client, tenant, cat) -> None:
    """Colours and sizes live on variants: "navy" is a full-text hit (weight C), not a slow fuzzy
    fallback; both write paths (bulk and the product API) index them."""
    from catalog_factories import create_product

    await cat.products([{"name": "Deck Shoe", "variants": [V("DS-1", 5000, {"Color": "Navy"}),
                                                           V("DS-2", 5000, {"Color": "Mauve"}, status="inactive")]}])
    made = await create_product(client, tenant, {  # (a SKU without the colour in it: SKUs are indexed too)
        "name": "Rain Coat", "status": "active", "options": [{"name": "Color", "values": ["Teal"]}],
        "variants": [{"sku": "RC-0001", "options": {"Color": "Teal"}, "price_cents": 9000, "currency": "USD"}]})
    h = tenant.storefront_headers
    page = await _list(client, h, q="navy")
    assert page["match"] == "fts" and _names(page) == ["Deck Shoe"]
    page = await _list(client, h, q="teal")
    assert page["match"] == "fts" and _names(page) == ["Rain Coat"]
    assert (await _list(client, h, q="mauve"))["match"] != "fts"  # an inactive variant's colour is not indexed
    # Deactivating the variant through the API re-indexes the product.
    vid = made["variants"][0]["id"]
    r = await client.patch(f"/api/v1/products/{made['id']}/variants/{vid}", json={"status": "inactive"},
                           headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    assert (await _list(client, tenant.admin_headers, q="teal"))["match"] != "fts"


async def test_typos_are_corrected_to_known_words_then_searched_full_text(client, tenant, cat) -> None:
    await cat.products([{"name": "Oxford Shirt"}, {"name": "Wool Sweater"}, {"name": "Trail Jacket"},
                        {"name": "Merino Shorts"}, {"name": "Café Crème Mug"}])
    h = tenant.storefront_headers
    page = await _list(client, h, q="oxfrod")
    assert page["match"] == "fuzzy" and _names(page) == ["Oxford Shirt"] and page["corrected_query"] == "oxford"
    page = await _list(client, h, q="sweatre")
    assert page["match"] == "fuzzy" and _names(page) == ["Wool Sweater"]
    page = await _list(client, h, q="jakcet")  # a swap of two letters (word similarity only 0.29)
    assert _names(page) == ["Trail Jacket"] and page["corrected_query"] == "jacket"
    page = await _list(client, h, q="merin0")
    assert _names(page) == ["Merino Shorts"]
    page = await _list(client, h, q="shrit")  # "shirt" (1 edit) rather than "shorts" (equally similar trigrams)
    assert _names(page) == ["Oxford Shirt"] and page["corrected_query"] == "shirt"
    # Only misspelt words change; known words, the prefix last word, OR and -word are kept.
    page = await _list(client, h, q="Wool sweatre -oxford")
    assert _names(page) == ["Wool Sweater"] and page["corrected_query"] == "Wool sweater -oxford"
    page = await _list(client, h, q="oxfrod shi")
    assert _names(page) == ["Oxford Shirt"] and page["corrected_query"] == "oxford shi"
    page = await _list(client, h, q="creme mgu")  # accents folded on both sides
    assert _names(page) == ["Café Crème Mug"] and page["corrected_query"] == "creme mug"
    # Nothing close enough: no correction, no results (edit distance limit: "mauve" is not "made").
    for q in ("zzqqxx", "mauve", "xy"):
        nothing = await _list(client, h, q=q)
        assert nothing["items"] == [] and nothing["has_more"] is False
        assert nothing["match"] == "fuzzy" and nothing["corrected_query"] is None
    # A full-text hit is never "corrected".
    page = await _list(client, h, q="wool")
    assert page["match"] == "fts" and page["corrected_query"] is None


async def test_corrected_search_pages_with_a_cursor_and_counts_facets(client, tenant, cat) -> None:
    await cat.products([{"name": f"Linen Shirt {i}"} for i in range(5)] + [{"name": "Linen Trousers"}])
    h = tenant.storefront_headers
    first = await _list(client, h, q="shrit", limit=3, with_total="true")
    assert first["match"] == "fuzzy" and len(first["items"]) == 3 and first["has_more"] and first["total"] == 5
    rest = await _list(client, h, q="shrit", limit=3, cursor=first["next_cursor"])
    assert rest["match"] == "fuzzy" and len(rest["items"]) == 2 and not rest["has_more"]
    assert set(_names(first) + _names(rest)) == {f"Linen Shirt {i}" for i in range(5)}


async def test_words_written_through_the_api_are_correctable_at_once(client, tenant) -> None:
    """Every write path records the document's new words in the same transaction."""
    from catalog_factories import create_product

    made = await create_product(client, tenant, {"name": "Plain Coat", "status": "active", "variants": [
        {"sku": "PC-1", "price_cents": 9000, "currency": "USD"}]})
    h = tenant.storefront_headers
    assert _names(await _list(client, h, q="gabardne")) == []
    r = await client.patch(f"/api/v1/products/{made['id']}", json={"name": "Gabardine Coat"},
                           headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    page = await _list(client, h, q="gabardne")
    assert page["match"] == "fuzzy" and _names(page) == ["Gabardine Coat"]
    # A brand rename re-indexes its products: the new brand word is correctable too.
    brand = (await client.post("/api/v1/brands", json={"name": "Nordic"}, headers=tenant.admin_headers)).json()
    r = await client.patch(f"/api/v1/products/{made['id']}", json={"brand_id": brand["id"]},
                           headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    r = await client.patch(f"/api/v1/brands/{brand['id']}", json={"name": "Fjallraven"}, headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    assert _names(await _list(client, h, q="fjalraven")) == ["Gabardine Coat"]


async def test_typo_correction_never_uses_another_shops_words(client, tenant, make_tenant, db) -> None:
    from sqlalchemy import text

    other = await make_tenant()
    await CatalogFactory(db, other.id).products([{"name": "Zeppelin Lamp"}])
    await CatalogFactory(db, tenant.id).products([{"name": "Desk Lamp"}])
    page = await _list(client, tenant.storefront_headers, q="zepelin")
    assert page["items"] == [] and page["corrected_query"] is None
    page = await _list(client, other.storefront_headers, q="zepelin")
    assert _names(page) == ["Zeppelin Lamp"]
    # Row-level security on the table itself: a shop's transaction sees only its own words.
    async with db.tenant_transaction(tenant.id) as s:
        words = set((await s.execute(text("SELECT word FROM search_words"))).scalars())
    assert "desk" in words and "zeppelin" not in words


# --------------------------------------------------------------------------- filters


async def test_filters_category_tree_brand_price_options_tags(client, tenant, cat) -> None:
    apparel = await cat.category("Apparel")
    tops = await cat.category("Tops", parent=apparel)
    tees = await cat.category("Tees", parent=tops)
    shoes = await cat.category("Shoes")
    acme, bolt = await cat.brand("Acme"), await cat.brand("Bolt")
    await cat.products([
        {"name": "Tee A", "category_id": tees, "brand_id": acme, "tags": ["cotton", "summer"],
         "variants": [V("TA-S", 1000, {"Size": "S", "Color": "Red"}), V("TA-M", 1200, {"Size": "M", "Color": "Blue"})]},
        {"name": "Top B", "category_id": tops, "brand_id": bolt, "tags": ["summer"],
         "variants": [V("TB-M", 3000, {"Size": "M", "Color": "Red"})]},
        {"name": "Jacket C", "category_id": apparel, "brand_id": acme,
         "variants": [V("JC-L", 9000, {"Size": "L", "Color": "Black"})]},
        {"name": "Shoe D", "category_id": shoes, "brand_id": bolt,
         "variants": [V("SD-42", 5000, {"Size": "42"})]},
    ])
    h = tenant.storefront_headers

    async def names(**params) -> list[str]:  # type: ignore[no-untyped-def]
        return sorted(_names(await _list(client, h, **params)))

    assert await names(category=str(apparel)) == ["Jacket C", "Tee A", "Top B"]  # descendants included
    assert await names(category="tops") == ["Tee A", "Top B"]  # by slug
    assert await names(category=f"tees,{shoes}") == ["Shoe D", "Tee A"]
    assert await names(brand="acme") == ["Jacket C", "Tee A"]
    assert await names(brand=["acme", str(bolt)]) == ["Jacket C", "Shoe D", "Tee A", "Top B"]
    assert await names(min_price=1100, max_price=5000) == ["Shoe D", "Tee A", "Top B"]  # ranges overlap
    assert await names(min_price=6000) == ["Jacket C"]
    assert await names(options="Size:M") == ["Tee A", "Top B"]
    assert await names(options="Size:M,Color:Red") == ["Top B"]  # both on the same variant
    assert await names(options="Size:S|L") == ["Jacket C", "Tee A"]
    assert await names(**{"option.Color": "Black"}) == ["Jacket C"]
    assert await names(tags="summer") == ["Tee A", "Top B"]
    assert await names(tags="summer,cotton") == ["Tee A"]
    assert await names(q="tee", category="apparel", brand="acme") == ["Tee A"]
    r = await client.get(API, params={"min_price": 10, "max_price": 5}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_search"
    r = await client.get(API, params={"sort": "bogus"}, headers=h)
    assert r.status_code == 400


async def test_in_stock_filter_asks_the_inventory_provider(client, tenant, cat, app) -> None:
    ids = await cat.products([
        {"name": "Backorderable", "variants": [V("BO-1", 100, allow_backorder=True)]},
        {"name": "Stocked", "variants": [V("ST-1", 100), V("ST-2", 100)]},
        {"name": "Empty", "variants": [V("EM-1", 100)]},
    ])
    h = tenant.storefront_headers
    real = getattr(app.state, "availability_provider", None)
    if real is not None:  # the inventory module: nothing on hand anywhere, so only backorders sell
        page = await _list(client, h, in_stock="true", nonce=1)
        assert _names(page) == ["Backorderable"] and page["warnings"] == []
    async with app.state.db.tenant_transaction(tenant.id) as s:
        from sqlalchemy import text

        stocked = (await s.execute(text("SELECT id FROM variants WHERE sku = 'ST-2'"))).scalar()

    async def fake(session, variant_ids):  # type: ignore[no-untyped-def]
        return {v: {"status": "in_stock" if v == stocked else "out_of_stock"} for v in variant_ids}

    app.state.availability_provider = fake
    try:
        await app.state.cache.bump(tenant.id, "catalog")
        page = await _list(client, h, in_stock="true", facets="brand")
        assert _names(page) == ["Stocked"] and page["total"] == 1
        assert sorted(_names(await _list(client, h))) == ["Backorderable", "Empty", "Stocked"]
        app.state.availability_provider = None
        await app.state.cache.bump(tenant.id, "catalog")
        page = await _list(client, h, in_stock="true")
        assert len(page["items"]) == 3 and page["warnings"]  # no provider: ignored, and said so
    finally:
        app.state.availability_provider = real
    assert len(ids) == 3


# --------------------------------------------------------------------------- sorting and pagination


async def test_sorts_and_cursor_pagination_walks_every_product_once(client, tenant, cat) -> None:
    specs = [{"name": f"Item {chr(65 + i)}", "sales_count": (i * 7) % 5,
              "variants": [V(f"IT-{i}", [500, 300, 300, 900, 100, 700, 300][i])]} for i in range(7)]
    ids = await cat.products(specs)
    await cat.products([{"name": "No Price", "variants": [V("NP-1", 1, status="inactive")]}])  # price NULL
    h = tenant.storefront_headers
    full = {sort: _names(await _list(client, h, sort=sort, limit=100))
            for sort in ("newest", "price", "-price", "name", "-name", "best_selling")}
    assert full["newest"] == ["No Price", *[f"Item {chr(65 + i)}" for i in reversed(range(7))]]
    assert full["name"] == sorted(full["name"]) and full["-name"] == list(reversed(full["name"]))
    assert full["price"][0] == "Item E" and full["price"][-1] == "No Price"  # NULL prices last
    assert full["-price"][0] == "Item D" and full["-price"][-1] == "No Price"
    sales = {f"Item {chr(65 + i)}": (i * 7) % 5 for i in range(7)}
    assert [sales.get(n, 0) for n in full["best_selling"]] == sorted([sales.get(n, 0) for n in full["best_selling"]],
                                                                     reverse=True)
    for sort, expected in full.items():
        walked: list[str] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
            page = await _list(client, h, **params)
            walked += _names(page)
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
        assert walked == expected, sort
    # Offset pagination agrees with the cursor walk.
    assert _names(await _list(client, h, sort="price", limit=3, offset=3)) == full["price"][3:6]
    # Relevance-sorted search pages too.
    assert len(ids) == 7
    first = await _list(client, h, q="item", limit=4)
    second = await _list(client, h, q="item", limit=4, cursor=first["next_cursor"])
    assert len(set(_names(first)) | set(_names(second))) == 7 and not second["has_more"]
    bad = await client.get(API, params={"cursor": "!!notacursor"}, headers=h)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


# --------------------------------------------------------------------------- facets


async def test_facets_count_brands_categories_prices_and_options(client, tenant, cat) -> None:
    apparel = await cat.category("Apparel")
    tops = await cat.category("Tops", parent=apparel)
    shoes = await cat.category("Shoes")
    acme, bolt = await cat.brand("Acme"), await cat.brand("Bolt")
    await cat.products([
        {"name": "Tee A", "category_id": tops, "brand_id": acme,
         "variants": [V("FA-S", 800, {"Size": "S"}), V("FA-M", 1200, {"Size": "M"})]},
        {"name": "Tee B", "category_id": tops, "brand_id": bolt, "variants": [V("FB-M", 3000, {"Size": "M"})]},
        {"name": "Coat C", "category_id": apparel, "brand_id": acme, "variants": [V("FC-L", 30000, {"Size": "L"})]},
        {"name": "Shoe D", "category_id": shoes, "brand_id": bolt, "variants": [V("FD-42", 5000, {"Size": "42"})]},
        {"name": "Draft E", "category_id": shoes, "brand_id": bolt, "status": "draft"},
    ])
    page = await _list(client, tenant.storefront_headers, facets="brand,category,price,options", limit=1)
    assert page["total"] == 4 and len(page["items"]) == 1
    f = page["facets"]
    assert {b["label"]: b["count"] for b in f["brand"]} == {"Acme": 2, "Bolt": 2}
    cats = {c["label"]: (c["count"], c["depth"]) for c in f["category"]}
    assert cats == {"Apparel": (3, 0), "Tops": (2, 1), "Shoes": (1, 0)}  # rolled up to ancestors
    prices = {(b["min_cents"], b["max_cents"]): b["count"] for b in f["price"]}
    assert prices[(0, 1000)] == 1 and prices[(2500, 5000)] == 1 and prices[(5000, 10000)] == 1
    assert prices[(25000, 50000)] == 1 and sum(prices.values()) == 4
    sizes = {v["value"]: v["count"] for o in f["options"] if o["name"] == "Size" for v in o["values"]}
    assert sizes == {"S": 1, "M": 2, "L": 1, "42": 1}

    # Disjunctive: the brand facet ignores the brand filter, the others apply it.
    picked = await _list(client, tenant.storefront_headers, brand="acme", facets="brand,category")
    assert picked["total"] == 2
    assert {b["label"]: b["count"] for b in picked["facets"]["brand"]} == {"Acme": 2, "Bolt": 2}
    assert {c["label"]: c["count"] for c in picked["facets"]["category"]} == {"Apparel": 2, "Tops": 1}
    custom = await _list(client, tenant.storefront_headers, facets="price", price_buckets="0,2000")
    assert [(b["min_cents"], b["max_cents"], b["count"]) for b in custom["facets"]["price"]] == [
        (0, 2000, 1), (2000, None, 3)]
    totals = await _list(client, tenant.storefront_headers, q="tee", with_total="true")
    assert totals["total"] == 2 and totals["facets"] is None
    tops_row = next(c for c in f["category"] if c["label"] == "Tops")
    assert tops_row["parent_id"] == str(apparel) and tops_row["value"] == str(tops)

    # With a text query the matches are read once and every disjunctive facet is derived from them:
    # same counts as the listing path. "Tee A" is 800-1200, "Tee B" 3000; both in Tops.
    both = await _list(client, tenant.storefront_headers, q="tee", brand="acme", max_price=2000,
                       options="Size:M|S", category="tops", facets="brand,category,price,options")
    assert both["total"] == 1 and _names(both) == ["Tee A"]
    fb = both["facets"]
    assert {b["label"]: b["count"] for b in fb["brand"]} == {"Acme": 1}  # Tee B is over max_price
    assert {c["label"]: c["count"] for c in fb["category"]} == {"Apparel": 1, "Tops": 1}
    assert {(b["min_cents"], b["count"]) for b in fb["price"] if b["count"]} == {(0, 1)}  # price facet: all prices
    assert {v["value"]: v["count"] for o in fb["options"] for v in o["values"]} == {"S": 1, "M": 1}
    no_price = await _list(client, tenant.storefront_headers, q="tee", max_price=2000, facets="price,brand")
    assert {(b["min_cents"], b["count"]) for b in no_price["facets"]["price"] if b["count"]} == {(0, 1), (2500, 1)}
    assert {b["label"]: b["count"] for b in no_price["facets"]["brand"]} == {"Acme": 1}
    bad = await client.get(API, params={"facets": "colour"}, headers=tenant.storefront_headers)
    assert bad.status_code == 400


async def test_option_facet_counts_products_per_pair_when_many_share_an_option_set(client, tenant, cat) -> None:
    """The options facet groups products by their option set first and unnests each set once
    (weighted): the counts must be those of one product per pair, whether sets repeat or not."""
    knit = await cat.category("Knitwear")
    runs = [("S", "M", "L")] * 4 + [("S", "M")] * 3 + [("M", "L", "XL")] * 2 + [("XS",)]
    await cat.products([
        {"name": f"Merino Knit {i}", "category_id": knit,
         "variants": [V(f"MK-{i}-{s}", 1000 + 100 * i, {"Size": s, "Color": "Navy" if i % 2 else "Grey"})
                      for s in sizes]}
        for i, sizes in enumerate(runs)
    ])
    expected_sizes: dict[str, int] = {}
    for sizes in runs:
        for s in sizes:
            expected_sizes[s] = expected_sizes.get(s, 0) + 1
    expected_colors = {"Navy": 5, "Grey": 5}

    def options(page: dict) -> dict[str, dict[str, int]]:
        return {o["name"]: {v["value"]: v["count"] for v in o["values"]} for o in page["facets"]["options"]}

    listing = await _list(client, tenant.storefront_headers, facets="options")
    assert options(listing) == {"Size": expected_sizes, "Color": expected_colors}
    searched = await _list(client, tenant.storefront_headers, q="merino", max_price=10_000, facets="options,price")
    assert searched["total"] == 10 and options(searched) == {"Size": expected_sizes, "Color": expected_colors}
    # Disjunctive: an option filter narrows the other facets, not the options facet itself.
    picked = await _list(client, tenant.storefront_headers, q="merino", options="Size:XL", facets="options,brand")
    assert picked["total"] == 2 and options(picked) == {"Size": expected_sizes, "Color": expected_colors}


async def test_a_reused_facet_statement_counts_with_each_requests_own_values(db, tenant, make_tenant, cat) -> None:
    """Facet statements are built once per shape and reused with new values (search._facet_statement).
    Every reuse must count exactly what a statement built for that request counts: other brands,
    categories, prices, option values, tags, text and another shop."""
    from mercato.catalog import search
    from mercato.catalog.search import SearchParams, search_products

    apparel = await cat.category("Apparel")
    tops = await cat.category("Tops", parent=apparel)
    shoes = await cat.category("Shoes")
    acme, bolt = await cat.brand("Acme"), await cat.brand("Bolt")
    await cat.products([
        {"name": "Tee A", "category_id": tops, "brand_id": acme, "tags": ["eco"],
         "variants": [V("RA-S", 800, {"Size": "S", "Color": "Red"}), V("RA-M", 1200, {"Size": "M", "Color": "Red"})]},
        {"name": "Tee B", "category_id": tops, "brand_id": bolt, "tags": ["eco", "sale"],
         "variants": [V("RB-M", 3000, {"Size": "M", "Color": "Blue"})]},
        {"name": "Coat C", "category_id": apparel, "brand_id": acme, "variants": [V("RC-L", 30000, {"Size": "L"})]},
        {"name": "Shoe D", "category_id": shoes, "brand_id": bolt, "tags": ["sale"],
         "variants": [V("RD-42", 5000, {"Size": "42", "Color": "Red"})]},
    ])
    other = await make_tenant()
    theirs = CatalogFactory(db, other.id)
    their_tops = await theirs.category("Tops")
    their_acme = await theirs.brand("Acme")
    await theirs.products([{"name": "Their Tee", "category_id": their_tops, "brand_id": their_acme, "tags": ["eco"],
                            "variants": [V("TT-M", 2000, {"Size": "M"})]}])
    every = ["brand", "category", "price", "options"]
    # Pairs of the same shape, the second differing from the first in every value.
    pairs = [
        (SearchParams(brands=["acme"], facets=every), SearchParams(brands=["bolt"], facets=every)),
        (SearchParams(categories=["tops"], facets=every), SearchParams(categories=["shoes"], facets=every)),
        (SearchParams(categories=[str(tops)], facets=every), SearchParams(categories=[str(shoes)], facets=every)),
        (SearchParams(min_price=1000, max_price=4000, facets=every),
         SearchParams(min_price=4000, max_price=40000, facets=every)),
        (SearchParams(options={"Size": ["M"]}, facets=every), SearchParams(options={"Size": ["L"]}, facets=every)),
        (SearchParams(options={"Size": ["M", "S"]}, tags=["eco"], facets=every),
         SearchParams(options={"Color": ["Red", "Blue"]}, tags=["sale"], facets=every)),
        (SearchParams(q="tee", brands=["acme"], max_price=2000, facets=every),
         SearchParams(q="coat", brands=["bolt"], max_price=50000, facets=every)),
        (SearchParams(q="tee", facets=["brand"], with_total=True), SearchParams(q="shoe", facets=["brand"])),
    ]

    async def counts(tenant_id, params):  # type: ignore[no-untyped-def]
        async with db.tenant_transaction(tenant_id) as s:
            page = await search_products(s, tenant_id, params, admin=False)
        return page.total, page.facets.model_dump() if page.facets else None

    for first, second in pairs:
        search._FACET_STATEMENTS.clear()
        fresh = await counts(tenant.id, second)
        fresh_other = await counts(other.id, second)
        search._FACET_STATEMENTS.clear()
        await counts(tenant.id, first)
        built = len(search._FACET_STATEMENTS)
        assert await counts(tenant.id, second) == fresh, second
        assert await counts(other.id, second) == fresh_other, second
        assert len(search._FACET_STATEMENTS) == built == 1  # reused, not rebuilt
    assert (await counts(other.id, SearchParams(brands=["acme"], facets=every)))[0] == 1  # their Acme only


# --------------------------------------------------------------------------- autocomplete


async def test_autocomplete_suggests_products_categories_and_brands(client, tenant, cat) -> None:
    await cat.category("Shirts & Tops")
    await cat.brand("Shimano")
    await cat.products([{"name": "Shiny Shoes"}, {"name": "Oxford Shirt"}, {"name": "Hidden Shirt", "status": "draft"},
                        {"name": "Wool Sweater", "description": "not a shirt"}])
    r = await client.get(f"{API}/autocomplete", params={"q": "shi"}, headers=tenant.storefront_headers)
    assert r.status_code == 200, r.text
    got = [(s["kind"], s["label"]) for s in r.json()["suggestions"]]
    assert ("category", "Shirts & Tops") in got and ("brand", "Shimano") in got
    products = [label for kind, label in got if kind == "product"]
    assert sorted(products) == ["Oxford Shirt", "Shiny Shoes"]  # names only; drafts hidden
    r = await client.get(f"{API}/autocomplete", params={"q": "oxford sh", "limit": 1}, headers=tenant.host_headers)
    assert [s["label"] for s in r.json()["suggestions"]] == ["Oxford Shirt"]
    r = await client.get(f"{API}/autocomplete", params={"q": "%"}, headers=tenant.host_headers)
    assert r.status_code == 200 and r.json()["suggestions"] == []


# --------------------------------------------------------------------------- cache


async def test_results_are_cached_and_a_catalog_bump_invalidates_them(client, tenant, cat, app) -> None:
    [pid] = await cat.products([{"name": "Cached Lamp", "variants": [V("LAMP-1", 4000)]}])
    h = tenant.storefront_headers
    assert (await _list(client, h, q="lamp"))["items"][0]["price_min_cents"] == 4000
    await cat.execute("UPDATE products SET price_min_cents = 3500 WHERE id = :i", i=pid)  # no bump: a raw write
    assert (await _list(client, h, q="lamp"))["items"][0]["price_min_cents"] == 4000  # served from the cache
    await app.state.cache.bump(tenant.id, "catalog")  # what every catalog write does after commit
    assert (await _list(client, h, q="lamp"))["items"][0]["price_min_cents"] == 3500


# --------------------------------------------------------------------------- query count


@contextmanager
def count_statements(engine):  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def test_a_page_loads_in_a_fixed_number_of_queries(client, tenant, cat, app) -> None:
    brand = await cat.brand("Countable")
    category = await cat.category("Counted")
    await cat.products([{"name": f"Counted Thing {i}", "brand_id": brand, "category_id": category,
                         "image_url": f"https://img.example.com/{i}.jpg",
                         "variants": [V(f"CT-{i}-a", 100 + i, {"Size": "S"}), V(f"CT-{i}-b", 200 + i, {"Size": "M"})]}
                        for i in range(40)])
    engine = app.state.db.engine.sync_engine
    await _list(client, tenant.storefront_headers, limit=1)  # warm the tenant lookup cache
    counts = {}
    for n in (5, 40):
        for facets in (None, "brand,category,price,options"):
            params = {"limit": n, "q": "counted", "sort": "price"}  # distinct params: cache misses
            if facets:
                params["facets"] = facets
            with count_statements(engine) as stmts:
                page = await _list(client, tenant.storefront_headers, **params)
            assert len(page["items"]) == n
            assert all(item["image_url"] and item["brand"] and item["category"] for item in page["items"])
            counts[(n, facets)] = len(stmts)
            catalog = [x for x in stmts if "products" in x]
            assert len(catalog) == (2 if facets else 1), catalog  # one page query (+ one for all facets)
    assert counts[(5, None)] == counts[(40, None)]
    assert counts[(5, "brand,category,price,options")] == counts[(40, "brand,category,price,options")]
    assert counts[(40, "brand,category,price,options")] == counts[(40, None)] + 1  # all facets: one statement


async def test_bulk_search_document_formula_matches_the_catalog_repository(db, tenant, cat) -> None:
    """Bulk import refreshes with mercato.catalog.search.refresh_search_documents; single writes use the
    repository's functions. Both must produce the same columns."""
    from sqlalchemy import text

    from mercato.catalog import repository

    brand, category = await cat.brand("Ünïcode Brand"), await cat.category("Cätegory")
    ids = await cat.products([
        {"name": "Crème Brûlée Set", "brand_id": brand, "category_id": category, "tags": ["Dessert", "Kitchen"],
         "description": "Torch included", "variants": [V("CB-1", 2500, {"Size": "M", "Flavour": "Vanilla"}), V("CB-3", 2600, {"Size": "L"}),
                      V("CB-2", 1500, {"Size": "S"}, status="inactive")]},
        {"name": "Bare", "variants": [V("BARE-1", 100, status="inactive")]},
    ])
    sql = ("SELECT id, search_vector::text, search_text, price_min_cents, price_max_cents, currency, facet_options "
           "FROM products ORDER BY id")
    async with db.tenant_transaction(tenant.id) as s:
        ours = (await s.execute(text(sql))).all()
        await repository.recompute_prices(s, ids)
        await repository.refresh_search_documents(s, ids)
        theirs = (await s.execute(text(sql))).all()
    assert ours == theirs
    assert sorted(r.facet_options for r in ours) == [[], ["Flavour\x1fVanilla", "Size\x1fL", "Size\x1fM"]]
    assert any("'vanilla':" in r.search_vector for r in ours)
    assert [r.search_text for r in ours if "creme" in r.search_text] == ["creme brulee set unicode brand categ"
                                                                         "ory"]  # no SKUs in the trigram text


async def test_search_statements_get_custom_plans(db, tenant, cat) -> None:
    """A prepared statement's generic plan (from its 6th run) ignores the values; for option/tag
    filters it was 100x slower. Search transactions force custom plans; other transactions keep
    the server default."""
    from sqlalchemy import text

    from mercato.catalog.search import SearchParams, autocomplete, search_products

    await cat.products([{"name": "Planned Tee", "tags": ["eco"], "variants": [V("PL-1", 900, {"Size": "M"})]}])
    async with db.tenant_transaction(tenant.id) as s:
        default = (await s.execute(text("SHOW plan_cache_mode"))).scalar()
        assert default != "force_custom_plan"
        for i in range(8):  # past the point where PostgreSQL considers a generic plan
            page = await search_products(s, tenant.id, SearchParams(options={"Size": ["M"]}, tags=["eco"],
                                                                    max_price=10_000 + i), admin=False)
            assert [p.name for p in page.items] == ["Planned Tee"]
        assert (await s.execute(text("SHOW plan_cache_mode"))).scalar() == "force_custom_plan"
    async with db.tenant_transaction(tenant.id) as s:
        assert (await s.execute(text("SHOW plan_cache_mode"))).scalar() == default
        await autocomplete(s, tenant.id, "pla")
        assert (await s.execute(text("SHOW plan_cache_mode"))).scalar() == "force_custom_plan"
