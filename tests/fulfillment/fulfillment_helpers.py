"""Helpers of the fulfillment tests: a shop with two stock locations, paid orders through the
HTTP API, the shipment steps. (Unique module name: test folders have no ``__init__``.)"""

from __future__ import annotations

import re
import uuid
import zlib
from typing import Any

import httpx
from checkout_helpers import ADDRESS, GOOD_CARD
from commerce_helpers import customer_headers
from sqlalchemy import text

API = "/api/v1"


async def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    return r.json() if r.content and r.headers.get("content-type", "").endswith("json") else r.content


async def shop(client: httpx.AsyncClient, tenant: Any, *, east: int = 3, west: int = 5) -> dict[str, Any]:
    """A product with two variants: ``A`` stocked only at East, ``B`` only at West; tax, shipping."""
    h = tenant.admin_headers
    product = await ok(await client.post(f"{API}/products", headers=h, json={
        "name": "Trail Tee", "status": "active", "weight_grams": 200,
        "options": [{"name": "Color", "values": ["Red", "Blue"]}],
        "variants": [{"sku": f"TEE-R-{uuid.uuid4().hex[:6]}", "options": {"Color": "Red"}, "price_cents": 2500,
                      "currency": "USD"},
                     {"sku": f"TEE-B-{uuid.uuid4().hex[:6]}", "options": {"Color": "Blue"}, "price_cents": 1500,
                      "currency": "USD"}]}), 201)
    variants = {v["options"]["Color"]: v for v in product["variants"]}
    locations = {}
    for name, prio in (("East", 0), ("West", 1)):
        locations[name] = await ok(await client.post(f"{API}/stock-locations", headers=h, json={
            "name": f"{name} DC", "code": f"{name.lower()}-{uuid.uuid4().hex[:6]}", "priority": prio,
            "address": {"line1": f"1 {name} Way", "city": name, "country": "US"}}), 201)
    for color, loc, qty in (("Red", "East", east), ("Blue", "West", west)):
        await ok(await client.post(f"{API}/inventory/adjustments", headers=h, json={
            "variant_id": variants[color]["id"], "location_id": locations[loc]["id"], "delta": qty,
            "reason": "received"}), 201)
    zone = await ok(await client.post(f"{API}/shipping-zones", headers=h, json={"name": "US", "countries": ["US"]}),
                    201)
    method = await ok(await client.post(f"{API}/shipping-methods", headers=h, json={
        "zone_id": zone["id"], "name": "Ground", "rate_type": "flat", "currency": "USD", "flat_rate_cents": 700}), 201)
    return {"variants": {c: v["id"] for c, v in variants.items()}, "skus": {c: v["sku"] for c, v in variants.items()},
            "locations": {n: loc["id"] for n, loc in locations.items()}, "method_id": method["id"]}


async def paid_order(client: httpx.AsyncClient, tenant: Any, s: dict[str, Any], lines: dict[str, int], *,
                     as_customer: bool = False) -> dict[str, Any]:
    """An order of ``lines`` (``{"Red": 2, "Blue": 1}``) paid with the test gateway, by a guest or
    (``as_customer``) by a registered customer (``order["customer"]``)."""
    customer = await customer_headers(client, tenant) if as_customer else None
    if customer is None:
        r = await client.post(f"{API}/carts", headers=tenant.storefront_headers)
        cart = await ok(r, 201)
        h = {**tenant.storefront_headers, "X-Cart-Token": cart["token"]}
        email = f"g{uuid.uuid4().hex[:8]}@example.com"
    else:
        h = customer["headers"]
        cart = await ok(await client.post(f"{API}/carts", headers=h), 201)
        email = customer["email"]
    for color, qty in lines.items():
        await ok(await client.post(f"{API}/carts/{cart['id']}/lines", headers=h,
                                   json={"variant_id": s["variants"][color], "quantity": qty}))
    co = await ok(await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart["id"], "email": email}), 201)
    await ok(await client.put(f"{API}/checkouts/{co['id']}/shipping-address", headers=h, json=ADDRESS))
    await ok(await client.put(f"{API}/checkouts/{co['id']}/shipping-method", headers=h,
                              json={"method_id": s["method_id"]}))
    await ok(await client.put(f"{API}/checkouts/{co['id']}/payment-method", headers=h, json={"method": "test"}))
    done = await ok(await client.post(f"{API}/checkouts/{co['id']}/complete",
                                      headers={**h, "Idempotency-Key": uuid.uuid4().hex},
                                      json={"card_number": GOOD_CARD}))
    assert done["order"]["status"] == "paid", done
    order = await ok(await client.get(f"{API}/orders/{done['order']['id']}", headers=tenant.admin_headers))
    order["customer"] = customer
    order["line_of"] = {color: next(line["id"] for line in order["lines"] if line["variant_id"] == s["variants"][color])
                        for color in lines}
    return order


async def create(client: httpx.AsyncClient, tenant: Any, order_id: str, body: dict[str, Any],
                 status: int = 201) -> Any:
    return await ok(await client.post(f"{API}/orders/{order_id}/shipments", headers=tenant.admin_headers,
                                      json=body), status)


async def step(client: httpx.AsyncClient, tenant: Any, shipment_id: str, to: str, status: int = 200) -> Any:
    return await ok(await client.post(f"{API}/shipments/{shipment_id}/transitions", headers=tenant.admin_headers,
                                      json={"to": to}), status)


async def packed(client: httpx.AsyncClient, tenant: Any, shipment_id: str) -> Any:
    await step(client, tenant, shipment_id, "picked")
    return await step(client, tenant, shipment_id, "packed")


async def label(client: httpx.AsyncClient, tenant: Any, shipment_id: str, status: int = 200,
                body: dict[str, Any] | None = None) -> Any:
    return await ok(await client.post(f"{API}/shipments/{shipment_id}/label", headers=tenant.admin_headers,
                                      json=body), status)


async def ship(client: httpx.AsyncClient, tenant: Any, shipment_id: str, status: int = 200) -> Any:
    return await ok(await client.post(f"{API}/shipments/{shipment_id}/ship", headers=tenant.admin_headers), status)


async def track(client: httpx.AsyncClient, tenant: Any, shipment_id: str, status_: str, status: int = 201,
                **extra: Any) -> Any:
    return await ok(await client.post(f"{API}/shipments/{shipment_id}/tracking-events", headers=tenant.admin_headers,
                                      json={"status": status_, **extra}), status)


async def level(client: httpx.AsyncClient, tenant: Any, variant_id: str, location_id: str) -> tuple[int, int]:
    body = await ok(await client.get(f"{API}/inventory/levels", headers=tenant.admin_headers,
                                     params={"variant_id": variant_id, "location_id": location_id}))
    [row] = body["items"]
    return row["on_hand"], row["reserved"]


async def ledger(db: Any, tenant_id: uuid.UUID, variant_id: str) -> list[tuple[str, str, int, int]]:
    async with db.tenant_transaction(tenant_id) as s:
        rows = (await s.execute(text(
            "SELECT reason, location_id, delta_on_hand, delta_reserved FROM inventory_ledger "
            "WHERE variant_id = :v ORDER BY id"), {"v": variant_id})).all()
    return [(r[0], str(r[1]), r[2], r[3]) for r in rows]


async def events(worker_db: Any, tenant_id: uuid.UUID, prefixes: tuple[str, ...] = ("shipment.", "order.",
                                                                                      "fulfillment.")) -> list[Any]:
    async with worker_db.transaction() as s:
        rows = (await s.execute(text("SELECT type, aggregate_id, data FROM outbox WHERE tenant_id = :t ORDER BY id"),
                                {"t": tenant_id})).all()
    return [r for r in rows if r.type.startswith(prefixes)]


# --------------------------------------------------------------------------- PDF


def pdf_streams(pdf: bytes) -> list[bytes]:
    """Every content stream of a PDF, inflated when compressed (no PDF library needed)."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        raw = m.group(1)
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


def pdf_text(pdf: bytes) -> str:
    """The strings drawn with ``Tj`` (reportlab's text), joined."""
    found = []
    for stream in pdf_streams(pdf):
        for m in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream):
            found.append(re.sub(rb"\\(.)", rb"\1", m.group(1)).decode("latin-1"))
    return "\n".join(found)


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def decode_code128(pdf: bytes, bar_height: float = 50.4) -> str:
    """Read back the Code 128 barcode drawn in a label: bar rectangles (``x y w h re``) of the
    barcode's height → bar/space widths in modules → symbol values (the standard width table, as
    reportlab ships it) → the checksum is verified → text (code sets B and C)."""
    from reportlab.graphics.barcode.code128 import _patterns

    content = b"\n".join(pdf_streams(pdf))
    bars = sorted((float(x), float(w)) for x, _y, w, h in
                  re.findall(rb"([\d.\-]+) ([\d.\-]+) ([\d.\-]+) ([\d.\-]+) re", content)
                  if abs(float(h) - bar_height) < 0.01)
    module = min(w for _, w in bars)
    widths: list[int] = []
    for i, (x, w) in enumerate(bars):
        widths.append(round(w / module))
        if i + 1 < len(bars):
            widths.append(round((bars[i + 1][0] - x - w) / module))
    by_widths = {tuple("ABCD".index(c.upper()) + 1 for c in p): v for v, p in _patterns.items()}
    values, i = [], 0
    while i < len(widths):
        size = 7 if i + 7 == len(widths) else 6  # the stop symbol has a seventh (bar) element
        values.append(by_widths[tuple(widths[i:i + size])])
        i += size
    start, *data, check, stop = values
    assert stop == 106 and start in (103, 104, 105)
    assert (start + sum(i * v for i, v in enumerate(data, 1))) % 103 == check, "checksum"
    text, code = "", {103: "A", 104: "B", 105: "C"}[start]
    for v in data:
        if code == "C" and v < 100:
            text += f"{v:02d}"
        elif code in "AB" and v == 99:
            code = "C"
        elif v == 100:
            code = "B"
        elif v == 101:
            code = "A"
        else:
            text += chr(v + 32) if code == "B" or v < 64 else chr(v - 64)
    return text
