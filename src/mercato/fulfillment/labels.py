"""Shipping label documents: a 4×6 inch PDF with both addresses, the order and parcel numbers,
carrier and service, a Code 128 barcode and a QR code of the tracking number (``reportlab``).

The page content is not compressed: a label is small, and plain content streams keep it
greppable for support staff and tests (the text is there as text, not only as pixels).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
from reportlab.graphics.barcode import code128, qr  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
from reportlab.lib.units import inch  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

PAGE = (4 * inch, 6 * inch)
MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True)
class LabelContent:
    carrier: str
    service: str
    tracking_number: str
    order_number: str
    parcel: str  # "1 of 2"-style reference: the order's n-th shipment
    ship_from: Mapping[str, Any]
    ship_to: Mapping[str, Any]
    items: Sequence[tuple[str, int]]  # (sku, quantity)
    tracking_url: str | None = None


def address_lines(address: Mapping[str, Any] | None) -> list[str]:
    if not address:
        return ["(no address)"]
    a = dict(address)
    name = a.get("name") or " ".join(x for x in (a.get("first_name"), a.get("last_name")) if x)
    city_line = " ".join(str(x) for x in (a.get("postal_code"), a.get("city")) if x)
    region = a.get("region")
    lines = [name, a.get("company"), a.get("line1"), a.get("line2"),
             f"{city_line}{', ' + str(region) if region else ''}", a.get("country")]
    return [str(x) for x in lines if x]


def render(content: LabelContent) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=PAGE, pageCompression=0)
    c.setTitle(f"Label {content.tracking_number}")
    c.setAuthor("Mercato")
    width, height = PAGE
    margin = 0.2 * inch
    y = height - margin - 12

    c.setFont("Helvetica-Bold", 12)
    c.drawString(margin, y, f"{content.carrier.upper()} - {content.service}")
    c.setFont("Helvetica", 8)
    c.drawRightString(width - margin, y, f"Parcel {content.parcel}")
    y -= 18
    c.setFont("Helvetica", 7)
    c.drawString(margin, y, "FROM:")
    y -= 9
    for line in address_lines(content.ship_from)[:5]:
        c.drawString(margin, y, line[:60])
        y -= 9
    y -= 6
    c.line(margin, y, width - margin, y)
    y -= 14
    c.setFont("Helvetica-Bold", 9)
    c.drawString(margin, y, "SHIP TO:")
    y -= 13
    c.setFont("Helvetica-Bold", 11)
    for line in address_lines(content.ship_to)[:6]:
        c.drawString(margin + 6, y, line[:45])
        y -= 13
    y -= 4
    c.line(margin, y, width - margin, y)
    y -= 12
    c.setFont("Helvetica", 8)
    c.drawString(margin, y, f"Order {content.order_number}")
    y -= 10
    items = ", ".join(f"{sku} x{qty}" for sku, qty in content.items)
    c.drawString(margin, y, f"Items: {items}"[:90])

    barcode = code128.Code128(content.tracking_number, barHeight=0.7 * inch, barWidth=1.1, humanReadable=False)
    bx = max(margin, (width - barcode.width) / 2)
    barcode.drawOn(c, bx, 1.45 * inch)
    c.setFont("Helvetica-Bold", 10)
    c.drawCentredString(width / 2, 1.3 * inch, content.tracking_number)

    widget = qr.QrCodeWidget(content.tracking_url or content.tracking_number)
    x0, y0, x1, y1 = widget.getBounds()
    size = 1.0 * inch
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, width - margin - size, margin)
    c.setFont("Helvetica", 6)
    if content.tracking_url:
        c.drawString(margin, margin + 4, content.tracking_url[:70])
    c.showPage()
    c.save()
    return buf.getvalue()
