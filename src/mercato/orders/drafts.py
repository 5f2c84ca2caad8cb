"""The contract between checkout and orders: what checkout hands over to place an order.

Checkout computes everything (with ``mercato.pricing``), reserves stock (``mercato.inventory``)
and then calls ``mercato.orders.place_order(session, draft)`` inside the same transaction:
the order, its lines, address snapshots, history and outbox events commit together with the
reservation binding and coupon redemptions, or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OrderLineDraft:
    variant_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    product_name: str
    variant_title: str | None
    quantity: int
    unit_price: int  # minor units, as charged (tax-exclusive or inclusive per ``prices_include_tax``)
    subtotal: int  # unit_price * quantity
    discount: int  # allocated discount for this line
    tax: int
    total: int  # subtotal - discount (+ tax when prices exclude tax)
    tax_rate: str | None = None  # decimal string, e.g. "0.0825"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderDraft:
    currency: str
    email: str
    lines: tuple[OrderLineDraft, ...]
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    total: int
    prices_include_tax: bool
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    customer_id: uuid.UUID | None = None  # None for guest checkout
    shipping_method: dict[str, Any] | None = None  # {id, name, price, min_days, max_days}
    coupon_codes: tuple[str, ...] = ()
    promotion_ids: tuple[uuid.UUID, ...] = ()
    reservation_id: uuid.UUID | None = None  # inventory reservation now bound to the order
    checkout_id: uuid.UUID | None = None
    payment_method: str | None = None  # test | manual | stripe
    organization_name: str | None = None  # B2B
    purchase_order_number: str | None = None  # B2B
    locale: str = "en"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlacedOrder:
    id: uuid.UUID
    number: str
    status: str
    payment_status: str
    total: int
    currency: str
